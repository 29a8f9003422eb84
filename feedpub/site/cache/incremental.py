"""A rebuild after edits to articles' bodies: their pages and the feeds they are in, without
reading the whole catalog again.

Every complete build keeps a record of what it published (snapshot.LastBuild): each article's
feed id, and each feed's articles. When the next build finds that only a few articles' files
changed, and that each still says everything a list shows of it (title, date, authors, tags,
lead, slug, ...) as it did, nothing but those articles' pages and the feeds that carry them
can change: the articles keep their ids, places and order, and the lists are keyed on what
they show. Those outputs are rendered with the keys a full build would give them, and every
other output is kept; the edited files' warnings take the place of the ones they had. In any
other case (an article added, removed, moved in time, retitled, or now with an error; a
setting, a template, an issue changed; an output missing) the build reads the whole catalog.
"""

from __future__ import annotations

import os
from dataclasses import fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from feedpub.config import Site
from feedpub.content.catalog import (
    CacheRow,
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
from feedpub.site.cache import snapshot
from feedpub.site.cache.keys import base_key
from feedpub.site.feeds import FeedBodies, FeedSpec
from feedpub.site.outputs import Work, feed_outputs
from feedpub.site.pages import Output, Pages, lists_show_lines_and_cards
from feedpub.store.state import State

# More changed files than this are read by a full build, which reads them in parallel.
MAX_CHANGED = 20
# What an edit may change while everything else stays as it was: no list shows these, and no
# article's id, place or order depends on them (a list's card shows the image).
BODY_FIELDS = frozenset({"content_hash", "fingerprint", "updated", "inferred"})
_COMPARED = tuple(
    f.name for f in fields(Article) if f.name not in BODY_FIELDS | {"source", "body"}
)


def _same_but_body(old: Article, new: Article) -> bool:
    return all(getattr(old, name) == getattr(new, name) for name in _COMPARED)


def edits(
    site: Site,
    state: State,
    last: snapshot.LastBuild,
    basis: str,
    now: datetime,
    files: Files,
    previous: dict[str, str],
) -> Work | None:
    """The work of a build after edits to articles' bodies only, as described above, from the
    ``last`` build's record; None when this is not such a build (then the catalog is read).
    ``files``: content_files(site); ``previous``: the state's outputs."""
    if last.ids is None or last.feeds is None or last.basis != basis:
        return None
    if not lists_show_lines_and_cards(site):
        return None
    # The archived feed's documents are cut from the whole catalog (site.history): read it.
    if site.feeds.archive:
        return None
    if last.until is not None and now >= datetime.fromisoformat(last.until):
        return None
    if last.newest is not None and now < datetime.fromisoformat(last.newest):
        return None
    reader = reader_fingerprint(site)
    cached = state.content_metadata()
    # A problem of no article file (the clock set back, a file in static/) is found again by
    # the full build: it may have gone, or come (the catalog tells a clock set back).
    if any(p.path not in cached for p in last.problems) or state.clock_behind(now):
        return None
    changed = _changed_files(site, files, reader, cached)
    if not changed:
        return None
    edited: dict[str, Article] = {}
    cache_rows: list[CacheRow] = []
    problems: list[Problem] = []
    before = state.content_data(relpath for _, relpath, _ in changed)
    for name, relpath, info in changed:
        feed_id = last.ids.get(relpath)
        old = _decoded(before.get(relpath), name)
        article, found = read_article(Path(name), relpath, site)
        if feed_id is None or old is None or article is None:
            return None  # not published last time, or not an article now
        if any(p.severity == "error" for p in found):
            return None  # the full build says it, and publishes nothing
        if not _same_but_body(old, article) or article.date > now:
            return None
        if old.modified != article.modified:
            return None  # the sitemap's <lastmod> of the lists that show it changes too
        cache_rows.append(
            (relpath, info.st_size, info.st_mtime_ns, reader, to_cache(article, found))
        )
        edited[relpath] = place(site, evolve(article, body=None), feed_id)
        problems.extend(found)
    if not snapshot.outputs_present(site, previous):
        return None

    base = base_key(site)
    bodies = FeedBodies(site)
    specs = [feed for feed in last.feeds if not edited.keys().isdisjoint(feed[4])]
    others = _cached_articles(
        site, state, last.ids, {p for feed in specs for p in feed[4] if p not in edited}
    )
    if others is None:
        return None
    produced: list[Output] = []
    for folder, title, description, home, relpaths in specs:
        members = [edited.get(p) or others[p] for p in relpaths]
        spec = FeedSpec(folder, title, description, home, members)
        produced.extend(feed_outputs(site, spec, bodies, base))
    main = FeedSpec(*last.feeds[0][:4], articles=[])  # its links, on every page
    # The edited articles only (slugs are the names' own: their groups are not needed).
    catalog = Catalog(articles=list(edited.values()), ascii_urls=site.site.ascii_urls)
    pages = Pages(site, catalog, bodies, base)
    produced.extend(pages.article_pages(catalog.articles, main))

    # The edited files say what they say now; every other file what it said last time.
    kept = [p for p in last.problems if p.path not in edited]
    problems = sorted([*kept, *problems], key=lambda p: (p.path, p.line))
    return Work(
        path="quick",
        outputs=produced,
        previous=previous,
        # Only the top of the tree is looked through for files the build did not make:
        # walking every folder would take a sixth of this build's time at 10,000 articles.
        partial=True,
        known=catalog.known(),
        known_before=state.known_articles(a.feed_id for a in catalog.articles),
        cache_rows=cache_rows,
        present=None,
        counts=(last.articles, last.scheduled, last.drafts, last.feed_files),
        problems=problems,
        told=frozenset(p.path for p in kept),
        record=replace(last, problems=problems),
    )


def _changed_files(
    site: Site, files: Files, reader: str, cached: dict[str, tuple[int, int, str]]
) -> list[tuple[str, str, Any]] | None:
    """The article files whose size or time differ from the content cache's (``cached``),
    when the files are the ones it has (none added or gone), each cached by this ``reader``,
    and there are at most MAX_CHANGED of them."""
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
    """The article a cache entry holds (whatever warnings it came with), if it holds one."""
    if data is None:
        return None
    decoded = from_cache(data, name)
    return None if decoded is None else decoded[0]


def _cached_articles(
    site: Site, state: State, ids: dict[str, str], relpaths: set[str]
) -> dict[str, Article] | None:
    """The unchanged articles of the feeds to render, from the content cache, placed as the
    last build placed them."""
    found: dict[str, Article] = {}
    root = str(site.root)
    for relpath, data in state.content_data(relpaths).items():
        article = _decoded(data, os.path.join(root, relpath))
        feed_id = ids.get(relpath)
        if article is None or feed_id is None:
            return None
        found[relpath] = place(site, article, feed_id)
    return found if len(found) == len(relpaths) else None
