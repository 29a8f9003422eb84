"""Every message feedpub can produce, as it goes over the wire: the preview (`issue preview`),
the test copy (`send --test`), a delivered message and one to an address that needs SMTPUTF8,
the last three as a real aiosmtpd relay on 127.0.0.1 received them. Each parses with
``email.policy.default`` without defects and keeps RFC 5322's 998 octets a line, RFC 2045's 76
a quoted-printable line and RFC 2047's 75 an encoded word (76 a line that holds one); and the
preview is the delivered message but for the recipient's own parts. Hostile settings throughout:
long names that are not ASCII, right-to-left names, a subject of hundreds of CJK characters and
emoji, a 2 MB article."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.errors import NonASCIILocalPartDefect
from email.header import decode_header, make_header
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from helpers import (
    NOW,
    NOW_ARG,
    SETTINGS,
    MakeSite,
    Recorder,
    Relay,
    article,
    assert_clean_exit,
    examples,
    free_port,
    invoke,
    load,
    make_issue,
    parse,
    smtp_settings,
    subscribe,
    write_articles,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

from feedpub.config import Site
from feedpub.delivery.messages import PreparedIssue, Recipient, list_id, message_id
from feedpub.delivery.sending import send_issue
from feedpub.delivery.subscribers import normalize
from feedpub.delivery.tokens import load_secret, read, read_token
from feedpub.errors import TokenError
from feedpub.store.issues import IssueRecord
from feedpub.store.state import State

NAME = (
    "Die Wöchentliche Zeitung für Groß und Klein 📰 — 日本語のニュースレター、毎週金曜日にお届け"
    " — עיתון השבוע של בית הספר — الجريدة الأسبوعية للمدرسة والحيّ"
)
FROM = "ليلى الحسن، مكتب التحرير في الجريدة الأسبوعية للمدرسة <news@news.example.org>"
REPLY_NAME = "מערכת העיתון — מכתבים למערכת, תגובות והצעות לכתבות"
REPLY_TO = f'"{REPLY_NAME}" <letters@news.example.org>'
TITLE = ("東京の新しい図書館が開館しました📚🎉、市民の皆さんに愛される場所へ🌸" * 20)[:300]
SITE_TITLE = "صحيفة المدرسة — The School Paper"
# A 2 MB article: one long paragraph (its lead, in the digest, is the longest line there can
# be) and many more.
BIG = ("Ein sehr langer Absatz über den Haushalt, Größe und Maß — " * 60 + "\n\n") * 600

HOSTILE = SETTINGS.replace("Test Gazette", SITE_TITLE) + (
    "\n[newsletter]\n"
    f"name = {json.dumps(NAME, ensure_ascii=False)}\n"
    f"from = {json.dumps(FROM, ensure_ascii=False)}\n"
    f"reply_to = {json.dumps(REPLY_TO, ensure_ascii=False)}\n"
    'schedule = "manual"\n'
)
ARTICLES: dict[str, str | bytes] = {
    "cjk.md": article(TITLE, "2026-11-26 09:00", body="本文です。" * 400),
    "rtl.md": article("مرحبا بالعالم — שלום עולם", "2026-11-25 09:00", body="نص عربي " * 300),
    "big.md": article("A 2 MB article", "2026-11-24 09:00", body=BIG),
}
PEOPLE = [
    ("ann@example.net", "Ann Lee"),
    ("bob@example.net", 'Robert "Bob" O\'Neil, Jr. of the Desk: <night shift>'),
    ("jörg@bücher.example", " ".join(["Jörg Müller-Lüdenscheidt 🎻 יורג"] * 5)),
]
TESTER = "editor@example.org"
SMTPUTF8_TO = "jörg@bücher.example"  # with SMTPUTF8 the domain stays as it is
LATER = NOW + timedelta(days=3, hours=5, minutes=7)

ENCODED_WORD = re.compile(rb"=\?[^?\s]+\?[QqBb]\?[^?\s]*\?=")
# A header field and its continuation lines.
FIELD = re.compile(rb"^([!-9;-~]+):[^\r\n]*(?:\r\n[ \t][^\r\n]*)*", re.MULTILINE)
# The recipient's own: everything else is the same for every reader.
OWN = {"To", "Date", "Message-ID", "List-Unsubscribe"}


@dataclass
class Wire:
    root: Path
    messages: dict[str, bytes]  # kind -> the message as written or received


@pytest.fixture(scope="module")
def wire(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wire]:
    handler = Recorder()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        server_hostname="localhost",
        enable_SMTPUTF8=True,
    )
    controller.start()
    try:
        root = tmp_path_factory.mktemp("wire") / "site"
        (root / "content").mkdir(parents=True)
        settings = HOSTILE + smtp_settings(controller.port)
        (root / "feedpub.toml").write_text(settings, encoding="utf-8")
        write_articles(root, ARTICLES)
        subscribe(root, PEOPLE)
        make_issue(root)
        runner = CliRunner()
        # No FEEDPUB_* setting of the machine running the tests (the fixture is module-wide).
        env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("FEEDPUB_")}
        site = ("--site", str(root))
        later = LATER.isoformat()
        preview = invoke(runner, *site, "issue", "preview", "1", "--now", later, env=env)
        assert_clean_exit(preview, 0)
        eml = Path(preview.stdout.splitlines()[-1])
        assert_clean_exit(invoke(runner, *site, "send", "1", "--test", TESTER, env=env), 0)
        sent = invoke(runner, *site, "send", "1", "--now", NOW_ARG, env=env)
        assert_clean_exit(sent, 0)
        assert sent.stdout.endswith("; sent\n"), sent.output
        received = dict(handler.received())
        yield Wire(
            root,
            {
                "preview": eml.read_bytes(),
                "test": received[TESTER],
                "delivered": received["ann@example.net"],
                "quoted-name": received["bob@example.net"],
                "smtputf8": received[SMTPUTF8_TO],
            },
        )
    finally:
        controller.stop()


KINDS = ["preview", "test", "delivered", "quoted-name", "smtputf8"]


def check_wire(raw: bytes) -> EmailMessage:
    """The limits every message keeps; the message, parsed. The one defect allowed is the
    email package's note that an address is not ASCII, in the To of an SMTPUTF8 message: RFC
    6532 allows it there, and the relay was asked for SMTPUTF8 (RFC 6531)."""
    utf8 = not raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b""), "a line break that is not CRLF"
    lines = raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998, "RFC 5322 §2.1.1"
    # Quoted-printable escapes every '=' in a body, so each encoded word found is a header's.
    for line in lines:
        words = ENCODED_WORD.findall(line)
        assert all(len(word) <= 75 for word in words), line
        assert not words or len(line) <= 76, line  # RFC 2047 §2
    msg = parse(raw)
    for part in msg.walk():
        assert not part.defects, (part.get_content_type(), part.defects)
        for name, value in part.items():
            defects = getattr(value, "defects", ())
            if utf8 and name == "To":
                defects = [d for d in defects if not isinstance(d, NonASCIILocalPartDefect)]
            assert not defects, (name, defects)
        if part.get("Content-Transfer-Encoding") == "quoted-printable":
            encoded = part.get_payload()
            assert isinstance(encoded, str)
            longest = max(len(line) for line in encoded.splitlines())
            assert longest <= 76, f"a quoted-printable line of {longest} (RFC 2045 §6.7)"
            part.get_content()
    return msg


@pytest.mark.parametrize("kind", KINDS)
def test_every_message_keeps_the_limits_of_the_wire(wire: Wire, kind: str) -> None:
    msg = check_wire(wire.messages[kind])
    # The hostile settings arrive as they were written; a test copy says it is one.
    assert msg["Subject"] == ("[Test] " if kind == "test" else "") + f"{NAME} #1: {TITLE}"
    assert display_name(wire.messages[kind], "From") == FROM.rsplit(" <", 1)[0]
    assert display_name(wire.messages[kind], "Reply-To") == REPLY_NAME
    to = PEOPLE[[a for a, _ in PEOPLE].index(RECIPIENTS[kind])][1] if kind in RECIPIENTS else ""
    assert display_name(wire.messages[kind], "To") == to
    assert str(msg["List-Id"]) == f"{NAME} <{list_id_id(wire)}>"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert (wire.messages[kind].isascii()) == (kind != "smtputf8")


RECIPIENTS = {"delivered": "ann@example.net", "quoted-name": "bob@example.net"}
RECIPIENTS["smtputf8"] = "jörg@bücher.example"


def display_name(raw: bytes, header: str) -> str:
    """The name in an address header, decoded as RFC 2047 §6.2 says: the space between two
    encoded words is not part of the text. (Python 3.11's parser keeps it in address headers,
    CPython gh-128110; mail clients do not.)"""
    [value] = [
        re.sub(rb"\r\n[ \t]", b" ", field[len(name) + 1 :]).strip()
        for name, field in fields(raw)
        if name == header
    ]
    phrase = value.decode("utf-8").rpartition("<")[0].strip()
    if phrase.startswith('"'):
        return re.sub(r"\\(.)", r"\1", phrase[1:-1])
    return str(make_header(decode_header(phrase)))


def list_id_id(wire: Wire) -> str:
    kept = list_id(load(wire.root))
    return ".".join(
        label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
        for label in kept.split(".")
    )


def fields(raw: bytes) -> list[tuple[str, bytes]]:
    """The top-level header fields, folded as they were written."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    return [(m.group(1).decode(), m.group(0)) for m in FIELD.finditer(head)]


def link_of(msg: EmailMessage) -> str:
    found = re.match(r"<(https://[^>]+)>", str(msg["List-Unsubscribe"]))
    assert found is not None
    return found.group(1)


def manage_of(msg: EmailMessage) -> str:
    """The link to the reader's own page, in the issue's footer."""
    body = msg.get_body(("plain",))
    assert body is not None
    found = re.search(r"^Manage your subscription: (\S+)\r?$", body.get_content(), re.M)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize("kind", ["test", "delivered", "quoted-name", "smtputf8"])
def test_the_preview_is_the_delivered_message_but_for_the_recipient(
    wire: Wire, kind: str
) -> None:
    preview_raw, other_raw = wire.messages["preview"], wire.messages[kind]
    # Header by header, as written: the same fields in the same order, the same bytes but for
    # the recipient's own.
    preview_fields, other_fields = fields(preview_raw), fields(other_raw)
    assert [name for name, _ in preview_fields] == [name for name, _ in other_fields]
    assert {"List-Id", "List-Unsubscribe", "List-Unsubscribe-Post"} <= dict(preview_fields).keys()
    # A test copy's subject starts "[Test] ": the rest is the issue's.
    own = OWN | {"Subject"} if kind == "test" else OWN
    for (name, mine), (_, theirs) in zip(preview_fields, other_fields, strict=True):
        if name not in own:
            assert mine == theirs, name
    preview, other = parse(preview_raw), parse(other_raw)
    if kind == "test":
        assert other["Subject"] == "[Test] " + preview["Subject"]
    # The recipient's own parts: the unsubscribe link (a token in its URL and in both bodies),
    # replaced, and body by body the rest is the same.
    mine_link, their_link = link_of(preview), link_of(other)
    assert mine_link != their_link
    mine_manage, their_manage = manage_of(preview), manage_of(other)
    assert mine_manage != their_manage
    for before, after in zip(preview.walk(), other.walk(), strict=True):
        assert before.items() == after.items() or before.is_multipart()
        if not before.is_multipart():
            body = before.get_content()
            assert their_link not in body and their_manage not in body
            mine = body.replace(mine_link, "LINK").replace(mine_manage, "MANAGE")
            theirs = after.get_content().replace(their_link, "LINK")
            assert mine == theirs.replace(their_manage, "MANAGE")
    assert str(preview["List-Unsubscribe"]).replace(mine_link, "LINK") == str(
        other["List-Unsubscribe"]
    ).replace(their_link, "LINK")


def test_the_preview_goes_to_a_sample_reader_with_a_link_that_works_for_no_one(
    wire: Wire,
) -> None:
    preview = parse(wire.messages["preview"])
    assert preview["To"] == "reader@example.invalid"
    site = load(wire.root)
    token = link_of(preview).rsplit("t=", 1)[1]
    # A token of the real form, for the sample address, that the site's secret does not sign.
    with pytest.raises(TokenError, match="not valid for this newsletter"):
        read_token(load_secret(site.state_dir), list_id(site), token)
    delivered = parse(wire.messages["delivered"])
    their_token = link_of(delivered).rsplit("t=", 1)[1]
    # A subscriber's link carries their random key, never their address.
    assert "ann" not in their_token and their_token.startswith("u.")
    reading = read(load_secret(site.state_dir), list_id(site), their_token, "u", LATER)
    with State.open(site.state_dir) as state:
        found = state.subscribers.find_token(reading.key)
    assert found is not None and found.email == "ann@example.net"


def test_the_preview_is_dated_when_it_is_made_not_when_the_issue_was(wire: Wire) -> None:
    # The issue was made at NOW; the preview was made at LATER.
    assert parse(wire.messages["preview"])["Date"].datetime == LATER


def test_the_preview_of_the_next_issue_keeps_the_limits(
    runner: CliRunner, make_site: MakeSite
) -> None:
    # Without [newsletter] from, the sender is the newsletter's name, quoted where it must be.
    name = 'Tom\'s "News": <Wöchentlich>, ' + "sehr lang " * 20
    settings = SETTINGS + f'\n[newsletter]\nname = "{name.replace(chr(34), chr(92) + chr(34))}"\n'
    root = make_site(ARTICLES, settings=settings)
    result = invoke(runner, "--site", root, "issue", "preview", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    raw = Path(result.stdout.splitlines()[-1]).read_bytes()
    msg = check_wire(raw)
    assert display_name(raw, "From") == name
    assert str(msg["List-Id"]).startswith(name + " <")
    assert msg["Date"].datetime == NOW


# -- Date: when each message is handed to the relay ------------------------------------------


class Ticks:
    """A clock that moves a minute each time it is read, and remembers what it said."""

    def __init__(self, start: datetime) -> None:
        self.lock = threading.Lock()
        self.start = start
        self.said: list[datetime] = []

    def __call__(self) -> datetime:
        with self.lock:
            self.said.append(self.start + timedelta(minutes=len(self.said)))
            return self.said[-1]


def test_each_message_is_dated_when_it_is_handed_over(
    start_relay: Callable[..., Relay], make_site: MakeSite
) -> None:
    relay = start_relay()
    root = make_site(ARTICLES, settings=HOSTILE, extra=smtp_settings(relay.port))
    subscribe(root, PEOPLE)
    make_issue(root)
    clock = Ticks(LATER)
    assert send_issue(load(root), 1, NOW, clock=clock).sent == len(PEOPLE)
    dates = sorted(parse(raw)["Date"].datetime for _, raw in relay.handler.received())
    assert dates == clock.said


def test_a_resumed_send_dates_its_messages_anew_and_keeps_their_ids(
    start_relay: Callable[..., Relay], make_site: MakeSite
) -> None:
    relay = start_relay()
    extra = smtp_settings(relay.port, connections=1)
    root = make_site({"a.md": article("Alpha", "2026-11-26 09:00")}, settings=HOSTILE, extra=extra)
    subscribe(root, [("ann@example.net", "Ann")])
    record = make_issue(root)
    # The relay takes the whole message and drops the line: the reader gets it again later.
    relay.handler.drops[1] = "received"
    first = send_issue(load(root), 1, NOW, clock=lambda: NOW)
    assert (first.sent, first.deferred) == (0, 1)
    again = NOW + timedelta(hours=1)
    assert send_issue(load(root), 1, again, clock=lambda: again).sent == 1
    copies = [parse(raw) for _, raw in relay.handler.received()]
    assert [m["Date"].datetime for m in copies] == [NOW, again]
    # The same Message-ID on every try: a client that got both shows one.
    expected = message_id(load(root), record, normalize("ann@example.net")[1])
    assert [m["Message-ID"] for m in copies] == [expected, expected]


def test_an_unsubscribe_link_too_long_for_its_header_is_a_clear_error(
    runner: CliRunner, make_site: MakeSite
) -> None:
    # RFC 2369's URL cannot be folded: a base this long would put List-Unsubscribe's line past
    # RFC 5322's 998 octets for the longest addresses.
    base = "https://news.example.org/" + "u" * 600
    settings = SETTINGS + f'\n[newsletter]\nname = "Weekly"\nunsubscribe_url = "{base}"\n'
    root = make_site(ARTICLES, settings=settings)
    result = invoke(runner, "--site", root, "issue", "preview", "--now", NOW_ARG)
    assert_clean_exit(result, 1)
    assert result.stderr == (
        "Error: [newsletter] unsubscribe_url is 625 characters: the List-Unsubscribe header "
        "cannot carry a link that long within RFC 5322's 998 a line; keep it to 591 at most\n"
    )


# -- any text in a header ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Site, IssueRecord]:
    root = tmp_path_factory.mktemp("small") / "site"
    (root / "content").mkdir(parents=True)
    (root / "feedpub.toml").write_text(SETTINGS + '[newsletter]\nname = "W"\n', encoding="utf-8")
    write_articles(root, {"a.md": article("Alpha", "2026-11-26 09:00")})
    return load(root), make_issue(root)


# What a name or subject can hold once loaded: no control character, whitespace as one space.
TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=300).map(
    lambda text: " ".join(text.split()) or "x"
)


@given(name=TEXT, subject=TEXT, reader=TEXT)
@example(name='Tom\'s "News": <W\\>', subject="=?utf-8?q?forged?= " + "a" * 300, reader="Dr. Who")
@example(name="📰" * 300, subject="日本語" * 100, reader=" ".join(["ليلى"] * 40))
@example(name="x " * 149 + "x", subject="Wöchentlich " * 24 + "!", reader="=?utf-8?q?x?=")
@settings(max_examples=examples(0.5))
def test_any_name_and_subject_keep_the_limits_and_come_back_as_they_were(
    small: tuple[Site, IssueRecord], name: str, subject: str, reader: str
) -> None:
    site, record = small
    # Without [newsletter] from, the name is From's phrase too.
    site = dataclasses.replace(site, newsletter=dataclasses.replace(site.newsletter, name=name))
    record = dataclasses.replace(record, subject=subject)
    email, key = normalize("ann@example.net")
    raw = PreparedIssue(site, record).render(Recipient(1, email, reader, key), b"k", NOW)
    msg = check_wire(raw)
    assert msg["Subject"] == subject
    assert display_name(raw, "From") == name
    assert display_name(raw, "List-Id") == name
    assert display_name(raw, "To") == reader
