"""The newsletter digest: how it renders in a browser, what its HTML is made of, its text twin,
its email, its size, its subject, and what hostile titles do to it."""

from __future__ import annotations

import email
import email.policy
import json
import re
import socket
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from click.testing import CliRunner
from helpers import NOW, SETTINGS, SITE_URL, chromium_result, load

from feedpub.cli import main
from feedpub.config import Site
from feedpub.delivery.messages import preview_message
from feedpub.errors import DigestError
from feedpub.newsletter import digest, issues
from feedpub.newsletter.digest import GMAIL_CLIP_BYTES
from feedpub.placeholders import MANAGE_PLACEHOLDER
from feedpub.site.build import load_catalog
from feedpub.store.issues import UNSUBSCRIBE_PLACEHOLDER, IssueRecord
from feedpub.store.state import State

UNSUBSCRIBE = "https://news.example.org/unsubscribe"
NEWSLETTER = f"""
[newsletter]
name = "The Test Weekly"
from = "Test Gazette <news@example.org>"
schedule = "manual"
lookback_days = 60
unsubscribe_url = "{UNSUBSCRIBE}"
"""
# Wrapped at 72 on its own, its first line takes 70 columns: with "1. " in front, 73.
LONG_TITLE = (
    "After a long meeting that ran past midnight, the school board approved its budget, "
    "four votes to one"
)
NEWEST_TITLE = "Donaudampfschifffahrtsgesellschaftskapitänsmützenausstellung eröffnet"
WIDE_IMAGE = (1600, 500)
# The note's own picture, wider than any column; Markdown gives it no width.
NOTE_IMAGE = (1200, 300)
NOTE = """\
**Welcome** to the first issue. The [archive](/archive/) has every article, and the
[feed](https://news.example.org/rss.xml) brings them to your reader:
<https://news.example.org/2026/11/a-rather-long-address-that-has-to-wrap-somewhere-on-a-phone/>

- one thing
- and another

![This week's chart](/images/chart.png)
"""


def front_matter(title: str, date: str, body: str = "Body text.", **meta: Any) -> str:
    """A Markdown article; values written as JSON, which YAML reads as they are."""
    lines = ["---", f"title: {json.dumps(title, ensure_ascii=False)}", f"date: {date}"]
    lines += [f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in meta.items()]
    return "\n".join(lines) + "\n---\n\n" + body + "\n"


ARTICLES = {
    "2026-11-20-budget.md": front_matter(
        LONG_TITLE,
        "2026-11-20 09:00",
        "The board met for six hours. " * 20,
        authors=[
            "Alexandra Montgomery-Worthington",
            "Bartholomew Fitzgerald-Okonkwo",
            "Christina Vasquez-Delacroix",
        ],
        summary="The budget adds a counselor and delays the band uniforms for another year.",
    ),
    "2026-11-21-makerspace.md": front_matter(
        "Library opens a makerspace",
        "2026-11-21 10:00",
        "The back corner of the library now smells of sawdust and hot glue.\n\n"
        "![The laser cutter](/images/wide.png)",
        author="Zoë Okonkwo",
        image="/images/wide.png",
    ),
    "2026-11-22-concert.txt": (
        "Title: Winter concert brings 180 performers\n"
        "Date: November 22, 2026\n"
        "Author: Ruby Steiner\n\n"
        "More than 180 students will take the stage on Thursday.\n"
    ),
    "2026-11-23-ausstellung.md": front_matter(
        NEWEST_TITLE,
        "2026-11-23 11:00",
        "Eine Ausstellung mit sehr langen Wörtern.",
    ),
}


def write_site(
    root: Path,
    articles: dict[str, str] = ARTICLES,
    extra: str = NEWSLETTER,
    url: str = SITE_URL,
    templates: dict[str, str] | None = None,
) -> Site:
    (root / "content").mkdir(parents=True)
    settings = SETTINGS.replace(SITE_URL, url)
    (root / "feedpub.toml").write_text(settings + extra, encoding="utf-8")
    for name, text in articles.items():
        (root / "content" / name).write_text(text, encoding="utf-8")
    for name, text in (templates or {}).items():
        (root / "templates").mkdir(exist_ok=True)
        (root / "templates" / name).write_text(text, encoding="utf-8")
    return load(root)


def create_issue(site: Site, note: str = "") -> IssueRecord:
    """Compose and record the next issue at NOW, as `feedpub issue new` does."""
    with State.open(site.state_dir) as state:
        catalog = load_catalog(site, state, NOW)
        draft = issues.create(site, state, catalog, NOW, note)
        assert draft is not None
        record = state.issues.get(draft.number)
    assert record is not None
    return record


def compose(site: Site, note: str = "") -> issues.Draft:
    """The next issue, composed and not recorded."""
    with State.open(site.state_dir) as state:
        draft = issues.compose(site, state, load_catalog(site, state, NOW), NOW, note)
    assert draft is not None
    return draft


@dataclass(frozen=True)
class Composed:
    site: Site
    record: IssueRecord
    titles: tuple[str, ...]  # newest first, as the digest lists them


@pytest.fixture(scope="module")
def composed(tmp_path_factory: pytest.TempPathFactory) -> Composed:
    site = write_site(tmp_path_factory.mktemp("digest") / "site")
    record = create_issue(site, NOTE)
    return Composed(site, record, tuple(item.title for item in record.items))


@pytest.fixture(scope="module")
def doc(composed: Composed) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(composed.record.html)


def test_issue_carries_every_article_newest_first(composed: Composed) -> None:
    assert composed.titles == (
        NEWEST_TITLE,
        "Winter concert brings 180 performers",
        "Library opens a makerspace",
        LONG_TITLE,
    )


# ---------------------------------------------------------------------------------------------
# In a browser: headless Chromium, at a desktop client's width and a phone's, light and dark.


def png(width: int, height: int) -> bytes:
    """A plain RGB PNG of the given size: wide enough to overflow anything that lets it."""
    row = b"\x00" + bytes((40, 90, 160)) * width

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A web server on 127.0.0.1 for a folder: (its base URL, the folder)."""
    folder = tmp_path_factory.mktemp("served")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", folder
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# The page around the digest: an iframe of the width under test (headless Chromium will not
# make its window narrower than 500 pixels, and an iframe is a viewport of its own, media
# queries included), and a script that measures the digest once everything has loaded and
# writes what it found into <pre id="result"> for --dump-dom. Served from the same origin as
# the digest, so the script may read it; the digest file itself stays as feedpub wrote it.
FRAME = """\
<!DOCTYPE html>
<html><head><meta charset="utf-8"></head>
<body style="margin:0">
<iframe id="digest" src="digest.html" style="width:{width}px; height:1200px; border:0"></iframe>
<pre id="result">not measured</pre>
<script>
function background(win, el) {{
  for (; el; el = el.parentElement) {{
    var color = win.getComputedStyle(el).backgroundColor;
    if (color !== "rgba(0, 0, 0, 0)" && color !== "transparent") return color;
  }}
  return "";
}}
function measure() {{
  var frame = document.getElementById("digest");
  var win = frame.contentWindow, doc = frame.contentDocument, root = doc.documentElement;
  var out = {{
    innerWidth: win.innerWidth,
    clientWidth: root.clientWidth,
    scrollWidth: root.scrollWidth,
    dark: win.matchMedia("(prefers-color-scheme: dark)").matches,
    outside: [], images: [], cards: [], texts: []
  }};
  doc.querySelectorAll("body *").forEach(function (el) {{
    var box = el.getBoundingClientRect();
    if (box.width > 0 && (box.left < -0.5 || box.right > win.innerWidth + 0.5)) {{
      out.outside.push(el.tagName + "." + el.className + " " + Math.round(box.left) + ".."
        + Math.round(box.right) + ": " + el.textContent.trim().slice(0, 40));
    }}
  }});
  doc.querySelectorAll("img").forEach(function (img) {{
    var box = img.getBoundingClientRect();
    out.images.push({{src: img.src, natural: img.naturalWidth, width: box.width}});
  }});
  doc.querySelectorAll("table.card").forEach(function (table) {{
    out.cards.push(table.getBoundingClientRect().width);
  }});
  doc.querySelectorAll("body *").forEach(function (el) {{
    var own = "";
    el.childNodes.forEach(function (n) {{ if (n.nodeType === 3) own += n.textContent; }});
    if (!own.trim() || el.getClientRects().length === 0) return;
    var style = win.getComputedStyle(el);
    out.texts.push({{text: own.trim().slice(0, 40), color: style.color,
                    background: background(win, el)}});
  }});
  document.getElementById("result").textContent = JSON.stringify(out);
}}
document.getElementById("digest").addEventListener("load", measure);
</script>
</body></html>
"""


def luminance(color: str) -> float:
    r, g, b = (int(v) / 255 for v in re.findall(r"[\d.]+", color)[:3])
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(one: str, two: str) -> float:
    high, low = sorted((luminance(one), luminance(two)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.fixture(scope="module")
def browser_site(served: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test site, served from 127.0.0.1 (its image too); the digest is served/digest.html."""
    base, folder = served
    site = write_site(tmp_path_factory.mktemp("browser") / "site", url=base)
    record = create_issue(site, NOTE)
    assert "<script" not in record.html.lower()
    (folder / "images").mkdir()
    (folder / "images" / "wide.png").write_bytes(png(*WIDE_IMAGE))
    (folder / "images" / "chart.png").write_bytes(png(*NOTE_IMAGE))
    (folder / "digest.html").write_text(record.html, encoding="utf-8")
    return folder


def render_in_chromium(folder: Path, base: str, width: int, dark: bool, profile: Path) -> Any:
    page = folder / f"frame-{width}.html"
    page.write_text(FRAME.format(width=width), encoding="utf-8")
    result = chromium_result(
        f"{base}{page.name}", profile, window="800,1400", budget_ms=5000, dark=dark
    )
    assert result != "not measured", "the digest never finished loading"
    return json.loads(result)


@pytest.mark.parametrize(
    ("width", "dark"),
    [(600, False), (375, False), (600, True), (375, True)],
    ids=["600-light", "375-light", "600-dark", "375-dark"],
)
def test_digest_fits_the_screen_and_stays_readable(
    browser_site: Path, served: tuple[str, Path], tmp_path: Path, width: int, dark: bool
) -> None:
    result = render_in_chromium(browser_site, served[0], width, dark, tmp_path / "profile")
    assert result["innerWidth"] == width
    assert result["dark"] is dark
    # No horizontal scrolling, and nothing sticks out of the screen.
    assert result["outside"] == []
    assert result["scrollWidth"] <= result["clientWidth"] == width
    assert result["cards"] and all(w <= min(width, 600) for w in result["cards"])
    # The note's 1200-pixel picture and the article's 1600-pixel one loaded and were scaled
    # down to their columns.
    chart, image = result["images"]
    assert chart["src"].endswith("/images/chart.png")
    assert chart["natural"] == NOTE_IMAGE[0]
    assert 0 < chart["width"] <= min(width, 600) - 64
    assert image["src"].endswith("/images/wide.png")
    assert image["natural"] == WIDE_IMAGE[0]
    assert 0 < image["width"] <= min(width, 600) - 32
    # Every visible text stands out from its background (WCAG AA: 4.5:1).
    assert len(result["texts"]) > 20
    poor = [
        (t["text"], t["color"], t["background"], round(contrast(t["color"], t["background"]), 2))
        for t in result["texts"]
        if contrast(t["color"], t["background"]) < 4.5
    ]
    assert poor == []
    card = [t for t in result["texts"] if t["text"] == "The Test Weekly"]
    assert card and (luminance(card[0]["background"]) < 0.1) is dark


# ---------------------------------------------------------------------------------------------
# What the HTML is made of.


def test_every_image_has_alt_text(doc: lxml.html.HtmlElement) -> None:
    images = doc.xpath("//img")
    alts = [img.get("alt", "").strip() for img in images]
    assert alts == ["This week's chart", "Library opens a makerspace"]
    assert [img.get("src") for img in images] == [
        "https://news.example.org/images/chart.png",
        "https://news.example.org/images/wide.png",
    ]


def test_every_link_is_absolute(doc: lxml.html.HtmlElement) -> None:
    hrefs = [a.get("href") for a in doc.xpath("//a[@href]")]
    assert len(hrefs) >= 4 * 2 + 5
    assert [h for h in hrefs if not re.match(r"https?://[^/]+/", h)] == []
    assert UNSUBSCRIBE_PLACEHOLDER in hrefs
    # The note's relative link points into the site.
    assert "https://news.example.org/archive/" in hrefs


@pytest.mark.parametrize(
    "xpath",
    ["//script", "//form", "//link[contains(@rel, 'stylesheet')]", "//iframe", "//object"],
    ids=["script", "form", "stylesheet", "iframe", "object"],
)
def test_nothing_active_or_external(doc: lxml.html.HtmlElement, xpath: str) -> None:
    assert doc.xpath(xpath) == []


def test_no_css_import(composed: Composed) -> None:
    assert "@import" not in composed.record.html.lower()


def test_css_is_inlined(doc: lxml.html.HtmlElement, composed: Composed) -> None:
    for title in composed.titles:
        [link] = doc.xpath("//h2[@class='title']/a[normalize-space(.)=$t]", t=title)
        assert re.search(r"(^|;)\s*color:\s*#[0-9a-f]{3,6}", link.get("style", ""))
    summary = doc.xpath("//div[@class='summary']")[0]
    assert "font-size:16px" in summary.get("style", "").replace(" ", "")


def test_at_most_600_pixels_wide(doc: lxml.html.HtmlElement) -> None:
    [card] = doc.xpath("//table[contains(@class, 'card')]")
    # The attribute for Outlook, which ignores max-width; the style for everyone else.
    assert card.get("width") == "600"
    assert "max-width:600px" in card.get("style", "").replace(" ", "")
    for img in doc.xpath("//img"):
        assert int(img.get("width")) <= 600
    widths = [int(w) for w in doc.xpath("//@width") if w.isdigit()]
    assert max(widths) == 600


def test_hidden_preheader_comes_first(doc: lxml.html.HtmlElement) -> None:
    assert doc.body is not None
    first = doc.body[0]
    style = first.get("style", "").replace(" ", "")
    assert "display:none" in style and "max-height:0" in style
    assert first.text_content().startswith("Welcome to the first issue. The archive has every")


def test_dark_mode_rules_stay_in_a_style_block(doc: lxml.html.HtmlElement) -> None:
    styles = "".join(s.text_content() for s in doc.xpath("//style"))
    assert "@media (prefers-color-scheme: dark)" in styles
    assert "!important" in styles
    assert doc.xpath("//meta[@name='color-scheme']/@content") == ["light dark"]


def test_note_is_shown_as_html(doc: lxml.html.HtmlElement) -> None:
    [note] = doc.xpath("//td[@class='note']")
    assert note.xpath(".//strong/text()") == ["Welcome"]
    assert note.xpath(".//li/text()") == ["one thing", "and another"]


# ---------------------------------------------------------------------------------------------
# The email.


@pytest.fixture(scope="module")
def parsed(composed: Composed) -> EmailMessage:
    data = preview_message(composed.site, composed.record, NOW)
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_email_is_text_then_html(parsed: EmailMessage) -> None:
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert [p.get_content_charset() for p in parts] == ["utf-8", "utf-8"]


def test_email_parts_carry_the_issue(parsed: EmailMessage, composed: Composed) -> None:
    # On the wire lines end in CRLF, and the parser keeps them.
    text, html = (p.get_content().replace("\r\n", "\n") for p in parsed.iter_parts())
    record = composed.record
    # The preview is the message of a sample reader: their own link, the list's with a token.
    link = str(parsed["List-Unsubscribe"]).split(">", 1)[0].removeprefix("<")
    assert link.startswith(UNSUBSCRIBE + "?t=")
    found = re.search(r"^Manage your subscription: (\S+)$", text, re.M)
    assert found is not None
    manage = found[1]
    assert manage.startswith("https://news.example.org/manage?t=")
    for part, source in ((text, record.text), (html, record.html)):
        mine = source.replace(UNSUBSCRIBE_PLACEHOLDER, link).replace(MANAGE_PLACEHOLDER, manage)
        assert part.rstrip("\n") == mine.rstrip()
    assert UNSUBSCRIBE_PLACEHOLDER not in text + html
    assert MANAGE_PLACEHOLDER not in text + html


def test_email_headers(parsed: EmailMessage, composed: Composed) -> None:
    assert (
        parsed["Subject"] == composed.record.subject == f"The Test Weekly #1: {composed.titles[0]}"
    )
    assert parsed["From"] == "Test Gazette <news@example.org>"
    assert parsed["Date"].datetime == NOW
    # The sample reader's, as each reader's carries a hash of their address.
    pattern = r"<issue-1\.[0-9a-f-]{36}\.[0-9a-f]{20}@news\.example\.org>"
    assert re.fullmatch(pattern, parsed["Message-ID"])


def test_non_ascii_subject_survives(tmp_path: Path) -> None:
    extra = NEWSLETTER.replace("The Test Weekly", "Zeitung für Groß & Klein 📰")
    site = write_site(tmp_path / "site", extra=extra)
    record = create_issue(site)
    data = preview_message(site, record, NOW)
    # On the wire every header is ASCII (RFC 2047 encoded words).
    headers = data.split(b"\r\n\r\n", 1)[0]
    assert headers.isascii()
    assert re.search(rb"^Subject: .*=\?utf-8\?", headers, re.M)
    message = email.message_from_bytes(data, policy=email.policy.default)
    subject = "Zeitung für Groß & Klein 📰 #1: " + record.items[0].title
    assert message["Subject"] == record.subject == subject
    assert parsedate_to_datetime(message["Date"]) == NOW


# ---------------------------------------------------------------------------------------------
# The text part.

# A line that may be longer: one URL, bare, in <angle brackets>, or after a label.
URL_LINE = re.compile(r"(?:[A-Za-z][\w ]*: )?(https?://\S+|<https?://\S+>)")


def test_text_lines_fit_72_columns(composed: Composed) -> None:
    lines = composed.record.text.splitlines()
    long = [line for line in lines if len(line) > 72 and not URL_LINE.fullmatch(line)]
    assert long == []
    assert any(URL_LINE.fullmatch(line) and len(line) > 72 for line in lines)


def test_text_has_every_title_and_link(composed: Composed) -> None:
    text = composed.record.text
    flowing = " ".join(text.split())
    for item in composed.record.items:
        assert " ".join(item.title.split()) in flowing
        assert f"Read it: {item.link}\n" in text
    for url in (
        "https://news.example.org/issues/1/",
        "https://news.example.org/rss.xml",
        "https://news.example.org/issues/rss.xml",
        MANAGE_PLACEHOLDER,
        UNSUBSCRIBE_PLACEHOLDER,
    ):
        assert re.search(rf"^\w[\w ]*: {re.escape(url)}$", text, re.M)


def test_text_carries_the_note_from_its_html(composed: Composed) -> None:
    # Its words, not its Markdown; its links written out after them, resolved to the site.
    text = composed.record.text
    assert "\nWelcome to the first issue. The archive\n(https://news.example.org/archive/)" in text
    assert "**" not in text
    assert "\n- one thing\n- and another\n" in text
    assert "[This week's chart] (https://news.example.org/images/chart.png)" in text


# ---------------------------------------------------------------------------------------------
# Gmail clips messages over 102 KB.


def many_articles(count: int) -> dict[str, str]:
    return {
        f"2026-11-{1 + n % 25:02d}-story-{n}.md": front_matter(
            f"Story {n}: " + "a long headline that goes on and on about the news " * 3,
            f"2026-11-{1 + n % 25:02d} {n % 24:02d}:00",
            "Body text.",
            summary=f"Summary {n}: " + "a long summary of what happened and why it matters. " * 12,
            author="A Reporter With A Long Name",
        )
        for n in range(count)
    }


def test_default_template_stays_under_gmail_clipping(tmp_path: Path) -> None:
    extra = NEWSLETTER + "max_items = 25\n"
    site = write_site(tmp_path / "site", articles=many_articles(40), extra=extra)
    draft = compose(site)
    assert (len(draft.articles), draft.waiting) == (25, 15)
    size = len(draft.digest.html.encode())
    assert 40_000 < size < GMAIL_CLIP_BYTES
    assert draft.digest.warnings == ()


PADDED = """\
<!DOCTYPE html>
<html><head><title>{{ subject }}</title></head>
<body>{% for article in issue.articles %}<p>{{ article.title }}</p>{% endfor %}
<div>{{ "padding " * 14000 }}</div></body></html>
"""


@pytest.fixture
def padded_site(tmp_path: Path) -> Site:
    return write_site(tmp_path / "site", templates={"digest.html": PADDED})


def test_oversized_digest_warns(padded_site: Site) -> None:
    draft = compose(padded_site)
    assert len(draft.digest.html.encode()) > GMAIL_CLIP_BYTES
    [warning] = draft.digest.warnings
    assert "102 KB" in warning
    assert warning.startswith("the HTML is 109 KB")


def test_issue_preview_prints_the_warning(padded_site: Site, runner: CliRunner) -> None:
    args = ["--site", str(padded_site.root), "issue", "preview", "--now", NOW.isoformat()]
    result = runner.invoke(main, args, prog_name="feedpub")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("warning: the HTML is 109 KB: Gmail clips messages over 102 KB")
    assert "warning" not in result.stdout
    assert result.stdout.splitlines()[0].endswith("issue-1.html")


# ---------------------------------------------------------------------------------------------
# premailer inlines the CSS; neither it nor the CSS parser under it may reach the network.


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every attempt to resolve or connect is recorded and refused."""
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("the network is off in this test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


EXTERNAL_CSS = {
    "link": '<link rel="stylesheet" href="https://example.com/x.css">',
    "import": '<style>@import url("https://example.com/x.css"); p { color: red; }</style>',
    "escaped-import": '<style>@\\69mport "https://example.com/x.css"; p { color: red; }</style>',
}


@pytest.mark.parametrize("css", EXTERNAL_CSS.values(), ids=list(EXTERNAL_CSS))
def test_external_css_is_refused_without_fetching(
    tmp_path: Path, no_network: list[object], css: str
) -> None:
    template = PADDED.replace('<div>{{ "padding " * 14000 }}</div>', "").replace(
        "</title>", "</title>" + css
    )
    site = write_site(tmp_path / "site", templates={"digest.html": template})
    with pytest.raises(DigestError, match=r"https://example\.com/x\.css") as raised:
        compose(site)
    assert "mail clients" in str(raised.value)
    assert no_network == []


def test_local_css_inlines_without_network(tmp_path: Path, no_network: list[object]) -> None:
    template = PADDED.replace('<div>{{ "padding " * 14000 }}</div>', "").replace(
        "</title>", "</title><style>p { color: #123456; }</style>"
    )
    site = write_site(tmp_path / "site", templates={"digest.html": template})
    html = compose(site).digest.html
    assert '<p style="color:#123456">' in html
    assert no_network == []


# ---------------------------------------------------------------------------------------------
# The subject line.

SUBJECTS = {
    "default": (None, f"The Test Weekly #1: {NEWEST_TITLE}"),
    "custom": (
        "{{ site.title }}: issue {{ issue.number }}, {{ issue.articles | length }} stories",
        "Test Gazette: issue 1, 4 stories",
    ),
    "newlines": (
        "{{ newsletter.name }}\\n  #{{ issue.number }}\\t\\r\\n{{ issue.articles[-1].title }}\\n",
        f"The Test Weekly #1 {LONG_TITLE}",
    ),
}


@pytest.mark.parametrize(("template", "expected"), SUBJECTS.values(), ids=list(SUBJECTS))
def test_subject(tmp_path: Path, template: str | None, expected: str) -> None:
    extra = NEWSLETTER + (f'subject = "{template}"\n' if template is not None else "")
    site = write_site(tmp_path / "site", extra=extra)
    draft = compose(site)
    assert draft.digest.subject == expected
    title = lxml.html.document_fromstring(draft.digest.html).findtext(".//title")
    assert title == expected


def test_subject_error_is_a_digest_error(tmp_path: Path, runner: CliRunner) -> None:
    site = write_site(tmp_path / "site", extra=NEWSLETTER + 'subject = "{{ issue.nope }}"\n')
    with pytest.raises(DigestError, match=r"^\[newsletter\] subject cannot be rendered: .*nope"):
        compose(site)
    result = runner.invoke(
        main, ["--site", str(site.root), "issue", "new", "--now", NOW.isoformat()]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: [newsletter] subject cannot be rendered:")
    with State.open(site.state_dir) as state:
        assert state.issues.all() == []


# ---------------------------------------------------------------------------------------------
# Hostile titles: escaped in the HTML, exactly as written in the text part.

HOSTILE = {
    "script": '<script>alert("x")</script> & the <b>bold</b> truth',
    "ampersand-quotes": 'Tom & Jerry\'s "best" <3 day &amp; night',
    "rtl": "שלום עולם \u200fمرحبا بالعالم\u200f and English",  # noqa: RUF001 - Arabic on purpose
    "emoji": "Bake sale 🍪 raises $500 👩\u200d🔬 for the lab 🎉",
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Composed:
    articles = {
        f"2026-11-2{n}-{key}.md": front_matter(
            title, f"2026-11-2{n} 09:00", "Body.", summary=f"Summary of {title}", image="/i.png"
        )
        for n, (key, title) in enumerate(HOSTILE.items())
    }
    site = write_site(tmp_path_factory.mktemp("hostile") / "site", articles=articles)
    record = create_issue(site)
    return Composed(site, record, tuple(item.title for item in record.items))


def test_hostile_html_has_no_markup_from_titles(hostile: Composed) -> None:
    html = hostile.record.html
    assert "<script" not in html.lower()
    assert "<b>" not in html
    assert '&lt;script&gt;alert("x")&lt;/script&gt; &amp; the &lt;b&gt;bold&lt;/b&gt;' in html


@pytest.mark.parametrize("title", HOSTILE.values(), ids=list(HOSTILE))
def test_hostile_title_round_trips(hostile: Composed, title: str) -> None:
    assert title in hostile.titles
    doc = lxml.html.document_fromstring(hostile.record.html)
    [link] = doc.xpath("//h2[@class='title']/a[.=$t]", t=title)
    assert link.get("href", "").startswith("https://news.example.org/")
    assert doc.xpath("//img[@alt=$t]/@alt", t=title) == [title]
    assert doc.xpath("//div[@class='summary']/text()").count(f"Summary of {title}") == 1
    index = hostile.titles.index(title) + 1
    assert f"\n{index}. {title}\n" in hostile.record.text
    assert f"\nSummary of {title}\n" in hostile.record.text


def test_css_warnings_come_back_as_warnings(capfd: pytest.CaptureFixture[str]) -> None:
    html = (
        "<html><head><style>p { color red; } p { color: blue; }</style></head>"
        "<body><p>x</p></body></html>"
    )
    inlined, warnings = digest.inline_css(html)
    assert 'style="color:blue"' in inlined
    assert any(w.startswith("CSS: ") and "color red" in w for w in warnings), warnings
    captured = capfd.readouterr()
    assert "color red" not in captured.err
    # The parser's own logger is given back: a second call collects its own warnings only.
    assert digest.inline_css(html)[1] == warnings
