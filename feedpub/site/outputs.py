"""Every output of a build as (path, key of its inputs, render), and the work a build carries
out: what the full build and the quick rebuild each hand to build.commit, which writes and
records either the same way."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Literal

from feedpub import theme
from feedpub.config import FEED_FILES, Site
from feedpub.content import tree
from feedpub.content.catalog import CacheRow, Catalog, Group
from feedpub.errors import OutputError, Problem
from feedpub.i18n import N_, words
from feedpub.site import archive, history, sitemap
from feedpub.site.cache.keys import base_key, key, within
from feedpub.site.cache.snapshot import LastBuild
from feedpub.site.feeds import FeedBodies, FeedSpec, atom, json_feed, rss
from feedpub.site.pages import Output, Pages, article_key
from feedpub.store.issues import IssueRecord
from feedpub.store.state import KnownArticle
from feedpub.text import url_path

Specs = tuple[FeedSpec, dict[str, list[tuple[Group, FeedSpec]]]]


def feed_specs(site: Site, catalog: Catalog) -> Specs:
    """The main feed, and one per tag and per author (each limited to ``feeds.limit``)."""
    limit = site.feeds.limit
    title = site.site.title
    main = FeedSpec("", title, site.site.description, site.site.url, catalog.articles[:limit])
    main = history.subscription(site, main, catalog.articles)
    groups: dict[str, list[tuple[Group, FeedSpec]]] = {"tags": [], "authors": []}
    said = words(site.site.language)
    for kind, label, members in (
        ("tags", N_("Articles tagged %(name)s in %(site)s"), catalog.tags),
        ("authors", N_("Articles by %(name)s in %(site)s"), catalog.authors),
    ):
        for group in members:
            folder = f"{kind}/{group.slug}"
            home = f"{site.site.url}{kind}/{url_path(group.slug)}/"
            spec = FeedSpec(
                folder,
                f"{title}: {group.name}",
                said.say(label, name=group.name, site=title),
                home,
                group.articles[:limit],
            )
            groups[kind].append((group, spec))
    return main, groups


def every_feed(specs: Specs) -> list[FeedSpec]:
    """The site's main feed, then each group's feed, from feed_specs()."""
    main, groups = specs
    return [main, *(spec for pairs in groups.values() for _, spec in pairs)]


def static_files(site: Site) -> Iterator[Output]:
    """Everything under static/ (images, a favicon, robots.txt), copied as it is. What the walk
    refuses (tree.walk: links out of the site, odd names) is left out; the catalog reports it
    (catalog.static_problems), so that ``check`` says it too."""
    top = str(site.static_dir)
    allowed = tree.of_site(site)
    for path, info in tree.walk(site.static_dir, "static", allowed).files:
        relpath = path[len(top) + 1 :].replace(os.sep, "/")
        made = key("static", str(info.st_size), str(info.st_mtime_ns))
        yield relpath, made, partial(_read_static, path, allowed)


def _read_static(path: str, allowed: tree.Roots) -> bytes:
    try:
        return tree.read_input(path, allowed)
    except tree.Refused:
        raise OutputError(
            f"refusing to copy {tree.shown(path)}: it is a link out of the site's input folders"
        ) from None
    except OSError as exc:
        raise OutputError(f"cannot read {tree.shown(path)}: {exc.strerror}") from None


def icon_outputs(site: Site, base: str) -> Iterator[Output]:
    """The generated favicon (theme.generated_icon), for a site whose static/ has none."""
    if not theme.icon_names(site):
        made = key(base, "icon", site.site.title, site.theme.accent)
        yield theme.GENERATED_ICON, made, partial(theme.generated_icon, site)


def feed_outputs(site: Site, spec: FeedSpec, bodies: FeedBodies, base: str) -> Iterator[Output]:
    made = key(
        base,
        "feed",
        spec.folder,
        spec.title,
        spec.description,
        spec.home,
        repr(spec.history),
        *map(article_key, spec.articles),
    )
    for name, render in ((FEED_FILES[0], rss), (FEED_FILES[1], atom), (FEED_FILES[2], json_feed)):
        yield spec.path(name), within(made, name), partial(render, site, spec, bodies)


def outputs(
    site: Site, catalog: Catalog, issues: list[IssueRecord], specs: Specs | None = None
) -> Iterator[Output]:
    """Every output file as (path, key of its inputs, render); rendering waits to be asked.
    ``specs``: the catalog's feed_specs, when the caller has them."""
    base = base_key(site)
    bodies = FeedBodies(site)
    specs = specs or feed_specs(site, catalog)
    produced: list[Output] = []
    for spec in every_feed(specs):
        produced.extend(feed_outputs(site, spec, bodies, base))
    main, groups = specs
    for spec in history.archives(site, main, catalog.articles):
        produced.extend(feed_outputs(site, spec, bodies, base))
    pages = Pages(site, catalog, bodies, base)
    produced.extend(pages.render(main, groups))
    produced.extend(static_files(site))
    produced.extend(icon_outputs(site, base))
    # A newsletter's issues page (the navigation links it) is there before its first issue.
    if issues or site.has_newsletter:
        newest = archive.as_articles(site, issues)
        spec = archive.issues_feed(site, newest)
        produced.extend(feed_outputs(site, spec, bodies, base))
        produced.extend(pages.render_issues(spec, newest))
    yield from produced
    # Last, from every other output: whatever pages the others make are in the sitemap.
    yield from sitemap.outputs(site, produced, pages.lastmod, base)


@dataclass
class Work:
    """What a build writes and records, however it found out what changed.

    The full build offers every output and the quick rebuild only those an edit changed
    (``partial``: the writer keeps the others, and looks through the top of the tree only for
    files it did not make). Either way the state then remembers ``known`` (``known_before``:
    the state's articles as they were), stores the content cache's fresh ``cache_rows`` and
    forgets the files not ``present`` (None: forgets none), and keeps ``record`` for the next
    build (None: forgets the last one, as a build with errors must)."""

    path: Literal["quick", "full"]
    outputs: list[Output]
    previous: dict[str, str]  # the state's outputs as the last build left them
    partial: bool
    known: list[KnownArticle]
    known_before: list[KnownArticle]
    cache_rows: list[CacheRow]
    present: set[str] | None
    counts: tuple[int, int, int, int]  # articles, scheduled, drafts, feed files
    problems: list[Problem]
    # The content files whose problems the last complete build told and that did not change.
    told: frozenset[str]
    record: LastBuild | None
