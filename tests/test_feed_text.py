"""Titles, summaries, tags and author names are text in every feed: what a feed reader shows is
exactly what the article says, and nothing in them becomes an element.

Each hostile text is an article's title, summary, author and tag at once; the site's feeds and
the issues feed (whose content lists the issue's articles) are read back with lxml and
feedparser. Plain-text elements (RSS <title>, <category>, dc:creator; Atom's text constructs;
JSON's strings) must hold the text itself; HTML ones (RSS <description>, <content:encoded>,
Atom content type="html", JSON content_html) must be HTML whose text is the text.

feedparser guesses whether an RSS <title> is HTML (an end tag or an entity in it makes it so);
the RSS profile says titles are plain text, so those are compared in the XML.
"""

from __future__ import annotations

import json
from pathlib import Path

import feedparser
import lxml.html
import pytest
from helpers import NEWSLETTER, NOW, MakeSite, load
from lxml import etree

from feedpub import run

CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"
ATOM = "{http://www.w3.org/2005/Atom}"

HOSTILE = {
    "details": "Use <details> for FAQs",
    "script": "<script>alert('x')</script> News",
    "entity": "Tom &amp; Jerry &lt;3",
    "markup": "A <b>bold</b> & <i>brave</i> move",
    "backslash": "Ends with a backslash \\",
    "markdown": "`code` *stars* [a](link) ![img](x.png)",
    "cdata-end": "Ends ]]> here",
    "comment": "<!-- hidden --> shown",
    "astral": "Party 🎉 𝄞 𠀀 time",
    "right-to-left": "مرحبا \u202eevil\u202c שלום",
}


def q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are YAML)."""
    return json.dumps(text, ensure_ascii=False)


def hostile_article(text: str, day: int) -> str:
    return (
        f"---\ntitle: {q(text)}\ndate: 2026-11-{day:02d} 09:00\nauthor: {q(text)}\n"
        f"tags: [{q(text)}]\nsummary: {q(text)}\n---\n\nThe body.\n"
    )


def html_text(fragment: str) -> tuple[str, list[str]]:
    """What an HTML fragment says, and the elements in it."""
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    elements = [str(e.tag) for e in root.iterdescendants()]
    return root.text_content(), elements


def assert_html_says(fragment: str | None, text: str, where: str) -> None:
    assert fragment is not None, where
    said, elements = html_text(fragment)
    assert (said, elements) == (text, []), where


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site with one article per hostile text, and one issue carrying them all."""
    root = tmp_path_factory.mktemp("text") / "site"
    (root / "content").mkdir(parents=True)
    (root / "feedpub.toml").write_text(
        '[site]\ntitle = "Test Gazette"\nurl = "https://news.example.org/"\n'
        'language = "en"\ntimezone = "Europe/Berlin"\nauthor = "Desk"\n' + NEWSLETTER,
        encoding="utf-8",
    )
    for day, (name, text) in enumerate(HOSTILE.items(), start=17):
        (root / "content" / f"{name}.md").write_text(hostile_article(text, day), encoding="utf-8")
    site = load(root)
    assert run.issue_new(site, NOW).draft is not None
    return site.output_dir


def rss_items(public: Path, folder: str = "") -> dict[str, etree._Element]:
    root = etree.fromstring((public / folder / "rss.xml").read_bytes())
    return {e.findtext("guid") or "": e for e in root.iter("item")}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_rss_plain_text_elements_hold_the_text(public: Path, text: str) -> None:
    items = [e for e in rss_items(public).values() if e.findtext("title") == text]
    assert len(items) == 1, text
    item = items[0]
    assert [e.text for e in item.findall("category")] == [text]
    assert [e.text for e in item.findall(DC_CREATOR)] == [text]


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_rss_description_is_html_saying_the_summary(public: Path, text: str) -> None:
    item = next(e for e in rss_items(public).values() if e.findtext("title") == text)
    assert_html_says(item.findtext("description"), text, "<description>")
    parsed = feedparser.parse((public / "rss.xml").read_bytes())
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    entry = next(e for e in parsed.entries if e.id == item.findtext("guid"))
    assert entry.summary_detail.type == "text/html"
    assert_html_says(entry.summary, text, "feedparser's summary")


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_atom_text_constructs_hold_the_text(public: Path, text: str) -> None:
    parsed = feedparser.parse((public / "atom.xml").read_bytes())
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    entry = next(e for e in parsed.entries if e.title == text)
    assert entry.title_detail.type == "text/plain"
    assert (entry.summary_detail.type, entry.summary) == ("text/plain", text)
    assert [a["name"] for a in entry.authors] == [text]
    assert [t["term"] for t in entry.tags] == [text]


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_json_strings_hold_the_text(public: Path, text: str) -> None:
    document = json.loads((public / "feed.json").read_bytes())
    item = next(i for i in document["items"] if i["title"] == text)
    assert (item["summary"], item["authors"], item["tags"]) == (text, [{"name": text}], [text])


# --- the issues feed: its content lists the issue's articles ------------------------------------


def issue_lists(fragment: str) -> list[tuple[str, str | None, str]]:
    """Each line of an issue's list: the link's text and target, the whole line's text; every
    element of the fragment must be the list's."""
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    assert [str(e.tag) for e in root] == ["ul"], fragment
    lines = []
    for li in root[0]:
        assert li.tag == "li" and [str(e.tag) for e in li.iterdescendants()] == ["a"], fragment
        lines.append((li[0].text_content(), li[0].get("href"), li.text_content()))
    return lines


def expected_lines(public: Path) -> list[tuple[str, str | None, str]]:
    document = json.loads((public / "feed.json").read_bytes())
    return [(i["title"], i["url"], f"{i['title']}: {i['summary']}") for i in document["items"]]


def test_issues_feeds_list_titles_and_summaries_as_text(public: Path) -> None:
    expected = expected_lines(public)
    assert sorted(title for title, _, _ in expected) == sorted(HOSTILE.values())
    rss = etree.fromstring((public / "issues" / "rss.xml").read_bytes())
    contents = {"rss": rss.findtext(f"channel/item/{CONTENT_ENCODED}")}
    atom = etree.fromstring((public / "issues" / "atom.xml").read_bytes())
    content = atom.find(f"{ATOM}entry/{ATOM}content")
    assert content is not None and content.get("type") == "html"
    contents["atom"] = content.text
    document = json.loads((public / "issues" / "feed.json").read_bytes())
    contents["json"] = document["items"][0]["content_html"]
    for name in ("rss.xml", "atom.xml"):
        parsed = feedparser.parse((public / "issues" / name).read_bytes())
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        contents[f"feedparser {name}"] = parsed.entries[0].content[0].value
    for where, fragment in contents.items():
        assert fragment is not None, where
        assert sorted(issue_lists(fragment)) == sorted(expected), where


def test_issues_feed_summary_is_the_lists_text(public: Path) -> None:
    """The summary of an issue without a note is what its list says (cut short); the issue
    lists its articles newest first, as the feed does."""
    document = json.loads((public / "issues" / "feed.json").read_bytes())
    summary = document["items"][0]["summary"]
    first = expected_lines(public)[0][2]
    assert summary.startswith(first)
    item = etree.fromstring((public / "issues" / "rss.xml").read_bytes()).find("channel/item")
    assert item is not None
    assert_html_says(item.findtext("description"), summary, "issues <description>")


def test_issues_page_shows_the_subject_as_text(public: Path) -> None:
    document = json.loads((public / "issues" / "feed.json").read_bytes())
    subject = document["items"][0]["title"]
    page = lxml.html.fromstring((public / "issues" / "index.html").read_bytes())
    links = [a.text_content() for a in page.iter("a") if a.get("href", "").endswith("/issues/1/")]
    assert links == [subject]


@pytest.mark.parametrize(
    ("note", "shown"),
    [
        # Its links resolve against the site, as in the email, and open with noopener.
        (
            "A *short* [note](notes/).",
            '<p>A <em>short</em> <a href="{site}notes/" rel="noopener">note</a>.</p>\n',
        ),
        # An unclosed fence in the note is the note's own: the list still follows it.
        ("```\nunclosed fence", "<pre><code>unclosed fence\n</code></pre>\n"),
    ],
    ids=["markdown", "unclosed-fence"],
)
def test_issues_feed_renders_the_note_then_lists_the_articles(
    make_site: MakeSite, note: str, shown: str
) -> None:
    root = make_site({"a.md": hostile_article(HOSTILE["details"], 20)}, extra=NEWSLETTER)
    site = load(root)
    assert run.issue_new(site, NOW, note).draft is not None
    document = json.loads((site.output_dir / "issues" / "feed.json").read_bytes())
    item = document["items"][0]
    note_html, _, listing = item["content_html"].partition("<ul>")
    assert note_html == shown.format(site=site.site.url)
    [(title, _, line)] = issue_lists("<ul>" + listing)
    assert (title, line) == (HOSTILE["details"], f"{HOSTILE['details']}: {HOSTILE['details']}")


def test_issue_web_version_shows_titles_and_summaries_as_text(public: Path) -> None:
    page = lxml.html.fromstring((public / "issues" / "1" / "index.html").read_bytes())
    links = {a.text_content() for a in page.iter("a")}
    assert set(HOSTILE.values()) <= links
    text = page.text_content()
    assert all(text.count(summary) >= 2 for summary in HOSTILE.values())  # title and summary
    # The corpus's tags are text: none is in the page as an element.
    assert [e.tag for e in page.iter("details", "script", "b", "i")] == []
