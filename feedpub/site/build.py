"""``feedpub build``: catalog → feeds and pages → the writer → the state, all or nothing."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from feedpub import __version__
from feedpub.config import FEED_FILES, Site, packaged_templates
from feedpub.content import catalog as catalog_module
from feedpub.content import tree
from feedpub.content.catalog import Catalog, Group
from feedpub.errors import ArticleError, OutputError, Problem, StateError
from feedpub.site import writer as writer_module
from feedpub.site.cache import snapshot
from feedpub.site.cache.keys import fingerprint
from feedpub.site.writer import Writer, WriteReport
from feedpub.store.issues import IssueRecord
from feedpub.store.state import State
from feedpub.text import url_path

# Rendering needs feedgen, lxml, Jinja2 and premailer; they are imported when something is
# rendered, so that a build with nothing to do starts and ends quickly.
if TYPE_CHECKING:
    from feedpub.site.feeds import FeedBodies, FeedSpec
    from feedpub.site.pages import Output


@dataclass(frozen=True)
class BuildReport:
    articles: int
    scheduled: int
    drafts: int
    feeds: int
    written: int
    unchanged: int
    removed: int
    seconds: float
    feed_urls: tuple[str, ...]
    problems: list[Problem] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(p.severity == "error" for p in self.problems)

    @classmethod
    def of(
        cls,
        site: Site,
        wrote: WriteReport,
        started: float,
        counts: tuple[int, int, int, int],
        problems: list[Problem],
    ) -> BuildReport:
        """The report of a build that started at ``started`` (perf_counter), wrote as
        ``wrote`` says and published ``counts``: articles, scheduled, drafts, feed files."""
        articles, scheduled, drafts, feeds = counts
        return cls(
            articles=articles,
            scheduled=scheduled,
            drafts=drafts,
            feeds=feeds,
            written=wrote.written,
            unchanged=wrote.unchanged,
            removed=wrote.removed,
            seconds=time.perf_counter() - started,
            feed_urls=tuple(site.site.url + name for name in FEED_FILES),
            problems=problems,
        )



def feed_specs(
    site: Site, catalog: Catalog
) -> tuple[FeedSpec, dict[str, list[tuple[Group, FeedSpec]]]]:
    """The main feed, and one per tag and per author (each limited to ``feeds.limit``)."""
    from feedpub.site.feeds import FeedSpec

    limit = site.feeds.limit
    title = site.site.title
    main = FeedSpec("", title, site.site.description, site.site.url, catalog.articles[:limit])
    groups: dict[str, list[tuple[Group, FeedSpec]]] = {"tags": [], "authors": []}
    for kind, label, members in (
        ("tags", "Articles tagged", catalog.tags),
        ("authors", "Articles by", catalog.authors),
    ):
        for group in members:
            folder = f"{kind}/{group.slug}"
            home = f"{site.site.url}{kind}/{url_path(group.slug)}/"
            spec = FeedSpec(
                folder,
                f"{title}: {group.name}",
                f"{label} {group.name} in {title}",
                home,
                group.articles[:limit],
            )
            groups[kind].append((group, spec))
    return main, groups


def static_files(site: Site) -> Iterator[Output]:
    """Everything under static/ (images, a favicon, robots.txt), copied as it is. What the walk
    refuses (tree.walk: links out of the site, odd names) is left out; the catalog reports it
    (catalog.static_problems), so that ``check`` says it too."""
    top = str(site.static_dir)
    allowed = tree.of_site(site)
    for path, info in tree.walk(site.static_dir, "static", allowed).files:
        key = fingerprint("static", str(info.st_size), str(info.st_mtime_ns))
        relpath = path[len(top) + 1 :].replace(os.sep, "/")
        yield relpath, key, partial(_read_static, path, allowed)


def _read_static(path: str, allowed: tree.Roots) -> bytes:
    try:
        return tree.read_input(path, allowed)
    except tree.Refused:
        raise OutputError(
            f"refusing to copy {tree.shown(path)}: it is a link out of the site's input folders"
        ) from None
    except OSError as exc:
        raise OutputError(f"cannot read {tree.shown(path)}: {exc.strerror}") from None


def feed_outputs(site: Site, spec: FeedSpec, bodies: FeedBodies, base: str) -> Iterator[Output]:
    from feedpub.site.feeds import atom, json_feed, rss
    from feedpub.site.pages import article_key

    key = fingerprint(
        base,
        "feed",
        spec.folder,
        spec.title,
        spec.description,
        spec.home,
        *map(article_key, spec.articles),
    )
    for name, render in ((FEED_FILES[0], rss), (FEED_FILES[1], atom), (FEED_FILES[2], json_feed)):
        yield spec.path(name), f"{key}:{name}", partial(render, site, spec, bodies)


Specs = tuple["FeedSpec", dict[str, list[tuple[Group, "FeedSpec"]]]]


def every_feed(specs: Specs) -> list[FeedSpec]:
    """The site's main feed, then each group's feed, from feed_specs()."""
    main, groups = specs
    return [main, *(spec for pairs in groups.values() for _, spec in pairs)]


def outputs(
    site: Site, catalog: Catalog, issues: list[IssueRecord], specs: Specs | None = None
) -> Iterator[Output]:
    """Every output file as (path, key of its inputs, render); rendering waits to be asked.
    ``specs``: the catalog's feed_specs, when the caller has them."""
    from feedpub.site.feeds import FeedBodies
    from feedpub.site.pages import Pages, templates_fingerprint

    base = fingerprint(__version__, repr(site), templates_fingerprint(site))
    bodies = FeedBodies(site)
    specs = specs or feed_specs(site, catalog)
    for spec in every_feed(specs):
        yield from feed_outputs(site, spec, bodies, base)
    main, groups = specs
    pages = Pages(site, catalog, bodies, base)
    yield from pages.render(main, groups)
    yield from static_files(site)
    if issues:
        from feedpub.site import archive

        newest = archive.as_articles(site, issues)
        spec = archive.issues_feed(site, newest)
        yield from feed_outputs(site, spec, bodies, base)
        yield from pages.render_issues(spec, newest)
        yield from archive.web_versions(site, issues, base)


def build(site: Site, now: datetime, keep_going: bool = False) -> BuildReport:
    """Publish every due article. With any article error nothing is written (ArticleError),
    unless ``keep_going``: then the valid articles are published and the report has the errors.
    """
    started = time.perf_counter()
    with State.open(site.state_dir) as state:
        trusted = settle(site, state).trusted
        current = snapshot.take(site, state, packaged_templates())
        last = snapshot.Snapshot.load(state.meta(snapshot.META_KEY))
        if trusted and last is not None and last.still_valid(current, now):
            previous = state.outputs()
            if snapshot.outputs_present(site, previous):
                counts = (last.articles, last.scheduled, last.drafts, last.feeds)
                nothing = WriteReport(written=0, unchanged=len(previous), removed=0)
                return BuildReport.of(site, nothing, started, counts, last.problems)
        from feedpub.site.cache import incremental

        files = catalog_module.content_files(site)
        quick = None
        if trusted:
            quick = incremental.rebuild(site, state, current.basis, now, started, files)
        if quick is not None:
            report, until = quick
        else:
            catalog = load_catalog(site, state, now, keep_going, files)
            report = publish(site, state, catalog, now, started, current.basis)
            if catalog.failed:
                return report
            until = catalog.scheduled[0].date.isoformat() if catalog.scheduled else None
        record = snapshot.Snapshot(
            current.hash,
            until,
            report.articles,
            report.scheduled,
            report.drafts,
            report.feeds,
            # A file removed is said once, not again by every build that has nothing to do.
            [p for p in report.problems if p.message != STRAY],
        )
        with state.transaction():
            state.set_meta(snapshot.META_KEY, record.dump())
        return report


def load_catalog(
    site: Site,
    state: State,
    now: datetime,
    keep_going: bool = False,
    files: catalog_module.Files | None = None,
) -> Catalog:
    """The catalog as of ``now``; ArticleError if any article is broken, unless ``keep_going``.
    ``files``: content_files(site), when the caller has them."""
    catalog = catalog_module.load(site, state, now, files)
    if catalog.failed and not keep_going:
        raise ArticleError(catalog.problems)
    return catalog


def publish(
    site: Site,
    state: State,
    catalog: Catalog,
    now: datetime,
    started: float | None = None,
    basis: str | None = None,
) -> BuildReport:
    """Write every output for ``catalog`` (and the state's issues), then record it, atomically.
    ``basis``: snapshot.basis() as of ``catalog``, when the caller took it."""
    from feedpub.site.cache import incremental
    from feedpub.site.pages import lists_show_lines_and_cards

    started = time.perf_counter() if started is None else started
    if basis is None:
        basis = snapshot.basis(site, state, packaged_templates())
    writer = new_writer(site, state, state.outputs(), walk=True)
    specs = feed_specs(site, catalog)
    produced = list(outputs(site, catalog, state.issues.all(), specs))
    feeds = sum(path.endswith(FEED_FILES) for path, _, _ in produced)
    writer.offer_all(produced)
    memo = None
    if not catalog.failed and lists_show_lines_and_cards(site):
        memo = incremental.Memo.of(basis, catalog, every_feed(specs), feeds)

    def record() -> None:
        state.remember_articles(catalog.known(), now.isoformat(), catalog.known_before)
        state.replace_outputs(writer.outputs, writer.previous)
        state.update_content_cache(catalog.cache_rows, catalog.present)
        incremental.record(state, memo)

    report = commit(site, state, writer, record)
    counts = (len(catalog.articles), len(catalog.scheduled), len(catalog.drafts), feeds)
    problems = [*catalog.problems, *stray_problems(site, writer)]
    return BuildReport.of(site, report, started, counts, problems)


def settle(site: Site, state: State) -> writer_module.Settled:
    """The output's trees put in the order the state describes (writer.settle), whatever a
    killed build left; a first record of them kept in the state."""
    home = writer_module.home_for(site.output_dir, site.state_dir)
    recorded = writer_module.Trees.load(state.meta(writer_module.TREES_KEY))
    settled = writer_module.settle(site.output_dir, home, recorded)
    if settled.save and settled.trees is not None:
        with _recording(state):
            state.set_meta(writer_module.TREES_KEY, settled.trees.dump())
    return settled


def new_writer(site: Site, state: State, previous: dict[str, str], walk: bool) -> Writer:
    """A writer for the site's output, with its trees in order."""
    settled = settle(site, state)
    return Writer(
        site.output_dir,
        previous,
        trees=settled.trees,
        trusted=settled.trusted,
        home=writer_module.home_for(site.output_dir, site.state_dir),
        walk=walk,
    )


def commit(site: Site, state: State, writer: Writer, record: Callable[[], None]) -> WriteReport:
    """Complete the writer's new tree, then record the build (``record``: the state's writes)
    and swap the new tree in, in one transaction: the swap comes after every write to the
    state and before its commit, and is undone if the commit fails. A build killed after the
    swap and before the commit is undone by the next build (writer.settle), so the output and
    the state never disagree."""
    report = writer.finish()
    try:
        with _recording(state):
            record()
            # The snapshot of what this build saw is written after this transaction, by
            # build(): until then, none. A snapshot of the last build's inputs kept by a build
            # killed in between would make a build from those inputs do nothing.
            state.db.execute("DELETE FROM meta WHERE key = ?", (snapshot.META_KEY,))
            trees = writer.record()
            if trees is not None:
                state.set_meta(writer_module.TREES_KEY, trees.dump())
            writer.swap()
    except BaseException:
        writer.abort()
        raise
    with suppress(OSError):  # the next build's settle finishes it
        writer.done()
    return report


@contextmanager
def _recording(state: State) -> Iterator[None]:
    """A transaction on the state; a failure of SQLite that the state does not explain itself
    (it rolled the transaction back already) as a StateError naming the file."""
    try:
        with state.transaction():
            yield
    except sqlite3.Error as exc:
        raise StateError(
            f"{state.path or 'state'}: cannot record the build ({exc}); the output was left "
            "as it was. Check that the file and its folder can be written, then build again"
        ) from None


STRAY = "not made by the build, so no longer in the output; put files of your own in static/"


def stray_problems(site: Site, writer: Writer) -> list[Problem]:
    """A warning for each file in the output that the build did not make and removed."""
    name = site.output_dir.name
    return [
        Problem(
            f"{name}/{relpath}",
            0,
            "warning",
            STRAY,
        )
        for relpath in writer.strays
    ]


def check(site: Site, now: datetime, state: State | None = None) -> Catalog:
    """Read and validate everything as a build would, writing nothing."""
    if state is not None:
        return catalog_module.load(site, state, now)
    with State.open(site.state_dir, create=False) as opened:
        return catalog_module.load(site, opened, now)
