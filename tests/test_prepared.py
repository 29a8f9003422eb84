"""The message encoded once per issue is the message the email package would build."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest
from helpers import NOW, MakeSite, article, load

from feedpub.config import Site
from feedpub.delivery.messages import PreparedIssue, Recipient, message_bytes, personal_message
from feedpub.delivery.subscribers import normalize
from feedpub.newsletter.issues import create
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
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
)
SECRET = b"a test secret"


def parse(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


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
        ("idn@bücher.example", "Idn"),
        ("Zoë@bücher.example", "Utf8 Local"),
    ],
    ids=["plain", "no-name", "non-ascii-name", "quotes", "idn-domain", "utf8-local-part"],
)
def test_prepared_message_equals_the_built_one(
    issue: tuple[Site, IssueRecord], address: str, name: str
) -> None:
    site, record = issue
    email_address, key = normalize(address)
    recipient = Recipient(7, email_address, name, key)
    fast = parse(PreparedIssue(site, record).render(recipient, SECRET))
    slow = parse(message_bytes(personal_message(site, record, recipient, SECRET), recipient))
    for header in HEADERS:
        assert str(fast[header]) == str(slow[header]), header
    assert fast.get_content_type() == "multipart/alternative"
    fast_parts = [(p.get_content_type(), p.get_content()) for p in fast.iter_parts()]
    slow_parts = [(p.get_content_type(), p.get_content()) for p in slow.iter_parts()]
    assert [t for t, _ in fast_parts] == ["text/plain", "text/html"]
    assert fast_parts == slow_parts
    assert UNSUBSCRIBE_PLACEHOLDER not in fast_parts[1][1]
    assert "t=" in str(fast["List-Unsubscribe"])


def test_prepared_lines_stay_short(issue: tuple[Site, IssueRecord]) -> None:
    site, record = issue
    email_address, key = normalize("ann@example.org")
    data = PreparedIssue(site, record).render(Recipient(1, email_address, "Ann", key), SECRET)
    head, _, body = data.partition(b"\r\n\r\n")
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))
    assert all(len(line) <= 76 for line in body.split(b"\r\n")), "quoted-printable limit"
