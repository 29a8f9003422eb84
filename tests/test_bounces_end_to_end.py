"""End to end, with real components only: issue 1 goes to 500 readers through an aiosmtpd relay
that takes everything; later the receiving servers bounce 25 of them (20 hard, 5 soft) with
delivery status notifications (RFC 3464, in Postfix's shape) mailed to each message's VERP
envelope sender, through a second aiosmtpd, the bounce domain's MX, which delivers them into
a Maildir; `feedpub run` the next week reads that Maildir: the addresses are marked, issue 2
skips the hard bounces, and the figures add up in `issue show`, `issue list` and
`status --json`. Every `feedpub` here is a child process."""

from __future__ import annotations

import email
import email.policy
import json
import mailbox
import random
import re
import shutil
import smtplib
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from helpers import (
    CHILD_ENV,
    FEEDPUB,
    MAIL_ARTICLES,
    MAIL_NEWSLETTER,
    NOW,
    NOW_ARG,
    SETTINGS,
    MakeSite,
    Recorder,
    article,
    free_port,
    load,
    readers,
    smtp_settings,
    subscribe,
    write_articles,
)

from feedpub.store.state import State

READERS = 500
HARD, SOFT = 20, 5
BOUNCE_ADDRESS = "bounces@news.example.org"
NEXT_WEEK = NOW + timedelta(days=7)
NEXT_WEEK_ARG = NEXT_WEEK.isoformat()
MX = "mx.example.net"
# An envelope sender naming one recipient of one issue (the token is lowercase base32 fields).
VERP = re.compile(r"bounces\+b-[a-z2-7]+(?:-[a-z0-9]+){2}@news\.example\.org")


class Relay(Recorder):
    """The relay: takes every message, and keeps each one's envelope sender with it."""

    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[tuple[str, str, bytes]] = []  # (MAIL FROM, RCPT TO, message)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        data = envelope.original_content
        assert isinstance(data, bytes) and envelope.mail_from is not None
        with self.lock:
            self.envelopes.extend((envelope.mail_from, rcpt, data) for rcpt in envelope.rcpt_tos)
        return reply

    def taken(self) -> list[tuple[str, str, bytes]]:
        with self.lock:
            return list(self.envelopes)


class MaildirDelivery:
    """The bounce domain's MX and its local delivery: each message into the Maildir, with the
    Return-Path and Delivered-To lines a delivery agent (Postfix's local or virtual, Dovecot's
    LDA) puts on top."""

    def __init__(self, folder: Path) -> None:
        self.box = mailbox.Maildir(folder, create=True)
        self.lock = threading.Lock()
        self.delivered: list[str] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content
        assert isinstance(data, bytes)
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                top = f"Return-Path: <{envelope.mail_from}>\r\nDelivered-To: {rcpt}\r\n"
                self.box.add(top.encode() + data)
                self.delivered.append(rcpt)
        return "250 2.0.0 Ok: queued"


@pytest.fixture
def serve() -> Iterator[Callable[[object], int]]:
    """serve(handler) -> the port of an SMTP server on 127.0.0.1 running it; stopped after."""
    running: list[Controller] = []

    def start(handler: object) -> int:
        controller = Controller(
            handler, hostname="127.0.0.1", port=free_port(), server_hostname="localhost"
        )
        controller.start()
        running.append(controller)
        return int(controller.port)

    yield start
    for controller in running:
        controller.stop()


def postfix_dsn(sender: str, recipient: str, original: bytes, hard: bool, serial: int) -> bytes:
    """A non-delivery report as Postfix writes one (bounce(8)'s template and fields), for the
    message ``original`` that was sent from ``sender`` to ``recipient``."""
    queue_id = f"{0x8A3F61C0F2 + serial:X}"
    boundary = f"{queue_id}.1764245101/{MX}"
    if hard:
        code, status, words = (
            "550",
            "5.1.1",
            f"<{recipient}>: Recipient address rejected: User unknown in virtual mailbox table",
        )
    else:  # a temporary failure that lasted past the queue's lifetime
        code, status, words = "452", "4.2.2", f"<{recipient}>: Mailbox full, try again later"
    headers = original.split(b"\r\n\r\n", 1)[0].replace(b"\r\n", b"\n")
    date = format_datetime(NOW + timedelta(minutes=5 + serial))
    report = f"""\
Date: {date}
From: MAILER-DAEMON@{MX} (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: {sender}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="{boundary}"
Content-Transfer-Encoding: 8bit
Message-Id: <20261127120501.{queue_id}@{MX}>

This is a MIME-encapsulated message.

--{boundary}
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host {MX}.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system

<{recipient}>: host mail.example.net[192.0.2.25] said: {code} {status}
    {words} (in reply to RCPT TO command)

--{boundary}
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; {MX}
X-Postfix-Queue-ID: {queue_id}
X-Postfix-Sender: rfc822; {sender}
Arrival-Date: {format_datetime(NOW)}

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: failed
Status: {status}
Remote-MTA: dns; mail.example.net
Diagnostic-Code: smtp; {code} {status} {words}

--{boundary}
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers
Content-Transfer-Encoding: 8bit

"""
    tail = f"\n--{boundary}--\n"
    return (report.encode() + headers + b"\n" + tail.encode()).replace(b"\n", b"\r\n")


def feedpub(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FEEDPUB), "--site", str(root), *args],
        capture_output=True,
        text=True,
        env=CHILD_ENV,
        timeout=300,
        check=False,
    )


def ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "unexpected" not in done.stderr
    return done


def statuses(root: Path) -> dict[str, str]:
    with State.open(load(root).state_dir) as state:
        return {s.email: s.status for s in state.subscribers.iter()}


def issue_of(data: bytes) -> int:
    message = email.message_from_bytes(data, policy=email.policy.default)
    found = re.search(r"#(\d+):", str(message["Subject"]))
    assert found is not None
    return int(found.group(1))


def in_folder(box: Path, folder: str) -> int:
    path = box / folder
    return sum(1 for part in ("new", "cur") for f in (path / part).iterdir() if f.is_file())


def test_bounces_mailed_back_are_read_by_the_next_weeks_run_and_the_figures_add_up(
    make_site: MakeSite, serve: Callable[[object], int]
) -> None:
    relay = Relay()
    relay_port = serve(relay)
    root = make_site(
        MAIL_ARTICLES,
        settings=SETTINGS,
        extra=MAIL_NEWSLETTER
        + smtp_settings(relay_port, 4, f'bounce_address = "{BOUNCE_ADDRESS}"\n')
        + '\n[inbox]\nmaildir = "mail/bounces"\n',
    )
    box = root / "mail" / "bounces"
    box.parent.mkdir()
    mx = MaildirDelivery(box)
    mx_port = serve(mx)
    people = [address for address, _ in readers(READERS)]
    subscribe(root, readers(READERS))

    # Week 1: issue 1 to everyone, each message with its own envelope sender.
    first = ok(feedpub(root, "run", "--now", NOW_ARG))
    assert f"Issue 1: {READERS} sent, 0 deferred, 0 failed, 0 skipped" in first.stdout
    taken = relay.taken()
    assert sorted(rcpt for _, rcpt, _ in taken) == sorted(people)
    senders = {rcpt: sender for sender, rcpt, _ in taken}
    assert all(VERP.fullmatch(sender) for sender in senders.values()), list(senders.values())[:3]
    assert len(set(senders.values())) == READERS  # one per recipient: the bounce says who
    originals = {rcpt: data for _, rcpt, data in taken}

    # Later that day the receiving servers give up on 25 of them and say so, by mail.
    chosen = random.Random(16).sample(people, HARD + SOFT)
    hard, soft = chosen[:HARD], chosen[HARD:]
    with smtplib.SMTP("127.0.0.1", mx_port, local_hostname=MX, timeout=30) as smtp:
        for serial, recipient in enumerate(chosen):
            report = postfix_dsn(
                senders[recipient], recipient, originals[recipient], recipient in hard, serial
            )
            smtp.sendmail("", [senders[recipient]], report)  # a bounce's sender is null
    assert sorted(mx.delivered) == sorted(senders[r] for r in chosen)
    assert len(mailbox.Maildir(box, create=False)) == HARD + SOFT

    # Week 2: the run reads the Maildir before it sends issue 2.
    write_articles(root, {"delta.md": article("Delta", "2026-12-01 09:00")})
    second = ok(feedpub(root, "run", "--now", NEXT_WEEK_ARG))
    assert (
        f"inbox: {HARD + SOFT} read, {HARD} hard, {SOFT} soft, 0 complaints, 0 unsubscribes, "
        "0 auto-replies, 0 unknown"
    ) in second.stdout
    assert f"Issue 2: {READERS - HARD} sent, 0 deferred, 0 failed" in second.stdout
    marked = statuses(root)
    assert sorted(a for a, s in marked.items() if s == "bounced") == sorted(hard)
    assert all(marked[a] == "active" for a in soft)  # one soft bounce is not three in a row
    week_two = {rcpt for _, rcpt, data in relay.taken() if issue_of(data) == 2}
    assert week_two == set(people) - set(hard)
    # The Maildir is read: every report moved to the processed folder, none left unread.
    assert len(mailbox.Maildir(box, create=False)) == 0
    assert in_folder(box, ".feedpub.processed") == HARD + SOFT
    # 25 of 500 is 5%, over 2%: the run says so, naming ten of them and how many more.
    (warning,) = [ln for ln in second.stderr.splitlines() if ln.startswith("warning: issue 1:")]
    assert f"{HARD + SOFT} of {READERS} readers bounced it (5.0%, over 2%)" in warning
    assert "and 15 more (`feedpub issue show 1` lists them all)" in warning
    assert sum(address in warning for address in chosen) == 10

    # The figures add up, in every place that gives them.
    shown = ok(feedpub(root, "issue", "show", "1")).stdout.splitlines()
    assert shown[2] == (
        f"Figures: {READERS} sent, {READERS - HARD - SOFT} delivered, {HARD} hard and {SOFT} "
        "soft bounces (5.0%), 0 complaints (0.00%), 0 unsubscribes"
    )
    flagged = shown[shown.index(f"Bounced or complained ({HARD + SOFT}):") + 1 :]
    assert sorted(line.split()[1] for line in flagged if line.split()[0] == "hard") == sorted(hard)
    assert sorted(line.split()[1] for line in flagged if line.split()[0] == "soft") == sorted(soft)
    assert all("5.1.1" in line for line in flagged if line.split()[0] == "hard")
    assert all("4.2.2" in line for line in flagged if line.split()[0] == "soft")
    listed = ok(feedpub(root, "issue", "list")).stdout.splitlines()
    assert listed[1].split()[3:9] == ["sent", "2", "500/500", "0", "25!", "0"]
    assert listed[2].split()[3:9] == ["sent", "1", "480/480", "0", "0", "0"]
    info = json.loads(ok(feedpub(root, "status", "--json", "--now", NEXT_WEEK_ARG)).stdout)
    figures = {issue["number"]: issue["figures"] for issue in info["recent_issues"]}
    assert figures[1] == {
        "sent": READERS,
        "delivered": READERS - HARD - SOFT,
        "hard": HARD,
        "soft": SOFT,
        "complaints": 0,
        "unsubscribes": 0,
        "bounce_rate": (HARD + SOFT) / READERS,
        "complaint_rate": 0.0,
    }
    assert figures[2]["sent"] == READERS - HARD and figures[2]["delivered"] == READERS - HARD
    (bounce_warning,) = info["warnings"]
    assert (bounce_warning["issue"], bounce_warning["kind"]) == (1, "bounces")
    assert bounce_warning["count"] == HARD + SOFT and bounce_warning["more"] == 15

    # A report delivered twice (an MTA that retried), and another run: nothing more changes.
    processed = box / ".feedpub.processed"
    again = next(f for part in ("cur", "new") for f in (processed / part).iterdir())
    shutil.copy(again, box / "new" / "retried.mx.example.net")
    third = ok(feedpub(root, "run", "--now", (NEXT_WEEK + timedelta(hours=1)).isoformat()))
    assert "inbox: 1 read" in third.stdout
    assert "warning: issue 1" not in third.stderr  # told once, and nothing grew
    assert ok(feedpub(root, "issue", "show", "1")).stdout.splitlines()[2] == shown[2]
    assert statuses(root) == marked
