"""Dates as editors write them: ISO 8601 and the common human forms.

A date without a zone takes the site's timezone; a date without a time is midnight there.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>[A-Za-z]{3,9})\.?"
_WEEKDAY = r"(?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*\.?,?\s+)?"
# "9:12", "9:12:30 PM", "9:12 a.m." and, with a.m./p.m. only, "9 a.m." (AP style); after a
# comma, "at", ", at" or "-" (news sites write all of them).
_AMPM = r"[ap]\.?\s?m\.?"
_TIME = (
    r"(?:(?:,\s*at|,|\s+at|\s*-|\s*\|)?\s+(?P<hour>\d{1,2})"
    rf"(?::(?P<minute>\d{{2}})(?::(?P<second>\d{{2}}))?\s*(?P<ampm>{_AMPM})?|\s*(?P<bare>{_AMPM})))?"
)
# Zone abbreviations news pages print after the time, each read as the zone it names. "ET"
# and its kin name a region's zone, summer time or not; the others are fixed offsets. An
# abbreviation of the site's own zone (looked up at that moment) is always the site's zone.
# Ambiguous ones (IST, CST outside North America, ...) are left to the site's zone check.
_REGIONS = {
    "ET": "America/New_York",
    "CT": "America/Chicago",
    "MT": "America/Denver",
    "PT": "America/Los_Angeles",
}
_FIXED = {
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "AKST": -9, "AKDT": -8, "HST": -10, "WET": 0, "WEST": 1, "BST": 1, "CET": 1, "CEST": 2,
    "EET": 2, "EEST": 3,
}  # fmt: skip
_NAMES = "|".join(sorted([*_REGIONS, *_FIXED], key=len, reverse=True))
_ZONE = rf"(?:\s*\(?(?P<zone>Z|UTC|GMT|[+-]\d{{2}}:?\d{{2}}|{_NAMES})\)?)?"
# What a dateline may say before its date: "Published November 16, 2026 at 9:12 a.m.".
_DATELINE_WORDS = re.compile(
    r"^(?:published|posted|updated|last updated|first published)(?:\s+on)?\s*:?\s+", re.IGNORECASE
)
_HUMAN = [
    # November 20, 2026 / Nov. 20 2026 / Friday, November 20, 2026, 3:30 PM
    re.compile(
        rf"^{_WEEKDAY}{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>\d{{4}}){_TIME}{_ZONE}$",
        re.IGNORECASE,
    ),
    # 20 November 2026 / Friday 20 Nov 2026 14:30
    re.compile(
        rf"^{_WEEKDAY}(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH},?\s+(?P<year>\d{{4}}){_TIME}{_ZONE}$",
        re.IGNORECASE,
    ),
    # 2026/11/20 14:30
    re.compile(
        rf"^(?P<year>\d{{4}})/(?P<nmonth>\d{{1,2}})/(?P<day>\d{{1,2}}){_TIME}{_ZONE}$",
        re.IGNORECASE,
    ),
]
FORMS_HELP = (
    "use ISO 8601 (2026-11-20 or 2026-11-20T09:30:00+01:00) or a form like 'November 20, 2026'"
)


def _zone(text: str | None, default: tzinfo, local: datetime) -> tzinfo:
    """The zone ``text`` names for the wall time ``local`` (naive), or ``default``."""
    if not text:
        return default
    if text.upper() in {"Z", "UTC", "GMT"}:
        return UTC
    if text[0].isalpha():
        name = text.upper()
        if local.replace(tzinfo=default).tzname() == name:
            return default
        if name in _REGIONS:
            return ZoneInfo(_REGIONS[name])
        return timezone(timedelta(hours=_FIXED[name]), name)
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours >= 24 or minutes >= 60:
        raise ValueError(f"zone offset {text!r} is out of range")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _localize(value: datetime, tz: tzinfo) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


def _human(text: str, tz: tzinfo) -> datetime | None:
    for pattern in _HUMAN:
        match = pattern.match(text)
        if not match:
            continue
        parts = match.groupdict()
        if parts.get("nmonth"):
            month = int(parts["nmonth"])
        else:
            month = _MONTHS.get(parts["month"].lower(), 0)
            if not month:
                return None
        hour = int(parts["hour"] or 0)
        minute = int(parts["minute"] or 0)
        written = parts.get("ampm") or parts.get("bare") or ""
        ampm = written.lower().replace(".", "").replace(" ", "")
        if ampm:
            if not 1 <= hour <= 12:
                raise ValueError(f"hour {hour} does not fit {written!r}")
            hour = hour % 12 + (12 if ampm == "pm" else 0)
        local = datetime(
            int(parts["year"]), month, int(parts["day"]), hour, minute, int(parts["second"] or 0)
        )
        return local.replace(tzinfo=_zone(parts["zone"], tz, local))
    return None


def _parse(value: object, tz: tzinfo) -> datetime:
    """Turn a front-matter value or a line of text into an aware datetime.

    Raises ValueError with a message fit for the user when the value is not a date.
    """
    if isinstance(value, datetime):
        return _localize(value, tz)
    if isinstance(value, date):
        return datetime.combine(value, time(0, 0), tzinfo=tz)
    if not isinstance(value, str):
        raise ValueError(f"expected a date, got {type(value).__name__}; {FORMS_HELP}")
    text = " ".join(value.replace("\u00a0", " ").split())
    if not text:
        raise ValueError(f"the date is empty; {FORMS_HELP}")
    if len(text) > 64:
        raise ValueError(f"{text[:40]!r}... is too long to be a date; {FORMS_HELP}")
    try:
        iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
        return _localize(datetime.fromisoformat(iso), tz)
    except ValueError:
        pass
    try:
        parsed = _human(text, tz)
    except ValueError as exc:  # a day or hour out of range
        raise ValueError(f"{text!r} is not a valid date ({exc}); {FORMS_HELP}") from None
    if parsed is None:
        raise ValueError(f"{text!r} is not a date; {FORMS_HELP}")
    return parsed


def parse_date(value: object, tz: tzinfo) -> datetime:
    """Turn a front-matter value or a line of text into an aware datetime.

    Raises ValueError with a message fit for the user when the value is not a date.
    """
    parsed = _parse(value, tz)
    if parsed.year < 1000:
        raise ValueError(f"{parsed.year} is too early: feeds need a four-digit year")
    offset = parsed.utcoffset()
    # Before standard time (e.g. Berlin until 1893) zones have offsets with seconds, which
    # neither RFC 822 nor RFC 3339 can write: such moments are given in UTC instead.
    if offset is not None and offset.seconds % 60:
        parsed = parsed.astimezone(UTC)
    return parsed


def looks_like_date(text: str, tz: tzinfo) -> datetime | None:
    """The date a whole line spells, or None: for datelines in pasted web pages, which may
    start with "Published", "Posted" or "Updated" (see ``dateline``)."""
    try:
        return parse_date(dateline(text)[0], tz)
    except ValueError:
        return None


def dateline(text: str) -> tuple[str, bool]:
    """A dateline's date without the words before it ("Published", "Updated: "...), and
    whether they say that it is when the page was updated rather than published."""
    found = _DATELINE_WORDS.match(text)
    if found is None:
        return text, False
    return text[found.end() :], "updated" in found.group().casefold()


def for_people(moment: datetime, tz: tzinfo) -> str:
    """A moment as every message shows it to people: in the site's timezone, to the minute,
    with the zone's abbreviation (``2026-12-04 07:00 PST``)."""
    return f"{moment.astimezone(tz):%Y-%m-%d %H:%M %Z}"
