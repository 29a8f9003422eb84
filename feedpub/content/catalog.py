"""The catalog: every article of a site, read, identified and sorted, with its tags and authors."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from feedpub import __version__
from feedpub.config import Site
from feedpub.content import images, tree
from feedpub.content.media import enclosure_current
from feedpub.content.readers import article_names, read_article
from feedpub.content.tree import Tree
from feedpub.errors import Problem
from feedpub.model import CACHED_FIELDS, Article, article_from_row, article_to_row, evolve
from feedpub.parallel import fork_map, workers_for
from feedpub.store.state import KnownArticle, State
from feedpub.text import name_key, name_slug, url_path

# Ids feedpub assigns are UUIDs derived from an article's first sighting, so that a fresh
# clone of a site builds the same feeds; once assigned they live in the state for good.
ID_NAMESPACE = uuid.UUID("2f0b5a56-0c1c-4d7e-9a55-6a0e6a1f3c7d")


@dataclass(frozen=True)
class Group:
    """The articles of one tag or one author (names alike by text.name_key are one), shown
    by its most used spelling (ties: the first in sort order)."""

    name: str
    slug: str
    articles: tuple[Article, ...]


@dataclass(frozen=True)
class Clash:
    """Names that are not one (their name_keys differ) but make the same slug: ``kept`` has
    the pages, ``lost`` none; each with the files that use it, in order."""

    kind: str  # "tags" or "authors"
    slug: str
    kept: str
    kept_files: tuple[str, ...]
    lost: str
    lost_files: tuple[str, ...]


@dataclass(frozen=True)
class Grouping:
    """A catalog's tags or authors: its groups by slug, and the names that lost a clash."""

    groups: list[Group]
    clashes: list[Clash]


@dataclass
class Catalog:
    """Published articles (newest first) and everything learnt while reading them."""

    articles: list[Article]
    scheduled: list[Article] = field(default_factory=list)
    drafts: list[Article] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: int = 0
    ascii_urls: bool = False  # the site's [site] ascii_urls: tags' and authors' slugs in ASCII
    _grouped: dict[str, tuple[list[Article], Grouping]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def failed(self) -> bool:
        return any(p.severity == "error" for p in self.problems)

    @property
    def tags(self) -> list[Group]:
        return self.grouping("tags").groups

    @property
    def authors(self) -> list[Group]:
        return self.grouping("authors").groups

    def grouping(self, kind: str) -> Grouping:
        """The published articles' ``kind`` ("tags" or "authors") grouped by name; made once
        while the articles stay the same (the build asks for it three times)."""
        made = self._grouped.get(kind)
        if made is None or made[0] != self.articles:  # a list of the same objects: quick
            made = self._grouped[kind] = list(self.articles), _groups(
                self.articles, kind, self.ascii_urls
            )
        return made[1]

    def known(self) -> list[KnownArticle]:
        return [
            KnownArticle(
                a.feed_id,
                a.relpath,
                a.content_hash,
                a.title,
                a.date.isoformat(),
                a.explicit_id is not None,
            )
            for a in self.articles
        ]


# The readers' rule for an article's tags and authors (one of each text.name_key): articles
# cached under an older rule are read again.
NAMES_RULE = 2
# What the readers make of a file otherwise (front matter forms and other tools' names,
# datelines, a saved page's Tags: and Summary: lines), raised when that changes: an article
# cached by an older reader (its warnings too) is read again. 2: saved pages in Spanish,
# French, German, Portuguese, Italian and Japanese, and the warnings about unsure headlines.
# 3: a podcast episode's front matter episode and season.
READING_RULE = 3
# A content cache entry: the file's path, size, time, reader_fingerprint, and to_cache's data.
CacheRow = tuple[str, int, int, str, bytes]


@dataclass(frozen=True)
class Reading:
    """What reading a catalog leaves for the build to record, beside the catalog: the content
    cache's entries of the files read afresh (``fresh``), every file seen (``present``: the
    cache forgets the others), and the state's articles as they were before."""

    cache_rows: list[CacheRow]
    present: set[str]
    known_before: list[KnownArticle]

    @property
    def fresh(self) -> set[str]:
        return {row[0] for row in self.cache_rows}


def _groups(articles: list[Article], kind: str, ascii_urls: bool) -> Grouping:
    counts: dict[str, int] = {}  # how many articles write each spelling
    members: dict[str, list[Article]] = {}  # by name_key
    keys: dict[str, str] = {}  # a name is on many articles: made into a key once
    for article in articles:
        for name in article.tags if kind == "tags" else article.authors:
            key = keys.get(name)
            if key is None:
                key = keys[name] = name_key(name)
            counts[name] = counts.get(name, 0) + 1
            bucket = members.get(key)
            if bucket is None:
                members[key] = [article]
            elif bucket[-1] is not article:
                bucket.append(article)
    spellings: dict[str, dict[str, int]] = {}
    for name, count in counts.items():
        spellings.setdefault(keys[name], {})[name] = count
    slugs = {key: name_slug(next(iter(names)), ascii_urls) for key, names in spellings.items()}
    # Windows' and macOS's file systems take folder names alike but for case as one folder
    # ("οδος" with a final sigma and "οδοσ"): such slugs clash too.
    by_folder: dict[str, list[str]] = {}
    for key, slug in slugs.items():
        by_folder.setdefault(slug.upper().casefold(), []).append(key)
    groups: list[Group] = []
    clashing: list[tuple[str, str, list[str]]] = []  # (slug, the key kept, the keys lost)
    for same in by_folder.values():
        kept, *lost = sorted(same)
        groups.append(Group(_shown(spellings[kept]), slugs[kept], tuple(members[kept])))
        if lost:
            clashing.append((slugs[kept], kept, lost))
    groups.sort(key=lambda group: group.slug)
    clashes: list[Clash] = []
    if clashing:  # rare: only then are the files that use each name looked for
        files = {key: sorted({a.relpath for a in members[key]}) for key in members}
        for slug, kept, lost in clashing:
            for other in lost:
                kept_name, shown = _shown(spellings[kept]), _shown(spellings[other])
                clashes.append(
                    Clash(kind, slug, kept_name, tuple(files[kept]), shown, tuple(files[other]))
                )
        clashes.sort(key=lambda clash: (clash.slug, clash.lost))
    return Grouping(groups, clashes)


def _shown(counted: dict[str, int]) -> str:
    """The spelling a group shows: the most used, ties the first in sort order."""
    return min(counted, key=lambda name: (-counted[name], name))


def _name_clashes(catalog: Catalog) -> list[Problem]:
    """An error for each name whose slug another name already has: one of them would take
    the other's pages and feeds."""
    problems: list[Problem] = []
    for kind in ("tags", "authors"):
        for clash in catalog.grouping(kind).clashes:
            what = kind[:-1]
            problems.append(
                Problem(
                    clash.lost_files[0],
                    1,
                    "error",
                    f"{what} {clash.lost!r} ({_listed(clash.lost_files)}) and {what} "
                    f"{clash.kept!r} ({_listed(clash.kept_files)}) would share the pages of "
                    f"{kind}/{clash.slug}/; if they are one {what}, write them the same way, "
                    "otherwise rename one",
                )
            )
    return problems


def _listed(paths: tuple[str, ...], most: int = 3) -> str:
    shown = ", ".join(paths[:most])
    return shown + (f" and {len(paths) - most} more" if len(paths) > most else "")


def content_files(site: Site) -> Tree:
    """Article files under content/ with their metadata, in a stable order (a folder's files
    by name, then its folders by name, as ``os.walk`` goes), and the problems of the walk
    (tree.walk: links out of the site, odd names, loops). Hidden folders and files and those
    starting with '_' are skipped."""
    names = article_names(site)
    return tree.walk(site.content_dir, "content", tree.of_site(site), names, (".", "_"))


def static_problems(site: Site) -> list[Problem]:
    """What the build will refuse to copy from static/: check reports it as build does."""
    return tree.walk(site.static_dir, "static", tree.of_site(site)).problems


def relpath_of(site: Site, name: str) -> str:
    """How the state and the content cache name the file ``name`` (from content_files): its
    path from the site's folder, with '/' between the parts."""
    return name[len(str(site.root)) + 1 :].replace(os.sep, "/")


def to_cache(article: Article | None, problems: list[Problem]) -> bytes:
    """Only the metadata is kept: the body is read again when an output needs it."""
    data = [
        article_to_row(article) if article is not None else None,
        [p.row() for p in problems],
    ]
    return json.dumps(data, ensure_ascii=False).encode()


def from_cache(blob: bytes, path: str) -> tuple[Article | None, list[Problem]] | None:
    """What ``to_cache`` kept; None if the entry cannot be decoded (the file is read again)."""
    try:
        row, problems = json.loads(blob)
        article = article_from_row(row, path) if row is not None else None
        return article, [Problem(*p) for p in problems]
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def reader_fingerprint(site: Site) -> str:
    """What reading a file depends on besides the file: a cached result is kept only while
    this stays the same."""
    parts = (
        __version__,
        CACHED_FIELDS,
        site.site.timezone,
        site.site.author,
        site.site.plugins,
        site.site.ascii_urls,  # an article's slug
        NAMES_RULE,
        READING_RULE,
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


# Below this many files to read, one process is quicker than starting others.
PARALLEL_READ_FROM = 300
# A file read afresh: its article (if any), its problems, and its content cache entry.
Read = tuple[Article | None, list[Problem], bytes]


def page_path(article: Article) -> tuple[str, ...]:
    return (f"{article.date.year:04d}", f"{article.date.month:02d}", article.slug)


Files = Tree


def load(site: Site, state: State, now: datetime, files: Files | None = None) -> Catalog:
    """Read every article, sort published from scheduled and drafts, give each its feed id.

    ``now`` decides which scheduled articles are due; ``files``: content_files(site), when the
    caller has them. Nothing is written to the state here. What only ``check`` looks for comes
    too: images that would be missing once published (content.images).
    """
    catalog = read(site, state, now, files)[0]
    pages = [(a, a.link) for a in catalog.articles]
    pages += [(a, _page_url(site, a)) for a in catalog.scheduled + catalog.drafts]
    catalog.problems.extend(images.problems(site, pages))
    catalog.problems.sort(key=lambda p: (p.path, p.line))
    return catalog


def _page_url(site: Site, article: Article) -> str:
    """Where an article not yet published will be (as ``place`` will put it)."""
    return article.url or _link(site, page_path(article))


def _link(site: Site, segments: tuple[str, ...]) -> str:
    """The address of the page at ``segments`` (page_path) under [site] url."""
    return site.site.url + url_path(*segments) + "/"


def read(
    site: Site, state: State, now: datetime, files: Files | None = None
) -> tuple[Catalog, Reading]:
    """The catalog, as ``load`` reads it, and what the reading leaves for the build to record
    (Reading)."""
    catalog = Catalog(articles=[], ascii_urls=site.site.ascii_urls)
    rows: list[CacheRow] = []
    present: set[str] = set()
    everything: list[Article] = []
    cache = state.content_cache()
    reader = reader_fingerprint(site)
    # Files whose cached result is current are decoded here; the others are read afresh, by
    # one process per core when there are enough of them. Results keep the files' order.
    results: list[tuple[Article | None, list[Problem]] | None] = []
    unread: list[tuple[int, Path, str, os.stat_result]] = []
    files = content_files(site) if files is None else files
    catalog.problems.extend(files.problems)
    catalog.problems.extend(static_problems(site))
    for name, info in files.files:
        relpath = relpath_of(site, name)
        present.add(relpath)
        catalog.files += 1
        hit = cache.get(relpath)
        cached = None
        if hit and hit[:3] == (info.st_size, info.st_mtime_ns, reader):
            cached = from_cache(hit[3], name)
        if cached is not None and not enclosure_current(cached[0], site.static_dir):
            cached = None  # its media file in static/ was replaced: read the length again
        if cached is None:
            unread.append((len(results), Path(name), relpath, info))
        results.append(cached)

    def read_one(item: tuple[int, Path, str, os.stat_result]) -> Read:
        _, path, relpath, _ = item
        article, problems = read_article(path, relpath, site)
        data = to_cache(article, problems)
        # The body stays behind (it is read again when a page needs it): the results of
        # 100,000 files must fit in memory together.
        return (evolve(article, body=None) if article else None), problems, data

    done = fork_map(read_one, unread, workers_for(len(unread), PARALLEL_READ_FROM))
    for (index, _, relpath, info), (article, problems, data) in zip(unread, done, strict=True):
        results[index] = article, problems
        rows.append((relpath, info.st_size, info.st_mtime_ns, reader, data))
    for result in results:
        assert result is not None
        article, problems = result
        catalog.problems.extend(problems)
        if article is not None:
            everything.append(article)
    known_before = state.known_articles()
    published = _published_before(known_before, everything, now)
    for article in everything:
        if article.draft:
            catalog.drafts.append(article)
        elif article.date > now and article.relpath not in published:
            catalog.scheduled.append(article)
        else:
            catalog.articles.append(article)
    behind = state.clock_behind(now)
    if behind:
        catalog.problems.append(Problem(relpath_of(site, str(state.path)), 0, "warning", behind))
    ids = _identify(catalog.articles, known_before, {a.relpath for a in everything})
    # Each published article is replaced by its placed copy: nothing else may hold the one
    # read, so that 10,000 of them are not in memory twice.
    results.clear()
    everything.clear()
    del done
    placed = catalog.articles
    for index, feed_id in enumerate(ids):
        placed[index] = place(site, placed[index], feed_id)
    catalog.problems.extend(_clashes(catalog.articles))
    # By the instant (a timestamp: comparing datetimes in different zones is slower) and id.
    catalog.articles.sort(key=lambda a: (a.date.timestamp(), a.feed_id), reverse=True)
    catalog.scheduled.sort(key=lambda a: (a.date, a.relpath))
    catalog.problems.extend(_name_clashes(catalog))
    catalog.problems.sort(key=lambda p: (p.path, p.line))
    return catalog, Reading(rows, present, known_before)


def _published_before(
    known: list[KnownArticle], articles: list[Article], now: datetime
) -> set[str]:
    """The files dated after ``now`` that an earlier build published as they are now: a clock
    set back (or a --now earlier than the last build's) must not withdraw them."""
    later = [a for a in articles if a.date > now]
    if not later:
        return set()
    seen = {(k.path, k.content_hash, k.title, k.date) for k in known}
    return {
        a.relpath
        for a in later
        if (a.relpath, a.content_hash, a.title, a.date.isoformat()) in seen
    }


def _identify(articles: list[Article], known: list[KnownArticle], present: set[str]) -> list[str]:
    """Each article's feed id: its own, the one the state remembers, or a new one.

    An article without an explicit id keeps the id it was first published with when only its
    title or body changed (same path), or when only its path changed (same body, or same title
    and date, under a path that no longer exists). Every lookup is a dictionary's: no step
    grows with the square of the number of articles, however many files were renamed.
    """
    taken = {k.id for k in known}
    claimed: set[str] = set()
    by_path = {k.path: k for k in known if not k.explicit}
    gone = [k for k in known if not k.explicit and k.path not in present]
    by_body: dict[str, list[KnownArticle]] = {}
    by_title: dict[tuple[str, str], list[KnownArticle]] = {}
    for old in gone:
        by_body.setdefault(old.content_hash, []).append(old)
        by_title.setdefault((old.title, old.date), []).append(old)
    ids: list[str] = [""] * len(articles)
    pending: list[int] = []
    for index, article in enumerate(articles):
        if article.explicit_id:
            ids[index] = article.explicit_id
        elif (row := by_path.get(article.relpath)) and row.id not in claimed:
            claimed.add(row.id)
            ids[index] = row.id
        else:
            pending.append(index)

    def first_free(rows: list[KnownArticle]) -> KnownArticle | None:
        return next((r for r in rows if r.id not in claimed), None)

    def same_body(article: Article) -> list[KnownArticle]:
        return by_body.get(article.content_hash, [])

    def same_title_and_date(article: Article) -> list[KnownArticle]:
        return by_title.get((article.title, article.date.isoformat()), [])

    for lookup in (same_body, same_title_and_date):
        still: list[int] = []
        for index in pending:
            found = first_free(lookup(articles[index]))
            if found is None:
                still.append(index)
                continue
            claimed.add(found.id)
            ids[index] = found.id
        pending = still
    for index in pending:
        article = articles[index]
        seed = f"{article.relpath}\n{article.title}\n{article.date.isoformat()}"
        new_id = f"urn:uuid:{uuid.uuid5(ID_NAMESPACE, seed)}"
        counter = 1
        while new_id in taken or new_id in claimed:
            counter += 1
            new_id = f"urn:uuid:{uuid.uuid5(ID_NAMESPACE, seed + chr(10) + str(counter))}"
        claimed.add(new_id)
        ids[index] = new_id
    return ids


def place(site: Site, article: Article, feed_id: str) -> Article:
    """The published article with its id, link and page (a copy: an article stays as made)."""
    if article.url:
        return evolve(article, feed_id=feed_id, link=article.url, page=None)
    segments = page_path(article)
    return evolve(
        article,
        feed_id=feed_id,
        link=_link(site, segments),
        page="/".join(segments) + "/index.html",
    )


def _clashes(articles: list[Article]) -> list[Problem]:
    problems: list[Problem] = []
    for attribute, what, fix in (
        ("feed_id", "id", "give one of them a new id"),
        ("page", "page", "give one of them another 'slug'"),
    ):
        first: dict[str, Article] = {}
        for article in sorted(articles, key=lambda a: a.relpath):
            value = getattr(article, attribute)
            if value is None:
                continue
            if value in first:
                other = first[value]
                problems.append(
                    Problem(
                        article.relpath,
                        1,
                        "error",
                        f"same {what} as {other.relpath} ({value}); {fix}",
                    )
                )
            else:
                first[value] = article
    return problems
