"""The transactional mails (confirmation, "already subscribed", welcome, new address) and their
sender, against a real SMTP relay on loopback (aiosmtpd): what each mail says and carries (and
never carries: the name typed into the form), retries with backoff, a relay that is down, kill
-9 between the relay's yes and the record, the web process's sender thread, ``feedpub run``;
and the issue's footer link to the reader's own page."""

from __future__ import annotations

import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import html5lib
import lxml.html
import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from helpers import (
    CHILD_ENV,
    MAIL_ARTICLES,
    MAIL_NEWSLETTER,
    NOW,
    NOW_ARG,
    MakeSite,
    Recorder,
    Relay,
    free_port,
    invoke,
    load,
    make_issue,
    parse,
    smtp_settings,
    wait_until,
)
from test_signup import post_form, spawn

from feedpub.config import Site
from feedpub.delivery import signup, tokens
from feedpub.delivery.mailer import Mailer, flush, render_letter, retry_after
from feedpub.delivery.messages import PreparedIssue, Recipient, list_id
from feedpub.delivery.subscribers import normalize
from feedpub.errors import TokenError
from feedpub.placeholders import MANAGE_PLACEHOLDER
from feedpub.store.issues import UNSUBSCRIBE_PLACEHOLDER
from feedpub.store.state import State

WEB = '\n[web]\nurl = "https://news.example.org/app/"\n'
BUSY = "450 4.2.0 mailbox busy"
GONE = "550 5.1.1 no such user"
# What spammers type into other tools' name fields, to have them mail it to someone else.
HOSTILE_NAMES = {
    "spam": "Cheap pills at https://spam.example/buy now!!!",
    "header": "Bob\r\nBcc: victim@example.net",
    "html": '<a href="https://spam.example/">click</a>',
    "huge": "W" * 5000,
}


@pytest.fixture
def relay(start_relay: Callable[..., Relay]) -> Relay:
    return start_relay()


def mail_site(make_site: MakeSite, port: int | None, extra: str = "") -> Path:
    """A site with the web app at WEB's address, sending through the relay on ``port`` (None:
    the outbox)."""
    smtp = smtp_settings(port, connections=1) if port is not None else ""
    return make_site(MAIL_ARTICLES, extra=MAIL_NEWSLETTER + WEB + extra + smtp)


def queue(
    root: Path,
    kind: str,
    address: str = "reader@example.net",
    status: str = "pending",
    name: str = "",
    new_email: str = "",
) -> tuple[int, str]:
    """A subscriber of ``status`` and one ``kind`` mail queued for them, in one transaction as
    the web app does; (the row's id, the subscriber's token_key)."""
    site = load(root)
    email_, key = normalize(address)
    with State.open(site.state_dir) as state, state.transaction():
        found = state.subscribers.find(key)
        if found is None:
            found = state.subscribers.insert(email_, key, name, status, NOW.isoformat(), "form")
        target = ""
        if new_email:
            state.subscribers.set_new_email(found.id, new_email, NOW.isoformat())
            target = new_email
        row = state.outgoing.add(kind, found.id, NOW.isoformat(), target)
    return row, found.token_key


def row_of(root: Path, row: int) -> tuple[str, int, str | None, str]:
    """(status, attempts, next_attempt, last_reply) of an outgoing row."""
    with State.open(load(root).state_dir) as state:
        found = state.db.execute(
            "SELECT status, attempts, next_attempt, last_reply FROM outgoing WHERE id = ?", (row,)
        ).fetchone()
    return found[0], found[1], found[2], found[3]


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


def token_in(link_text: str, page: str) -> str:
    found = re.search(re.escape(page) + r"\?t=([A-Za-z0-9_.-]+)", link_text)
    assert found is not None, link_text
    return found[1]


def secret_and_list(root: Path) -> tuple[bytes, str]:
    site = load(root)
    return tokens.load_secret(site.state_dir), list_id(site)


def only_message(relay: Relay) -> tuple[str, bytes, EmailMessage]:
    received = relay.handler.received()
    assert len(received) == 1, [r for r, _ in received]
    to, raw = received[0]
    return to, raw, parse(raw)


# -- what each mail says ---------------------------------------------------------------------


def test_a_confirmation_carries_an_expiring_confirm_link_and_nothing_else(
    relay: Relay, make_site: MakeSite
) -> None:
    root = mail_site(make_site, relay.port)
    row, token_key = queue(root, "confirm", "Reader@Example.net", name=HOSTILE_NAMES["spam"])

    report = flush(load(root), NOW)

    assert report.counts == {"sent": 1, "deferred": 0, "failed": 0, "skipped": 0}
    assert report.error is None
    to, raw, message = only_message(relay)
    assert to == "Reader@example.net"
    assert b"\r\nTo: <Reader@example.net>\r\n" in raw  # no name
    assert message["Subject"] == "Confirm your subscription to Test Weekly"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["From"] == "Test Gazette <news@news.example.org>"
    assert "List-Unsubscribe" not in message  # not on the list until confirmed
    text, html = parts(message)
    link = token_in(text, "https://news.example.org/app/confirm")
    assert token_in(html, "https://news.example.org/app/confirm") == link
    secret, lid = secret_and_list(root)
    reading = tokens.read(secret, lid, link, "c", NOW)
    assert (reading.key, reading.legacy, reading.expired) == (token_key, False, False)
    assert tokens.read(secret, lid, link, "c", NOW + timedelta(days=6, hours=23)).expired is False
    assert tokens.read(secret, lid, link, "c", NOW + timedelta(days=7, minutes=1)).expired is True
    assert "December 4, 2026" in text  # the last day the link works, said in words
    assert row_of(root, row)[0] == "sent"
    # Sent once: a flush again (now or later) sends nothing more.
    assert flush(load(root), NOW + timedelta(hours=1)).sent == 0
    assert relay.handler.count() == 1


@pytest.mark.parametrize("kind", ["confirm", "already", "address"])
@pytest.mark.parametrize("name", list(HOSTILE_NAMES.values()), ids=list(HOSTILE_NAMES))
def test_a_mail_before_a_confirmation_never_carries_the_name(
    relay: Relay, make_site: MakeSite, kind: str, name: str
) -> None:
    root = mail_site(make_site, relay.port)
    status = "pending" if kind == "confirm" else "active"
    new = "moved@example.org" if kind == "address" else ""
    queue(root, kind, status=status, name=name, new_email=new)

    assert flush(load(root), NOW).sent == 1

    _, raw, message = only_message(relay)
    text, html = parts(message)
    for piece in ("spam.example", "victim", "Bob", "WWWW", "pills"):
        assert piece not in text + html
        assert piece.encode() not in raw
    assert message["Auto-Submitted"] == "auto-generated"


def test_already_subscribed_carries_the_manage_link(relay: Relay, make_site: MakeSite) -> None:
    root = mail_site(make_site, relay.port)
    _, token_key = queue(root, "already", status="active")

    flush(load(root), NOW)

    _, _, message = only_message(relay)
    assert message["Subject"] == "You are subscribed to Test Weekly"
    text, html = parts(message)
    link = token_in(text, "https://news.example.org/app/manage")
    assert token_in(html, "https://news.example.org/app/manage") == link
    secret, lid = secret_and_list(root)
    assert tokens.read(secret, lid, link, "m", NOW).key == token_key
    assert "confirm?t=" not in text + html


def test_an_address_change_is_confirmed_from_the_new_address(
    relay: Relay, make_site: MakeSite
) -> None:
    root = mail_site(make_site, relay.port)
    _, token_key = queue(root, "address", status="active", new_email="Moved@Example.org")

    flush(load(root), NOW)

    to, _, message = only_message(relay)
    assert to == "Moved@example.org"
    assert message["Subject"] == "Confirm your new address for Test Weekly"
    text, _ = parts(message)
    link = token_in(text, "https://news.example.org/app/confirm")
    secret, lid = secret_and_list(root)
    new_key = normalize("Moved@Example.org")[1]
    reading = tokens.read(secret, lid, link, "a", NOW, extra_for=lambda key: new_key)
    assert (reading.key, reading.expired) == (token_key, False)
    # Bound to that new address: it cannot confirm another one asked for later.
    with pytest.raises(TokenError):
        tokens.read(secret, lid, link, "a", NOW, extra_for=lambda key: "other@example.org")


def test_an_address_change_replaced_by_a_newer_one_is_not_sent(
    relay: Relay, make_site: MakeSite
) -> None:
    root = mail_site(make_site, relay.port)
    first, _ = queue(root, "address", status="active", new_email="first@example.org")
    queue(root, "address", status="active", new_email="second@example.org")

    report = flush(load(root), NOW)

    assert (report.sent, report.skipped) == (1, 1)
    assert [to for to, _ in relay.handler.received()] == ["second@example.org"]
    assert row_of(root, first)[0] == "failed"
    assert "newer address change" in row_of(root, first)[3]


@pytest.mark.parametrize(
    "target",
    ["not an address", "x@example.org\r\nBcc: victim@example.net", "a" * 400 + "@example.org"],
    ids=["no-at", "header-injection", "huge"],
)
def test_a_queued_address_no_mail_can_carry_is_closed_and_the_rest_go(
    relay: Relay, make_site: MakeSite, target: str
) -> None:
    root = mail_site(make_site, relay.port)
    site = load(root)
    with State.open(site.state_dir) as state, state.transaction():
        who = state.subscribers.insert("old@example.net", "old@example.net", "", "active", "x")
        state.subscribers.set_new_email(who.id, target, NOW.isoformat())
        bad = state.outgoing.add("address", who.id, NOW.isoformat(), target)
    queue(root, "confirm")

    report = flush(site, NOW)

    assert (report.sent, report.skipped, report.error) == (1, 1, None)
    assert [to for to, _ in relay.handler.received()] == ["reader@example.net"]
    assert row_of(root, bad)[::3] == ("failed", "not sent: the address is not valid")


def test_a_flush_with_nothing_owed_does_not_reach_for_the_relay(make_site: MakeSite) -> None:
    root = mail_site(make_site, free_port())  # nothing listens: reaching for it would fail

    report = flush(load(root), NOW)

    assert (report.counts, report.error) == (
        {"sent": 0, "deferred": 0, "failed": 0, "skipped": 0},
        None,
    )
    assert not (load(root).state_dir / "secret").exists()


def test_the_welcome_links_the_latest_issue_and_is_a_list_message(
    relay: Relay, make_site: MakeSite
) -> None:
    root = mail_site(make_site, relay.port)
    make_issue(root)
    with State.open(load(root).state_dir) as state:
        state.issues.mark_sent(1, NOW.isoformat())
    _, token_key = queue(root, "welcome", status="active", name="Ann Reader")

    flush(load(root), NOW)

    _, _, message = only_message(relay)
    assert message["To"] == "Ann Reader <reader@example.net>"  # confirmed: as the issues are
    assert message["Subject"] == "Welcome to Test Weekly"
    assert "Auto-Submitted" not in message
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    secret, lid = secret_and_list(root)
    unsubscribe = token_in(message["List-Unsubscribe"], "https://news.example.org/app/unsubscribe")
    assert tokens.read(secret, lid, unsubscribe, "u", NOW).key == token_key
    text, html = parts(message)
    for body in (text, html):
        assert "https://news.example.org/issues/1/" in body
        manage = token_in(body, "https://news.example.org/app/manage")
        assert tokens.read(secret, lid, manage, "m", NOW).key == token_key
        assert token_in(body, "https://news.example.org/app/unsubscribe") == unsubscribe


def test_a_welcome_before_any_issue_says_the_first_is_coming(
    relay: Relay, make_site: MakeSite
) -> None:
    root = mail_site(make_site, relay.port)
    make_issue(root)  # made, not sent: not in the welcome
    queue(root, "welcome", status="active")

    flush(load(root), NOW)

    text, html = parts(only_message(relay)[2])
    assert "The first issue is on its way." in text
    assert "/issues/1/" not in text + html


def test_no_welcome_when_the_newsletter_sends_none(relay: Relay, make_site: MakeSite) -> None:
    root = make_site(
        MAIL_ARTICLES,
        extra=MAIL_NEWSLETTER + "welcome = false\n" + WEB + smtp_settings(relay.port, 1),
    )
    row, _ = queue(root, "welcome", status="active")

    report = flush(load(root), NOW)

    assert (report.sent, report.skipped) == (0, 1)
    assert relay.handler.count() == 0
    assert row_of(root, row)[0] == "failed"
    assert "[newsletter] welcome is false" in row_of(root, row)[3]


def test_a_mail_no_longer_wanted_is_not_sent(relay: Relay, make_site: MakeSite) -> None:
    root = mail_site(make_site, relay.port)
    row, _ = queue(root, "confirm")
    with State.open(load(root).state_dir) as state:
        found = state.subscribers.find("reader@example.net")
        assert found is not None
        state.subscribers.confirm(found.id, NOW.isoformat())  # confirmed through another link

    report = flush(load(root), NOW)

    assert (report.sent, report.skipped) == (0, 1)
    assert relay.handler.count() == 0
    assert row_of(root, row)[3] == "not sent: the subscriber is active now"


def test_a_site_template_replaces_the_packaged_one(relay: Relay, make_site: MakeSite) -> None:
    root = mail_site(make_site, relay.port)
    (root / "templates").mkdir()
    (root / "templates" / "welcome.txt").write_text(
        '{% set subject = "Hello from " ~ site.title %}Our own welcome. {{ manage_url }}\n',
        encoding="utf-8",
    )
    queue(root, "welcome", status="active")

    flush(load(root), NOW)

    message = only_message(relay)[2]
    assert message["Subject"] == "Hello from Test Gazette"
    text, html = parts(message)
    assert text.startswith("Our own welcome. https://news.example.org/app/manage?t=m.")
    assert "Manage your subscription</a>" in html  # the packaged HTML part stays


def test_a_broken_template_stops_the_flush_and_names_its_line(
    relay: Relay, make_site: MakeSite
) -> None:
    root = mail_site(make_site, relay.port)
    (root / "templates").mkdir()
    broken = root / "templates" / "confirm_email.txt"
    broken.write_text("Confirm:\n{{ no_such_value }}\n", encoding="utf-8")
    row, _ = queue(root, "confirm")

    report = flush(load(root), NOW)

    assert report.sent == 0
    assert report.error is not None
    assert report.error.startswith("templates/confirm_email.txt:2: error: 'no_such_value' is")
    assert relay.handler.count() == 0
    assert row_of(root, row)[0] == "pending"  # waiting for the fix, not lost

    broken.unlink()
    assert flush(load(root), NOW).sent == 1


@pytest.mark.parametrize("kind", ["confirm", "already", "welcome", "address"])
def test_every_mail_keeps_the_line_limits(relay: Relay, make_site: MakeSite, kind: str) -> None:
    root = make_site(
        MAIL_ARTICLES,
        extra=MAIL_NEWSLETTER.replace('"Test Weekly"', f'"Die Wöchentliche Zeitung {"x" * 20}"')
        + 'postal_address = "Hauptstraße 1\\n10115 Berlin"\n'
        + WEB
        + smtp_settings(relay.port, 1),
    )
    status = "pending" if kind == "confirm" else "active"
    new = "neu@bücher.example" if kind == "address" else ""
    queue(root, kind, "juergen@bücher.example", status=status, new_email=new)

    flush(load(root), NOW)

    _, raw, message = only_message(relay)
    head, _, body = raw.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        assert len(line) <= 998, line
        # Headers folded at RFC 5322's 78; a URL in angle brackets cannot be (RFC 2369), nor
        # Feedback-ID, which has no whitespace to fold at (RFC 5322 2.2.3).
        unfoldable = (b"List-Unsubscribe: <https://", b" <mailto:", b"Feedback-ID: ")
        assert len(line) <= 78 or line.startswith(unfoldable), line
    for line in body.split(b"\r\n"):
        assert len(line) <= 76, line  # quoted-printable lines (RFC 2045's 76)
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert "Wöchentliche" in str(message["Subject"])
    text, html = parts(message)
    assert "Hauptstraße 1" in text and "Hauptstraße 1" in html


@pytest.mark.parametrize("kind", ["confirm", "already", "welcome", "address"])
def test_every_mails_html_is_well_formed_with_the_texts_links(
    relay: Relay, make_site: MakeSite, kind: str
) -> None:
    root = mail_site(make_site, relay.port)
    status = "pending" if kind == "confirm" else "active"
    queue(root, kind, status=status, new_email="moved@example.org" if kind == "address" else "")

    flush(load(root), NOW)

    text, html = parts(only_message(relay)[2])
    html5lib.HTMLParser(strict=True).parse(html)  # raises at the first parse error
    page = lxml.html.fromstring(html)
    assert page.get("lang") == "en"
    assert page.findtext(".//title") == only_message(relay)[2]["Subject"]
    hrefs = set(page.xpath("//a/@href"))
    written = set(re.findall(r"https://[^\s)]+", text))
    assert hrefs == written  # the same links in both parts: no link only one of them shows


# -- the relay: refusals, retries, a relay that is down ---------------------------------------


def test_a_refused_mail_is_retried_with_backoff_then_sent(
    relay: Relay, make_site: MakeSite
) -> None:
    root = mail_site(make_site, relay.port)
    relay.handler.refuse["reader@example.net"] = (BUSY, 1)
    row, _ = queue(root, "confirm")

    first = flush(load(root), NOW)

    assert (first.sent, first.deferred) == (0, 1)
    status, attempts, next_attempt, reply = row_of(root, row)
    assert (status, attempts, reply) == ("pending", 1, BUSY)
    assert next_attempt == (NOW + retry_after(1)).isoformat()
    assert flush(load(root), NOW + timedelta(seconds=30)).sent == 0  # not due yet
    assert flush(load(root), NOW + retry_after(1)).sent == 1
    assert row_of(root, row)[0] == "sent"
    assert relay.handler.count() == 1


def test_a_permanent_refusal_fails_the_mail_at_once(relay: Relay, make_site: MakeSite) -> None:
    root = mail_site(make_site, relay.port)
    relay.handler.refuse["reader@example.net"] = (GONE, None)
    row, _ = queue(root, "confirm")

    report = flush(load(root), NOW)

    assert (report.failed, report.failures) == (1, [("confirm", GONE)])
    assert row_of(root, row)[:2] == ("failed", 1)
    assert flush(load(root), NOW + timedelta(days=1)).counts["failed"] == 0


def test_a_mail_deferred_max_attempts_times_fails(relay: Relay, make_site: MakeSite) -> None:
    root = mail_site(make_site, relay.port)
    relay.handler.refuse["reader@example.net"] = (BUSY, None)
    row, _ = queue(root, "confirm")
    most = load(root).smtp.max_attempts

    moment = NOW
    for attempt in range(1, most):
        assert flush(load(root), moment).deferred == 1
        moment += retry_after(attempt)
    assert flush(load(root), moment).failed == 1
    assert row_of(root, row)[:2] == ("failed", most)
    assert relay.handler.rcpt_attempts["reader@example.net"] == most


def test_retries_wait_a_minute_doubling_to_an_hour() -> None:
    waits = [retry_after(n) for n in range(1, 10)]
    assert waits[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert waits[-1] == timedelta(hours=1)


def test_a_relay_that_is_down_loses_nothing(make_site: MakeSite) -> None:
    port = free_port()  # nothing listens there yet
    root = mail_site(make_site, port)
    rows = [queue(root, "confirm", f"reader{i}@example.net")[0] for i in range(3)]

    down = flush(load(root), NOW)

    assert down.sent == 0
    assert down.error is not None and down.temporary
    assert "cannot connect to 127.0.0.1" in down.error
    assert [row_of(root, row)[:2] for row in rows] == [("pending", 0)] * 3  # no attempt spent

    handler = Recorder()
    controller = Controller(handler, hostname="127.0.0.1", port=port, server_hostname="localhost")
    controller.start()
    try:
        up = flush(load(root), NOW + timedelta(minutes=1))
    finally:
        controller.stop()
    assert (up.sent, up.error) == (3, None)
    assert sorted(handler.copies()) == [f"reader{i}@example.net" for i in range(3)]
    assert [row_of(root, row)[0] for row in rows] == ["sent"] * 3


def test_a_relay_failure_in_the_middle_of_a_flush_spends_no_attempt(
    relay: Relay, make_site: MakeSite
) -> None:
    # As an issue's send: a 421 is the relay's condition, not the mail's (#15's note, "Not
    # done" 1). The second mail's DATA gets a 421, and so does its one retry on a fresh
    # connection: the flush stops there.
    root = mail_site(make_site, relay.port)
    rows = [queue(root, "confirm", f"reader{i}@example.net")[0] for i in range(3)]
    relay.handler.drops = {2: "421", 3: "421"}

    stopped = flush(load(root), NOW)

    assert (stopped.sent, stopped.deferred, stopped.failed) == (1, 0, 0)
    assert stopped.error is not None and "421" in stopped.error and stopped.temporary
    assert [row_of(root, row)[:2] for row in rows] == [("sent", 1), ("pending", 0), ("pending", 0)]
    assert row_of(root, rows[1])[2] is None  # due at once, as it was

    # max_attempts such stops would have given the mail up: none is spent, so it goes.
    for moment in range(load(root).smtp.max_attempts):
        done = relay.handler.data_commands
        relay.handler.drops = {done + 1: "421", done + 2: "421"}
        assert flush(load(root), NOW + timedelta(minutes=moment)).sent == 0
    assert [row_of(root, row)[:2] for row in rows[1:]] == [("pending", 0)] * 2
    relay.handler.drops = {}
    resumed = flush(load(root), NOW + timedelta(hours=1))
    assert (resumed.sent, resumed.error) == (2, None)
    assert relay.handler.copies() == {f"reader{i}@example.net": 1 for i in range(3)}
    assert [row_of(root, row)[:2] for row in rows] == [("sent", 1)] * 3


def test_the_outbox_keeps_each_mail_apart(make_site: MakeSite) -> None:
    root = mail_site(make_site, None)
    queue(root, "confirm")
    assert flush(load(root), NOW).sent == 1
    with State.open(load(root).state_dir) as state:
        found = state.subscribers.find("reader@example.net")
        assert found is not None
        state.subscribers.confirm(found.id, NOW.isoformat())
    queue(root, "welcome")  # the same reader: a file of its own, not the confirmation's

    assert flush(load(root), NOW).sent == 1

    outbox = load(root).state_dir / "outbox"
    files = sorted(outbox.glob("mail-*/*.eml"))
    assert [f.name for f in files] == ["reader@example.net.eml"] * 2
    subjects = {str(parse(f.read_bytes())["Subject"]) for f in files}
    assert subjects == {"Confirm your subscription to Test Weekly", "Welcome to Test Weekly"}


# -- kill -9 between the relay's yes and the record ---------------------------------------------

FLUSH_CHILD = """
import sys
from datetime import datetime
from feedpub.config import load
from feedpub.delivery.mailer import flush
report = flush(load(sys.argv[1]), datetime.fromisoformat(sys.argv[2]))
print(report.counts, report.error)
"""


def test_a_kill_after_the_relays_yes_sends_at_most_one_duplicate(
    relay: Relay, make_site: MakeSite
) -> None:
    root = mail_site(make_site, relay.port)
    row, _ = queue(root, "confirm")
    db_path = load(root).state_dir / "state.db"
    held: list[sqlite3.Connection] = []
    taken = threading.Event()

    def hold_the_state(number: int) -> None:
        # The relay has the message; before its 250 goes out, the state is locked, so that the
        # sender, told yes, cannot record it: the kill lands between the yes and the record.
        lock = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
        lock.execute("BEGIN IMMEDIATE")
        held.append(lock)
        taken.set()

    relay.handler.on_message = hold_the_state
    env = {**CHILD_ENV, "FEEDPUB_BUSY_TIMEOUT": "60"}
    proc = subprocess.Popen(
        [sys.executable, "-c", FLUSH_CHILD, str(root), NOW_ARG],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        wait_until(taken.is_set, proc)
        wait_until(lambda: relay.handler.count() == 1, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        for lock in held:
            lock.execute("ROLLBACK")
            lock.close()
    assert proc.returncode == -signal.SIGKILL
    relay.handler.on_message = None
    assert row_of(root, row)[0] == "sending"  # the yes was never recorded

    # The claim holds for ten minutes: a flush within them does not send it again...
    assert flush(load(root), NOW + timedelta(minutes=9)).sent == 0
    assert relay.handler.count() == 1
    # ... and one after sends it once more: one duplicate, never none.
    assert flush(load(root), NOW + timedelta(minutes=11)).sent == 1
    assert row_of(root, row)[0] == "sent"
    assert flush(load(root), NOW + timedelta(hours=1)).sent == 0
    assert relay.handler.copies() == {"reader@example.net": 2}


# One trial in the default run, ten with -m slow.
KILL_TRIALS = [0, *(pytest.param(n, marks=pytest.mark.slow) for n in range(1, 10))]


@pytest.mark.parametrize("trial", KILL_TRIALS, ids=lambda n: f"trial-{n}")
def test_kill_9_at_a_random_moment_of_a_flush_loses_nothing(
    relay: Relay, make_site: MakeSite, trial: int
) -> None:
    relay.handler.delay = 0.01  # so that the flush is still running when it is killed
    root = mail_site(make_site, relay.port)
    people = [f"reader{i:02}@example.net" for i in range(60)]
    rows = [queue(root, "confirm", address)[0] for address in people]
    after = random.Random(trial).randint(1, 40)
    proc = subprocess.Popen(
        [sys.executable, "-c", FLUSH_CHILD, str(root), NOW_ARG],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=CHILD_ENV,
    )
    try:
        wait_until(lambda: relay.handler.count() >= after, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    report = flush(load(root), NOW + timedelta(minutes=11))  # past the killed one's claim

    assert report.error is None
    copies = relay.handler.copies()
    assert set(copies) == set(people)  # none lost
    assert max(copies.values()) <= 2
    assert sum(copies.values()) - len(people) <= 1  # one connection: one mail in flight
    assert {row_of(root, row)[0] for row in rows} == {"sent"}


# -- the web process's sender thread, feedpub run ----------------------------------------------


def test_the_sender_thread_sends_a_row_when_woken(relay: Relay, make_site: MakeSite) -> None:
    root = mail_site(make_site, relay.port)
    site = load(root)
    mailer = Mailer(site, poll=3600)  # no poll in this test's time: only the wake sends
    mailer.start()
    thread = mailer.thread
    try:
        wait_until(lambda: mailer.last is not None)  # its first flush: nothing owed
        row, _ = queue(root, "confirm")
        mailer.wake()
        wait_until(lambda: relay.handler.count() == 1, timeout=10)
        wait_until(lambda: row_of(root, row)[0] == "sent", timeout=10)
    finally:
        mailer.stop(timeout=10)
    # Stopped at once, though its next poll was an hour away.
    assert thread is not None and not thread.is_alive()
    assert mailer.thread is None
    assert only_message(relay)[0] == "reader@example.net"


def test_the_sender_thread_sends_what_another_process_queued(
    relay: Relay, make_site: MakeSite
) -> None:
    root = mail_site(make_site, relay.port)
    queue(root, "confirm", "early@example.net")  # owed from before the server started
    mailer = Mailer(load(root), poll=0.05)
    mailer.start()
    try:
        wait_until(lambda: relay.handler.count() == 1, timeout=10)
        queue(root, "confirm", "later@example.net")  # no wake: found by the poll
        wait_until(lambda: relay.handler.count() == 2, timeout=10)
    finally:
        mailer.stop()
    assert sorted(relay.handler.copies()) == ["early@example.net", "later@example.net"]


def test_the_sender_thread_outlives_a_relay_that_is_down(make_site: MakeSite) -> None:
    root = mail_site(make_site, free_port())
    queue(root, "confirm")
    mailer = Mailer(load(root), poll=3600)
    mailer.start()
    try:
        wait_until(lambda: mailer.last is not None and mailer.last.error is not None)
        assert mailer.thread is not None and mailer.thread.is_alive()
    finally:
        mailer.stop()


def test_feedpub_serve_sends_the_confirmation_and_the_welcome_at_once(
    relay: Relay, make_site: MakeSite
) -> None:
    root = make_site(
        MAIL_ARTICLES,
        extra=MAIL_NEWSLETTER
        + '\n[web]\nurl = "https://news.example.org/"\n'
        + smtp_settings(relay.port, 1),
    )
    server, url = spawn(load(root))
    try:
        assert post_form(url + "subscribe", {"email": "new@example.net", "name": "Eve"}) == 200
        # Sent by the server's own sender thread, woken by the request: no run, no poll.
        wait_until(lambda: relay.handler.count() == 1, timeout=10)
        text, _ = parts(parse(relay.handler.received()[0][1]))
        token = token_in(text, "https://news.example.org/confirm")
        assert post_form(url + "confirm", {"t": token}) == 200
        wait_until(lambda: relay.handler.count() == 2, timeout=10)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()
    subjects = [str(parse(raw)["Subject"]) for _, raw in relay.handler.received()]
    assert subjects == ["Confirm your subscription to Test Weekly", "Welcome to Test Weekly"]
    assert set(relay.handler.copies()) == {"new@example.net"}


def test_the_module_app_under_another_server_sends_the_confirmation_itself(
    relay: Relay, make_site: MakeSite
) -> None:
    """``feedpub.web:app`` run by a WSGI server other than ``feedpub serve`` (waitress-serve
    here; gunicorn's workers load it the same way) starts its own sender at its first request:
    the confirmation leaves at once, without waiting for a ``feedpub run``."""
    root = make_site(
        MAIL_ARTICLES,
        extra=MAIL_NEWSLETTER
        + '\n[web]\nurl = "https://news.example.org/"\n'
        + smtp_settings(relay.port, 1),
    )
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "waitress-serve"),
            f"--listen=127.0.0.1:{port}",
            "feedpub.web:app",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**CHILD_ENV, "FEEDPUB_SITE": str(root)},
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until(lambda: listening(port), timeout=20)
        assert post_form(url + "subscribe", {"email": "new@example.net"}) == 200
        wait_until(lambda: relay.handler.count() == 1, timeout=10)
    finally:
        server.terminate()
        server.communicate(timeout=20)
    subject = str(parse(relay.handler.received()[0][1])["Subject"])
    assert subject == "Confirm your subscription to Test Weekly"


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_feedpub_run_sends_what_is_owed(
    relay: Relay, make_site: MakeSite, runner: CliRunner
) -> None:
    root = mail_site(make_site, relay.port)
    queue(root, "confirm", "owed@example.net")

    result = invoke(runner, "--site", root, "run", "--now", NOW_ARG)

    assert result.exit_code == 0, result.output
    assert "owed@example.net" in relay.handler.copies()
    assert "Sent 1 email owed to readers (confirmations, welcomes)" in result.output


def test_feedpub_run_with_the_relay_down_keeps_what_is_owed_and_exits_75(
    make_site: MakeSite, runner: CliRunner
) -> None:
    # No issue is due: the mail owed is all this run has to send.
    newsletter = MAIL_NEWSLETTER.replace('schedule = "weekly"', 'schedule = "manual"')
    root = make_site(MAIL_ARTICLES, extra=newsletter + WEB + smtp_settings(free_port(), 1))
    row, _ = queue(root, "confirm", "owed@example.net")

    result = invoke(runner, "--site", root, "run", "--now", NOW_ARG)

    assert result.exit_code == 75, result.output
    assert "Error: the emails owed to readers: cannot connect to 127.0.0.1" in result.output
    assert row_of(root, row)[:2] == ("pending", 0)


# -- the issue's footer: the reader's own page ------------------------------------------------


def test_every_issue_links_the_readers_own_page(make_site: MakeSite) -> None:
    root = mail_site(make_site, None)
    record = make_issue(root)
    assert MANAGE_PLACEHOLDER in record.text and MANAGE_PLACEHOLDER in record.html
    site = load(root)
    secret, lid = secret_and_list(root)
    reader = Recipient(7, "reader@example.net", "", "reader@example.net", "k" * 22)

    message = parse(PreparedIssue(site, record).render(reader, secret, NOW))

    text, html = parts(message)
    for body in (text, html):
        assert MANAGE_PLACEHOLDER not in body and UNSUBSCRIBE_PLACEHOLDER not in body
        manage = token_in(body, "https://news.example.org/app/manage")
        assert tokens.read(secret, lid, manage, "m", NOW).key == "k" * 22
    assert "Manage your subscription: https://news.example.org/app/manage?t=m." in text
    assert ">Manage your subscription</a>" in html


def test_the_letters_render_without_a_state(test_site: Site) -> None:
    letter = render_letter(
        test_site, "confirm", {"confirm_url": "https://x.example/c?t=1", "expires": NOW}
    )
    assert letter.subject == "Confirm your subscription to T"
    assert "https://x.example/c?t=1" in letter.text and "https://x.example/c?t=1" in letter.html


@pytest.mark.parametrize("status", ["unsubscribed", "bounced", "complained"])
def test_someone_who_left_signs_up_again_gets_a_confirmation_and_rejoins_by_it(
    relay: Relay, make_site: MakeSite, status: str
) -> None:
    # The form's post for an address that left queues a confirmation; the confirmation is the
    # fresh consent that brings them back, so it must be sent whatever their status is now.
    root = mail_site(make_site, relay.port)
    site = load(root)
    email_, key = normalize("back@example.net")
    with State.open(site.state_dir) as state:
        with state.transaction():
            found = state.subscribers.insert(email_, key, "", status, NOW.isoformat(), "form")
        secret = tokens.load_secret(site.state_dir)
        form = signup.read_form(site, {"email": ["back@example.net"]})
        with state.transaction():
            assert signup.sign_up(state, site, secret, form, "192.0.2.7", NOW)
        waiting = state.subscribers.find(key)
        assert waiting is not None and waiting.status == status  # nothing yet: not confirmed

    assert flush(load(root), NOW).sent == 1

    _, _, message = only_message(relay)
    text, _ = parts(message)
    link = token_in(text, "https://news.example.org/app/confirm")
    with State.open(site.state_dir) as state, state.transaction():
        assert signup.confirm(state, site, secret, link, NOW).kind == "joined"
        rejoined = state.subscribers.find_id(found.id)
    assert rejoined is not None and rejoined.status == "active"
