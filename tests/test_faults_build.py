"""Builds under real faults: kill -9 at random moments, a worker killed mid-render, a state
database that cannot be written, a full disk (a real tmpfs). After each, ``public/`` is exactly
the previous build or exactly the new one, nothing is left where a web server could fetch it,
the site lock is free, and the next build is correct."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import disks
import helpers
import pytest
from disks import fill
from helpers import SETTINGS, MakeSite, article, load

from feedpub.lock import SiteLock
from feedpub.site.build import load_catalog, new_writer
from feedpub.site.outputs import outputs
from feedpub.site.writer import TEMP_PREFIX, TREES_KEY
from feedpub.store import cache
from feedpub.store.state import State

NOW = "2026-11-27T12:00"
OLD, NEW = "Test Gazette", "Evening Gazette"
DEADLINE = 60.0  # seconds: anything slower than this is taken as "waits for ever"
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


def articles(count: int) -> dict[str, str | bytes]:
    return {
        f"2026/a{i:04d}.md": article(
            f"Story {i}",
            f"2026-{1 + i % 11:02d}-{1 + i % 27:02d} 09:{i % 60:02d}",
            body=f"Paragraph {i} of the story.",
            tags=f"[t{i % 5}]",
            author=f"Writer {i % 4}",
        )
        for i in range(count)
    }


def entitle(root: Path, title: str) -> None:
    """Give the site ``title``: every page and feed shows it, so every output changes."""
    settings = root / "feedpub.toml"
    text = settings.read_text("utf-8")
    settings.write_text(text.replace(OLD, title).replace(NEW, title), "utf-8")


def command(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "feedpub", "--site", str(root), "-q", *args]


def build(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(root, "build", "--now", NOW), capture_output=True, text=True, timeout=DEADLINE
    )


def start(root: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command(root, "build", "--now", NOW),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (links and folders as such) -> a digest of its bytes."""
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_symlink():
            found[name] = "link"
        elif path.is_file():
            found[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def leftovers(root: Path) -> list[str]:
    """What a build leaves only while it runs, or a killed build: the next tree, its marker,
    and the temporary files of feedpub before whole-tree builds."""
    found = [p.name for p in (root / ".feedpub").glob("public.*") if p.suffix != ".spare"]
    found += [str(p) for p in root.rglob(f"{TEMP_PREFIX}*")]
    return found


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def wait_for_workers(process: subprocess.Popen[str]) -> list[int]:
    """The build's forked workers, once it has started them (polled, with a deadline)."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline and process.poll() is None:
        if workers := children(process.pid):
            return workers
        time.sleep(0.002)
    raise AssertionError("the build started no worker")


def busy(pid: int, ticks: int = 5) -> bool:
    """Whether ``pid`` has run for ``ticks`` clock ticks (it is working on its share)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()
    except OSError:
        return False
    return int(fields[11]) + int(fields[12]) >= ticks


def working_worker(process: subprocess.Popen[str]) -> int:
    """A worker of the build that is busy rendering (polled, with a deadline)."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline and process.poll() is None:
        for pid in children(process.pid):
            if busy(pid):
                return pid
        time.sleep(0.002)
    raise AssertionError("no worker of the build got to work")


def gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
    except OSError:
        return True
    return status == "Z"


def assert_clean_failure(done: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert done.returncode == 1, done.stderr
    assert "unexpected" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    for text in expected:
        assert text in done.stderr, done.stderr


# -- kill -9 at random moments -----------------------------------------------------------------

Killable = tuple[Path, dict[str, dict[str, str]], float]


@pytest.fixture(scope="module")
def killable(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, dict[str, dict[str, str]], float]]:
    """A site of enough articles that the build forks workers, built with each title: the
    site (built with OLD), the reference tree of each title, and a full rebuild's duration."""
    root = tmp_path_factory.mktemp("killable") / "site"
    (root / "content").mkdir(parents=True)
    (root / "feedpub.toml").write_text(SETTINGS, "utf-8")
    for name, text in articles(KILL_ARTICLES).items():
        (root / "content" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "content" / name).write_text(str(text), "utf-8")
    references: dict[str, dict[str, str]] = {}
    durations = []
    for title in (OLD, NEW, OLD):
        entitle(root, title)
        began = time.monotonic()
        assert build(root).returncode == 0
        durations.append(time.monotonic() - began)
        references[title] = tree(root / "public")
    assert references[OLD] != references[NEW]
    yield root, references, max(durations[1:])


KILL_ARTICLES = 450  # about 500 outputs, rendered by forked workers; a rebuild takes 1-3 s


def kill_trials(count: int, killable: Killable) -> None:
    root, references, duration = killable
    current = OLD if tree(root / "public") == references[OLD] else NEW
    for trial in range(count):
        seed = random.randrange(10**9)
        # Spread over the whole build (reading, rendering, swapping), however few the trials.
        delay = duration * 1.1 * (trial + random.Random(seed).random()) / count
        target = NEW if current == OLD else OLD
        entitle(root, target)
        process = start(root)
        time.sleep(delay)  # the moment of the kill is the point of the trial
        process.kill()
        process.communicate()
        found = tree(root / "public")
        where = f"trial {trial} (seed {seed}, kill after {delay:.3f} s of {duration:.2f})"
        assert found in (references[current], references[target]), where
        # The next build finds the lock free at once: no orphaned worker holds it.
        with SiteLock(root / ".feedpub", "test"):
            pass
        done = build(root)
        assert done.returncode == 0, (where, done.stderr)
        assert tree(root / "public") == references[target], where
        assert leftovers(root) == [], where
        current = target


def test_kill_9_at_random_moments_leaves_the_old_or_the_new_site(
    killable: Killable,
) -> None:
    kill_trials(2, killable)


@pytest.mark.slow
def test_kill_9_at_random_moments_leaves_the_old_or_the_new_site_many_times(
    killable: Killable,
) -> None:
    kill_trials(24, killable)


# -- workers that die --------------------------------------------------------------------------


@pytest.fixture
def forking(make_site: MakeSite) -> tuple[Path, dict[str, str]]:
    """A built site whose next build (a new title) renders every page in forked workers."""
    root = make_site(articles(450))
    assert build(root).returncode == 0
    before = tree(root / "public")
    entitle(root, NEW)
    return root, before


@pytest.mark.parametrize(
    ("sent", "said"),
    [(signal.SIGKILL, "was killed (SIGKILL"), (signal.SIGABRT, "aborted (SIGABRT")],
    ids=["oom-killer", "cmark-abort"],
)
def test_a_worker_that_dies_fails_the_build_naming_what_it_rendered(
    forking: tuple[Path, dict[str, str]], sent: signal.Signals, said: str
) -> None:
    root, before = forking
    process = start(root)
    worker = working_worker(process)
    os.kill(worker, sent)
    _, stderr = process.communicate(timeout=DEADLINE)  # never waits for ever
    done = subprocess.CompletedProcess(process.args, process.returncode, "", stderr)
    assert_clean_failure(done, f"worker process {worker} {said}", "while working on ")
    # The page or feed it was rendering (or, reading the articles, the article's file).
    rendering = stderr.split("while working on ")[1].split(";")[0]
    assert rendering in before or rendering.endswith(".md"), stderr
    assert tree(root / "public") == before
    assert leftovers(root) == []
    with SiteLock(root / ".feedpub", "test"):  # the lock is free
        pass
    assert build(root).returncode == 0
    assert NEW in (root / "public" / "index.html").read_text("utf-8")


def test_a_killed_build_leaves_no_worker_holding_the_lock(
    forking: tuple[Path, dict[str, str]],
) -> None:
    root, before = forking
    process = start(root)
    working_worker(process)  # busy with its share, which takes it a second or two
    workers = children(process.pid)
    process.kill()
    process.communicate()
    # At once: a worker left running would hold the lock until it finished its share.
    with SiteLock(root / ".feedpub", "next build"):
        pass
    deadline = time.monotonic() + DEADLINE
    while not all(gone(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert all(gone(pid) for pid in workers), "the workers outlived the build"
    assert tree(root / "public") == before
    assert build(root).returncode == 0
    assert leftovers(root) == []


# -- temporary files ---------------------------------------------------------------------------

EMBARGOED = "The embargoed story's secret paragraph."


def test_what_a_killed_build_left_is_never_served_and_is_removed(
    forking: tuple[Path, dict[str, str]],
) -> None:
    root, before = forking
    story = root / "content" / "2029-12-01-embargoed-story.md"
    story.write_text(article("Embargoed", "2026-11-26 09:00", body=EMBARGOED), "utf-8")
    process = start(root)
    # Into the rendering by the work done, not by the clock: 450 pages take two workers about
    # 0.2 s on a quiet machine, so a fixed wait could outlast the build.
    working_worker(process)
    process.kill()
    process.communicate()
    served = tree(root / "public")
    assert served == before  # nothing of the killed build, no temporary file
    story.unlink()  # withdrawn
    assert build(root).returncode == 0
    assert leftovers(root) == []
    for path in (root / "public").rglob("*"):
        assert not path.is_file() or EMBARGOED.encode() not in path.read_bytes(), path


def test_temporary_files_of_an_older_feedpub_are_removed(make_site: MakeSite) -> None:
    # feedpub before whole-tree builds staged files inside public/ and a kill left them there.
    root = make_site(articles(3))
    assert build(root).returncode == 0
    with sqlite3.connect(root / ".feedpub" / "state.db") as db:
        db.execute("DELETE FROM meta WHERE key = ?", (TREES_KEY,))
    db.close()
    left = root / "public" / "2029" / "12" / "embargoed-story" / f"{TEMP_PREFIX}index.html"
    left.parent.mkdir(parents=True)
    left.write_text(EMBARGOED, "utf-8")
    assert build(root).returncode == 0  # a build with nothing to do removes it too
    assert not left.exists()
    assert leftovers(root) == []


# -- a state that cannot be written ------------------------------------------------------------


@ROOT_ONLY
def test_a_state_that_cannot_be_written_leaves_the_previous_output(make_site: MakeSite) -> None:
    root = make_site(articles(3))
    assert build(root).returncode == 0
    before = tree(root / "public")
    entitle(root, NEW)
    state = root / ".feedpub" / "state.db"
    subprocess.run(["chattr", "+i", str(state)], check=True)  # read-only even for root
    try:
        done = build(root)
    finally:
        subprocess.run(["chattr", "-i", str(state)], check=True)
    assert_clean_failure(done, str(state))
    assert tree(root / "public") == before
    assert leftovers(root) == []
    assert build(root).returncode == 0
    assert NEW in (root / "public" / "index.html").read_text("utf-8")
    assert build(root).returncode == 0


# -- a full disk -------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real tmpfs of 8 MiB, mounted on a folder for the site."""
    with disks.small_disk(tmp_path / "disk", "8m") as folder:
        yield folder


# How much room the build finds: none (the state cannot grow), some (the tree cannot be
# finished, at one file or another), nearly enough.
FREE = [0, *(pytest.param(n, marks=pytest.mark.slow) for n in (16_384, 65_536, 262_144)), 524_288]


@ROOT_ONLY
@pytest.mark.parametrize("leave", FREE)
def test_a_full_disk_fails_cleanly_and_the_next_build_finishes(
    small_disk: Path, leave: int
) -> None:
    root = small_disk / "site"
    (root / "content").mkdir(parents=True)
    (root / "feedpub.toml").write_text(SETTINGS, "utf-8")
    for name, text in articles(120).items():
        (root / "content" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "content" / name).write_text(str(text), "utf-8")
    assert build(root).returncode == 0
    before = tree(root / "public")
    entitle(root, NEW)
    filler = fill(small_disk, leave)
    done = build(root)
    assert done.returncode == 1 or leave > 0, "a full disk went unnoticed"
    if done.returncode == 0:  # there was room enough after all
        after = tree(root / "public")
        assert after != before and NEW in (root / "public" / "index.html").read_text("utf-8")
    else:
        assert_clean_failure(done)
        assert "No space left on device" in done.stderr or "full" in done.stderr, done.stderr
        assert tree(root / "public") == before
    assert leftovers(root) == []
    filler.unlink()
    assert build(root).returncode == 0
    assert NEW in (root / "public" / "index.html").read_text("utf-8")
    assert leftovers(root) == []
    reference = small_disk.parent / "reference"  # built from scratch, on the big disk
    shutil.copytree(root, reference, ignore=shutil.ignore_patterns("public", ".feedpub"))
    assert build(reference).returncode == 0
    assert tree(reference / "public") == tree(root / "public")


@ROOT_ONLY
def test_an_output_folder_that_is_a_mount_point_is_a_clear_error(
    make_site: MakeSite, small_disk: Path
) -> None:
    root = make_site(articles(3))
    assert build(root).returncode == 0
    shutil.rmtree(root / "public")
    (root / "public").mkdir()
    subprocess.run(["mount", "--bind", str(small_disk), str(root / "public")], check=True)
    try:
        done = build(root)
    finally:
        subprocess.run(["umount", str(root / "public")], check=True)
    assert_clean_failure(done, "mount point")


# -- the moments between the swap and the state's commit ---------------------------------------


def swap_without_commit(root: Path, committed: bool) -> None:
    """Do what a build does up to the swap, then stop as a killed process stops: the state's
    transaction is committed only if ``committed`` (then the last step, keeping the tree
    swapped out as the spare, is what is left undone)."""
    site = load(root)
    with State.open(site.state_dir) as state:
        catalog = load_catalog(site, state, helpers.NOW)
        writer = new_writer(site, state, state.outputs(), walk=True)
        writer.offer_all(outputs(site, catalog, []))
        writer.finish()
        # As build.commit does.
        state.db.execute("BEGIN IMMEDIATE")
        state.replace_outputs(writer.outputs, writer.previous)
        cache.keep_last_build(state, None)
        record = writer.record()
        assert record is not None
        state.set_meta(TREES_KEY, record.dump())
        writer.swap()
        if committed:
            state.db.execute("COMMIT")
    # Closing the connection of an open transaction rolls it back, as a kill does.


@pytest.mark.parametrize("committed", [False, True], ids=["before-commit", "after-commit"])
def test_a_build_killed_around_its_commit_is_put_right(
    make_site: MakeSite, committed: bool
) -> None:
    root = make_site(articles(5))
    assert build(root).returncode == 0
    old = tree(root / "public")
    entitle(root, NEW)
    swap_without_commit(root, committed)
    new = tree(root / "public")
    assert NEW in (root / "public" / "index.html").read_text("utf-8")
    # The edit is taken back: the state (rolled back or not) must not think public/ is old
    # when it is new, nor the other way round.
    entitle(root, OLD)
    assert build(root).returncode == 0
    assert tree(root / "public") == old
    assert leftovers(root) == []
    entitle(root, NEW)
    assert build(root).returncode == 0
    assert tree(root / "public") == new
    assert build(root).returncode == 0  # and once more, from the spare tree
    assert tree(root / "public") == new
