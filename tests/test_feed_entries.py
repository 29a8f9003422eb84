"""What each feed entry says beyond its text: RSS dates in GMT, an author's name and email
address apart (and the address out of the author's page and URL), the article's image as
Media RSS's media:content, and no empty content for an empty body.

Each is read back from a real build with lxml and feedparser, in the site's main feed and in
the tag and author feeds that carry the same article.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import feedparser
import pytest
from helpers import ATOM, SETTINGS, SITE_URL, article, load, publish, write_articles
from lxml import etree

from feedpub.errors import ArticleError

CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"
MEDIA_CONTENT = "{http://search.yahoo.com/mrss/}content"


def build(root: Path, articles: dict[str, str | bytes], extra: str = "") -> Path:
    (root / "content").mkdir(parents=True)
    (root / "feedpub.toml").write_text(SETTINGS + extra, encoding="utf-8")
    write_articles(root, articles)
    publish(root)
    return load(root).output_dir


def rss_items(output: Path, folder: str = "") -> dict[str, etree._Element]:
    root = etree.fromstring((output / folder / "rss.xml").read_bytes())
    return {item.findtext("title") or "": item for item in root.iter("item")}


def atom_entries(output: Path, folder: str = "") -> dict[str, etree._Element]:
    root = etree.fromstring((output / folder / "atom.xml").read_bytes())
    return {e.findtext(f"{ATOM}title") or "": e for e in root.iter(f"{ATOM}entry")}


def json_items(output: Path, folder: str = "") -> dict[str, dict[str, object]]:
    document = json.loads((output / folder / "feed.json").read_bytes())
    return {item["title"]: item for item in document["items"]}


# --- RSS dates in GMT ----------------------------------------------------------------------------

# Articles in the zones furthest apart, and one whose offset has odd minutes (Nepal).
ZONED: dict[str, str | bytes] = {
    "nepal.md": article("Nepal", "2026-11-20T09:00:00+05:45", tags="[zones]"),
    "kiribati.md": article("Kiribati", "2026-11-19T23:30:00+14:00", tags="[zones]"),
    "baker.md": article("Baker", "2026-11-18T01:15:00-12:00", tags="[zones]"),
}
INSTANTS = {
    "Nepal": datetime(2026, 11, 20, 3, 15, tzinfo=UTC),
    "Kiribati": datetime(2026, 11, 19, 9, 30, tzinfo=UTC),
    "Baker": datetime(2026, 11, 18, 13, 15, tzinfo=UTC),
}


@pytest.fixture(scope="module")
def zoned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("zones"), ZONED)


def assert_gmt(text: str | None, instant: datetime, where: str) -> None:
    assert text is not None and text.endswith(" +0000"), f"{where}: {text!r} is not in GMT"
    assert parsedate_to_datetime(text) == instant, where


@pytest.mark.parametrize("folder", ["", "tags/zones", "authors/desk"])
def test_rss_dates_are_written_in_gmt(zoned: Path, folder: str) -> None:
    root = etree.fromstring((zoned / folder / "rss.xml").read_bytes())
    items = rss_items(zoned, folder)
    assert sorted(items) == sorted(INSTANTS)
    for title, item in items.items():
        assert_gmt(item.findtext("pubDate"), INSTANTS[title], f"{folder} {title}")
    assert_gmt(root.findtext("channel/lastBuildDate"), INSTANTS["Nepal"], folder)


def test_atom_and_json_dates_keep_the_articles_own_offset(zoned: Path) -> None:
    """RFC 3339 writes any offset exactly: only RSS's dates move to GMT."""
    entry = atom_entries(zoned)["Nepal"]
    assert entry.findtext(f"{ATOM}published") == "2026-11-20T09:00:00+05:45"
    assert json_items(zoned)["Nepal"]["date_published"] == "2026-11-20T09:00:00+05:45"


# --- authors: a name and an address --------------------------------------------------------------

PEOPLE: dict[str, str | bytes] = {
    "angle.md": article("Angle", "2026-11-20 09:00", author='"Jane Doe <jane@example.org>"'),
    "rss-form.md": article("RSS form", "2026-11-19 09:00", author='"sam@example.org (Sam Roe)"'),
    "two.md": article(
        "Two",
        "2026-11-18 09:00",
        authors='["Jane Doe <jane@example.org>", "Ann Lee"]',
    ),
    "plain.md": article("Plain", "2026-11-17 09:00", author="Ann Lee"),
}
# Each article's authors: (name, address or "").
AUTHORS = {
    "Angle": [("Jane Doe", "jane@example.org")],
    "RSS form": [("Sam Roe", "sam@example.org")],
    "Two": [("Jane Doe", "jane@example.org"), ("Ann Lee", "")],
    "Plain": [("Ann Lee", "")],
}


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("people"), PEOPLE)


@pytest.mark.parametrize("title", AUTHORS)
def test_atom_authors_have_a_name_and_an_email(people: Path, title: str) -> None:
    entry = atom_entries(people)[title]
    found = [
        (a.findtext(f"{ATOM}name"), a.findtext(f"{ATOM}email") or "")
        for a in entry.findall(f"{ATOM}author")
    ]
    assert found == AUTHORS[title]


@pytest.mark.parametrize("title", AUTHORS)
def test_rss_author_is_an_address_or_dublin_core_names(people: Path, title: str) -> None:
    """One author with an address: RSS's <author>, "address (name)"; otherwise dc:creator
    with each name. Never both (the same thing said twice) and never an address in a name."""
    item = rss_items(people)[title]
    authors = [e.text for e in item.findall("author")]
    creators = [e.text for e in item.findall(DC_CREATOR)]
    wanted = AUTHORS[title]
    if len(wanted) == 1 and wanted[0][1]:
        name, address = wanted[0]
        assert (authors, creators) == ([f"{address} ({name})"], [])
    else:
        assert (authors, creators) == ([], [name for name, _ in wanted])


@pytest.mark.parametrize("title", AUTHORS)
def test_json_authors_have_a_name_and_a_mailto_url(people: Path, title: str) -> None:
    found = json_items(people)[title]["authors"]
    assert found == [
        {"name": name, "url": f"mailto:{address}"} if address else {"name": name}
        for name, address in AUTHORS[title]
    ]


def test_feedparser_reads_the_name_and_the_address(people: Path) -> None:
    parsed = feedparser.parse((people / "atom.xml").read_bytes())
    entry = next(e for e in parsed.entries if e.title == "Angle")
    assert (entry.author_detail.name, entry.author_detail.email) == ("Jane Doe", "jane@example.org")
    parsed = feedparser.parse((people / "rss.xml").read_bytes())
    entry = next(e for e in parsed.entries if e.title == "Angle")
    assert entry.author_detail.email == "jane@example.org"


def test_the_address_stays_out_of_the_authors_page_and_url(people: Path) -> None:
    authors = sorted(p.name for p in (people / "authors").iterdir() if p.is_dir())
    assert authors == ["ann-lee", "jane-doe", "sam-roe"]
    page = (people / "authors/jane-doe/index.html").read_text(encoding="utf-8")
    assert "<title>Jane Doe · " in page
    assert "jane@example.org" not in page
    feed = etree.fromstring((people / "authors/jane-doe/atom.xml").read_bytes())
    assert feed.findtext(f"{ATOM}title") == "Test Gazette: Jane Doe"
    assert sorted(atom_entries(people, "authors/jane-doe")) == ["Angle", "Two"]
    article_page = (people / "2026/11/angle/index.html").read_text(encoding="utf-8")
    assert "jane@example.org" not in article_page
    assert f'<a href="{SITE_URL}authors/jane-doe/" dir="auto">Jane Doe</a>' in article_page


def test_the_sites_author_with_an_address(tmp_path: Path) -> None:
    """``[site] author`` in the same form: the feed's author and each article's without one."""
    settings = SETTINGS.replace('author = "Desk"', 'author = "Desk <desk@example.org>"')
    assert settings != SETTINGS
    (tmp_path / "content").mkdir()
    (tmp_path / "feedpub.toml").write_text(settings, encoding="utf-8")
    write_articles(tmp_path, {"a.md": article("Hello")})
    publish(tmp_path)
    output = load(tmp_path).output_dir
    atom = etree.fromstring((output / "atom.xml").read_bytes())
    assert atom.findtext(f"{ATOM}author/{ATOM}name") == "Desk"
    assert atom.findtext(f"{ATOM}author/{ATOM}email") == "desk@example.org"
    assert atom_entries(output)["Hello"].findtext(f"{ATOM}author/{ATOM}email") == (
        "desk@example.org"
    )
    rss = etree.fromstring((output / "rss.xml").read_bytes())
    assert rss.findtext("channel/managingEditor") == "desk@example.org (Desk)"
    assert (output / "authors/desk/index.html").is_file()


@pytest.mark.parametrize(
    ("author", "message"),
    [
        ('"Jane <jane@example>"', "'jane@example' is not an email address"),
        ('"Jane <jane doe@example.org>"', None),  # a space: not an address, the whole is a name
        ('"<jane@example.org>"', "has an address but no name"),
    ],
    ids=["no-dot-in-the-domain", "not-an-address", "no-name"],
)
def test_an_address_that_is_not_one_is_an_error_with_the_line(
    tmp_path: Path, author: str, message: str | None
) -> None:
    articles: dict[str, str | bytes] = {"a.md": article("Hello", author=author)}
    if message is None:
        output = build(tmp_path, articles)
        assert atom_entries(output)["Hello"].findtext(f"{ATOM}author/{ATOM}name") == (
            "Jane <jane doe@example.org>"
        )
        return
    with pytest.raises(ArticleError) as raised:
        build(tmp_path, articles)
    (problem,) = raised.value.problems
    assert (problem.path, problem.line, problem.severity) == ("content/a.md", 4, "error")
    assert message in problem.message


# --- the article's image as media:content --------------------------------------------------------


@pytest.fixture(scope="module")
def pictured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(
        tmp_path_factory.mktemp("pictured"),
        {
            "photo.md": article("Photo", "2026-11-20 09:00", image="pic.jpg", tags="[pics]"),
            "remote.md": article(
                "Remote", "2026-11-19 09:00", image="https://cdn.example.net/r.png", tags="[pics]"
            ),
            "none.md": article("None", "2026-11-18 09:00", tags="[pics]"),
        },
    )


IMAGES = {
    "Photo": SITE_URL + "2026/11/photo/pic.jpg",
    "Remote": "https://cdn.example.net/r.png",
    "None": None,
}


@pytest.mark.parametrize("folder", ["", "tags/pics"])
@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_the_image_is_media_content(pictured: Path, folder: str, kind: str) -> None:
    entries = rss_items(pictured, folder) if kind == "rss" else atom_entries(pictured, folder)
    assert sorted(entries) == sorted(IMAGES)
    for title, element in entries.items():
        media = element.findall(MEDIA_CONTENT)
        wanted = IMAGES[title]
        if wanted is None:
            assert media == [], title
        else:
            assert [(m.get("url"), m.get("medium")) for m in media] == [(wanted, "image")]
    # feedparser, as a reader, finds it.
    name = "rss.xml" if kind == "rss" else "atom.xml"
    parsed = feedparser.parse((pictured / folder / name).read_bytes())
    assert parsed.bozo == 0
    found = {e.title: [m["url"] for m in e.get("media_content", [])] for e in parsed.entries}
    assert found == {t: [u] if u else [] for t, u in IMAGES.items()}


def test_json_keeps_the_image(pictured: Path) -> None:
    items = json_items(pictured)
    assert {t: i.get("image") for t, i in items.items()} == IMAGES


# --- an empty body -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(
        tmp_path_factory.mktemp("empty"),
        {
            "empty.md": article("Empty", "2026-11-20 09:00", "", tags="[t]"),
            "blank.md": article("Blank", "2026-11-19 09:00", "   \n\n  ", summary="Said short."),
            "full.md": article("Full", "2026-11-18 09:00", "Words.", tags="[t]"),
        },
    )


@pytest.mark.parametrize("folder", ["", "tags/t"])
def test_an_empty_body_has_no_content(empty: Path, folder: str) -> None:
    for title, item in rss_items(empty, folder).items():
        content = item.findall(CONTENT_ENCODED)
        assert len(content) == (title == "Full"), title
    for title, entry in atom_entries(empty, folder).items():
        assert len(entry.findall(f"{ATOM}content")) == (title == "Full"), title
    for title, json_item in json_items(empty, folder).items():
        assert ("content_html" in json_item) == (title == "Full"), title
        # JSON Feed wants content_html or content_text: the summary, or nothing to say.
        assert json_item.get("content_text", json_item.get("content_html")) is not None


def test_an_empty_body_keeps_its_summary(empty: Path) -> None:
    items = json_items(empty)
    assert items["Blank"]["content_text"] == "Said short."
    assert items["Blank"]["summary"] == "Said short."
    assert "summary" not in items["Empty"]  # nothing to say: no empty string
    entry = atom_entries(empty)["Blank"]
    assert entry.findtext(f"{ATOM}summary") == "Said short."


def test_with_neither_body_nor_summary_the_title_says_what_the_entry_is(empty: Path) -> None:
    # Atom wants text in an entry (the W3C validator: MissingTextualContent), JSON Feed a
    # content_text; an article with no body and no summary has only its title to say.
    entry = atom_entries(empty)["Empty"]
    summary = entry.find(f"{ATOM}summary")
    assert summary is not None and summary.text == "Empty"
    assert summary.get("type", "text") == "text"
    assert json_items(empty)["Empty"]["content_text"] == "Empty"
    assert rss_items(empty, "")["Empty"].findtext("description") == "Empty"
