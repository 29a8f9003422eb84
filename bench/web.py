"""Measure the web app under waitress: POST /subscribe and GET /manage (and GET /subscribe, the
page alone) at 20 concurrent clients, with the state's SQLite writes, on this machine.

    python bench/web.py [--seconds 10] [--clients 20] [--subscribers 1000] [--no-write]

A site is made in a temporary folder (or --workdir) with --subscribers active readers, and
``feedpub serve`` (the ``feedpub`` script beside this interpreter) runs it as a child process
on 127.0.0.1. Each scenario then runs for --seconds: every client thread keeps one HTTP/1.1
connection and sends its next request as soon as the last is answered. A sign-up is a new
address each time, so each one is a real insert with its consent record and its confirmation
queued (mail goes to the outbox folder: no relay, but the web process's sender writes every
message as it would hand it to one). The per-client limit is raised for the run, since every
request comes from 127.0.0.1; everything else is as configured by default.

The table goes to stdout and replaces the section "## The web app" of bench/results.md
(bench/run.py keeps that section when it rewrites the file); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results.md"
SECTION = "## The web app"
HOST = "127.0.0.1"
FEEDPUB = Path(sys.executable).parent / "feedpub"
WARM_UP = 1.0  # seconds of each scenario not counted: connections opened, caches warm
# The issue's targets (issue 15's "Bench" item), shown beside the figures.
TARGETS = {"page": 200.0, "sign-up": 100.0}
P99_TARGET_MS = 100.0

SITE_TOML = """\
[site]
title = "Bench"
url = "https://blog.example.com/"
timezone = "UTC"

[newsletter]
from = "Bench <news@blog.example.com>"
schedule = "manual"

[web]
url = "http://{host}:{port}/"
# Every bench request comes from one address; the default (10 an hour) would refuse all but
# the first ten.
signups_per_hour = 100000
"""


class BenchError(Exception):
    """The bench could not run (the server did not start, a request failed)."""


@dataclass
class Outcome:
    """One scenario's requests: latencies (seconds) of those answered as expected."""

    name: str
    kind: str  # "page" or "sign-up", for the target
    clients: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: int) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else 0.0
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1]


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def make_site(folder: Path, port: int, readers: int) -> list[str]:
    """The bench site with ``readers`` active subscribers; their manage links' query strings."""
    from feedpub import config
    from feedpub.delivery import tokens
    from feedpub.delivery.messages import list_id
    from feedpub.delivery.subscribers import Subscribers
    from feedpub.store.state import State

    (folder / "content").mkdir(parents=True, exist_ok=True)
    (folder / "feedpub.toml").write_text(SITE_TOML.format(host=HOST, port=port), encoding="utf-8")
    site = config.load(folder, env={})
    now = datetime.now(UTC)
    secret = tokens.load_secret(site.state_dir)
    queries = []
    with State.open(site.state_dir) as state:
        with state.transaction():
            book = Subscribers(state, secret)
            for i in range(readers):
                book.add(f"reader{i:06}@example.net", f"Reader {i}", now)
        ident = list_id(site)
        for subscriber in state.subscribers.iter("active"):
            token = tokens.make(secret, ident, "m", subscriber.token_key)
            queries.append(urllib.parse.urlencode({"t": token}))
    return queries


class Server:
    """``feedpub serve`` as a child process, its log in a file (a pipe would fill up)."""

    def __init__(self, folder: Path, port: int) -> None:
        self.log = folder / "serve.log"
        self.out = folder / "serve.out"
        env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDPUB_")}
        with self.log.open("wb") as err, self.out.open("wb") as out:
            self.process = subprocess.Popen(
                [str(FEEDPUB), "--site", str(folder), "serve", "--port", str(port)],
                stdout=out,
                stderr=err,
                env=env,
            )
        deadline = time.monotonic() + 60
        while b"Serving http://" not in self.out.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"feedpub serve did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


Request = Callable[[int], tuple[str, str, bytes, dict[str, str]]]


def scenario(
    outcome: Outcome,
    port: int,
    seconds: float,
    request: Request,
    expect: int = 200,
    rate: float | None = None,
) -> Outcome:
    """Run ``request`` (client number -> method, path, body, headers) from ``outcome.clients``
    threads for ``seconds`` after the warm-up; latencies of the answers counted.

    Without ``rate`` each client sends its next request when the last is answered (the most
    the server can answer: a latency is then mostly the wait behind the other clients). With
    ``rate`` (requests a second, all clients together) each client sends on a fixed schedule,
    and a latency is counted from the moment the request was due, not from when a client late
    behind a slow answer got to send it: the waiting is counted too."""
    start = time.monotonic()
    counting = start + WARM_UP
    stop = counting + seconds
    lock = threading.Lock()
    every = outcome.clients / rate if rate else 0.0

    def client(number: int) -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=60)
        kept: list[float] = []
        errors: dict[str, int] = {}
        due = start + every * number / outcome.clients  # spread over the first interval
        while True:
            if every:
                time.sleep(max(0.0, due - time.monotonic()))
            began = due if every else time.monotonic()
            due += every
            if began >= stop:
                break
            method, path, body, headers = request(number)
            try:
                connection.request(method, path, body=body or None, headers=headers)
                answer = connection.getresponse()
                answer.read()
                status = str(answer.status)
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                connection.close()
                connection = http.client.HTTPConnection(HOST, port, timeout=60)
            ended = time.monotonic()
            if began < counting:
                continue
            if status == str(expect):
                kept.append(ended - began)
            else:
                errors[status] = errors.get(status, 0) + 1
        connection.close()
        with lock:
            outcome.latencies.extend(kept)
            for status, count in errors.items():
                outcome.errors[status] = outcome.errors.get(status, 0) + count

    threads = [threading.Thread(target=client, args=(n,)) for n in range(outcome.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcome.seconds = seconds
    return outcome


def run(args: argparse.Namespace, folder: Path) -> tuple[list[Outcome], Drain]:
    port = free_port()
    progress(f"making a site with {args.subscribers:,} subscribers in {folder}")
    queries = make_site(folder, port, args.subscribers)
    server = Server(folder, port)
    outcomes = []
    try:
        progress(f"GET /subscribe, {args.clients} clients, {args.seconds:g} s")
        outcomes.append(
            scenario(
                Outcome("GET /subscribe", "page", args.clients),
                port,
                args.seconds,
                lambda n: ("GET", "/subscribe", b"", {}),
            )
        )
        progress(f"GET /manage, {args.clients} clients, {args.seconds:g} s")
        outcomes.append(
            scenario(
                Outcome("GET /manage?t=...", "page", args.clients),
                port,
                args.seconds,
                lambda n: ("GET", "/manage?" + random.choice(queries), b"", {}),
            )
        )
        sent = iter(range(10**9))
        taken = threading.Lock()

        def sign_up(n: int) -> tuple[str, str, bytes, dict[str, str]]:
            with taken:
                number = next(sent)
            body = urllib.parse.urlencode(
                {"email": f"new{number:07}@example.org", "name": f"New {number}"}
            ).encode()
            return (
                "POST",
                "/subscribe",
                body,
                {"Content-Type": "application/x-www-form-urlencoded"},
            )

        pace = TARGETS["sign-up"]
        progress(f"POST /subscribe, {args.clients} clients, {pace:.0f}/s, {args.seconds:g} s")
        outcomes.append(
            scenario(
                Outcome(f"POST /subscribe at {pace:.0f}/s", "sign-up", args.clients),
                port,
                args.seconds,
                sign_up,
                rate=pace,
            )
        )
        drained(folder)  # its confirmations sent before the next row
        progress(f"POST /subscribe, {args.clients} clients, {args.seconds:g} s")
        outcomes.append(
            scenario(
                Outcome("POST /subscribe (new address)", "sign-up", args.clients),
                port,
                args.seconds,
                sign_up,
            )
        )
        progress("waiting for the sender thread to write every confirmation")
        drain = drained(folder)
    finally:
        server.stop()
    if "Traceback" in server.log.read_text(encoding="utf-8", errors="replace"):
        raise BenchError(f"the server logged a traceback; see {server.log}")
    return outcomes, drain


@dataclass
class Drain:
    """The mail queue once the sign-ups stop: confirmations still owed then, and how long the
    server's sender took to write them all."""

    owed: int
    sent: int
    seconds: float


def owed(folder: Path) -> tuple[int, int]:
    """(confirmations pending, sent), read as another process would."""
    import sqlite3

    db = sqlite3.connect(f"file:{folder / '.feedpub' / 'state.db'}?mode=ro", uri=True, timeout=30)
    try:
        rows = dict(db.execute("SELECT status, count(*) FROM outgoing GROUP BY status").fetchall())
    finally:
        db.close()
    return int(rows.get("pending", 0) + rows.get("sending", 0)), int(rows.get("sent", 0))


def drained(folder: Path, limit: float = 600) -> Drain:
    began = time.monotonic()
    pending, _ = owed(folder)
    while True:
        left, sent = owed(folder)
        if not left:
            return Drain(pending, sent, time.monotonic() - began)
        if time.monotonic() - began > limit:
            raise BenchError(f"{left} confirmations still owed after {limit:g} s")
        time.sleep(0.1)


def table(outcomes: Sequence[Outcome]) -> str:
    lines = [
        "| Requests | Clients | Answered | Requests/s | p50 | p99 | max | Errors | Target |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for o in outcomes:
        errors = ", ".join(f"{count} x {status}" for status, count in sorted(o.errors.items()))
        target = TARGETS[o.kind]
        met = o.rate >= target and o.percentile(99) * 1000 < P99_TARGET_MS
        top = max(o.latencies, default=0.0)
        lines.append(
            f"| {o.name} | {o.clients} | {len(o.latencies):,} | {o.rate:.0f} "
            f"| {o.percentile(50) * 1000:.1f} ms | {o.percentile(99) * 1000:.1f} ms "
            f"| {top * 1000:.0f} ms | {errors or 'none'} "
            f"| {target:.0f}/s, p99 < {P99_TARGET_MS:.0f} ms: {'met' if met else 'missed'} |"
        )
    return "\n".join(lines)


def commit() -> str:
    done = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "unknown"


def drain_text(drain: Drain) -> str:
    pace = drain.owed / drain.seconds if drain.seconds else 0.0
    return (
        f"When the sign-ups stopped, {drain.owed:,} of the {drain.sent:,} confirmations were "
        f"still in the mail queue (no HTTP answer waits for its mail); the server's "
        f"sender thread had written them all to the outbox {drain.seconds:.1f} s later "
        f"({pace:.0f} a second)."
    )


def section(args: argparse.Namespace, text: str, loads: tuple[float, float]) -> str:
    from importlib import metadata

    command = "python bench/web.py" + "".join(f" {a}" for a in sys.argv[1:])
    return (
        f"{SECTION}\n\n"
        f"`{command}`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: feedpub "
        f"{metadata.version('feedpub')} (commit {commit()}), waitress "
        f"{metadata.version('waitress')}, Python {platform.python_version()}, "
        f"{platform.system()} on {os.cpu_count()} CPUs; load average {loads[0]:.1f} at the "
        f"start, {loads[1]:.1f} at the end. {args.subscribers:,} subscribers; each row "
        f"{args.seconds:g} s after {WARM_UP:g} s of warm-up, every client one keep-alive "
        "connection sending its next request when the last is answered; the clients run in "
        "one process on the same machine, so they take part of its two cores. A sign-up is a "
        "new address each time: a transaction inserting the subscriber (pending, with its "
        "consent record), the rate-limit hits and its confirmation in the mail queue, which "
        "the server's sender thread then writes to the outbox ([smtp] unset).\n\n"
        f"{text}\n"
    )


def write_results(text: str) -> None:
    """Replace this bench's section of bench/results.md, keeping everything else."""
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    head, found, tail = old.partition(f"\n{SECTION}\n")
    # The sections after it are other benches' (bench/inbox.py's): they stay.
    _, heading, after = tail.partition("\n## ")
    rest = ("\n## " + after) if found and heading else ""
    RESULTS.write_text(head.rstrip("\n") + "\n\n" + text + rest, encoding="utf-8")


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="counted time per row")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients")
    parser.add_argument("--subscribers", type=int, default=1000, help="active readers")
    parser.add_argument("--workdir", type=Path, help="the site's folder (default: a new one)")
    parser.add_argument(
        "--no-write", action="store_true", help="print the table; leave results.md alone"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    before = os.getloadavg()[0]
    try:
        if args.workdir is not None:
            args.workdir.mkdir(parents=True, exist_ok=False)
            outcomes, drain = run(args, args.workdir.resolve())
        else:
            with tempfile.TemporaryDirectory(prefix="feedpub-bench-web-") as folder:
                outcomes, drain = run(args, Path(folder))
    except (BenchError, FileExistsError) as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    text = table(outcomes) + "\n\n" + drain_text(drain)
    print(text)
    if not args.no_write:
        write_results(section(args, text, (before, os.getloadavg()[0])))
        progress(f"the table is also in {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
