"""Measure `feedpub inbox --maildir` over a Maildir of mixed messages that come back: wall time
and peak memory at 1,000 and 10,000 messages (the target: under 10 s for 10,000 on this
machine, memory flat as the Maildir grows).

    python bench/inbox.py [--sizes 1000,10000] [--runs 3] [--workdir DIR] [--no-write]

A site is made in a temporary folder (or --workdir) with 10,000 active subscribers and issue 1,
and a Maildir per size is generated once: Postfix DSNs (40% hard, 20% soft, given up after the
queue's lifetime), qmail failure notices (5%, read by flufl.bounce), ARF complaints (10%),
mails to the unsubscribe address (10%), out-of-office replies (10%) and messages that are
none of these (5%), each about another reader through their VERP address. Each run starts
from a copy of the state as it was before any message was read and a fresh Maildir of hard
links to the generated messages, and runs ``feedpub inbox`` (the script beside this
interpreter) through bench/child.py, which reads its wall time and peak RSS.

The table goes to stdout and replaces the section "## The inbox" of bench/results.md;
progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results.md"
SECTION = "## The inbox"
FEEDPUB = Path(sys.executable).parent / "feedpub"
READERS = 10_000
TARGET_SECONDS = 10.0

SITE_TOML = """\
[site]
title = "Bench"
url = "https://blog.example.com/"
timezone = "UTC"

[newsletter]
from = "Bench <news@blog.example.com>"
schedule = "manual"

[smtp]
bounce_address = "bounces@blog.example.com"
"""
ARTICLE = "---\ntitle: One\ndate: 2026-11-20 09:00\n---\n\nA body.\n"


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def make_site(folder: Path) -> list[tuple[str, str, str]]:
    """The site, its readers and issue 1; (address, bounce address, unsubscribe address)."""
    from feedpub import config
    from feedpub.delivery import verp
    from feedpub.delivery.identity import list_id
    from feedpub.delivery.subscribers import Subscribers
    from feedpub.delivery.tokens import load_secret
    from feedpub.store.state import State

    (folder / "content").mkdir(parents=True)
    (folder / "content" / "one.md").write_text(ARTICLE, encoding="utf-8")
    (folder / "feedpub.toml").write_text(SITE_TOML, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDPUB_")}
    subprocess.run(
        [str(FEEDPUB), "--site", str(folder), "-q", "issue", "new", "--now", "2026-11-27"],
        check=True,
        env=env,
    )
    site = config.load(folder, env={})
    secret = load_secret(site.state_dir)
    ident = list_id(site)
    now = datetime(2026, 11, 27, tzinfo=UTC)
    with State.open(site.state_dir) as state:
        with state.transaction():
            book = Subscribers(state)
            for i in range(READERS):
                book.add(f"reader{i:06}@example.net", f"Reader {i}", now)
        readers = []
        for who in state.subscribers.iter("active"):
            bounce = verp.make(secret, ident, "b", who.token_key, 1)
            leave = verp.make(secret, ident, "u", who.token_key, 1)
            readers.append(
                (
                    who.email,
                    f"bounces+{bounce}@blog.example.com",
                    f"unsubscribe+{leave}@blog.example.com",
                )
            )
    return readers


def _original(recipient: str, sender: str) -> str:
    return (
        f"Return-Path: <{sender}>\r\nFrom: Bench <news@blog.example.com>\r\nTo: {recipient}\r\n"
        "Subject: Bench #1: One\r\nList-Id: Bench <bench.blog.example.com>\r\n\r\n"
    )


def dsn(serial: int, recipient: str, to: str, status: str) -> bytes:
    boundary = f"B{serial:06}.1764580000/mx.example.net"
    return (
        f"Return-Path: <>\r\nDelivered-To: {to}\r\n"
        f"Date: Fri, 27 Nov 2026 12:00:00 +0100\r\n"
        "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\nTo: {to}\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        f"Message-Id: <{serial}.bounce@mx.example.net>\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        "This is the mail system at host mx.example.net.\r\n\r\n"
        f"<{recipient}>: host mail.example.net said: 550 {status} User unknown\r\n\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nOriginal-Recipient: rfc822;{recipient}\r\n"
        f"Action: failed\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} <{recipient}>: User unknown\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"{_original(recipient, to)}--{boundary}--\r\n"
    ).encode()


def qmail(serial: int, recipient: str, to: str) -> bytes:
    return (
        f"Return-Path: <>\r\nDelivered-To: {to}\r\nFrom: MAILER-DAEMON@mx{serial}.example.net\r\n"
        f"To: {to}\r\nSubject: failure notice\r\nDate: Fri, 27 Nov 2026 12:00:00 +0000\r\n\r\n"
        f"Hi. This is the qmail-send program at mx{serial}.example.net.\r\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\r\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\r\n\r\n"
        f"<{recipient}>:\r\nSorry, no mailbox here by that name. (#5.1.1)\r\n\r\n"
        "--- Below this line is a copy of the message.\r\n\r\n"
        f"{_original(recipient, to)}A body.\r\n"
    ).encode()


def arf(serial: int, recipient: str, to: str) -> bytes:
    boundary = f"ARF{serial}"
    return (
        f"From: feedback@arf.mail.example.com\r\nTo: {to}\r\nSubject: Abuse report\r\n"
        "Date: Fri, 27 Nov 2026 13:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=feedback-report; boundary="{boundary}"\r\n'
        f"\r\n--{boundary}\r\nContent-Type: text/plain\r\n\r\nAn abuse report.\r\n\r\n"
        f"--{boundary}\r\nContent-Type: message/feedback-report\r\n\r\n"
        f"Feedback-Type: abuse\r\nUser-Agent: Bench/1.0\r\nVersion: 1\r\n"
        f"Original-Rcpt-To: <{recipient}>\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"{_original(recipient, to)}--{boundary}--\r\n"
    ).encode()


def unsubscribe(serial: int, recipient: str, to: str) -> bytes:
    return (
        f"From: {recipient}\r\nTo: {to}\r\nSubject: unsubscribe\r\n"
        f"Message-ID: <u{serial}@example.net>\r\nDate: Fri, 27 Nov 2026 14:00:00 +0100\r\n\r\n"
        "unsubscribe\r\n"
    ).encode()


def away(serial: int, recipient: str, to: str) -> bytes:
    return (
        f"From: {recipient}\r\nTo: {to}\r\nSubject: Out of office: Bench #1\r\n"
        f"Auto-Submitted: auto-replied\r\nMessage-ID: <a{serial}@example.net>\r\n\r\n"
        "Back on Monday.\r\n"
    ).encode()


def other(serial: int, recipient: str, to: str) -> bytes:
    return f"From: {recipient}\r\nTo: {to}\r\nSubject: a question {serial}\r\n\r\nHi!\r\n".encode()


Maker = Callable[[int, str, str, str], bytes]
MIX: list[tuple[int, Maker]] = [
    (40, lambda n, who, b, u: dsn(n, who, b, "5.1.1")),
    (20, lambda n, who, b, u: dsn(n, who, b, "4.2.2")),
    (5, lambda n, who, b, u: qmail(n, who, b)),
    (10, lambda n, who, b, u: arf(n, who, b)),
    (10, lambda n, who, b, u: unsubscribe(n, who, u)),
    (10, lambda n, who, b, u: away(n, who, b)),
    (5, lambda n, who, b, u: other(n, who, b)),
]


def make_maildir(folder: Path, size: int, readers: list[tuple[str, str, str]]) -> None:
    """``size`` messages in ``folder/new``, each about another reader, in a shuffled mix."""
    for part in ("new", "cur", "tmp"):
        (folder / part).mkdir(parents=True)
    makers = [maker for share, maker in MIX for _ in range(share)]
    pick = random.Random(size)
    for n in range(size):
        email, bounce, leave = readers[n % len(readers)]
        data = pick.choice(makers)(n, email, bounce, leave)
        (folder / "new" / f"1764580{n:06}.M{n}P1.mx.example.net").write_bytes(data)


def measure(
    site: Path, pristine: Path, maildir: Path, scratch: Path
) -> tuple[float, float, int, str]:
    """One run from the pristine state over a fresh copy of ``maildir``: (seconds, CPU
    seconds, peak KiB, the command's report line)."""
    shutil.rmtree(site / ".feedpub")
    shutil.copytree(pristine, site / ".feedpub")
    fresh = scratch / "Maildir"
    shutil.rmtree(fresh, ignore_errors=True)
    for part in ("new", "cur", "tmp"):
        (fresh / part).mkdir(parents=True)
    for path in (maildir / "new").iterdir():
        os.link(path, fresh / "new" / path.name)
    result, out = scratch / "result.json", scratch / "out.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDPUB_")}
    command = [str(FEEDPUB), "--site", str(site), "inbox", "--maildir", str(fresh)]
    with out.open("wb") as stdout:
        subprocess.run(
            [sys.executable, str(BENCH / "child.py"), str(result), *command],
            stdout=stdout,
            check=True,
            env=env,
        )
    sample = json.loads(result.read_text(encoding="utf-8"))
    line = out.read_text(encoding="utf-8").strip().splitlines()[-1]
    if sample["exit"] != 0:
        raise SystemExit(f"feedpub inbox exited {sample['exit']}: {line}")
    return float(sample["seconds"]), float(sample["cpu_seconds"]), int(sample["peak_kib"]), line


def run(args: argparse.Namespace, work: Path) -> tuple[list[str], list[str]]:
    """The table's rows, and what each size's last run reported."""
    progress(f"making a site with {READERS:,} readers in {work}")
    site = work / "site"
    readers = make_site(site)
    pristine = work / "pristine"
    shutil.copytree(site / ".feedpub", pristine)
    rows: list[str] = []
    lines: list[str] = []
    for size in args.sizes:
        maildir = work / f"maildir-{size}"
        progress(f"generating {size:,} messages")
        make_maildir(maildir, size, readers)
        samples = []
        for number in range(args.runs):
            seconds, cpu, peak, line = measure(site, pristine, maildir, work)
            progress(
                f"{size:,} messages, run {number + 1}: {seconds:.2f} s ({cpu:.2f} s of CPU), "
                f"{peak / 1024:.0f} MiB, load {os.getloadavg()[0]:.1f}"
            )
            samples.append((seconds, cpu, peak, line))
        median = statistics.median(s for s, _, _, _ in samples)
        cpu = statistics.median(c for _, c, _, _ in samples)
        peak = max(p for _, _, p, _ in samples)
        met = "met" if median < TARGET_SECONDS else "missed"
        target = f"< {TARGET_SECONDS:g} s: {met}" if size >= 10_000 else ""
        rows.append(
            f"| {size:,} | {args.runs} | {median:.2f} s | {cpu:.2f} s | {size / median:,.0f}/s | "
            f"{peak / 1024:.0f} MiB | {target} |"
        )
        lines.append(f"- {size:,}: `{samples[-1][3]}`")
    return rows, lines


def section(
    args: argparse.Namespace, found: tuple[list[str], list[str]], loads: tuple[float, float]
) -> str:
    from importlib import metadata

    command = "python bench/inbox.py" + "".join(f" {a}" for a in sys.argv[1:])
    commit = subprocess.run(
        ["git", "-C", str(BENCH), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return (
        f"{SECTION}\n\n"
        f"`{command}`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: feedpub "
        f"{metadata.version('feedpub')} (commit {commit or 'unknown'}), flufl.bounce "
        f"{metadata.version('flufl.bounce')}, Python {platform.python_version()}, "
        f"{platform.system()} on {os.cpu_count()} CPUs; load average {loads[0]:.1f} at the "
        f"start, {loads[1]:.1f} at the end. `feedpub inbox --maildir` over a Maildir of mixed "
        "messages (40% hard and 20% soft DSNs, 5% qmail notices, 10% ARF complaints, 10% "
        "unsubscribes, 10% out-of-office, 5% other), each about another of 10,000 readers, "
        "from the state before any was read; every message classified, acted on and moved. "
        "Median wall time and CPU time (user and system, the classifying processes' included) "
        "of the runs; peak memory is the largest max RSS.\n\n"
        "| Messages | Runs | Median time | CPU time | Messages/s | Peak memory | Target |\n"
        "| ---: | ---: | ---: | ---: | ---: | ---: | --- |\n" + "\n".join(found[0]) + "\n\n"
        "What the last run of each size printed:\n\n" + "\n".join(found[1]) + "\n"
    )


def write_results(text: str) -> None:
    """Replace this bench's section of bench/results.md, keeping everything else."""
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    head, found, tail = old.partition(f"\n{SECTION}\n")
    _, heading, after = tail.partition("\n## ")
    rest = ("\n## " + after) if found and heading else ""
    RESULTS.write_text(head.rstrip("\n") + "\n\n" + text + rest, encoding="utf-8")


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=lambda v: [int(n) for n in v.split(",")],
        default=[1000, 10000],
        help="messages per Maildir, comma-separated",
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of each size")
    parser.add_argument("--workdir", type=Path, help="the bench's folder (default: a new one)")
    parser.add_argument(
        "--no-write", action="store_true", help="print the table; leave results.md alone"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    before = os.getloadavg()[0]
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=False)
        found = run(args, args.workdir.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="feedpub-inbox-bench-") as folder:
            found = run(args, Path(folder))
    text = section(args, found, (before, os.getloadavg()[0]))
    print(text)
    if not args.no_write:
        write_results(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
