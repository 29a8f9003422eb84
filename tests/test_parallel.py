"""Reading and rendering in several processes: the same results as one process, and failures
leave nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import pytest
from helpers import CHILD_ENV, FEEDPUB, NOW, MakeSite, article, load

from feedpub.content import catalog
from feedpub.content.catalog import Catalog
from feedpub.errors import FeedpubError
from feedpub.model import Article
from feedpub.parallel import fork_map
from feedpub.site import feeds, writer
from feedpub.site.build import build
from feedpub.site.writer import TEMP_PREFIX
from feedpub.store.state import State

T = TypeVar("T")
R = TypeVar("R")
COUNT = 120  # with three tags and three authors: several hundred outputs


def many(count: int = COUNT) -> dict[str, str | bytes]:
    return {
        f"a{i:04d}.md": article(
            f"Article {i}",
            f"2026-{1 + i % 11:02d}-{1 + i % 27:02d} 09:00",
            body=f"Body {i} with [a link](../x/).",
            tags=f"[t{i % 3}]",
            author=f"Writer {i % 3}",
        )
        for i in range(count)
    }


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_parallel_and_serial_write_the_same_bytes(
    make_site: MakeSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    serial = make_site(many(), folder="serial")
    parallel = make_site(many(), folder="parallel")
    monkeypatch.setattr(writer, "PARALLEL_FROM", 10**9)
    build(load(serial), NOW)
    monkeypatch.setattr(writer, "PARALLEL_FROM", 1)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    report = build(load(parallel), NOW)
    assert report.written == len(snapshot(parallel / "public"))
    assert snapshot(serial / "public") == snapshot(parallel / "public")


def test_a_failure_in_a_worker_leaves_the_last_output(
    make_site: MakeSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_site(many())
    monkeypatch.setattr(writer, "PARALLEL_FROM", 1)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    build(load(root), NOW)
    before = snapshot(root / "public")
    (root / "templates").mkdir()
    (root / "templates" / "article.html").write_text(
        '{% extends "base.html" %}{% block content %}'
        '{% if article.title == "Article 77" %}{{ nothing.here }}{% endif %}'
        "{{ article.title }} changed{% endblock %}",
        encoding="utf-8",
    )
    with pytest.raises(FeedpubError, match="nothing"):
        build(load(root), NOW)
    assert snapshot(root / "public") == before
    assert not [p for p in (root / "public").rglob(f"{TEMP_PREFIX}*")]


def read(root: Path) -> tuple[Catalog, catalog.Reading]:
    site = load(root)
    with State.open(site.state_dir) as state:
        return catalog.read(site, state, NOW)


def test_reading_in_processes_finds_what_one_process_finds(
    make_site: MakeSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = many()
    files["broken.md"] = "---\ntitle: [unclosed\n---\nBody.\n"
    files["warned.md"] = article("Warned", "2026-03-03 09:00").encode() + b"\xff\n"
    files["later.md"] = article("Later", "2027-01-01 09:00")
    serial = make_site(files, folder="serial")
    parallel = make_site(files, folder="parallel")
    monkeypatch.setattr(catalog, "PARALLEL_READ_FROM", 10**9)
    one, one_reading = read(serial)
    monkeypatch.setattr(catalog, "PARALLEL_READ_FROM", 1)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    calls: list[int] = []

    def counted(function: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
        calls.append(workers)
        return fork_map(function, items, workers)

    monkeypatch.setattr(catalog, "fork_map", counted)
    two, two_reading = read(parallel)
    assert calls == [2]
    assert [(p.path, p.line, p.severity, p.message) for p in one.problems] == [
        (p.path, p.line, p.severity, p.message) for p in two.problems
    ]
    assert any(p.path == "content/broken.md" and p.severity == "error" for p in two.problems)
    assert any(p.path == "content/warned.md" and p.severity == "warning" for p in two.problems)
    assert len(two.articles) == COUNT + 1 and [a.title for a in two.scheduled] == ["Later"]

    def strip(a: Article) -> tuple[object, ...]:
        return (a.relpath, a.title, a.date, a.feed_id, a.lead, a.link, a.tags, a.authors)

    assert [strip(a) for a in one.articles] == [strip(a) for a in two.articles]
    assert [row[0] for row in one_reading.cache_rows] == [
        row[0] for row in two_reading.cache_rows
    ]
    assert [row[4] for row in one_reading.cache_rows] == [
        row[4] for row in two_reading.cache_rows
    ]


def _pid_of(item: int) -> tuple[int, int]:
    return item * item, os.getpid()


@pytest.mark.parametrize(("count", "block"), [(0, 3), (1, 3), (10, 1), (10, 3), (11, 4)])
def test_fork_map_keeps_order_and_runs_blocks_in_one_process(count: int, block: int) -> None:
    items = list(range(count))
    results = fork_map(_pid_of, items, 2, block)
    assert [square for square, _ in results] == [i * i for i in items]
    pids = [pid for _, pid in results]
    for start in range(0, count, block):
        assert len(set(pids[start : start + block])) == 1
    # This process takes the first share; another one takes the second.
    assert pids[:block] == [os.getpid()] * min(count, block)
    assert len(set(pids)) == (2 if count > block else 1 if count else 0)


def test_rss_and_atom_share_one_generator(
    make_site: MakeSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_site(many(12))
    made: list[str] = []
    real = feeds._generator

    def counting(site, spec, bodies, full):  # type: ignore[no-untyped-def]
        made.append(spec.folder)
        return real(site, spec, bodies, full)

    monkeypatch.setattr(feeds, "_generator", counting)
    report = build(load(root), NOW)
    # One generator per feed (the site's, three tags, three authors), not one per document.
    assert sorted(made) == sorted(set(made)) and len(made) == report.feeds // 3 == 7
    for name in ("rss.xml", "atom.xml"):
        text = (root / "public" / "tags" / "t1" / name).read_text("utf-8")
        assert f'href="https://news.example.org/tags/t1/{name}" rel="self"' in text or (
            f'rel="self" href="https://news.example.org/tags/t1/{name}"' in text
        )


def _interrupts_its_worker(parent: int) -> Callable[[int], int]:
    """A function whose calls in a worker (not in ``parent``) send that worker a SIGINT."""

    def work(item: int) -> int:
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGINT)
        return item * 2

    return work


def test_a_worker_ignores_sigint_so_the_parent_alone_stops_the_work() -> None:
    """Bug 9: Ctrl-C reaches every process of the terminal's group; a worker that took it as a
    KeyboardInterrupt failed its share (and printed its traceback). Workers ignore it: the
    parent, which gets it too, stops them."""
    items = list(range(40))
    assert fork_map(_interrupts_its_worker(os.getpid()), items, 2) == [i * 2 for i in items]


def _interrupts_as_in_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _children(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []


@pytest.mark.skipif(
    (os.cpu_count() or 1) < 2 or not Path("/proc/self/task").is_dir(),
    reason="workers need two cores, and the test finds them in /proc",
)
def test_ctrl_c_during_a_build_prints_aborted_only(make_site: MakeSite) -> None:
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) while workers read
    the articles: "Aborted!" and nothing else, exit 1, no process left behind, and the next
    build publishes everything."""
    body = "A sentence of the body. " * 200
    root = make_site({f"a{i:04d}.md": article(f"A{i}", body=body) for i in range(1200)})
    proc = subprocess.Popen(
        [FEEDPUB, "--site", root, "build", "--now", NOW.isoformat()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=CHILD_ENV,
        start_new_session=True,
        # As a terminal starts a command: Ctrl-C not ignored. A test run started in the
        # background of a script (`cmd &`) ignores it, and the build would inherit that.
        preexec_fn=_interrupts_as_in_a_terminal,
    )
    deadline = time.monotonic() + 60
    while not _children(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
        pass
    assert _children(proc.pid), "the build ended, or started no worker, before its SIGINT"
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out, err) == (1, b"", b"\nAborted!\n")
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
    else:
        pytest.fail("a worker outlived the build")
    report = build(load(root), NOW)
    assert (report.articles, report.path) == (1200, "full")
