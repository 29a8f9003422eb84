"""Small text helpers shared by the readers, feeds and pages."""

from __future__ import annotations

import hashlib
import html
import re
import textwrap
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import quote, urljoin, urlsplit

# Characters XML 1.0 forbids (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/U+FFFF) plus
# the C1 controls and DEL, which XML allows but the W3C feed validator warns about, and the
# other Unicode noncharacters (U+FDD0..U+FDEF, the last two of every plane), which Unicode keeps
# for internal use and HTML parsers (the validator's html5lib) report as invalid.
_NOT_XML_BMP = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
_NOT_XML = re.compile(
    f"[{_NOT_XML_BMP}"
    + "".join(f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(1, 17))
    + "]"
)
# The same for an ASCII text (str.isascii() is immediate): six times quicker, as a class within
# one plane is a bitmap to the regular expression engine, and most titles and names are ASCII.
_NOT_XML_IN_BMP = re.compile(f"[{_NOT_XML_BMP}]")
_SLUG_DROP = re.compile(r"[^\w\s-]")
_SLUG_JOIN = re.compile(r"[\s_-]+")
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
# The explicit bidirectional formatting characters of UAX #9: the embeddings and overrides
# (LRE, RLE, PDF, LRO, RLO) and the isolates (LRI, RLI, FSI, PDI).
_BIDI_CONTROL = re.compile("[\u202a-\u202e\u2066-\u2069]")
_OPENS_ISOLATE = frozenset("\u2066\u2067\u2068")
FSI, PDI = "\u2068", "\u2069"
_PDF = "\u202c"
_OPENS_EMBEDDING = frozenset("\u202a\u202b\u202d\u202e")
MAX_SLUG = 80
# Slugs become folder names; ext4, XFS and APFS allow 255 bytes of UTF-8 in a name.
MAX_SLUG_BYTES = 255


# The same characters in UTF-8 (surrogates as "surrogatepass" writes them): single bytes for
# the C0 controls and DEL, and sequences that start with C2, ED, EF B7 (U+FDD0..U+FDEF),
# EF BF or F0..F4 (the noncharacters at the end of the astral planes).
_NOT_XML_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_C1 = re.compile(b"\xc2[\x80-\x9f]")
_SURROGATE = re.compile(b"\xed[\xa0-\xbf]")
_NONCHARACTER = re.compile(
    b"\xef\xb7[\x90-\xaf]|\xef\xbf[\xbe\xbf]|[\xf0-\xf4][\x8f\x9f\xaf\xbf]\xbf[\xbe\xbf]"
)
# Below this length the regular expression is quicker than encoding first.
_LONG = 512


def first_not_xml(text: str) -> int | None:
    """Where the first character that xml_safe drops is in ``text`` (0-based); None if none."""
    found = _NOT_XML.search(text)
    return found.start() if found else None


def xml_safe(text: str) -> str:
    """Drop the characters that XML cannot carry or validators flag; keep everything else."""
    if len(text) >= _LONG and not _has_not_xml(text):
        return text  # a whole article or page: checked at a third of the cost
    return (_NOT_XML_IN_BMP if text.isascii() else _NOT_XML).sub("", text)


def _has_not_xml(text: str) -> bool:
    """Whether ``text`` holds a character _NOT_XML matches, found in its UTF-8 bytes (which
    C scans quicker than the regular expression scans the characters)."""
    data = text.encode("utf-8", "surrogatepass")
    return (
        len(data.translate(None, _NOT_XML_BYTES)) != len(data)
        or (b"\xc2" in data and _C1.search(data) is not None)
        or (b"\xed" in data and _SURROGATE.search(data) is not None)
        or (
            (b"\xef" in data or b"\xbf\xbe" in data or b"\xbf\xbf" in data)
            and _NONCHARACTER.search(data) is not None
        )
    )


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


@lru_cache(maxsize=65536)  # every tag and author name is slugged on every page that shows it
def slugify(text: str, ascii_only: bool = False) -> str:
    """A path segment: lower-case letters, digits and hyphens, in any script (``ascii_only``:
    transliterated to ASCII first); '' if none."""
    if ascii_only:
        text = _transliterate(text)
    return _segment(_SLUG_DROP.sub(" ", unicodedata.normalize("NFKC", text).lower()))


# Spaces, hyphens and underscores only separate words: "A B", "a-b" and "a_b" are one name.
_NAME_GAPS = re.compile(r"[\s_-]+")
# "+" and "#" straight after a letter or digit are part of the name (C++, C#, F#, g++11): they
# are spelled out, where slugify drops them (C++, C# and C were all "c").
_SPELLED = re.compile(r"(?<=[^\W_])[+#]+")
_SPELLING = {"+": " plus", "#": " sharp"}
# Names Windows refuses for a file or folder, whatever follows a dot; a slug has no dot.
_RESERVED = frozenset(
    ["con", "prn", "aux", "nul"] + [f"{d}{n}" for d in ("com", "lpt") for n in range(10)]
)


def name_key(name: str) -> str:
    """Which tag or author ``name`` is: names that differ only in case (as str.lower compares)
    or in the spaces, hyphens and underscores between their words are one ("Ana" and "ana",
    "student life" and "Student-Life"); any other difference makes another name."""
    return _NAME_GAPS.sub(" ", unicodedata.normalize("NFKC", name).lower()).strip()


@lru_cache(maxsize=65536)  # every tag and author name is slugged on every page that shows it
def name_slug(name: str, ascii_only: bool = False) -> str:
    """The path segment of a tag's or author's pages and feeds: never empty, a function of
    name_key(name) alone, and a valid file name on Linux, macOS and Windows.

    A name keeps the slug slugify gives it (existing URLs stay), except that "+" and "#"
    after a letter or digit are spelled out ("c-plus-plus", "c-sharp"), combining marks stay
    with their letters ("हिन्दी", where slugify made "ह-न-द"), and a name Windows reserves
    gets a "_" ("con_"). A name with no letter or digit is spelled by its characters' Unicode
    names ("." is "full-stop", an emoji "party-popper"). ``ascii_only`` transliterates first
    ("café" is "cafe", "日本語" "ribenyu"). Two names can still share a slug ("a/b" and
    "a b", or two long names alike in their first 80 characters): the catalog reports that.
    """
    key = name_key(name)
    text = key
    if ascii_only:
        text = name_key(_transliterate(key))
    text = _SPELLED.sub(lambda m: "".join(_SPELLING[c] for c in m.group(0)) + " ", text)
    # Composed, and marks in their canonical order: macOS stores names decomposed, and a link
    # must name the folder as the writer made it.
    slug = unicodedata.normalize("NFC", _segment(_words(text)))
    if not slug:
        slug = _spelled_by_names(key)
    return slug + "_" if slug in _RESERVED else slug


def _transliterate(text: str) -> str:
    from anyascii import anyascii  # only a site with ascii_urls loads its tables

    return anyascii(text)


def _words(text: str) -> str:
    """``text`` with every character that is not a letter, a digit, a hyphen or a combining
    mark after one of those turned into a space."""
    if text.isascii():
        return _SLUG_DROP.sub(" ", text)
    kept: list[str] = []
    joined = False  # whether the character before was kept as part of a word
    for char in text:
        if char.isalnum() or char == "-":
            joined = True
        elif joined and unicodedata.category(char)[0] == "M":
            pass
        else:
            joined = False
            char = " "
        kept.append(char)
    return "".join(kept)


def _segment(text: str) -> str:
    """Words joined by hyphens and cut to at most MAX_SLUG characters and MAX_SLUG_BYTES bytes
    (letters beyond the BMP take four bytes each: 80 of them do not fit in a file name)."""
    text = _SLUG_JOIN.sub("-", text).strip("-")[:MAX_SLUG]
    text = text.encode("utf-8")[:MAX_SLUG_BYTES].decode("utf-8", "ignore")
    return text.rstrip("-")


def _spelled_by_names(key: str) -> str:
    """A slug for a name without a letter or digit: its characters' Unicode names (a
    character without one by its code point), cut to MAX_SLUG with a hash of the name."""
    names = [unicodedata.name(c, f"u {ord(c):04x}") for c in key.replace(" ", "")]
    spelled = _SLUG_JOIN.sub("-", " ".join(names).lower()).strip("-")
    if not spelled:
        return "blank"  # a name of spaces only: its key is empty
    if len(spelled) > MAX_SLUG:
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        return f"{spelled[: MAX_SLUG - 9].rstrip('-')}-{digest}"
    return spelled


_INLINE = frozenset(
    "a abbr b bdi bdo cite code del dfn em i ins kbd mark q s samp small span strong sub sup "
    "time u var".split()
)


def _tag_gap(match: re.Match[str]) -> str:
    # An inline tag joins its neighbours ("<a>x</a>:" is "x:"); any other tag separates them.
    words = match.group(0).strip("</>").split(None, 1)
    return "" if words and words[0].lower() in _INLINE else " "


def html_to_text(fragment: str) -> str:
    """The readable words of an HTML fragment, on one line."""
    return _SPACE.sub(" ", html.unescape(_TAG.sub(_tag_gap, fragment))).strip()


def first_paragraph_text(fragment: str) -> str:
    start = fragment.find("<p>")
    if start >= 0:
        end = fragment.find("</p>", start)
        fragment = fragment[start + 3 : end if end >= 0 else None]
    return html_to_text(fragment)


def shorten(text: str, limit: int = 280) -> str:
    """Cut at a word boundary, adding an ellipsis when anything was cut."""
    text = _SPACE.sub(" ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


_URL_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")


def url_path(*segments: str) -> str:
    """A relative URL path from file-system segments, percent-encoded."""
    return "/".join(s if _URL_SAFE.fullmatch(s) else quote(s, safe="") for s in segments if s)


# The attributes whose value is a URL (HTML's index of attributes, obsolete ones included, and
# SVG's xlink:href), with the elements each is a URL on; None: on every element. "data" or
# "action" on another element is not a URL (and data-* attributes are no "data").
_ONE_URL: dict[str, frozenset[str] | None] = {
    "href": None,
    "xlink:href": None,
    "src": None,
    "itemid": None,
    "poster": frozenset({"video"}),
    "data": frozenset({"object"}),
    "codebase": frozenset({"object", "applet"}),
    "action": frozenset({"form"}),
    "formaction": frozenset({"button", "input"}),
    "cite": frozenset({"blockquote", "q", "del", "ins"}),
    "background": frozenset({"body", "table", "thead", "tbody", "tfoot", "tr", "td", "th"}),
    "longdesc": frozenset({"img", "iframe", "frame"}),
    "manifest": frozenset({"html"}),
    "icon": frozenset({"command", "menuitem"}),
}
# Attributes holding several URLs apart by spaces.
_SPACED_URLS: dict[str, frozenset[str]] = {
    "ping": frozenset({"a", "area"}),
    "archive": frozenset({"object"}),
    "profile": frozenset({"head"}),
}
# Candidate lists: "a.png 1x, b.png 2x" (each URL resolved, its descriptor kept).
_SRCSETS: dict[str, frozenset[str]] = {
    "srcset": frozenset({"img", "source"}),
    "imagesrcset": frozenset({"link"}),
}
_URL_NAMES = sorted({*_ONE_URL, *_SPACED_URLS, *_SRCSETS, "style"}, key=len, reverse=True)
_VALUE = r"""(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+)"""
# A start tag read as the HTML tokenizer reads it, so that a quoted ">" or "src=" inside
# another attribute's value (alt="a > b", title="src=x") is part of that value. Only tags
# that name such an attribute before their first ">", or quote a value there, are read
# (most tags are neither: <p>, <em>, <li>).
_START_TAG = re.compile(
    rf"""<([A-Za-z][^\s/>]*+)"""
    rf"""(?=[^>]*\s(?:{"|".join(map(re.escape, _URL_NAMES))})\s*=|[^>]*["'])"""
    rf"""((?:\s+[^\s"'>/=]+(?:\s*=\s*{_VALUE})?|\s*/)*)\s*>""",
    re.IGNORECASE,
)
_ATTRIBUTE = re.compile(
    r"""(\s+)([^\s"'>/=]+)(?:(\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?"""
)
# CSS's url(...) and @import "...": in style attributes and <style> elements.
_CSS_URL = re.compile(
    r"""(url\(\s*)(?:"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'|([^"'()\s]*))(\s*\))"""
    r"""|(@import\s+)(?:"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)')""",
    re.IGNORECASE,
)
_STYLE_ELEMENT = re.compile(r"(<style\b[^>]*>)(.*?)(</style\s*>)", re.IGNORECASE | re.DOTALL)
_STYLE_OPEN = re.compile("<style", re.IGNORECASE)
_SRCSET_CANDIDATE = re.compile(r"[\s,]*([^\s,][^\s]*)([^,]*)")
_CSS_ESCAPE = re.compile(r"\\(?:([0-9A-Fa-f]{1,6})\s?|(.))", re.DOTALL)
# Characters a URL cannot hold as they are (RFC 3986), encoded as browsers encode them.
_URL_UNSAFE = re.compile(r"[\x00-\x20\"<>\\^`{|}\x7f]")


def has_scheme(url: str) -> bool:
    """Whether the URL reference ``url`` is absolute (https:, mailto:, data:...)."""
    return bool(_SCHEME.match(url) or urlsplit(url).scheme)


# What rewrite_urls asks of each URL: its new value, or None to leave it as it is.
Join = Callable[[str], "str | None"]


def _resolved(url: str, join: Join) -> str | None:
    """``url`` as ``join`` rewrites it; None if it leaves it as it is."""
    # HTML's URLs may be "potentially surrounded by spaces"; XML cannot carry some characters
    # even where the attribute spelled one as a character reference (href="a&#12;b").
    raw = xml_safe(url).strip(" \t\n\r\f")
    new = join(raw)
    if new is None:
        return None
    return _URL_UNSAFE.sub(lambda c: f"%{ord(c.group(0)):02X}", new)


def _against(base: str) -> Join:
    """A join that resolves a relative URL against ``base`` (an empty one is ``base``
    itself) and leaves an absolute one (it has a scheme)."""

    def join(raw: str) -> str | None:
        return None if has_scheme(raw) else urljoin(base, raw)

    return join


def _srcset(value: str, join: Join) -> str | None:
    """A srcset with each candidate's URL resolved; None if none changes. (A URL ending in a
    comma ends its candidate, as HTML's parsing rules say.)"""
    candidates, changed = [], False
    for match in _SRCSET_CANDIDATE.finditer(value):
        url, descriptor = match.groups()
        if url.endswith(","):
            url, descriptor = url.rstrip(","), ""
        resolved = _resolved(url, join)
        changed = changed or resolved is not None
        candidates.append(" ".join(filter(None, (resolved or url, descriptor.strip()))))
    return ", ".join(candidates) if changed else None


def _css_string(text: str) -> str:
    """The value of a CSS string or url() token, escapes undone."""
    return _CSS_ESCAPE.sub(
        lambda m: chr(int(m.group(1), 16) or 0xFFFD) if m.group(1) else m.group(2), text
    )


def _css(text: str, join: Join) -> str | None:
    """CSS with the URLs of its url() and @import resolved; None if none changes. A url(#id)
    refers to the document that holds the CSS, and stays as it is."""
    changed = False

    def fix(match: re.Match[str]) -> str:
        nonlocal changed
        groups = match.groups()
        import_ = groups[5] is not None
        value = next((g for g in (groups[6:8] if import_ else groups[1:4]) if g is not None), "")
        url = _css_string(value)
        resolved = None if url.startswith("#") or not url.strip() else _resolved(url, join)
        if resolved is None:
            return match.group(0)
        changed = True
        quoted = '"' + resolved.replace("\\", "%5C").replace('"', "%22") + '"'
        return f"{groups[5]}{quoted}" if import_ else f"{groups[0]}{quoted}{groups[4]}"

    fixed = _CSS_URL.sub(fix, text)
    return fixed if changed else None


def _attribute(tag: str, name: str, value: str, join: Join) -> str | None:
    """The attribute's value with its URLs resolved; None if it holds none or none changes."""
    if name in _ONE_URL:
        elements = _ONE_URL[name]
        return _resolved(value, join) if elements is None or tag in elements else None
    if tag in _SPACED_URLS.get(name, ()):
        urls = value.split()
        resolved = [_resolved(url, join) for url in urls]
        if not any(resolved):
            return None
        return " ".join(new or old for new, old in zip(resolved, urls, strict=True))
    if tag in _SRCSETS.get(name, ()):
        return _srcset(value, join)
    if name == "style":
        return _css(value, join)
    return None


def _start_tag(match: re.Match[str], join: Join) -> str:
    tag = match.group(1).lower()

    def fix(attribute: re.Match[str]) -> str:
        space, name, equals, *values = attribute.groups()
        value = next((v for v in values if v is not None), None)
        if value is None:
            return attribute.group(0)
        fixed = _attribute(tag, name.lower(), html.unescape(value), join)
        if fixed is None:
            return attribute.group(0)
        return f'{space}{name}{equals}"{html.escape(fixed, quote=True)}"'

    start = match.start(2) - match.start(0)
    end = match.end(2) - match.start(0)
    text = match.group(0)
    return text[:start] + _ATTRIBUTE.sub(fix, match.group(2)) + text[end:]


def _style_element(match: re.Match[str], join: Join) -> str:
    fixed = _css(match.group(2), join)
    return match.group(0) if fixed is None else match.group(1) + fixed + match.group(3)


def absolutize(fragment: str, base: str) -> str:
    """Resolve every relative URL of an HTML fragment against ``base``: each attribute HTML
    defines as a URL (href, src, srcset's candidates, poster, <object data>, <form action>,
    cite...) and CSS's url() and @import in style attributes and <style> elements.
    A rewritten URL holds no character XML cannot carry: the fragment stays as XML-safe as it
    was. (links.absolutize reads a root-relative URL against the site's root.)"""
    return rewrite_urls(fragment, _against(base))


def rewrite_urls(
    fragment: str, join: Join, per_tag: Callable[[str, str], Join | None] | None = None
) -> str:
    """Every URL of an HTML fragment or page, where absolutize finds them, as ``join`` makes
    it (None: as it is); ``per_tag(tag name, tag's text)``, when given, may name another join
    for one start tag's URLs."""
    if per_tag is None:
        fragment = _START_TAG.sub(lambda tag: _start_tag(tag, join), fragment)
    else:
        fragment = _START_TAG.sub(
            lambda tag: _start_tag(tag, per_tag(tag.group(1).lower(), tag.group(0)) or join),
            fragment,
        )
    if _STYLE_OPEN.search(fragment):
        fragment = _STYLE_ELEMENT.sub(lambda style: _style_element(style, join), fragment)
    return fragment


def isolate(text: str) -> str:
    """``text`` between FSI and PDI when an override or embedding it opens (U+202E...) would
    reach past its end and reverse what follows it: for plain text, where no <bdi> or
    dir="auto" can isolate it. Isolates it leaves open are closed, and a PDI of its own that
    closes nothing is dropped (it would close the isolate around it). Text that leaks nothing
    (none of these characters, or each closed within it) is returned unchanged."""
    if text.isascii() or not _BIDI_CONTROL.search(text):
        return text
    kept: list[str] = []
    isolates = 0
    embeddings = 0  # opened outside every isolate of the text's own and not closed yet
    leaks = False
    for char in text:
        if char in _OPENS_ISOLATE:
            isolates += 1
        elif char == PDI:
            if isolates == 0:
                leaks = True
                continue
            isolates -= 1
        elif isolates == 0 and char == _PDF:
            embeddings = max(embeddings - 1, 0)
        elif isolates == 0 and char in _OPENS_EMBEDDING:
            embeddings += 1
        kept.append(char)
    if not (leaks or isolates or embeddings):
        return text
    return f"{FSI}{''.join(kept)}{PDI * isolates}{PDI}"


def plural(number: int, noun: str) -> str:
    """'1 article', '2 articles'."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


# -- wrapping by display width ----------------------------------------------------------------

# Kinsoku shori (JIS X 4051, the W3C's "Requirements for Japanese Text Layout"): characters no
# line may start with (closing brackets, stops, small kana, the prolonged sound mark) and
# characters no line may end with (opening brackets).
_NO_LINE_START = frozenset(
    "、。，．・：；？！゛゜ヽヾゝゞ々〻ー」』）］｝〕〉》】〙〗〟’”｠»"
    "ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ"
    "‐゠–〜～‼⁇⁈⁉…‥,.!?:;)]}%"
)
_NO_LINE_END = frozenset("「『（［｛〔〈《【〘〖〝‘“｟«([{")


def _column_width(ch: str) -> int:
    if unicodedata.east_asian_width(ch) in "WF":
        return 2
    return 0 if unicodedata.category(ch) in ("Mn", "Me", "Cf") else 1


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal or a monospaced mail reader: wide and full-width
    characters (Chinese, Japanese, Korean) two, combining marks none, the others one."""
    if text.isascii():
        return len(text)
    return sum(map(_column_width, text))


def _breaks_anywhere(ch: str) -> bool:
    """Chinese and Japanese break between any two characters; Korean (Hangul) at its spaces,
    and emoji stay with the word they are written in."""
    if unicodedata.east_asian_width(ch) not in "WF":
        return False
    code = ord(ch)
    hangul = 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F or 0xAC00 <= code <= 0xD7A3
    return not hangul and unicodedata.category(ch) != "So"


def wrap(text: str, width: int = 72, first: str = "", rest: str = "") -> list[str]:
    """``text`` as lines of at most ``width`` columns (by display width), ``first`` before the
    first and ``rest`` before the others; a word or URL longer than a line gets one of its own.

    Text without wide characters is wrapped by textwrap, breaking only at spaces, as it always
    was. Text with them also breaks between two Chinese or Japanese characters, never putting
    a closing mark (。、」) at a line's start nor an opening one (「（) at its end, unless
    the run so joined would not fit on a line."""
    if text.isascii() or not any(_column_width(ch) == 2 for ch in text):
        return textwrap.wrap(
            text,
            width,
            initial_indent=first,
            subsequent_indent=rest,
            break_long_words=False,
            break_on_hyphens=False,
        )
    room = max(width - display_width(rest), 1)
    lines: list[str] = []
    line, used = first, display_width(first)
    empty = True
    for spaces, unit, size in _units(text.expandtabs(), room):
        if empty:
            line, used, empty = line + unit, used + size, False
        elif used + spaces + size <= width:
            line, used = line + " " * spaces + unit, used + spaces + size
        else:
            lines.append(line)
            line, used = rest + unit, display_width(rest) + size
    if not empty:
        lines.append(line)
    return lines


def _units(text: str, room: int) -> list[tuple[int, str, int]]:
    """What cannot be broken, as (spaces before it, its text, its width): a word (a run of
    characters that break only at spaces, a URL among them), a Chinese or Japanese character,
    or such characters joined by the kinsoku rules as long as the join fits in ``room``
    columns (past that, a line may start with a closing mark: overflowing would be worse)."""
    units: list[tuple[int, str, int]] = []
    current: list[str] = []  # a list, not a string: a megabyte-long word is joined once
    size = 0
    before = spaces = 0
    pure = False  # whether the current unit is one word, which the next letter continues
    for ch in text:
        if ch.isspace():
            spaces += 1
            continue
        anywhere = _breaks_anywhere(ch)
        width = _column_width(ch)
        if current and not spaces:
            joins = pure and not anywhere
            if joins or (
                (ch in _NO_LINE_START or current[-1] in _NO_LINE_END) and size + width <= room
            ):
                current.append(ch)
                size += width
                pure = joins
                continue
        if current:
            units.append((before, "".join(current), size))
        current, size, before, spaces = [ch], width, spaces, 0
        pure = not anywhere
    if current:
        units.append((before, "".join(current), size))
    return units
