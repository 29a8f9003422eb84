"""The message encoded once per issue and written for each recipient: what it says, parsed back
with the email package (tests/test_messages_wire.py holds the limits of the wire)."""

from __future__ import annotations

import pytest
from helpers import NOW, MakeSite, article, load, parse

from feedpub.config import Site
from feedpub.delivery.messages import (
    PreparedIssue,
    Recipient,
    list_id,
    manage_token,
    message_id,
    unsubscribe_link,
    web_link,
)
from feedpub.delivery.subscribers import normalize
from feedpub.delivery.tokens import make_token
from feedpub.newsletter.issues import create
from feedpub.placeholders import MANAGE_PLACEHOLDER
from feedpub.site.build import load_catalog
from feedpub.store.issues import UNSUBSCRIBE_PLACEHOLDER, IssueRecord
from feedpub.store.state import State

NEWSLETTER = """
[newsletter]
name = "Gazette Wöchentlich"
from = "Test Gazette <news@news.example.org>"
reply_to = "Desk <desk@news.example.org>"
schedule = "manual"
"""
HEADERS = (
    "From",
    "To",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Unsubscribe",
    "List-Id",
    "List-Unsubscribe-Post",
    "Feedback-ID",
    "MIME-Version",
)
SECRET = b"a test secret"


@pytest.fixture
def issue(make_site: MakeSite) -> tuple[Site, IssueRecord]:
    root = make_site(
        {
            "a.md": article(
                'Tom & Jerry <3 "quotes" — ünïcode',
                "2026-11-26 09:00",
                body="Trailing spaces   \n\n" + "long " * 80,
            ),
            "b.md": article("Second", "2026-11-25 09:00"),
        },
        extra=NEWSLETTER,
    )
    site = load(root)
    with State.open(site.state_dir) as state:
        draft = create(site, state, load_catalog(site, state, NOW), NOW, note="A *note*.")
        assert draft is not None
        record = state.issues.get(draft.number)
    assert record is not None
    return site, record


@pytest.mark.parametrize(
    ("address", "name"),
    [
        ("ann@example.org", "Ann"),
        ("bob@example.org", ""),
        ("zoe@example.org", "Zoë Ünïcode"),
        ("q@example.org", 'The "Quoted", Person'),
        ("dot@example.org", "Dr. Who"),
        ("idn@bücher.example", "Idn"),
        ("Zoë@bücher.example", "Utf8 Local"),
    ],
    ids=["plain", "no-name", "non-ascii-name", "quotes", "dot", "idn-domain", "utf8-local-part"],
)
def test_each_recipients_message_says_what_the_issue_says(
    issue: tuple[Site, IssueRecord], address: str, name: str
) -> None:
    site, record = issue
    email_address, key = normalize(address)
    recipient = Recipient(7, email_address, name, key)
    data = PreparedIssue(site, record).render(recipient, SECRET, NOW)
    msg = parse(data)
    assert list(msg.keys()) == [*HEADERS, "Content-Type"]
    [to] = msg["To"].addresses
    assert (to.display_name, to.addr_spec) == (name, recipient.envelope)
    assert msg["Subject"] == record.subject
    assert msg["Date"].datetime == NOW
    assert msg["Message-ID"] == message_id(site, record, key)
    link = unsubscribe_link(site, make_token(SECRET, list_id(site), key))
    manage = web_link(site, "manage", manage_token(SECRET, list_id(site), recipient))
    mailto = "<mailto:desk@news.example.org?subject=unsubscribe>"
    assert msg["List-Unsubscribe"] == f"<{link}>, {mailto}"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg.get_content_type() == "multipart/alternative"
    parts = [(p.get_content_type(), p.get_content()) for p in msg.iter_parts()]
    assert [t for t, _ in parts] == ["text/plain", "text/html"]
    for (_, content), source in zip(parts, (record.text, record.html), strict=True):
        assert content.replace("\r\n", "\n").rstrip("\n") == (
            source.replace(UNSUBSCRIBE_PLACEHOLDER, link).replace(MANAGE_PLACEHOLDER, manage)
        ).rstrip("\n")
    # ASCII on the wire, but for an address that needs SMTPUTF8.
    assert data.isascii() == recipient.envelope.isascii()


def test_prepared_lines_stay_short(issue: tuple[Site, IssueRecord]) -> None:
    site, record = issue
    email_address, key = normalize("ann@example.org")
    data = PreparedIssue(site, record).render(Recipient(1, email_address, "Ann", key), SECRET, NOW)
    head, _, body = data.partition(b"\r\n\r\n")
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))
    assert all(len(line) <= 76 for line in body.split(b"\r\n")), "quoted-printable limit"
