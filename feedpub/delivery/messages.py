"""Email messages: an issue as MIME with its headers, as RFC 5322 wants them, for each
recipient (their own To, Message-ID and unsubscribe link), and the list's identity (the List-Id,
kept in ``.feedpub/list-id``) and unsubscribe links (RFC 2369, RFC 8058 one-click).

``PreparedIssue`` encodes an issue once and writes only what differs for each recipient: the
bytes ``personal_message`` would make, without building a message anew for each.
"""

from __future__ import annotations

import email.policy
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email import quoprimime
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from urllib.parse import urlencode, urlsplit

from feedpub.config import Site
from feedpub.delivery.tokens import make_token
from feedpub.errors import StateError
from feedpub.oserrors import describe
from feedpub.private import write_private
from feedpub.store.issues import UNSUBSCRIBE_PLACEHOLDER, IssueRecord
from feedpub.store.state import create_file
from feedpub.text import slugify

# Headers may run to RFC 5322's 998 characters: folded at 78, the email package would RFC 2047
# encode a long unbreakable value such as List-Unsubscribe's <https://...?t=token> and break it.
POLICY = email.policy.SMTP.clone(max_line_length=998)
UTF8_POLICY = email.policy.SMTPUTF8.clone(max_line_length=998)


def message(
    site: Site,
    subject: str,
    html: str,
    text: str,
    created: datetime,
    message_id: str,
    to: str | None = None,
) -> EmailMessage:
    """A complete email: multipart/alternative, the text part first, then the HTML."""
    newsletter = site.newsletter
    msg = EmailMessage(policy=POLICY)
    msg["From"] = newsletter.from_ or f"{site.newsletter_name} <newsletter@invalid>"
    msg["To"] = to or msg["From"]
    if newsletter.reply_to:
        msg["Reply-To"] = newsletter.reply_to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(created)
    msg["Message-ID"] = message_id
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg


def host_of(site: Site) -> str:
    return urlsplit(site.site.url).hostname or "feedpub.invalid"


LIST_ID_FILE = "list-id"


def list_id(site: Site) -> str:
    """RFC 2919 List-Id, made from the newsletter's name and the site's host when first needed
    and kept in ``.feedpub/list-id``: renaming the newsletter or moving the site later changes
    neither it nor the unsubscribe links already sent, whose tokens are bound to it."""
    path = site.state_dir / LIST_ID_FILE
    try:
        kept = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        kept = ""
    except (OSError, UnicodeDecodeError) as exc:
        what = describe(exc, path) if isinstance(exc, OSError) else f"{path} is not UTF-8"
        raise StateError(f"cannot read the List-Id: {what}") from None
    if kept:
        return kept
    value = f"{slugify(site.newsletter_name) or 'newsletter'}.{host_of(site)}"
    try:
        # Whole or not at all: an empty file left by a full disk would be read as no List-Id.
        kept = create_file(path, f"{value}\n".encode()).decode("utf-8", "replace").strip()
        if not kept:  # an empty file an older version left at a kill: written whole now
            write_private(path, f"{value}\n".encode())
    except OSError as exc:
        raise StateError(f"cannot keep the List-Id: {describe(exc, path)}") from None
    return kept or value


def unsubscribe_base(site: Site) -> str:
    return site.newsletter.unsubscribe_url or site.site.url + "unsubscribe"


def unsubscribe_link(site: Site, token: str) -> str:
    base = unsubscribe_base(site)
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}{urlencode({'t': token})}"


def message_id(site: Site, issue: IssueRecord, key: str = "") -> str:
    """The same for an issue and recipient on every try, so a resent copy is a duplicate; it
    carries a hash of the address, never the address."""
    who = f".{hashlib.sha256(key.encode()).hexdigest()[:20]}" if key else ""
    return f"<issue-{issue.number}.{issue.id.rsplit(':', 1)[-1]}{who}@{host_of(site)}>"


def issue_message(
    site: Site, issue: IssueRecord, to: str | None = None, unsubscribe: str | None = None
) -> EmailMessage:
    """The issue as one complete email (previews, --test copies)."""
    link = unsubscribe or unsubscribe_base(site)
    return message(
        site,
        issue.subject,
        issue.html.replace(UNSUBSCRIBE_PLACEHOLDER, link),
        issue.text.replace(UNSUBSCRIBE_PLACEHOLDER, link),
        datetime.fromisoformat(issue.created),
        message_id(site, issue),
        to,
    )


@dataclass(frozen=True)
class Recipient:
    id: int
    email: str
    name: str
    key: str

    @property
    def envelope(self) -> str:
        """The address for the SMTP envelope: the domain in its ASCII (IDNA) form."""
        local = self.email.rsplit("@", 1)[0]
        return f"{local}@{self.key.rsplit('@', 1)[1]}"


def to_header(recipient: Recipient) -> str:
    """The To header: RFC 2047 encodes a non-ASCII name; an address whose local part is not
    ASCII (which Python's email package cannot encode) is written for SMTPUTF8 as it is."""
    if recipient.envelope.isascii():
        return formataddr((recipient.name, recipient.envelope))
    if not recipient.name:
        return recipient.envelope
    quoted = recipient.name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" <{recipient.envelope}>'


def personal_message(
    site: Site, issue: IssueRecord, recipient: Recipient, secret: bytes
) -> EmailMessage:
    """The issue for one recipient: their own To, Message-ID and unsubscribe link."""
    token = make_token(secret, list_id(site), recipient.key)
    link = unsubscribe_link(site, token)
    msg = message(
        site,
        issue.subject,
        issue.html.replace(UNSUBSCRIBE_PLACEHOLDER, link),
        issue.text.replace(UNSUBSCRIBE_PLACEHOLDER, link),
        datetime.fromisoformat(issue.created),
        message_id(site, issue, recipient.key),
        to_header(recipient),
    )
    msg["List-Id"] = _Folded("List-Id", list_id_value(site.newsletter_name, list_id(site)))
    mailto = parseaddr(site.newsletter.reply_to or site.newsletter.from_)[1]
    targets = [f"<{link}>"]
    if mailto:
        targets.append(f"<mailto:{mailto}?subject=unsubscribe>")
    msg["List-Unsubscribe"] = ", ".join(targets)
    # RFC 8058: a POST to the link unsubscribes at once, without a confirmation page.
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return msg


def list_id_value(name: str, kept: str) -> str:
    """RFC 2919's List-Id: the name as a phrase, then ``<kept>``, always ASCII (as one RFC 2047
    word for the whole value, a reader could not find the id). A name that is not ASCII is
    encoded words, each within RFC 2047's 75 characters, on folded lines."""
    _one_line("List-Id", name)
    if not name.isascii():
        phrase = Header(name, "utf-8", header_name="List-Id").encode(linesep="\r\n")
    elif _ATOMS.fullmatch(name):
        phrase = name
    else:  # RFC 5322 specials ('<', ':', '"', ...) would be read as the header's syntax
        phrase = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    # The kept id is made from the name by slugify, which keeps letters that are not ASCII; the
    # tokens already sent are bound to it as it is, so only the header writes it as ASCII.
    kept = ".".join(
        label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
        for label in kept.split(".")
    )
    last = phrase.rpartition("\n")[2]
    joiner = "\r\n " if len(last) + len(kept) + 3 > 78 - len("List-Id: ") else " "
    return f"{phrase}{joiner}<{kept}>" if phrase else f"<{kept}>"


# A phrase of RFC 5322 atoms and spaces: written as it is.
_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]*")


class _Folded(str):
    """A header value folded already, which the email package writes as it is (its policy
    calls ``fold`` on a value that has the header's ``name``)."""

    def __new__(cls, name: str, value: str) -> _Folded:
        made = super().__new__(cls, value)
        made.name = name
        return made

    name: str

    def fold(self, *, policy: email.policy.Policy) -> str:
        return f"{self.name}: {self}\r\n".replace("\r\n", policy.linesep)


def _fold(name: str, value: str) -> str:
    """One header line, RFC 2047-encoded where it is not ASCII, as the email package writes it."""
    _one_line(name, value)
    return str(POLICY.fold(name, POLICY.header_factory(name, value)))


def _one_line(name: str, value: str) -> None:
    # Folding keeps a line break as it is, which would start a header of its own. The settings
    # refuse one when they load; this holds for a Site made in code, as msg[name] = ... does.
    if "\n" in value or "\r" in value:
        raise ValueError(f"the {name} header's value holds a line break: {value!r}")


def _fold_fast(name: str, value: str) -> str:
    """A short ASCII header as it is; anything else through the email package."""
    if value.isascii() and len(value) < 900 and "\n" not in value and "\r" not in value:
        return f"{name}: {value}\r\n"
    return _fold(name, value)


def _qp_segments(text: str) -> list[tuple[bool, str]]:
    """The text's lines, quoted-printable encoded and joined with CRLF; a line that carries the
    unsubscribe link is kept as it is (True) and encoded for each recipient."""
    # Like the email package, end the text with a line break.
    if not text.endswith("\n"):
        text += "\n"
    # Neighbouring lines that are the same for everyone are joined once, here.
    segments: list[tuple[bool, str]] = []
    run: list[str] = []
    for line in text.split("\n"):
        if UNSUBSCRIBE_PLACEHOLDER in line:
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
    encoded: str = quoprimime.body_encode(
        line.encode("utf-8").decode("latin-1"), maxlinelen=76, eol="\r\n"
    )
    return encoded


class PreparedIssue:
    """An issue's email encoded once; for each recipient only To, Message-ID,
    List-Unsubscribe and the lines holding the unsubscribe link are written. The bytes are the
    same message ``personal_message`` builds, without building it anew every time."""

    def __init__(self, site: Site, issue: IssueRecord) -> None:
        self.site = site
        self.issue = issue
        self.list_id = list_id(site)
        newsletter = site.newsletter
        sender = newsletter.from_ or f"{site.newsletter_name} <newsletter@invalid>"
        self.head = _fold("From", sender)
        self.middle = "".join(
            [
                _fold("Reply-To", newsletter.reply_to) if newsletter.reply_to else "",
                _fold("Subject", issue.subject),
                _fold("Date", format_datetime(datetime.fromisoformat(issue.created))),
            ]
        )
        mailto = parseaddr(newsletter.reply_to or newsletter.from_)[1]
        self.mailto = f", <mailto:{mailto}?subject=unsubscribe>" if mailto else ""
        self.boundary = f"===============feedpub{issue.id.rsplit(':', 1)[-1].replace('-', '')}=="
        self.tail = "".join(
            [
                f"List-Id: {list_id_value(site.newsletter_name, self.list_id)}\r\n",
                "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
                "MIME-Version: 1.0\r\n",
                f'Content-Type: multipart/alternative; boundary="{self.boundary}"\r\n',
            ]
        )
        self.text = _qp_segments(issue.text)
        self.html = _qp_segments(issue.html)

    def _part(self, subtype: str, lines: list[tuple[bool, str]], link: str) -> str:
        body = "\r\n".join(
            _qp(line.replace(UNSUBSCRIBE_PLACEHOLDER, link)) if personal else line
            for personal, line in lines
        )
        return (
            f"--{self.boundary}\r\n"
            f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{body}\r\n"
        )

    def render(self, recipient: Recipient, secret: bytes) -> bytes:
        if not recipient.envelope.isascii():
            # Rare (RFC 6531 addresses): the email package writes those.
            msg = personal_message(self.site, self.issue, recipient, secret)
            return message_bytes(msg, recipient)
        link = unsubscribe_link(self.site, make_token(secret, self.list_id, recipient.key))
        head = "".join(
            [
                self.head,
                _fold_fast("To", to_header(recipient)),
                self.middle,
                f"Message-ID: {message_id(self.site, self.issue, recipient.key)}\r\n",
                f"List-Unsubscribe: <{link}>{self.mailto}\r\n",
                self.tail,
                "\r\n",
            ]
        )
        parts = self._part("plain", self.text, link) + self._part("html", self.html, link)
        return (head + parts + f"--{self.boundary}--\r\n").encode("ascii")


def message_bytes(msg: EmailMessage, recipient: Recipient) -> bytes:
    """The message as sent: plain SMTP, or SMTPUTF8 (RFC 6531) for an address whose local part
    is not ASCII."""
    return msg.as_bytes(policy=POLICY if recipient.envelope.isascii() else UTF8_POLICY)
