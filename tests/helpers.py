"""What the test files share that is not a fixture: the fixed clock, small sites, the CLI
called in-process and as a child, the aiosmtpd relay's handler and the state read back.

Test files import from here (fixtures come from conftest.py), never from one another."""

from __future__ import annotations

import asyncio
import email
import email.policy
import html
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from click.testing import CliRunner, Result
from hypothesis import settings

from feedpub import config
from feedpub.cli import main
from feedpub.config import Site
from feedpub.delivery.subscribers import Subscribers
from feedpub.errors import Problem
from feedpub.newsletter.issues import create
from feedpub.site.build import BuildReport, build, load_catalog
from feedpub.store.issues import IssueRecord
from feedpub.store.state import State

REPO = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Europe/Berlin")
# A fixed clock for everything that depends on the time.
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=TZ)
NOW_ARG = NOW.isoformat()  # Friday 2026-11-27 12:00 in Berlin

SETTINGS = """\
[site]
title = "Test Gazette"
url = "https://news.example.org/"
description = "A site for tests"
language = "en"
timezone = "Europe/Berlin"
author = "Desk"
"""

SITE_URL = "https://news.example.org/"  # SETTINGS' url
ATOM = "{http://www.w3.org/2005/Atom}"  # the namespace of Atom's elements, for ElementTree

MakeSite = Callable[..., Path]


def article(
    title: str = "Hello", date: str = "2026-11-20 09:00", body: str = "Body text.", **extra: str
) -> str:
    """A Markdown article's text with the given front matter."""
    lines = ["---", f"title: {title!r}", f"date: {date}"]
    lines += [f"{key}: {value}" for key, value in extra.items()]
    return "\n".join(lines) + "\n---\n\n" + body + "\n"


def write_articles(root: Path, articles: dict[str, str | bytes]) -> None:
    """Article texts are dedented; bytes are written as they are."""
    for name, text in articles.items():
        path = root / "content" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text), encoding="utf-8")


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def warnings(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "warning"]


def load(root: Path) -> Site:
    return config.load(root, env={})


def publish(root: Path, now: datetime = NOW, keep_going: bool = False) -> BuildReport:
    return build(load(root), now, keep_going)


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) and its bytes, keyed by relative path."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def examples(share: float) -> int:
    """``share`` of the Hypothesis profile's examples (at least 10), for a property test whose
    examples are costly (a whole build each, long texts)."""
    return max(10, round(settings().max_examples * share))


# -- the command line --------------------------------------------------------------------------

FEEDPUB = Path(sys.executable).parent / "feedpub"  # 'python -m feedpub.cli' runs nothing
# Child processes must not pick up settings or a secret from the developer's environment.
CHILD_ENV = {k: v for k, v in os.environ.items() if not k.startswith("FEEDPUB_")}


def invoke(
    runner: CliRunner, *args: str | Path, env: dict[str, str | None] | None = None
) -> Result:
    return runner.invoke(main, [str(a) for a in args], prog_name="feedpub", env=env)


def assert_clean_exit(result: Result, code: int) -> None:
    """The exit code is ``code`` and no Python exception escaped (no traceback)."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    if code == 0:
        assert result.exception is None
    else:
        assert isinstance(result.exception, SystemExit)


# -- a site with a newsletter -----------------------------------------------------------------

NEWSLETTER = """
[newsletter]
name = "Test Weekly"
from = "Test Gazette <news@news.example.org>"
schedule = "weekly"
day = "friday"
time = "08:00"
"""
# With NEWSLETTER, at NOW an issue is due.
ARTICLES: dict[str, str | bytes] = {
    "alpha.md": article("Alpha", "2026-11-20 09:00"),
    "bravo.md": article("Bravo", "2026-11-24 09:00"),
}


# -- a site that sends through the relay ---------------------------------------------------------

MAIL_NEWSLETTER = """
[newsletter]
name = "Test Weekly"
from = "Test Gazette <news@news.example.org>"
reply_to = "Letters <letters@news.example.org>"
schedule = "weekly"
day = "friday"
time = "08:00"
"""
MAIL_ARTICLES: dict[str, str | bytes] = {
    "alpha.md": article("Alpha", "2026-11-20 09:00"),
    "cafe.md": article("Café budget vote", "2026-11-24 09:00", body="Über the *budget*."),
}
# RFC 8058's one-click unsubscribe body.
ONE_CLICK = b"List-Unsubscribe=One-Click"
PASSWORD = "s3cret-Pa55word"  # the relay accepts this one only


class Recorder:
    """An aiosmtpd handler that keeps every message it accepts, per recipient, and answers as
    told: refusals at RCPT, connections dropped at chosen DATA commands, a slow DATA."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[tuple[str, bytes]] = []
        self.rcpt_attempts: Counter[str] = Counter()
        # address -> (reply, how many times; None: always)
        self.refuse: dict[str, tuple[str, int | None]] = {}
        # DATA command number (from 1) -> "received" (kept, then the connection drops with no
        # reply), "lost" (dropped before it is kept) or "421" (the relay closes the channel)
        self.drops: dict[int, str] = {}
        self.dropped: list[str] = []
        self.data_commands = 0
        self.delay = 0.0
        self.on_message: Callable[[int], None] | None = None

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        with self.lock:
            self.rcpt_attempts[address] += 1
            tries = self.rcpt_attempts[address]
            rule = self.refuse.get(address)
        if rule is not None and (rule[1] is None or tries <= rule[1]):
            return rule[0]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content
        assert isinstance(data, bytes)
        with self.lock:
            self.data_commands += 1
            number = self.data_commands
            drop = self.drops.get(number)
            if drop not in ("lost", "421"):
                self.messages.extend((rcpt, data) for rcpt in envelope.rcpt_tos)
            if drop is not None:
                self.dropped.extend(envelope.rcpt_tos)
        if self.on_message is not None:
            self.on_message(number)
        if drop == "421":
            return "421 4.3.2 service shutting down"
        if drop is not None:
            # Gone without a reply: the client cannot know whether the message arrived.
            assert isinstance(server.transport, asyncio.Transport)
            server.transport.abort()
            return "250 OK"
        if self.delay:
            await asyncio.sleep(self.delay)  # a slow relay, so that a kill lands mid-stream
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def copies(self) -> Counter[str]:
        with self.lock:
            return Counter(rcpt for rcpt, _ in self.messages)

    def received(self) -> list[tuple[str, bytes]]:
        with self.lock:
            return list(self.messages)


@dataclass
class Relay:
    handler: Recorder
    port: int
    controller: Controller = field(repr=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def only_password(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    good = isinstance(auth_data, LoginPassword) and auth_data == (b"mailer", PASSWORD.encode())
    # handled=False: aiosmtpd itself answers a failure (535); True would leave it silent.
    return AuthResult(success=good, handled=False)


def smtp_settings(port: int, connections: int = 2, extra: str = "") -> str:
    return (
        f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        f"connections = {connections}\n{extra}"
    )


def smtp_site(make_site: MakeSite, port: int, connections: int = 2, extra: str = "") -> Path:
    return make_site(MAIL_ARTICLES, extra=MAIL_NEWSLETTER + smtp_settings(port, connections, extra))


def readers(count: int) -> list[tuple[str, str]]:
    return [(f"reader{i:03}@example.net", f"Reader {i}") for i in range(count)]


def subscribe(root: Path, people: list[tuple[str, str]]) -> None:
    site = load(root)
    with State.open(site.state_dir) as state, state.transaction():
        book = Subscribers(state)
        for address, name in people:
            book.add(address, name, NOW)


def make_issue(root: Path, now: datetime = NOW) -> IssueRecord:
    site = load(root)
    with State.open(site.state_dir) as state:
        draft = create(site, state, load_catalog(site, state, now), now)
        assert draft is not None
        record = state.issues.get(draft.number)
    assert record is not None
    return record


def deliveries(root: Path, number: int = 1) -> dict[str, tuple[str, int, str | None, str]]:
    """address -> (status, attempts, next_attempt, last_reply) of one issue's rows."""
    with State.open(load(root).state_dir) as state:
        rows = state.db.execute(
            "SELECT s.email, d.status, d.attempts, d.next_attempt, d.last_reply"
            " FROM deliveries d JOIN subscribers s ON s.id = d.subscriber WHERE d.issue = ?",
            (number,),
        ).fetchall()
    return {row[0]: (row[1], row[2], row[3], row[4]) for row in rows}


def status_counts(root: Path, number: int = 1) -> dict[str, int]:
    with State.open(load(root).state_dir) as state:
        return state.issues.counts(number)


def issue_status(root: Path, number: int = 1) -> str:
    with State.open(load(root).state_dir) as state:
        record = state.issues.get(number)
    assert record is not None
    return record.status


def subscriber(root: Path, address: str) -> tuple[str, int]:
    """(status, hard failures)."""
    with State.open(load(root).state_dir) as state:
        row = state.db.execute(
            "SELECT status, hard_failures FROM subscribers WHERE email = ?", (address,)
        ).fetchone()
    return row[0], row[1]


def feedpub(root: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(FEEDPUB), "--site", str(root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=CHILD_ENV,
    )


def wait_until(
    condition: Callable[[], bool],
    proc: subprocess.Popen[bytes] | None = None,
    timeout: float = 30,
) -> None:
    """Poll ``condition`` until it holds (bounded); fail at once if ``proc`` exits first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"feedpub exited ({proc.returncode}) too soon: {out!r} {err!r}")
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.002)


def parse(raw: bytes) -> EmailMessage:
    # An SMTPUTF8 message has raw UTF-8 headers (RFC 6532), which the bytes parser cannot read.
    text = raw.decode("ascii" if raw.isascii() else "utf-8")
    msg = email.message_from_string(text, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def chromium_result(url: str, profile: Path, *, window: str, budget_ms: int, dark: bool) -> str:
    """What the page at ``url`` writes into its ``<pre id="result">``, read from headless
    Chromium's DOM after ``budget_ms`` of virtual time (which stops a page that hangs). Only
    127.0.0.1 is reachable; a missing or failing Chromium fails the test saying why."""
    found = shutil.which("chromium")
    if found is None:
        pytest.fail(
            "chromium is not installed; pages and the digest are tested in headless Chromium: "
            "install Debian's chromium (apt-get install chromium)",
            pytrace=False,
        )
    command = [
        found,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        # Names resolve to nothing: the only server reachable is ours, on 127.0.0.1.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--user-data-dir={profile}",
        f"--window-size={window}",
        f"--virtual-time-budget={budget_ms}",
        *(["--force-dark-mode"] if dark else []),
        "--dump-dom",
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    result = re.search(r'<pre id="result">(.*?)</pre>', done.stdout, re.S)
    assert done.returncode == 0 and result, f"chromium failed:\n{done.stderr[-2000:]}"
    return html.unescape(result.group(1))
