"""A rebuild after edits to articles' bodies: their pages and the feeds they are in, without
reading the whole catalog again.

Every complete build records a memo of what it published: each article's feed id, and each
feed's articles. When the next build finds that only a few articles' files changed, and that
each still says everything a list shows of it (title, date, authors, tags, lead, slug, ...)
as it did, nothing but those articles' pages and the feeds that carry them can change: the
articles keep their ids, places and order, and the lists are keyed on what they show. Those
outputs are rendered with the keys a full build would give them, and every other output is
kept. In any other case (an article added, removed, moved in time, retitled; a setting, a
template, an issue changed; an output missing) the build reads the whole catalog as usual.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from feedpub import __version__
from feedpub.config import Site
from feedpub.content.catalog import (
    Catalog,
    Files,
    from_cache,
    place,
    reader_fingerprint,
    relpath_of,
    to_cache,
)
from feedpub.content.readers import read_article
from feedpub.errors import Problem
from feedpub.model import Article, evolve
from feedpub.site.build import (
    BuildReport,
    commit,
    feed_outputs,
    new_writer,
    stray_problems,
)
from feedpub.site.cache import snapshot
from feedpub.site.cache.keys import fingerprint
from feedpub.site.feeds import FeedBodies, FeedSpec
from feedpub.site.pages import Output, Pages, lists_show_lines_and_cards, templates_fingerprint
from feedpub.store.state import State

META_KEY = "build_memo"
# More changed files than this are read by a full build, which reads them in parallel.
MAX_CHANGED = 20
# What an edit may change while everything else stays as it was: no list shows these, and no
# article's id, place or order depends on them.
BODY_FIELDS = frozenset({"content_hash", "fingerprint", "updated", "image", "inferred"})


@dataclass
class Memo:
    """What a complete build published, beyond its outputs."""

    basis: str  # snapshot.Taken.basis: settings, templates, static files, issues
    until: str | None  # the earliest scheduled article's date: the lists change then
    newest: str | None  # the newest published article's date: before it, they differ too
    ids: dict[str, str]  # each published article's path -> its feed id
    feeds: list[tuple[str, str, str, str, list[str]]]  # folder, title, description, home, paths
    articles: int
    scheduled: int
    drafts: int
    feed_files: int
    problems: list[Problem] = field(default_factory=list)

    @classmethod
    def of(cls, basis: str, catalog: Catalog, specs: Iterable[FeedSpec], feed_files: int) -> Memo:
        return cls(
            basis=basis,
            until=catalog.scheduled[0].date.isoformat() if catalog.scheduled else None,
            newest=catalog.articles[0].date.isoformat() if catalog.articles else None,
            ids={a.relpath: a.feed_id for a in catalog.articles},
            feeds=[
                (s.folder, s.title, s.description, s.home, [a.relpath for a in s.articles])
                for s in specs
            ],
            articles=len(catalog.articles),
            scheduled=len(catalog.scheduled),
            drafts=len(catalog.drafts),
            feed_files=feed_files,
            problems=catalog.problems,
        )

    def dump(self) -> str:
        data: dict[str, Any] = dict(self.__dict__)
        data["problems"] = [p.row() for p in self.problems]
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def load(cls, text: str | None) -> Memo | None:
        if not text:
            return None
        try:
            data = json.loads(text)
            data["problems"] = [Problem(*p) for p in data["problems"]]
            data["feeds"] = [(f[0], f[1], f[2], f[3], list(f[4])) for f in data["feeds"]]
            memo = cls(**data)
            # What the rebuild relies on has the types it expects (a hand-edited state).
            for moment in (memo.until, memo.newest):
                if moment is not None:
                    datetime.fromisoformat(moment)
            if not (isinstance(memo.ids, dict) and isinstance(memo.basis, str)):
                return None
            if not all(isinstance(i, str) for i in memo.ids.values()):
                return None
            if not all(isinstance(p, str) for f in memo.feeds for p in (*f[:4], *f[4])):
                return None
            if not memo.feeds or memo.feeds[0][0] != "":  # the site's main feed comes first
                return None
            return memo
        except (ValueError, TypeError, KeyError, IndexError):
            return None


def record(state: State, memo: Memo | None) -> None:
    """Store the memo of a complete build, or forget the last one (``None``: this build's
    catalog had errors, or the site's own templates make its lists); inside a transaction."""
    if memo is None:
        state.db.execute("DELETE FROM meta WHERE key = ?", (META_KEY,))
    else:
        state.set_meta(META_KEY, memo.dump())


def _same_but_body(old: Article, new: Article) -> bool:
    return all(
        getattr(old, name) == getattr(new, name)
        for name in old.__dict__
        if name not in BODY_FIELDS and name not in ("source", "body")
    )


def rebuild(
    site: Site, state: State, basis: str, now: datetime, started: float, files: Files
) -> tuple[BuildReport, str | None] | None:
    """Build after edits to articles' bodies only, as described above: the report and the
    earliest scheduled date; None when this is not such a build (nothing is written then).
    ``files``: content_files(site), which the catalog takes too when it is read instead."""
    memo = Memo.load(state.meta(META_KEY))
    if memo is None or memo.basis != basis or not lists_show_lines_and_cards(site):
        return None
    if memo.until is not None and now >= datetime.fromisoformat(memo.until):
        return None
    if memo.newest is not None and now < datetime.fromisoformat(memo.newest):
        return None
    reader = reader_fingerprint(site)
    changed = _changed_files(site, state, files, reader)
    if not changed:
        return None
    edited: dict[str, Article] = {}
    cache_rows: list[tuple[str, int, int, str, bytes]] = []
    before = state.content_data(relpath for _, relpath, _ in changed)
    for name, relpath, info in changed:
        feed_id = memo.ids.get(relpath)
        old = _decoded(before.get(relpath), name)
        article, problems = read_article(Path(name), relpath, site)
        if feed_id is None or old is None or article is None or problems:
            return None  # not published last time, or it has something to say now
        if not _same_but_body(old, article) or article.date > now:
            return None
        cache_rows.append(
            (relpath, info.st_size, info.st_mtime_ns, reader, to_cache(article, problems))
        )
        placed = evolve(article, body=None)
        place(site, placed, feed_id)
        edited[relpath] = placed
    previous = state.outputs()
    if not snapshot.outputs_present(site, previous):
        return None

    base = fingerprint(__version__, repr(site), templates_fingerprint(site))
    bodies = FeedBodies(site)
    specs = [feed for feed in memo.feeds if not edited.keys().isdisjoint(feed[4])]
    others = _cached_articles(
        site, state, memo, {p for feed in specs for p in feed[4] if p not in edited}
    )
    if others is None:
        return None
    produced: list[Output] = []
    for folder, title, description, home, relpaths in specs:
        members = [edited.get(p) or others[p] for p in relpaths]
        spec = FeedSpec(folder, title, description, home, members)
        produced.extend(feed_outputs(site, spec, bodies, base))
    main = FeedSpec(*memo.feeds[0][:4], articles=[])  # its links, on every page
    catalog = Catalog(articles=list(edited.values()))  # the edited articles only
    pages = Pages(site, catalog, bodies, base)
    produced.extend(pages.article_pages(catalog.articles, main))

    # Only the top of the tree is looked through for files the build did not make: walking
    # every folder would take a sixth of this build's time at 10,000 articles.
    writer = new_writer(site, state, previous, walk=False)
    if not writer.trusted:
        return None
    writer.offer_all(produced)
    writer.keep_previous()
    ids = [a.feed_id for a in catalog.articles]

    def record() -> None:
        state.remember_articles(catalog.known(), now.isoformat(), state.known_articles(ids))
        state.replace_outputs(writer.outputs, previous)
        state.update_content_cache(cache_rows)

    written = commit(site, state, writer, record)
    counts = (memo.articles, memo.scheduled, memo.drafts, memo.feed_files)
    problems = [*memo.problems, *stray_problems(site, writer)]
    return BuildReport.of(site, written, started, counts, problems), memo.until


def _changed_files(
    site: Site, state: State, files: Files, reader: str
) -> list[tuple[str, str, Any]] | None:
    """The article files whose size or time differ from the content cache's, when the files
    are the ones it has (none added or gone), each cached by this ``reader``, and there are at
    most MAX_CHANGED of them."""
    cached = state.content_metadata()
    # A walk with problems (a link refused, say) is read in full, so that they are reported.
    if files.problems or len(files.files) != len(cached):
        return None
    changed: list[tuple[str, str, Any]] = []
    for name, info in files.files:
        relpath = relpath_of(site, name)
        entry = cached.get(relpath)
        if entry is None or entry[2] != reader:
            return None
        if entry[0] != info.st_size or entry[1] != info.st_mtime_ns:
            changed.append((name, relpath, info))
            if len(changed) > MAX_CHANGED:
                return None
    return changed


def _decoded(data: bytes | None, name: str) -> Article | None:
    """The article a cache entry holds, when it holds one without problems."""
    if data is None:
        return None
    decoded = from_cache(data, name)
    if decoded is None or decoded[0] is None or decoded[1]:
        return None
    return decoded[0]


def _cached_articles(
    site: Site, state: State, memo: Memo, relpaths: set[str]
) -> dict[str, Article] | None:
    """The unchanged articles of the feeds to render, from the content cache, placed as the
    last build placed them."""
    found: dict[str, Article] = {}
    root = str(site.root)
    for relpath, data in state.content_data(relpaths).items():
        article = _decoded(data, os.path.join(root, relpath))
        feed_id = memo.ids.get(relpath)
        if article is None or feed_id is None:
            return None
        place(site, article, feed_id)
        found[relpath] = article
    return found if len(found) == len(relpaths) else None
