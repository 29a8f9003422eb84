"""Small text helpers shared by the readers, feeds and pages."""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache
from urllib.parse import quote, urljoin, urlsplit

# Characters XML 1.0 forbids (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/U+FFFF) plus
# the C1 controls and DEL, which XML allows but the W3C feed validator warns about, and the
# other Unicode noncharacters (U+FDD0..U+FDEF, the last two of every plane), which Unicode keeps
# for internal use and HTML parsers (the validator's html5lib) report as invalid.
_NOT_XML = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    + "".join(f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(1, 17))
    + "]"
)
_SLUG_DROP = re.compile(r"[^\w\s-]")
_SLUG_JOIN = re.compile(r"[\s_-]+")
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
# href/src/poster attributes inside tags; good enough for Markdown output and ordinary HTML.
# Every such attribute of a tag (<video src poster>), quoted or not (<a href=page.html>).
# Only start tags that have such an attribute are looked into (most tags have none).
_START_TAG = re.compile(r"<[A-Za-z](?=[^<>]*\s(?:href|src|poster)\s*=)[^<>]*>", re.IGNORECASE)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_URL_ATTR = re.compile(
    r"""(\s(?:href|src|poster)\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""",
    re.IGNORECASE,
)
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
    return _NOT_XML.sub("", text)


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
def slugify(text: str) -> str:
    """A path segment: lower-case letters, digits and hyphens, in any script; '' if none."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _SLUG_DROP.sub(" ", text)
    text = _SLUG_JOIN.sub("-", text).strip("-")[:MAX_SLUG]
    # Letters beyond the BMP take four bytes each: 80 of them do not fit in a file name.
    text = text.encode("utf-8")[:MAX_SLUG_BYTES].decode("utf-8", "ignore")
    return text.rstrip("-")


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


def absolutize(fragment: str, base: str) -> str:
    """Resolve the relative links and image sources of an HTML fragment against ``base``.
    A rewritten link holds no character XML cannot carry, even where the attribute spelled
    one as a character reference (href="a&#12;b"): the fragment stays as XML-safe as it was."""

    def fix(match: re.Match[str]) -> str:
        value = next(group for group in match.groups()[1:] if group is not None)
        raw = xml_safe(html.unescape(value))
        if _SCHEME.match(raw) or urlsplit(raw).scheme:
            return match.group(0)
        return f'{match.group(1)}"{html.escape(urljoin(base, raw), quote=True)}"'

    return _START_TAG.sub(lambda tag: _URL_ATTR.sub(fix, tag.group(0)), fragment)


def plural(number: int, noun: str) -> str:
    """'1 article', '2 articles'."""
    return f"{number} {noun}{'' if number == 1 else 's'}"
