"""Site settings: defaults < feedpub.toml < environment < flags, merged here once, then frozen."""

from __future__ import annotations

import importlib
import os
import re
import tomllib
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields, replace
from datetime import date
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from feedpub import colours, dkimkey, i18n
from feedpub.errors import ConfigError, DkimKeyError, Problem
from feedpub.itunes import ARTWORK_SIZES, ARTWORK_SUFFIXES, CATEGORIES
from feedpub.text import first_not_xml

CONFIG_NAME = "feedpub.toml"
FEED_FILES = ("rss.xml", "atom.xml", "feed.json")
STATE_DIR = ".feedpub"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SCHEDULES = ("weekly", "daily", "biweekly", "monthly", "manual")
# A monthly day such as "first friday"; no "fifth": most months have no fifth Friday.
ORDINALS = ("first", "second", "third", "fourth", "last")
MAX_SKIP_ENTRIES = 200
MAX_SKIP_DAYS = 366
MAX_CONFIG_BYTES = 1_000_000
# The site's and the newsletter's name: in every page, feed and issue.
MAX_TITLE = 300
# A colour setting is 7 characters at most; a logo's path or URL is in every page's header.
MAX_COLOUR = 100
MAX_LOGO = 1000
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL, like 'https://example.org/'")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when asked for it
    except ValueError:
        raise ValueError("has a port that is not a number from 0 to 65535") from None
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or a fragment")
    if any(c.isspace() for c in value):
        raise ValueError("must not contain spaces")
    # The host is in every Message-ID and List-Id, the URL in every List-Unsubscribe.
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ValueError("must not contain control characters")
    if not value.isascii():
        value = _ascii_url(value)
    return value.rstrip("/") + "/"


def _ascii_url(value: str) -> str:
    """The URI of an internationalised URL: the host in its IDNA form, the rest percent-encoded,
    as email headers (Message-ID, List-Unsubscribe) and RSS need them."""
    parts = urlsplit(value)
    try:
        host = (parts.hostname or "").encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError("has a host that is not a valid internationalised domain name") from None
    safe = "/%!$&'()*+,;=:@-._~"
    user, at, _ = parts.netloc.rpartition("@")
    netloc = quote(user, safe=safe) + at + host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, quote(parts.path, safe=safe), "", ""))


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    # A folder of the zone database ('Europe') raises IsADirectoryError, an OSError.
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"{_quoted(value)} is not a known timezone; use an IANA name like 'Europe/Berlin' "
            "or 'UTC'"
        ) from None
    return value


def _check_language(value: str) -> str:
    if not _LANGUAGE.fullmatch(value):
        raise ValueError(f"{value!r} is not a language tag; use one like 'en' or 'en-GB'")
    return value


def _check_limit(value: int) -> int:
    if not 1 <= value <= 100_000:
        raise ValueError("must be between 1 and 100000")
    return value


def _check_per_page(value: int) -> int:
    if not 1 <= value <= 1000:
        raise ValueError("must be between 1 and 1000 (articles on each page of a list)")
    return value


def _check_logo(value: str) -> str:
    """A logo: an https:// URL, or a path in static/ (read when the site loads, in
    _check_logo_file)."""
    if not value:
        return value
    fix = 'write a path in static/ like "images/logo.png" or an https:// URL'
    if any(c.isspace() or unicodedata.category(c) == "Cc" for c in value):
        raise ValueError(f"must not contain spaces or control characters; {fix}")
    if any(c in value for c in "\"'<>()\\"):
        raise ValueError(f"must not contain quotes, brackets or backslashes; {fix}")
    parts = urlsplit(value)
    if parts.scheme or value.startswith("//"):
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(f"is a URL that is not https://; {fix}")
        return value
    path = value.removeprefix("/")
    if not path or any(part in ("", ".", "..") for part in path.split("/")):
        raise ValueError(f"must name a file inside static/, without '..'; {fix}")
    return path


def _check_output(value: str) -> str:
    if not value.strip() or "\x00" in value:
        raise ValueError("must name a folder, like 'public'")
    return value


# What str.splitlines() and the email package's parser take for the end of a line.
_LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


def _check_header_text(value: str) -> str:
    """A value that goes into every message's headers: one line of text, no control character
    (a line break in it would start a header of its own: Bcc, X-Injected)."""
    for char in value:
        category = unicodedata.category(char)
        if category == "Cs":  # os.environ's stand-in for a byte that is not UTF-8
            raise ValueError("holds bytes that are not UTF-8; set it as UTF-8 text")
        if char in _LINE_BREAKS:
            raise ValueError(
                f"holds a line break (U+{ord(char):04X}), which an email header cannot carry; "
                "write it on one line"
            )
        if category == "Cc":
            raise ValueError(
                f"holds a control character (U+{ord(char):04X}), which an email header cannot "
                "carry; remove it"
            )
    return value


def _check_address(value: str) -> str:
    """One address, as 'Name <address>' or bare; an internationalised domain is kept in its
    ASCII form, which the envelope and a message without SMTPUTF8 need."""
    _check_header_text(value)
    # Imported here: the email package and email-validator add tens of milliseconds to every
    # start, and only a site with a newsletter has addresses to check.
    from email.errors import NonASCIILocalPartDefect
    from email.headerregistry import Address
    from email.policy import default

    from email_validator import EmailNotValidError, validate_email

    fix = "write it as 'Name <editor@example.org>'"
    header = default.header_factory("From", value)
    addresses = [a for group in header.groups for a in group.addresses]
    if len(addresses) > 1:
        raise ValueError(
            f"{value!r} holds {len(addresses)} addresses; give one, as 'Name <editor@example.org>'"
        )
    if any(group.display_name is not None for group in header.groups):
        raise ValueError(f"{value!r} is a group, not an address; {fix}")
    ascii_only = (
        f"{value!r} is not an address a relay without SMTPUTF8 can carry: the part before the "
        "@ must be ASCII"
    )
    if any(isinstance(d, NonASCIILocalPartDefect) for d in header.defects):
        raise ValueError(ascii_only)
    if header.defects or not addresses:
        raise ValueError(f"{value!r} is not an address; {fix}")
    [address] = addresses
    try:
        valid = validate_email(address.addr_spec, check_deliverability=False)
    except EmailNotValidError:
        raise ValueError(f"{value!r} is not an address; {fix}") from None
    if valid.ascii_email is None:
        raise ValueError(ascii_only)
    if valid.ascii_email == address.addr_spec:
        return value
    return str(Address(display_name=address.display_name, addr_spec=valid.ascii_email))


def _check_optional_address(value: str) -> str:
    return _check_address(value) if value else value


# Who reads an issue before the readers do: an editor or two, a handful at most.
MAX_REVIEWERS = 20


def _check_reviewers(value: tuple[str, ...]) -> tuple[str, ...]:
    if len(value) > MAX_REVIEWERS:
        raise ValueError(
            f"lists {len(value)} addresses; a review copy goes to at most {MAX_REVIEWERS} "
            "(the editors; readers get the issue once it is approved)"
        )
    checked: list[str] = []
    for position, address in enumerate(value, start=1):
        try:
            checked.append(_check_address(address))
        except ValueError as exc:
            raise ValueError(f"address {position}: {exc}") from None
    return tuple(checked)


def _check_schedule(value: str) -> str:
    if value not in SCHEDULES:
        raise ValueError(f"{value!r} is not a schedule; use one of {', '.join(SCHEDULES)}")
    return value


def _check_weekday(value: str) -> str:
    if value.lower() not in WEEKDAYS:
        raise ValueError(f"{value!r} is not a day of the week; use one like 'friday'")
    return value.lower()


def _month_day(value: str) -> str | None:
    """A monthly schedule's day as feedpub keeps it ("15", "first friday"), or None."""
    words = value.lower().split()
    if len(words) == 1 and words[0].isascii() and words[0].isdigit() and len(words[0]) <= 2:
        return str(int(words[0])) if 1 <= int(words[0]) <= 31 else None
    if len(words) == 2 and words[0] in ORDINALS and words[1] in WEEKDAYS:
        return " ".join(words)
    return None


def _check_day(value: str) -> str:
    """A day of the week (weekly, biweekly) or of the month (monthly): which one the schedule
    needs is checked with the schedule (_check_schedule_day)."""
    if len(value) > 40:
        raise ValueError(
            f"is {len(value)} characters; give a day like 'friday', '15' or 'first friday'"
        )
    if value.strip().lower() in WEEKDAYS:
        return value.strip().lower()
    found = _month_day(value)
    if found is None:
        raise ValueError(
            f"{value!r} is not a day: use a day of the week like 'friday' (weekly, biweekly) "
            f"or, for a monthly schedule, a day of the month from '1' to '31' or one like "
            f"'first friday' ({', '.join(ORDINALS)})"
        )
    return found


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _parse_day(value: str, example: str) -> date:
    text = value.strip()
    try:
        if not _ISO_DATE.match(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{_quoted(value)} is not a date; write it as YYYY-MM-DD, like {example}"
        ) from None


def _quoted(value: str) -> str:
    """A wrong value as a message shows it: quoted, and cut after 40 characters."""
    return repr(value[:40]) + ("..." if len(value) > 40 else "")


def _check_start(value: str) -> str:
    return _parse_day(value, "'2027-01-08'").isoformat() if value.strip() else ""


def _check_skip(value: tuple[str, ...]) -> tuple[str, ...]:
    """Dates ("2026-12-25") and inclusive ranges ("2026-12-21..2027-01-03") whose scheduled
    moments pass without an issue."""
    if len(value) > MAX_SKIP_ENTRIES:
        raise ValueError(f"has {len(value)} entries; keep it to {MAX_SKIP_ENTRIES}")
    example = "'2026-12-25' or '2026-12-21..2027-01-03'"
    kept: list[str] = []
    for entry in value:
        first_text, dots, last_text = entry.partition("..")
        first = _parse_day(first_text, example)
        last = _parse_day(last_text, example) if dots else first
        if last < first:
            raise ValueError(f"{entry!r} ends before it begins; write the earlier date first")
        if (last - first).days >= MAX_SKIP_DAYS:
            raise ValueError(
                f"{entry!r} is {(last - first).days + 1} days; a range skips at most "
                f"{MAX_SKIP_DAYS} (for a longer pause set schedule = \"manual\")"
            )
        kept.append(f"{first}..{last}" if last != first else str(first))
    return tuple(kept)


def _check_time(value: str) -> str:
    try:
        parsed = clock_time.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a time of day; use 24-hour 'HH:MM', like '08:00'"
        ) from None
    if parsed.tzinfo is not None:
        raise ValueError("must not carry a zone: it is in the site's timezone")
    return parsed.strftime("%H:%M")


def _check_items(value: int) -> int:
    if not 1 <= value <= 1000:
        raise ValueError("must be between 1 and 1000")
    return value


def _check_days(value: int) -> int:
    if not 0 <= value <= 36500:
        raise ValueError("must be between 0 and 36500")
    return value


def _check_subject(value: str) -> str:
    # Its whitespace, line breaks too, is one space once rendered (digest.subject_line): a long
    # template may span the lines of a multi-line string.
    _check_header_text("".join(c for c in value if not c.isspace()))
    import jinja2.sandbox  # here, not at the top: a build that changes nothing never needs it

    try:
        jinja2.sandbox.SandboxedEnvironment().parse(value)
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"is not a valid template: {exc.message}") from None
    if not value.strip():
        raise ValueError("must not be empty")
    return value


MAX_POSTAL_ADDRESS = 500
MAX_POSTAL_LINES = 8


def _check_postal_address(value: str) -> str:
    """The sender's postal address: lines of text (a TOML multi-line string, or "\\n" between
    them), each shown as a line of the footers; surrounding blanks and empty lines dropped."""
    if len(value) > MAX_POSTAL_ADDRESS:
        raise ValueError(
            f"is {len(value)} characters; a postal address fits in {MAX_POSTAL_ADDRESS}"
        )
    for char in value:
        # A line break other than a newline (U+2028, a form feed) would end a line in one part
        # of the message and not in the other: refused, as any control character but tab.
        if char in _LINE_BREAKS - {"\n", "\r"} or (
            unicodedata.category(char) == "Cc" and char not in "\t\n\r"
        ):
            raise ValueError(
                f"holds the character U+{ord(char):04X}; write the address as lines of text, "
                "one line of the address on each"
            )
    separated = value.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = [" ".join(line.split()) for line in separated]
    lines = [line for line in lines if line]
    if len(lines) > MAX_POSTAL_LINES:
        raise ValueError(f"has {len(lines)} lines; a postal address fits in {MAX_POSTAL_LINES}")
    return "\n".join(lines)


MAX_HUB_URL = 2000


def _check_hub(value: str) -> str:
    """A WebSub hub's URL, as given (its path is the hub's own: no slash is added): absolute
    http(s), no user name or password (it is in every feed, for anyone to read), no fragment."""
    if not value:
        return value
    if len(value) > MAX_HUB_URL:
        raise ValueError(f"is {len(value)} characters; a hub's URL fits in {MAX_HUB_URL}")
    try:
        parts = urlsplit(value)
    except ValueError:
        raise ValueError(
            f"{_quoted(value)} is not a URL; give the hub's, like 'https://hub.example.org/'"
        ) from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(
            f"{_quoted(value)} must be an absolute http:// or https:// URL, like "
            "'https://hub.example.org/'"
        )
    if "@" in parts.netloc:
        raise ValueError(
            "must not hold a user name or password: the hub's URL is in every feed, for anyone "
            "to read"
        )
    if any(c.isspace() or unicodedata.category(c) == "Cc" for c in value):
        raise ValueError("must not contain spaces or control characters")
    if parts.fragment or "#" in value:
        raise ValueError("must not have a fragment (#...)")
    # What RFC 3986 lets a URI hold (the non-ASCII is encoded below); the feeds' validators
    # refuse the rest ('<', '"', '{', '|', '\\', '^', '`').
    odd = [c for c in value if c.isascii() and not (c.isalnum() or c in "-._~:/?[]@!$&'()*+,;=%")]
    if odd:
        raise ValueError(
            f"holds {odd[0]!r}, which a URL cannot carry; write it percent-encoded "
            f"(%{ord(odd[0]):02X})"
        )
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when asked for it
    except ValueError:
        raise ValueError("has a port that is not a number from 0 to 65535") from None
    if not value.isascii():
        value = _ascii_url(value) + (f"?{quote(parts.query, safe='=&%')}" if parts.query else "")
    return value


def _check_optional_url(value: str) -> str:
    return _check_url(value).rstrip("/") if value else value


HOOK = "feedpub_plugin"
_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass(frozen=True)
class Plugin:
    """A plugin the site uses: its module and version, part of every cache key (repr(site))."""

    name: str
    version: str


def _check_plugins(names: tuple[str, ...]) -> tuple[Plugin, ...]:
    """Each module imports and has the hook (plugins.py calls it) and a version."""
    plugins: list[Plugin] = []
    for name in names:
        if not _MODULE_NAME.match(name):
            raise ValueError(f"{name!r} is not a module name; write one like 'feedpub_rst'")
        if name in (p.name for p in plugins):
            raise ValueError(f"lists {name!r} twice; keep one")
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # Not found: the module itself, or a package it is in; any other is its import.
            if exc.name is None or not (name + ".").startswith(exc.name + "."):
                raise ValueError(_import_failed(name, exc)) from None
            raise ValueError(
                f"{name!r}: no such module; install it (pip install ...) or remove it from the list"
            ) from None
        except Exception as exc:  # the plugin's own code: any failure is named
            raise ValueError(_import_failed(name, exc)) from None
        if not callable(getattr(module, HOOK, None)):
            raise ValueError(
                f"{name!r} has no function {HOOK}(registry); a plugin defines one (the README's "
                "Plugins section shows how)"
            )
        version = getattr(module, "__version__", None) or _installed_version(name)
        if not isinstance(version, str) or not version.strip():
            raise ValueError(
                f'{name!r} has no version; set one, like __version__ = "1.0", or install it as '
                "a package (the version is part of the build's cache keys: a new one rebuilds)"
            )
        plugins.append(Plugin(name, version))
    return tuple(plugins)


def _installed_version(name: str) -> str | None:
    """The version of the installed distribution that holds the module ``name``, if any."""
    from importlib import metadata  # here: only a plugin without __version__ needs it

    try:
        return metadata.version(name.partition(".")[0])
    except metadata.PackageNotFoundError:
        return None


def _import_failed(name: str, exc: BaseException) -> str:
    return (
        f"{name!r} cannot be imported: {type(exc).__name__}: {exc}; fix the plugin or remove "
        "it from the list"
    )


def _at_most(limit: int, check: Callable[[str], str] | None = None) -> Callable[[str], str]:
    """A check that a text setting is at most ``limit`` characters (then ``check``): such
    settings are repeated in every page and feed, so one of 900 KB cost 846 MB to build."""

    def checked(value: str) -> str:
        if len(value) > limit:
            raise ValueError(
                f"is {len(value)} characters; keep it under {limit} (it is repeated in every "
                "page and feed)"
            )
        return check(value) if check is not None else value

    return checked


def _setting(
    default: Any, check: Callable[[Any], Any] | None = None, doc: str = "", key: str = ""
) -> Any:
    return field(default=default, metadata={"check": check, "doc": doc, "key": key})


def setting_key(spec: Field[Any]) -> str:
    """The name a setting has in feedpub.toml ('from' is a Python keyword)."""
    return str(spec.metadata.get("key") or spec.name)


@dataclass(frozen=True)
class SiteSettings:
    # The newsletter's name when it has none of its own: in From, List-Id and Subject.
    title: str = _setting(
        "",
        _at_most(MAX_TITLE, _check_header_text),
        "the publication's name, shown in feeds and pages",
    )
    url: str = _setting(
        "", _at_most(2000, _check_url), "where public/ is served, e.g. https://example.org/"
    )
    description: str = _setting("", _at_most(2000), "one sentence about the publication")
    language: str = _setting("en", _at_most(35, _check_language), "language tag of the articles")
    timezone: str = _setting("UTC", _check_timezone, "zone for dates written without one")
    author: str = _setting("", _at_most(200), "default author of articles that name none")
    plugins: tuple[Plugin, ...] = _setting(
        (), _check_plugins, "modules that add readers and template filters (see the README)"
    )
    ascii_urls: bool = _setting(
        False, doc="transliterate the URLs of articles, tags and authors to ASCII (café: cafe)"
    )
    per_page: int = _setting(
        10, _check_per_page, "articles on each page of the home, tag and author lists"
    )
    relative_urls: bool = _setting(
        False, doc="pages link relatively (../index.html), so public/ works opened from disk"
    )
    logo: str = _setting(
        "", _at_most(MAX_LOGO, _check_logo), "a picture in static/ or an https:// URL for headers"
    )


@dataclass(frozen=True)
class FeedSettings:
    limit: int = _setting(50, _check_limit, "most items in each feed")
    full_content: bool = _setting(True, doc="put whole articles into feeds, not only summaries")
    output: str = _setting("public", _check_output, "folder the build writes, relative to the site")
    archive: bool = _setting(
        False, doc="also write the main feed's whole history, a document a month (RFC 5005)"
    )
    websub_hub: str = _setting("", _check_hub, "WebSub hub told of each changed feed (empty: none)")


MAX_TOPICS = 20
MAX_TOPIC_NAME = 60
MAX_TOPIC_TAGS = 100


@dataclass(frozen=True)
class Topic:
    """A newsletter topic: a name readers choose, and the article tags it groups (compared as
    ``[newsletter] tags`` are, with feedpub.text.name_key)."""

    name: str
    tags: tuple[str, ...]


def _check_topics(value: object) -> tuple[Topic, ...]:
    """``{ Sports = ["sports", "athletics"], Arts = ["arts"] }``: at most MAX_TOPICS, each name
    1 to MAX_TOPIC_NAME characters without control characters, each with at least one tag."""
    example = 'like topics = { Sports = ["sports", "athletics"], Arts = ["arts"] }'
    if isinstance(value, tuple) and not value:
        return ()
    if not isinstance(value, dict):
        raise ValueError(f"must be a table of topic names and their tags, {example}")
    if len(value) > MAX_TOPICS:
        raise ValueError(f"names {len(value)} topics; keep it to {MAX_TOPICS}")
    topics: list[Topic] = []
    seen: dict[str, str] = {}
    for name, tags in value.items():
        shown = repr(name[:MAX_TOPIC_NAME]) + ("..." if len(name) > MAX_TOPIC_NAME else "")
        if not name.strip() or len(name) > MAX_TOPIC_NAME:
            raise ValueError(
                f"topic {shown}: a topic's name is 1 to {MAX_TOPIC_NAME} characters"
            )
        if any(unicodedata.category(c) in ("Cc", "Cs") for c in name) or first_not_xml(name):
            raise ValueError(f"topic {shown}: the name holds a control character; remove it")
        key = " ".join(name.split()).casefold()
        if key in seen:
            raise ValueError(f"topics {seen[key]!r} and {name!r} are one name; keep one")
        seen[key] = name
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ValueError(f"topic {shown} must be a list of tags, {example}")
        cleaned = tuple(dict.fromkeys(t.strip() for t in tags if t.strip()))
        if not cleaned:
            raise ValueError(f"topic {shown} has no tags; give it at least one, {example}")
        if len(cleaned) > MAX_TOPIC_TAGS or any(len(t) > 200 for t in cleaned):
            raise ValueError(
                f"topic {shown}: at most {MAX_TOPIC_TAGS} tags of at most 200 characters"
            )
        topics.append(Topic(" ".join(name.split()), cleaned))
    return tuple(topics)


DEFAULT_SUBJECT = "{{ newsletter.name }} #{{ issue.number }}: {{ issue.articles[0].title }}"


@dataclass(frozen=True)
class NewsletterSettings:
    name: str = _setting(
        "",
        _at_most(MAX_TITLE, _check_header_text),
        "the newsletter's name (default: the site's title)",
    )
    from_: str = _setting("", _check_optional_address, "sender, as 'Name <address>'", "from")
    reply_to: str = _setting("", _check_optional_address, "where replies go (optional)")
    schedule: str = _setting(
        "weekly", _check_schedule, "weekly, daily, biweekly, monthly or manual"
    )
    day: str = _setting(
        "friday",
        _check_day,
        "weekday of a weekly or biweekly issue; day of the month of a monthly one ('15', "
        "'first friday', 'last monday')",
    )
    time: str = _setting("08:00", _check_time, "time of day of an issue, in the site's timezone")
    start: str = _setting(
        "", _check_start, "a date in the first week of a biweekly schedule (default: the first "
        "issue's week)"
    )
    skip: tuple[str, ...] = _setting(
        (), _check_skip, "dates and ranges ('2026-12-21..2027-01-03') with no scheduled issue"
    )
    min_items: int = _setting(1, _check_items, "fewest new articles that make an issue")
    max_items: int = _setting(25, _check_items, "most articles in one issue; the rest wait")
    lookback_days: int = _setting(14, _check_days, "the first issue takes articles this recent")
    subject: str = _setting(DEFAULT_SUBJECT, _check_subject, "subject line (a Jinja2 template)")
    tags: tuple[str, ...] = _setting((), doc="only articles with one of these tags (empty: all)")
    exclude_tags: tuple[str, ...] = _setting((), doc="never articles with one of these tags")
    unsubscribe_url: str = _setting("", _check_optional_url, "base of unsubscribe links")
    postal_address: str = _setting(
        "", _check_postal_address, "the sender's postal address, shown in every issue's footer"
    )
    welcome: bool = _setting(True, doc="send the welcome email after a reader confirms")
    review: bool = _setting(
        False, doc="hold each issue for approval; a review copy goes to the reviewers first"
    )
    reviewers: tuple[str, ...] = _setting(
        (), _check_reviewers, "the addresses the review copy goes to (with review = true)"
    )
    topics: tuple[Topic, ...] = field(
        default=(),
        metadata={
            "check": _check_topics,
            "doc": "topics readers may choose: a table of names and their tags",
            "key": "",
            "table": True,
        },
    )

    @property
    def at(self) -> clock_time:
        return clock_time.fromisoformat(self.time)

    @property
    def start_date(self) -> date | None:
        return date.fromisoformat(self.start) if self.start else None

    @property
    def skip_ranges(self) -> tuple[tuple[date, date], ...]:
        ranges = []
        for entry in self.skip:
            first, _, last = entry.partition("..")
            ranges.append((date.fromisoformat(first), date.fromisoformat(last or first)))
        return tuple(ranges)


SECURITIES = ("starttls", "ssl", "none")


def _check_security(value: str) -> str:
    if value not in SECURITIES:
        raise ValueError(f"{value!r} is not one of {', '.join(SECURITIES)}")
    return value


def _check_port(value: int) -> int:
    if not 0 <= value <= 65535:
        raise ValueError("must be a port number from 1 to 65535 (0: the usual one)")
    return value


def _check_env_name(value: str) -> str:
    # Whatever is here instead of a name is most likely the password itself: never shown.
    if value and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise ValueError(
            "must name an environment variable (letters, digits, _), not hold the password; "
            "move the password into a variable"
        )
    return value


def _check_username(value: str) -> str:
    # smtplib encodes the login as ASCII, and its error would show the character and where.
    if not value.isascii():
        raise ValueError(
            "must be ASCII: an SMTP login cannot carry other characters; use the account's "
            "ASCII login name"
        )
    return value


def _check_timeout(value: int) -> int:
    if not 1 <= value <= 3600:
        raise ValueError("must be between 1 and 3600 seconds")
    return value


def _check_connections(value: int) -> int:
    if not 1 <= value <= 64:
        raise ValueError("must be between 1 and 64")
    return value


def _check_rate(value: int) -> int:
    if not 0 <= value <= 100_000:
        raise ValueError("must be between 0 (no limit) and 100000 messages a second")
    return value


def _check_attempts(value: int) -> int:
    if not 1 <= value <= 100:
        raise ValueError("must be between 1 and 100")
    return value


# The longest VERP token (feedpub.delivery.verp.MAX_TOKEN: "b-" 26 "-" 4 "-" 16), and RFC
# 5321's 64 octets for a local part: what the bounce address's own local part may take.
VERP_TOKEN_LENGTH = 50
MAX_BOUNCE_LOCAL = 64 - 1 - VERP_TOKEN_LENGTH
# The local part unsubscribe requests by mail go to, on the bounce address's domain.
UNSUBSCRIBE_LOCAL = "unsubscribe"


def _check_bounce_address(value: str) -> str:
    """A bare address whose local part takes "+TOKEN" (no "+" of its own, short enough) on an
    ASCII domain (an internationalised one is kept in its IDNA form)."""
    if not value:
        return value
    fix = "write it bare, as bounces@news.example.org"
    checked = _check_address(value)
    if "<" in value or " " in value.strip():
        raise ValueError(f"{value!r} is not a bare address (no name, no <>); {fix}")
    local, _, domain = checked.strip().rpartition("@")
    if not local.isascii() or not domain.isascii():
        raise ValueError(f"{value!r} must be ASCII before the @; {fix}")
    if "+" in local:
        raise ValueError(
            f"{value!r} has a '+' in its local part, which feedpub adds the token after; "
            "use one without, as bounces@news.example.org"
        )
    if local.startswith('"'):
        raise ValueError(f"{value!r} has a quoted local part; {fix}")
    if len(local) > MAX_BOUNCE_LOCAL:
        raise ValueError(
            f"{value!r}: its local part {local!r} is {len(local)} characters, and with "
            f"'+' and the token feedpub adds it would pass RFC 5321's 64; use one of at most "
            f"{MAX_BOUNCE_LOCAL}, as bounces@news.example.org"
        )
    if local.lower() == UNSUBSCRIBE_LOCAL:
        raise ValueError(
            f"{value!r}: '{UNSUBSCRIBE_LOCAL}' is the local part of the unsubscribe address on "
            "that domain; use another, as bounces@news.example.org"
        )
    return f"{local}@{domain}"


@dataclass(frozen=True)
class SmtpSettings:
    host: str = _setting("", doc="the relay, e.g. email-smtp.eu-west-1.amazonaws.com")
    port: int = _setting(0, _check_port, "0: 587 for starttls, 465 for ssl, 25 for none")
    security: str = _setting("starttls", _check_security, "starttls, ssl or none")
    allow_insecure: bool = _setting(False, doc="allow security = none towards a remote host")
    username: str = _setting("", _check_username, "login name at the relay (empty: no login)")
    password_env: str = _setting(
        "", _check_env_name, "the environment variable that holds the password"
    )
    dkim_key_file: str = _setting(
        "", doc="PEM RSA private key that DKIM-signs each message (relative to the site)"
    )
    dkim_selector: str = _setting(
        "", dkimkey.check_selector, "DKIM selector: the key is at SELECTOR._domainkey.DOMAIN"
    )
    dkim_domain: str = _setting("", dkimkey.check_domain, "DKIM signing domain (the d= tag)")
    timeout: int = _setting(30, _check_timeout, "seconds to wait for the relay")
    connections: int = _setting(2, _check_connections, "parallel connections")
    rate: int = _setting(0, _check_rate, "messages a second across connections; 0: no limit")
    max_attempts: int = _setting(5, _check_attempts, "tries for a message the relay defers")
    bounce_address: str = _setting(
        "",
        _check_bounce_address,
        "e.g. bounces@news.example.org: bounces come back as bounces+TOKEN@ (empty: none)",
    )

    @property
    def real_port(self) -> int:
        return self.port or {"starttls": 587, "ssl": 465, "none": 25}[self.security]


def _check_proxy(value: str) -> str:
    if not value:
        return value
    import ipaddress  # here: only a site with a web app needs it

    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(
            f"{value!r} is not an IP address; give the address the proxy connects from, like "
            "'127.0.0.1', or '' to trust no proxy"
        ) from None


def _check_signups(value: int) -> int:
    if not 1 <= value <= 100_000:
        raise ValueError("must be between 1 and 100000 sign-ups an hour")
    return value


@dataclass(frozen=True)
class WebSettings:
    url: str = _setting(
        "",
        _at_most(1000, lambda v: _check_url(v) if v else v),
        "the web app's base URL (sign-up, confirm, manage, unsubscribe), ending in /",
    )
    record_ip: bool = _setting(False, doc="keep the sign-up's client address with its consent")
    trusted_proxy: str = _setting(
        "127.0.0.1", _check_proxy, "the proxy whose X-Forwarded-For names the client ('': none)"
    )
    signups_per_hour: int = _setting(
        10, _check_signups, "sign-ups one client address may post in an hour"
    )


# -- [inbox]: where bounces, complaints and emailed unsubscribes arrive ----------------------

INBOX_SECURITIES = ("ssl", "starttls", "none")
# IMAP writes a folder's name in modified UTF-7 (where & begins an escape) and quotes it: an
# ASCII name without &, quotes, backslashes or the wildcards * and % needs neither rule.
_FOLDER = re.compile(r"[A-Za-z0-9 _.\-/+=,;:@#()!~'\[\]{}<>?^$|]{1,200}")


_HOST = re.compile(r"[A-Za-z0-9.\-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]|[0-9A-Fa-f:]{2,45}")


def _check_inbox_security(value: str) -> str:
    if value not in INBOX_SECURITIES:
        raise ValueError(f"{value!r} is not one of {', '.join(INBOX_SECURITIES)}")
    return value


def _check_host(value: str) -> str:
    if not value:
        return value
    try:
        ascii_host = value.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_host = ""
    if not _HOST.fullmatch(ascii_host):
        raise ValueError(
            f"{value!r} is not a host name or an IP address; give the IMAP server's name, like "
            "'imap.example.org'"
        )
    return ascii_host


def _check_folder(value: str) -> str:
    if not _FOLDER.fullmatch(value) or value.startswith("/") or value.endswith("/") or (
        "//" in value
    ):
        raise ValueError(
            f"{value!r} is not a folder name feedpub can use: 1 to 200 ASCII letters, digits, "
            "spaces and punctuation other than quotes, backslashes, * and %, with / between "
            "the levels (feedpub/processed)"
        )
    return value


@dataclass(frozen=True)
class InboxSettings:
    maildir: str = _setting(
        "", _at_most(4000), "a Maildir the bounces arrive in, relative to the site"
    )
    host: str = _setting("", _check_host, "the IMAP server, e.g. imap.example.org")
    port: int = _setting(0, _check_port, "0: 993 for ssl, 143 for starttls")
    security: str = _setting("ssl", _check_inbox_security, "ssl, starttls or none")
    allow_insecure: bool = _setting(
        False, doc="allow security = none (only towards a loopback address)"
    )
    username: str = _setting("", _check_username, "the IMAP login")
    password_env: str = _setting(
        "", _check_env_name, "the environment variable that holds the IMAP password"
    )
    folder: str = _setting("INBOX", _check_folder, "the folder to read")
    processed_folder: str = _setting(
        "feedpub/processed", _check_folder, "where messages acted on are moved"
    )
    unknown_folder: str = _setting(
        "feedpub/unknown", _check_folder, "where messages feedpub could not classify are moved"
    )
    ca_file: str = _setting(
        "", _at_most(4000), "a CA bundle to verify the server with (default: the system's)"
    )
    timeout: int = _setting(60, _check_timeout, "seconds to wait for the IMAP server")

    @property
    def real_port(self) -> int:
        return self.port or (993 if self.security == "ssl" else 143)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine (where a plain connection may be allowed)."""
    import ipaddress  # here: only a site with a relay or an IMAP inbox needs it

    if host.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_inbox(site: Site, text: str) -> None:
    """What [inbox]'s settings must say together: a login for a server, an encrypted
    connection to any host but this machine, three different folders."""
    inbox = site.inbox
    if not inbox.host:
        return
    problems: list[tuple[str, str]] = []
    if not inbox.username:
        problems.append(("username", '[inbox] host is set but no username; add username = "..."'))
    if not inbox.password_env:
        problems.append(
            (
                "password_env",
                "[inbox] host is set but no password_env; name the environment variable that "
                'holds the password: password_env = "FEEDPUB_IMAP_PASSWORD"',
            )
        )
    if inbox.security == "none" and not (is_loopback(inbox.host) and inbox.allow_insecure):
        problems.append(
            (
                "security",
                f'[inbox] security = "none" would send the password and the mail unencrypted; '
                f"use ssl or starttls (a plain connection is allowed only to a loopback address, "
                f"with allow_insecure = true), not to {inbox.host}",
            )
        )
    folders = {"folder": inbox.folder, "processed_folder": inbox.processed_folder}
    folders["unknown_folder"] = inbox.unknown_folder
    if len({name.lower() for name in folders.values()}) < len(folders):
        problems.append(
            (
                "processed_folder",
                "[inbox] folder, processed_folder and unknown_folder must be three different "
                "folders: a message moved where it is read would be read again",
            )
        )
    if problems:
        raise ConfigError(
            [Problem(CONFIG_NAME, key_line(text, "inbox", key), "error", m) for key, m in problems]
        )


def _check_review(site: Site, text: str) -> None:
    """A review needs someone to read the copy: review = true with no reviewers would hold
    every issue for an approval no one is asked for."""
    newsletter = site.newsletter
    if site.has_newsletter and newsletter.review and not newsletter.reviewers:
        line = key_line(text, "newsletter", "review")  # else the section's line
        message = (
            "[newsletter] review = true but reviewers is empty: no one would get the review "
            'copy; list who approves the issues, reviewers = ["editor@example.org"], or set '
            "review = false"
        )
        raise ConfigError([Problem(CONFIG_NAME, line, "error", message)])
# An SNS topic's ARN (aws, aws-cn, aws-us-gov partitions): arn:aws:sns:REGION:ACCOUNT:NAME.
_TOPIC_ARN = re.compile(
    r"arn:aws(?:-cn|-us-gov)?:sns:[a-z]{2}(?:-[a-z]+)+-\d{1,2}:\d{12}:[A-Za-z0-9_-]{1,256}"
)
# The longest SendGrid verification key read: a P-256 key's SubjectPublicKeyInfo is 91 bytes
# (124 characters of base64); anything far longer is something else pasted in.
MAX_SENDGRID_KEY = 1000
# The pinned SNS certificate is read whole; SNS's own are under 2 KB.
MAX_CERTIFICATE_BYTES = 65_536


def _check_topic_arn(value: str) -> str:
    if value and not _TOPIC_ARN.fullmatch(value):
        raise ValueError(
            f"{value[:100]!r} is not an SNS topic ARN; copy the topic's ARN from the SNS "
            "console, like arn:aws:sns:eu-west-1:123456789012:feedpub-events"
        )
    return value


def _check_sendgrid_key(value: str) -> str:
    """The verification key SendGrid shows (base64 of a P-256 SubjectPublicKeyInfo), with or
    without PEM's armour lines; kept as the bare base64."""
    if not value:
        return value
    fix = (
        "copy the verification key SendGrid shows under Settings > Mail Settings > Event "
        "Webhook > Signature Verification"
    )
    if len(value) > MAX_SENDGRID_KEY:
        raise ValueError(f"is {len(value)} characters, far longer than a public key; {fix}")
    lines = [line.strip() for line in value.strip().splitlines()]
    bare = "".join(line for line in lines if line and not line.startswith("-----"))
    import base64
    import binascii

    try:
        der = base64.b64decode(bare, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"is not base64; {fix}") from None
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    try:
        key = load_der_public_key(der)
    except (ValueError, TypeError):
        raise ValueError(f"is not a public key; {fix}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError(f"is not an ECDSA P-256 public key, which SendGrid signs with; {fix}")
    return bare


@dataclass(frozen=True)
class HooksSettings:
    ses_topic_arn: str = _setting(
        "", _check_topic_arn, "POST /hooks/ses takes notifications of this SNS topic only"
    )
    ses_certificate: str = _setting(
        "", _at_most(1000), "a PEM certificate pinned instead of the SigningCertURL's (tests)"
    )
    postmark_username_env: str = _setting(
        "", _check_env_name, "the variable holding POST /hooks/postmark's basic-auth user"
    )
    postmark_password_env: str = _setting(
        "", _check_env_name, "the variable holding POST /hooks/postmark's basic-auth password"
    )
    mailgun_key_env: str = _setting(
        "", _check_env_name, "the variable holding Mailgun's HTTP webhook signing key"
    )
    sendgrid_public_key: str = _setting(
        "", _check_sendgrid_key, "the Event Webhook's verification key SendGrid shows (base64)"
    )


# --- [podcast]: the iTunes tags Apple Podcasts requires on the main RSS feed ----------------


def _check_category(value: str) -> str:
    if value and value not in CATEGORIES:
        raise ValueError(
            f"{_quoted(value)} is not one of Apple Podcasts' categories; use one of "
            + ", ".join(CATEGORIES)
        )
    return value


def _check_show_type(value: str) -> str:
    if value not in {"episodic", "serial"}:
        raise ValueError(f"must be 'episodic' or 'serial', not {_quoted(value)}")
    return value


def _check_artwork(value: str) -> str:
    if value and not urlsplit(value).path.lower().endswith(ARTWORK_SUFFIXES):
        raise ValueError(
            "must be a JPEG or PNG file (.jpg or .png), as Apple Podcasts requires, like "
            "'/podcast.jpg' (a file in static/) or 'https://example.org/podcast.jpg'"
        )
    if any(c.isspace() or unicodedata.category(c) == "Cc" for c in value):
        raise ValueError("must not contain spaces or control characters")
    if value.lower().startswith(("http:", "https:")):
        _check_url(value)
    elif ":" in value.split("/", 1)[0] or value.startswith("//") or ".." in value.split("/"):
        raise ValueError("must be an http(s) URL or a path of a file in static/")
    return value


@dataclass(frozen=True)
class PodcastSettings:
    category: str = _setting("", _check_category, "Apple Podcasts category, e.g. Education")
    subcategory: str = _setting("", _at_most(60), "one of the category's subcategories")
    explicit: bool = _setting(False, doc="whether the show has explicit content")
    owner_name: str = _setting("", _at_most(255, _check_header_text), "the show's owner")
    owner_email: str = _setting("", _check_optional_address, "the owner's email (Apple's)")
    artwork: str = _setting(
        "", _at_most(2000, _check_artwork), "square JPEG/PNG, 1400-3000 px: static path or URL"
    )
    author: str = _setting("", _at_most(255), "the show's author (default: [site] author)")
    type: str = _setting("episodic", _check_show_type, "episodic (newest first) or serial")


@dataclass(frozen=True)
class ThemeSettings:
    accent: str = _setting(
        "", _at_most(MAX_COLOUR, colours.check_colour), "the links' colour, as #rrggbb or #rgb"
    )
    background: str = _setting(
        "", _at_most(MAX_COLOUR, colours.check_colour), "pages' and digest's background, as #rrggbb"
    )
    font: str = _setting("serif", _at_most(MAX_COLOUR, colours.check_font), "serif or sans")
    logo: str = _setting("", _at_most(MAX_LOGO, _check_logo), "the same as [site] logo")


SECTIONS: dict[str, type] = {
    "site": SiteSettings,
    "feeds": FeedSettings,
    "newsletter": NewsletterSettings,
    "smtp": SmtpSettings,
    "web": WebSettings,
    "inbox": InboxSettings,
    "hooks": HooksSettings,
    "podcast": PodcastSettings,
    "theme": ThemeSettings,
}
REQUIRED = {("site", "title"), ("site", "url")}


@dataclass(frozen=True)
class Site:
    """A site folder and its validated settings."""

    root: Path
    site: SiteSettings
    feeds: FeedSettings
    newsletter: NewsletterSettings = field(default_factory=NewsletterSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    web: WebSettings = field(default_factory=WebSettings)
    inbox: InboxSettings = field(default_factory=InboxSettings)
    hooks: HooksSettings = field(default_factory=HooksSettings)
    podcast: PodcastSettings = field(default_factory=PodcastSettings)
    # Whether [podcast] sets anything: then the main RSS feed is a podcast's.
    has_podcast: bool = False
    theme: ThemeSettings = field(default_factory=ThemeSettings)
    # Whether feedpub.toml has a [newsletter] section at all: without one there is no newsletter.
    has_newsletter: bool = False
    # Without an [smtp] section (and host) messages go to the outbox folder instead.
    has_smtp: bool = False
    # What `feedpub check` warns about the settings: found when they load, where the lines are
    # known; not part of what the site is (its repr is in every cache key).
    warnings: tuple[Problem, ...] = field(default=(), compare=False, repr=False)
    # A what-if (run --dry-run) works on copies of the state folder and the output in this
    # folder: nothing of the site's own is written. Not part of what the site is either.
    sandbox: Path | None = field(default=None, compare=False, repr=False)

    @property
    def has_inbox(self) -> bool:
        """Whether [inbox] names a Maildir or an IMAP server: then ``feedpub run`` reads it."""
        return bool(self.inbox.maildir or self.inbox.host)

    @property
    def newsletter_name(self) -> str:
        return self.newsletter.name or self.site.title

    @property
    def web_url(self) -> str:
        """The web app's base URL, ending in "/": ``[web] url``, else the folder of
        ``[newsletter] unsubscribe_url``, else ``[site] url``. Its pages are web_url +
        "subscribe", "confirm", "manage", "unsubscribe"."""
        if self.web.url:
            return self.web.url
        if self.newsletter.unsubscribe_url:
            parts = urlsplit(self.newsletter.unsubscribe_url)
            folder = parts.path.rsplit("/", 1)[0] + "/"
            return urlunsplit((parts.scheme, parts.netloc, folder, "", ""))
        return self.site.url

    def issue_url(self, number: int) -> str:
        """The web version of issue ``number``: the archive writes it, the digest links to it."""
        return f"{self.site.url}issues/{number}/"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.site.timezone)

    @property
    def content_dir(self) -> Path:
        return self.root / "content"

    @property
    def static_dir(self) -> Path:
        return self.root / "static"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def output_dir(self) -> Path:
        if self.sandbox is not None:
            return self.sandbox / "public"
        return (self.root / self.feeds.output).resolve()

    @property
    def state_dir(self) -> Path:
        if self.sandbox is not None:
            return self.sandbox / STATE_DIR
        return self.root / STATE_DIR

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME


def packaged_templates() -> Path:
    """The default templates: inside the installed package, or at the top of a source tree."""
    inside = Path(__file__).resolve().parent / "templates"
    if inside.is_dir():
        return inside
    return Path(__file__).resolve().parent.parent / "templates"


def key_line(text: str, section: str, key: str | None = None) -> int:
    """The line where ``[section]`` (or its ``key``) is set in TOML text; 0 if not found."""
    current = ""
    section_line = 0
    header = re.compile(r"^\s*\[\s*([^\]\s]+)\s*\]")
    for number, line in enumerate(text.splitlines(), start=1):
        match = header.match(line)
        if match:
            current = match.group(1).strip("\"'")
            if current == section and not section_line:
                section_line = number
            continue
        if (
            key
            and current == section
            and re.match(rf"""^\s*["']?{re.escape(key)}["']?\s*=""", line)
        ):
            return number
    return section_line


def _coerce(raw: object, kind: type, from_env: bool) -> Any:
    if from_env and isinstance(raw, str):
        if kind is bool:
            lowered = raw.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise ValueError("must be true or false")
        if kind is int:
            try:
                return int(raw.strip())
            except ValueError:
                raise ValueError("must be a whole number") from None
        if kind is tuple:
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        return raw
    # bool is an int to Python, never to a user.
    if kind is int and (isinstance(raw, bool) or not isinstance(raw, int)):
        raise ValueError(f"must be a whole number, not {_toml_type(raw)}")
    if kind is bool and not isinstance(raw, bool):
        raise ValueError(f"must be true or false, not {_toml_type(raw)}")
    if kind is str and not isinstance(raw, str):
        raise ValueError(f"must be a string in quotes, not {_toml_type(raw)}")
    if kind is tuple:
        if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
            raise ValueError(f'must be a list of strings, like ["news"], not {_toml_type(raw)}')
        return tuple(raw)
    return raw


def _table(raw: object, from_env: bool) -> object:
    """A setting that is a TOML table; from the environment or a flag, an inline table's text
    (``{ Sports = ["sports"] }``)."""
    if from_env and isinstance(raw, str):
        try:
            return tomllib.loads(f"value = {raw}")["value"]
        except (tomllib.TOMLDecodeError, ValueError, RecursionError):
            raise ValueError(
                'must be a TOML inline table, like { Sports = ["sports"], Arts = ["arts"] }'
            ) from None
    if not isinstance(raw, dict):
        raise ValueError(f"must be a table, not {_toml_type(raw)}")
    return raw


def _check_characters(value: object) -> None:
    """Refuse a text setting holding a character that pages, feeds and email cannot carry: a
    control character (TOML writes them as escapes, "\\u0007"), a noncharacter, or a lone
    surrogate (an environment variable's invalid UTF-8). Such settings reach every page and the
    digest as they are, and no setting has a use for them; tab and newline stay allowed."""
    for text in value if isinstance(value, tuple) else (value,):
        at = first_not_xml(text) if isinstance(text, str) else None
        if at is not None:
            raise ValueError(
                f"holds the character U+{ord(text[at]):04X} (character {at + 1}), which pages, "
                "feeds and email cannot carry; remove it"
            )


def _toml_type(value: object) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return "a date" if hasattr(value, "isoformat") else type(value).__name__


def env_name(section: str, key: str) -> str:
    return f"FEEDPUB_{section.upper()}_{key.upper()}"


def load(
    root: Path | str,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[tuple[str, str], object] | None = None,
) -> Site:
    """Read ``root/feedpub.toml``, merge environment and flag overrides, validate, freeze.

    Raises ConfigError listing every problem with the line it is on.
    """
    root = Path(root).resolve()
    path = root / CONFIG_NAME
    shown = CONFIG_NAME
    env = os.environ if env is None else env
    overrides = overrides or {}
    if not root.is_dir():
        raise ConfigError([Problem(str(root), 0, "error", "no such folder; pass --site DIR")])
    try:
        raw_bytes = path.read_bytes()
    except FileNotFoundError:
        message = f"no {CONFIG_NAME} in {root}; run 'feedpub init DIR' to start a site"
        raise ConfigError([Problem(shown, 0, "error", message)]) from None
    except OSError as exc:
        raise ConfigError([Problem(shown, 0, "error", f"cannot read: {exc.strerror}")]) from None
    if len(raw_bytes) > MAX_CONFIG_BYTES:
        message = f"is {len(raw_bytes)} bytes; settings over {MAX_CONFIG_BYTES} bytes are refused"
        raise ConfigError([Problem(shown, 0, "error", message)])
    try:
        text = raw_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw_bytes[: exc.start].count(b"\n") + 1
        raise ConfigError(
            [Problem(shown, line, "error", "is not UTF-8; save it as UTF-8")]
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(match.group(1)) if match else 0
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        message = f"not valid TOML: {message}"
        raise ConfigError([Problem(shown, line, "error", message)]) from None
    except ValueError:  # an integer longer than Python converts (4300 digits)
        line, digits = _longest_number(text)
        message = (
            f"not valid TOML: a number of {digits} digits; a setting's number has at most "
            f"{MAX_DIGITS}"
        )
        raise ConfigError([Problem(shown, line, "error", message)]) from None
    except RecursionError:  # tomllib parses each nested array or table with one more call
        message = (
            f"not valid TOML: arrays or tables nested more than {MAX_NESTING} deep; no setting "
            "is nested at all"
        )
        raise ConfigError([Problem(shown, _deep_line(text), "error", message)]) from None

    problems: list[Problem] = []
    sections: dict[str, Any] = {}
    for name in data:
        if name not in SECTIONS:
            names = ", ".join(f"[{s}]" for s in SECTIONS)
            if isinstance(data[name], dict):
                message = f"unknown section [{name}]; known sections are {names}"
                line = key_line(text, name)
            else:
                message = f"unknown setting '{name}' outside any section; settings go under {names}"
                line = key_line(text, "", name)
            problems.append(Problem(shown, line, "error", message))
    for name, kind in SECTIONS.items():
        table = data.get(name, {})
        if not isinstance(table, dict):
            message = f"'{name}' must be a table: write [{name}] on a line of its own"
            problems.append(Problem(shown, key_line(text, "", name), "error", message))
            table = {}
        known = {setting_key(f): f for f in fields(kind)}
        for key in table:
            if key not in known:
                message = f"unknown setting '{key}' in [{name}]; known: {', '.join(known)}"
                problems.append(Problem(shown, key_line(text, name, key), "error", message))
        values: dict[str, Any] = {}
        for key, spec in known.items():
            kind_of = type(spec.default)
            variable = env_name(name, key)
            if (name, key) in overrides:
                raw, where, line, from_env = (
                    overrides[(name, key)],
                    f"option for {name}.{key}",
                    0,
                    True,
                )
            elif variable in env:
                raw, where, line, from_env = (
                    env[variable],
                    f"environment variable {variable}",
                    0,
                    True,
                )
            elif key in table:
                line = key_line(text, name, key)
                if spec.metadata.get("table") and isinstance(table[key], dict):
                    # Its own [newsletter.topics] section, or an inline table on one line.
                    line = key_line(text, f"{name}.{key}") or line
                raw, where, line, from_env = table[key], shown, line, False
            else:
                if (name, key) in REQUIRED:
                    message = f'[{name}] {key} is required; add a line: {key} = "..."'
                    problems.append(Problem(shown, key_line(text, name), "error", message))
                continue
            try:
                if spec.metadata.get("table"):
                    value = _table(raw, from_env)
                else:
                    value = _coerce(raw, kind_of, from_env)
                check = spec.metadata.get("check")
                if check is not None:
                    value = check(value)
                if (name, key) in REQUIRED and not str(value).strip():
                    raise ValueError("must not be empty")
                _check_characters(value)
            except ValueError as exc:
                problems.append(Problem(where, line, "error", f"[{name}] {key} {exc}"))
                continue
            values[spec.name] = value
        sections[name] = values
    if problems:
        raise ConfigError(problems)
    site = Site(
        root=root,
        **{name: SECTIONS[name](**values) for name, values in sections.items()},
        has_newsletter="newsletter" in data,
        # feedpub init writes every section with its defaults: those are no podcast.
        has_podcast=PodcastSettings(**sections["podcast"]) != PodcastSettings(),
        has_smtp=bool(sections["smtp"].get("host")),
    )
    _check_output_folder(site, text)
    _check_inbox(site, text)
    _check_review(site, text)
    _check_schedule_day(site, text)
    _check_hooks(site, text)
    _check_dkim(site, text)
    _check_podcast(site, text)
    _check_logo_file(site, text)
    return replace(site, warnings=tuple(_warnings(site, text)))


def _check_logo_file(site: Site, text: str) -> None:
    """[site] logo and [theme] logo say the same, and a logo in static/ is a file there (not a
    link out of it)."""
    problems: list[Problem] = []
    chosen = site.site.logo or site.theme.logo
    section = "site" if site.site.logo else "theme"
    line = key_line(text, section, "logo")
    if site.site.logo and site.theme.logo and site.site.logo != site.theme.logo:
        message = (
            f"[site] logo {site.site.logo!r} and [theme] logo {site.theme.logo!r} differ; "
            "keep one of them (they are the same setting)"
        )
        problems.append(Problem(CONFIG_NAME, key_line(text, "theme", "logo"), "error", message))
    elif chosen and not chosen.startswith("https://"):
        static = site.static_dir.resolve()
        found = (static / chosen).resolve()
        if not found.is_relative_to(static):
            message = (
                f"[{section}] logo {chosen!r} is a link out of static/; copy the picture into "
                "static/ and name it there"
            )
            problems.append(Problem(CONFIG_NAME, line, "error", message))
        elif not found.is_file():
            message = (
                f"[{section}] logo: there is no file static/{chosen}; put the picture there, "
                'or write its path inside static/ (like "images/logo.png") or an https:// URL'
            )
            problems.append(Problem(CONFIG_NAME, line, "error", message))
    if problems:
        raise ConfigError(problems)


def _theme_warnings(site: Site, text: str) -> list[Problem]:
    """The [theme] colours that do not read at WCAG AA, in light or dark mode."""
    chosen = site.theme
    return [
        Problem(
            CONFIG_NAME,
            key_line(text, "theme", setting) or key_line(text, "theme"),
            "warning",
            message,
        )
        for setting, message in colours.contrast_problems(chosen.accent, chosen.background)
    ]


def _check_schedule_day(site: Site, text: str) -> None:
    """The kind of day the schedule needs: a weekday for weekly and biweekly, a day of the
    month for monthly (whose default, "friday", is none)."""
    newsletter = site.newsletter
    kind, day = newsletter.schedule, newsletter.day
    message = ""
    if kind in ("weekly", "biweekly") and day not in WEEKDAYS:
        message = (
            f"[newsletter] day {day!r} is a day of the month, but schedule = {kind!r} needs a "
            "day of the week; write day = \"friday\" (or schedule = \"monthly\")"
        )
    elif kind == "monthly" and day in WEEKDAYS:
        message = (
            f"[newsletter] day {day!r} is a day of the week, but schedule = \"monthly\" needs "
            f"a day of the month; write day = \"1\" (1 to 31, the month's last day when it "
            f"is shorter) or day = \"first {day}\" (or \"second\", \"third\", \"fourth\", "
            f"\"last\")"
        )
    if message:
        line = key_line(text, "newsletter", "day")  # or the section's, when day is not set
        raise ConfigError([Problem(CONFIG_NAME, line, "error", message)])


def _check_dkim(site: Site, text: str) -> None:
    """All three DKIM settings or none, and a key that can sign: found now, not at a send."""
    smtp = site.smtp
    problems = [
        Problem(CONFIG_NAME, key_line(text, "smtp", name) or key_line(text, "smtp"), "error", m)
        for name, m in dkimkey.missing(smtp.dkim_key_file, smtp.dkim_selector, smtp.dkim_domain)
    ]
    if not problems and smtp.dkim_key_file:
        try:
            dkimkey.read_key(dkimkey.key_path(site.root, smtp.dkim_key_file))
        except DkimKeyError as exc:
            line = key_line(text, "smtp", "dkim_key_file")
            problems.append(Problem(CONFIG_NAME, line, "error", f"[smtp] dkim_key_file: {exc}"))
    if problems:
        raise ConfigError(problems)


POSTAL_ADDRESS_MISSING = (
    "[newsletter] postal_address is not set: CAN-SPAM and Gmail's and Yahoo's rules for bulk "
    "senders expect the sender's postal address in every message; add a line: "
    'postal_address = "..." (a multi-line string for several lines)'
)


# The [site] url feedpub init writes until it is given one (init --url).
PLACEHOLDER_URL = "https://example.org/"
PLACEHOLDER_URL_LEFT = (
    f"[site] url is still {PLACEHOLDER_URL}, the placeholder feedpub init writes: every link in "
    "the feeds, pages and emails points there; set it to where public/ is served, e.g. "
    'url = "https://news.example.net/"'
)


def _no_catalogue(language: str) -> str:
    return (
        f"[site] language {language!r} has no catalogue in feedpub: the pages, the digest and "
        "the emails show their words in English (dates follow the language where Babel "
        f"knows it); use one of {', '.join(i18n.SHIPPED)}, or add a catalogue for it "
        "(README: \"The publication's language\")"
    )


def _warnings(site: Site, text: str) -> list[Problem]:
    """What is allowed but probably wrong in the settings, with the line to change."""
    found: list[Problem] = []
    if site.site.url == PLACEHOLDER_URL:
        line = key_line(text, "site", "url")
        found.append(Problem(CONFIG_NAME, line, "warning", PLACEHOLDER_URL_LEFT))
    bounce = site.smtp.bounce_address
    sender = site.newsletter.from_.rpartition("@")[2].rstrip(">").strip().lower()
    if bounce and sender and not _same_organisation(bounce.rpartition("@")[2].lower(), sender):
        message = (
            f"[smtp] bounce_address {bounce!r} is not on the domain of [newsletter] from "
            f"({sender}) nor a parent or a subdomain of it: SPF checks the bounce domain, "
            "which then does not align with From for DMARC; use an address on that domain "
            f"or a subdomain of it, as bounces@bounces.{sender}, or rely on DKIM alone"
        )
        found.append(
            Problem(CONFIG_NAME, key_line(text, "smtp", "bounce_address"), "warning", message)
        )
    if not i18n.is_shipped(site.site.language):
        line = key_line(text, "site", "language")
        found.append(Problem(CONFIG_NAME, line, "warning", _no_catalogue(site.site.language)))
    if site.has_newsletter and site.has_smtp and not site.newsletter.postal_address:
        line = key_line(text, "newsletter")
        found.append(Problem(CONFIG_NAME, line, "warning", POSTAL_ADDRESS_MISSING))
    smtp = site.smtp
    try:
        from_domain = dkimkey.check_domain(sender) if sender else ""
    except ValueError:  # not a domain: the address check says so
        from_domain = sender
    if smtp.dkim_domain and from_domain and not _same_organisation(smtp.dkim_domain, from_domain):
        message = (
            f"[smtp] dkim_domain {smtp.dkim_domain!r} is not the domain of [newsletter] from "
            f"({from_domain}) nor a parent or a subdomain of it, so receivers applying DMARC "
            "do not count the signature for From; sign with the From address's domain"
        )
        line = key_line(text, "smtp", "dkim_domain")
        found.append(Problem(CONFIG_NAME, line, "warning", message))
    found.extend(_theme_warnings(site, text))
    return found


def _same_organisation(one: str, other: str) -> bool:
    """Whether two domains align for DMARC's relaxed mode, as far as can be told without the
    public suffix list: one is the other or a parent of it, or they end in the same two
    labels (news.example.org and bounces.example.org)."""
    if one == other or one.endswith("." + other) or other.endswith("." + one):
        return True
    return one.split(".")[-2:] == other.split(".")[-2:] and one.count(".") >= 2


MAX_DIGITS = 4300  # sys.get_int_max_str_digits()'s default
MAX_NESTING = 100
_NUMBER = re.compile(r"[0-9][0-9_]*")


def _longest_number(text: str) -> tuple[int, int]:
    """(line, digits) of the longest run of digits in ``text``, for the error about it."""
    best = (0, 0)
    for number, line in enumerate(text.splitlines(), start=1):
        for found in _NUMBER.findall(line):
            digits = len(found.replace("_", ""))
            if digits > best[1]:
                best = (number, digits)
    return best


def _deep_line(text: str) -> int:
    """The line where brackets first nest deeper than MAX_NESTING (strings are not told apart:
    this only places an error tomllib already found)."""
    depth = 0
    for number, line in enumerate(text.splitlines(), start=1):
        for char in line:
            depth += char in "[{"
            depth -= char in "]}"
            if depth > MAX_NESTING:
                return number
    return 0


def _check_output_folder(site: Site, text: str) -> None:
    """The build replaces files in the output folder: it must not hold the site's sources."""
    output = site.output_dir
    protected = (
        site.content_dir,
        site.templates_dir,
        site.static_dir,
        site.state_dir,
        site.config_path,
    )
    if site.root.is_relative_to(output) or any(
        p.resolve().is_relative_to(output) or output.is_relative_to(p.resolve()) for p in protected
    ):
        message = (
            f"[feeds] output {site.feeds.output!r} overlaps the site's own files; "
            "use a folder of its own, like 'public'"
        )
        raise ConfigError(
            [Problem(CONFIG_NAME, key_line(text, "feeds", "output"), "error", message)]
        )


def _check_hooks(site: Site, text: str) -> None:
    """The [hooks] settings that hang together: Postmark's two variables, and the pinned SNS
    certificate, read now so that a wrong file is said at once and not at the first bounce."""
    hooks = site.hooks
    problems: list[Problem] = []
    if bool(hooks.postmark_username_env) != bool(hooks.postmark_password_env):
        given, missing = (
            ("postmark_username_env", "postmark_password_env")
            if hooks.postmark_username_env
            else ("postmark_password_env", "postmark_username_env")
        )
        message = (
            f"[hooks] {given} is set but {missing} is not; set both (the variables holding the "
            "user and the password of Postmark's webhook URL) or neither"
        )
        problems.append(Problem(CONFIG_NAME, key_line(text, "hooks", given), "error", message))
    if hooks.ses_certificate:
        message = _certificate_problem(site.root / hooks.ses_certificate)
        if message:
            line = key_line(text, "hooks", "ses_certificate")
            message = f"[hooks] ses_certificate {message}"
            problems.append(Problem(CONFIG_NAME, line, "error", message))
    if problems:
        raise ConfigError(problems)


def _certificate_problem(path: Path) -> str:
    """What is wrong with ``path`` as the certificate SNS signs with ('' for nothing)."""
    fix = "give the PEM file of the certificate the topic's messages are signed with"
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_CERTIFICATE_BYTES + 1)
    except FileNotFoundError:
        return f"{path}: no such file; {fix}, relative to the site folder"
    except OSError as exc:
        return f"{path}: cannot be read ({exc.strerror}); {fix}"
    if len(data) > MAX_CERTIFICATE_BYTES:
        return f"{path}: over {MAX_CERTIFICATE_BYTES} bytes, not one certificate; {fix}"
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        certificate = x509.load_pem_x509_certificate(data)
    except ValueError:
        return f"{path}: not a PEM certificate; {fix}"
    if not isinstance(certificate.public_key(), rsa.RSAPublicKey):
        return f"{path}: its key is not RSA, which SNS signs with; {fix}"
    return ""


def _check_podcast(site: Site, text: str) -> None:
    """What Apple Podcasts requires of a show, once [podcast] is there: a category (and a
    subcategory of it), an owner's email, artwork that is a square of 1400 to 3000 pixels (a
    file of static/ is measured here)."""
    if not site.has_podcast:
        return
    podcast = site.podcast
    problems: list[Problem] = []

    def problem(key: str, message: str) -> None:
        line = key_line(text, "podcast", key) or key_line(text, "podcast")
        problems.append(Problem(CONFIG_NAME, line, "error", f"[podcast] {key} {message}"))

    if not podcast.category:
        problem("category", 'is required by Apple Podcasts; add a line: category = "Education"')
    elif podcast.subcategory and podcast.subcategory not in CATEGORIES[podcast.category]:
        known = ", ".join(CATEGORIES[podcast.category]) or "none"
        problem("subcategory", f"is not one of {podcast.category}'s subcategories ({known})")
    if not podcast.owner_email:
        problem(
            "owner_email", 'is required by Apple Podcasts; add: owner_email = "you@example.org"'
        )
    if not podcast.artwork:
        problem("artwork", 'is required by Apple Podcasts; add: artwork = "/podcast.jpg"')
    elif not podcast.artwork.lower().startswith(("http:", "https:")):
        import imagesize

        path = site.static_dir.joinpath(*[p for p in podcast.artwork.split("/") if p])
        least, most = ARTWORK_SIZES
        if not path.is_file():
            problem(
                "artwork", f"{_quoted(podcast.artwork)}: no such file in static/; copy it there"
            )
        else:
            try:
                width, height = imagesize.get(str(path))
            except (OSError, ValueError):
                width = height = -1
            if width != height or not least <= width <= most:
                problem(
                    "artwork",
                    f"is {width}x{height} pixels; Apple Podcasts requires a square from "
                    f"{least}x{least} to {most}x{most}",
                )
    if problems:
        raise ConfigError(problems)
