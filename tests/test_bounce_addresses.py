"""Addresses that say who bounced, on the wire: with ``[smtp] bounce_address`` a real SMTP
server on 127.0.0.1 (aiosmtpd) sees each issue's message come from the reader's own
``bounces+TOKEN@`` address, with their own ``unsubscribe+TOKEN@`` mailto and the issue's
Feedback-ID; confirmations and welcomes come from the reader's bounce address too, a new
address's confirmation and a test copy from the plain sender; the outbox writes the same
envelope as Return-Path. What comes back to those addresses acts on the right reader, and a
reader whose status changes while an issue is sending gets nothing after that moment."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from helpers import (
    MAIL_ARTICLES,
    MAIL_NEWSLETTER,
    NOW,
    MakeSite,
    Recorder,
    free_port,
    load,
    make_issue,
    parse,
    readers,
    smtp_site,
    subscribe,
)
from werkzeug.test import Client

from feedpub.config import Site
from feedpub.delivery import tokens, verp
from feedpub.delivery.events import Event, apply
from feedpub.delivery.identity import list_id
from feedpub.delivery.imports import import_text
from feedpub.delivery.mailer import flush
from feedpub.delivery.sending import send_issue, send_test
from feedpub.delivery.subscribers import Subscribers, normalize
from feedpub.delivery.tokens import load_secret
from feedpub.delivery.web import WebApp
from feedpub.store.state import State
from feedpub.store.subscribers import Subscriber

BOUNCE = 'bounce_address = "bounces@news.example.org"\n'
WEB = '\n[web]\nurl = "https://news.example.org/app/"\n'
PLAIN = "news@news.example.org"  # MAIL_NEWSLETTER's from
MAILTO = re.compile(r"<mailto:([^?>]+)\?subject=unsubscribe>")


class Envelopes(Recorder):
    """A Recorder that also keeps the envelope sender (MAIL FROM) of each recipient's copy."""

    def __init__(self) -> None:
        super().__init__()
        self.senders: dict[str, list[str]] = {}

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.senders.setdefault(rcpt, []).append(str(envelope.mail_from))
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def relay() -> Iterator[tuple[Envelopes, int]]:
    handler = Envelopes()
    controller = Controller(
        handler, hostname="127.0.0.1", port=free_port(), server_hostname="localhost"
    )
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


def reader_of(site: Site, address: str, purpose: str) -> tuple[Subscriber, int | None]:
    """Whom a VERP address of ``purpose`` names, and which issue; fails if it is not ours."""
    found = verp.address_token(site, address)
    assert found is not None and found[0] == purpose, address
    reading = verp.read(load_secret(site.state_dir), list_id(site), found[1])
    assert reading.purpose == purpose
    with State.open(site.state_dir) as state:
        who = state.subscribers.find_token(reading.token_key)
    assert who is not None
    return who, reading.issue


def mailto(message: EmailMessage) -> str:
    match = MAILTO.search(" ".join(str(message["List-Unsubscribe"]).split()))
    assert match is not None, message["List-Unsubscribe"]
    return match.group(1)


def test_each_reader_gets_their_own_bounce_and_unsubscribe_address(
    relay: tuple[Envelopes, int], make_site: MakeSite
) -> None:
    handler, port = relay
    root = smtp_site(make_site, port, extra=BOUNCE)
    subscribe(root, readers(6))
    make_issue(root)
    report = send_issue(load(root), 1, NOW)
    assert report.sent == 6 and report.finished
    site = load(root)
    senders: set[str] = set()
    for rcpt, data in handler.received():
        [sender] = handler.senders[rcpt]
        senders.add(sender)
        local, _, domain = sender.partition("@")
        assert domain == "news.example.org" and local.startswith("bounces+b-")
        assert len(local) <= 64
        assert rcpt.split("@")[0] not in sender  # the token names no one
        who, issue = reader_of(site, sender, "b")
        assert (who.email, issue) == (rcpt, 1)
        message = parse(data)
        who, issue = reader_of(site, mailto(message), "u")
        assert (who.email, issue) == (rcpt, 1)
        assert message["Feedback-ID"] == f"1:{list_id(site)}:news.example.org"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert len(senders) == 6


def test_without_a_bounce_address_the_envelope_and_mailto_are_as_before(
    relay: tuple[Envelopes, int], make_site: MakeSite
) -> None:
    handler, port = relay
    root = smtp_site(make_site, port)
    subscribe(root, readers(2))
    make_issue(root)
    send_issue(load(root), 1, NOW)
    site = load(root)
    for rcpt, data in handler.received():
        assert handler.senders[rcpt] == [PLAIN]
        message = parse(data)
        assert mailto(message) == "letters@news.example.org"
        assert message["Feedback-ID"] == f"1:{list_id(site)}:news.example.org"


def test_a_test_copy_comes_from_the_plain_sender(
    relay: tuple[Envelopes, int], make_site: MakeSite
) -> None:
    handler, port = relay
    root = smtp_site(make_site, port, extra=BOUNCE)
    subscribe(root, [("editor@example.org", "Ed")])  # even to a subscriber's own address
    record = make_issue(root)
    site = load(root)
    send_test(site, record, "editor@example.org")
    assert handler.senders["editor@example.org"] == [PLAIN]
    # Its mailto is the plain one, or (a test copy whose links carry a key of no one) an
    # unsubscribe address that names no subscriber: mailing it unsubscribes no one.
    address = mailto(parse(handler.received()[0][1]))
    found = verp.address_token(site, address)
    if found is None:
        assert address == "letters@news.example.org"
    else:
        reading = verp.read(load_secret(site.state_dir), list_id(site), found[1])
        with State.open(site.state_dir) as state:
            assert state.subscribers.find_token(reading.token_key) is None
        event = Event("unsubscribe", "inbox", token=found[1])
        with State.open(site.state_dir) as state:
            assert apply(site, state, event, NOW).change == "unknown subscriber"


def test_a_bounce_to_the_envelope_sender_bounces_that_reader_only(
    relay: tuple[Envelopes, int], make_site: MakeSite
) -> None:
    handler, port = relay
    root = smtp_site(make_site, port, extra=BOUNCE)
    subscribe(root, readers(3))
    make_issue(root)
    send_issue(load(root), 1, NOW)
    site = load(root)
    target = "reader001@example.net"
    [sender] = handler.senders[target]
    found = verp.address_token(site, sender.upper())  # bounce generators change the case
    assert found is not None
    with State.open(site.state_dir) as state:
        event = Event("hard", "inbox", "5.1.1 user unknown", found[1], key="mail:1")
        assert apply(site, state, event, NOW).change == "bounced"
        assert {s.email: s.status for s in Subscribers(state).iter()} == {
            "reader000@example.net": "active",
            target: "bounced",
            "reader002@example.net": "active",
        }
        assert state.events.figures(1).hard == 1


def test_the_outbox_writes_the_envelope_sender_as_return_path(make_site: MakeSite) -> None:
    root = make_site(MAIL_ARTICLES, extra=MAIL_NEWSLETTER + "\n[smtp]\n" + BOUNCE)
    site = load(root)
    assert not site.has_smtp  # no host: the outbox
    subscribe(root, readers(3))
    make_issue(root)
    send_issue(site, 1, NOW)
    files = sorted((site.state_dir / "outbox" / "1").glob("*.eml"))
    assert len(files) == 3
    for path in files:
        raw = path.read_bytes()
        first, _, _ = raw.partition(b"\r\n")
        match = re.fullmatch(rb"Return-Path: <(bounces\+b-[a-z0-9-]+@news\.example\.org)>", first)
        assert match is not None, first
        who, issue = reader_of(site, match.group(1).decode(), "b")
        assert (f"{who.email}.eml", issue) == (path.name, 1)
        assert reader_of(site, mailto(parse(raw)), "u")[0].email == who.email


# -- the mails a reader's own action asks for ------------------------------------------------


def queue(site: Site, kind: str, address: str, status: str, new_email: str = "") -> Subscriber:
    email, key = normalize(address)
    with State.open(site.state_dir) as state, state.transaction():
        found = state.subscribers.insert(email, key, "", status, NOW.isoformat(), "form")
        if new_email:
            state.subscribers.set_new_email(found.id, new_email, NOW.isoformat())
        state.outgoing.add(kind, found.id, NOW.isoformat(), new_email)
    return found


@pytest.mark.parametrize(
    ("kind", "status", "verp_sender", "list_headers"),
    [
        ("confirm", "pending", True, False),
        ("welcome", "active", True, True),
        ("already", "active", True, False),
        ("address", "active", False, False),
    ],
)
def test_mails_a_reader_asks_for_come_from_their_bounce_address(
    relay: tuple[Envelopes, int],
    make_site: MakeSite,
    kind: str,
    status: str,
    verp_sender: bool,
    list_headers: bool,
) -> None:
    handler, port = relay
    root = smtp_site(make_site, port, extra=BOUNCE + WEB)
    site = load(root)
    new = "new@example.org" if kind == "address" else ""
    queued = queue(site, kind, "reader@example.org", status, new)
    assert flush(site, NOW).sent == 1
    [(rcpt, data)] = handler.received()
    [sender] = handler.senders[rcpt]
    message = parse(data)
    if verp_sender:
        who, issue = reader_of(site, sender, "b")
        assert (who.id, issue) == (queued.id, None)  # a bounce of it is no issue's
    else:
        # A bounce of the new address's confirmation says nothing of the address in use.
        assert (rcpt, sender) == (new, PLAIN)
    if list_headers:
        who, issue = reader_of(site, mailto(message), "u")
        assert (who.id, issue) == (queued.id, None)
        assert message["Feedback-ID"] == f"welcome:{list_id(site)}:news.example.org"
    else:
        assert message["List-Unsubscribe"] is None and message["Feedback-ID"] is None


def test_a_bounced_confirmation_leaves_the_sign_up_pending_for_good(
    relay: tuple[Envelopes, int], make_site: MakeSite
) -> None:
    handler, port = relay
    root = smtp_site(make_site, port, extra=BOUNCE + WEB)
    site = load(root)
    queue(site, "confirm", "typo@example.org", "pending")
    flush(site, NOW)
    [sender] = handler.senders["typo@example.org"]
    found = verp.address_token(site, sender)
    assert found is not None
    with State.open(site.state_dir) as state:
        assert apply(site, state, Event("hard", "inbox", "5.1.1", found[1]), NOW).change == (
            "bounced"
        )
        person = state.subscribers.find("typo@example.org")
        assert person is not None and person.status == "bounced"
        # A confirmation link clicked later changes nothing: only pending becomes active.
        state.subscribers.confirm(person.id, NOW.isoformat())
        again = state.subscribers.find("typo@example.org")
        assert again is not None and again.status == "bounced"


# -- a change while an issue is sending ------------------------------------------------------


def _change(site: Site, address: str, how: str) -> None:
    with State.open(site.state_dir) as state:
        if how == "forget":
            with state.transaction():
                Subscribers(state).forget(address, NOW)
            return
        kinds = {"bounced": "hard", "complained": "complaint", "unsubscribed": "unsubscribe"}
        done = apply(site, state, Event(kinds[how], "ses", address=address), NOW)
        assert done.change == how


@pytest.mark.parametrize("how", ["bounced", "complained", "unsubscribed", "forget"])
def test_a_reader_whose_status_changes_mid_send_gets_nothing_after(
    relay: tuple[Envelopes, int], make_site: MakeSite, how: str
) -> None:
    handler, port = relay
    root = smtp_site(make_site, port, connections=1, extra=BOUNCE)
    subscribe(root, readers(5))
    make_issue(root)
    site = load(root)
    target = "reader003@example.net"
    changed: list[int] = []

    def on_message(number: int) -> None:
        # While the relay holds the first message: the send's next claims come after.
        if number == 1:
            _change(site, target, how)
            changed.append(number)

    handler.on_message = on_message
    report = send_issue(site, 1, NOW)
    assert changed == [1]
    got = {rcpt for rcpt, _ in handler.received()}
    assert target not in got and len(got) == 4
    assert report.finished and report.skipped == 1 and report.sent == 4


# -- the web app's unsubscribes are events too -----------------------------------------------


def test_the_web_apps_unsubscribes_are_counted_in_the_figures(
    relay: tuple[Envelopes, int], make_site: MakeSite
) -> None:
    _, port = relay
    root = smtp_site(make_site, port, extra=BOUNCE + WEB)
    subscribe(root, readers(3))
    make_issue(root)
    site = load(root)
    send_issue(site, 1, NOW)
    secret, lid = load_secret(site.state_dir), list_id(site)
    client = Client(WebApp(site, clock=lambda: NOW.replace(hour=18)))
    with State.open(site.state_dir) as state:
        people = {s.email: s for s in Subscribers(state).iter()}
    one = tokens.make(secret, lid, "u", people["reader000@example.net"].token_key)
    page = tokens.make(secret, lid, "m", people["reader001@example.net"].token_key)
    for _ in range(2):  # a second click records nothing more
        answer = client.post(f"/unsubscribe?t={one}", data={"List-Unsubscribe": "One-Click"})
        assert answer.status_code == 200
        answer = client.post("/manage", data={"t": page, "action": "unsubscribe"})
        assert answer.status_code == 200
    with State.open(site.state_dir) as state:
        assert state.events.figures(1).unsubscribes == 2
        sources = [
            state.events.of_subscriber(people[a].id)
            for a in ("reader000@example.net", "reader001@example.net")
        ]
    assert [[(e[1], e[2], e[3]) for e in rows] for rows in sources] == [
        [("unsubscribe", "web", "unsubscribe link")],
        [("unsubscribe", "web", "manage page")],
    ]


# -- suppressed addresses stay suppressed ---------------------------------------------------


@pytest.mark.parametrize("status", ["bounced", "complained"])
def test_an_import_or_a_sign_up_never_re_adds_a_suppressed_address(
    relay: tuple[Envelopes, int], make_site: MakeSite, status: str
) -> None:
    _, port = relay
    root = smtp_site(make_site, port, extra=BOUNCE + WEB)
    site = load(root)
    subscribe(root, [("ann@example.org", "Ann")])
    _change(site, "ann@example.org", status)
    with State.open(site.state_dir) as state, state.transaction():
        report = import_text(Subscribers(state), "email,status\nann@example.org,active\n", NOW)
    assert (report.added, report.present) == (0, 1)
    client = Client(WebApp(site, clock=lambda: NOW))
    answer = client.post("/subscribe", data={"email": "ANN@example.org"})
    assert answer.status_code == 200
    flush(site, NOW)
    with State.open(site.state_dir) as state:
        found = state.subscribers.find("ann@example.org")
    assert found is not None and found.status == status
    # Only a confirmation clicked from the mailbox itself (fresh consent) lifts it.
    confirm = tokens.make(
        load_secret(site.state_dir), list_id(site), "c", found.token_key, NOW + timedelta(days=1)
    )
    assert client.post("/confirm", data={"t": confirm}).status_code == 200
    with State.open(site.state_dir) as state:
        again = state.subscribers.find("ann@example.org")
    assert again is not None and again.status == "active"
