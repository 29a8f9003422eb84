"""Imports: subscriber lists from the tools people leave (Mailchimp, Substack, Buttondown,
listmonk, Ghost), from feedpub's own export, or one address a line.

``parse_import`` reads a file's text into rows and needs nothing else: which column holds the
address, the name, the status and the time of consent is found from the header, whichever tool
wrote it, and the columns may be separated by commas, semicolons or tabs. ``import_text`` adds
the rows through the subscribers' rules: it only ever adds, never re-activates anyone, and
never re-adds an address that was forgotten on request.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from feedpub.delivery.subscribers import Subscribers
from feedpub.errors import ImportFileError, ImportFormatError, SubscriberError
from feedpub.store.subscribers import Subscriber

MAX_IMPORT_BYTES = 50_000_000
DELIMITERS = (",", ";", "\t")
# Lines after the header that csv.Sniffer sees when the header alone cannot tell.
SNIFF_LINES = 50
MAX_MOMENT = 64
# Characters of a cell that a message quotes.
SHOWN = 60

# Header names are compared lower-cased, with runs of spaces and underscores as one space:
# Mailchimp's "Email Address" and Buttondown's "email_address" are then the same column.
EMAIL_COLUMNS = ("email", "email address")
NAME_COLUMNS = ("name", "full name")
FIRST_NAME_COLUMNS = ("first name", "fname")
LAST_NAME_COLUMNS = ("last name", "lname")
# feedpub's and listmonk's "status", Buttondown's "subscriber_type" (its API's newer "type"),
# Substack's "type" (free, paid, comp, gift).
STATUS_COLUMNS = ("status", "subscriber type", "type")
# The time the person gave consent, best first: Mailchimp's opt-in (then its confirmation),
# Substack's, listmonk's and Ghost's creation, Buttondown's creation or subscription date.
JOINED_COLUMNS = (
    "joined",
    "optin time",
    "confirm time",
    "created at",
    "creation date",
    "subscription date",
    "subscribed at",
)
# Mailchimp's cleaned and unsubscribed files have no status column: their own columns say it.
FILE_KIND_COLUMNS = {"clean time": "bounced", "unsub time": "unsubscribed"}
# A time in one of these columns says the person left.
LEFT_COLUMNS = {
    "unsubscription date": "unsubscribed",
    "unsubscribed at": "unsubscribed",
    "undeliverability date": "bounced",
    "deleted at": "unsubscribed",
}
# (column, the value that means "send no email"): Substack's and Ghost's switches.
SWITCH_COLUMNS = {"email disabled": True, "subscribed to emails": False, "subscribed": False}
TRUE_WORDS = frozenset({"true", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "no", "n", "0"})

# Every tool's word for a status, mapped to feedpub's. Buttondown's types are in its
# openapi enums (regular, premium, trialed, unpaid, gifted, churning, unactivated, paused,
# unsubscribed, spammy, removed, past_due; undeliverable in its docs); listmonk's statuses
# are enabled, disabled and blocklisted; Substack's types free, paid, comp and gift.
STATUS_WORDS: dict[str, str] = {
    **dict.fromkeys(
        (
            "active",
            "subscribed",
            "enabled",
            "confirmed",
            "regular",
            "premium",
            "paid",
            "free",
            "comp",
            "gift",
            "gifted",
            "trialed",
            "trialing",
            "unpaid",
            "churning",
            "paused",
            "past due",
        ),
        "active",
    ),
    # Signed up but never confirmed: kept as pending, so a later sign-up confirms them.
    **dict.fromkeys(("pending", "unconfirmed", "unactivated"), "pending"),
    **dict.fromkeys(
        ("unsubscribed", "disabled", "blocklisted", "blacklisted", "removed", "inactive"),
        "unsubscribed",
    ),
    **dict.fromkeys(("bounced", "cleaned", "undeliverable"), "bounced"),
    **dict.fromkeys(("complained", "spam", "spammy", "abuse"), "complained"),
}
# When a line says two things (an "active" status in Mailchimp's cleaned file), the one that
# sends less wins: a file never makes anyone more subscribed than it says in any column.
SEVERITY = ("active", "pending", "unsubscribed", "bounced", "complained")
LEFT = SEVERITY[2:]
# Go's Time.String() (listmonk): an offset, then the zone's abbreviation; nanoseconds, which
# datetime does not take.
GO_ZONE = re.compile(r"(?<=\d)\s*([+-]\d\d:?\d\d)(?:\s+[A-Za-z]{1,6})?$")
PAST_MICROSECONDS = re.compile(r"(\.\d{6})\d+")
# Substack puts an account deleted on request in its export under a made-up address.
DELETED_DOMAINS = ("deletion-request.substack.com",)


@dataclass
class ImportReport:
    added: int = 0
    present: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)
    # Present, as an earlier import made them, and now said by the file to have left.
    updated: int = 0
    # Lines read but not imported on purpose (Substack's deleted accounts): not errors.
    left_out: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class ImportRow:
    """One subscriber's line of an import file (``problem``: why it cannot be read; ``left_out``:
    why it is, on purpose, not imported)."""

    line: int
    email: str
    name: str = ""
    status: str = "active"
    joined: str | None = None
    problem: str = ""
    left_out: str = ""


def read_import(path: Path) -> str:
    """The text of an import file: UTF-8 (with or without a byte order mark), or UTF-16 with
    one. Raises ImportFileError when it is missing, bigger than MAX_IMPORT_BYTES, or neither."""
    try:
        with path.open("rb") as file:
            # Read past the limit by one byte rather than trust the size: /dev/zero, a pipe
            # or a file still growing has none that holds.
            data = file.read(MAX_IMPORT_BYTES + 1)
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportFileError(
            f"{path} is more than {MAX_IMPORT_BYTES} bytes; split it into smaller files"
        )
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode Text" (tab-separated UTF-16): read it rather than ask for a resave.
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise ImportFileError(
                f"{path}: starts as UTF-16 but is not; save the file as UTF-8"
            ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # exc.object: what was decoded, which after a byte order mark is not all of data.
        before = exc.object[: exc.start].replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        line = before.count(b"\n") + 1
        raise ImportFileError(f"{path}:{line}: not UTF-8; save the file as UTF-8") from None


def _lines(text: str) -> list[str]:
    """The lines as an editor numbers them: only \\n, \\r\\n and \\r end one (str.splitlines()
    also ends lines at form feeds, U+0085 and U+2028, which shifts every later number)."""
    return re.split(r"\r\n|\r|\n", text)


def _column_key(name: str) -> str:
    return re.sub(r"[\s_]+", " ", name.strip().lower())


def _cells(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return []


def _has_email_column(cells: Sequence[str]) -> bool:
    return any(_column_key(cell) in EMAIL_COLUMNS for cell in cells)


def _delimiter(lines: list[str], start: int) -> str | None:
    """The separator of a file whose header is line ``start``, or None if that line is no
    header with an address column. Raises ImportFormatError when it cannot tell."""
    header = lines[start - 1]
    fits = [d for d in DELIMITERS if _has_email_column(_cells(header, d))]
    if len(fits) <= 1:
        return fits[0] if fits else None
    # The header alone does not tell (a lone 'email' column): the lines after it may.
    body = [line for line in lines[start : start + SNIFF_LINES] if line.strip()]
    try:
        found = csv.Sniffer().sniff("\n".join(body), delimiters="".join(fits)).delimiter
    except csv.Error:
        found = ""
    if found in fits:
        return found
    used = [d for d in fits if any(d in line for line in body)]
    if len(used) > 1:
        raise ImportFormatError(
            start,
            "cannot tell whether the columns are separated by commas, semicolons or tabs; "
            "save the file with one separator, with the columns' names on its first line",
        )
    return used[0] if used else ","


@dataclass(frozen=True)
class _Layout:
    """Where a header puts what an import needs (indexes into a line's cells, -1: absent)."""

    names: tuple[str, ...]
    email: int
    name: int
    first: int
    last: int
    status: int
    joined: tuple[int, ...]
    kind: str
    left: tuple[tuple[int, str], ...]
    switches: tuple[tuple[int, bool], ...]

    @classmethod
    def of(cls, header: Sequence[str]) -> _Layout:
        keys = [_column_key(cell) for cell in header]

        def find(names: Sequence[str]) -> int:
            return next((keys.index(n) for n in names if n in keys), -1)

        kind = max(
            (FILE_KIND_COLUMNS[k] for k in keys if k in FILE_KIND_COLUMNS),
            key=SEVERITY.index,
            default="active",
        )
        return cls(
            names=tuple(cell.strip() for cell in header),
            email=find(EMAIL_COLUMNS),
            name=find(NAME_COLUMNS),
            first=find(FIRST_NAME_COLUMNS),
            last=find(LAST_NAME_COLUMNS),
            status=find(STATUS_COLUMNS),
            joined=tuple(keys.index(n) for n in JOINED_COLUMNS if n in keys),
            kind=kind,
            left=tuple((keys.index(k), s) for k, s in LEFT_COLUMNS.items() if k in keys),
            switches=tuple((keys.index(k), v) for k, v in SWITCH_COLUMNS.items() if k in keys),
        )

    def row(self, line: int, cells: Sequence[str]) -> ImportRow:
        def cell(index: int) -> str:
            return cells[index].strip() if 0 <= index < len(cells) else ""

        email = cell(self.email)
        name = cell(self.name) or " ".join(
            part for part in (cell(self.first), cell(self.last)) if part
        )
        if email.lower().rpartition("@")[2] in DELETED_DOMAINS:
            return ImportRow(
                line,
                email,
                left_out="Substack's stand-in for an account deleted on request, not an address",
            )
        said = [self.kind]
        word = cell(self.status)
        if word:
            status = STATUS_WORDS.get(_column_key(word))
            if status is None:
                return ImportRow(
                    line,
                    email,
                    problem=f"status {_shown(word)} is not one feedpub knows; use active, "
                    "pending, unsubscribed, bounced or complained",
                )
            said.append(status)
        said += [status for index, status in self.left if cell(index)]
        for index, stops in self.switches:
            value = cell(index).lower()
            if not value:
                continue
            if value not in TRUE_WORDS | FALSE_WORDS:
                return ImportRow(
                    line,
                    email,
                    problem=f"{_column(self.names[index])} {_shown(cell(index))} is neither "
                    "true nor false",
                )
            if (value in TRUE_WORDS) == stops:
                said.append("unsubscribed")
        joined = None
        # The first time given: Mailchimp leaves OPTIN_TIME empty for some, not CONFIRM_TIME.
        when = next((index for index in self.joined if cell(index)), -1)
        if when >= 0:
            try:
                joined = consent_time(cell(when))
            except ValueError:
                return ImportRow(
                    line,
                    email,
                    problem=f"{_column(self.names[when])} {_shown(cell(when))} is not a date "
                    "and time; write it like 2026-11-27 12:00:00 or leave it empty",
                )
        return ImportRow(line, email, name, max(said, key=SEVERITY.index), joined)


def _shown(text: str) -> str:
    """A cell in a message: quoted, escaped, and cut short (a hostile file's cell can be as big
    as the file)."""
    return repr(text) if len(text) <= SHOWN else f"{text[:SHOWN]!r}..."


def _column(name: str) -> str:
    return name if name.isprintable() and len(name) <= SHOWN else _shown(name)


def consent_time(text: str) -> str:
    """The ISO form of a time as the tools write it: ISO 8601 (Substack, Ghost, Buttondown),
    "2026-11-27 12:00:00" (Mailchimp), Go's "2026-11-27 12:00:00.123456789 +0000 UTC"
    (listmonk). A time without a zone is UTC, as the tools write their exports. Raises
    ValueError."""
    if len(text) > MAX_MOMENT:
        raise ValueError(text)
    text = GO_ZONE.sub(r"\1", text.strip())
    text = PAST_MICROSECONDS.sub(r"\1", text)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.replace(microsecond=0).isoformat()


def parse_import(text: str) -> Iterator[ImportRow]:
    """The rows of CSV with an address column (and optional name, status and consent time:
    feedpub's own export, or Mailchimp's, Substack's, Buttondown's, listmonk's or Ghost's), or
    of one address per line. Blank lines and lines starting with '#' are skipped. Raises
    ImportFormatError when the first line is neither an address nor a header with an address
    column, or when the separator cannot be told."""
    lines = _lines(text.removeprefix("\ufeff"))
    start, first = next(
        ((n, line) for n, line in enumerate(lines, 1) if line.strip() and not line.startswith("#")),
        (0, ""),
    )
    if not first:
        return
    delimiter = _delimiter(lines, start)
    if delimiter is None:
        if any(len(_cells(first, d)) > 1 for d in DELIMITERS) or "@" not in first:
            # Columns without an address one (another name, no header at all): read as one
            # address per line, every line would be 'invalid' and the real problem unsaid.
            raise ImportFormatError(
                start,
                "neither an address nor a CSV header with an 'email' column; start the file "
                "with a header line such as 'email,name', or list one address a line",
            )
        for number, line in enumerate(lines, start=1):
            line = line.strip()
            if line and not line.startswith("#"):
                yield ImportRow(number, line)
        return
    yield from _csv_rows(lines, delimiter)


def _csv_rows(lines: list[str], delimiter: str) -> Iterator[ImportRow]:
    # strict: a quote never closed is an error at its line, not the rest of the file
    # swallowed into one name.
    reader = csv.reader((line + "\n" for line in lines), delimiter=delimiter, strict=True)
    layout: _Layout | None = None
    while True:
        # A row's number is its first line: where a quote opened a field that runs on.
        first = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a stray quote, a field over the size limit: read on
            yield ImportRow(first, "", problem=f"not readable as CSV: {_csv_problem(exc)}")
            continue
        if not row or not any(cell.strip() for cell in row) or row[0].startswith("#"):
            continue
        if layout is None:
            layout = _Layout.of(row)
            continue
        yield layout.row(first, row)


def _csv_problem(exc: csv.Error) -> str:
    text = str(exc)
    if text == "unexpected end of data":
        return "a quote opened on this line is never closed; close it, or write a quote twice"
    if text.endswith("expected after '\"'"):
        return "text follows a field's closing quote; write a quote inside a field twice"
    return text


def import_text(subscribers: Subscribers, text: str, now: datetime) -> ImportReport:
    """Add every valid address in ``text``, with source 'import' and the file's consent time;
    report added, already present (in any status: an import never re-activates anyone),
    updated (see below), invalid lines (an address forgotten on request among them: the
    subscribers' rules refuse it, and the file still holds it), and lines left out.

    An address already present keeps its status, but for one case: the file says the person
    left (unsubscribed, bounced, complained) and the row is as an import made it, untouched
    since. That is a newer export of the same tool, and the person's leaving is honoured; a
    sign-up, a command or anything done since the import is never undone by a file."""
    report = ImportReport()
    for row in parse_import(text):
        if row.problem:
            report.invalid.append((row.line, row.problem))
            continue
        if row.left_out:
            report.left_out.append((row.line, row.left_out))
            continue
        try:
            # A list imported again must not undo an unsubscribe (or a bounce) since.
            subscriber, added = subscribers.add(
                row.email,
                row.name,
                now,
                reactivate=False,
                status=row.status,
                source="import",
                joined=row.joined,
            )
        except SubscriberError as exc:
            report.invalid.append((row.line, str(exc)))
            continue
        if added:
            report.added += 1
        elif _left_since(subscriber, row.status):
            subscribers.set_status(subscriber.email, row.status, now)
            report.updated += 1
        else:
            report.present += 1
    return report


def _left_since(subscriber: Subscriber, status: str) -> bool:
    return (
        status in LEFT
        and subscriber.status in ("active", "pending")
        and subscriber.source == "import"
        and subscriber.changed == subscriber.added
    )
