"""Email messages: an issue as MIME with its headers, as RFC 5322 wants them, for each
recipient (their own To, Message-ID, unsubscribe link and unsubscribe address), the list's
unsubscribe links (RFC 2369, RFC 8058 one-click) and its Feedback-ID (Gmail's feedback loop).
The list's identity (the List-Id, kept in ``.feedpub/list-id``) is ``identity``'s, the VERP
addresses ``verp``'s.

Every message feedpub writes is made by ``PreparedIssue.render``: each delivered one, the
``send --test`` and review copies (``test=True``: "[Test] " before the subject, a Message-ID of
their own; a review copy's preface by ``with_preface``) and the preview (``preview_message``,
the delivered message for a sample recipient). It encodes an issue once and writes only what
differs for each recipient.

The limits every message keeps: lines within RFC 5322's 998 octets (headers folded at 76),
quoted-printable lines within RFC 2045's 76, encoded words within RFC 2047's 75 characters and
header lines holding one within its 76.
"""

from __future__ import annotations

import hashlib
import html as html_module
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from email import quoprimime
from email.charset import Charset
from email.header import Header
from email.utils import format_datetime, parseaddr
from urllib.parse import urlencode

from feedpub.config import Site
from feedpub.delivery.identity import LIST_ID_FILE as LIST_ID_FILE
from feedpub.delivery.identity import host_of as host_of
from feedpub.delivery.identity import list_id as list_id
from feedpub.delivery.tokens import make, make_token
from feedpub.delivery.verp import unsubscribe_mailto
from feedpub.errors import DeliveryError
from feedpub.placeholders import MANAGE_PLACEHOLDER
from feedpub.store.issues import UNSUBSCRIBE_PLACEHOLDER, IssueRecord

# RFC 2047 §2: an encoded word is at most 75 characters, and a header line holding one at most
# 76 (within RFC 5322's 78). Headers are folded here, not by the email package's policy: at
# RFC 5322's 78 it writes encoded words of 77, in Python 3.11 it drops the space between two
# words it encodes apart (a space between adjacent encoded words is no text, RFC 2047 §6.2),
# and it writes a display name it has encoded with its specials bare ('Tom's "News": =?...'),
# which readers take for a group.
LINE = 76


def unsubscribe_base(site: Site) -> str:
    """``[web] url`` + "unsubscribe" when it is set; else ``[newsletter] unsubscribe_url``
    (as before version 6), else the site's URL + "unsubscribe"."""
    if site.web.url:
        return site.web.url + "unsubscribe"
    return site.newsletter.unsubscribe_url or site.site.url + "unsubscribe"


# The longest token: the key of an address of RFC 5321's 254 octets in base64, a dot, the MAC's
# 43. With it, List-Unsubscribe's first line (<base?t=token>,) keeps within RFC 5322's 998.
LONGEST_TOKEN = 339 + 1 + 43
LONGEST_BASE = 998 - len("List-Unsubscribe: <?t=>,") - LONGEST_TOKEN


def checked_unsubscribe_base(site: Site) -> str:
    """The base of the unsubscribe links; DeliveryError if a link would not fit in its header
    (RFC 2369: a URL in angle brackets is not folded)."""
    base = unsubscribe_base(site)
    if len(base) > LONGEST_BASE:
        key = (
            "[web] url (with 'unsubscribe' after it)"
            if site.web.url
            else "[newsletter] unsubscribe_url"
            if site.newsletter.unsubscribe_url
            else "[site] url (with 'unsubscribe' after it)"
        )
        raise DeliveryError(
            f"{key} is {len(base)} characters: the List-Unsubscribe header cannot carry a link "
            f"that long within RFC 5322's 998 a line; keep it to {LONGEST_BASE} at most"
        )
    return base


def unsubscribe_link(site: Site, token: str) -> str:
    base = unsubscribe_base(site)
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}{urlencode({'t': token})}"


def unsubscribe_token(secret: bytes, list_id: str, recipient: Recipient) -> str:
    """The token of ``recipient``'s unsubscribe link: a ``u`` token of their token_key, which
    reveals nothing; for a recipient without one, the older form."""
    if recipient.token_key:
        return make(secret, list_id, "u", recipient.token_key)
    return make_token(secret, list_id, recipient.key)


def manage_token(secret: bytes, list_id: str, recipient: Recipient) -> str:
    """The token of ``recipient``'s link to their own page: an ``m`` token of their token_key;
    for a recipient without one, the older form (which the page reads as the address's)."""
    if recipient.token_key:
        return make(secret, list_id, "m", recipient.token_key)
    return make_token(secret, list_id, recipient.key)


def web_link(site: Site, page: str, token: str) -> str:
    """The web app's ``page`` (confirm, manage) for ``token``."""
    return f"{site.web_url}{page}?{urlencode({'t': token})}"


def message_id(site: Site, issue: IssueRecord, key: str = "") -> str:
    """The same for an issue and recipient on every try, so a resent copy is a duplicate; it
    carries a hash of the address, never the address."""
    who = f".{hashlib.sha256(key.encode()).hexdigest()[:20]}" if key else ""
    return f"<issue-{issue.number}.{issue.id.rsplit(':', 1)[-1]}{who}@{host_of(site)}>"


def test_message_id(site: Site, issue: IssueRecord) -> str:
    """A test or review copy's own Message-ID, new for each copy: never the one a reader's
    copy has (a client that saw the test would take the real issue for a duplicate)."""
    return f"<test-{issue.number}.{secrets.token_hex(12)}@{host_of(site)}>"


TEST_SUBJECT = "[Test] "
# Where a review copy's preface goes: just inside <body>, above everything the issue shows.
_BODY = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


def with_preface(issue: IssueRecord, lines: Sequence[str]) -> IssueRecord:
    """``issue`` with ``lines`` (plain text) at the top of its HTML and its text, above the
    issue: what a review copy says to its reviewers before they read the issue."""
    if not lines:
        return issue
    paragraphs = "".join(
        f'<p style="margin: 0 0 6px 0;">{html_module.escape(line)}</p>' for line in lines
    )
    block = (
        '\n<div style="border: 2px solid #b45309; background: #fffbeb; color: #1f2937; '
        'padding: 12px 16px; margin: 8px; font-family: sans-serif; font-size: 15px;">'
        f"{paragraphs}</div>\n"
    )
    found = _BODY.search(issue.html)
    at = found.end() if found else 0
    html = issue.html[:at] + block + issue.html[at:]
    text = "\n".join(lines) + "\n" + "=" * 72 + "\n\n" + issue.text
    return replace(issue, html=html, text=text)


@dataclass(frozen=True)
class Recipient:
    """Who a message goes to. ``key``: the address's email_key; ``token_key``: the random key
    their links carry ('' for an address that is no subscriber, such as the preview's sample:
    its link then carries a token of the form before version 6; a test copy gets a key of
    no one instead)."""

    id: int
    email: str
    name: str
    key: str
    token_key: str = ""

    @property
    def envelope(self) -> str:
        """The address for the SMTP envelope: the domain in its ASCII (IDNA) form."""
        local = self.email.rsplit("@", 1)[0]
        return f"{local}@{self.key.rsplit('@', 1)[1]}"


# The preview's reader: an address that can receive nothing (RFC 2606's .invalid), whose
# unsubscribe link has a token of the real form made with a key that is not the site's secret,
# so it unsubscribes no one.
SAMPLE = Recipient(0, "reader@example.invalid", "", "reader@example.invalid")
PREVIEW_SECRET = b"feedpub preview: not the site's secret, this token unsubscribes no one"


def to_header(recipient: Recipient) -> str:
    """The To header's line: RFC 2047 encodes a non-ASCII name; an address whose local part is
    not ASCII is written for SMTPUTF8 (RFC 6532) as it is."""
    return _address_header("To", recipient.name, recipient.envelope)


def _address_header(header: str, name: str, address: str) -> str:
    return f"{header}: {phrase_then(header, name, address)}\r\n"


def list_id_value(name: str, kept: str) -> str:
    """RFC 2919's List-Id: the name as a phrase, then ``<kept>``, always ASCII (as one RFC 2047
    word for the whole value, a reader could not find the id). A name that is not ASCII is
    encoded words, each within RFC 2047's 75 characters, on folded lines."""
    return phrase_then("List-Id", name, ascii_list_id(kept))


def ascii_list_id(kept: str) -> str:
    """The kept List-Id as headers write it: each label that is not ASCII in its IDNA-like
    "xn--" form."""
    # The kept id is made from the name by slugify, which keeps letters that are not ASCII; the
    # tokens already sent are bound to it as it is, so only the headers write it as ASCII.
    return ".".join(
        label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
        for label in kept.split(".")
    )


def phrase_then(header: str, name: str, inner: str) -> str:
    """A header's value of a name as an RFC 5322 phrase, then ``<inner>`` (an address, a list's
    id), folded: ASCII atoms as they are, other ASCII quoted, the rest encoded words."""
    _one_line(header, name)
    room = LINE - len(header) - 2  # on the first line, after "Name: "
    if not name:
        return f"<{inner}>"
    quoted = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if _ATOMS.fullmatch(name) and _fits(name, room):
        phrase = _wrap(name, room)
    elif name.isascii() and "=?" not in name and len(quoted) <= room:
        phrase = quoted  # RFC 5322 specials; an encoded word's look-alike, many readers decode
    else:
        phrase = _encoded(header, name)
    lines = phrase.split("\r\n")
    space = room if len(lines) == 1 else LINE
    # In octets: with SMTPUTF8 the address may not be ASCII.
    joiner = " " if len(lines[-1]) + len(inner.encode()) + 3 <= space else "\r\n "
    return f"{phrase}{joiner}<{inner}>"


# A phrase of RFC 5322 atoms and spaces: written as it is.
_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]*")


def _fits(text: str, room: int) -> bool:
    """Whether ASCII ``text`` can be written as it is, folded at its spaces: no word too long
    for a line, and nothing a reader would decode as an encoded word."""
    return text.isascii() and "=?" not in text and all(len(w) <= room for w in text.split(" "))


def _encoded(header: str, text: str) -> str:
    """``text`` as RFC 2047 encoded words, each within 75 characters, on lines within 76 (the
    first after ``header``'s name); split between characters, never inside one."""
    # Most names are one short word: made directly, many times faster than through Header.
    word = _UTF8.header_encode(text)
    if len(word) <= LINE - len(header) - 2:
        return word
    return Header(text, _UTF8, maxlinelen=LINE, header_name=header).encode(linesep="\r\n")


# Each word in the shorter of base64 and Q; Q escapes all but letters, digits and "!*+-/", so a
# word is safe in a phrase too (RFC 2047 §5).
_UTF8 = Charset("utf-8")


def _wrap(words: str, room: int) -> str:
    """Atoms folded at their spaces: each break puts CRLF before a space, which unfolding
    takes out again (RFC 5322 §2.2.3)."""
    first, *rest = words.split(" ")
    lines = [first]
    for word in rest:
        if len(lines[-1]) + 1 + len(word) <= room:
            lines[-1] += " " + word
        else:
            lines.append(" " + word)
            room = LINE
    return "\r\n".join(lines)


def _text_header(name: str, value: str) -> str:
    """An unstructured header (Subject), folded: ASCII as it is, else encoded words."""
    _one_line(name, value)
    room = LINE - len(name) - 2
    folded = _wrap(value, room) if _fits(value, room) else _encoded(name, value)
    return f"{name}: {folded}\r\n"


def _one_line(name: str, value: str) -> None:
    # Folding keeps a line break as it is, which would start a header of its own. The settings
    # refuse one when they load; this holds for a Site made in code.
    if "\n" in value or "\r" in value:
        raise ValueError(f"the {name} header's value holds a line break: {value!r}")


def _unsubscribe_header(link: str, mailto: str) -> str:
    """RFC 2369's List-Unsubscribe, folded between its URLs: a URL cannot be broken, and as
    unstructured text the email package would make one an encoded word that clients ignore."""
    targets = [f"<{link}>"] + ([f"<mailto:{mailto}?subject=unsubscribe>"] if mailto else [])
    line = "List-Unsubscribe: " + ", ".join(targets)
    if len(line) <= LINE:
        return line + "\r\n"
    return "List-Unsubscribe: " + ",\r\n ".join(targets) + "\r\n"


def _qp_segments(text: str) -> list[tuple[bool, str]]:
    """The text's lines, quoted-printable encoded and joined with CRLF; a line that carries the
    unsubscribe or the manage link is kept as it is (True) and encoded for each recipient."""
    # Like the email package, end the text with a line break.
    if not text.endswith("\n"):
        text += "\n"
    # Neighbouring lines that are the same for everyone are joined once, here.
    segments: list[tuple[bool, str]] = []
    run: list[str] = []
    for line in text.split("\n"):
        if UNSUBSCRIBE_PLACEHOLDER in line or MANAGE_PLACEHOLDER in line:
            if run:
                segments.append((False, "\r\n".join(run)))
                run = []
            segments.append((True, line))
        else:
            run.append(_qp(line))
    if run:
        segments.append((False, "\r\n".join(run)))
    return segments


def _qp(line: str) -> str:
    # RFC 2045 §6.7: encoded lines of at most 76 characters, the soft line break's '=' counted.
    encoded: str = quoprimime.body_encode(
        line.encode("utf-8").decode("latin-1"), maxlinelen=LINE, eol="\r\n"
    )
    return encoded


def from_header(site: Site) -> str:
    """The From line of every message the newsletter sends."""
    newsletter = site.newsletter
    sender = parseaddr(newsletter.from_) if newsletter.from_ else None
    return _address_header("From", *(sender or (site.newsletter_name, "newsletter@invalid")))


def feedback_id(site: Site, campaign: str, kept_list_id: str) -> str:
    """The Feedback-ID header's line: ``campaign:list:sender`` (Gmail's feedback loop reads up
    to four ":"-separated fields, the last the sender's id, and reports complaints by them);
    ``campaign`` is the issue's number, or the kind of mail ("welcome"). A field holds no
    ":" of its own (an IPv6 host's are made "-"). It is not folded: it has no whitespace to
    fold at (RFC 5322 2.2.3), and a space would change it; the List-Id bounds its length."""
    fields = (campaign, ascii_list_id(kept_list_id), host_of(site))
    return "Feedback-ID: " + ":".join(f.replace(":", "-") for f in fields) + "\r\n"


def reply_to_header(site: Site) -> str:
    """The Reply-To line, or nothing when [newsletter] reply_to is not set."""
    reply_to = site.newsletter.reply_to
    return _address_header("Reply-To", *parseaddr(reply_to)) if reply_to else ""


class PreparedIssue:
    """An issue's email encoded once; for each recipient only To, Date, Message-ID,
    List-Unsubscribe (its link and its mailto, whose token names them) and the lines holding
    the unsubscribe link are written."""

    def __init__(self, site: Site, issue: IssueRecord, test: bool = False) -> None:
        self.site = site
        self.issue = issue
        # A test (or review) copy: "[Test] " before its subject, and a Message-ID of its own.
        self.test = test
        self.list_id = list_id(site)
        checked_unsubscribe_base(site)
        self.head = from_header(site)
        subject = TEST_SUBJECT + issue.subject if test else issue.subject
        self.middle = reply_to_header(site) + _text_header("Subject", subject)
        self.boundary = f"===============feedpub{issue.id.rsplit(':', 1)[-1].replace('-', '')}=="
        self.tail = "".join(
            [
                f"List-Id: {list_id_value(site.newsletter_name, self.list_id)}\r\n",
                # RFC 8058: a POST to the link unsubscribes at once, without a confirmation page.
                "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
                feedback_id(site, str(issue.number), self.list_id),
                "MIME-Version: 1.0\r\n",
                f'Content-Type: multipart/alternative;\r\n boundary="{self.boundary}"\r\n',
            ]
        )
        self.text = _qp_segments(issue.text)
        self.html = _qp_segments(issue.html)
        self._dated: tuple[datetime, str] | None = None

    def _part(self, subtype: str, lines: list[tuple[bool, str]], link: str, manage: str) -> str:
        body = "\r\n".join(
            _qp(line.replace(UNSUBSCRIBE_PLACEHOLDER, link).replace(MANAGE_PLACEHOLDER, manage))
            if personal
            else line
            for personal, line in lines
        )
        return (
            f"--{self.boundary}\r\n"
            f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{body}\r\n"
        )

    def _date(self, now: datetime) -> str:
        # Made once a second: formatting a date takes as long as the rest of a header block.
        second = now.replace(microsecond=0)
        kept = self._dated
        if kept is None or kept[0] != second:
            kept = self._dated = (second, format_datetime(second))
        return kept[1]

    def _message_id(self, recipient: Recipient) -> str:
        if self.test:
            return test_message_id(self.site, self.issue)
        return message_id(self.site, self.issue, recipient.key)

    def render(self, recipient: Recipient, secret: bytes, now: datetime) -> bytes:
        """The message for ``recipient``, dated ``now`` (RFC 5322's Date: when it is handed
        over); UTF-8 (RFC 6531, for SMTPUTF8) only where the address's local part is not
        ASCII, ASCII otherwise."""
        link = unsubscribe_link(self.site, unsubscribe_token(secret, self.list_id, recipient))
        manage = web_link(self.site, "manage", manage_token(secret, self.list_id, recipient))
        # Their own unsubscribe+TOKEN@ address with [smtp] bounce_address, else reply_to/from.
        mailto = unsubscribe_mailto(self.site, secret, recipient, self.issue.number, self.list_id)
        head = "".join(
            [
                self.head,
                to_header(recipient),
                self.middle,
                f"Date: {self._date(now)}\r\n",
                f"Message-ID: {self._message_id(recipient)}\r\n",
                _unsubscribe_header(link, mailto),
                self.tail,
                "\r\n",
            ]
        )
        parts = self._part("plain", self.text, link, manage) + self._part(
            "html", self.html, link, manage
        )
        data = head + parts + f"--{self.boundary}--\r\n"
        return data.encode("ascii" if recipient.envelope.isascii() else "utf-8")


def preview_message(site: Site, issue: IssueRecord, now: datetime) -> bytes:
    """The message as ``SAMPLE`` would get it, dated ``now``: what ``issue preview`` shows."""
    return PreparedIssue(site, issue).render(SAMPLE, PREVIEW_SECRET, now)


def _qp_body(text: str) -> str:
    """A whole text, quoted-printable, its lines joined with CRLF (as an issue's parts are)."""
    if not text.endswith("\n"):
        text += "\n"
    return "\r\n".join(_qp(line) for line in text.split("\n"))


def write_message(
    site: Site,
    recipient: Recipient,
    subject: str,
    text: str,
    html: str,
    now: datetime,
    message_id: str,
    headers: str = "",
) -> bytes:
    """A message of one text and one HTML part, for ``recipient``, dated ``now``: the mails
    feedpub sends on a reader's request (``mailer``), with the same headers, folding and
    quoted-printable as an issue's. ``headers`` are more header lines, each ending in CRLF.
    The message names ``recipient.name`` in its To only if the caller put a name there."""
    boundary = f"===============feedpub{hashlib.sha256(message_id.encode()).hexdigest()[:24]}=="
    head = "".join(
        [
            from_header(site),
            to_header(recipient),
            reply_to_header(site),
            _text_header("Subject", subject),
            f"Date: {format_datetime(now.replace(microsecond=0))}\r\n",
            f"Message-ID: {message_id}\r\n",
            headers,
            "MIME-Version: 1.0\r\n",
            f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n',
            "\r\n",
        ]
    )
    parts = "".join(
        f"--{boundary}\r\n"
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{_qp_body(body)}\r\n"
        for subtype, body in (("plain", text), ("html", html))
    )
    data = head + parts + f"--{boundary}--\r\n"
    return data.encode("ascii" if recipient.envelope.isascii() else "utf-8")


def list_headers(site: Site, unsubscribe: str, mailto: str, campaign: str) -> str:
    """List-Id, the one-click List-Unsubscribe (RFC 2369, RFC 8058) with ``mailto`` (the
    reader's ``verp.unsubscribe_mailto``) and Feedback-ID for a message of the list that is
    not an issue (the welcome: ``campaign`` "welcome")."""
    kept = list_id(site)
    return "".join(
        [
            f"List-Id: {list_id_value(site.newsletter_name, kept)}\r\n",
            _unsubscribe_header(unsubscribe, mailto),
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
            feedback_id(site, campaign, kept),
        ]
    )
