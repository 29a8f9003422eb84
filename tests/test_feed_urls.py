"""Every URL in an article's body reaches the feeds absolute: each attribute HTML defines as a
URL (href, src, srcset's candidates, poster, <object data>, <form action>, cite...), and CSS's
url() and @import in style attributes and <style> elements; and each Atom entry's content
says its article's address as xml:base, as jekyll-feed does.

A feed reader shows a body away from the article's page, so a relative URL left in it points
into the reader (or nowhere). The feeds are read back with lxml and every URL-bearing attribute
of every element is checked, not only the ones absolutize() knows of.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import lxml.html
import pytest
from helpers import ATOM, SETTINGS, SITE_URL, article, load, publish, write_articles
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from feedpub.text import _NOT_XML, absolutize

BASE = "https://news.example.org/2026/11/hello/"
CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"

# (HTML in a body, the same with its URLs resolved against BASE)
RESOLVED = {
    "a-href": (
        '<a href="../other/">x</a>',
        '<a href="https://news.example.org/2026/11/other/">x</a>',
    ),
    "img-src": ('<img src="pic.png">', f'<img src="{BASE}pic.png">'),
    "img-srcset": (
        '<img src="a.png" srcset="a.png 1x, /b.png 2x">',
        f'<img src="{BASE}a.png" srcset="{BASE}a.png 1x, https://news.example.org/b.png 2x">',
    ),
    "srcset-widths": (
        '<img srcset="s.jpg 480w,m.jpg 800w" sizes="50vw">',
        f'<img srcset="{BASE}s.jpg 480w, {BASE}m.jpg 800w" sizes="50vw">',
    ),
    # A comma inside a URL belongs to it; one that ends a URL ends the candidate.
    "srcset-commas": (
        '<img srcset="q.png?a=1,2 2x,r.png,">',
        f'<img srcset="{BASE}q.png?a=1,2 2x, {BASE}r.png">',
    ),
    "srcset-absolute-kept": (
        '<img srcset="https://cdn.example.net/x.png 1x, y.png 2x">',
        f'<img srcset="https://cdn.example.net/x.png 1x, {BASE}y.png 2x">',
    ),
    "picture-source-srcset": (
        '<picture><source srcset="w.webp" type="image/webp"></picture>',
        f'<picture><source srcset="{BASE}w.webp" type="image/webp"></picture>',
    ),
    "video-poster-src": (
        '<video src="clip.mp4" poster="still.jpg"></video>',
        f'<video src="{BASE}clip.mp4" poster="{BASE}still.jpg"></video>',
    ),
    "audio-source-track": (
        '<audio><source src="a.ogg"><track src="a.vtt"></audio>',
        f'<audio><source src="{BASE}a.ogg"><track src="{BASE}a.vtt"></audio>',
    ),
    "object-data": (
        '<object data="movie.swf"></object>',
        f'<object data="{BASE}movie.swf"></object>',
    ),
    "embed-iframe-src": (
        '<embed src="e.svg"><iframe src="frame.html"></iframe>',
        f'<embed src="{BASE}e.svg"><iframe src="{BASE}frame.html"></iframe>',
    ),
    "form-action": ('<form action="vote">', f'<form action="{BASE}vote">'),
    "formaction": (
        '<button formaction="b">x</button><input type="image" src="i.png" formaction="c">',
        f'<button formaction="{BASE}b">x</button>'
        f'<input type="image" src="{BASE}i.png" formaction="{BASE}c">',
    ),
    "blockquote-cite": ('<blockquote cite="src.html">', f'<blockquote cite="{BASE}src.html">'),
    "q-del-ins-cite": (
        '<q cite="q.html">x</q><del cite="d.html">y</del><ins cite="i.html">z</ins>',
        f'<q cite="{BASE}q.html">x</q><del cite="{BASE}d.html">y</del>'
        f'<ins cite="{BASE}i.html">z</ins>',
    ),
    "a-ping": ('<a href="x" ping="p1 p2">', f'<a href="{BASE}x" ping="{BASE}p1 {BASE}p2">'),
    "area-href": ('<area href="map.html">', f'<area href="{BASE}map.html">'),
    "img-longdesc": (
        '<img src="i.png" longdesc="d.html">',
        f'<img src="{BASE}i.png" longdesc="{BASE}d.html">',
    ),
    "td-background": ('<td background="bg.gif">', f'<td background="{BASE}bg.gif">'),
    "svg-xlink-href": (
        '<svg><image xlink:href="s.png"/></svg>',
        f'<svg><image xlink:href="{BASE}s.png"/></svg>',
    ),
    "style-url": (
        '<p style="background: url(bg.png)">',
        f'<p style="background: url(&quot;{BASE}bg.png&quot;)">',
    ),
    "style-url-quoted": (
        "<div style=\"background-image: url('a b.png'), url(&quot;c.png&quot;)\">",
        f'<div style="background-image: url(&quot;{BASE}a%20b.png&quot;), '
        f'url(&quot;{BASE}c.png&quot;)">',
    ),
    "style-element": (
        '<style>@import "print.css"; .x { background: url( x.png ) }</style>',
        f'<style>@import "{BASE}print.css"; .x {{ background: url( "{BASE}x.png" ) }}</style>',
    ),
    # The HTML tokenizer's view of a tag: a quoted ">" or "src=" is part of another value.
    "quoted-greater-than": (
        '<img alt="a > b" src="p.png">',
        f'<img alt="a > b" src="{BASE}p.png">',
    ),
    "url-name-in-a-value": (
        '<a title="see src=x" href=y>',
        f'<a title="see src=x" href="{BASE}y">',
    ),
    "upper-case": ('<IMG SRC="upper.png">', f'<IMG SRC="{BASE}upper.png">'),
    "unquoted-spaces-around": ('<a href=" sp.html ">', f'<a href="{BASE}sp.html">'),
    "space-encoded": ('<a href="with space.html">', f'<a href="{BASE}with%20space.html">'),
}

# HTML that holds no relative URL, or none a reader could resolve: left byte for byte.
KEPT = {
    "absolute": '<a href="https://other.example/x">',
    "mailto": '<a href="mailto:desk@example.org">',
    "data-uri": '<img src="data:image/png;base64,iVBORw0KGgo=">',
    "data-attribute": '<p data="x" data-src="y.png" action="z">',  # not URLs on a <p>
    "cite-element": "<cite>Some book</cite>",
    "css-fragment": '<p style="fill: url(#gradient)">',  # the document's own element
    "no-url-in-style": '<p style="color: red">',
    "style-attribute-single-quoted": "<p style='color: red'>",
}


@pytest.mark.parametrize(("html", "expected"), RESOLVED.values(), ids=RESOLVED.keys())
def test_absolutize_resolves_every_url_attribute(html: str, expected: str) -> None:
    assert absolutize(html, BASE) == expected


@pytest.mark.parametrize("html", KEPT.values(), ids=KEPT.keys())
def test_absolutize_leaves_what_holds_no_relative_url(html: str) -> None:
    assert absolutize(html, BASE) == html


# --- what the feeds carry: no relative URL anywhere in a body ----------------------------------

# Every attribute HTML (and SVG) defines as holding URLs, read here independently of
# absolutize(): (attribute, elements it is a URL on, None for all; how the URLs are listed).
URL_ATTRIBUTES: list[tuple[str, frozenset[str] | None, str]] = [
    ("href", None, "one"),
    ("{http://www.w3.org/1999/xlink}href", None, "one"),
    ("xlink:href", None, "one"),
    ("src", None, "one"),
    ("poster", frozenset({"video"}), "one"),
    ("data", frozenset({"object"}), "one"),
    ("action", frozenset({"form"}), "one"),
    ("formaction", frozenset({"button", "input"}), "one"),
    ("cite", frozenset({"blockquote", "q", "del", "ins"}), "one"),
    ("longdesc", frozenset({"img", "iframe", "frame"}), "one"),
    ("background", frozenset({"body", "table", "tr", "td", "th"}), "one"),
    ("ping", frozenset({"a", "area"}), "spaced"),
    ("srcset", frozenset({"img", "source"}), "srcset"),
]
CSS_URL = re.compile(r"""url\(\s*["']?([^"')]*)|@import\s+["']([^"']*)""")


def assert_absolute(url: str, where: str) -> None:
    assert re.match(r"https?://[^/]", url) or url.startswith(("mailto:", "data:")), (
        f"{where}: {url!r} is not absolute"
    )


def body_urls(fragment: str) -> list[tuple[str, str]]:
    """Every (where, URL) in an HTML fragment: each URL attribute, srcset candidate and CSS
    url() of each element."""
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    found = []
    for element in root.iter():
        tag = str(element.tag).lower()
        for name, elements, form in URL_ATTRIBUTES:
            value = element.get(name)
            if value is None or (elements is not None and tag not in elements):
                continue
            if form == "one":
                urls = [value.strip()]
            elif form == "spaced":
                urls = value.split()
            else:
                urls = [candidate.split()[0] for candidate in value.split(", ")]
            found += [(f"<{tag} {name}>", url) for url in urls]
        css = (element.get("style") or "") + (element.text or "" if tag == "style" else "")
        found += [
            (f"<{tag}> CSS", a or b)
            for a, b in CSS_URL.findall(css)
            if not (a or b).startswith("#")
        ]
    return found


BODY = "\n\n".join(html for html, _ in RESOLVED.values())


def feed_bodies(output: Path, folder: str) -> list[tuple[str, str]]:
    """(which feed, body HTML) for each full body the folder's feeds carry."""
    rss = etree.fromstring((output / folder / "rss.xml").read_bytes())
    atom = etree.fromstring((output / folder / "atom.xml").read_bytes())
    document = json.loads((output / folder / "feed.json").read_bytes())
    return [
        *((f"{folder}/rss.xml", e.text or "") for e in rss.iter(CONTENT_ENCODED)),
        *((f"{folder}/atom.xml", e.text or "") for e in atom.iter(f"{ATOM}content")),
        *((f"{folder}/feed.json", i["content_html"]) for i in document["items"]),
    ]


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("urls")
    (root / "content").mkdir()
    (root / "feedpub.toml").write_text(SETTINGS, encoding="utf-8")
    write_articles(
        root,
        {
            "hello.md": article("Hello", "2026-11-20 09:00", BODY, author="Ann Lee", tags="[news]"),
            "other.md": article("Other", "2026-11-21 09:00", "See [x](x.html)."),
        },
    )
    publish(root)
    return load(root).output_dir


@pytest.mark.parametrize("folder", ["", "tags/news", "authors/ann-lee"])
def test_feeds_carry_no_relative_url(output: Path, folder: str) -> None:
    bodies = feed_bodies(output, folder)
    assert len(bodies) == 3 * (2 if folder == "" else 1)
    for feed, html in bodies:
        urls = body_urls(html)
        assert urls, feed
        for where, url in urls:
            assert_absolute(url, f"{feed} {where}")


def test_feeds_carry_each_resolved_url(output: Path) -> None:
    """Not only absolute: resolved against the article's address, as written."""
    for feed, html in feed_bodies(output, "tags/news"):
        for _, expected in RESOLVED.values():
            # The same fragment, read back; lxml spells attributes its own way, so URLs only.
            wanted = {url for _, url in body_urls(expected)}
            assert wanted <= {url for _, url in body_urls(html)}, (feed, expected)


def test_atom_content_says_its_article_as_xml_base(output: Path) -> None:
    for folder in ("", "tags/news", "authors/ann-lee"):
        atom = etree.fromstring((output / folder / "atom.xml").read_bytes())
        entries = atom.findall(f"{ATOM}entry")
        assert entries, folder
        for entry in entries:
            (link,) = [
                e.get("href")
                for e in entry.findall(f"{ATOM}link")
                if e.get("rel", "alternate") == "alternate"
            ]
            content = entry.find(f"{ATOM}content")
            assert content is not None and content.get(XML_BASE) == link, folder
            # The entry's own link resolves against the document (SameDocumentReference).
            assert entry.get(XML_BASE) is None, folder
        assert atom.get(XML_BASE) is None  # the feed's own base stays the document's


def test_xml_base_resolves_what_a_reader_resolves(output: Path) -> None:
    """feedparser applies xml:base: the entry's relative references (none are left) and its
    links come out the same as written."""
    import feedparser

    parsed = feedparser.parse((output / "atom.xml").read_bytes())
    assert parsed.bozo == 0
    links = {entry.title: entry.link for entry in parsed.entries}
    assert links == {
        "Other": SITE_URL + "2026/11/other/",
        "Hello": SITE_URL + "2026/11/hello/",
    }


# --- any HTML in: every URL absolute once ------------------------------------------------------

PIECES = [
    *(html for html, _ in RESOLVED.values()),
    *KEPT.values(),
    "<p>", "</p>", " text ", "&amp;", "&#12;", '"', "'", ">", "<", "=", " src=", " href='",
    "<a href=", "<img srcset=", " style=", "url(", ")", "<style>", "</style>", "<!-- ", " -->",
]  # fmt: skip


@given(st.lists(st.sampled_from(PIECES) | st.text(max_size=8), max_size=30).map("".join))
def test_absolutize_is_idempotent_and_keeps_the_fragment_xml_safe(html: str) -> None:
    once = absolutize(html, BASE)
    assert absolutize(once, BASE) == once  # every URL it wrote is absolute
    # Nothing XML cannot carry comes in through a resolved URL (href="a&#12;b").
    assert len(_NOT_XML.findall(once)) <= len(_NOT_XML.findall(html))
