"""Measure feedpub against its peers and print one Markdown table.

    python bench/run.py [--quick] [--sizes 1000,10000] [--runs 3] [--skip-peers] [--skip-send]
                        [--dkim]

Every scenario runs --runs times as a child process; the table gives the median wall time, the
largest peak memory (max RSS from os.wait4) and the ratio to the peer measured in the same run.
The table goes to stdout and to bench/results.md; progress goes to stderr. bench/README.md says
what each row measures.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import multiprocessing
import os
import platform
import shlex
import shutil
import socket
import stat
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multiprocessing.sharedctypes import Synchronized
    from multiprocessing.synchronize import Event

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results.md"

FULL_SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (1_000, 10_000)
SUBSCRIBERS = (1_000, 10_000)
CONNECTIONS = (1, 4)
# The rebuild and preview rows use this size (or the largest one asked for, when it is not);
# "nothing changed" is also measured at BIG_SIZE.
FOCUS_SIZE = 10_000
BIG_SIZE = 100_000
# Peers are measured up to this size: Hugo's full site already takes gigabytes at 10,000.
PEER_MAX_SIZE = 10_000
FEED_LIMIT = "50"
# The issue is composed from the articles of this corpus; only its 25 newest go out.
SEND_CORPUS = 1_000
NOW = "2026-06-01T12:00:00+00:00"
HOST = "127.0.0.1"
SENDER = "Bench <news@blog.example.com>"

SITE_TOML = """\
[site]
title = "Bench"
url = "https://blog.example.com/"
timezone = "UTC"
"""
NEWSLETTER_TOML = f"""
[newsletter]
from = "{SENDER}"
schedule = "weekly"
lookback_days = 36500
max_items = 25
"""
SMTP_TOML = """
[smtp]
host = "{host}"
port = {port}
security = "none"
connections = {connections}
"""
# With --dkim: every message signed (the key is made once, in the work folder).
DKIM_TOML = """dkim_key_file = "{key}"
dkim_selector = "bench"
dkim_domain = "blog.example.com"
"""
ADDED_PARAGRAPH = "\n\nA paragraph added by the benchmark, edit {number}: the council met again.\n"

STARTED = time.perf_counter()


class BenchError(Exception):
    """A measured or preparing command failed, or a check after it did not hold."""


def progress(message: str) -> None:
    print(f"[{time.perf_counter() - STARTED:7.1f} s] {message}", file=sys.stderr, flush=True)


# --- measuring -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    seconds: float
    peak_kib: int


@dataclass
class Row:
    """One line of the table: a scenario's samples, or why it has none."""

    scenario: str
    size: str
    samples: list[Sample] = field(default_factory=list)
    missing: str = ""
    # (label, row): this row's median time is divided by each of theirs.
    versus: list[tuple[str, Row]] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return statistics.median(sample.seconds for sample in self.samples)

    @property
    def peak_kib(self) -> int:
        return max(sample.peak_kib for sample in self.samples)


def tail(log: Path, lines: int = 15) -> str:
    text = log.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(text[-lines:])


def measure(command: Sequence[str], log: Path, env: Mapping[str, str] | None = None) -> Sample:
    """Run ``command`` as a child process: its wall time and its peak RSS (with its children),
    taken by bench/child.py, so that the bench's own size does not count."""
    with log.open("wb") as output, tempfile.TemporaryDirectory(prefix="feedpub-bench-") as scratch:
        result = Path(scratch) / "result.json"
        launcher = subprocess.run(
            [sys.executable, str(BENCH / "child.py"), str(result), *command],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            check=False,
        )
        if launcher.returncode != 0 or not result.is_file():
            raise BenchError(
                f"could not start {shlex.join(command)}; the end of {log}:\n" + tail(log)
            )
        measured = json.loads(result.read_text(encoding="utf-8"))
    if measured["exit"] != 0:
        raise BenchError(
            f"{shlex.join(command)} exited with {measured['exit']}; the end of {log}:\n" + tail(log)
        )
    return Sample(measured["seconds"], measured["peak_kib"])


def run(command: Sequence[str], log: Path, env: Mapping[str, str] | None = None) -> None:
    """Run a preparing step, unmeasured."""
    measure(command, log, env)


def series(
    row: Row,
    runs: int,
    command: Sequence[str],
    log: Path,
    *,
    before: Callable[[int], None] | None = None,
    after: Callable[[], None] | None = None,
    env: Mapping[str, str] | None = None,
) -> Row:
    """Measure ``command`` ``runs`` times into ``row``; ``before(run)`` prepares each run and
    ``after()`` checks it."""
    for number in range(runs):
        if before is not None:
            before(number)
        sample = measure(command, log, env)
        if after is not None:
            after()
        row.samples.append(sample)
        progress(
            f"{row.scenario}, {row.size}: run {number + 1}/{runs}: "
            f"{sample.seconds:.2f} s, {mebibytes(sample.peak_kib)}"
        )
    return row


# --- folders -------------------------------------------------------------------------------


def remove(*paths: Path) -> None:
    for path in paths:
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.exists():
            shutil.rmtree(path)


def load_corpus_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_corpus", BENCH / "corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Corpus:
    """The generated articles for one size, made once and reused; edits are undone on exit."""

    def __init__(self, workdir: Path, size: int, generator: ModuleType) -> None:
        self.size = size
        self.folder = workdir / "corpus" / str(size)
        self.generator = generator
        name, self.pristine = generator.article(size // 2)
        self.edited = self.folder / name

    def ensure(self, logs: Path) -> Path:
        complete = self.folder.with_name(f"{self.size}.complete")
        if not complete.exists():
            progress(f"making the corpus of {self.size:,} articles in {self.folder}")
            remove(self.folder)
            command = [sys.executable, str(BENCH / "corpus.py"), str(self.size), str(self.folder)]
            run(command, logs / f"corpus-{self.size}.log")
            complete.touch()
        self.restore()
        return self.folder

    def edit(self, number: int) -> None:
        with self.edited.open("a", encoding="utf-8") as file:
            file.write(ADDED_PARAGRAPH.format(number=number + 1))

    def add(self, number: int) -> None:
        _, text = self.generator.article(self.size + number)
        (self.folder / f"bench-added-{number + 1}.md").write_text(text, encoding="utf-8")

    def restore(self) -> None:
        """Undo edit() and add(), also those of a run that was stopped."""
        if self.edited.read_text(encoding="utf-8") != self.pristine:
            self.edited.write_text(self.pristine, encoding="utf-8")
        for added in self.folder.glob("bench-added-*.md"):
            added.unlink()


def write_site(folder: Path, content: Path, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "feedpub.toml").write_text(SITE_TOML + extra, encoding="utf-8")
    link = folder / "content"
    if not (link.is_symlink() and link.resolve() == content.resolve()):
        remove(link)
        link.symlink_to(content, target_is_directory=True)
    return folder


def clean_site(site: Path) -> None:
    remove(site / "public", site / ".feedpub")


class Trash:
    """Output of the cold runs, moved aside (one rename) instead of deleted before the next run,
    and deleted once the last row is timed.

    Measured on the benchmark machine (ext4): creating 10,000 folders with a file in each took
    1.2-3.4 s in a new place, but 6.1-15.6 s within minutes after a tree of that size had been
    deleted, even after sync. Deleting one run's output right before the next would time that,
    for feedpub and for the peers alike, not the tools."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def discard(self, *paths: Path) -> None:
        for path in paths:
            if path.exists() or path.is_symlink():
                self.folder.mkdir(parents=True, exist_ok=True)
                self.count += 1
                path.rename(self.folder / f"{self.count}-{path.name}")

    def empty(self) -> None:
        remove(self.folder)


# --- the SMTP server -----------------------------------------------------------------------


def serve_smtp(port: int, received: Synchronized[int], ready: Event, stop: Event) -> None:
    """The child process: an aiosmtpd server that accepts every message and counts recipients."""
    from aiosmtpd.controller import Controller

    class Counter:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with received.get_lock():
                received.value += len(envelope.rcpt_tos)
            return "250 OK"

    controller = Controller(Counter(), hostname=HOST, port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


@dataclass
class SmtpServer:
    port: int
    received: Synchronized[int]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    context = multiprocessing.get_context("spawn")
    received = context.Value("q", 0)
    ready, stop = context.Event(), context.Event()
    port = free_port()
    process = context.Process(target=serve_smtp, args=(port, received, ready, stop), daemon=True)
    process.start()
    try:
        if not ready.wait(30):
            raise BenchError("the aiosmtpd server did not start within 30 s")
        progress(f"aiosmtpd server on {HOST}:{port} (pid {process.pid})")
        yield SmtpServer(port, received)
    finally:
        stop.set()
        process.join(10)
        if process.is_alive():
            process.terminate()
            process.join()


# --- the benchmark -------------------------------------------------------------------------


@dataclass(frozen=True)
class Peers:
    folder: Path
    hugo: str | None
    hugo_version: str
    pelican: bool
    pelican_version: str


def find_peers(peers_folder: Path, workdir: Path) -> Peers:
    """The installed peers, with their configurations copied out of the (read-only) peers
    folder: Hugo writes a lock file and a resources/ folder next to its configuration."""
    if not peers_folder.is_dir():
        raise BenchError(f"no peer configurations at {peers_folder}; pass --peers DIR")
    copy = workdir / "peers"
    remove(copy)
    shutil.copytree(peers_folder, copy)
    for path in (copy, *copy.rglob("*")):
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    hugo = shutil.which("hugo")
    hugo_version = ""
    if hugo:
        # "hugo v0.111.3+extended linux/amd64 BuildDate=..."
        words = subprocess.run([hugo, "version"], capture_output=True, text=True).stdout.split()
        hugo_version = "Hugo " + (words[1].split("+")[0].lstrip("v") if len(words) > 1 else "?")
    pelican = all(
        importlib.util.find_spec(name) is not None
        for name in ("pelican", "markdown", "pelican.plugins.yaml_metadata")
    )
    return Peers(
        folder=copy,
        hugo=hugo,
        hugo_version=hugo_version,
        pelican=pelican,
        pelican_version=metadata.version("pelican") if pelican else "",
    )


def script(name: str) -> list[str]:
    """The console script ``name`` of this interpreter's environment, else ``python -m``."""
    beside = Path(sys.executable).with_name(name)
    return [str(beside)] if beside.exists() else [sys.executable, "-m", name]


def articles(size: int) -> str:
    return f"{size:,} articles"


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.runs: int = args.runs
        self.sizes: list[int] = args.sizes
        self.subscribers: list[int] = args.subscribers
        self.workdir: Path = args.workdir
        self.logs = self.workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.generator = load_corpus_module()
        self.feedpub = script("feedpub")
        self.peers = None if args.skip_peers else find_peers(args.peers, self.workdir)
        self.skip_send: bool = args.skip_send
        self.dkim: bool = args.dkim
        self.rows: list[Row] = []
        self.trash = Trash(self.workdir / "trash")
        # Left by a bench that was stopped: deleted now, before anything is timed.
        self.trash.empty()
        self.cold: dict[int, Row] = {}
        self.hugo_full: dict[int, Row] = {}

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def corpus(self, size: int) -> Corpus:
        corpus = Corpus(self.workdir, size, self.generator)
        corpus.ensure(self.logs)
        return corpus

    def site(self, size: int) -> Path:
        return self.workdir / "sites" / f"build-{size}"

    def build(self, site: Path) -> list[str]:
        return [*self.feedpub, "--site", str(site), "-q", "build"]

    # --- builds

    def cold_build(self, size: int) -> None:
        corpus = self.corpus(size)
        site = write_site(self.site(size), corpus.folder)
        row = self.add(Row("feedpub build, cold", articles(size)))
        self.cold[size] = row

        def built() -> None:
            if not (site / "public" / "rss.xml").is_file():
                raise BenchError(f"feedpub build wrote no {site / 'public' / 'rss.xml'}")

        series(
            row,
            self.runs,
            self.build(site),
            self.logs / f"build-{size}.log",
            before=lambda _: self.trash.discard(site / "public", site / ".feedpub"),
            after=built,
        )
        if self.peers is not None and size <= PEER_MAX_SIZE:
            self.peer_builds(self.peers, corpus.folder, size, row)

    def peer_builds(self, peers: Peers, corpus: Path, size: int, feedpub: Row) -> None:
        out, cache = self.workdir / "out", self.workdir / "cache"
        hugo_site = peers.folder / "hugo"
        hugo_env = {**os.environ, "HUGO_PARAMS_FEEDLIMIT": FEED_LIMIT}
        for config, scenario, label in (
            ("config_full.yaml", "Hugo, full site, cold", "Hugo full"),
            ("config_feeds_all.yaml", "Hugo, home feeds (50 items), cold", "Hugo feeds"),
        ):
            row = self.add(Row(scenario, articles(size)))
            feedpub.versus.append((label, row))
            if config == "config_full.yaml":
                self.hugo_full[size] = row
            if peers.hugo is None:
                row.missing = "not installed"
                continue
            command = [
                peers.hugo, "--quiet", "--source", str(hugo_site), "--config", config,
                "--contentDir", str(corpus), "--destination", str(out), "--cacheDir", str(cache),
            ]  # fmt: skip
            series(
                row,
                self.runs,
                command,
                self.logs / f"hugo-{size}.log",
                before=lambda _: self.trash.discard(out, cache, hugo_site / "resources"),
                env=hugo_env,
            )
        row = self.add(Row("Pelican, feeds (50 items), cold", articles(size)))
        feedpub.versus.append(("Pelican feeds", row))
        if not peers.pelican:
            row.missing = "not installed"
        else:
            pelican_env = {
                **os.environ, "CORPUS": str(corpus), "OUT": str(out), "PERF_MODE": "feeds",
                "FEED_MAX": FEED_LIMIT,
            }  # fmt: skip
            series(
                row,
                self.runs,
                [*script("pelican"), "-q", "-s", str(peers.folder / "pelican" / "pelicanconf.py")],
                self.logs / f"pelican-{size}.log",
                before=lambda _: self.trash.discard(out),
                env=pelican_env,
            )
        self.trash.discard(out, cache)

    def rebuilds(self, focus: int) -> None:
        for size in self.sizes:
            if size not in (focus, BIG_SIZE):
                continue
            site = self.site(size)
            row = self.add(Row("feedpub build, nothing changed", articles(size)))
            if size in self.hugo_full:
                row.versus.append(("Hugo full", self.hugo_full[size]))
            series(row, self.runs, self.build(site), self.logs / f"rebuild-{size}.log")
            if size != focus:
                continue
            corpus = Corpus(self.workdir, size, self.generator)
            try:
                for scenario, change in (
                    ("feedpub build, one article edited", corpus.edit),
                    ("feedpub build, one article added", corpus.add),
                ):
                    series(
                        self.add(Row(scenario, articles(size))),
                        self.runs,
                        self.build(site),
                        self.logs / f"rebuild-{size}.log",
                        before=change,
                    )
            finally:
                corpus.restore()

    def preview(self, size: int) -> None:
        corpus = self.corpus(size)
        site = write_site(self.site(size), corpus.folder, NEWSLETTER_TOML)
        progress(f"bringing the site of {size:,} articles up to date for the preview")
        run(self.build(site), self.logs / f"preview-{size}.log")
        eml = site / ".feedpub" / "preview" / "issue-1.eml"

        def previewed() -> None:
            if not eml.is_file():
                raise BenchError(f"feedpub issue preview wrote no {eml}")

        series(
            self.add(Row("feedpub issue preview", articles(size))),
            self.runs,
            [*self.feedpub, "--site", str(site), "-q", "issue", "preview", "--now", NOW],
            self.logs / f"preview-{size}.log",
            before=lambda _: remove(eml),
            after=previewed,
        )
        # The next bench starts the builds from the minimal settings again.
        write_site(site, corpus.folder)

    # --- sending

    def sending(self) -> None:
        if importlib.util.find_spec("aiosmtpd") is None:
            for count in self.subscribers:
                self.add(Row("feedpub send", f"{count:,} subscribers", missing="no aiosmtpd"))
            return
        corpus = self.corpus(SEND_CORPUS)
        site = self.workdir / "sites" / "send"
        with smtp_server() as server:
            message = self.prepare_send(site, corpus.folder, server)
            for count in self.subscribers:
                self.send(site, corpus.folder, server, count, message)

    def feedpub_at(self, site: Path, *arguments: str) -> list[str]:
        return [*self.feedpub, "--site", str(site), "-q", *arguments]

    def prepare_send(self, site: Path, corpus: Path, server: SmtpServer) -> Path:
        """Per subscriber count, the state right after 'feedpub issue new'; and the message
        of the smtplib loop: the bytes feedpub sends to the first subscriber."""
        write_site(site, corpus, NEWSLETTER_TOML + self.smtp_toml(server, 1))
        for count in self.subscribers:
            progress(f"preparing an issue for {count:,} subscribers")
            clean_site(site)
            addresses = self.workdir / f"subscribers-{count}.txt"
            addresses.write_text(
                "".join(f"reader{index:06d}@example.com\n" for index in range(count)),
                encoding="utf-8",
            )
            log = self.logs / "send-prepare.log"
            run(self.feedpub_at(site, "subscribers", "import", str(addresses)), log)
            run(self.feedpub_at(site, "issue", "new", "--now", NOW), log)
            saved = self.state_copy(count)
            remove(saved)
            shutil.copytree(site / ".feedpub", saved)
        # Without [smtp], 'feedpub send' writes each message to the outbox as it would send it.
        remove(site / ".feedpub")
        shutil.copytree(self.state_copy(min(self.subscribers)), site / ".feedpub")
        write_site(site, corpus, NEWSLETTER_TOML)
        run(self.feedpub_at(site, "send", "--now", NOW), self.logs / "send-prepare.log")
        sent = site / ".feedpub" / "outbox" / "1" / "reader000000@example.com.eml"
        message = self.workdir / "issue.eml"
        shutil.copyfile(sent, message)
        return message

    def state_copy(self, count: int) -> Path:
        return self.workdir / "states" / f"send-{count}"

    def smtp_toml(self, server: SmtpServer, connections: int) -> str:
        toml = SMTP_TOML.format(host=HOST, port=server.port, connections=connections)
        if not self.dkim:
            return toml
        key = self.workdir / "dkim.pem"
        if not key.exists():
            # 2048 bits, the size a site would use (openssl genrsa's default).
            run(["openssl", "genrsa", "-out", str(key), "2048"], self.logs / "dkim-key.log")
        return toml + DKIM_TOML.format(key=key)

    def send(self, site: Path, corpus: Path, server: SmtpServer, count: int, message: Path) -> None:
        size = f"{count:,} subscribers"
        before_count = 0

        def fresh(_: int) -> None:
            nonlocal before_count
            remove(site / ".feedpub")
            shutil.copytree(self.state_copy(count), site / ".feedpub")
            before_count = server.received.value

        def delivered() -> None:
            got = server.received.value - before_count
            if got != count:
                raise BenchError(f"the server received {got} messages, not {count}")

        ceiling = Row("smtplib loop, 1 connection (ceiling)", size)
        for connections in CONNECTIONS:
            write_site(site, corpus, NEWSLETTER_TOML + self.smtp_toml(server, connections))
            row = Row(f"feedpub send, {connections} connection{'s' * (connections > 1)}", size)
            row.versus.append(("smtplib loop", ceiling))
            series(
                self.add(row),
                self.runs,
                self.feedpub_at(site, "send", "--now", NOW),
                self.logs / f"send-{count}.log",
                before=fresh,
                after=delivered,
            )
        command = [
            sys.executable, str(BENCH / "smtp_ceiling.py"), HOST, str(server.port), str(message),
            str(count),
        ]  # fmt: skip
        series(
            self.add(ceiling),
            self.runs,
            command,
            self.logs / f"ceiling-{count}.log",
            before=fresh,
            after=delivered,
        )

    def all(self) -> None:
        try:
            for size in self.sizes:
                self.cold_build(size)
            focus = FOCUS_SIZE if FOCUS_SIZE in self.sizes else max(self.sizes)
            self.rebuilds(focus)
            self.preview(focus)
            if not self.skip_send:
                self.sending()
        finally:
            progress(f"deleting the output of {self.trash.count} cold runs")
            self.trash.empty()


# --- the table -----------------------------------------------------------------------------


def mebibytes(kib: int) -> str:
    return f"{kib / 1024 / 1024:.2f} GiB" if kib >= 1024 * 1024 else f"{kib / 1024:.0f} MiB"


def duration(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def ratios(row: Row) -> str:
    parts = []
    for label, other in row.versus:
        if other.samples:
            parts.append(f"{row.seconds / other.seconds:.2f}x {label}")
        else:
            parts.append(f"{label}: {other.missing}")
    return "; ".join(parts)


def table(rows: Sequence[Row]) -> str:
    lines = [
        "| Scenario | Size | Runs | Median time | Peak memory | Time ÷ other's |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        if row.samples:
            cells = [str(len(row.samples)), duration(row.seconds), mebibytes(row.peak_kib)]
        else:
            cells = ["0", row.missing, "—"]
        lines.append(f"| {row.scenario} | {row.size} | {' | '.join(cells)} | {ratios(row)} |")
    return "\n".join(lines)


def source() -> str:
    """The measured feedpub: its commit, whether feedpub/ differs from it, and a digest of its
    files, which tells whether they changed while the bench ran."""
    git = ["git", "-C", str(REPO)]
    commit = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    changed = subprocess.run(
        [*git, "status", "--porcelain", "--", "feedpub"], capture_output=True, text=True,
        check=False,
    ).stdout.strip()  # fmt: skip
    spec = importlib.util.find_spec("feedpub")
    digest = hashlib.sha256()
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return (
        f"commit {commit or '?'}"
        + (" with uncommitted changes in feedpub/" if changed else "")
        + f", files {digest.hexdigest()[:10]}"
    )


def describe(
    bench: Bench, command: str, seconds: float, sources: tuple[str, str], loads: tuple[float, float]
) -> str:
    measured = sources[0]
    if sources[1] != sources[0]:
        measured += (
            f"; at the end {sources[1]}. **feedpub changed during the run: its rows mix the two "
            "versions**"
        )
    peers = "peers skipped"
    if bench.peers is not None:
        hugo = bench.peers.hugo_version or "Hugo not installed"
        pelican = bench.peers.pelican_version or "not installed"
        peers = f"{hugo}, Pelican {pelican}"
    return (
        f"`{command}`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: feedpub "
        f"{metadata.version('feedpub')} ({measured}), Python {platform.python_version()}, "
        f"{platform.system()} on {os.cpu_count()} CPUs; {peers}. Load average "
        f"{loads[0]:.1f} at the start, {loads[1]:.1f} at the end; the whole run took "
        f"{seconds / 60:.1f} min.\n\n"
        "Median wall time of the runs; peak memory is the largest max RSS of the measured process "
        "over the runs; the last column divides this row's median time by the other's (above 1: "
        "slower). Hugo's feeds hold 50 items, as feedpub's and Pelican's do.\n"
    )


# --- the command line ----------------------------------------------------------------------


def numbers(text: str) -> list[int]:
    try:
        values = sorted({int(part.replace("_", "")) for part in text.split(",") if part})
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list like 1000,10000") from None
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError("give positive numbers, like 1000,10000")
    return values


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return int(text)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python bench/run.py",
        description="Measure feedpub (builds, preview, sending) against Hugo, Pelican and a "
        "bare smtplib loop; print a Markdown table and write it to bench/results.md.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="sizes 1,000 and 10,000 only (no 100,000)"
    )
    parser.add_argument(
        "--sizes", type=numbers, help="articles in each corpus (default 1000,10000,100000)"
    )
    parser.add_argument("--runs", type=positive, default=3, help="runs of each row (default 3)")
    parser.add_argument(
        "--subscribers",
        type=numbers,
        default=list(SUBSCRIBERS),
        help="subscriber counts for the send rows (default 1000,10000)",
    )
    parser.add_argument("--skip-peers", action="store_true", help="measure no Hugo, no Pelican")
    parser.add_argument("--skip-send", action="store_true", help="no SMTP server, no send rows")
    parser.add_argument("--dkim", action="store_true", help="the send rows DKIM-sign every message")
    parser.add_argument(
        "--peers",
        type=Path,
        default=REPO.parent / "shared" / "peers",
        help="the peers' configurations (default ../shared/peers from the repository)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "feedpub-bench",
        help="corpora, sites and outputs, kept between runs (default /tmp/feedpub-bench)",
    )
    args = parser.parse_args(argv)
    if args.sizes is None:
        args.sizes = list(QUICK_SIZES if args.quick else FULL_SIZES)
    args.workdir = args.workdir.resolve()
    args.peers = args.peers.resolve()
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    command = shlex.join(["python", "bench/run.py", *(sys.argv[1:] if argv is None else argv)])
    load, started = os.getloadavg()[0], source()
    try:
        bench = Bench(args)
        bench.all()
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - STARTED
    text = table(bench.rows)
    # bench/web.py's section (the web app under load) is measured apart: it stays.
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    _, web, rest = old.partition("\n## The web app\n")
    RESULTS.write_text(
        "# Benchmark results\n\n"
        + describe(bench, command, seconds, (started, source()), (load, os.getloadavg()[0]))
        + "\n"
        + text
        + "\n"
        + (web + rest if web else ""),
        encoding="utf-8",
    )
    print(text)
    progress(f"done in {seconds / 60:.1f} min; the table is also in {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
