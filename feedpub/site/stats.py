"""Who reads the site, from its web server's access logs, without tracking anyone: the feed
subscribers the hosted feed readers state in their User-Agent ("Feedly/1.0 (...; 131
subscribers; )"), the distinct fetchers of each feed a day, and the views of each issue's web
version (``issues/N/``).

The logs are the combined log format (Apache's and nginx's default: ``%h %l %u %t "%r" %>s %b
"%{Referer}i" "%{User-Agent}i"``), plain or gzip-compressed, read line by line as a stream. A
line that is not that format, is over ``MAX_LINE`` bytes or holds an impossible date is skipped
and counted, never an error. Nothing about a person leaves this module or outlives the call:
a fetcher is told from another by a keyed hash of its address and client, the key random for
each call, kept in memory for the day it counts; only counts come out.

A reader's figure is what it claims; anyone can send any User-Agent. The figures are therefore
the latest each reader stated for each feed (and each of its feed ids: one reader may know a
feed under several), never added up over time.

May import the basics only.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import posixpath
import re
import secrets
import statistics
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from feedpub.config import FEED_FILES, Site
from feedpub.errors import StatsError
from feedpub.oserrors import describe

MAX_LINE = 16 * 1024  # bytes; a longer line is skipped (and read past, never held whole)
# Bounds on what one run keeps, against logs made to exhaust memory: distinct feeds, and
# readers' (reader, feed, feed id) figures. Past them, lines are counted as skipped.
MAX_FEEDS = 1000
MAX_FIGURES = 10_000
MAX_FIGURE = 100_000_000  # subscribers; a larger claim is not a reader's
COUNTED_STATUSES = frozenset({200, 206, 304})
OTHER_READERS = "other readers"

# Hosted feed readers that state their subscribers, as each documents its fetcher: Feedly
# ("Feedly/1.0 (+http://www.feedly.com/fetcher.html; 16 subscribers; )"), Inoreader
# ("Inoreader/1.0 (+http://www.inoreader.com/feed-fetcher; 3 subscribers; )"), NewsBlur
# ("NewsBlur Feed Fetcher - 12 subscribers - https://www.newsblur.com/site/123/..."),
# The Old Reader ("Mozilla/5.0 (compatible; theoldreader.com; 5 subscribers; feed-id=...)"),
# Feedbin ("Feedbin feed-id:1234 - 7 subscribers"), Bloglovin', Feedspot, Netvibes, BazQux.
# Miniflux and other self-hosted readers state no figure: each is a fetcher of its own.
READERS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("Feedly", r"\bfeedly\b"),
        ("Inoreader", r"\binoreader\b"),
        ("NewsBlur", r"\bnewsblur\b"),
        ("The Old Reader", r"\btheoldreader\b"),
        ("Feedbin", r"\bfeedbin\b"),
        ("Bloglovin'", r"\bbloglovin\b"),
        ("Feedspot", r"\bfeedspot\b"),
        ("Netvibes", r"\bnetvibes\b"),
        ("BazQux", r"\bbazqux\b"),
        ("Miniflux", r"\bminiflux\b"),
    )
)
_COUNT = re.compile(r"(?<![\w.])(\d{1,12})\s+(?:subscribers?|readers?)\b", re.IGNORECASE)
_FEED_ID = re.compile(r"(?:feed-?id[=:]\s*|/site/)([A-Za-z0-9_-]{1,64})", re.IGNORECASE)
# Clients that are not a person reading an issue's page: crawlers, previews, tools.
_ROBOT = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|preview|fetcher|monitor|curl/|wget/|python-|"
    r"go-http-client|java/|okhttp|headless|feed|reader|rss",
    re.IGNORECASE,
)
# A quoted field is written unrolled ([^"\\]* then escapes each followed by more): the same
# language as (?:[^"\\]|\\.)*, matched several times faster.
_QUOTED = rb'"([^"\\]*(?:\\.[^"\\]*)*)"'
_LINE = re.compile(
    rb"^(\S{1,255}) \S{1,255} \S{1,255} \[([^\]]{1,40})\] " + _QUOTED + rb" "
    rb"(\d{3}) (?:\d{1,20}|-)(?: " + _QUOTED + rb" " + _QUOTED + rb")?"
)
# Lines share their times (a second's requests), targets and clients: each is worked out once.
_CACHED = 1 << 16
_TIME = re.compile(r"(\d{2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})")
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_ISSUE = re.compile(r"issues/([1-9]\d{0,8})/(?:index\.html)?")


@dataclass(frozen=True)
class Hit:
    """One request of a log line, as far as the figures need it."""

    client: str
    moment: datetime
    method: str
    path: str | None  # relative to the site's own path, "" for its home; None: not under it
    status: int
    agent: str


@dataclass(frozen=True)
class FeedFigures:
    """One feed (its path on the site): the subscribers each reader states, and how many
    distinct clients fetched it each day."""

    path: str  # as in the site's URLs: "/rss.xml", "/paper/tags/sport/atom.xml"
    subscribers: dict[str, int]
    daily_fetchers: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.subscribers.values())


@dataclass(frozen=True)
class IssueViews:
    """The views of one issue's web version by people's browsers, and its distinct viewers
    (counted a day, summed over the days)."""

    number: int
    views: int
    viewers: int


@dataclass(frozen=True)
class Stats:
    files: tuple[str, ...]
    lines: int
    skipped: int
    first: datetime | None
    last: datetime | None
    feeds: tuple[FeedFigures, ...]
    issues: tuple[IssueViews, ...]
    robot_views: int
    outside: int = 0  # requests for paths outside the site's own (another site's)
    base: str = "/"

    def as_json(self, tz: tzinfo) -> dict[str, Any]:
        def moment(value: datetime | None) -> str | None:
            return None if value is None else value.astimezone(tz).isoformat()

        return {
            "files": list(self.files),
            "lines": self.lines,
            "skipped": self.skipped,
            "first": moment(self.first),
            "last": moment(self.last),
            "feeds": {
                feed.path: {
                    "subscribers": feed.subscribers,
                    "subscribers_total": feed.total,
                    "daily_fetchers": feed.daily_fetchers,
                }
                for feed in self.feeds
            },
            "issues": {
                str(issue.number): {"views": issue.views, "viewers": issue.viewers}
                for issue in self.issues
            },
            "robot_views": self.robot_views,
            "outside": self.outside,
        }


@functools.lru_cache(maxsize=_CACHED)
def parse_time(text: str) -> datetime | None:
    """``10/Oct/2000:13:55:36 -0700`` (the log's %t) as an aware moment; None if it is not
    one. Read by hand: strptime's %b follows the process's locale."""
    found = _TIME.fullmatch(text)
    if found is None:
        return None
    day, month, year, hour, minute, second, sign, off_h, off_m = found.groups()
    number = _MONTHS.get(month.lower())
    offset = timedelta(hours=int(off_h), minutes=int(off_m))
    if number is None or offset >= timedelta(hours=24):
        return None
    try:
        return datetime(
            int(year),
            number,
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=timezone(-offset if sign == "-" else offset),
        )
    except ValueError:
        return None


def _unescape(raw: bytes) -> str:
    # nginx and Apache write a quote or backslash in a field as \" and \\, other bytes as \xHH.
    text = raw.decode("utf-8", "replace")
    return text.replace('\\"', '"').replace("\\\\", "\\")


def parse_line(line: bytes, base: str) -> Hit | None:
    """The request of one combined-format line, its path relative to ``base`` (the site's
    own path, "/" or "/paper/"; None outside it); None for a line that is not one."""
    found = _LINE.match(line)
    if found is None:
        return None
    client, stamp, request, status, _referer, agent = found.groups()
    moment = parse_time(stamp.decode("ascii", "replace"))
    if moment is None:
        return None
    parts = _unescape(request).split(" ")
    if len(parts) not in (2, 3):
        return None
    method, target = parts[0], parts[1]
    well_formed, path = _site_path(target, base)
    if not well_formed:
        return None
    return Hit(
        client.decode("ascii", "replace"),
        moment,
        method,
        path,
        int(status),
        _unescape(agent or b""),
    )


@functools.lru_cache(maxsize=_CACHED)
def _site_path(target: str, base: str) -> tuple[bool, str | None]:
    """(whether ``target`` is a request's path at all, the path relative to ``base`` or None
    when it is outside: another site's, in a log several share)."""
    try:
        raw = urlsplit(target).path
    except ValueError:
        return False, None
    path = unquote(raw, errors="replace")
    if not path.startswith("/") or "\x00" in path:
        return False, None
    folder = path.endswith("/")
    path = posixpath.normpath(path)
    path = path.lstrip("/")  # normpath keeps a leading "//"
    path = f"/{path}" + ("/" if folder and path else "")
    if not path.startswith(base) and path + "/" != base:
        return True, None
    return True, path[len(base) :]


def feed_of(path: str) -> str | None:
    """The feed a site path is (``rss.xml``, ``tags/x/atom.xml``...), None if none."""
    name = path.rpartition("/")[2]
    return path if name in FEED_FILES else None


def issue_of(path: str) -> int | None:
    found = _ISSUE.fullmatch(path)
    return None if found is None else int(found.group(1))


@functools.lru_cache(maxsize=_CACHED)
def reader_figure(agent: str) -> tuple[str, str, int] | None:
    """(reader, its feed id or "", subscribers) for a User-Agent that states a figure."""
    found = _COUNT.search(agent)
    if found is None:
        return None
    count = int(found.group(1))
    if count > MAX_FIGURE:
        return None
    name = next((name for name, pattern in READERS if pattern.search(agent)), None)
    ident = _FEED_ID.search(agent)
    feed_id = ident.group(1) if ident else ""
    if name is None:
        # A reader this table does not know: told apart by its User-Agent without the figure,
        # which is the same on each fetch (hashed: it is never shown).
        name = OTHER_READERS
        rest = _COUNT.sub("", agent)
        feed_id = hashlib.blake2b(rest.encode(), digest_size=8).hexdigest()
    return name, feed_id, count


@dataclass
class _Tally:
    tz: tzinfo
    base: str
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    lines: int = 0
    skipped: int = 0
    first: datetime | None = None
    last: datetime | None = None
    # (feed, reader, feed id) -> (moment, figure): the latest stated
    figures: dict[tuple[str, str, str], tuple[datetime, int]] = field(default_factory=dict)
    fetchers: dict[str, dict[date, set[bytes]]] = field(default_factory=dict)
    views: Counter[int] = field(default_factory=Counter)
    viewers: dict[int, dict[date, set[bytes]]] = field(default_factory=dict)
    robot_views: int = 0
    outside: int = 0

    def someone(self, hit: Hit) -> bytes:
        # Keyed by a random key of this call only: the hash cannot be matched to an address.
        text = f"{hit.client}\n{hit.agent}".encode()
        return hashlib.blake2b(text, key=self.key, digest_size=12).digest()

    def add(self, hit: Hit) -> None:
        if hit.path is None:
            self.outside += 1
            return
        if hit.status not in COUNTED_STATUSES or hit.method not in ("GET", "HEAD"):
            return
        day = hit.moment.astimezone(self.tz).date()
        feed = feed_of(hit.path)
        if feed is not None:
            if feed not in self.fetchers and len(self.fetchers) >= MAX_FEEDS:
                self.skipped += 1
                return
            self.fetchers.setdefault(feed, {}).setdefault(day, set()).add(self.someone(hit))
            figure = reader_figure(hit.agent)
            if figure is not None:
                name, feed_id, count = figure
                key = (feed, name, feed_id)
                known = self.figures.get(key)
                if known is None and len(self.figures) >= MAX_FIGURES:
                    self.skipped += 1
                elif known is None or hit.moment >= known[0]:
                    self.figures[key] = (hit.moment, count)
            return
        number = issue_of(hit.path)
        if number is None or hit.method != "GET":
            return
        if _ROBOT.search(hit.agent) or not hit.agent.strip("- "):
            self.robot_views += 1
            return
        if number not in self.views and len(self.views) >= MAX_FEEDS:
            self.skipped += 1
            return
        self.views[number] += 1
        self.viewers.setdefault(number, {}).setdefault(day, set()).add(self.someone(hit))

    def result(self, files: Sequence[Path]) -> Stats:
        subscribers: dict[str, dict[str, int]] = defaultdict(dict)
        for (feed, name, _), (_, count) in sorted(self.figures.items()):
            subscribers[feed][name] = subscribers[feed].get(name, 0) + count
        feeds = tuple(
            FeedFigures(
                self.base + feed,
                dict(sorted(subscribers.get(feed, {}).items(), key=lambda kv: (-kv[1], kv[0]))),
                {day.isoformat(): len(who) for day, who in sorted(days.items())},
            )
            for feed, days in sorted(self.fetchers.items(), key=lambda kv: _feed_order(kv[0]))
        )
        issues = tuple(
            IssueViews(n, self.views[n], sum(len(w) for w in self.viewers[n].values()))
            for n in sorted(self.views)
        )
        return Stats(
            tuple(str(f) for f in files),
            self.lines,
            self.skipped,
            self.first,
            self.last,
            feeds,
            issues,
            self.robot_views,
            self.outside,
            self.base,
        )


def _feed_order(path: str) -> tuple[int, str]:
    # The site's main feeds first, then the issues', then each tag's and author's.
    return (path.count("/"), path)


def _lines(handle: io.BufferedIOBase) -> Iterator[bytes | None]:
    """Each line of ``handle`` without its end; None for a line over MAX_LINE, which is read
    past in pieces, never held whole."""
    while True:
        line = handle.readline(MAX_LINE + 1)
        if not line:
            return
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            while (rest := handle.readline(MAX_LINE)) and not rest.endswith(b"\n"):
                pass
            yield None
            continue
        yield line.rstrip(b"\r\n")


def _open(path: Path) -> io.BufferedIOBase:
    try:
        with path.open("rb") as probe:
            magic = probe.read(2)
        if magic == b"\x1f\x8b":  # gzip's magic, whatever the file is called
            return gzip.open(path, "rb")
        return path.open("rb")
    except IsADirectoryError:
        raise StatsError(
            f"{path} is a folder; name the log files (e.g. {path}/access.log*)"
        ) from None
    except OSError as exc:
        raise StatsError(f"cannot read the access log: {describe(exc, path)}") from None


def read_logs(site: Site, paths: Iterable[Path]) -> Stats:
    """The figures of the access logs ``paths``, in any order (rotated files too)."""
    files = list(paths)
    if not files:
        raise StatsError("name at least one access log: feedpub stats --access-log FILE")
    base = urlsplit(site.site.url).path  # [site] url ends in "/" (config._check_url)
    tally = _Tally(site.tz, base)
    for path in files:
        number = 0
        try:
            with _open(path) as handle:
                for number, line in enumerate(_lines(handle), start=1):  # noqa: B007
                    tally.lines += 1
                    hit = None if line is None else parse_line(line, base)
                    if hit is None:
                        tally.skipped += 1
                        continue
                    if tally.first is None or hit.moment < tally.first:
                        tally.first = hit.moment
                    if tally.last is None or hit.moment > tally.last:
                        tally.last = hit.moment
                    tally.add(hit)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise StatsError(
                f"{path}: its gzip data is cut short or damaged after line {number} ({exc}); "
                "use the whole file, or unpack what it holds with `zcat` and name that"
            ) from None
        except OSError as exc:
            raise StatsError(f"cannot read the access log: {describe(exc, path)}") from None
    return tally.result(files)


def median(values: Iterable[int]) -> float:
    return float(statistics.median(list(values)))
