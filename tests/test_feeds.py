"""Every feed a build writes: it parses, it passes the checks the W3C Feed Validation Service
makes (tests/feed_checks.py), and it says exactly what the articles say, whatever they contain.
"""

from __future__ import annotations

import json
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import lxml.html
import pytest
from feed_checks import (
    CHECKS,
    CONTENT_ENCODED,
    DERIVED_ID,
    FORMATS,
    TRICKY,
    all_bytes,
    assert_feedparser_happy,
    build_output,
    check_all,
    feed_bytes,
    feed_folders,
    q,
    read_feed,
    write_site,
)
from golden_site import build_example
from helpers import (
    ATOM,
    NOW,
    SITE_URL,
    TZ,
    MakeSite,
    article,
    examples,
    load,
)
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from lxml import etree

from feedpub.errors import ArticleError
from feedpub.text import _NOT_XML, xml_safe

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
        # Every feed through the validator's checks (and feedparser): one item each.
        for (folder, kind), feed in check_all(output).items():
            assert len(feed.items) == 1, f"{folder}/{kind}"


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
