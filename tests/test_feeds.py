"""Every feed a build writes: it parses, it passes the checks the W3C Feed Validation Service
makes, and it says exactly what the articles say, whatever they contain.

The validator itself is not reachable from the tests, so its checks are written out here as
assertions: check_rss(), check_atom() and check_json() read one document each, assert every
rule, and return what the feed says, for the tests to compare with the articles.
"""

from __future__ import annotations

import json
import re
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import feedparser
import lxml.html
import pytest
from golden_site import build_example
from helpers import (
    ATOM,
    NOW,
    SETTINGS,
    SITE_URL,
    TZ,
    MakeSite,
    article,
    examples,
    load,
    publish,
    write_articles,
)
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from lxml import etree

from feedpub.config import FEED_FILES
from feedpub.errors import ArticleError
from feedpub.text import _NOT_XML, xml_safe

CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
RFC822 = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} "
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}"
)
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")
# An id is a URI (urn:uuid:..., tag:..., https://...): a scheme, a colon, no spaces.
URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")
# The ids feedpub derives for articles without one: name-based (version 5) UUIDs.
DERIVED_ID = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}")
TRICKY = 'Tom & Jerry <3 "quotes"'
FORMATS = ("rss", "atom", "json")


# --- reading and validating one feed document ------------------------------------------------


@dataclass(frozen=True)
class Item:
    id: str
    title: str
    link: str
    published: datetime
    authors: tuple[str, ...]
    tags: tuple[str, ...]
    content: str | None  # the full HTML, None when the feed carries summaries only
    summary: str | None


@dataclass(frozen=True)
class Feed:
    title: str
    updated: datetime | None  # RSS lastBuildDate / Atom updated; JSON Feed has none
    items: tuple[Item, ...]

    @property
    def titles(self) -> list[str]:
        return [item.title for item in self.items]


def feed_url(folder: str, name: str, base: str = SITE_URL) -> str:
    """Where a feed file is served: its path in the output, percent-encoded."""
    return base + "/".join(quote(part, safe="") for part in [*folder.split("/"), name] if part)


def home_url(folder: str, base: str = SITE_URL) -> str:
    return feed_url(folder, "", base) + ("/" if folder else "")


def assert_absolute(url: str | None, where: str) -> None:
    assert url, f"{where}: no URL"
    parts = urlsplit(url)
    assert parts.scheme in {"http", "https"} and parts.netloc, f"{where}: {url!r} is not absolute"


def assert_absolute_links(fragment: str | None, where: str) -> None:
    """Every href, src and poster in an HTML fragment is an absolute http(s) URL."""
    if not fragment or not fragment.strip():
        return
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    for element in root.iter():
        for attribute in ("href", "src", "poster"):
            value = element.get(attribute)
            if value is not None:
                assert_absolute(value, f"{where} <{element.tag!s} {attribute}>")


def assert_feedparser_happy(data: bytes) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def assert_unique_ids(items: list[Item], where: str) -> None:
    ids = [item.id for item in items]
    assert len(ids) == len(set(ids)), f"{where}: duplicate ids {ids}"


def rfc822(text: str | None, where: str) -> datetime:
    assert text is not None and RFC822.fullmatch(text), f"{where}: {text!r} is not RFC 822"
    value = parsedate_to_datetime(text)
    assert text[:3] == DAYS[value.weekday()], f"{where}: {text!r} has the wrong weekday"
    return value


def rfc3339(text: str | None, where: str) -> datetime:
    assert text is not None and RFC3339.fullmatch(text), f"{where}: {text!r} is not RFC 3339"
    return datetime.fromisoformat(text)


def check_rss(data: bytes, folder: str, base: str = SITE_URL) -> Feed:
    where = f"{folder or '.'}/rss.xml"
    root = etree.fromstring(data)
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    assert channel is not None
    title = channel.findtext("title")
    assert title, where
    assert channel.findtext("description"), where
    # The channel link is the page the feed stands for; the self link is the feed itself.
    assert channel.findtext("link") == home_url(folder, base), where
    selves = [link.get("href") for link in channel.iter(f"{ATOM}link") if link.get("rel") == "self"]
    assert selves == [feed_url(folder, "rss.xml", base)], where
    updated = channel.findtext("lastBuildDate")
    items = []
    for element in channel.findall("item"):
        guid = element.find("guid")
        assert guid is not None and guid.text, where
        # Ids are URNs and URIs, not the article's address.
        assert guid.get("isPermaLink") == "false", f"{where}: {guid.text}"
        assert URI.fullmatch(guid.text), f"{where}: {guid.text}"
        item_title = element.findtext("title")
        assert item_title, f"{where}: {guid.text} has no title"
        link = element.findtext("link")
        assert_absolute(link, f"{where} {guid.text} <link>")
        description = element.findtext("description")
        content = element.findtext(CONTENT_ENCODED)
        assert_absolute_links(description, f"{where} {guid.text} <description>")
        assert_absolute_links(content, f"{where} {guid.text} <content:encoded>")
        items.append(
            Item(
                id=guid.text,
                title=item_title,
                link=link or "",
                published=rfc822(element.findtext("pubDate"), f"{where} {guid.text} <pubDate>"),
                authors=tuple(e.text or "" for e in element.findall(DC_CREATOR)),
                tags=tuple(e.text or "" for e in element.findall("category")),
                content=content,
                summary=description,
            )
        )
    assert_unique_ids(items, where)
    assert_feedparser_happy(data)
    return Feed(
        title, rfc822(updated, f"{where} <lastBuildDate>") if updated else None, tuple(items)
    )


def _alternates(element: etree._Element) -> list[str | None]:
    # A link without rel is an alternate link (RFC 4287, 4.2.7.2).
    return [
        link.get("href")
        for link in element.findall(f"{ATOM}link")
        if link.get("rel", "alternate") == "alternate"
    ]


def check_atom(data: bytes, folder: str, base: str = SITE_URL) -> Feed:
    where = f"{folder or '.'}/atom.xml"
    root = etree.fromstring(data)
    assert root.tag == f"{ATOM}feed"
    feed_id = root.findtext(f"{ATOM}id")
    assert feed_id and URI.fullmatch(feed_id), where
    title = root.findtext(f"{ATOM}title")
    assert title, where
    updated = rfc3339(root.findtext(f"{ATOM}updated"), f"{where} <updated>")
    # A feed-level author: then no entry needs one of its own.
    assert root.findtext(f"{ATOM}author/{ATOM}name"), where
    selves = [link.get("href") for link in root.findall(f"{ATOM}link") if link.get("rel") == "self"]
    assert selves == [feed_url(folder, "atom.xml", base)], where
    assert _alternates(root) == [home_url(folder, base)], where
    items = []
    for entry in root.findall(f"{ATOM}entry"):
        entry_id = entry.findtext(f"{ATOM}id")
        assert entry_id and URI.fullmatch(entry_id), where
        entry_title = entry.findtext(f"{ATOM}title")
        assert entry_title, f"{where}: {entry_id} has no title"
        entry_updated = rfc3339(entry.findtext(f"{ATOM}updated"), f"{where} {entry_id} <updated>")
        published = rfc3339(entry.findtext(f"{ATOM}published"), f"{where} {entry_id} <published>")
        assert published <= entry_updated <= updated, f"{where}: {entry_id}"
        alternates = _alternates(entry)
        assert len(alternates) == 1, f"{where}: {entry_id} links {alternates}"
        assert_absolute(alternates[0], f"{where} {entry_id} <link>")
        content = entry.find(f"{ATOM}content")
        if content is not None:
            assert content.get("type") == "html", where
        summary = entry.findtext(f"{ATOM}summary")
        html = content.text if content is not None else None
        assert_absolute_links(html, f"{where} {entry_id} <content>")
        assert_absolute_links(summary, f"{where} {entry_id} <summary>")
        items.append(
            Item(
                id=entry_id,
                title=entry_title,
                link=alternates[0] or "",
                published=published,
                authors=tuple(e.text or "" for e in entry.findall(f"{ATOM}author/{ATOM}name")),
                tags=tuple(e.get("term") or "" for e in entry.findall(f"{ATOM}category")),
                content=html,
                summary=summary,
            )
        )
        assert entry_updated <= updated
    assert_unique_ids(items, where)
    assert_feedparser_happy(data)
    return Feed(title, updated, tuple(items))


def check_json(data: bytes, folder: str, base: str = SITE_URL) -> Feed:
    where = f"{folder or '.'}/feed.json"
    document = json.loads(data.decode("utf-8"))
    assert document["version"] == JSON_FEED_VERSION, where
    assert document["title"], where
    assert document["home_page_url"] == home_url(folder, base), where
    assert document["feed_url"] == feed_url(folder, "feed.json", base), where
    items = []
    for entry in document["items"]:
        assert isinstance(entry["id"], str) and URI.fullmatch(entry["id"]), where
        assert entry["title"], f"{where}: {entry['id']}"
        assert_absolute(entry["url"], f"{where} {entry['id']} url")
        content = entry.get("content_html")
        assert content is not None or "content_text" in entry, f"{where}: {entry['id']}"
        assert_absolute_links(content, f"{where} {entry['id']} content_html")
        items.append(
            Item(
                id=entry["id"],
                title=entry["title"],
                link=entry["url"],
                published=rfc3339(entry["date_published"], f"{where} {entry['id']} date_published"),
                authors=tuple(a["name"] for a in entry.get("authors", [])),
                tags=tuple(entry.get("tags", [])),
                content=content,
                summary=entry.get("summary"),
            )
        )
    assert_unique_ids(items, where)
    return Feed(document["title"], None, tuple(items))


CHECKS: dict[str, tuple[str, Callable[[bytes, str, str], Feed]]] = {
    "rss": ("rss.xml", check_rss),
    "atom": ("atom.xml", check_atom),
    "json": ("feed.json", check_json),
}


def read_feed(output: Path, folder: str, kind: str, base: str = SITE_URL) -> Feed:
    name, check = CHECKS[kind]
    return check((output / folder / name).read_bytes(), folder, base)


def feed_folders(output: Path) -> list[str]:
    """The folders holding a feed: "" for the main feeds, then tags/... and authors/..."""
    found = sorted(p.parent.relative_to(output).as_posix() for p in output.glob("*/*/rss.xml"))
    for folder in ["", *found]:
        assert all((output / folder / name).is_file() for name in FEED_FILES), folder
    return ["", *found]


def check_all(output: Path, base: str = SITE_URL) -> dict[tuple[str, str], Feed]:
    """Validate every feed of a build."""
    return {
        (folder, kind): read_feed(output, folder, kind, base)
        for folder in feed_folders(output)
        for kind in FORMATS
    }


def feed_bytes(output: Path) -> dict[str, bytes]:
    return {
        f"{folder}/{name}": (output / folder / name).read_bytes()
        for folder in feed_folders(output)
        for name in FEED_FILES
    }


def all_bytes(output: Path) -> dict[str, bytes]:
    return {
        p.relative_to(output).as_posix(): p.read_bytes()
        for p in sorted(output.rglob("*"))
        if p.is_file()
    }


def write_site(root: Path, articles: dict[str, str | bytes], extra: str = "") -> Path:
    (root / "content").mkdir(parents=True)
    (root / "feedpub.toml").write_text(SETTINGS + extra, encoding="utf-8")
    write_articles(root, articles)
    return root


def build_output(root: Path, now: datetime = NOW) -> Path:
    """Build the site at ``root``; its output folder."""
    publish(root, now)
    return load(root).output_dir


def q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are YAML)."""
    return json.dumps(text, ensure_ascii=False)


# --- a small newsroom: every kind of article, every kind of feed --------------------------------

NEWSROOM: dict[str, str | bytes] = {
    "2026-11-20-tricky.md": article(
        TRICKY,
        "2026-11-20 09:00",
        "See [the other story](../other/).\n\n![a photo](pic.png)",
        author=q(TRICKY),
        tags=f"[{q(TRICKY)}, news]",
    ),
    "makerspace.md": article(
        "Library opens a makerspace",
        "2026-11-10 08:00",
        "Saws and **glue**.",
        updated="2026-11-25 10:00",
        authors='["Zoë Okonkwo", "Ann Lee"]',
        tags='[news, "student life"]',
        id="tag:news.example.org,2026:makerspace",
    ),
    "club-fair.txt": (
        "Title: Thirty-one clubs, one gym\nDate: November 5, 2026\nAuthor: Ann Lee\n"
        "Tags: clubs, student life\n\nThe gym was loud.\n\nThe chess team won.\n"
    ),
    "old.md": article("An old story", "2025-01-15 12:00", "From last year."),
    "draft.md": article(
        "Secret draft",
        "2026-11-01 10:00",
        "Not yet.",
        draft="true",
        author="Ann Lee",
        tags="[news]",
    ),
    "scheduled.md": article(
        "Scheduled post", "2026-12-24 10:00", "Merry.", author="Ann Lee", tags="[news]"
    ),
}
MAKERSPACE = "Library opens a makerspace"
CLUBS = "Thirty-one clubs, one gym"
OLD = "An old story"
# Each feed of the newsroom and its articles, newest first, at NOW.
NEWSROOM_FEEDS = {
    "": [TRICKY, MAKERSPACE, CLUBS, OLD],
    "tags/news": [TRICKY, MAKERSPACE],
    "tags/student-life": [MAKERSPACE, CLUBS],
    "tags/clubs": [CLUBS],
    "tags/tom-jerry-3-quotes": [TRICKY],
    "authors/ann-lee": [MAKERSPACE, CLUBS],
    "authors/desk": [OLD],
    "authors/tom-jerry-3-quotes": [TRICKY],
    "authors/zoë-okonkwo": [MAKERSPACE],
}
FEED_CASES = [(folder, kind) for folder in NEWSROOM_FEEDS for kind in FORMATS]
# ASCII test ids: "authors/zoë-okonkwo" becomes "authors/zoe-okonkwo".
FEED_IDS = [
    unicodedata.normalize("NFKD", f"{folder or 'main'}-{kind}").encode("ascii", "ignore").decode()
    for folder, kind in FEED_CASES
]


@pytest.fixture(scope="module")
def newsroom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_output(write_site(tmp_path_factory.mktemp("newsroom"), NEWSROOM))


def test_newsroom_has_exactly_the_expected_feeds(newsroom: Path) -> None:
    assert feed_folders(newsroom) == sorted(NEWSROOM_FEEDS)


@pytest.mark.parametrize(("folder", "kind"), FEED_CASES, ids=FEED_IDS)
def test_feed_is_valid_and_lists_articles_newest_first(
    newsroom: Path, folder: str, kind: str
) -> None:
    feed = read_feed(newsroom, folder, kind)
    # Drafts and scheduled articles are absent; the rest newest first.
    assert feed.titles == NEWSROOM_FEEDS[folder]
    dates = [item.published for item in feed.items]
    assert dates == sorted(dates, reverse=True)


# What the main feed says of each article: id (None: derived, a urn:uuid), link, date,
# authors, tags.
NEWSROOM_ITEMS = {
    TRICKY: (
        None,
        "2026/11/tricky/",
        datetime(2026, 11, 20, 9, 0, tzinfo=TZ),
        (TRICKY,),
        (TRICKY, "news"),
    ),
    MAKERSPACE: (
        "tag:news.example.org,2026:makerspace",
        "2026/11/makerspace/",
        datetime(2026, 11, 10, 8, 0, tzinfo=TZ),
        ("Zoë Okonkwo", "Ann Lee"),
        ("news", "student life"),
    ),
    CLUBS: (
        None,
        "2026/11/club-fair/",
        datetime(2026, 11, 5, 0, 0, tzinfo=TZ),
        ("Ann Lee",),
        ("clubs", "student life"),
    ),
    # No author: the site's; no tags.
    OLD: (None, "2025/01/old/", datetime(2025, 1, 15, 12, 0, tzinfo=TZ), ("Desk",), ()),
}


@pytest.mark.parametrize("kind", FORMATS)
@pytest.mark.parametrize("title", NEWSROOM_ITEMS, ids=["tricky", "makerspace", "clubs", "old"])
def test_feed_items_carry_the_articles(newsroom: Path, title: str, kind: str) -> None:
    (item,) = [i for i in read_feed(newsroom, "", kind).items if i.title == title]
    feed_id, path, published, authors, tags = NEWSROOM_ITEMS[title]
    if feed_id is None:
        assert DERIVED_ID.fullmatch(item.id), item.id
    else:
        assert item.id == feed_id
    assert item.link == SITE_URL + path
    assert item.published == published
    assert item.authors == authors
    assert item.tags == tags
    assert item.content is not None and item.content.startswith("<p>")


@pytest.mark.parametrize("title", NEWSROOM_ITEMS, ids=["tricky", "makerspace", "clubs", "old"])
def test_an_article_has_one_id_in_every_feed(newsroom: Path, title: str) -> None:
    ids = {
        item.id
        for folder, kind in FEED_CASES
        for item in read_feed(newsroom, folder, kind).items
        if item.title == title
    }
    assert len(ids) == 1


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        # The makerspace story was updated on the 25th: the newest change of the main feed.
        ("", datetime(2026, 11, 25, 10, 0, tzinfo=TZ)),
        ("tags/tom-jerry-3-quotes", datetime(2026, 11, 20, 9, 0, tzinfo=TZ)),
        ("tags/clubs", datetime(2026, 11, 5, 0, 0, tzinfo=TZ)),
        ("authors/desk", datetime(2025, 1, 15, 12, 0, tzinfo=TZ)),
    ],
    ids=["main", "tag", "plain-text", "author"],
)
@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_feed_updated_is_its_newest_article(
    newsroom: Path, folder: str, expected: datetime, kind: str
) -> None:
    assert read_feed(newsroom, folder, kind).updated == expected


def test_rss_channel_link_is_the_home_page_and_self_link_the_feed(newsroom: Path) -> None:
    root = etree.fromstring((newsroom / "authors/zoë-okonkwo/rss.xml").read_bytes())
    assert root.findtext("channel/link") == SITE_URL + "authors/zo%C3%AB-okonkwo/"
    self_link = root.find(f"channel/{ATOM}link")
    assert self_link is not None
    assert self_link.get("href") == SITE_URL + "authors/zo%C3%AB-okonkwo/rss.xml"


def test_example_site_feeds_are_valid(tmp_path: Path) -> None:
    build_example(tmp_path)
    site = load(tmp_path / "example")
    feeds = check_all(site.output_dir, site.site.url)
    assert len(feeds) == 3 * 14  # main, 5 tags, 8 authors
    assert feeds[("", "rss")].titles == feeds[("", "atom")].titles == feeds[("", "json")].titles
    assert len(feeds[("", "rss")].items) == 6
    assert all(feed.items for feed in feeds.values())


# --- what gets published, and that it is the same every time ------------------------------------


def dated(day: int) -> str:
    return article(f"Story {day}", f"2026-11-{day:02d} 09:00", f"Day {day}.", tags="[news]")


@pytest.mark.parametrize("kind", FORMATS)
@pytest.mark.parametrize("folder", ["", "tags/news", "authors/desk"], ids=["main", "tag", "author"])
def test_feeds_hold_at_most_limit_items(make_site: MakeSite, kind: str, folder: str) -> None:
    root = make_site(
        {f"{day}.md": dated(day) for day in range(1, 6)}, extra="\n[feeds]\nlimit = 3\n"
    )
    feed = read_feed(build_output(root), folder, kind)
    assert feed.titles == ["Story 5", "Story 4", "Story 3"]


@pytest.mark.parametrize("kind", FORMATS)
def test_scheduled_article_appears_once_due(make_site: MakeSite, kind: str) -> None:
    root = make_site(
        {
            "now.md": dated(20),
            "later.md": article("Later", "2026-12-24 10:00", "Soon.", tags="[news]"),
        }
    )
    assert read_feed(build_output(root), "tags/news", kind).titles == ["Story 20"]
    output = build_output(root, datetime(2026, 12, 24, 10, 0, tzinfo=TZ))
    assert read_feed(output, "", kind).titles == ["Later", "Story 20"]
    assert read_feed(output, "tags/news", kind).titles == ["Later", "Story 20"]


def test_building_twice_gives_identical_files(make_site: MakeSite) -> None:
    root = make_site(NEWSROOM)
    first = all_bytes(build_output(root))
    assert len(first) > 3 * len(NEWSROOM_FEEDS)  # the feeds and the pages
    assert all_bytes(build_output(root)) == first


@pytest.mark.parametrize(
    "later",
    [timedelta(seconds=1), timedelta(days=3), timedelta(days=26)],
    ids=["a-second", "three-days", "just-before-the-scheduled-one"],
)
def test_feeds_do_not_depend_on_the_clock(make_site: MakeSite, later: timedelta) -> None:
    # Same published set, another "now": the feeds must not change by a byte.
    root = make_site(NEWSROOM)
    first = feed_bytes(build_output(root))
    assert feed_bytes(build_output(root, NOW + later)) == first


def test_feed_updated_without_updates_is_newest_date(make_site: MakeSite) -> None:
    output = build_output(make_site({"a.md": dated(3), "b.md": dated(9), "c.md": dated(6)}))
    newest = datetime(2026, 11, 9, 9, 0, tzinfo=TZ)
    assert read_feed(output, "", "rss").updated == newest
    assert read_feed(output, "", "atom").updated == newest


# --- text that must come through exactly -------------------------------------------------------


@pytest.mark.parametrize(
    "folder",
    ["", "tags/tom-jerry-3-quotes", "authors/tom-jerry-3-quotes"],
    ids=["main", "tag", "author"],
)
@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_special_characters_survive_feedparser(newsroom: Path, folder: str, kind: str) -> None:
    name = CHECKS[kind][0]
    parsed = assert_feedparser_happy((newsroom / folder / name).read_bytes())
    entry = next(e for e in parsed.entries if e.title == TRICKY)
    assert [t["term"] for t in entry.tags] == [TRICKY, "news"]
    assert [a["name"] for a in entry.authors] == [TRICKY]
    if folder:
        assert parsed.feed.title == f"Test Gazette: {TRICKY}"


@pytest.mark.parametrize(
    "folder",
    ["", "tags/tom-jerry-3-quotes", "authors/tom-jerry-3-quotes"],
    ids=["main", "tag", "author"],
)
def test_special_characters_survive_json(newsroom: Path, folder: str) -> None:
    document = json.loads((newsroom / folder / "feed.json").read_bytes())
    item = next(i for i in document["items"] if i["title"] == TRICKY)
    assert item["tags"] == [TRICKY, "news"]
    assert item["authors"] == [{"name": TRICKY}]
    if folder:
        assert document["title"] == f"Test Gazette: {TRICKY}"


@dataclass(frozen=True)
class Hostile:
    """An article file holding something feeds choke on, and the title it must come out with."""

    title_yaml: str  # the title, author, first tag and summary as written in the front matter
    body: str
    title: str
    prefix: bytes = b""
    crlf: bool = False
    raw: tuple[tuple[str, bytes], ...] = ()  # placeholders in the text replaced by raw bytes

    def file(self) -> bytes:
        text = (
            f"---\ntitle: {self.title_yaml}\ndate: 2026-11-20 09:00\n"
            f"author: {self.title_yaml}\ntags: [{self.title_yaml}, hostile]\n"
            f"summary: {self.title_yaml}\n---\n\n{self.body}\n"
        )
        if self.crlf:
            text = text.replace("\n", "\r\n")
        data = self.prefix + text.encode("utf-8")
        for placeholder, raw in self.raw:
            data = data.replace(placeholder.encode("utf-8"), raw)
        return data


HOSTILE = {
    "control-characters": Hostile(
        '"Bell\x07 rings\x01\x1b here\x7f"',
        "Null\x00 vertical\x0b form\x0c escape\x1b C1\x85\x9f end.",
        "Bell rings here",
    ),
    "yaml-escaped-controls": Hostile(
        r'"Bell\a rings\x01 here\e"',
        # Markdown turns the character reference into a form feed.
        "form&#12;feed in Markdown\n\n<p>raw &#12; HTML</p>",
        "Bell rings here",
    ),
    "cdata-end": Hostile(
        '"Ends ]]> here"',
        "Text ]]> more\n\n```\n]]>\n```\n\n<![CDATA[ x ]]>",
        "Ends ]]> here",
    ),
    "byte-order-marks": Hostile(
        '"\ufeffMarked \ufeffwords"',
        "\ufeffBody \ufeff text.",
        "\ufeffMarked \ufeffwords",
        prefix=b"\xef\xbb\xbf",
    ),
    "crlf": Hostile(
        '"Windows line ends"',
        "One\ntwo.\n\nThree\rfour.",
        "Windows line ends",
        crlf=True,
    ),
    "invalid-utf-8": Hostile(
        '"Caf@E9@ au lait @FF@"',
        "Bad @C328@ bytes @EDA080@ here.",
        "Café au lait ÿ",
        raw=(
            ("@E9@", b"\xe9"),
            ("@FF@", b"\xff"),
            ("@C328@", b"\xc3\x28"),
            ("@EDA080@", b"\xed\xa0\x80"),
        ),
    ),
    "right-to-left": Hostile(
        '"مرحبا \u202eevil\u202c שלום"',
        "نص عربي \u200f and עברית.",
        "مرحبا \u202eevil\u202c שלום",
    ),
    "astral-emoji": Hostile(
        '"Party 🎉 𝄞 𠀀 time"',
        "Cake 🎂🏳️‍🌈 and \U0001d54f (double-struck X).",
        "Party 🎉 𝄞 𠀀 time",
    ),
    "script": Hostile(
        "\"<script>alert('x')</script> News\"",
        "<script>alert('x')</script>\n\n<b onmouseover=\"alert(1)\">hi</b>",
        "<script>alert('x')</script> News",
    ),
    "everything": Hostile(
        '"\x01]]>\ufeff<script>مرحبا🎉 @FF@"',
        "\x00]]>\ufeff\r<script>x</script> @C328@ 🎉",
        "]]>\ufeff<script>مرحبا🎉 ÿ",
        prefix=b"\xef\xbb\xbf",
        crlf=True,
        raw=(("@FF@", b"\xff"), ("@C328@", b"\xc3\x28")),
    ),
}


@pytest.mark.parametrize("case", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_article_gives_well_formed_feeds(make_site: MakeSite, case: Hostile) -> None:
    output = build_output(make_site({"hostile.md": case.file()}))
    feeds = check_all(output)
    # Main, the 'hostile' tag, and the title's own tag and author (when it makes a slug).
    assert len(feeds) >= 3 * 2
    for (folder, kind), feed in feeds.items():
        assert feed.titles == [case.title], f"{folder}/{kind}"
    for folder in feed_folders(output):
        for name in ("rss.xml", "atom.xml"):
            parsed = assert_feedparser_happy((output / folder / name).read_bytes())
            assert [e.title for e in parsed.entries] == [case.title], f"{folder}/{name}"
            assert parsed.entries[0].tags[0]["term"] == case.title


# --- links and content --------------------------------------------------------------------------

ARTICLE_URL = SITE_URL + "2026/11/hello/"
LINKS = {
    "parent-folder": ("[x](../other/)", SITE_URL + "2026/11/other/"),
    "image": ("![a](pic.png)", ARTICLE_URL + "pic.png"),
    "site-root": ("[r](/about/)", SITE_URL + "about/"),
    "fragment": ("[f](#top)", ARTICLE_URL + "#top"),
    "query": ("[q](?page=2)", ARTICLE_URL + "?page=2"),
    "scheme-relative": ("![c](//cdn.example.net/x.png)", "https://cdn.example.net/x.png"),
    "absolute": ("[a](https://other.example/x)", "https://other.example/x"),
    "space": ("[s](<with space.html>)", ARTICLE_URL + "with%20space.html"),
    "ampersand": ("[m](page?a=1&b=2)", ARTICLE_URL + "page?a=1&b=2"),
    "html-single-quotes": ("<a href='single.html'>s</a>", ARTICLE_URL + "single.html"),
    "html-unquoted": ("<a href=unquoted.html>u</a>", ARTICLE_URL + "unquoted.html"),
    "html-upper-case": ('<IMG SRC="upper.png">', ARTICLE_URL + "upper.png"),
    "html-video-poster": ('<video poster="poster.jpg"></video>', ARTICLE_URL + "poster.jpg"),
    # The second URL attribute of one tag.
    "html-src-then-poster": (
        '<video src="clip.mp4" poster="still.jpg"></video>',
        ARTICLE_URL + "still.jpg",
    ),
}


def html_urls(fragment: str) -> set[str]:
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    return {
        value
        for element in root.iter()
        for attribute in ("href", "src", "poster")
        if (value := element.get(attribute)) is not None
    }


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    body = "\n\n".join(markdown for markdown, _ in LINKS.values())
    root = write_site(
        tmp_path_factory.mktemp("links"), {"hello.md": article("Hello", "2026-11-20 09:00", body)}
    )
    return build_output(root)


@pytest.mark.parametrize("kind", FORMATS)
@pytest.mark.parametrize(("markdown", "expected"), LINKS.values(), ids=LINKS.keys())
def test_relative_links_become_absolute(
    linked: Path, kind: str, markdown: str, expected: str
) -> None:
    (item,) = read_feed(linked, "", kind).items  # the checks assert that no URL is relative
    assert item.link == ARTICLE_URL
    assert item.content is not None
    assert expected in html_urls(item.content)


def test_summary_only_feeds(make_site: MakeSite) -> None:
    root = make_site(
        {
            "a.md": article(
                "Hello", body="First paragraph here.\n\nSecond [one](../x/).", tags="[news]"
            ),
            "b.md": article("With summary", "2026-11-21 09:00", "Body.", summary="Told short."),
        },
        extra="\n[feeds]\nfull_content = false\n",
    )
    output = build_output(root)
    for folder in ("", "tags/news"):
        rss = etree.fromstring((output / folder / "rss.xml").read_bytes())
        assert rss.find(f".//{CONTENT_ENCODED}") is None
        atom = etree.fromstring((output / folder / "atom.xml").read_bytes())
        assert atom.find(f".//{ATOM}content") is None
        assert [i.content for i in read_feed(output, folder, "json").items] == [None] * len(
            rss.findall(".//item")
        )
    summaries = {
        kind: [item.summary for item in read_feed(output, "", kind).items] for kind in FORMATS
    }
    assert summaries == {kind: ["Told short.", "First paragraph here."] for kind in FORMATS}
    document = json.loads((output / "feed.json").read_bytes())
    texts = [i["content_text"] for i in document["items"]]
    assert texts == ["Told short.", "First paragraph here."]


def test_full_content_feeds_carry_the_body(newsroom: Path) -> None:
    for kind in FORMATS:
        item = read_feed(newsroom, "", kind).items[0]
        assert item.content is not None, kind
        link = '<a href="https://news.example.org/2026/11/other/">the other story</a>'
        assert link in item.content


@pytest.mark.parametrize(
    "name",
    ["\U00020000" * 100, "é" * 150, "名前" * 60],
    ids=["astral-letters", "two-byte-letters", "cjk"],
)
def test_long_non_ascii_tags_and_authors_get_feeds(make_site: MakeSite, name: str) -> None:
    root = make_site({"a.md": article("Hello", author=q(name), tags=f"[{q(name)}]")})
    feeds = check_all(build_output(root))
    assert len(feeds) == 3 * 3
    for feed in feeds.values():
        assert feed.titles == ["Hello"]


# --- any text in: a well-formed feed or a clear error out ---------------------------------------

TEXT = st.text()  # every code point but surrogates, controls included


# Each example builds a site: a tenth of the profile's examples.
@settings(max_examples=examples(0.1), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=TEXT, author=TEXT, tag=TEXT, body=TEXT)
def test_any_text_gives_well_formed_feeds_or_an_article_error(
    title: str, author: str, tag: str, body: str
) -> None:
    text = (
        f"---\ntitle: {q(title)}\ndate: 2026-11-20 09:00\nauthor: {q(author)}\n"
        f"tags: [{q(tag)}]\n---\n\n{body}\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = write_site(Path(tmp) / "site", {"post.md": text.encode("utf-8")})
        try:
            output = build_output(root)
        except ArticleError as exc:
            assert exc.problems and all(p.path == "content/post.md" for p in exc.problems)
            event("refused with an ArticleError")
            return
        event("published")
        for folder in feed_folders(output):
            for name in ("rss.xml", "atom.xml"):
                data = (output / folder / name).read_bytes()
                etree.fromstring(data)
                assert_feedparser_happy(data)
            document = json.loads((output / folder / "feed.json").read_bytes())
            assert len(document["items"]) == 1


# Every edge of the characters xml_safe drops, and ordinary text of each UTF-8 length.
EDGES = [
    *"\x00\x08\t\n\x0b\x0c\r\x0e\x1f ~\x7f\x80\x9f\xa0\xc2\xed\xef",
    *"\ud7ff\ud800\udbff\udc00\udfff\ue000\ufdd0\ufffd\ufffe\uffff\U00010000\U0010ffff",
    "a", "é", "€", "🎉",
]  # fmt: skip


@settings(max_examples=examples(0.25))  # long texts: a quarter of the profile's examples
@given(
    st.lists(st.sampled_from(EDGES), min_size=500, max_size=900).map("".join)
    | st.text(min_size=512, max_size=1500)
    | st.text(max_size=40)
)
def test_xml_safe_drops_exactly_what_the_pattern_matches(text: str) -> None:
    """Long texts are checked through their UTF-8 bytes first; the result is the same."""
    assert xml_safe(text) == _NOT_XML.sub("", text)
    assert xml_safe("a" * 600 + text) == "a" * 600 + _NOT_XML.sub("", text)


@pytest.mark.parametrize("char", EDGES, ids=[f"U+{ord(c):04X}" for c in EDGES])
def test_xml_safe_on_a_long_text_with_one_edge_character(char: str) -> None:
    text = "Plain words é € " * 40 + char + " and more"
    dropped = _NOT_XML.match(char) is not None
    assert xml_safe(text) == (text.replace(char, "") if dropped else text)
