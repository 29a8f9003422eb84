"""The editor's note (`issue new --note`): what of its HTML reaches the email, the issue's web
version and the issues feed (an allow-list, by nh3), where its links lead, how wide its images
may be, and what its text part says. Hostile notes are composed, recorded and published as
`feedpub issue new` does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import lxml.etree
import lxml.html
import pytest
from click.testing import CliRunner
from helpers import ATOM, NEWSLETTER, NOW, NOW_ARG, SETTINGS, SITE_URL, article, invoke, load

from feedpub.errors import DigestError
from feedpub.run import issue_new
from feedpub.store.issues import IssueRecord
from feedpub.store.state import State

# The note's column in the packaged digest: the 600-pixel card less its cells' padding
# (24 on each side of the card's cells, 16 on each side of the note's own).
COLUMN = 600 - 2 * 24 - 2 * 16
SAFE_SCHEMES = {"http", "https", "mailto"}
# Elements no note may bring into a page or an email, whatever it wrote.
ACTIVE = (
    "script style iframe frame frameset object embed applet form input button textarea select "
    "link meta base svg math template noscript video audio source"
).split()

HOSTILE = {
    "script": "Hello <script>alert(document.cookie)</script> there.",
    "script-split": "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "onerror": '<img src="/x.png" onerror="alert(1)" alt="x">',
    "onclick": '<p onclick="alert(1)" onmouseover="alert(2)">Click me</p>',
    "javascript-link": "[Click](javascript:alert(1)) and <a href='JavaScript:alert(1)'>this</a>",
    "javascript-entities": '<a href="java&#x09;script&#58;alert(1)">obfuscated</a>',
    "javascript-image": '<img src="javascript:alert(1)" alt="x">',
    "data-url": '<a href="data:text/html,<script>alert(1)</script>">data</a>',
    "data-image": '<img src="data:image/svg+xml,<svg onload=alert(1)>" alt="x">',
    "iframe": '<iframe src="https://evil.example/"></iframe> text',
    "form": '<form action="https://evil.example/"><input name="pw"><button>Go</button></form>',
    "style-element": "<style>body { display: none }</style>Styled",
    "style-attribute": '<p style="position:fixed;top:0;left:0;width:100%">Overlay</p>',
    "svg": '<svg onload="alert(1)"><script>alert(2)</script></svg>',
    "object": '<object data="https://evil.example/x.swf"></object><embed src="x.swf">',
    "meta-refresh": '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
    "base": '<base href="https://evil.example/">[relative](page.html)',
    "cdata-end": "A note with ]]> in it, and <![CDATA[ <script>alert(1)</script> ]]>",
    "nested": "<div><p><b><i><a href='/a'><span>deep <em>text</b></p></i>",
    "unclosed": "<div><div><div><table><tr><td>cell",
    "comment": "<!-- <script>alert(1)</script> -->visible",
    "target": '<a href="https://example.com/" target="_blank">out</a>',
    "control": "Bell \x07 and NUL \x00 and escape \x1b[31m inside.",
}


@dataclass(frozen=True)
class Published:
    """One issue made with a note: its record and the files the build wrote."""

    record: IssueRecord
    public: Path

    def web_version(self) -> str:
        return (self.public / "issues" / "1" / "index.html").read_text(encoding="utf-8")

    def web_note(self) -> lxml.html.HtmlElement:
        """The note's part of the issue's web version: its article less the heading, the date
        line and the list of articles."""
        page = lxml.html.document_fromstring(self.web_version()).find(".//main//article")
        assert page is not None
        for gone in [page.find("h1"), page.find("p[@class='meta']"), *page.findall("ul")[-1:]]:
            assert gone is not None
            page.remove(gone)
        return page

    def feed_html(self, name: str) -> str:
        """The issue's entry in the issues feed (rss.xml or atom.xml) as its HTML."""
        tree = lxml.etree.parse(str(self.public / "issues" / name))
        if name == "atom.xml":
            [content] = tree.findall(f"{ATOM}entry/{ATOM}content")
        else:
            encoded = "{http://purl.org/rss/1.0/modules/content/}encoded"
            [content] = tree.findall(f"channel/item/{encoded}") or tree.findall(
                "channel/item/description"
            )
        return content.text or ""

    def feed_note(self, name: str) -> lxml.html.HtmlElement:
        """The note's part of the issue's entry in the issues feed: all but the article list."""
        tree = fragment(self.feed_html(name))
        tree.remove(tree.findall("ul")[-1])
        return tree


def write_site(root: Path) -> Path:
    (root / "content").mkdir(parents=True)
    (root / "feedpub.toml").write_text(SETTINGS + NEWSLETTER, encoding="utf-8")
    for name, title, date in (("alpha.md", "Alpha", "2026-11-20 09:00"),):
        (root / "content" / name).write_text(article(title, date), encoding="utf-8")
    return root


def publish_issue(root: Path, note: str) -> Published:
    site = load(write_site(root))
    made = issue_new(site, NOW, note)
    assert made.draft is not None
    with State.open(site.state_dir) as state:
        record = state.issues.get(made.draft.number)
    assert record is not None
    return Published(record, site.output_dir)


def note_cell(html: str) -> lxml.html.HtmlElement:
    """The digest's cell that shows the note; an empty one if the digest shows none."""
    cells = lxml.html.document_fromstring(html).xpath("//td[contains(@class, 'note')]")
    assert len(cells) <= 1
    return cells[0] if cells else lxml.html.fragment_fromstring("<td></td>")


def fragment(html: str) -> lxml.html.HtmlElement:
    return lxml.html.fragment_fromstring(html, create_parent="div")


def active_parts(tree: lxml.html.HtmlElement, email: bool = False) -> list[str]:
    """Everything inside ``tree`` that could run, load or submit, or restyle the page around
    it. In the email (``email``) the inlined CSS gives elements a style: there only one that
    could move or hide things counts."""
    found = []
    for el in tree.iterdescendants():
        if not isinstance(el.tag, str):
            continue
        if el.tag in ACTIVE:
            found.append(f"<{el.tag}>")
        for name, value in el.attrib.items():
            if name.lower() == "style" and email:
                if re.search(r"position|display|url\(|expression|behavior", value, re.I):
                    found.append(f"<{el.tag} style={value!r}>")
            elif name.lower().startswith("on") or name.lower() in ("style", "target", "srcdoc"):
                found.append(f"<{el.tag} {name}>")
            elif name.lower() in ("href", "src", "action", "formaction", "data", "poster"):
                scheme = urlsplit(value.strip()).scheme.lower()
                if scheme not in SAFE_SCHEMES:
                    found.append(f"<{el.tag} {name}={value!r}>")
    return found


@pytest.fixture(scope="module", params=list(HOSTILE), ids=list(HOSTILE))
def hostile(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Published:
    return publish_issue(tmp_path_factory.mktemp("hostile") / "site", HOSTILE[request.param])


def test_hostile_note_reaches_the_email_inert(hostile: Published) -> None:
    cell = note_cell(hostile.record.html)
    assert active_parts(cell, email=True) == []
    # Nothing from the note can run in the email either: the whole message has no script.
    assert "<script" not in hostile.record.html.lower()
    assert "javascript:" not in hostile.record.html.lower()


def test_hostile_note_reaches_the_web_version_inert(hostile: Published) -> None:
    page = hostile.web_version()
    assert active_parts(hostile.web_note()) == []
    assert "<script" not in page.lower()


@pytest.mark.parametrize("name", ["rss.xml", "atom.xml"])
def test_hostile_note_reaches_the_issues_feed_inert(hostile: Published, name: str) -> None:
    html = hostile.feed_html(name)
    assert active_parts(hostile.feed_note(name)) == []
    assert "<script" not in html.lower()


# Words of the hostile notes that are code, not text: the text part has one only where the
# HTML shows it as text (a note that writes "<scr<script>ipt>" is showing those letters).
CODE_WORDS = ("alert(", "<script", "display: none", "position:fixed", "onload", "evil.example")


def test_hostile_note_text_part_says_what_the_html_shows(hostile: Published) -> None:
    text = hostile.record.text
    shown = note_cell(hostile.record.html).text_content()
    assert [w for w in CODE_WORDS if w in text] == [w for w in CODE_WORDS if w in shown]
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text)


def test_what_a_note_needs_is_kept(tmp_path: Path) -> None:
    note = """\
# A heading

Some *emphasis*, **strong** words, `code`, a [link](https://example.com/page) and
an [address](mailto:desk@example.org).

> A quotation.

1. first
2. second

- a
- b

| Team | Score |
|:-----|------:|
| Red  |     3 |

![A diagram](/images/diagram.png)

<abbr title="Parent-Teacher Association">PTA</abbr> meets <del>Monday</del> Tuesday.
"""
    made = publish_issue(tmp_path / "site", note)
    for tree in (note_cell(made.record.html), made.feed_note("atom.xml")):
        tags = {el.tag for el in tree.iter() if isinstance(el.tag, str)}
        assert {"em", "strong", "code", "a", "blockquote", "ol", "ul", "li", "img"} <= tags
        assert {"table", "th", "td", "abbr", "del"} <= tags
        # The masthead is the page's first heading: the note's own headings come under it.
        assert tree.xpath(".//h2/text()") == ["A heading"] and not tree.xpath(".//h1")
        links = {a.get("href"): a.get("rel") for a in tree.iter("a")}
        assert links == {
            "https://example.com/page": "noopener",
            "mailto:desk@example.org": "noopener",
        }
        [img] = tree.iter("img")
        assert (img.get("src"), img.get("alt")) == (f"{SITE_URL}images/diagram.png", "A diagram")
        assert tree.xpath(".//abbr/@title") == ["Parent-Teacher Association"]
        cells = [td.get("style") for td in tree.iterdescendants("td")]
        assert cells == ["text-align:left", "text-align:right"]


RELATIVE = """\
The [archive](/archive/), [this week](2026/11/week.html), [up](../about/) and
[a fragment](#top).

![Site picture](images/site.png) ![Rooted picture](/images/rooted.png)
"""


def test_relative_links_resolve_against_the_site(tmp_path: Path) -> None:
    made = publish_issue(tmp_path / "site", RELATIVE)
    expected_links = [
        f"{SITE_URL}archive/",
        f"{SITE_URL}2026/11/week.html",
        f"{SITE_URL}about/",
        f"{SITE_URL}#top",
    ]
    expected_images = [f"{SITE_URL}images/site.png", f"{SITE_URL}images/rooted.png"]
    trees = {
        "email": note_cell(made.record.html),
        "web version": made.web_note(),
        "rss": made.feed_note("rss.xml"),
        "atom": made.feed_note("atom.xml"),
    }
    for where, tree in trees.items():
        assert [a.get("href") for a in tree.iter("a")] == expected_links, where
        assert [i.get("src") for i in tree.iter("img")] == expected_images, where
    # The text part names the same addresses.
    for url in expected_links + expected_images:
        assert url in made.record.text


IMAGES = """\
![Wide](/images/wide.png)

<img src="/images/huge.png" width="1200" height="400" alt="Huge">
<img src="/images/small.png" width="120" alt="Small">
<img src="/images/odd.png" width="50%" alt="Odd">
"""


def test_note_images_fit_the_column(tmp_path: Path) -> None:
    made = publish_issue(tmp_path / "site", IMAGES)
    images = list(note_cell(made.record.html).iter("img"))
    assert [i.get("alt") for i in images] == ["Wide", "Huge", "Small", "Odd"]
    # Outlook sizes an image by its width attribute; everyone else by max-width.
    assert [i.get("width") for i in images] == [str(COLUMN), str(COLUMN), "120", str(COLUMN)]
    for image in images:
        style = image.get("style", "").replace(" ", "")
        assert "max-width:100%" in style and "height:auto" in style
        # A height attribute would stretch an image whose width was brought down.
        assert image.get("height") is None


def test_text_part_is_made_from_the_html(tmp_path: Path) -> None:
    note = """\
**Welcome** to the *first* issue. The [archive](/archive/) has every article:
<https://news.example.org/2026/11/a-rather-long-address-that-has-to-wrap-somewhere-on-a-phone/>

- one thing
- and another

> Quoted words that go on for long enough to need a second line when wrapped at
> seventy-two columns.

<p>Raw <b>HTML</b> too, and <script>alert(1)</script> nothing else.</p>

![A diagram](/images/diagram.png)
"""
    text = publish_issue(tmp_path / "site", note).record.text
    flowing = " ".join(text.split())
    assert "Welcome to the first issue. The archive (https://news.example.org/archive/)" in flowing
    assert "\nhttps://news.example.org/2026/11/a-rather-long-address-that-has-to-" in text
    assert "\n- one thing\n- and another\n" in text
    # A quotation's wrapped lines each start with "> ", the source's line ends are spaces.
    assert re.search(r"\n> Quoted words .{40,}\n> [a-z].* columns\.\n", text)
    assert "Raw HTML too, and nothing else." in text
    assert "[A diagram] (https://news.example.org/images/diagram.png)" in text
    assert "**" not in text and "<" not in text.split("=" * 72, 1)[1].split("1. Alpha")[0]
    assert max(len(line) for line in text.splitlines() if "://" not in line) <= 72


DEEP = {"quotations": ">" * 5000 + " deep", "tags": "<div>" * 5000, "slashed": "<div/>" * 5000}


@pytest.mark.parametrize("note", DEEP.values(), ids=list(DEEP))
def test_deeply_nested_note_is_refused(tmp_path: Path, note: str) -> None:
    # html5ever's tree builder takes time quadratic in the depth: 100 KB of ">" (a note under
    # the size limit) nests 100,000 block quotes and took four minutes to sanitise.
    site = load(write_site(tmp_path / "site"))
    with pytest.raises(DigestError, match=r"^the editor's note nests elements 5000 deep"):
        issue_new(site, NOW, note)
    with State.open(site.state_dir) as state:
        assert state.issues.all() == []


def test_large_note_composes(tmp_path: Path) -> None:
    note = "\n\n".join(f"Paragraph {n} with a [link](/p/{n}/) and *emphasis*." for n in range(1500))
    made = publish_issue(tmp_path / "site", note)
    assert len(note_cell(made.record.html).findall("p")) == 1500
    flowing = " ".join(made.record.text.split())
    assert "Paragraph 1499 with a link (https://news.example.org/p/1499/)" in flowing


def test_note_that_is_not_utf8_is_refused(tmp_path: Path, runner: CliRunner) -> None:
    root = write_site(tmp_path / "site")
    note = tmp_path / "note.md"
    note.write_bytes(b"Caf\xe9 <script>alert(1)</script>\n")
    result = invoke(runner, "--site", root, "issue", "new", "--note", note, "--now", NOW_ARG)
    assert result.exit_code == 2
    assert f"{note} is not UTF-8; save it as UTF-8" in result.stderr
    with State.open(load(root).state_dir) as state:
        assert state.issues.all() == []


def test_preview_and_the_cli_path_carry_the_safe_note(tmp_path: Path, runner: CliRunner) -> None:
    """Written by `issue new --note FILE` and shown by `issue preview N` (the stored issue,
    which `send --test` sends too): the note's HTML is the sanitised one in every file."""
    root = write_site(tmp_path / "site")
    note = tmp_path / "note.md"
    note.write_text(HOSTILE["script"] + "\n\n" + HOSTILE["onerror"] + "\n", encoding="utf-8")
    made = invoke(runner, "--site", root, "issue", "new", "--note", note, "--now", NOW_ARG)
    assert made.exit_code == 0, made.output
    shown = invoke(runner, "--site", root, "issue", "preview", "1", "--now", NOW_ARG)
    assert shown.exit_code == 0, shown.output
    paths = [Path(line) for line in shown.stdout.splitlines()]
    assert {p.suffix for p in paths} == {".html", ".txt", ".eml"}
    for path in paths:
        data = path.read_text(encoding="utf-8")
        assert "Hello" in data or path.suffix == ".eml"
        assert "<script" not in data.lower() and "onerror" not in data.lower()
        assert "alert(" not in data
