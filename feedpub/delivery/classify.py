"""What an incoming message to the bounce or unsubscribe address is, and whom it is about.

``classify(data, ours)`` reads one raw message and returns the events it carries (at least
one), each keyed by ``message_key(data)`` so that the same message read twice, from any
source, is acted on once. ``ours`` is ``verp.matcher(site)``: it says which addresses are this
site's VERP addresses and what token they carry. In the order tried:

1. A delivery status notification (RFC 3464, ``message/delivery-status``, or RFC 6533's
   global one): each recipient's Action and Status. A failure with a 5.x.x status is hard and
   a 4.x.x one soft, except the 5.x.x codes that say nothing about the address (mailbox full,
   message too big, content, and the whole 5.7 class of policy and security refusals: a
   blocklisted relay or a DMARC failure must not drop every reader at one provider), which
   count as soft, so that three issues in a row still end the address. A report of a delay
   or of a delivery is ignored: the final word comes later, if at all.
2. A complaint: an ARF report (RFC 5965, ``message/feedback-report``; Feedback-Type abuse or
   fraud; opt-out asks to leave; the other types, auth-failure and not-spam among them, are
   ignored), or Microsoft's JMRP report (the complained-of message attached whole, with
   ``X-HmXmrOriginalRecipient``).
3. A mail to an ``unsubscribe+TOKEN`` address: an unsubscribe.
4. An automatic reply (RFC 3834's Auto-Submitted, X-Autoreply, X-Autorespond, Precedence:
   auto_reply, or an out-of-office subject in English, French, German, Spanish, Italian, Dutch
   or Portuguese): ignored. A message that looks like a mail system's (from MAILER-DAEMON or
   postmaster, X-Failed-Recipients, a bounce's subject) is not taken for one: Exim's and
   Exchange's bounces say ``Auto-Submitted: auto-replied`` too.
5. A bounce in a format of its own (qmail, Yahoo, Exim's plain text, ...): flufl.bounce's
   detectors; a warning of a delay is ignored, a permanent failure is hard (or soft by the
   status code its text quotes, as above). A mail system's message to a VERP address that no
   detector reads still counts for the token's reader (saying who when the bounce itself is
   unreadable is what VERP is for): soft, unless its text quotes a status.
6. Anything else: unknown, kept and counted, never acted on.

Who it is about: the VERP token in the envelope recipient headers (Delivered-To,
X-Original-To, Envelope-To, X-Envelope-To, To), else one in the returned original's
Return-Path or List-Unsubscribe (the reader's own copy), else the addresses the report names
(Original-Recipient before Final-Recipient; an ARF's Original-Rcpt-To; the original's To),
which the rules match against the list. A token is not checked here: ``events.apply`` does.

Hostile input is expected: at most the first ``MAX_PARSED`` bytes are parsed (a 20 MB
attachment costs a hash of it), at most ``MAX_CONTAINERS`` nested parts and ``MAX_FIELDS``
header fields, at most ``MAX_RECIPIENTS`` recipients taken from one report; a message that
cannot be read (malformed MIME, bad encodings, a nesting bomb, binary garbage) is unknown,
never an exception.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from email.header import Header, decode_header
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser
from email.policy import compat32
from email.utils import getaddresses

from feedpub.delivery.events import Event
from feedpub.delivery.verp import UNSUBSCRIBE
from feedpub.store.events import one_line

Ours = Callable[[str], tuple[str, str] | None]

KEY_PREFIX = "mail:"
SOURCE = "inbox"
MAX_PARSED = 1 << 20  # bytes of a message parsed at all
MAX_SCANNED = 64 << 10  # bytes the non-standard detectors see: their text comes first
MAX_CONTAINERS = 50  # multipart and message parts in one message
MAX_RECIPIENTS = 20  # recipients taken from one report
# Lines that read as header fields, in all the parts: the email package takes some 6 µs a
# field, so a megabyte of them would cost over a second; real messages have a few hundred.
MAX_FIELDS = 5000
_MAX_PARTS_WALKED = 200
_MAX_HEADER = 4000  # characters of one header value looked at
_MAX_ADDRESS = 320  # RFC 5321: 64 + "@" + 255
_MAX_TEXT = 64 << 10  # characters of a bounce's own text searched for a status code

_CONTAINER = re.compile(rb"(?im)^content-type:\s*(?:multipart|message)/")
_FIELD = re.compile(rb"(?m)^[!-9;-~]+:")
_BARE_ADDRESS = re.compile(r"\s*<?([^\s<>,;:\"()\[\]\\@]+@[^\s<>,;:\"()\[\]\\@]+)>?\s*")
_SPACE = re.compile(r"\s")
_ENVELOPE = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
_REPORTS = ("message/delivery-status", "message/global-delivery-status")
_FEEDBACK = "message/feedback-report"
_ORIGINALS = (
    "message/rfc822",
    "message/global",
    "text/rfc822-headers",
    "text/rfc822-header",
    "message/rfc822-headers",
)
_HEADERS_ONLY = ("text/rfc822-headers", "text/rfc822-header", "message/rfc822-headers")
_MAILTO = re.compile(r"<\s*mailto:([^>?\s]+)", re.IGNORECASE)
# An enhanced status code (RFC 3463) not inside an IP address or a version number.
_STATUS = re.compile(r"(?<![\w.])([245])\.(\d{1,3})\.(\d{1,3})(?!\w|\.\d)")
# A bare SMTP reply code, as qmail's and Yahoo's bounces quote the remote server's answer.
_REPLY_CODE = re.compile(r"(?<![\w.:/-])([45][0-5]\d)(?=[ :-][^\d])")
# 5.x.x codes about the message or the sender, not the address: counted as soft.
_SOFT_PERMANENT = {(2, 2), (2, 3), (3, 4), (4, 7)}
_SOFT_PERMANENT_SUBJECTS = {6, 7}
_COMPLAINTS = {"abuse", "fraud"}
_OPT_OUTS = {"opt-out", "opt-out-list"}
_AUTO_SUBMITTED = {"auto-replied", "auto-generated", "auto-notified"}
_SYSTEM_SENDERS = {
    "mailer-daemon",
    "mailerdaemon",
    "mail-daemon",
    "maildaemon",
    "mdaemon",
    "postmaster",
}
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery status notification|delivery (?:has )?fail|"
    r"failure notice|returned mail|mail delivery|non remis|unzustellbar|nicht zustellbar|"
    r"non recapitabile|no se pudo entregar",
    re.IGNORECASE,
)
_WARNING_SUBJECT = re.compile(
    r"\bwarning\b|delayed|delay(?:ed)? (?:notification|mail)|still being retried|will retry|"
    r"not yet (?:been )?delivered|could not send (?:mail|message) for past",
    re.IGNORECASE,
)
# Out-of-office subjects, as the common mail programs write them in each language.
_AWAY_SUBJECT = re.compile(
    r"\b(?:out of (?:the )?office|automatic reply|auto[- ]?repl(?:y|ied)|auto[- ]?respon(?:se|der)|"
    r"away from (?:the |my )?(?:office|desk|e-?mail|mail)|on vacation|vacation reply|"
    r"on holiday|on leave|"
    r"r[ée]ponse automatique|message d'absence|absence du bureau|absent du bureau|"
    r"absente? jusqu|je suis absente?|hors du bureau|en cong[ée]s?\b|r[ée]pondeur|"
    r"abwesenheit|automatische antwort|au(?:ss|ß)er haus|nicht im b[üu]ro|"
    r"au(?:ss|ß)er (?:dem )?b[üu]ro|im urlaub|abwesend|"
    r"respuesta autom[áa]tica|fuera de la oficina|fuera de oficina|"
    r"risposta automatica|fuori ufficio|fuori sede|"
    r"automatisch antwoord|afwezigheidsbericht|afwezig|niet aanwezig|"
    r"resposta autom[áa]tica|fora do escrit[óo]rio|aus[êe]ncia)",
    re.IGNORECASE,
)

# flufl.bounce logs a detector's exception (with its traceback) before raising it; with no
# handler of the application's, logging's last resort would print it. A NullHandler on the
# library's logger is what a library is meant to have (getting the logger imports nothing of
# flufl's); the application's own handlers still get the records.
logging.getLogger("flufl.bounce").addHandler(logging.NullHandler())


@dataclass(frozen=True)
class _Found:
    """One finding before it becomes an Event: what and about whom."""

    kind: str
    detail: str
    token: str = ""
    address: str = ""


def message_key(data: bytes) -> str:
    """The ``received`` key of a raw message: the same bytes from any source, the same key."""
    return KEY_PREFIX + hashlib.sha256(data).hexdigest()


def classify(data: bytes, ours: Ours, source: str = SOURCE, key: str = "") -> list[Event]:
    """The events one raw message carries, at least one; all share the message's key:
    ``key``, given by a source that hashed the whole message as it read it (it hands over
    only the first MAX_PARSED bytes), else ``message_key(data)``. Never raises for what the
    message holds: what cannot be read is one 'unknown' event."""
    key = key or message_key(data)
    try:
        found = _classify(bytes(data[:MAX_PARSED]), ours)
    except RecursionError:
        found = [_Found("unknown", "unknown: parts nested too deep to read")]
    except Exception as exc:  # the email package's and the detectors' errors are undocumented
        # and many (IndexError, LookupError, UnicodeError, ValueError ...): one bad message must
        # never stop the rest of a mailbox, so it is counted as unknown and kept for a person.
        found = [_Found("unknown", f"unknown: the message cannot be read ({type(exc).__name__})")]
    return [
        Event(f.kind, source, one_line(f.detail), f.token, f.address, None, key)
        for f in found
    ]


def _classify(raw: bytes, ours: Ours) -> list[_Found]:
    if not raw.strip():
        return [_Found("unknown", "unknown: an empty message")]
    if len(_CONTAINER.findall(raw)) > MAX_CONTAINERS:
        return [_Found("unknown", f"unknown: more than {MAX_CONTAINERS} nested parts")]
    if len(_FIELD.findall(raw)) > MAX_FIELDS:
        return [_Found("unknown", f"unknown: more than {MAX_FIELDS} header fields")]
    message = BytesParser(policy=compat32).parsebytes(raw)
    if not _looks_like_mail(message):
        return [_Found("unknown", "unknown: not a mail message (no headers)")]
    mine = _first_token(ours, _addresses(_headers(message, *_ENVELOPE)))
    parts = list(_walk(message))
    for step in (_delivery_report, _feedback_report, _jmrp_report):
        found = step(message, parts, mine, ours)
        if found:
            return found
    token = mine[1] if mine else ""
    if mine and mine[0] == UNSUBSCRIBE:
        return [_Found("unsubscribe", "a mail to the unsubscribe address", token)]
    system = _from_mail_system(message)
    if not system:
        away = _auto_reply(message)
        if away:
            return [_Found("auto-reply", f"auto-reply: {away}", token)]
    found = _nonstandard_bounce(raw, message, parts, mine, ours)
    if found:
        return found
    if system and mine:
        return [_unreadable_bounce(message, parts, system, token)]
    if system:
        return [_Found("unknown", f"unknown: from a mail system ({system}), no failure found")]
    return [_Found("unknown", "unknown: neither a bounce, a complaint nor an unsubscribe", token)]


# --- the standard reports -------------------------------------------------------------------


def _delivery_report(
    message: Message, parts: list[Message], mine: tuple[str, str] | None, ours: Ours
) -> list[_Found]:
    report = next((p for p in parts if p.get_content_type() in _REPORTS), None)
    if report is None:
        return []
    blocks = _fields(report)
    recipients = [b for b in blocks[1:] if "final-recipient" in b or "original-recipient" in b]
    if not recipients:
        # Some MTAs leave out the per-message block; a block naming a recipient is one.
        recipients = [b for b in blocks if "final-recipient" in b or "action" in b]
    if not recipients:
        return []  # no readable per-recipient fields: the other detectors may still read it
    failed: list[_Found] = []
    for block in recipients:
        kind, detail = _recipient_kind(block)
        if kind == "ignored":
            continue
        address = _report_address(block.get("original-recipient", ""), ours)
        address = address or _report_address(block.get("final-recipient", ""), ours)
        failed.append(_Found(kind, detail, "", address))
    if not failed:
        action = recipients[0].get("action", "").strip().lower() or "no failure"
        return [_Found("ignored", f"a delivery report ({action}): nothing failed", _token(mine))]
    return _about(failed, mine or _original_token(parts, ours), "a delivery report")


def _recipient_kind(block: dict[str, str]) -> tuple[str, str]:
    """hard, soft or ignored, and the detail kept, for one recipient's block of a DSN."""
    action = block.get("action", "").strip().lower().split(" ")[0]
    diagnostic = block.get("diagnostic-code", "")
    status = _status_in(block.get("status", ""))
    better = _status_in(diagnostic)
    # "5.0.0" says only the class; the diagnostic's own code may say more (SES writes both).
    if status and better and status[0] == better[0] and status[1:] == (0, 0):
        status = better
    status = status or better
    code = ".".join(map(str, status)) if status else "no status"
    detail = f"{code} {_strip_type(diagnostic)}".strip()
    if action in ("delayed", "delivered", "relayed", "expanded"):
        return "ignored", detail
    if status is None:
        return ("hard" if action == "failed" else "ignored"), detail
    return _status_kind(status), detail


def _status_kind(status: tuple[int, int, int]) -> str:
    klass, subject, detail = status
    if klass == 2:
        return "ignored"
    if klass == 4:
        return "soft"
    if subject in _SOFT_PERMANENT_SUBJECTS or (subject, detail) in _SOFT_PERMANENT:
        return "soft"
    return "hard"


def _feedback_report(
    message: Message, parts: list[Message], mine: tuple[str, str] | None, ours: Ours
) -> list[_Found]:
    report = next((p for p in parts if p.get_content_type() == _FEEDBACK), None)
    if report is None:
        return []
    fields: dict[str, list[str]] = {}
    for block in _blocks(report):
        for name, value in block:
            fields.setdefault(name.lower(), []).append(value)

    def first(name: str) -> str:
        return fields.get(name, [""])[0].strip()

    kind_of = first("feedback-type").lower()
    agent = first("user-agent") or _sender_domain(message) or "an unnamed agent"
    detail = f"{kind_of or 'untyped'} report from {agent}"
    if kind_of in _COMPLAINTS:
        kind = "complaint"
    elif kind_of in _OPT_OUTS:
        kind = "unsubscribe"
    else:
        return [_Found("ignored", f"ignored: {detail}", _token(mine))]
    token = (
        mine
        or _first_token(ours, _addresses(fields.get("original-mail-from", [])))
        or _original_token(parts, ours)
    )
    named = [*fields.get("removal-recipient", []), *fields.get("original-rcpt-to", [])]
    addresses = [a for a in _addresses(named) or _original_addresses(parts) if ours(a) is None]
    return _about(
        [_Found(kind, detail, "", a) for a in addresses] or [_Found(kind, detail)],
        token,
        "a feedback report",
    )


def _jmrp_report(
    message: Message, parts: list[Message], mine: tuple[str, str] | None, ours: Ours
) -> list[_Found]:
    # Microsoft's Junk Mail Reporting Program attaches the reported message whole, in a
    # multipart/mixed of its own rather than an ARF report; the attached copy's own header
    # X-HmXmrOriginalRecipient says whose it was.
    if not message.is_multipart():
        return []
    for original in _originals(parts):
        reported = _headers(original, "X-HmXmrOriginalRecipient")
        if reported:
            detail = f"abuse report from Microsoft JMRP ({_sender_domain(message) or 'unsigned'})"
            token = mine or _original_token([original], ours, contained=True)
            found = [_Found("complaint", detail, "", a) for a in _addresses(reported)]
            return _about(found or [_Found("complaint", detail)], token, "a JMRP report")
    return []


def _about(found: list[_Found], token: tuple[str, str] | None, what: str) -> list[_Found]:
    """The events of a report: one for the token's reader (the worst of what it says: a hard
    bounce over a soft one), else one per address it names, else unknown."""
    if token:
        worst = next((f for f in found if f.kind == "hard"), found[0])
        return [_Found(worst.kind, worst.detail, token[1])]
    named: list[_Found] = []
    seen: set[str] = set()
    for finding in found:
        lowered = finding.address.lower()
        if finding.address and lowered not in seen:
            seen.add(lowered)
            named.append(finding)
    if not named:
        return [_Found("unknown", f"unknown: {what} that names no recipient of ours")]
    return named[:MAX_RECIPIENTS]


# --- the rest: automatic replies and bounces of other formats --------------------------------


def _from_mail_system(message: Message) -> str:
    """Why ``message`` looks like a mail system's ('' when it does not)."""
    if _headers(message, "X-Failed-Recipients"):
        return "X-Failed-Recipients"
    # Some write a bare "MAILER-DAEMON", with no domain: not an address _addresses keeps.
    for _, address in getaddresses(_headers(message, "From")[:5]):
        local = address.partition("@")[0].strip().lower()
        if local in _SYSTEM_SENDERS:
            return f"From {local}"
    subject = " ".join(_headers(message, "Subject"))
    if _BOUNCE_SUBJECT.search(subject):
        return "a bounce's subject"
    return ""


def _auto_reply(message: Message) -> str:
    """Why ``message`` is an automatic reply ('' when it is not)."""
    for value in _headers(message, "Auto-Submitted"):
        word = value.strip().lower().split("(")[0].split(";")[0].strip()
        if word in _AUTO_SUBMITTED:
            return f"Auto-Submitted: {word}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponse"):
        values = [v.strip().lower() for v in _headers(message, name)]
        if any(v not in ("no", "false", "0") for v in values):
            return name
    if any(v.strip().lower() == "auto_reply" for v in _headers(message, "Precedence")):
        return "Precedence: auto_reply"
    subject = " ".join(_headers(message, "Subject"))
    match = _AWAY_SUBJECT.search(subject)
    if match:
        return f"subject says {match.group(0)!r}"
    return ""


def _nonstandard_bounce(
    raw: bytes, message: Message, parts: list[Message], mine: tuple[str, str] | None, ours: Ours
) -> list[_Found]:
    # flufl.bounce (GNU Mailman's detectors) is imported here, not at the top: only a message
    # that no standard report explains needs its seventeen modules.
    from flufl.bounce import all_failures

    # Their heuristics read every line of every text part: the bounce's own words come first,
    # so a truncated copy keeps a big returned original from costing seconds.
    scanned = (
        message
        if len(raw) <= MAX_SCANNED
        else BytesParser(policy=compat32).parsebytes(raw[:MAX_SCANNED])
    )
    try:
        temporary, permanent = all_failures(scanned)
    except RecursionError:
        raise
    except Exception:  # a detector's bug on odd input: no verdict from them
        return []
    if not temporary and not permanent:
        return []
    token = mine or _original_token(parts, ours)
    if not permanent:
        return [
            _Found(
                "ignored", "a warning of a delay (flufl.bounce): still being tried", _token(token)
            )
        ]
    status, line = _quoted_status(parts)
    kind = _status_kind(status) if status else "hard"
    kind = "hard" if kind == "ignored" else kind
    code = ".".join(map(str, status)) if status else "no status"
    detail = f"{code} {line}".strip() + " (flufl.bounce)"
    found = [
        _Found(kind, detail, "", address)
        for address in _addresses(sorted(a.decode("ascii", "replace") for a in permanent))
        if ours(address) is None  # our own bounce address quoted in the text is no reader
    ]
    return _about(found or [_Found(kind, detail)], token, "a bounce")


def _unreadable_bounce(message: Message, parts: list[Message], system: str, token: str) -> _Found:
    """A mail system's message to a VERP address that no detector reads: the token still says
    whose message came back (the point of VERP), so it counts, by the status code its text
    quotes; soft when it quotes none, so that only three issues in a row end the address."""
    subject = " ".join(_headers(message, "Subject"))
    if _WARNING_SUBJECT.search(subject):
        return _Found("ignored", f"a warning of a delay from a mail system ({system})", token)
    status, line = _quoted_status(parts)
    kind = _status_kind(status) if status else "soft"
    if kind == "ignored":
        return _Found("ignored", f"a mail system's report of no failure ({system})", token)
    code = ".".join(map(str, status)) if status else "no status"
    return _Found(kind, f"{code} {line}".strip() + f" (a mail system's message: {system})", token)


def _quoted_status(parts: list[Message]) -> tuple[tuple[int, int, int] | None, str]:
    """The first status code in the bounce's own text (the first text part: later ones are
    the original's), and its line. A bare SMTP reply code, as qmail's and Yahoo's bounces
    quote the remote server, says only its class: ``5.0.0``."""
    part = next((p for p in parts if p.get_content_type() == "text/plain"), None)
    if part is None:
        return None, ""
    text = _body_text(part)[:_MAX_TEXT]
    match = _STATUS.search(text) or _REPLY_CODE.search(text)
    if match is None:
        return None, ""
    start = text.rfind("\n", 0, match.start()) + 1
    end = text.find("\n", match.end())
    line = text[start : end if end >= 0 else len(text)].strip()
    if match.re is _STATUS:
        return (int(match[1]), int(match[2]), int(match[3])), line
    return (int(match[1][0]), 0, 0), line


# --- the returned original ------------------------------------------------------------------


def _originals(parts: list[Message]) -> Iterator[Message]:
    """The headers of each returned or reported message (a message/rfc822 part's message, or
    a text/rfc822-headers part parsed), in order."""
    for part in parts:
        kind = part.get_content_type()
        if kind not in _ORIGINALS:
            continue
        if kind in _HEADERS_ONLY:
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                yield BytesHeaderParser(policy=compat32).parsebytes(payload[:MAX_SCANNED])
            continue
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            yield payload[0]


def _original_token(
    parts: list[Message], ours: Ours, contained: bool = False
) -> tuple[str, str] | None:
    """A VERP token in the returned original's Return-Path or List-Unsubscribe: the reader's
    own copy says whose it was. ``contained``: ``parts`` are the originals themselves."""
    originals = parts if contained else list(_originals(parts))
    for original in originals:
        found = _first_token(ours, _addresses(_headers(original, "Return-Path")))
        if found:
            return found
        mailtos = [m for v in _headers(original, "List-Unsubscribe") for m in _MAILTO.findall(v)]
        found = _first_token(ours, mailtos)
        if found:
            return found
    return None


def _original_addresses(parts: list[Message]) -> list[str]:
    for original in _originals(parts):
        found = _addresses(_headers(original, "X-HmXmrOriginalRecipient", "To"))
        if found:
            return found
    return []


# --- reading fields and headers safely -------------------------------------------------------


def _looks_like_mail(message: Message) -> bool:
    names = {name.lower() for name in message.keys()[:200]}
    return bool(
        names
        & {
            "from",
            "to",
            "subject",
            "date",
            "message-id",
            "return-path",
            "received",
            "delivered-to",
            "content-type",
        }
    )


def _walk(message: Message) -> Iterator[Message]:
    """The parts of ``message``, depth first, without entering attached messages (those are
    originals, read on their own) and at most ``_MAX_PARTS_WALKED`` of them."""
    stack = [message]
    count = 0
    while stack and count < _MAX_PARTS_WALKED:
        part = stack.pop()
        count += 1
        yield part
        if part.get_content_maintype() == "multipart":
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend(reversed([p for p in payload if isinstance(p, Message)]))


def _blocks(report: Message) -> list[list[tuple[str, str]]]:
    """The groups of fields of a report part (RFC 3464 and 5965: blocks of header-like lines
    separated by blank lines), however the parser left it."""
    payload = report.get_payload()
    if isinstance(payload, list):
        return [
            [(str(name), _text(value)) for name, value in block.items()]
            for block in payload
            if isinstance(block, Message)
        ]
    raw = report.get_payload(decode=True)
    if not isinstance(raw, bytes):
        return []
    blocks = []
    for chunk in re.split(rb"\r?\n[ \t]*\r?\n", raw[:MAX_SCANNED]):
        parsed = BytesHeaderParser(policy=compat32).parsebytes(chunk.strip() + b"\n")
        fields = [(str(name), _text(value)) for name, value in parsed.items()]
        if fields:
            blocks.append(fields)
    return blocks


def _fields(report: Message) -> list[dict[str, str]]:
    return [{name.lower(): value for name, value in block} for block in _blocks(report)]


def _headers(message: Message, *names: str) -> list[str]:
    values: list[str] = []
    for name in names:
        values.extend(_text(v) for v in message.get_all(name, []))
    return values


def _text(value: object) -> str:
    """A header's value as text: RFC 2047 words decoded, raw 8-bit bytes read as UTF-8 (or
    replaced), unknown charsets read as Latin-1, control characters made spaces."""
    if isinstance(value, Header):
        chunks = decode_header(value)
        value = "".join(
            c.decode("utf-8", "replace") if isinstance(c, bytes) else c for c, _ in chunks
        )
    text = str(value)[:_MAX_HEADER]
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if "=?" in text:
        try:
            words = decode_header(text)
        except (ValueError, IndexError):  # a malformed encoded word: the text as it stands
            words = [(text, None)]
        text = "".join(_decode_word(chunk, charset) for chunk, charset in words)
    return re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip()


def _decode_word(chunk: str | bytes, charset: str | None) -> str:
    if isinstance(chunk, str):
        return chunk
    if charset is None:  # the text between encoded words, which decode_header gives back so
        return chunk.decode("raw-unicode-escape", "replace")
    try:
        return chunk.decode(charset, "replace")
    except LookupError:
        return chunk.decode("latin-1")


def _body_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:
        return payload.decode("latin-1")


def _addresses(values: Iterable[str]) -> list[str]:
    """The plausible addresses in header values, in order, each once, at most 50."""
    found: list[str] = []
    for value in values:
        bare = _BARE_ADDRESS.fullmatch(value)
        # Most of these headers hold one bare address; getaddresses, character by character
        # in Python, is for the rest.
        pairs = [("", bare[1])] if bare else getaddresses([value[:_MAX_HEADER]])
        for _, address in pairs:
            address = address.strip().strip("<>").strip()
            if _plausible(address) and address not in found:
                found.append(address)
                if len(found) >= 50:
                    return found
    return found


def _plausible(address: str) -> bool:
    return (
        3 <= len(address) <= _MAX_ADDRESS
        and "@" in address[1:-1]
        and address.isprintable()
        and _SPACE.search(address) is None
    )


def _report_address(value: str, ours: Ours) -> str:
    """The address of a DSN recipient field, ``rfc822; ann@example.org``, if it is a plausible
    one and not one of ours."""
    address = _strip_type(value).strip("<>").strip()
    if not _plausible(address) or ours(address) is not None:
        return ""
    return address


def _strip_type(value: str) -> str:
    kind, semicolon, rest = value.partition(";")
    return rest.strip() if semicolon and len(kind) < 20 else value.strip()


def _status_in(text: str) -> tuple[int, int, int] | None:
    match = _STATUS.search(text)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def _first_token(ours: Ours, addresses: Iterable[str]) -> tuple[str, str] | None:
    for address in addresses:
        found = ours(address)
        if found:
            return found
    return None


def _token(found: tuple[str, str] | None) -> str:
    return found[1] if found else ""


def _sender_domain(message: Message) -> str:
    for address in _addresses(_headers(message, "From")):
        return address.rpartition("@")[2].lower()
    return ""
