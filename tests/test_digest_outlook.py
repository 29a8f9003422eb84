"""The digest in Outlook and for screen readers: the MSO wrapper and document settings, headings,
link text, one tab stop per article, image sizes, the preview text's padding; and the sender's
postal address in both footers, with `feedpub check`'s warning when a sending site has none.

Outlook desktop cannot run here: what it reads (conditional comments, mso- properties, size
attributes) is checked in the HTML as parsed by lxml; tests/test_digest.py renders the same
digest in Chromium."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import lxml.etree
import lxml.html
import pytest
from click.testing import CliRunner
from helpers import NOW, NOW_ARG, SETTINGS, load

from feedpub import config
from feedpub.cli import main
from feedpub.config import POSTAL_ADDRESS_MISSING, Site
from feedpub.errors import ConfigError
from feedpub.newsletter import digest, issues
from feedpub.site.build import load_catalog
from feedpub.store.issues import UNSUBSCRIBE_PLACEHOLDER
from feedpub.store.state import State

NEWSLETTER = """
[newsletter]
name = "The Test Weekly"
from = "Test Gazette <news@example.org>"
schedule = "manual"
lookback_days = 60
"""
ADDRESS = 'postal_address = """\nTest Gazette\n  12 Harbour Road  \n\nPort <Town> & Co, 4000\n"""\n'
ADDRESS_LINES = ["Test Gazette", "12 Harbour Road", "Port <Town> & Co, 4000"]
SMTP = '\n[smtp]\nhost = "127.0.0.1"\nport = 2525\nsecurity = "none"\n'
REMOTE_IMAGE = "https://images.example.com/photo.jpg"
# Titles newest first, as the digest lists them, and each article's picture.
ARTICLES = {
    "2026-11-24-wide.md": ("A wide picture from the lab", "/images/wide.png"),
    "2026-11-23-small.md": ("A small badge", "/images/badge.png"),
    "2026-11-22-remote.md": ("A photo from elsewhere", REMOTE_IMAGE),
    "2026-11-21-plain.md": ("Budget passes", None),
    # The same words as another's title: the link text still tells the articles apart.
    "2026-11-20-budget.md": ("Budget passes, four votes to one", None),
}
TITLES = tuple(title for title, _ in ARTICLES.values())
# Link texts that say nothing about where they lead, out of context (WCAG 2.4.4).
VAGUE = {"read the article", "read more", "read it", "more", "click here", "here", "link"}
# U+034F COMBINING GRAPHEME JOINER, ZERO WIDTH NON-JOINER, NO-BREAK SPACE.
PADDING = "\u034f\u200c\u00a0"


def png(width: int, height: int) -> bytes:
    """A PNG of the given size, as small as one can be."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress((b"\x00" + b"\x80" * width) * height)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def write_site(root: Path, extra: str = NEWSLETTER) -> Site:
    (root / "content").mkdir(parents=True)
    (root / "static" / "images").mkdir(parents=True)
    (root / "static" / "images" / "wide.png").write_bytes(png(1200, 400))
    (root / "static" / "images" / "badge.png").write_bytes(png(200, 100))
    (root / "feedpub.toml").write_text(SETTINGS + extra, encoding="utf-8")
    for day, (name, (title, image)) in enumerate(ARTICLES.items()):
        lines = ["---", f"title: {title!r}", f"date: 2026-11-{24 - day} 09:00"]
        lines += [f"image: {image}"] if image else []
        lines += [f"summary: What {title} is about."]
        text = "\n".join(lines) + "\n---\n\nBody.\n"
        (root / "content" / name).write_text(text, encoding="utf-8")
    return load(root)


def compose(site: Site) -> digest.Digest:
    with State.open(site.state_dir) as state:
        draft = issues.compose(site, state, load_catalog(site, state, NOW), NOW, "")
    assert draft is not None
    return draft.digest


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> digest.Digest:
    site = write_site(tmp_path_factory.mktemp("outlook") / "site", NEWSLETTER + ADDRESS)
    return compose(site)


@pytest.fixture(scope="module")
def doc(rendered: digest.Digest) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(rendered.html)


def conditional(comment: lxml.html.HtmlElement, condition: str) -> str | None:
    """What a conditional comment (``<!--[if mso]>...<![endif]-->``) holds for the clients
    that ``condition`` names; None for any other comment."""
    found = re.fullmatch(r"\[if (.+?)\]>(.*)<!\[endif\]", comment.text or "", re.S)
    return found.group(2) if found and found.group(1) == condition else None


def mso_parts(element: lxml.html.HtmlElement, condition: str = "mso") -> list[str]:
    """What each conditional comment for ``condition`` in ``element`` holds, in order."""
    return [
        held
        for comment in element.iter(lxml.etree.Comment)
        if (held := conditional(comment, condition)) is not None
    ]


def test_outlook_reads_the_office_document_settings(doc: lxml.html.HtmlElement) -> None:
    html = doc.getroottree().getroot()
    assert html.get("xmlns:v") == "urn:schemas-microsoft-com:vml"
    assert html.get("xmlns:o") == "urn:schemas-microsoft-com:office:office"
    head = doc.find("head")
    assert head is not None
    [held] = [
        found
        for comment in head.iter(lxml.etree.Comment)
        if (found := conditional(comment, "gte mso 9")) is not None
    ]
    wrapped = f'<w xmlns:o="urn:schemas-microsoft-com:office:office">{held}</w>'
    settings = lxml.etree.fromstring(wrapped.encode())
    office = "{urn:schemas-microsoft-com:office:office}"
    [element] = settings.findall(f"xml/{office}OfficeDocumentSettings")
    assert element.find(f"{office}AllowPNG") is not None
    assert element.findtext(f"{office}PixelsPerInch") == "96"


def test_outlook_sees_a_600_pixel_table_around_the_card(doc: lxml.html.HtmlElement) -> None:
    assert doc.body is not None
    comments = list(doc.body.iter(lxml.etree.Comment))
    [card] = doc.xpath("//table[contains(@class, 'card')]")
    opening, closing = mso_parts(doc.body)
    # The wrapper opens a 600-pixel table and a cell, and closes them after the card.
    assert re.fullmatch(r"<table\b[^>]*\bwidth=\"600\"[^>]*><tr><td\b[^>]*>", opening)
    assert closing == "</td></tr></table>"
    held = [conditional(comment, "mso") for comment in comments]
    before, after = comments[held.index(opening)], comments[held.index(closing)]
    assert isinstance(card, lxml.html.HtmlElement)
    assert before.getnext() is card
    assert card.getnext() is after
    # Everyone else sees no table of their own there: the card fills a phone's width.
    assert "max-width:600px" in card.get("style", "").replace(" ", "")


def test_mso_styles_are_read_by_outlook_only(doc: lxml.html.HtmlElement) -> None:
    # In a conditional comment, premailer leaves them alone: not inlined into every cell.
    [styles] = [held for held in mso_parts(doc) if held.startswith("<style>")]
    assert "mso-table-lspace: 0pt" in styles
    assert not doc.xpath("//*[contains(@style, 'mso-table-lspace')]")


def test_every_line_height_is_exact_in_outlook(doc: lxml.html.HtmlElement) -> None:
    styled = doc.xpath("//*[contains(@style, 'line-height')]")
    assert len(styled) > 10
    for element in styled:
        style = element.get("style", "").replace(" ", "")
        assert re.search(r"mso-line-height-rule:exactly;line-height:\d+px", style), style


def test_padding_is_on_table_cells(doc: lxml.html.HtmlElement) -> None:
    # Outlook's Word engine ignores padding on most elements but cells.
    padded = [
        element.tag
        for element in doc.iter()
        if isinstance(element.tag, str)
        and re.search(r"(^|;)\s*padding", element.get("style", ""))
        and element.tag not in ("td", "body")
    ]
    assert padded == []
    assert len(doc.xpath("//td[contains(@style, 'padding')]")) > len(ARTICLES) * 2


def test_headings_name_the_issue_and_each_article(doc: lxml.html.HtmlElement) -> None:
    [h1] = doc.xpath("//h1")
    assert h1.text_content() == "The Test Weekly"
    assert [h2.text_content() for h2 in doc.xpath("//h2")] == list(TITLES)
    assert doc.xpath("//h3 | //h4 | //h5 | //h6") == []
    for heading in doc.xpath("//h1 | //h2"):
        # Clients give headings margins of their own.
        assert "margin:0" in heading.get("style", "").replace(" ", "")


def focusable_links(doc: lxml.html.HtmlElement) -> list[lxml.html.HtmlElement]:
    return [
        a
        for a in doc.xpath("//a[@href]")
        if a.get("tabindex") != "-1" and a.get("aria-hidden") != "true"
    ]


def test_each_article_is_one_link_named_by_its_title(doc: lxml.html.HtmlElement) -> None:
    links = {h2.text_content(): h2.xpath(".//a/@href") for h2 in doc.xpath("//h2")}
    assert list(links) == list(TITLES)
    for title, hrefs in links.items():
        assert len(hrefs) == 1, title
        # The article's only stop for the keyboard and the screen reader is its title.
        stops = [a for a in focusable_links(doc) if a.get("href") == hrefs[0]]
        assert [" ".join(a.text_content().split()) for a in stops] == [title]


def test_link_texts_are_descriptive_and_unique(doc: lxml.html.HtmlElement) -> None:
    leads_to: dict[str, set[str]] = {}
    for a in focusable_links(doc):
        text = " ".join(a.text_content().split())
        assert text, a.get("href")
        assert text.lower() not in VAGUE
        leads_to.setdefault(text, set()).add(a.get("href", ""))
    # One text, one place: a screen reader's list of links tells every article apart.
    assert {text: hrefs for text, hrefs in leads_to.items() if len(hrefs) > 1} == {}
    assert "Read the article" not in doc.text_content()


def test_the_picture_link_is_no_second_stop(doc: lxml.html.HtmlElement) -> None:
    pictures = doc.xpath("//img")
    assert len(pictures) == 3
    for img in pictures:
        link = img.getparent()
        assert link.tag == "a"
        assert (link.get("aria-hidden"), link.get("tabindex")) == ("true", "-1")
        [title] = doc.xpath("//h2/a[@href=$h]", h=link.get("href"))
        assert title.text_content() == img.get("alt")


def sizes(doc: lxml.html.HtmlElement) -> dict[str, tuple[str | None, str | None, str]]:
    return {
        img.get("src", ""): (img.get("width"), img.get("height"), img.get("style", ""))
        for img in doc.xpath("//img")
    }


def test_pictures_have_their_size_in_attributes(doc: lxml.html.HtmlElement) -> None:
    found = sizes(doc)
    site = "https://news.example.org/images/"
    # The site's own pictures are read: 1200 x 400 shown in the 552-pixel column, 200 x 100
    # at its own size rather than stretched. Another site's picture is not fetched: its height
    # is unknown, and Outlook keeps its proportions from the width alone.
    assert {src: (w, h) for src, (w, h, _) in found.items()} == {
        f"{site}wide.png": ("552", "184"),
        f"{site}badge.png": ("200", "100"),
        REMOTE_IMAGE: ("552", None),
    }
    for width, _, style in found.values():
        style = style.replace(" ", "")
        # Everyone else: as wide as the column allows, never wider than the attribute.
        assert "width:100%" in style and "height:auto" in style
        assert f"max-width:{width}px" in style


def test_a_picture_that_cannot_be_read_has_no_height(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site")
    (site.static_dir / "images" / "wide.png").write_bytes(b"not a picture")
    (site.static_dir / "images" / "badge.png").unlink()
    found = sizes(lxml.html.document_fromstring(compose(site).html))
    images = "https://news.example.org/images/"
    assert found[f"{images}wide.png"][:2] == ("552", None)
    assert found[f"{images}badge.png"][:2] == ("552", None)


def test_the_preview_text_is_followed_by_invisible_padding(doc: lxml.html.HtmlElement) -> None:
    assert doc.body is not None
    preview, padding = doc.body[0], doc.body[1]
    assert preview.text_content().startswith(TITLES[0] + " · ")
    for hidden in (preview, padding):
        style = hidden.get("style", "").replace(" ", "")
        assert "display:none" in style and "mso-hide:all" in style
    assert padding.get("aria-hidden") == "true"
    text = padding.text_content()
    # Only the padding's characters, enough of them to fill the longest previews.
    assert text == PADDING * (len(text) // len(PADDING))
    assert len(text) // len(PADDING) >= 90


def test_the_text_part_has_the_same_outline(rendered: digest.Digest) -> None:
    """The text twin: the newsletter's name as its underlined first line, then each article as
    a numbered title and its own address, in the HTML's order."""
    lines = rendered.text.splitlines()
    assert lines[0].startswith("The Test Weekly · Issue #1 · ")
    assert lines[1] == "=" * 72
    numbered = [line for line in lines if re.match(r"\d+\. ", line)]
    assert numbered == [f"{n}. {title}" for n, title in enumerate(TITLES, start=1)]
    links = [line for line in lines if line.startswith("Read it: ")]
    doc = lxml.html.document_fromstring(rendered.html)
    assert links == [f"Read it: {href}" for href in doc.xpath("//h2/a/@href")]


# ---------------------------------------------------------------------------------------------
# The postal address.


def test_the_address_closes_the_html_footer_line_by_line(doc: lxml.html.HtmlElement) -> None:
    [cell] = doc.xpath("(//td[contains(@class, 'foot')])[last()]")
    assert cell.get("dir") == "auto"
    shown = [part.strip() for part in cell.itertext()]
    assert shown == ADDRESS_LINES
    assert len(cell.findall("br")) == len(ADDRESS_LINES) - 1
    # Text, not markup.
    assert cell.xpath(".//*[not(self::br)]") == []


def test_the_address_closes_the_text_footer(rendered: digest.Digest) -> None:
    assert rendered.text.endswith("\n\n" + "\n".join(ADDRESS_LINES) + "\n")


def test_no_address_no_footer_lines(tmp_path: Path) -> None:
    rendered = compose(write_site(tmp_path / "site"))
    doc = lxml.html.document_fromstring(rendered.html)
    assert len(doc.xpath("//td[contains(@class, 'foot')]")) == 1
    assert rendered.text.endswith(f"Unsubscribe: {UNSUBSCRIBE_PLACEHOLDER}\n")


ADDRESSES = {
    "multi-line": (ADDRESS.removeprefix("postal_address = "), "\n".join(ADDRESS_LINES)),
    "escaped-newlines": ('"Desk\\r\\n1 Main St\\rTown"', "Desk\n1 Main St\nTown"),
    "tabs-and-blanks": ('"  1 Main St,\\tTown  "', "1 Main St, Town"),
    "blank": ('"  \\n "', ""),
}


@pytest.mark.parametrize(("written", "loaded"), ADDRESSES.values(), ids=list(ADDRESSES))
def test_the_address_loads_as_lines(tmp_path: Path, written: str, loaded: str) -> None:
    site = write_site(tmp_path / "site", NEWSLETTER + f"postal_address = {written}\n")
    assert site.newsletter.postal_address == loaded


BAD_ADDRESSES = {
    "control": ('"1 Main St\\u0007"', "holds the character U+0007"),
    "line-separator": ('"1 Main St\\u2028Town"', "holds the character U+2028"),
    "form-feed": ('"1 Main St\\fTown"', "holds the character U+000C"),
    "too-long": ('"' + "x" * 501 + '"', "is 501 characters; a postal address fits in 500"),
    "too-many-lines": ('"' + "\\n".join("abcdefghi") + '"', "has 9 lines; a postal address fits"),
    "not-a-string": ('["1 Main St"]', "must be a string in quotes, not a list"),
}


@pytest.mark.parametrize(("written", "message"), BAD_ADDRESSES.values(), ids=list(BAD_ADDRESSES))
def test_a_bad_address_is_an_error_with_its_line(
    tmp_path: Path, written: str, message: str
) -> None:
    root = tmp_path / "site"
    with pytest.raises(ConfigError) as raised:
        write_site(root, NEWSLETTER + f"postal_address = {written}\n")
    [problem] = raised.value.problems
    line = (SETTINGS + NEWSLETTER).count("\n") + 1
    assert (problem.path, problem.line) == ("feedpub.toml", line)
    assert problem.message.startswith(f"[newsletter] postal_address {message}")


def test_the_address_can_come_from_the_environment(tmp_path: Path) -> None:
    write_site(tmp_path / "site")
    env = {"FEEDPUB_NEWSLETTER_POSTAL_ADDRESS": "Desk\n1 Main St"}
    assert config.load(tmp_path / "site", env=env).newsletter.postal_address == "Desk\n1 Main St"
    with pytest.raises(ConfigError) as raised:
        config.load(tmp_path / "site", env={"FEEDPUB_NEWSLETTER_POSTAL_ADDRESS": "1\x1bMain"})
    [problem] = raised.value.problems
    assert problem.path == "environment variable FEEDPUB_NEWSLETTER_POSTAL_ADDRESS"


def check(root: Path, runner: CliRunner, *flags: str) -> tuple[int, str]:
    args = ["--site", str(root), "check", "--now", NOW_ARG, *flags]
    result = runner.invoke(main, args, prog_name="feedpub")
    return result.exit_code, result.stderr


def test_check_warns_when_a_sending_newsletter_has_no_address(
    tmp_path: Path, runner: CliRunner
) -> None:
    site = write_site(tmp_path / "site", NEWSLETTER + SMTP)
    code, stderr = check(site.root, runner)
    line = (SETTINGS + "\n").count("\n") + 1  # the [newsletter] line
    assert code == 0
    assert f"feedpub.toml:{line}: warning: {POSTAL_ADDRESS_MISSING}\n" in stderr
    assert "CAN-SPAM" in POSTAL_ADDRESS_MISSING and "postal_address" in POSTAL_ADDRESS_MISSING
    assert check(site.root, runner, "--strict")[0] == 1


SILENT = {
    "with-address": NEWSLETTER + ADDRESS + SMTP,
    "without-smtp": NEWSLETTER,
    "without-newsletter": SMTP,
}


@pytest.mark.parametrize("extra", SILENT.values(), ids=list(SILENT))
def test_check_is_silent_otherwise(tmp_path: Path, runner: CliRunner, extra: str) -> None:
    site = write_site(tmp_path / "site", extra)
    assert check(site.root, runner, "--strict") == (0, "")
