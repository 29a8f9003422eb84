"""The editor's note (``issue new --note``): its Markdown made into HTML that is safe to publish,
the same for the email, the issue's web version and the issues feed, and its plain text.

The note is the one piece of HTML in an issue that no template escapes, and the web version is a
public page on the site's own origin: what it may hold is an allow-list, applied by nh3 (the
Ammonia sanitiser, which parses as browsers do), never by patterns of our own. Its links and
images are resolved against the site, as an email has no base URL, and its images are kept
within the digest's column.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

import nh3

from feedpub.content.readers import markdown_to_html
from feedpub.errors import DigestError
from feedpub.links import absolutize
from feedpub.text import html_to_text, wrap, xml_safe

# The packaged digest.html's article column: its 600-pixel card less 24 pixels of padding on
# each side of the card's cells; the note's column: that less 16 on each side of its own cell.
ARTICLE_COLUMN = 600 - 2 * 24
COLUMN = ARTICLE_COLUMN - 2 * 16
# How deep a note's elements may nest. html5ever, under nh3, takes time quadratic in the depth:
# 100 KB of ">" (a note under the size limit) is 100,000 nested quotations and four minutes
# of work. A note a person writes nests a few levels.
MAX_DEPTH = 64
WIDTH = 72

TAGS = frozenset(
    "p br hr h2 h3 h4 h5 h6 strong b em i u s del ins mark small sub sup code kbd samp var pre "
    "blockquote q cite abbr dfn bdi bdo span a ul ol li dl dt dd img figure figcaption "
    "table caption thead tbody tfoot tr th td".split()
)
ATTRIBUTES = {
    "*": {"dir", "lang"},
    "a": {"href"},
    "img": {"src", "alt", "width"},
    "abbr": {"title"},
    "dfn": {"title"},
    "ol": {"start", "reversed"},
    "q": {"cite"},
    "blockquote": {"cite"},
    # cmark-gfm writes a table column's alignment as style="text-align: ..." (only that
    # property is kept: see STYLE_PROPERTIES).
    "th": {"style", "colspan", "rowspan"},
    "td": {"style", "colspan", "rowspan"},
}
STYLE_PROPERTIES = frozenset({"text-align"})
# Removed with what they hold: their text is code, styles or a fallback, not the note's words.
DROPPED_WITH_CONTENT = frozenset(
    "script style iframe frame frameset object embed applet noscript noembed template "
    "textarea select button svg math title xmp".split()
)
URL_SCHEMES = frozenset({"http", "https", "mailto"})
IMAGE_SCHEMES = frozenset({"http", "https"})

_HEADING = re.compile(r"<(/?)h([1-5])\b", re.IGNORECASE)
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^>]*>")
# Elements that do not nest: void ones, and ones a parser closes when the next one opens.
# ("<div/>" is not one: HTML ignores the slash, and the div stays open.)
_FLAT = frozenset(
    "area base br col embed hr img input link meta source track wbr "
    "p li dt dd tr td th option optgroup rb rt rp thead tbody tfoot colgroup caption".split()
)
_IMG = re.compile(r"<img\b([^>]*)>")
_PIXELS = re.compile(r"[0-9]{1,9}")
_WIDTH = re.compile(r'\swidth="(\d+)"')
# In an email an image's width attribute is what Outlook sizes it by; max-width is what every
# other client does, and height:auto keeps the picture's shape once it is narrowed.
_EMAIL_IMG_STYLE = "max-width:100%;height:auto;border:0"


def _depth(html: str) -> int:
    """How deep the elements of ``html`` nest, counting start tags against end tags."""
    depth = deepest = 0
    for closing, name in _TAG.findall(html):
        if name.lower() in _FLAT:
            continue
        if closing:
            depth = max(depth - 1, 0)
        else:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def _attribute(tag: str, name: str, value: str) -> str | None:
    if tag == "img" and name == "src":
        return value if urlsplit(value).scheme.lower() in IMAGE_SCHEMES else None
    if tag == "img" and name == "width":
        # Whole pixels only ("50%" means nothing to Outlook), never wider than the column.
        return str(min(int(value), COLUMN)) if _PIXELS.fullmatch(value.strip()) else None
    return value


_CLEANER = nh3.Cleaner(
    tags=set(TAGS),
    clean_content_tags=set(DROPPED_WITH_CONTENT),
    attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
    attribute_filter=_attribute,
    url_schemes=set(URL_SCHEMES),
    filter_style_properties=set(STYLE_PROPERTIES),
    # Every link of an email opens in another window or app; noopener keeps the page it opens
    # from reaching back into the one it came from. (It changes nothing on a link that stays.)
    link_rel="noopener",
    strip_comments=True,
    # note_html resolves every relative address first: one left over would lead nowhere
    # from an email, so it goes.
    url_relative="deny",
)


def note_html(note: str, base: str) -> str:
    """The note (Markdown, raw HTML allowed) as safe HTML: only the allow-list's elements and
    attributes, links http(s) or mailto, images http(s), everything resolved against ``base``
    (the site's URL), headings under the digest's own (``#`` is h2), image widths at most the
    column. '' for a note with nothing in it. DigestError if it nests too deep to parse."""
    note = xml_safe(note).strip()
    if not note:
        return ""
    html = markdown_to_html(note)
    deepest = _depth(html)
    if deepest > MAX_DEPTH:
        raise DigestError(
            f"the editor's note nests elements {deepest} deep (at most {MAX_DEPTH}): "
            "write it with fewer quotations, lists or tags inside one another"
        )
    html = _HEADING.sub(lambda m: f"<{m[1]}h{int(m[2]) + 1}", html)
    # Resolved before cleaning, so that the sanitiser judges (and has the last word on) the
    # very addresses that go out.
    safe = _CLEANER.clean(absolutize(html, base, base)).strip()
    # A note that was nothing but what the cleaner removes leaves empty elements (<p></p>):
    # no note at all, rather than an empty box above the articles.
    return safe if html_to_text(safe) or "<img" in safe else ""


def email_html(html: str) -> str:
    """The note's safe HTML as the email shows it: every image no wider than the column, in
    clients that read max-width and in Outlook, which reads the width attribute only."""

    def constrain(tag: re.Match[str]) -> str:
        attributes = tag[1]
        width = _WIDTH.search(attributes)
        return (
            f'<img{_WIDTH.sub("", attributes)} width="{width[1] if width else COLUMN}" '
            f'style="{_EMAIL_IMG_STYLE}">'
        )

    # The cleaner wrote every tag, escaping "<", ">" and quotes inside attribute values: an
    # <img> ends at the first ">", and has no style, and a width only in whole pixels.
    return _IMG.sub(constrain, html)


# ---------------------------------------------------------------------------------------------
# The text part.


@dataclass
class _Node:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[_Node | str] = field(default_factory=list)


_VOID = frozenset({"br", "hr", "img", "wbr"})
# A <br> among an inline run's words, told apart from the line ends of the source, which are
# spaces. The note's text never holds it (xml_safe drops it).
_BREAK = "\x00"


class _Tree(HTMLParser):
    """The cleaner's output as a tree: every element it writes is closed, or void."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Node("root")
        self.open = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = _Node(tag, {k: v or "" for k, v in attrs})
        self.open[-1].children.append(node)
        if tag not in _VOID:
            self.open.append(node)

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.open) - 1, 0, -1):
            if self.open[index].tag == tag:
                del self.open[index:]
                return

    def handle_data(self, data: str) -> None:
        self.open[-1].children.append(data)


_BLOCKS = frozenset(
    "p h2 h3 h4 h5 h6 ul ol li dl dt dd blockquote pre hr table caption thead tbody tfoot tr "
    "figure figcaption div".split()
)
_SPACES = re.compile(r"\s+")


def _inline(node: _Node | str) -> str:
    """The words of an inline piece, links written out after their text."""
    if isinstance(node, str):
        return node
    if node.tag == "br":
        return _BREAK
    if node.tag == "img":
        alt = " ".join(node.attrs.get("alt", "").split()) or "image"
        src = node.attrs.get("src", "")
        return f"[{alt}] ({src})" if src else f"[{alt}]"
    words = "".join(_inline(child) for child in node.children)
    if node.tag == "a" and node.attrs.get("href"):
        href = node.attrs["href"]
        shown = href.removeprefix("mailto:")
        if " ".join(words.split()) in (href, shown):
            return shown
        return f"{words} ({shown})" if words.strip() else shown
    return words


def _fill(words: str, first: str, rest: str) -> list[str]:
    """Paragraph text wrapped at 72 columns (by display width), keeping its line breaks (<br>)."""
    lines: list[str] = []
    for line in words.split(_BREAK):
        line = _SPACES.sub(" ", line).strip()
        if not line:
            continue
        lines += wrap(line, WIDTH, first if not lines else rest, rest)
    return lines


def _blocks(node: _Node, first: str, rest: str) -> Iterator[list[str]]:
    """Each block of ``node`` as its lines; ``first`` starts the first line, ``rest`` the others."""
    inline: list[_Node | str] = []

    def flush() -> Iterator[list[str]]:
        nonlocal first
        text = "".join(_inline(piece) for piece in inline)
        inline.clear()
        lines = _fill(text, first, rest)
        if lines:
            first = rest
            yield lines

    for child in node.children:
        if isinstance(child, str) or child.tag not in _BLOCKS:
            inline.append(child)
            continue
        yield from flush()
        yield from _block(child, first, rest)
        first = rest
    yield from flush()


def _block(node: _Node, first: str, rest: str) -> Iterator[list[str]]:
    tag = node.tag
    if tag == "hr":
        yield [first + "-" * 20]
    elif tag == "pre":
        code = "".join(_inline(c) for c in node.children).replace(_BREAK, "\n").strip("\n")
        yield [first + line if n == 0 else rest + line for n, line in enumerate(code.split("\n"))]
    elif tag == "blockquote":
        yield from _blocks(node, first + "> ", rest + "> ")
    elif tag in ("ul", "ol"):
        start = node.attrs.get("start", "").strip()
        number = int(start) if _PIXELS.fullmatch(start) else 1
        items = [c for c in node.children if isinstance(c, _Node)]
        lines: list[str] = []
        for item in items:
            marker = f"{number}. " if tag == "ol" else "- "
            number += 1
            own = [line for block in _blocks(item, marker, " " * len(marker)) for line in block]
            lines += [(first if not lines else rest) + own[0], *(rest + line for line in own[1:])]
        if lines:
            yield lines
    elif tag == "tr":
        cells = [c for c in node.children if isinstance(c, _Node)]
        words = " | ".join(" ".join(_inline(c).split()) for c in cells)
        if words.strip():
            yield [first + words]
    elif tag in ("table", "thead", "tbody", "tfoot"):
        rows = [line for block in _blocks(node, first, rest) for line in block]
        if rows:
            yield rows
    else:
        yield from _blocks(node, first, rest)


def note_text(html: str) -> str:
    """The text part's note, from its safe HTML: paragraphs wrapped at 72 columns, lists with
    their markers, quotations with "> ", and each link's address after its words."""
    tree = _Tree()
    tree.feed(html)
    tree.close()
    return "\n\n".join("\n".join(lines) for lines in _blocks(tree.root, "", ""))
