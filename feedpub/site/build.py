"""``feedpub build``: catalog → feeds and pages → the writer → the state, all or nothing.

One pipeline, whatever changed: take what the build will read (by metadata), compare it with
the record of the last complete build (site.cache.snapshot), and find the work to do: none
(every input as it was), the quick rebuild of a few edited bodies (site.cache.incremental), or
the full build from the catalog. The quick and the full build hand the same kind of work
(site.outputs.Work) to one commit step, which writes the outputs, records them, the articles,
the content cache and the new record in one transaction, and swaps the new tree in.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple

from feedpub.config import FEED_FILES, Site, packaged_templates
from feedpub.content import catalog as catalog_module
from feedpub.content.catalog import Catalog, Reading
from feedpub.errors import ArticleError, Problem, StateError
from feedpub.site import websub
from feedpub.site import writer as writer_module
from feedpub.site.cache import incremental, snapshot
from feedpub.site.outputs import Work, every_feed, feed_specs, outputs
from feedpub.site.pages import lists_show_lines_and_cards
from feedpub.site.writer import Writer, WriteReport
from feedpub.store import cache
from feedpub.store.state import State

# Which way a build went: nothing to do, the quick rebuild of edited bodies, or the catalog.
BuildPath = Literal["unchanged", "quick", "full"]


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
    path: BuildPath = "full"
    # The content files unchanged since the last complete build, which told their problems.
    told: frozenset[str] = frozenset()

    @property
    def failed(self) -> bool:
        return any(p.severity == "error" for p in self.problems)

    @property
    def news(self) -> list[Problem]:
        """The problems to tell: every error, and the warnings of files that changed."""
        return [p for p in self.problems if p.severity == "error" or p.path not in self.told]

    @property
    def warned_before(self) -> int:
        """How many unchanged files have warnings the last complete build told already."""
        return len({p.path for p in self.problems if p.severity != "error" and p.path in self.told})

    @classmethod
    def of(
        cls,
        site: Site,
        wrote: WriteReport,
        started: float,
        counts: tuple[int, int, int, int],
        problems: list[Problem],
        path: BuildPath,
        told: frozenset[str],
    ) -> BuildReport:
        """The report of a build that started at ``started`` (perf_counter), went ``path``,
        wrote as ``wrote`` says and published ``counts``: articles, scheduled, drafts, feed
        files."""
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
            path=path,
            told=told,
        )


def build(site: Site, now: datetime, keep_going: bool = False) -> BuildReport:
    """Publish every due article. With any article error nothing is written (ArticleError),
    unless ``keep_going``: then the valid articles are published and the report has the errors.
    """
    started = time.perf_counter()
    with State.open(site.state_dir) as state:
        trusted = settle(site, state).trusted
        taken = snapshot.take(site, state, packaged_templates())
        # An output folder the state does not describe is rendered again in full.
        last = snapshot.LastBuild.load(cache.last_build(state)) if trusted else None
        previous = state.outputs()
        # A clock behind the last build's (a build with a later --now, then the real clock):
        # the catalog is read, as check and status read it, and the build says so, rather
        # than keep the later build's output unasked because no file changed.
        if (
            last is not None
            and last.still_valid(taken, now)
            and not state.clock_behind(now)
            and snapshot.outputs_present(site, previous)
        ):
            nothing = WriteReport(written=0, unchanged=len(previous), removed=0)
            counts = (last.articles, last.scheduled, last.drafts, last.feed_files)
            told = frozenset(p.path for p in last.problems)
            return BuildReport.of(
                site, nothing, started, counts, last.problems, "unchanged", told
            )
        files = catalog_module.content_files(site)
        work = None
        if last is not None:
            work = incremental.edits(site, state, last, taken.basis, now, files, previous)
        # The record's lists (megabytes at 10,000 articles) are not held while the catalog is
        # read and every output rendered.
        last = None
        if work is None:
            loaded = read_catalog(site, state, now, keep_going, files)
            work = whole(site, state, loaded, now, taken.basis, previous)
        return carry_out(site, state, work, now, started, taken.hash)


class Loaded(NamedTuple):
    """A catalog, and what reading it left for the build to record (catalog.Reading)."""

    catalog: Catalog
    reading: Reading


def read_catalog(
    site: Site,
    state: State,
    now: datetime,
    keep_going: bool = False,
    files: catalog_module.Files | None = None,
) -> Loaded:
    """The catalog as of ``now``, to publish; ArticleError if any article is broken, unless
    ``keep_going``. ``files``: content_files(site), when the caller has them."""
    catalog, reading = catalog_module.read(site, state, now, files)
    if catalog.failed and not keep_going:
        raise ArticleError(catalog.problems)
    return Loaded(catalog, reading)


def load_catalog(
    site: Site,
    state: State,
    now: datetime,
    keep_going: bool = False,
    files: catalog_module.Files | None = None,
) -> Catalog:
    """The catalog as of ``now``; ArticleError if any article is broken, unless ``keep_going``.
    ``files``: content_files(site), when the caller has them."""
    return read_catalog(site, state, now, keep_going, files).catalog


def publish(
    site: Site, state: State, loaded: Loaded, now: datetime, started: float | None = None
) -> BuildReport:
    """Write every output for a catalog read by read_catalog (and the state's issues), then
    record it, atomically: the full build, for a caller that read the catalog itself."""
    started = time.perf_counter() if started is None else started
    work = whole(site, state, loaded, now, snapshot.basis(site, state, packaged_templates()))
    # What the build read was not taken before: the next build cannot find it unchanged, but
    # it can rebuild edits quickly.
    return carry_out(site, state, work, now, started, None)


def whole(
    site: Site,
    state: State,
    loaded: Loaded,
    now: datetime,
    basis: str,
    previous: dict[str, str] | None = None,
) -> Work:
    """The work of a full build of ``loaded``; ``basis``: snapshot.basis() as of it;
    ``previous``: the state's outputs, when the caller has them."""
    catalog, reading = loaded
    fresh = reading.fresh  # the files read afresh: changed since the last build
    specs = feed_specs(site, catalog)
    produced = list(outputs(site, catalog, state.issues.all(), specs))
    feeds = sum(path.endswith(FEED_FILES) for path, _, _ in produced)
    record = None
    if not catalog.failed:
        quick = lists_show_lines_and_cards(site)
        record = snapshot.LastBuild(
            hash=None,
            basis=basis,
            until=catalog.scheduled[0].date.isoformat() if catalog.scheduled else None,
            newest=catalog.articles[0].date.isoformat() if catalog.articles else None,
            articles=len(catalog.articles),
            scheduled=len(catalog.scheduled),
            drafts=len(catalog.drafts),
            feed_files=feeds,
            ids={a.relpath: a.feed_id for a in catalog.articles} if quick else None,
            feeds=[
                (s.folder, s.title, s.description, s.home, [a.relpath for a in s.articles])
                for s in every_feed(specs)
            ]
            if quick
            else None,
            # The clock's warning is of this build's moment, not of a file: the next build
            # with nothing to do must not count it among the files' warnings told before.
            problems=[p for p in catalog.problems if p.path != _state_relpath(site, state)],
        )
    return Work(
        path="full",
        outputs=produced,
        previous=state.outputs() if previous is None else previous,
        partial=False,
        known=catalog.known(),
        known_before=reading.known_before,
        cache_rows=reading.cache_rows,
        present=reading.present,
        counts=(len(catalog.articles), len(catalog.scheduled), len(catalog.drafts), feeds),
        problems=catalog.problems,
        told=frozenset(
            p.path for p in catalog.problems if p.path in reading.present and p.path not in fresh
        ),
        record=record,
    )


def _state_relpath(site: Site, state: State) -> str | None:
    """How a problem names the state file (the clock's warning, catalog.read)."""
    return catalog_module.relpath_of(site, str(state.path)) if state.path else None


def carry_out(
    site: Site, state: State, work: Work, now: datetime, started: float, taken: str | None
) -> BuildReport:
    """Write ``work``'s outputs and record it with the commit step; ``taken``: Taken.hash of
    what the build read, taken before it read anything (None: not taken)."""
    writer = new_writer(site, state, work.previous, walk=not work.partial)
    writer.offer_all(work.outputs)
    if work.partial:
        writer.keep_previous()

    def remember() -> None:
        state.remember_articles(work.known, now.isoformat(), work.known_before)
        state.replace_outputs(writer.outputs, writer.previous)
        state.update_content_cache(work.cache_rows, work.present)
        websub.owe(site, state, writer.written, now)
        # Made here, once every output is written: its text (a megabyte at 10,000 articles)
        # is not held while they are rendered.
        record = work.record.seen(taken).dump() if work.record is not None else None
        cache.keep_last_build(state, record)

    wrote = commit(site, state, writer, remember)
    problems = [*work.problems, *stray_problems(site, writer)]
    return BuildReport.of(site, wrote, started, work.counts, problems, work.path, work.told)


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
    """Complete the writer's new tree, then record the build (``record``: the state's writes,
    the record of this build for the next one among them) and swap the new tree in, in one
    transaction: the swap comes after every write to the state and before its commit, and is
    undone if the commit fails. A build killed after the swap and before the commit is undone
    by the next build (writer.settle), so the output, the state and the record never disagree."""
    report = writer.finish()
    try:
        with _recording(state):
            record()
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
    """Read and validate everything as a build would, writing nothing; the settings' warnings
    (told here only: a build from cron would repeat them on every run) come first."""
    if state is not None:
        catalog = catalog_module.load(site, state, now)
    else:
        with State.open(site.state_dir, create=False) as opened:
            catalog = catalog_module.load(site, opened, now)
    catalog.problems[:0] = site.warnings
    return catalog
