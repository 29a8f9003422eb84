"""What an incoming message is taken for (feedpub.delivery.classify) and whom it is about.

The corpus in tests/data/bounces/ is written by hand in the shape real servers send (Postfix,
Exim, Office 365, Gmail, Yahoo, SES, qmail, the ARF reports of Yahoo and Microsoft's JMRP,
out-of-office replies), addressed to the VERP addresses of a list whose secret and List-Id are
CORPUS_SECRET and CORPUS_LIST_ID below, for the readers of ``key(name)``. The table says what
each file is; a second test rewrites the tokens for the readers of a real state and applies
what comes out. Hostile input (huge, nested, malformed, binary) is made here, at test time.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from pathlib import Path

import pytest
from helpers import (
    MAIL_ARTICLES,
    MAIL_NEWSLETTER,
    NEWSLETTER,
    NOW,
    MakeSite,
    load,
    make_issue,
    readers,
    subscribe,
)
from hypothesis import given
from hypothesis import strategies as st

from feedpub.config import Site
from feedpub.delivery import verp
from feedpub.delivery.classify import MAX_RECIPIENTS, Ours, classify, message_key
from feedpub.delivery.events import Event, apply_many
from feedpub.delivery.identity import list_id
from feedpub.delivery.sending import send_issue
from feedpub.delivery.subscribers import Subscribers
from feedpub.delivery.tokens import load_secret
from feedpub.store.events import MAX_DETAIL, RECEIVED_KINDS
from feedpub.store.issues import IssueRecord
from feedpub.store.state import State

CORPUS = Path(__file__).parent / "data" / "bounces"
CORPUS_SECRET = b"the corpus's secret, no site's"
CORPUS_LIST_ID = "the-ledger-weekly.ledger.millbrook.example"
BOUNCES = '\n[smtp]\nbounce_address = "bounces@news.millbrook.example"\n'
TOKEN = re.compile(r"\b[bu]-[a-z2-7]{26}-[0-9a-z]{1,4}-[a-z2-7]{16}\b", re.IGNORECASE)


def key(name: str) -> str:
    """The token_key the corpus gives the reader ``name``."""
    digest = hashlib.sha256(b"corpus:" + name.encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


# file: (kind, whom: a reader's name for a token, an address, or "" for no one, issue)
TABLE = {
    "postfix-user-unknown.eml": ("hard", "ann", 12),
    "postfix-gave-up.eml": ("soft", "ivy", 12),
    "postfix-delayed.eml": ("ignored", "jon", 12),
    "exim-plain.eml": ("hard", "ben", 12),
    "office365-recipient-not-found.eml": ("hard", "chloe", 12),
    "gmail-address-not-found.eml": ("hard", "dev", 12),
    "gmail-over-quota.eml": ("soft", "quinn", 13),
    "yahoo-failure-notice.eml": ("hard", "emma", 12),
    "ses-bounce-by-mail.eml": ("hard", "finn", 12),
    "qmail-failure.eml": ("hard", "gus", 12),
    "dsn-mangled-original.eml": ("hard", "hana", 12),
    "dsn-without-token.eml": ("hard", "rosa.diaz@partner.example", None),
    "outlook-blocklisted.eml": ("soft", "tom", 12),
    "arf-yahoo.eml": ("complaint", "kim", 12),
    "arf-microsoft-jmrp.eml": ("complaint", "leo", 12),
    "arf-auth-failure.eml": ("ignored", "", None),
    "unsubscribe-by-mail.eml": ("unsubscribe", "mia", 12),
    "ooo-english.eml": ("auto-reply", "noah", 12),
    "ooo-french.eml": ("auto-reply", "pia", 12),
    "ooo-german.eml": ("auto-reply", "olga", 12),
    "ooo-italian.eml": ("auto-reply", "rita", 12),
    "human-reply.eml": ("unknown", "sam", 12),
    "not-mail.html": ("unknown", "", None),
    "garbage.bin": ("unknown", "", None),
}

# Whose reader is named by the unsubscribe token of the copy's List-Unsubscribe, not a bounce
# token: JMRP keeps no Return-Path, and a mail to the unsubscribe address carries only that.
BY_UNSUBSCRIBE_TOKEN = {"arf-microsoft-jmrp.eml", "unsubscribe-by-mail.eml"}


@pytest.fixture
def site(make_site: MakeSite) -> Site:
    return load(make_site(extra=NEWSLETTER + BOUNCES))


@pytest.fixture
def ours(site: Site) -> Ours:
    return verp.matcher(site)


def only(events: list[Event]) -> Event:
    assert len(events) == 1, events
    return events[0]


def well_formed(events: list[Event], data: bytes) -> None:
    """What every answer keeps to, whatever the message: at least one event, known kinds, the
    message's key on each, a detail of one line that fits the state."""
    assert events
    for event in events:
        assert event.kind in RECEIVED_KINDS
        assert event.source == "inbox"
        assert event.key == message_key(data)
        assert len(event.detail) <= MAX_DETAIL
        assert event.detail.isprintable()
        assert event.detail.encode("utf-8")  # no lone surrogates: SQLite must take it


# -- the corpus -------------------------------------------------------------------------------


def test_the_table_names_every_file_of_the_corpus() -> None:
    assert sorted(p.name for p in CORPUS.iterdir()) == sorted(TABLE)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_each_message_of_the_corpus_is_classified_and_names_its_reader(
    ours: Ours, name: str
) -> None:
    kind, whom, issue = TABLE[name]
    data = (CORPUS / name).read_bytes()
    events = classify(data, ours)
    well_formed(events, data)
    event = only(events)
    assert (event.kind, event.issue) == (kind, None)
    if "@" in whom:
        assert (event.address, event.token) == (whom, "")
    elif whom:
        reading = verp.read(CORPUS_SECRET, CORPUS_LIST_ID, event.token)
        assert (reading.token_key, reading.issue) == (key(whom), issue)
        assert reading.purpose == ("u" if name in BY_UNSUBSCRIBE_TOKEN else "b")
    else:
        assert (event.token, event.address) == ("", "")


@pytest.mark.parametrize(
    ("name", "detail"),
    [
        ("postfix-user-unknown.eml", "5.1.1 550 5.1.1 <ann.lee@example.com>: Recipient address"),
        ("ses-bounce-by-mail.eml", "5.1.1 550 5.1.1 <finn.hale@example.org>"),  # not 5.0.0
        ("office365-recipient-not-found.eml", "5.1.10 550 5.1.10 RESOLVER.ADR.RecipientNotFound"),
        ("gmail-over-quota.eml", "5.2.2 552-5.2.2 The recipient's inbox is out of storage"),
        ("qmail-failure.eml", "5.1.1 Sorry, no mailbox here by that name."),
        ("yahoo-failure-notice.eml", "5.0.0 554: delivery error: dd This user doesn't have"),
        ("arf-yahoo.eml", "abuse report from Yahoo!-Mail-Feedback/2.0"),
        ("ooo-french.eml", "auto-reply: subject says 'Réponse automatique'"),
    ],
)
def test_the_detail_keeps_the_status_code_and_the_diagnostic(
    ours: Ours, name: str, detail: str
) -> None:
    assert only(classify((CORPUS / name).read_bytes(), ours)).detail.startswith(detail)


def test_the_corpus_acts_on_the_right_readers_of_a_real_state(site: Site) -> None:
    """Each file's tokens rewritten for a reader of this site's state (same purpose and issue,
    same case), then classified and applied as the inbox does: each reader changes as the
    table says, nobody else does, and reading the whole corpus again changes nothing."""
    names = sorted({whom for _, whom, _ in TABLE.values() if whom and "@" not in whom})
    with State.open(site.state_dir) as state:
        with state.transaction():
            for number in (12, 13):
                state.issues.add(
                    IssueRecord(
                        number,
                        f"urn:uuid:{number}",
                        NOW.isoformat(),
                        "sent",
                        f"#{number}",
                        "",
                        "",
                        "",
                        NOW.isoformat(),
                        (),
                    )
                )
            book = Subscribers(state)
            readers = {n: book.add(f"{n}@readers.example", "", NOW)[0] for n in names}
            rosa, _ = book.add("rosa.diaz@partner.example", "", NOW)
        secret, lid = load_secret(site.state_dir), list_id(site)
        by_key = {key(n): readers[n] for n in names}

        def rewrite(match: re.Match[str]) -> str:
            reading = verp.read(CORPUS_SECRET, CORPUS_LIST_ID, match[0])
            reader = by_key[reading.token_key]
            token = verp.make(secret, lid, reading.purpose, reader.token_key, reading.issue)
            return token.upper() if match[0].isupper() else token

        messages = [
            TOKEN.sub(rewrite, (CORPUS / n).read_bytes().decode("latin-1")).encode("latin-1")
            for n in sorted(TABLE)
        ]
        ours = verp.matcher(site)
        events = [e for data in messages for e in classify(data, ours)]
        applied = apply_many(site, events, NOW, state)
        after = {s.email: s.status for s in state.subscribers.iter()}
        again = apply_many(site, [e for d in messages for e in classify(d, ours)], NOW, state)
        assert {s.email: s.status for s in state.subscribers.iter()} == after

    becomes = {"hard": "bounced", "complaint": "complained", "unsubscribe": "unsubscribed"}
    expected = {f"{n}@readers.example": "active" for n in names}
    for kind, whom, _ in TABLE.values():
        if whom:
            address = whom if "@" in whom else f"{whom}@readers.example"
            expected[address] = becomes.get(kind, "active")
    # The one report naming its reader by address alone: this site has a bounce address, so
    # every real report carries a token, and one without could be anyone's (events.py).
    expected[rosa.email] = "active"
    assert after == expected
    assert sum(a.change == "unverified" for a in applied) == 1
    assert sum(a.change == "soft" for a in applied) == 3
    assert {a.change for a in again} == {"duplicate"}


@pytest.mark.parametrize("bounce_address", [True, False], ids=["verp", "no-bounce-address"])
def test_a_report_naming_its_reader_by_address_alone_acts_only_without_a_bounce_address(
    make_site: MakeSite, bounce_address: bool
) -> None:
    site = load(make_site(extra=NEWSLETTER + (BOUNCES if bounce_address else "")))
    with State.open(site.state_dir) as state:
        with state.transaction():
            rosa, _ = Subscribers(state).add("rosa.diaz@partner.example", "", NOW)
        data = (CORPUS / "dsn-without-token.eml").read_bytes()
        applied = apply_many(site, classify(data, verp.matcher(site)), NOW, state)
        after = state.subscribers.find_id(rosa.id)
    assert after is not None
    if bounce_address:
        assert [a.change for a in applied] == ["unverified"]
        assert after.status == "active"
    else:
        assert [a.change for a in applied] == ["bounced"]
        assert after.status == "bounced"


def test_what_comes_back_about_a_real_issue_acts_on_its_reader(make_site: MakeSite) -> None:
    """Issue 1 of a real site, written to the outbox with the envelope senders and headers a
    relay is given; what comes back about four readers' own copies (a Postfix DSN quoting its
    headers, a Yahoo-shaped ARF and a JMRP report attaching it whole, the unsubscribe mail a
    mail program sends to its List-Unsubscribe, an out-of-office) changes those readers."""
    root = make_site(MAIL_ARTICLES, extra=MAIL_NEWSLETTER + BOUNCES)
    site = load(root)
    subscribe(root, readers(6))
    make_issue(root)
    send_issue(site, 1, NOW)
    copies = {p.stem: p.read_bytes() for p in (site.state_dir / "outbox" / "1").glob("*.eml")}

    def part(name: str) -> tuple[str, bytes]:
        raw = copies[f"{name}@example.net"]
        sender = re.match(rb"Return-Path: <([^>]+)>", raw)
        assert sender is not None
        return sender[1].decode(), raw

    def headers(raw: bytes) -> bytes:
        return raw.partition(b"\r\n\r\n")[0].replace(b"\r\n", b"\n")

    sender, raw = part("reader000")
    bounce = (
        (
            f"Return-Path: <>\nTo: {sender.upper()}\nFrom: MAILER-DAEMON@mx.example.net\n"
            "Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="R"\n\n'
            "--R\nContent-Type: text/plain\n\nThe mail system\n\n--R\n"
            "Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n"
            "Final-Recipient: rfc822; reader000@example.net\nAction: failed\nStatus: 5.1.1\n\n"
            "--R\nContent-Type: text/rfc822-headers\n\n"
        ).encode()
        + headers(raw)
        + b"\n\n--R--\n"
    )
    _, raw = part("reader001")
    complaint = (
        b"From: feedback@arf.mail.yahoo.example\nTo: fbl@news.millbrook.example\n"
        b"Subject: FW: an issue\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/report; report-type=feedback-report; boundary="F"\n\n'
        b"--F\nContent-Type: text/plain\n\nAn abuse report.\n\n--F\n"
        b"Content-Type: message/feedback-report\n\nFeedback-Type: abuse\n"
        b"User-Agent: Yahoo!-Mail-Feedback/2.0\nVersion: 0.1\n\n"
        b"--F\nContent-Type: message/rfc822\n\n" + raw.replace(b"\r\n", b"\n") + b"\n--F--\n"
    )
    _, raw = part("reader002")
    jmrp = (
        b"From: staff@hotmail.example\nTo: fbl@news.millbrook.example\n"
        b"Subject: complaint about message from 198.51.100.7\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="J"\n\n--J\nContent-Type: message/rfc822\n\n'
        b"X-HmXmrOriginalRecipient: <someone@outlook.example>\n"
        + re.sub(rb"(?m)^Return-Path: .*\r\n", b"", raw).replace(b"\r\n", b"\n")
        + b"\n--J--\n"
    )
    unsubscribe_to = re.search(
        rb"<mailto:([^?>]+)\?subject=unsubscribe>", copies["reader003@example.net"]
    )
    assert unsubscribe_to is not None
    unsubscribe = (
        b"From: reader003@example.net\nTo: " + unsubscribe_to[1] + b"\nSubject: unsubscribe\n\n"
    )
    sender, _ = part("reader004")
    away = f"From: reader004@example.net\nTo: {sender}\nSubject: Out of office\n\nBack soon.\n"

    ours = verp.matcher(site)
    messages = [bounce, complaint, jmrp, unsubscribe, away.encode()]
    events = [event for data in messages for event in classify(data, ours)]
    assert [e.kind for e in events] == [
        "hard",
        "complaint",
        "complaint",
        "unsubscribe",
        "auto-reply",
    ]
    with State.open(site.state_dir) as state:
        apply_many(site, events, NOW, state)
        statuses = {s.email: s.status for s in state.subscribers.iter()}
        figures = state.events.figures(1)
    assert statuses == {
        "reader000@example.net": "bounced",
        "reader001@example.net": "complained",
        "reader002@example.net": "complained",
        "reader003@example.net": "unsubscribed",
        "reader004@example.net": "active",
        "reader005@example.net": "active",
    }
    assert (figures.sent, figures.hard, figures.complaints, figures.unsubscribes) == (6, 1, 2, 1)


# -- the rules, one by one --------------------------------------------------------------------


def dsn(
    recipients: list[tuple[str, str, str]],
    to: str = "bounces+{token}@news.millbrook.example",
    original: str = "",
) -> bytes:
    """A Postfix-shaped DSN with a block per (address, action, status); ``{token}`` in ``to``
    is ann's token for issue 12."""
    token = verp.make(CORPUS_SECRET, CORPUS_LIST_ID, "b", key("ann"), 12)
    blocks = "".join(
        f"\nFinal-Recipient: rfc822; {address}\nAction: {action}\n"
        + (f"Status: {status}\n" if status else "")
        + f"Diagnostic-Code: smtp; said {status or 'nothing'}\n"
        for address, action, status in recipients
    )
    return (
        "Return-Path: <>\n"
        f"To: {to.format(token=token)}\n"
        "From: MAILER-DAEMON@mx.example.com (Mail Delivery System)\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nThe mail system\n\n"
        "--B\nContent-Type: message/delivery-status\n\n"
        f"Reporting-MTA: dns; mx.example.com\n{blocks}\n"
        + (f"--B\nContent-Type: text/rfc822-headers\n\n{original}\n" if original else "")
        + "--B--\n"
    ).encode()


@pytest.mark.parametrize(
    ("action", "status", "kind"),
    [
        ("failed", "5.1.1", "hard"),
        ("failed", "5.4.4", "hard"),
        ("failed", "5.0.0", "hard"),
        ("failed", "", "hard"),  # failed says permanent (RFC 3464 2.3.3) when no status does
        ("failed", "4.4.1", "soft"),  # retried until the queue's lifetime ran out
        ("failed", "5.2.2", "soft"),  # mailbox full: the address is there
        ("failed", "5.3.4", "soft"),  # the message too big: ours, not the address's
        ("failed", "5.4.7", "soft"),  # delivery time expired
        ("failed", "5.6.0", "soft"),  # the content
        ("failed", "5.7.1", "soft"),  # policy: a blocklisted relay must not drop everyone
        ("failed", "5.7.26", "soft"),  # DMARC
        ("delayed", "4.4.7", "ignored"),
        ("delivered", "2.0.0", "ignored"),
        ("relayed", "2.0.0", "ignored"),
        ("expanded", "2.0.0", "ignored"),
        ("", "5.1.1", "hard"),  # no Action: the status decides
    ],
)
def test_a_recipients_action_and_status_decide_hard_or_soft(
    ours: Ours, action: str, status: str, kind: str
) -> None:
    event = only(classify(dsn([("ann@example.org", action, status)]), ours))
    assert event.kind == kind
    assert event.token


def test_a_report_on_several_recipients_counts_once_for_the_tokens_reader_the_worst(
    ours: Ours,
) -> None:
    data = dsn([("a@x.example", "failed", "4.2.2"), ("b@x.example", "failed", "5.1.1")])
    event = only(classify(data, ours))
    assert (event.kind, event.detail) == ("hard", "5.1.1 said 5.1.1")


def test_without_a_token_each_failed_recipient_is_named_by_address(ours: Ours) -> None:
    people = [(f"r{i}@x.example", "failed", "5.1.1") for i in range(MAX_RECIPIENTS + 5)]
    people.insert(1, ("ok@x.example", "delivered", "2.0.0"))
    people.insert(2, ("r0@X.example", "failed", "5.1.1"))  # the same address again
    events = classify(dsn(people, to="bounces@news.millbrook.example"), ours)
    well_formed(events, dsn(people, to="bounces@news.millbrook.example"))
    assert [e.address for e in events] == [f"r{i}@x.example" for i in range(MAX_RECIPIENTS)]
    assert {(e.kind, e.token) for e in events} == {("hard", "")}
    assert len({e.key for e in events}) == 1


def test_without_a_token_the_originals_return_path_or_list_unsubscribe_names_the_reader(
    ours: Ours,
) -> None:
    token = verp.make(CORPUS_SECRET, CORPUS_LIST_ID, "u", key("ann"), 12)
    original = (
        "From: ledger@millbrook.example\nTo: someone@x.example\n"
        f"List-Unsubscribe: <https://x.example/u>,\n <mailto:unsubscribe+{token}@news.millbrook"
        ".example?subject=unsubscribe>\n"
    )
    people = [("forwarded@elsewhere.example", "failed", "5.1.1")]
    event = only(classify(dsn(people, "bounces@news.millbrook.example", original), ours))
    assert (event.kind, event.token, event.address) == ("hard", token, "")


def test_our_own_addresses_are_never_taken_for_a_readers(ours: Ours) -> None:
    people = [("bounces+b-x@news.millbrook.example", "failed", "5.1.1")]
    event = only(classify(dsn(people, to="bounces@news.millbrook.example"), ours))
    assert (event.kind, event.address) == ("unknown", "")


def test_a_report_of_no_recipient_of_ours_is_unknown(ours: Ours) -> None:
    data = dsn([("not an address", "failed", "5.1.1")], to="postmaster@news.millbrook.example")
    assert only(classify(data, ours)).kind == "unknown"


def test_a_token_for_another_list_or_forged_is_passed_on_and_forged_when_applied(
    site: Site, ours: Ours
) -> None:
    # The classifier does not check tokens (events.apply does, with the secret): the forged
    # one reaches the rules, which change nothing and record the key.
    forged = dsn([("ann@example.org", "failed", "5.1.1")])
    event = only(classify(forged, ours))
    assert event.token
    with State.open(site.state_dir) as state:
        assert [a.change for a in apply_many(site, [event], NOW, state)] == ["forged"]
        assert state.events.seen(event.key)


def arf(feedback_type: str, fields: str, to: str = "fbl@news.millbrook.example") -> bytes:
    return (
        f"From: fbl@isp.example\nTo: {to}\nSubject: report\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="F"\n\n'
        "--F\nContent-Type: text/plain\n\nA report.\n"
        f"--F\nContent-Type: message/feedback-report\n\nFeedback-Type: {feedback_type}\n"
        f"User-Agent: SomeFBL/1.0\nVersion: 1\n{fields}\n"
        "--F\nContent-Type: text/rfc822-headers\n\nFrom: ledger@millbrook.example\n"
        "To: reader@isp.example\n\n--F--\n"
    ).encode()


@pytest.mark.parametrize(
    ("feedback_type", "fields", "kind", "address"),
    [
        ("abuse", "Original-Rcpt-To: ann@isp.example", "complaint", "ann@isp.example"),
        ("fraud", "", "complaint", "reader@isp.example"),  # the original's To
        ("opt-out", "Removal-Recipient: ann@isp.example", "unsubscribe", "ann@isp.example"),
        ("not-spam", "Original-Rcpt-To: ann@isp.example", "ignored", ""),
        ("auth-failure", "", "ignored", ""),
        ("virus", "", "ignored", ""),
        ("", "", "ignored", ""),
    ],
)
def test_a_feedback_reports_type_decides(
    ours: Ours, feedback_type: str, fields: str, kind: str, address: str
) -> None:
    event = only(classify(arf(feedback_type, fields), ours))
    assert (event.kind, event.address) == (kind, address)


def test_a_feedback_reports_original_mail_from_carries_the_token(ours: Ours) -> None:
    token = verp.make(CORPUS_SECRET, CORPUS_LIST_ID, "b", key("ann"), 3)
    fields = (
        f"Original-Mail-From: <bounces+{token}@news.millbrook.example>\nOriginal-Rcpt-To: x@y.z"
    )
    event = only(classify(arf("abuse", fields), ours))
    assert (event.kind, event.token, event.address) == ("complaint", token, "")


def mail(headers: str, body: str = "Hello.\n") -> bytes:
    token = verp.make(CORPUS_SECRET, CORPUS_LIST_ID, "b", key("ann"), 12)
    return (
        f"To: bounces+{token}@news.millbrook.example\nDate: Fri, 13 Nov 2026 13:04:33 +0000\n"
        f"{headers}\n\n{body}"
    ).encode()


@pytest.mark.parametrize(
    "headers",
    [
        "From: a@x.example\nAuto-Submitted: auto-replied (vacation)",
        "From: a@x.example\nAuto-Submitted: auto-generated",
        "From: a@x.example\nX-Autoreply: yes",
        "From: a@x.example\nX-Autorespond: on",
        "From: a@x.example\nPrecedence: auto_reply",
        "From: a@x.example\nSubject: Out of Office: back on Monday",
        "From: a@x.example\nSubject: Automatic reply: The Ledger Weekly #12",
        "From: a@x.example\nSubject: [Auto-Reply] The Ledger Weekly",
        "From: a@x.example\nSubject: I am on vacation",
        "From: a@x.example\nPrecedence: bulk\nSubject: away from my mail",  # vacation(1)
        "From: a@x.example\nSubject: =?utf-8?q?R=C3=A9ponse_automatique_:_absent?=",
        "From: a@x.example\nSubject: Absence du bureau",
        "From: a@x.example\nSubject: Je suis absente jusqu'au 20",
        "From: a@x.example\nSubject: Abwesenheitsnotiz: The Ledger Weekly",
        "From: a@x.example\nSubject: Automatische Antwort: Ihre Nachricht",
        "From: a@x.example\nSubject: =?iso-8859-1?q?Au=DFer_Haus?=",
        "From: a@x.example\nSubject: Respuesta automática: fuera de la oficina",
        "From: a@x.example\nSubject: Risposta automatica",
        "From: a@x.example\nSubject: Automatisch antwoord: afwezig",
    ],
)
def test_automatic_replies_are_ignored(ours: Ours, headers: str) -> None:
    event = only(classify(mail(headers), ours))
    assert (event.kind, bool(event.token)) == ("auto-reply", True)


@pytest.mark.parametrize(
    ("headers", "body", "kind"),
    [
        # Exim's and Exchange's bounces say auto-replied too: a mail system's is not taken for
        # an out-of-office, and the text's status code says hard or soft.
        (
            "From: Mailer-Daemon@mx.example\nAuto-Submitted: auto-replied\n"
            "Subject: Mail delivery failed",
            "The following address failed:\n  a@x.example\n  550 5.1.1 no such user\n",
            "hard",
        ),
        # No detector reads it, but it is a mail system's message to a VERP address: the
        # token says whose mail came back; soft, as no status says more.
        (
            "From: postmaster@mx.example\nSubject: Undeliverable: hello",
            "It did not work.\n",
            "soft",
        ),
        ("From: postmaster@mx.example\nSubject: Undeliverable", "Said 452 4.2.2 full\n", "soft"),
        (
            "From: MAILER-DAEMON@mx.example\nSubject: Warning: could not send message for past 4"
            " hours",
            "Still trying.\n",
            "ignored",
        ),
        ("From: Mail Delivery Subsystem <MAILER-DAEMON>", "It did not work.\n", "soft"),
        ("From: Sam <sam@x.example>\nSubject: Re: your issue", "Nice issue!\n", "unknown"),
    ],
)
def test_a_mail_systems_message_is_a_bounce_not_an_auto_reply(
    ours: Ours, headers: str, body: str, kind: str
) -> None:
    event = only(classify(mail(headers, body), ours))
    assert (event.kind, bool(event.token)) == (kind, True)


def test_a_mail_systems_message_without_a_token_or_a_failure_is_unknown(ours: Ours) -> None:
    data = (
        b"From: postmaster@mx.example\nTo: bounces@news.millbrook.example\nSubject: Oops\n\nNo.\n"
    )
    assert only(classify(data, ours)).kind == "unknown"


@pytest.mark.parametrize(
    "to",
    [
        "unsubscribe@news.millbrook.example",  # no token: not ours
        "unsubscribe+u-x@news.elsewhere.example",  # another domain
        "someone+u-x@news.millbrook.example",  # another local part
    ],
)
def test_only_a_token_at_our_unsubscribe_address_unsubscribes(ours: Ours, to: str) -> None:
    data = f"From: a@x.example\nTo: {to}\nSubject: unsubscribe\n\nunsubscribe\n".encode()
    assert only(classify(data, ours)).kind == "unknown"


def test_the_unsubscribe_address_is_read_whatever_its_case(ours: Ours) -> None:
    token = verp.make(CORPUS_SECRET, CORPUS_LIST_ID, "u", key("ann"), 12)
    data = f"From: a@x.example\nTo: UNSUBSCRIBE+{token.upper()}@News.Millbrook.Example\n\n".encode()
    event = only(classify(data, ours))
    assert event.kind == "unsubscribe"
    assert verp.read(CORPUS_SECRET, CORPUS_LIST_ID, event.token).token_key == key("ann")


# -- hostile, huge and malformed input ----------------------------------------------------------


def with_attachment(data: bytes, size: int) -> bytes:
    """``data`` (a multipart message ending in ``--B--``-style closing) with an attachment of
    ``size`` bytes put before its last part closes."""
    payload = base64.encodebytes(b"\x89PNG" + bytes(size))
    head, _, tail = data.rpartition(b"\n--")
    boundary = tail.split(b"--")[0]
    part = (
        b"\n--" + boundary + b"\nContent-Type: application/octet-stream\n"
        b"Content-Transfer-Encoding: base64\n\n" + payload
    )
    return head + part + b"\n--" + tail


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("postfix-user-unknown.eml", "hard"),
        ("qmail-failure.eml", "hard"),  # the detectors' path
        ("human-reply.eml", "unknown"),
    ],
)
def test_a_20_mb_attachment_neither_slows_nor_breaks_it(ours: Ours, name: str, kind: str) -> None:
    original = (CORPUS / name).read_bytes()
    if b"\n--" not in original:
        original = (
            original.replace(
                b"\nSubject:", b'\nContent-Type: multipart/mixed; boundary="B"\nSubject:', 1
            ).replace(b"\n\n", b"\n\n--B\nContent-Type: text/plain\n\n", 1)
            + b"\n--B--\n"
        )
    data = with_attachment(original, 20 << 20)
    assert len(data) > 20 << 20
    elapsed = []
    for _ in range(3):  # the best of three: the machine is shared with other work
        started = time.perf_counter()
        event = only(classify(data, ours))
        elapsed.append(time.perf_counter() - started)
    assert (event.kind, event.key) == (kind, message_key(data))
    # Parsing all 20 MB takes most of a second, and the detectors then read every line; the
    # first megabyte and a hash of the rest, a few hundredths.
    assert min(elapsed) < 0.5, elapsed


def nested(depth: int, kind: bytes = b"message/rfc822") -> bytes:
    if kind == b"message/rfc822":
        return b"From: a@x.example\n" + b"Content-Type: message/rfc822\n\n" * depth + b"hi\n"
    parts = [b"From: a@x.example\n"]
    for level in range(depth):
        parts.append(b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (level, level))
    return b"".join(parts) + b"hi\n"


HOSTILE = {
    "empty": b"",
    "blank lines": b"\r\n\r\n\n",
    "nul bytes": b"\x00" * 1000,
    "binary": bytes(range(256)) * 64,
    "headers only": b"From: a@x.example\nTo: bounces@news.millbrook.example",
    "one huge header": b"Subject: " + b"x" * 3_000_000 + b"\n\nbody\n",
    "a million headers": b"From: a@x.example\n" + b"X: y\n" * 200_000 + b"\nbody\n",
    "nested messages, deep": nested(30_000),
    "nested multiparts, deep": nested(2_000, b"multipart/mixed"),
    "nested messages, just under the limit": nested(40),
    "a boundary never closed": (
        b"From: a@x.example\nContent-Type: multipart/report; report-type=delivery-status; "
        b'boundary="X"\n\n--X\nContent-Type: message/delivery-status\n\nAction: failed\n'
        b"Final-Recipient: rfc822;\n"
    ),
    "a delivery report in base64": (
        b"From: MAILER-DAEMON@x.example\nContent-Type: multipart/report; boundary=X\n\n--X\n"
        b"Content-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\n"
        b"!!!not base64!!!\n--X--\n"
    ),
    "a global delivery report in a bad charset": (
        b"From: MAILER-DAEMON@x.example\nContent-Type: multipart/report; boundary=X\n\n--X\n"
        b"Content-Type: message/global-delivery-status; charset=x-no-such\n\n"
        b"Final-Recipient: utf-8; \xff\xfe@\xc3\n\xc3\x28Action: failed\nStatus: 5.1.1\n--X--\n"
    ),
    "encoded words in unknown charsets": (
        b"From: =?x-klingon?q?abc?= <a@x.example>\nSubject: =?utf-8?b?!!!?= =?utf-8?q?=ZZ?=\n"
        b"To: =?utf-8?q?=FF=FE?= <bounces@news.millbrook.example>\n\nbody\n"
    ),
    "8-bit headers": b"From: \xff\xfe\xfd <a@x.example>\nSubject: \xc3\x28 \xed\xa0\x80\n\n\xff\n",
    "a folded token with a CR": (
        b"To: bounces+b-abc\r-def@news.millbrook.example\nFrom: MAILER-DAEMON@x\n\n550 5.1.1\n"
    ),
    "ten thousand recipients": (
        b"From: MAILER-DAEMON@x.example\nTo: "
        + b", ".join(b"r%d@x.example" % i for i in range(10_000))
        + b"\nSubject: Undelivered Mail\n\n550 5.1.1 failed\n"
    ),
    "an mbox From_ line and nothing else": b"From MAILER-DAEMON Fri Nov 13 13:04:18 2026\n",
    "a content type with no subtype": b"From: a@x\nContent-Type: multipart\n\n--\n--\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_messages_are_unknown_or_ignored_never_an_exception(ours: Ours, name: str) -> None:
    data = HOSTILE[name]
    started = time.perf_counter()
    events = classify(data, ours)
    assert time.perf_counter() - started < 2.0
    well_formed(events, data)
    assert {e.kind for e in events} <= {"unknown", "ignored"}
    assert all(not e.address and len(e.token) < 60 for e in events)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("nested messages, deep", "more than 50 nested parts"),
        ("nested multiparts, deep", "more than 50 nested parts"),
        ("a million headers", "more than 5000 header fields"),  # else a second to parse
        ("empty", "an empty message"),
        ("binary", "not a mail message"),
    ],
)
def test_what_is_refused_before_parsing_says_why(ours: Ours, name: str, why: str) -> None:
    assert why in only(classify(HOSTILE[name], ours)).detail


def test_line_breaks_and_control_characters_smuggled_into_headers_go_nowhere(
    ours: Ours,
) -> None:
    """Encoded CR LF in the envelope header and the subject, NUL and escape sequences in the
    report's fields: no address or token carries them, the detail is one printable line."""
    data = (
        b"From: MAILER-DAEMON@x.example\n"
        b"To: =?utf-8?q?bounces+b-x=0D=0ABcc:_evil@x.example?= <postmaster@x.example>\n"
        b"Subject: =?utf-8?q?Undeliverable=0D=0AX-Injected:_1?=\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="X"\n\n'
        b"--X\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x\n\n"
        b"Final-Recipient: rfc822; <ann@x.example>\x00\r\nAction: failed\n"
        b"Status: 5.1.1\nDiagnostic-Code: smtp; 550 \x00\x1b[31m\xff =?utf-8?q?=0D=0Ay?=\n--X--\n"
    )
    event = only(classify(data, ours))
    well_formed([event], data)
    assert (event.kind, event.token) == ("hard", "")
    assert event.address == "ann@x.example"
    assert event.detail.startswith("5.1.1 550")


def test_a_huge_message_is_keyed_by_all_its_bytes(ours: Ours) -> None:
    # Only the first megabyte is read, but two messages that differ after it are two messages.
    one = b"From: a@x.example\n\n" + b"a" * (2 << 20)
    two = one[:-1] + b"b"
    assert only(classify(one, ours)).key != only(classify(two, ours)).key


@given(st.binary(max_size=3000))
def test_any_bytes_give_well_formed_events(data: bytes) -> None:
    well_formed(classify(data, lambda address: None), data)


@given(
    st.sampled_from(sorted(TABLE)),
    st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=20),
    st.floats(0.05, 1),
)
def test_damaged_copies_of_the_corpus_give_well_formed_events(
    name: str, changes: list[tuple[float, int]], keep: float
) -> None:
    """Bytes changed and the end cut off anywhere in each file: never an exception."""
    data = bytearray((CORPUS / name).read_bytes())
    for where, value in changes:
        data[min(int(where * len(data)), len(data) - 1)] = value
    damaged = bytes(data[: max(1, int(len(data) * keep))])
    well_formed(classify(damaged, lambda a: ("b", a) if "bounces+" in a else None), damaged)


def test_the_message_key_is_the_same_from_any_source() -> None:
    data = (CORPUS / "postfix-user-unknown.eml").read_bytes()
    assert message_key(data) == "mail:" + hashlib.sha256(data).hexdigest()
