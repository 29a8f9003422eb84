"""`feedpub stats --access-log FILE...`: feed subscribers as the readers state them, distinct
daily fetchers of each feed, views of each issue's web version, from a generated combined
log (plain and gzip, rotated files in any order, hostile lines among them); no address or
client in what it prints."""

from __future__ import annotations

import gzip
import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import SETTINGS, TZ, MakeSite, assert_clean_exit, invoke, load
from hypothesis import given
from hypothesis import strategies as st

from feedpub.errors import StatsError
from feedpub.site.stats import MAX_LINE, parse_line, parse_time, read_logs, reader_figure

FEEDLY = "Feedly/1.0 (+http://www.feedly.com/fetcher.html; {n} subscribers; )"
INOREADER = "Inoreader/1.0 (+http://www.inoreader.com/feed-fetcher; {n} subscribers; )"
NEWSBLUR = (
    "NewsBlur Feed Fetcher - {n} subscribers - https://www.newsblur.com/site/{id}/test-gazette "
    '(Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "'
    "Version/14.0.1 Safari/605.1.15)"
)
OLD_READER = "Mozilla/5.0 (compatible; theoldreader.com; {n} subscribers; feed-id={id})"
FEEDBIN = "Feedbin feed-id:{id} - {n} subscribers"
BLOGLOVIN = "Bloglovin/1.0 (http://www.bloglovin.com; {n} subscribers)"
UNKNOWN = "SomeReader/2.0 (+https://reader.example; {n} readers)"
MINIFLUX = "Mozilla/5.0 (compatible; Miniflux/2.1.0; +https://miniflux.app)"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
SAFARI = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Safari/604.1"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
DAY = datetime(2026, 11, 27, 10, 0, tzinfo=TZ)


def line(
    client: str,
    moment: datetime,
    path: str,
    agent: str,
    status: int = 200,
    method: str = "GET",
) -> str:
    stamp = moment.strftime("%d/%b/%Y:%H:%M:%S %z")
    return f'{client} - - [{stamp}] "{method} {path} HTTP/1.1" {status} 5120 "-" "{agent}"\n'


def older_log() -> str:
    """The rotated file: the first two days."""
    return "".join(
        [
            line("192.0.2.1", DAY, "/rss.xml", FEEDLY.format(n=120)),
            line("192.0.2.2", DAY, "/rss.xml", INOREADER.format(n=9)),
            line("192.0.2.3", DAY, "/atom.xml", OLD_READER.format(n=2, id="a1")),
            line("192.0.2.3", DAY, "/atom.xml", OLD_READER.format(n=3, id="b2")),
            line("198.51.100.9", DAY, "/issues/1/", FIREFOX),
            line("198.51.100.9", DAY + timedelta(minutes=1), "/issues/1/", FIREFOX),  # reload
            line("192.0.2.1", DAY + timedelta(days=1), "/rss.xml", FEEDLY.format(n=125)),
        ]
    )


def newer_log() -> str:
    """The current file: the third day, and hostile lines."""
    third = DAY + timedelta(days=2)
    return "".join(
        [
            line("192.0.2.1", third, "/rss.xml", FEEDLY.format(n=131)),
            line("192.0.2.4", third, "/rss.xml", NEWSBLUR.format(n=12, id=4242)),
            line("192.0.2.5", third, "/rss.xml", FEEDBIN.format(n=7, id=99)),
            line("192.0.2.6", third, "/feed.json", BLOGLOVIN.format(n=1)),
            line("192.0.2.7", third, "/rss.xml", UNKNOWN.format(n=4)),
            line("203.0.113.10", third, "/rss.xml", MINIFLUX),
            line("203.0.113.10", third, "/rss.xml", MINIFLUX),  # the same fetcher again
            line("203.0.113.10", third, "/rss.xml", FIREFOX),  # another client, same address
            line("203.0.113.11", third, "/tags/sport/atom.xml", MINIFLUX),
            line("198.51.100.9", third, "/issues/1/index.html", FIREFOX),
            line("198.51.100.10", third, "/issues/2/", SAFARI),
            line("66.249.66.1", third, "/issues/2/", GOOGLEBOT),
            line("198.51.100.11", third, "/issues/2/", SAFARI, status=404),
            line("198.51.100.11", third, "/issues/2/", SAFARI, method="POST"),
            line("198.51.100.12", third, "/rss.xml", FEEDLY.format(n=999), status=500),
            line("198.51.100.12", third, "/not-a-feed.xml", FEEDLY.format(n=999)),
            # A figure too large to be a reader's, a forged one with terminal escapes.
            line("198.51.100.13", third, "/atom.xml", "Feedly/1.0 (99999999999 subscribers)"),
            line("198.51.100.14", third, "/atom.xml", "\x1b[31mEvil\x1b[0m 5 subscribers"),
        ]
    ) + "".join(HOSTILE)


# Each is skipped and counted.
HOSTILE = [
    "\n",
    "garbage\n",
    "\x00\x01\x02 binary \xff\n",
    '192.0.2.1 - - [32/Foo/2026:99:00:00 +0100] "GET /rss.xml HTTP/1.1" 200 1 "-" "x"\n',
    '192.0.2.1 - - [27/Nov/2026:10:00:00 +9999] "GET /rss.xml HTTP/1.1" 200 1 "-" "x"\n',
    '192.0.2.1 - - [27/Nov/2026:10:00:00 +0100] "GET" 200 1 "-" "x"\n',
    '192.0.2.1 - - [27/Nov/2026:10:00:00 +0100] "\\x16\\x03\\x01" 400 1 "-" "-"\n',
    line("192.0.2.1", DAY, "/" + "a" * (MAX_LINE + 10), FEEDLY.format(n=1)),
    line("192.0.2.1", DAY, "relative/rss.xml", FEEDLY.format(n=1)),
    "x" * (MAX_LINE * 70) + "\n",  # a megabyte in one line
]


@pytest.fixture
def site(make_site: MakeSite) -> Path:
    return make_site()


@pytest.fixture
def logs(tmp_path: Path) -> list[Path]:
    """The current log plain, the rotated one compressed, named newest first."""
    current = tmp_path / "access.log"
    current.write_text(newer_log(), encoding="utf-8", newline="")
    rotated = tmp_path / "access.log.1.gz"
    rotated.write_bytes(gzip.compress(older_log().encode()))
    return [current, rotated]


def test_the_figures_of_a_generated_log(site: Path, logs: list[Path]) -> None:
    stats = read_logs(load(site), logs)
    feeds = {feed.path: feed for feed in stats.feeds}
    assert list(feeds) == ["/atom.xml", "/feed.json", "/rss.xml", "/tags/sport/atom.xml"]
    # The latest figure of each reader, whatever order the files came in; The Old Reader's two
    # feed ids are two sets of its subscribers.
    assert feeds["/rss.xml"].subscribers == {
        "Feedly": 131,
        "NewsBlur": 12,
        "Inoreader": 9,
        "Feedbin": 7,
        "other readers": 4,
    }
    assert feeds["/rss.xml"].total == 163
    assert feeds["/atom.xml"].subscribers == {"The Old Reader": 5, "other readers": 5}
    assert feeds["/feed.json"].subscribers == {"Bloglovin'": 1}
    assert feeds["/tags/sport/atom.xml"].subscribers == {}
    # Distinct fetchers a day: by address and client together.
    assert feeds["/rss.xml"].daily_fetchers == {
        "2026-11-27": 2,
        "2026-11-28": 1,
        "2026-11-29": 6,
    }
    assert feeds["/tags/sport/atom.xml"].daily_fetchers == {"2026-11-29": 1}
    # Views: browsers only, a reload is a view but not another viewer; bots, 404s, POSTs none.
    assert [(i.number, i.views, i.viewers) for i in stats.issues] == [(1, 3, 2), (2, 1, 1)]
    assert stats.robot_views == 1
    assert stats.lines == 7 + 18 + len(HOSTILE)
    assert stats.skipped == len(HOSTILE)
    assert stats.first == DAY
    assert stats.last == DAY + timedelta(days=2)


def test_plain_and_gzip_give_the_same_figures(site: Path, logs: list[Path], tmp_path: Path) -> None:
    both = tmp_path / "both.log"
    both.write_bytes(logs[0].read_bytes() + gzip.decompress(logs[1].read_bytes()))
    zipped = tmp_path / "both.log.gz"  # named .gz, and one without the suffix: read by content
    zipped.write_bytes(gzip.compress(both.read_bytes()))
    unnamed = tmp_path / "both-compressed"
    unnamed.write_bytes(zipped.read_bytes())
    expected = read_logs(load(site), logs)
    for files in ([both], [zipped], [unnamed], list(reversed(logs))):
        got = read_logs(load(site), files)
        assert (got.feeds, got.issues, got.lines, got.skipped) == (
            expected.feeds,
            expected.issues,
            expected.lines,
            expected.skipped,
        ), files


def test_a_day_is_the_sites_day(site: Path, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    late = datetime(2026, 11, 27, 23, 30, tzinfo=TZ)  # the 27th in Berlin, and in UTC
    after = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)  # the 27th in UTC, the 28th in Berlin
    log.write_text(
        line("192.0.2.1", late, "/rss.xml", MINIFLUX)
        + line("192.0.2.2", after, "/rss.xml", MINIFLUX)
    )
    feed = read_logs(load(site), [log]).feeds[0]
    assert feed.daily_fetchers == {"2026-11-27": 1, "2026-11-28": 1}


def test_a_site_under_a_path_counts_only_its_own(make_site: MakeSite, tmp_path: Path) -> None:
    root = make_site()
    toml = root / "feedpub.toml"
    toml.write_text(
        toml.read_text().replace('"https://news.example.org/"', '"https://example.org/paper/"')
    )
    log = tmp_path / "access.log"
    log.write_text(
        line("192.0.2.1", DAY, "/paper/rss.xml", FEEDLY.format(n=5))
        + line("192.0.2.1", DAY, "/rss.xml", INOREADER.format(n=5))  # another site's
        + line("192.0.2.1", DAY, "/paper/../rss.xml", INOREADER.format(n=6))  # out of it
        + line("192.0.2.2", DAY, "/paper/issues/3/?utm=x", FIREFOX)
        + line("192.0.2.2", DAY, "/paper//tags/x/rss.xml", FEEDLY.format(n=2))
    )
    stats = read_logs(load(root), [log])
    assert stats.skipped == 0  # another site's lines are not skipped as malformed
    assert stats.outside == 2
    assert {f.path: f.subscribers for f in stats.feeds} == {
        "/paper/rss.xml": {"Feedly": 5},
        "/paper/tags/x/rss.xml": {"Feedly": 2},
    }
    assert [(i.number, i.views) for i in stats.issues] == [(3, 1)]


def test_the_command_prints_counts_and_nobody(
    runner: CliRunner, site: Path, logs: list[Path]
) -> None:
    args = [a for log in logs for a in ("--access-log", log)]
    result = invoke(runner, "--site", site, "stats", *args)
    assert_clean_exit(result, 0)
    assert result.stderr == ""
    assert result.stdout == (
        "Read 2 files: 35 lines from 2026-11-27 10:00 CET to 2026-11-29 10:00 CET; 10 skipped "
        "(not the combined log format, or over 16 KB)\n"
        "Feed subscribers, as feed readers state them (the latest figure of each):\n"
        "  /atom.xml: 10 (The Old Reader 5, other readers 5)\n"
        "  /feed.json: 1 (Bloglovin' 1)\n"
        "  /rss.xml: 163 (Feedly 131, NewsBlur 12, Inoreader 9, Feedbin 7, other readers 4)\n"
        "Distinct fetchers of each feed a day (by address and client, none kept):\n"
        "  /atom.xml: 2 on 2026-11-29; 2 days: median 2, fewest 2, most 2\n"
        "  /feed.json: 1 on 2026-11-29\n"
        "  /rss.xml: 6 on 2026-11-29; 3 days: median 2, fewest 1, most 6\n"
        "  /tags/sport/atom.xml: 1 on 2026-11-29\n"
        "Views of each issue's web version (browsers, not robots; viewers a day):\n"
        "  issue 1: 3 views, 2 viewers\n"
        "  issue 2: 1 view, 1 viewer\n"
    )
    as_json = invoke(runner, "--site", site, "stats", *args, "--json")
    assert_clean_exit(as_json, 0)
    data = json.loads(as_json.stdout)
    assert data["feeds"]["/rss.xml"]["subscribers_total"] == 163
    assert data["feeds"]["/rss.xml"]["daily_fetchers"]["2026-11-29"] == 6
    assert data["issues"] == {"1": {"views": 3, "viewers": 2}, "2": {"views": 1, "viewers": 1}}
    assert (data["lines"], data["skipped"], data["robot_views"]) == (35, 10, 1)
    # No person's address or client is in either output, nor the log's escapes.
    for output in (result.stdout, as_json.stdout):
        for text in ("192.0.2", "198.51.100", "203.0.113", "66.249", "Firefox", "Evil", "\x1b"):
            assert text not in output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            lambda: gzip.compress(older_log().encode())[:-30],
            "its gzip data is cut short or damaged",
        ),
        (lambda: b"\x1f\x8b" + b"\x00" * 50, "its gzip data is cut short or damaged"),
    ],
    ids=["gzip-cut-short", "gzip-damaged"],
)
def test_a_damaged_gzip_log_is_a_clear_error(
    runner: CliRunner, site: Path, tmp_path: Path, content: object, message: str
) -> None:
    log = tmp_path / "access.log.2.gz"
    assert callable(content)
    log.write_bytes(content())
    result = invoke(runner, "--site", site, "stats", "--access-log", log)
    assert_clean_exit(result, 1)
    assert result.stderr.startswith(f"Error: {log}: {message} after line ")
    assert result.stderr.count("\n") == 1


def test_a_log_that_is_not_there_or_a_folder(runner: CliRunner, site: Path, tmp_path: Path) -> None:
    missing = invoke(runner, "--site", site, "stats", "--access-log", tmp_path / "nope.log")
    assert_clean_exit(missing, 1)
    assert missing.stderr.startswith(f"Error: cannot read the access log: {tmp_path / 'nope.log'}")
    folder = invoke(runner, "--site", site, "stats", "--access-log", tmp_path)
    assert_clean_exit(folder, 1)
    assert folder.stderr == (
        f"Error: {tmp_path} is a folder; name the log files (e.g. {tmp_path}/access.log*)\n"
    )
    usage = invoke(runner, "--site", site, "stats")
    assert_clean_exit(usage, 2)
    assert "Missing option '--access-log'" in usage.stderr


def test_an_empty_log(runner: CliRunner, site: Path, tmp_path: Path) -> None:
    log = tmp_path / "empty.log"
    log.write_bytes(b"")
    result = invoke(runner, "--site", site, "stats", "--access-log", log)
    assert_clean_exit(result, 0)
    assert result.stdout == (
        "Read 1 file: 0 lines\n"
        "No feed was fetched and no issue's web version viewed in these logs.\n"
    )
    with pytest.raises(StatsError, match="name at least one access log"):
        read_logs(load(site), [])


@pytest.mark.parametrize(
    ("agent", "figure"),
    [
        (FEEDLY.format(n=16), ("Feedly", "", 16)),
        (INOREADER.format(n=1), ("Inoreader", "", 1)),
        (NEWSBLUR.format(n=1, id=77), ("NewsBlur", "77", 1)),
        (OLD_READER.format(n=3, id="xyz"), ("The Old Reader", "xyz", 3)),
        (
            FEEDBIN.format(n=1, id=12345).replace("subscribers", "subscriber"),
            ("Feedbin", "12345", 1),
        ),
        (BLOGLOVIN.format(n=23), ("Bloglovin'", "", 23)),
        (MINIFLUX, None),
        (FIREFOX, None),
        ("Feedly/1.0 (123456789012345 subscribers)", None),
    ],
    ids=[
        "feedly",
        "inoreader",
        "newsblur",
        "old-reader",
        "feedbin",
        "bloglovin",
        "miniflux",
        "browser",
        "implausible",
    ],
)
def test_what_each_reader_states(agent: str, figure: tuple[str, str, int] | None) -> None:
    assert reader_figure(agent) == figure


def test_log_times_are_read_whatever_the_locale() -> None:
    assert parse_time("27/Nov/2026:10:00:00 +0100") == DAY
    assert parse_time("27/nov/2026:10:00:00 -0830") is not None
    for bad in ("27/Nov/2026:10:00:00", "31/Feb/2026:10:00:00 +0000", "27/Nov/2026:25:00:00 +0000"):
        assert parse_time(bad) is None


@given(st.binary(max_size=400))
def test_any_bytes_are_a_request_or_skipped(data: bytes) -> None:
    hit = parse_line(data, "/")
    assert hit is None or hit.moment.tzinfo is not None


@given(st.text(max_size=200))
def test_any_request_line_text_is_a_request_or_skipped(text: str) -> None:
    raw = f'192.0.2.1 - - [27/Nov/2026:10:00:00 +0100] "{text}" 200 1 "-" "{text}"'
    hit = parse_line(raw.encode("utf-8", "surrogatepass"), "/paper/")
    assert hit is None or hit.path is None or not hit.path.startswith("/")


@given(st.lists(st.binary(max_size=300).map(lambda b: b.replace(b"\n", b"")), max_size=30))
def test_any_log_is_read_and_every_line_counted(lines: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "feedpub.toml").write_text(SETTINGS, encoding="utf-8")
        log = root / "access.log"
        log.write_bytes(b"".join(line + b"\n" for line in lines))
        stats = read_logs(load(root), [log])
    assert stats.lines == len(lines)
    assert 0 <= stats.skipped <= len(lines)


def test_a_log_of_another_address_says_so(runner: CliRunner, site: Path, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(line("192.0.2.1", DAY, "/rss.xml", FEEDLY.format(n=5)))
    toml = site / "feedpub.toml"
    toml.write_text(
        toml.read_text().replace('"https://news.example.org/"', '"https://example.org/paper/"')
    )
    result = invoke(runner, "--site", site, "stats", "--access-log", log)
    assert_clean_exit(result, 0)
    assert result.stdout.endswith(
        "No feed was fetched and no issue's web version viewed in these logs.\n"
        "1 request was for paths outside the site's own, /paper/ ([site] url): is that the "
        "address the site is served at?\n"
    )
