"""Delivery against a real SMTP relay on loopback (aiosmtpd): every subscriber once, exact
bookkeeping through refusals, dropped connections, kill -9 and resume; headers, one-click
unsubscribe, login and TLS failures, the pacer, --dry-run and --test."""

from __future__ import annotations

import gc
import io
import os
import re
import shutil
import signal
import smtplib
import ssl
import subprocess
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit
from wsgiref.util import setup_testing_defaults
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from helpers import MAIL_ARTICLES as ARTICLES
from helpers import MAIL_NEWSLETTER as NEWSLETTER
from helpers import (
    NOW,
    NOW_ARG,
    ONE_CLICK,
    PASSWORD,
    MakeSite,
    Relay,
    article,
    deliveries,
    feedpub,
    invoke,
    issue_status,
    load,
    make_issue,
    only_password,
    parse,
    readers,
    smtp_settings,
    smtp_site,
    status_counts,
    subscribe,
    subscriber,
    wait_until,
)
from hypothesis import given
from hypothesis import strategies as st

from feedpub.config import SmtpSettings
from feedpub.delivery.messages import list_id, message_id, unsubscribe_link
from feedpub.delivery.sending import Pacer, SendReport, send_issue
from feedpub.delivery.tokens import load_secret, make, make_token, read
from feedpub.delivery.transport import SmtpTransport, check_smtp, dot_stuffed
from feedpub.delivery.web import UnsubscribeApp
from feedpub.errors import InsecureRelay
from feedpub.store.issues import UNSUBSCRIBE_PLACEHOLDER
from feedpub.store.state import State

BUSY = "450 4.2.0 mailbox busy"
GONE = "550 5.1.1 no such user"


# -- the relay -------------------------------------------------------------------------------


@pytest.fixture
def relay(start_relay: Callable[..., Relay]) -> Relay:
    return start_relay()


# -- sites, subscribers, state ---------------------------------------------------------------


# -- the unsubscribe endpoint, called as a WSGI app ------------------------------------------


def wsgi(app: UnsubscribeApp, method: str, query: str = "", body: bytes = b"") -> tuple[str, str]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": "/unsubscribe",
        "QUERY_STRING": query,
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    setup_testing_defaults(environ)
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        statuses.append(status)

    page = b"".join(app(environ, start_response)).decode()
    return statuses[0], page


# -- a full send -----------------------------------------------------------------------------

SPECIAL = [
    # (address, name, envelope address)
    ("zoe@example.net", "Zoë Ångström", "zoe@example.net"),  # RFC 2047 in the To header
    ("nobody@example.net", "", "nobody@example.net"),
    ("ana@bücher.example", 'Ana "Q" Lima', "ana@xn--bcher-kva.example"),  # IDNA envelope
    ("jörg@example.net", "Jörg", "jörg@example.net"),  # SMTPUTF8: no ASCII form exists
]


@pytest.mark.parametrize(
    ("connections", "read_every_message"),
    [(1, False), (2, True), (4, False)],
    # The messages do not depend on the number of connections: reading 300 takes seconds,
    # so one send has every message parsed and checked, the others only counted.
    ids=["1-connection", "2-connections-every-message-read", "4-connections"],
)
def test_a_full_send(
    relay: Relay, make_site: MakeSite, connections: int, read_every_message: bool
) -> None:
    root = smtp_site(make_site, relay.port, connections)
    people = [(a, n) for a, n, _ in SPECIAL] + readers(300 - len(SPECIAL))
    subscribe(root, people)
    issue = make_issue(root)
    site = load(root)

    before = datetime.now(UTC).replace(microsecond=0)
    report = send_issue(site, 1, NOW)
    after = datetime.now(UTC)

    assert (report.recipients, report.sent, report.deferred, report.failed, report.skipped) == (
        300,
        300,
        0,
        0,
        0,
    )
    assert (report.finished, report.error, report.failures) == (True, None, [])
    assert status_counts(root) == {"sent": 300}
    assert issue_status(root) == "sent"

    envelopes = {a: e for a, _, e in SPECIAL} | {a: a for a, _ in readers(300)}
    expected = {envelopes[address]: (address, name) for address, name in people}
    assert relay.handler.copies() == Counter(dict.fromkeys(expected, 1))
    everything = b"".join(raw for _, raw in relay.handler.received())
    message_ids = re.findall(rb"^Message-ID: (.*)\r$", everything, re.MULTILINE)
    assert len(set(message_ids)) == 300  # one Message-ID per recipient
    if not read_every_message:
        return

    secret = load_secret(site.state_dir)
    with State.open(site.state_dir) as state:
        keys = dict(state.db.execute("SELECT email, email_key FROM subscribers").fetchall())
        token_keys = dict(state.db.execute("SELECT email, token_key FROM subscribers").fetchall())
    assert "Café budget vote" in issue.subject
    links: dict[str, str] = {}
    for rcpt, raw in relay.handler.received():
        address, name = expected[rcpt]
        key = keys[address]
        msg = parse(raw)
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998
        if rcpt.isascii():
            assert raw.isascii()  # 8-bit text travels encoded: quoted-printable, RFC 2047
        assert msg["From"] == "Test Gazette <news@news.example.org>"
        assert msg["Reply-To"] == "Letters <letters@news.example.org>"
        (to,) = msg["To"].addresses
        assert (to.display_name, to.addr_spec) == (name, rcpt)
        assert msg["Subject"] == issue.subject
        # Dated as it was handed over, by the system's clock: not the run's NOW.
        assert before <= msg["Date"].datetime <= after
        assert msg["Message-ID"] == message_id(site, issue, key)
        assert msg["List-Id"] == "Test Weekly <test-weekly.news.example.org>"
        # The link carries the subscriber's random key, never the address.
        link = unsubscribe_link(site, make(secret, list_id(site), "u", token_keys[address]))
        assert link.startswith("https://news.example.org/unsubscribe?t=")
        assert msg["List-Unsubscribe"] == (
            f"<{link}>, <mailto:letters@news.example.org?subject=unsubscribe>"
        )
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert msg.get_content_type() == "multipart/alternative"
        parts = list(msg.iter_parts())
        assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
        assert [p.get_content_charset() for p in parts] == ["utf-8", "utf-8"]
        text, html = (p.get_content() for p in parts)
        for body in (text, html):
            assert "Café budget vote" in body
            assert link in body
            assert UNSUBSCRIBE_PLACEHOLDER not in body
        links[address] = link

    zoe = next(raw for rcpt, raw in relay.handler.received() if rcpt == "zoe@example.net")
    to_line = re.search(rb"^To: (.*)$", zoe, re.MULTILINE)
    assert to_line is not None and to_line.group(1).startswith(b"=?utf-8?")

    # Zoë's own link: GET shows a button and changes nothing; the one-click POST unsubscribes.
    app = UnsubscribeApp(site)
    query = urlsplit(links["zoe@example.net"]).query
    status, page = wsgi(app, "GET", query)
    assert status == "200 OK"
    assert '<form method="post"' in page and "Unsubscribe</button>" in page
    assert subscriber(root, "zoe@example.net") == ("active", 0)
    status, page = wsgi(app, "POST", query, ONE_CLICK)
    assert status == "200 OK"
    assert "You are unsubscribed" in page
    assert subscriber(root, "zoe@example.net") == ("unsubscribed", 0)
    # Zoë's token with Ana's address in it is a forgery.
    forged = links["ana@bücher.example"].split("?t=")[1].split(".")[0] + "." + query.split(".")[1]
    status, page = wsgi(app, "POST", f"t={forged}", ONE_CLICK)
    assert status == "400 Bad Request"
    assert subscriber(root, "ana@bücher.example") == ("active", 0)


@pytest.mark.parametrize(
    "forge",
    [
        lambda secret, lid, key: make_token(b"another secret", lid, key),
        lambda secret, lid, key: make_token(secret, "other-list.news.example.org", key),
        lambda secret, lid, key: (
            make_token(secret, lid, key).split(".")[0]
            + "."
            + make_token(secret, lid, "eve@example.net").split(".")[1]
        ),
        lambda secret, lid, key: make_token(secret, lid, key)[:-4],
        lambda secret, lid, key: make_token(secret, lid, key) + ".x",
        lambda secret, lid, key: "",
    ],
    ids=["other-secret", "other-list", "eves-mac", "truncated", "extra-dot", "empty"],
)
def test_a_forged_unsubscribe_token_changes_nothing(
    make_site: MakeSite, forge: Callable[[bytes, str, str], str]
) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER)
    subscribe(root, [("ann@example.org", "Ann"), ("eve@example.net", "Eve")])
    site = load(root)
    app = UnsubscribeApp(site)
    token = forge(load_secret(site.state_dir), list_id(site), "ann@example.org")
    requests = [
        ("GET", f"t={token}", b""),
        ("POST", f"t={token}", ONE_CLICK),  # RFC 8058: the token in the link, the body fixed
        ("POST", "", f"t={token}".encode()),  # the page's form
    ]
    for method, query, body in requests:
        status, page = wsgi(app, method, query, body)
        assert status == "400 Bad Request", (method, query, body)
        assert "This unsubscribe link is not valid" in page
    assert subscriber(root, "ann@example.org") == ("active", 0)
    # The genuine token, in the form rather than the query, does unsubscribe.
    good = make_token(load_secret(site.state_dir), list_id(site), "ann@example.org")
    assert wsgi(app, "POST", "", f"t={good}".encode())[0] == "200 OK"
    assert subscriber(root, "ann@example.org") == ("unsubscribed", 0)
    assert subscriber(root, "eve@example.net") == ("active", 0)


# -- refusals ----------------------------------------------------------------------------------


def test_deferred_and_failed_recipients(relay: Relay, make_site: MakeSite) -> None:
    relay.handler.refuse = {
        "busy-once@example.net": (BUSY, 1),
        "busy@example.net": (BUSY, None),
        "gone@example.net": (GONE, None),
        "gone-too@example.net": (GONE, None),
    }
    root = smtp_site(make_site, relay.port, extra="max_attempts = 3\n")
    fine = [a for a, _ in readers(5)]
    subscribe(root, [(a, "") for a in [*fine, *relay.handler.refuse]])
    make_issue(root)
    site = load(root)

    first = send_issue(site, 1, NOW)
    assert (first.sent, first.deferred, first.failed, first.finished) == (5, 2, 2, False)
    assert sorted(first.failures) == [("gone-too@example.net", GONE), ("gone@example.net", GONE)]
    rows = deliveries(root)
    later = (NOW + timedelta(minutes=5)).isoformat()
    assert rows["busy@example.net"] == ("deferred", 1, later, BUSY)
    assert rows["busy-once@example.net"] == ("deferred", 1, later, BUSY)
    assert rows["gone@example.net"] == ("failed", 1, None, GONE)
    assert all(rows[a][0] == "sent" for a in fine)
    assert issue_status(root) == "ready"
    assert subscriber(root, "gone@example.net") == ("active", 1)
    assert subscriber(root, "busy@example.net") == ("active", 0)

    # Before the backoff has passed, nothing is retried.
    early = send_issue(site, 1, NOW + timedelta(minutes=4))
    assert (early.sent, early.deferred, early.failed, early.finished) == (0, 0, 0, False)
    assert relay.handler.rcpt_attempts["busy@example.net"] == 1

    second = send_issue(site, 1, NOW + timedelta(minutes=5))
    assert (second.sent, second.deferred, second.failed, second.finished) == (1, 1, 0, False)
    rows = deliveries(root)
    assert rows["busy-once@example.net"][:2] == ("sent", 2)
    assert rows["busy@example.net"] == (
        "deferred",
        2,
        (NOW + timedelta(minutes=15)).isoformat(),
        BUSY,
    )

    # The third try is the last (max_attempts = 3): a final failure, reported by address.
    third = send_issue(site, 1, NOW + timedelta(minutes=15))
    assert (third.sent, third.deferred, third.failed, third.finished) == (0, 0, 1, True)
    assert third.failures == [("busy@example.net", BUSY)]
    assert deliveries(root)["busy@example.net"] == ("failed", 3, None, BUSY)
    assert issue_status(root) == "sent"
    assert status_counts(root) == {"sent": 6, "failed": 3}
    assert relay.handler.rcpt_attempts["busy@example.net"] == 3
    assert relay.handler.rcpt_attempts["gone@example.net"] == 1  # a 5xx is never retried
    assert relay.handler.copies() == Counter(dict.fromkeys([*fine, "busy-once@example.net"], 1))
    assert subscriber(root, "busy@example.net") == ("active", 0)  # a 4xx is not a bounce


@pytest.mark.parametrize(
    ("later", "retried"),
    [
        ((NOW + timedelta(minutes=5)).astimezone(UTC), True),
        ((NOW + timedelta(minutes=4)).astimezone(ZoneInfo("Asia/Tokyo")), False),
        ((NOW + timedelta(minutes=5)).astimezone(ZoneInfo("Asia/Tokyo")), True),
    ],
    ids=["due-written-in-utc", "early-written-in-tokyo", "due-written-in-tokyo"],
)
def test_the_backoff_holds_whatever_zone_now_is_in(
    relay: Relay, make_site: MakeSite, later: datetime, retried: bool
) -> None:
    """The same moment written with another UTC offset is the same moment: a deferred message
    waits exactly its backoff (here 5 minutes after NOW, 12:05 in Berlin)."""
    relay.handler.refuse = {"busy@example.net": (BUSY, 1)}
    root = smtp_site(make_site, relay.port)
    subscribe(root, [("busy@example.net", "")])
    make_issue(root)
    site = load(root)
    assert send_issue(site, 1, NOW).deferred == 1
    report = send_issue(site, 1, later)
    assert (report.sent, report.finished) == ((1, True) if retried else (0, False))
    assert relay.handler.rcpt_attempts["busy@example.net"] == (2 if retried else 1)
    assert deliveries(root)["busy@example.net"][0] == ("sent" if retried else "deferred")


SUMMARY = re.compile(
    r"Issue 1: 1 sent, 1 deferred, 1 failed, 0 skipped of 3 recipients in \d+\.\d s "
    r"\(\d+ messages/s\); not finished: sent to 1 of 3 so far; "
    r"the next try is at 2026-11-27 12:05 CET"
)


def test_the_send_command_reports_failures_by_address(
    runner: CliRunner, relay: Relay, make_site: MakeSite
) -> None:
    relay.handler.refuse = {"busy@example.net": (BUSY, None), "gone@example.net": (GONE, None)}
    root = smtp_site(make_site, relay.port)
    subscribe(root, [("ok@example.net", ""), ("busy@example.net", ""), ("gone@example.net", "")])
    make_issue(root)
    result = invoke(runner, "--site", root, "send", "--now", NOW_ARG)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert SUMMARY.fullmatch(lines[0]), lines
    assert lines[1:] == [f"  failed: gone@example.net: {GONE}"]
    assert result.stderr == ""

    plan = invoke(runner, "--site", root, "send", "--dry-run", "--now", NOW_ARG)
    assert plan.exit_code == 0, plan.output
    assert plan.stdout.splitlines() == [
        "Issue 1 is sending (1/3 sent): would send to 0 subscribers; 2 already done, 1 deferred "
        "(the next try at 2026-11-27 12:05 CET)",
        f"Would send to: the relay 127.0.0.1:{relay.port}",
    ]


def test_three_hard_failures_make_a_bounce(relay: Relay, make_site: MakeSite) -> None:
    relay.handler.refuse = {"gone@example.net": (GONE, None)}
    root = smtp_site(make_site, relay.port, connections=1)
    subscribe(root, [("kept@example.net", "Kept"), ("gone@example.net", "Gone")])
    site = load(root)
    states = []
    for number in range(1, 5):
        when = NOW + timedelta(days=7 * (number - 1))
        if number > 1:
            date = (when - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")
            (root / "content" / f"week{number}.md").write_text(article(f"Week {number}", date))
        assert make_issue(root, when).number == number
        report = send_issue(site, number, when)
        assert report.finished and report.error is None
        states.append((report.recipients, report.failures, subscriber(root, "gone@example.net")))
    assert states == [
        (2, [("gone@example.net", GONE)], ("active", 1)),
        (2, [("gone@example.net", GONE)], ("active", 2)),
        (2, [("gone@example.net", GONE)], ("bounced", 3)),
        (1, [], ("bounced", 3)),
    ]
    assert set(deliveries(root, 4)) == {"kept@example.net"}
    assert relay.handler.rcpt_attempts["gone@example.net"] == 3
    assert relay.handler.copies() == Counter({"kept@example.net": 4})
    assert [issue_status(root, n) for n in range(1, 5)] == ["sent"] * 4


# -- a relay that drops the connection ---------------------------------------------------------


@pytest.mark.parametrize(
    "how",
    ["received", "lost", "421"],
    ids=["kept-then-dropped", "dropped-before-kept", "421-at-data"],
)
def test_a_dropped_connection_loses_no_one(relay: Relay, make_site: MakeSite, how: str) -> None:
    relay.handler.drops = {10: how, 41: how}
    # A 421 on a connection's first message is the relay refusing service, which stops the run
    # (test_faults_sending); with two connections, which one's first message is DATA 10 or 41
    # depends on how the threads are scheduled, so the 421 case uses one connection.
    root = smtp_site(make_site, relay.port, connections=1 if how == "421" else 2)
    people = readers(80)
    subscribe(root, people)
    make_issue(root)

    report = send_issue(load(root), 1, NOW)

    dropped = relay.handler.dropped
    assert len(dropped) == 2
    if how == "421":
        # A 421 on a connection that has carried messages: the relay closes that connection
        # (its limit per connection, say); a fresh one takes the message, and no one waits.
        assert (report.sent, report.deferred, report.finished, report.error) == (80, 0, True, None)
    else:
        # A lost connection is one attempt for that recipient, who waits for the backoff;
        # it stops no one else.
        assert (report.sent, report.deferred, report.finished, report.error) == (78, 2, False, None)
        rows = deliveries(root)
        assert {a for a, row in rows.items() if row[0] == "deferred"} == set(dropped)
        assert all(rows[a][1:3] == (1, (NOW + timedelta(minutes=5)).isoformat()) for a in dropped)
        later = send_issue(load(root), 1, NOW + timedelta(minutes=5))
        assert (later.sent, later.finished, later.error) == (2, True, None)
    assert status_counts(root) == {"sent": 80}
    assert issue_status(root) == "sent"
    copies = relay.handler.copies()
    assert set(copies) == {a for a, _ in people}  # none lost
    twice = {a for a, n in copies.items() if n > 1}
    # Only a message the relay kept before dropping the line can arrive twice.
    assert twice == (set(dropped) if how == "received" else set())
    assert max(copies.values()) <= 2
    assert sum(copies.values()) - len(people) <= 2  # duplicates <= connections


# -- kill -9, then resume ----------------------------------------------------------------------


# The kill comes at most a few milliseconds after the relay has K messages, so K stays well
# short of the 160: the send must still be running when it is killed.
@pytest.mark.parametrize("after", [1, 50, 100], ids=lambda k: f"after-{k}")
def test_a_killed_send_resumes(relay: Relay, make_site: MakeSite, after: int) -> None:
    relay.handler.delay = 0.005
    root = smtp_site(make_site, relay.port, connections=2)
    people = readers(160)
    subscribe(root, people)
    make_issue(root)

    proc = feedpub(root, "send", "--now", NOW_ARG)
    try:
        wait_until(lambda: relay.handler.count() >= after, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    rows = deliveries(root)
    in_flight = {a for a, row in rows.items() if row[0] == "sending"}
    sent_before = sum(row[0] == "sent" for row in rows.values())
    assert len(in_flight) <= 2
    assert sent_before < len(people)
    assert issue_status(root) == "ready"

    resumed = feedpub(root, "send", "--now", NOW_ARG)
    out, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, (out, err)
    assert err == b""
    assert re.fullmatch(
        rf"Issue 1: {len(people) - sent_before} sent, 0 deferred, 0 failed, 0 skipped of "
        r"160 recipients in \d+\.\d s \(\d+ messages/s\); sent\n",
        out.decode(),
    ), out
    copies = relay.handler.copies()
    assert set(copies) == {a for a, _ in people}
    twice = {a for a, n in copies.items() if n > 1}
    assert twice <= in_flight  # only a message in flight at the kill can arrive twice
    assert max(copies.values()) <= 2
    assert status_counts(root) == {"sent": 160}
    assert issue_status(root) == "sent"


def test_a_killed_send_to_the_outbox_resumes(make_site: MakeSite) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER)
    people = readers(150)
    subscribe(root, people)
    make_issue(root)
    outbox = load(root).state_dir / "outbox" / "1"

    def written() -> list[str]:
        try:
            return [e.name for e in os.scandir(outbox) if e.name.endswith(".eml")]
        except FileNotFoundError:
            return []

    proc = feedpub(root, "send", "--now", NOW_ARG)
    try:
        wait_until(lambda: len(written()) >= 50, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert status_counts(root).get("sent", 0) < len(people)

    resumed = feedpub(root, "send", "--now", NOW_ARG)
    out, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, (out, err)
    assert out.decode().endswith("; sent\n")
    assert sorted(os.listdir(outbox)) == sorted(f"{a}.eml" for a, _ in people)  # no temp files
    assert status_counts(root) == {"sent": 150}
    assert issue_status(root) == "sent"
    msg = parse((outbox / "reader042@example.net.eml").read_bytes())
    assert msg["To"] == "Reader 42 <reader042@example.net>"


# -- two runs at once --------------------------------------------------------------------------

BUSY_LOCK = re.compile(
    r"Error: the site is busy: (feedpub run \(pid \d+ on [^)]+\)|another process) "
    r"holds \S+/\.feedpub/lock; try again when it has finished\n"
)


def test_two_runs_at_once_send_once(relay: Relay, make_site: MakeSite) -> None:
    relay.handler.delay = 0.002
    root = smtp_site(make_site, relay.port, connections=2)
    people = readers(40)
    subscribe(root, people)
    procs = [feedpub(root, "run", "--now", NOW_ARG) for _ in range(2)]
    outcomes = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=60)
        outcomes.append((proc.returncode, stdout.decode(), stderr.decode()))
    senders = [o for o in outcomes if o[0] == 0 and "Created issue 1\n" in o[1]]
    assert len(senders) == 1, outcomes
    assert re.search(r"^Issue 1: 40 sent, .* of 40 recipients in .*; sent$", senders[0][1], re.M)
    (code, out, err) = next(o for o in outcomes if o is not senders[0])
    if code == 75:
        assert BUSY_LOCK.fullmatch(err), outcomes
        assert out == ""
    else:
        assert code == 0, outcomes
        assert out.splitlines()[-1].startswith("no new issue: issue 1 was made for this period")
        assert "Issue 1:" not in out
    assert relay.handler.copies() == Counter(dict.fromkeys((a for a, _ in people), 1))
    assert status_counts(root) == {"sent": 40}
    assert issue_status(root) == "sent"


# -- login and TLS -----------------------------------------------------------------------------


def state_bytes(root: Path) -> bytes:
    folder = load(root).state_dir
    return b"".join(p.read_bytes() for p in folder.glob("state.db*"))


# aiosmtpd warns when a relay takes a login without TLS; this one does so on purpose, so that
# the tests see the password check without the TLS setup (TLS has its own tests below).
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize(
    ("password", "code"),
    [(PASSWORD, 0), ("wrong-" + PASSWORD, 1), ("", 1), (None, 1)],
    ids=["right", "wrong", "empty", "unset"],
)
def test_login(
    runner: CliRunner,
    start_relay: Callable[..., Relay],
    make_site: MakeSite,
    password: str | None,
    code: int,
) -> None:
    relay = start_relay(auth_required=True, auth_require_tls=False, authenticator=only_password)
    root = smtp_site(
        make_site, relay.port, extra='username = "mailer"\npassword_env = "RELAY_PASSWORD"\n'
    )
    subscribe(root, readers(5))
    make_issue(root)
    result = invoke(
        runner, "--site", root, "send", "--now", NOW_ARG, env={"RELAY_PASSWORD": password}
    )
    gc.collect()  # a socket left open shows (as a ResourceWarning) only once it is collected
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    if code == 0:
        assert relay.handler.copies() == Counter(dict.fromkeys((a for a, _ in readers(5)), 1))
        assert issue_status(root) == "sent"
        return
    if password:
        assert result.stderr == (
            f"Error: 127.0.0.1:{relay.port} refused the username or password (535); check "
            "[smtp] username and the variable RELAY_PASSWORD\n"
        )
        assert password not in result.output
        assert password.encode() not in state_bytes(root)
    else:
        assert result.stderr == (
            "Error: [smtp] password_env names RELAY_PASSWORD, which is not set; "
            "export RELAY_PASSWORD=... before sending\n"
        )
    assert PASSWORD not in result.output
    assert relay.handler.count() == 0
    assert status_counts(root) == {}  # the relay refused: no list of recipients is fixed
    assert issue_status(root) == "ready"


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (certificate, key)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs openssl to make a certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.mark.parametrize("security", ["starttls", "ssl"])
@pytest.mark.parametrize("trusted", [False, True], ids=["self-signed", "trusted"])
def test_tls_certificates_are_verified(
    runner: CliRunner,
    start_relay: Callable[..., Relay],
    make_site: MakeSite,
    certificate: tuple[Path, Path],
    security: str,
    trusted: bool,
) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    options = {"tls_context": context} if security == "starttls" else {"ssl_context": context}
    relay = start_relay(**options)
    root = make_site(
        ARTICLES,
        extra=NEWSLETTER + smtp_settings(relay.port).replace('"none"', f'"{security}"'),
    )
    subscribe(root, readers(3))
    make_issue(root)
    # OpenSSL reads SSL_CERT_FILE whenever a default context loads its trusted certificates.
    env = {"SSL_CERT_FILE": str(certificate[0]) if trusted else None}
    result = invoke(runner, "--site", root, "send", "--now", NOW_ARG, env=env)
    gc.collect()  # a socket left open shows (as a ResourceWarning) only once it is collected
    if trusted:
        assert result.exit_code == 0, result.output
        assert relay.handler.count() == 3
        assert issue_status(root) == "sent"
        return
    assert result.exit_code == 1, result.output
    assert re.fullmatch(
        rf"Error: the TLS handshake with 127\.0\.0\.1:{relay.port} failed: "
        r".*CERTIFICATE_VERIFY_FAILED.*\n",
        result.stderr,
    ), result.stderr
    assert relay.handler.count() == 0
    assert status_counts(root) == {}  # the relay refused: no list of recipients is fixed
    assert issue_status(root) == "ready"


@pytest.mark.parametrize(
    ("host", "allow", "refused"),
    [
        ("127.0.0.1", False, False),
        ("localhost", False, False),
        ("::1", False, False),
        ("[::1]", False, False),
        ("mail.example.org", False, True),
        ("192.168.1.10", False, True),
        ("localhost.example.org", False, True),
        ("mail.example.org", True, False),
    ],
    ids=[
        "ipv4-loopback",
        "localhost",
        "ipv6-loopback",
        "ipv6-bracketed",
        "remote-name",
        "lan-address",
        "localhost-lookalike",
        "remote-allowed",
    ],
)
def test_check_smtp(host: str, allow: bool, refused: bool) -> None:
    settings = SmtpSettings(host=host, security="none", allow_insecure=allow)
    if refused:
        with pytest.raises(InsecureRelay, match=f"unencrypted to {re.escape(host)}; "):
            check_smtp(settings)
    else:
        check_smtp(settings)
    check_smtp(SmtpSettings(host=host, security="starttls"))  # encrypted: always fine


@given(
    st.binary(max_size=200) | st.lists(st.sampled_from([b".", b"\r", b"\n", b"a"])).map(b"".join)
)
def test_dot_stuffing_matches_smtplib(data: bytes) -> None:
    assert dot_stuffed(data) == smtplib._quote_periods(data)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "data",
    [
        b"Subject: dots\r\n\r\n.one\r\n..two\r\n.\r\n. \r\nlast\r\n",
        b".Subject: leading\r\n\r\nno line break at the end.",
        b"Subject: only a dot\r\n\r\n.",
    ],
    ids=["dotted-lines", "leading-dot", "ends-with-a-dot"],
)
def test_lines_starting_with_a_dot_arrive_as_written(relay: Relay, data: bytes) -> None:
    transport = SmtpTransport(SmtpSettings(host="127.0.0.1", port=relay.port, security="none"), "")
    try:
        transport.send("news@example.org", "ann@example.net", data)
        transport.send("news@example.org", "bob@example.net", data)
    finally:
        transport.close()
    whole = data if data.endswith(b"\r\n") else data + b"\r\n"
    assert relay.handler.received() == [("ann@example.net", whole), ("bob@example.net", whole)]


@pytest.mark.parametrize(
    "command", [["send"], ["send", "--test", "ann@example.org"]], ids=["send", "send-test"]
)
def test_no_plain_text_to_a_remote_relay(
    runner: CliRunner, make_site: MakeSite, command: list[str]
) -> None:
    root = make_site(
        ARTICLES,
        extra=NEWSLETTER + smtp_settings(25).replace('"127.0.0.1"', '"mail.example.org"'),
    )
    subscribe(root, readers(2))
    make_issue(root)
    result = invoke(runner, "--site", root, *command, "--now", NOW_ARG)
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        'Error: [smtp] security = "none" would send mail and password unencrypted to '
        "mail.example.org; use starttls or ssl, or set allow_insecure = true if that network "
        "is yours\n"
    )
    assert set(status_counts(root)) <= {"pending"}
    assert issue_status(root) == "ready"


# -- unsubscribing while an issue is sending ---------------------------------------------------


@pytest.mark.parametrize("connections", [1, 2], ids=lambda n: f"{n}-connections")
def test_who_unsubscribes_during_a_send_is_skipped(
    relay: Relay, make_site: MakeSite, connections: int
) -> None:
    root = smtp_site(make_site, relay.port, connections)
    people = readers(10)
    subscribe(root, people)
    make_issue(root)
    site = load(root)
    leaver = "reader007@example.net"
    token = make_token(load_secret(site.state_dir), list_id(site), leaver)
    app = UnsubscribeApp(site)
    answers: list[str] = []

    def one_click(number: int) -> None:
        # While the first message is at the relay, the leaver clicks in their mail client.
        if number == 1:
            answers.append(wsgi(app, "POST", f"t={token}", ONE_CLICK)[0])

    relay.handler.on_message = one_click
    report = send_issue(site, 1, NOW)
    assert answers == ["200 OK"]
    assert (report.sent, report.skipped, report.finished) == (9, 1, True)
    copies = relay.handler.copies()
    assert leaver not in copies
    assert copies == Counter({a: 1 for a, _ in people if a != leaver})
    assert deliveries(root)[leaver][0] == "skipped"
    assert subscriber(root, leaver) == ("unsubscribed", 0)
    assert issue_status(root) == "sent"


# -- the pacer ---------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [1, 10, 14], ids=lambda r: f"rate-{r}")
def test_the_pacer_spaces_messages_across_threads(rate: int) -> None:
    clock = [100.0]
    slept = threading.local()

    def sleep(seconds: float) -> None:
        slept.total = getattr(slept, "total", 0.0) + seconds

    pacer = Pacer(rate, clock=lambda: clock[0], sleep=sleep)
    moments: list[float] = []

    def connection() -> None:
        for _ in range(5):
            slept.total = 0.0
            pacer.wait()
            moments.append(clock[0] + slept.total)

    threads = [threading.Thread(target=connection) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(moments) == pytest.approx([100.0 + i / rate for i in range(20)])

    # Once the clock is past the last slot, the next message goes at once; the one after waits.
    clock[0] = 200.0
    slept.total = 0.0
    pacer.wait()
    assert slept.total == 0.0
    pacer.wait()
    assert slept.total == pytest.approx(1 / rate)


def test_no_rate_means_no_waiting() -> None:
    def fail(*args: object) -> NoReturn:
        raise AssertionError("a pacer without a rate must not read the clock or sleep")

    pacer = Pacer(0, clock=fail, sleep=fail)
    for _ in range(3):
        pacer.wait()


def test_every_message_passes_the_pacer(relay: Relay, make_site: MakeSite) -> None:
    root = smtp_site(make_site, relay.port, connections=2)
    subscribe(root, readers(20))
    make_issue(root)
    waits: list[float] = []
    pacer = Pacer(10, clock=lambda: 50.0, sleep=waits.append)
    report = send_issue(load(root), 1, NOW, pacer=pacer)
    assert report.sent == 20
    assert sorted(waits) == pytest.approx([i / 10 for i in range(1, 20)])


# -- --dry-run and --test ----------------------------------------------------------------------


def test_dry_run_sends_and_records_nothing(
    runner: CliRunner, relay: Relay, make_site: MakeSite
) -> None:
    root = smtp_site(make_site, relay.port)
    subscribe(root, readers(3))
    make_issue(root)
    result = invoke(runner, "--site", root, "send", "--dry-run", "--now", NOW_ARG)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Issue 1 is ready: would send to 3 subscribers; 0 already done, 0 deferred",
        f"Would send to: the relay 127.0.0.1:{relay.port}",
    ]
    assert relay.handler.count() == 0
    assert status_counts(root) == {}
    assert issue_status(root) == "ready"


def test_a_test_copy_goes_to_one_address_and_records_nothing(
    runner: CliRunner, relay: Relay, make_site: MakeSite
) -> None:
    root = smtp_site(make_site, relay.port)
    subscribe(root, readers(3))
    make_issue(root)
    target = "reader001@example.net"
    result = invoke(runner, "--site", root, "send", "--test", target, "--now", NOW_ARG)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Sent a test copy of issue 1 to {target}\n"
    ((rcpt, test_copy),) = relay.handler.received()
    assert rcpt == target
    assert status_counts(root) == {}
    assert issue_status(root) == "ready"

    # The test copy says it is one, and has a Message-ID of its own: a client that kept it
    # would otherwise take the real issue, with the same Message-ID, for a duplicate.
    assert parse(test_copy)["Subject"] == "[Test] Test Weekly #1: Café budget vote"
    assert invoke(runner, "--site", root, "send", "--now", NOW_ARG).exit_code == 0
    real = [raw for rcpt, raw in relay.handler.received()[1:] if rcpt == target]
    assert len(real) == 1
    assert parse(real[0])["Subject"] == "Test Weekly #1: Café budget vote"
    assert parse(real[0])["Message-ID"] != parse(test_copy)["Message-ID"]
    assert parse(test_copy)["Message-ID"].startswith("<test-1.")
    assert relay.handler.count() == 4
    assert issue_status(root) == "sent"


def test_a_test_copy_without_a_relay_goes_to_the_outbox(
    runner: CliRunner, make_site: MakeSite
) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER)
    subscribe(root, readers(2))
    make_issue(root)
    result = invoke(runner, "--site", root, "send", "--test", "Someone@Example.com")
    assert result.exit_code == 0, result.output
    folder = load(root).state_dir / "outbox" / "test"
    assert result.stdout == f"Sent a test copy of issue 1 to Someone@Example.com ({folder})\n"
    (written,) = folder.iterdir()
    assert parse(written.read_bytes())["To"] == "Someone@example.com"
    assert status_counts(root) == {}
    assert issue_status(root) == "ready"
    assert not (load(root).state_dir / "outbox" / "1").exists()


def parts_text(raw: bytes) -> str:
    message = parse(raw)
    return "".join(str(part.get_content()) for part in message.iter_parts())


def test_a_test_copys_links_carry_a_throwaway_key_that_unsubscribes_no_one(
    runner: CliRunner, relay: Relay, make_site: MakeSite
) -> None:
    # #15's note, not done 2: the test copy's links carried the address in base64 (the token of
    # the form before version 6), and so unsubscribed the real subscriber at that address.
    root = smtp_site(make_site, relay.port)
    target = "reader001@example.net"
    subscribe(root, readers(3))
    make_issue(root)

    for _ in range(2):
        result = invoke(runner, "--site", root, "send", "--test", target, "--now", NOW_ARG)
        assert result.exit_code == 0, result.output
    site = load(root)
    secret, lid = load_secret(site.state_dir), list_id(site)
    links = []
    for _, raw in relay.handler.received():
        found = re.search(r"unsubscribe\?t=([A-Za-z0-9_.-]+)", parse(raw)["List-Unsubscribe"])
        assert found is not None
        token = found[1]
        reading = read(secret, lid, token, "u", NOW)
        assert not reading.legacy  # the form of version 6, which names no address
        manage = re.search(r"manage\?t=([A-Za-z0-9_.-]+)", parts_text(raw))
        assert manage is not None
        assert read(secret, lid, manage[1], "m", NOW).key == reading.key
        links.append(token)
        with State.open(site.state_dir) as state:
            assert state.subscribers.find_token(reading.key) is None  # no one's key
    assert links[0] != links[1]  # thrown away: made for each copy

    app = UnsubscribeApp(site)
    for token in links:
        wsgi(app, "POST", f"t={token}", ONE_CLICK)
    assert subscriber(root, target) == ("active", 0)
    assert status_counts(root) == {}


def test_send_report_rate() -> None:
    assert SendReport(issue=1, sent=30, seconds=2.0).rate == 15.0
    assert SendReport(issue=1, sent=30).rate == 0.0
