"""The W3C Feed Validation Service's checks, as assertions, and readers of what a feed says.

The validator itself is not on a registry, so its checks are written out here: validator_rss(),
validator_atom() and validator_json() assert each rule that can fire on a feed feedpub writes
(each assertion names the validator's message) and return the warnings only an author's own
writing raises; check_rss(), check_atom() and check_json() run them, and feedparser, and return
what the feed says, for the tests (tests/test_feeds.py, tests/test_feed_corpus.py) to compare
with the articles.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from html.entities import name2codepoint
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import feedparser
import lxml.html
from helpers import (
    ATOM,
    NOW,
    SETTINGS,
    SITE_URL,
    load,
    publish,
    write_articles,
)
from lxml import etree

from feedpub.config import FEED_FILES

XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# In GMT: the validator warns on offsets whose minutes it does not expect (+05:45).
RFC822 = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} "
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} (?:\+0000|GMT)"
)
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")
# An id is a URI (urn:uuid:..., tag:..., https://...): a scheme, a colon, no spaces.
URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")
# The ids feedpub derives for articles without one: name-based (version 5) UUIDs.
DERIVED_ID = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}")
OTHER_SCHEME = re.compile(r"(?!https?:)[A-Za-z][A-Za-z0-9+.-]*:", re.IGNORECASE)
TRICKY = 'Tom & Jerry <3 "quotes"'
FORMATS = ("rss", "atom", "json")


# --- reading and validating one feed document ------------------------------------------------


@dataclass(frozen=True)
class Item:
    id: str
    title: str
    link: str
    published: datetime
    authors: tuple[str, ...]
    tags: tuple[str, ...]
    content: str | None  # the full HTML, None when the feed carries summaries only
    summary: str | None


@dataclass(frozen=True)
class Feed:
    title: str
    updated: datetime | None  # RSS lastBuildDate / Atom updated; JSON Feed has none
    items: tuple[Item, ...]

    @property
    def titles(self) -> list[str]:
        return [item.title for item in self.items]


def feed_url(folder: str, name: str, base: str = SITE_URL) -> str:
    """Where a feed file is served: its path in the output, percent-encoded."""
    return base + "/".join(quote(part, safe="") for part in [*folder.split("/"), name] if part)


def home_url(folder: str, base: str = SITE_URL) -> str:
    return feed_url(folder, "", base) + ("/" if folder else "")


def assert_absolute(url: str | None, where: str) -> None:
    assert url, f"{where}: no URL"
    parts = urlsplit(url)
    assert parts.scheme in {"http", "https"} and parts.netloc, f"{where}: {url!r} is not absolute"


def assert_absolute_links(fragment: str | None, where: str) -> None:
    """Every href, src and poster in an HTML fragment is an absolute http(s) URL."""
    if not fragment or not fragment.strip():
        return
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    for element in root.iter():
        for attribute in ("href", "src", "poster"):
            value = element.get(attribute)
            # Another scheme (mailto:, javascript:) is absolute: an author's link, kept.
            if value is not None and not OTHER_SCHEME.match(value):
                assert_absolute(value, f"{where} <{element.tag!s} {attribute}>")


def assert_feedparser_happy(data: bytes) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def assert_unique_ids(items: list[Item], where: str) -> None:
    ids = [item.id for item in items]
    assert len(ids) == len(set(ids)), f"{where}: duplicate ids {ids}"


def rfc822(text: str | None, where: str) -> datetime:
    assert text is not None and RFC822.fullmatch(text), f"{where}: {text!r} is not RFC 822"
    value = parsedate_to_datetime(text)
    assert text[:3] == DAYS[value.weekday()], f"{where}: {text!r} has the wrong weekday"
    return value


def rfc3339(text: str | None, where: str) -> datetime:
    assert text is not None and RFC3339.fullmatch(text), f"{where}: {text!r} is not RFC 3339"
    return datetime.fromisoformat(text)


# --- the W3C Feed Validation Service's checks ------------------------------------------------
# Each rule of w3c/feedvalidator (src/feedvalidator: rss.py, channel.py, item.py, feed.py,
# entry.py, content.py, author.py, category.py, validators.py) that can fire on what feedpub
# writes, as an assertion whose text starts with the validator's message name (its class in
# logging.py; all of them errors or warnings, none only informational).
#
# Four kinds can come from nothing but the author's own writing, and are collected instead of
# asserted (validator_warnings() returns them; the README says why each stays): HTML an author
# wrote in a body (SecurityRisk, SecurityRiskAttr, DangerousStyleAttr, NotHtml), HTML end tags
# in the author's own title, name or tag (ContainsHTML, ContainsUndeclaredHTML: the text is
# written as text and says "</b>", which the validator takes for markup), a date the author
# wrote before 1990 or after the time of validation (ImplausibleDate), and two articles written
# with the same date and time (DuplicateUpdated: Atom's <updated> is the article's).

AUTHOR_KINDS = frozenset(
    {
        "SecurityRisk",
        "SecurityRiskAttr",
        "DangerousStyleAttr",
        "NotHtml",
        "ContainsHTML",
        "ContainsUndeclaredHTML",
        "ImplausibleDate",
        "DuplicateUpdated",
    }
)
MEDIA = "{http://search.yahoo.com/mrss/}"
# validators.rfc822.rfc2822_re, with the day name (feedpub always writes it): a numeric zone's
# minutes must be 00 or 30, else ProblematicalRFC822Date.
VALIDATOR_RFC2822 = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d? "
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d(?::\d\d)? "
    r"(?:[+-]?\d\d[03]0|UT|GMT|EST|EDT|CST|CDT|MST|MDT|PST|PDT|Z)"
)
# validators.rfc3339: seconds required, a zone required.
VALIDATOR_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d*)?(?:Z|[+-]\d\d:\d\d)")
# validators.rfc2396: tag (RFC 4151), urn:uuid, other URNs, and absolute URIs.
TAG_URI = re.compile(
    r"tag:(?:[a-z0-9\-._]+?@)?[a-z0-9.\-]+?,\d{4}(?:-\d{2}(?:-\d{2})?)?:"
    r"[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,]*(?:#[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,]*)?"
)
UUID_URN = re.compile(
    r"[Uu][Rr][Nn]:[Uu][Uu][Ii][Dd]:[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}"
)
OTHER_URN = re.compile(
    r"[Uu][Rr][Nn]:[a-zA-Z0-9][a-zA-Z0-9-]{1,31}:(?:[a-zA-Z0-9()+,.:=@;$_!*'\-]|%[0-9A-Fa-f]{2})+"
)
FULL_URI = re.compile(r"[a-zA-Z][0-9a-zA-Z+\-.]*:(?://)?[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,#]+")
URI_CHAR = re.compile(r"[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,#]")
# The schemes feedpub can write (its ids and links); others get SchemeNotIANARegistered if odd.
IANA_SCHEMES = frozenset({"http", "https", "tag", "urn", "mailto", "data", "ftp"})
# BCP 47 as validators.iso639_validate reads it: a 2 or 3 letter ISO 639 code, then subtags.
LANGUAGE = re.compile(r"[a-zA-Z]{2,3}(?:-[a-zA-Z0-9]{1,8})*")
# HTML's element names (the validator's HTMLValidator.htmltags): "</b>" in plain text is one.
HTML_TAGS = frozenset(
    """a abbr acronym address applet area article aside audio b base basefont bdi bdo big
    blockquote body br button canvas caption center cite code col colgroup command data
    datagrid datalist dd del details dfn dialog dir div dl dt em embed eventsource fieldset
    figcaption figure font footer form frame frameset h1 h2 h3 h4 h5 h6 head header hgroup hr
    html i iframe img input ins isindex kbd keygen label legend li link m main map mark menu
    meta meter nav noframes noscript object ol optgroup option output p param picture pre
    progress q rp rt ruby s samp script section select slot small source span strike strong
    style sub summary sup table tbody td template textarea tfoot th thead time title tr track
    tt u ul var video wbr xmp""".split()
)
# Elements the validator does not call a SecurityRisk in HTML content (its acceptable_elements
# less the ones no feed body needs to be told apart by).
SAFE_ELEMENTS = HTML_TAGS - frozenset(
    "applet base basefont body embed frame frameset head html iframe link meta noframes "
    "noscript object param script style title xmp".split()
)
# CSS properties the validator accepts in a style attribute (its acceptable_css_properties).
SAFE_CSS = frozenset(
    """azimuth background-color border-bottom-color border-collapse border-color
    border-left-color border-right-color border-top-color clear color cursor direction display
    elevation float font font-family font-size font-style font-variant font-weight height
    letter-spacing line-height overflow pause pause-after pause-before pitch pitch-range
    richness speak speak-header speak-numeral speak-punctuation speech-rate stress text-align
    text-decoration text-indent unicode-bidi vertical-align voice-family volume white-space
    width""".split()
)
# Characters BadCharacters warns about (C1 controls, U+FFFD) and the noncharacters html5lib
# reports in HTML (NotHtml "Invalid codepoint in stream").
BAD_CHARACTER = re.compile(
    "[\x80-\x9f\ufffd\ufdd0-\ufdef\ufffe\uffff"
    + "".join(chr(p << 16 | 0xFFFE) + chr(p << 16 | 0xFFFF) for p in range(1, 17))
    + "]"
)
# Every attribute that holds a URL, and CSS url(): none may be relative (ContainsRelRef names
# <a href> and <img src>; readers resolve the others against nothing either).
URL_ATTRIBUTES = ("href", "src", "poster", "data", "action", "cite", "background", "formaction")
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]*)""", re.IGNORECASE)


def assert_uri(value: str | None, where: str) -> None:
    """validators.rfc2396 for ids and links: InvalidTAG, InvalidUUID, InvalidURN,
    InvalidURIChar, InvalidFullLink, SchemeNotIANARegistered."""
    assert value, f"{where}: NotBlank"
    scheme = value.split(":")[0].lower()
    if scheme == "tag":
        assert TAG_URI.fullmatch(value), f"{where}: InvalidTAG {value!r}"
    elif scheme == "urn":
        if value.lower().startswith("urn:uuid:"):
            assert UUID_URN.fullmatch(value), f"{where}: InvalidUUID {value!r}"
        else:
            assert OTHER_URN.fullmatch(value), f"{where}: InvalidURN {value!r}"
    else:
        bad = [c for c in value if ord(c) < 128 and not URI_CHAR.match(c)]
        assert not bad, f"{where}: InvalidURIChar {bad[0]!r} in {value!r}"
        assert FULL_URI.fullmatch(value), f"{where}: InvalidFullLink {value!r}"
        assert scheme in IANA_SCHEMES, f"{where}: SchemeNotIANARegistered {value!r}"
        if scheme in {"http", "https"}:
            assert re.match(r"\w+://[^/]", value), f"{where}: InvalidFullLink {value!r}"


# RFC 3986's characters, as uri.py (the validator's URI normaliser) groups them.
SUB_DELIMS = "!$&'()*+,;="
PCHAR = "-._~" + SUB_DELIMS + ":@"
RESERVED = ":/?#[]@" + SUB_DELIMS
DEFAULT_PORTS = {"http": "80", "https": "443", "ftp": "21"}


def _normalised(text: str, safe: str) -> str:
    """uri.py's _qnu: escapes upper-cased, what needs no escape unescaped (NFC), a reserved
    character kept as written (escaped or not) where it delimits."""
    out, run = "", b""
    for token in re.findall(r"%[0-9a-fA-F]{2}|[^%]", text):
        char = chr(int(token[1:], 16)) if token.startswith("%") else token
        if char in RESERVED and char in safe:
            out += quote(unicodedata.normalize("NFC", run.decode("utf-8")), safe) + token.upper()
            run = b""
        else:
            run += bytes([int(token[1:], 16)]) if token.startswith("%") else token.encode("utf-8")
    return out + quote(unicodedata.normalize("NFC", run.decode("utf-8")), safe)


def canonical_uri(uri: str) -> str:
    """The form uri.canonicalForm gives: scheme and host in lower case, no default port, no
    dot segments, escapes normalised. An id in another form is NonCanonicalURI."""
    found = re.fullmatch(r"(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?", uri)
    assert found is not None, uri
    scheme, authority, path, query, fragment = found.groups()
    scheme = scheme.lower() if scheme else None
    if authority is None:
        path = _normalised(path, PCHAR + "/")
    else:
        host, _, port = (
            authority.lower().rpartition(":") if ":" in authority else (authority.lower(), "", "")
        )
        authority = host if port in ("", DEFAULT_PORTS.get(scheme or "")) else f"{host}:{port}"
        segments: list[str] = []
        for segment in path.split("/"):
            if segment == "..":
                if len(segments) > 1:
                    segments.pop()
            elif segment != ".":
                segments.append(segment)
        if path.endswith(("/.", "/..")):
            segments.append("")
        path = "/".join(_normalised(segment, PCHAR) for segment in segments) or "/"
    text = f"{scheme}:" if scheme else ""
    text += f"//{authority}" if authority is not None else ""
    text += path
    text += f"?{_normalised(query, PCHAR + '/?')}" if query is not None else ""
    text += f"#{_normalised(fragment, PCHAR + '/?')}" if fragment is not None else ""
    return text


def assert_atom_id(value: str | None, where: str) -> None:
    """An Atom id (entry.py, feed.py: canonicaluri, nows): a URI, no white space around it
    (UnexpectedWhitespace), in canonical form (NonCanonicalURI)."""
    assert value is not None and value == value.strip(), f"{where}: UnexpectedWhitespace"
    assert_uri(value, where)
    assert canonical_uri(value) == value, f"{where}: NonCanonicalURI {value!r}"


def _lines_of(lines: list[bytes], element: etree._Element) -> list[bytes]:
    start = (element.sourceline or 1) - 1
    return lines[start : start + (element.text or "").count("\n") + 1]


def plain_text_warnings(
    value: str, raw_lines: list[bytes], where: str, rss: bool, message: str = "ContainsHTML"
) -> set[str]:
    """validators.nonhtml on a plain-text element (RSS <title>, <category>, <description> of
    the channel; Atom type="text" constructs, <name>, category labels). An HTML end tag in the
    text is the author's (collected); '&amp;'-like text or '<x' is asserted away: the validator
    lets them be when the element is written with hexadecimal references (&#x26;, &#x3C;)."""
    ends = [t for t in re.findall(r"</(\w+)>", value) if t.lower() in HTML_TAGS]
    if ends:
        return {message}
    hex_written = any(b"&#x" in line for line in raw_lines)
    entities = [
        e
        for e in re.findall(r"&(#?\w+)", value)
        if e in name2codepoint or e == "apos" or not e.isalpha()
    ]
    assert hex_written or not entities, (
        f"{where}: {message} &{entities[0] if entities else ''}; in {value!r}"
    )
    if rss:
        assert hex_written or not re.search(r"&#[x0-9]|<[/a-zA-Z]", value), (
            f"{where}: CharacterData (write '&' and '<' as &#x26; and &#x3C;) in {value!r}"
        )
    return set()


def assert_good_characters(root: etree._Element, where: str) -> None:
    """BadCharacters (C1 controls, U+FFFD) in any text or attribute, and the noncharacters
    html5lib reports (NotHtml 'Invalid codepoint')."""
    for element in root.iter():
        for value in (element.text, element.tail, *element.attrib.values()):
            found = BAD_CHARACTER.search(value or "")
            assert found is None, (
                f"{where} <{element.tag!s}>: BadCharacters U+{ord(found[0]):04X}" if found else ""
            )


def assert_no_relative_urls(fragment: str | None, where: str) -> None:
    """ContainsRelRef (validators.absUrlMixin: <a href>, <img src>), and every other URL an
    HTML body can hold: srcset, poster, <object data>, <form action>, CSS url()."""
    if not fragment or not fragment.strip():
        return
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    for element in root.iter():
        urls = [element.get(a) for a in URL_ATTRIBUTES if element.get(a) is not None]
        for attribute in ("srcset", "imagesrcset"):
            if element.get(attribute):
                urls += [
                    c.split()[0] for c in (element.get(attribute) or "").split(",") if c.split()
                ]
        urls += CSS_URL.findall(element.get("style") or "")
        if element.tag == "style":
            urls += CSS_URL.findall(element.text or "")
        for url in urls:
            assert url is not None
            assert re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", url.strip()) or url.startswith("//"), (
                f"{where} <{element.tag!s}>: ContainsRelRef {url!r}"
            )


def html_warnings(fragment: str | None, where: str, authors: bool) -> set[str]:
    """validators.HTMLValidator on an HTML element: SecurityRisk (an element such as <script>,
    <iframe>, <object>), SecurityRiskAttr (on* attributes), DangerousStyleAttr (a style it
    cannot vouch for), NotHtml (an element HTML does not have). In a body they are the author's
    and are returned; in HTML feedpub makes (``authors`` False) they are asserted away."""
    found: set[str] = set()
    if not fragment or not fragment.strip():
        return found
    assert_no_relative_urls(fragment, where)
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    for element in root.iterdescendants():
        if not isinstance(element.tag, str):
            continue  # a comment or processing instruction
        tag = element.tag.lower()
        if tag not in HTML_TAGS:
            found.add("NotHtml")
        elif tag not in SAFE_ELEMENTS:
            found.add("SecurityRisk")
        for name, value in element.attrib.items():
            if name.lower().startswith("on"):
                found.add("SecurityRiskAttr")
            elif name.lower() == "style":
                properties = re.findall(r"([-\w]+)\s*:", value.lower())
                if any(p not in SAFE_CSS for p in properties) or "url(" in value.lower():
                    found.add("DangerousStyleAttr")
    assert authors or not found, f"{where}: {sorted(found)} in HTML feedpub wrote: {fragment!r}"
    return found


def implausible(value: datetime, where: str) -> set[str]:
    """ImplausibleDate (validators.implausible_822/8601): before 1990, or more than a day
    after the validation (the author's own dates: collected)."""
    now = max(datetime.now(UTC), NOW)
    if value < datetime(1990, 1, 1, tzinfo=UTC) or value > now + timedelta(days=1):
        return {"ImplausibleDate"}
    return set()


def validator_rfc822(text: str | None, where: str) -> set[str]:
    """RSS dates: InvalidRFC2822Date, ProblematicalRFC822Date (minutes other than 00 or 30 in
    the zone), IncorrectDOW, ImplausibleDate."""
    assert text, f"{where}: NotBlank"
    assert VALIDATOR_RFC2822.fullmatch(text), f"{where}: ProblematicalRFC822Date {text!r}"
    value = parsedate_to_datetime(text)
    assert text[:3] == DAYS[value.weekday()], f"{where}: IncorrectDOW {text!r}"
    return implausible(value, where)


def validator_rfc3339(text: str | None, where: str) -> set[str]:
    """Atom and JSON Feed dates: InvalidRFC3339Date, ImplausibleDate."""
    assert text and VALIDATOR_RFC3339.fullmatch(text), f"{where}: InvalidRFC3339Date {text!r}"
    return implausible(datetime.fromisoformat(text), where)


def assert_once(parent: etree._Element, names: list[str], where: str) -> None:
    """DuplicateElement (noduplicates): each of these at most once."""
    for name in names:
        assert len(parent.findall(name)) <= 1, f"{where}: DuplicateElement <{name}>"


# IANA's link relations that link.py knows (others need a full URI as rel); prev-archive and
# next-archive are RFC 5005's, in link.py's validRelations beside current.
ATOM_RELS = frozenset(
    "alternate self related enclosure via edit edit-media first last next previous prev "
    "current payment license replies hub search service archives prev-archive "
    "next-archive".split()
)
RSS_CHANNEL = {
    "title", "link", "description", "language", "copyright", "managingEditor", "webMaster",
    "pubDate", "lastBuildDate", "category", "generator", "docs", "cloud", "ttl", "image",
    "rating", "textInput", "skipHours", "skipDays", "item",
}  # fmt: skip
RSS_ITEM = {
    "title", "link", "description", "author", "category", "comments", "enclosure", "guid",
    "pubDate", "source",
}  # fmt: skip


def validator_rss(data: bytes, folder: str, base: str = SITE_URL) -> set[str]:
    """Every check of the validator's RSS 2.0 profile that can fire on a feed feedpub
    writes; the author's own warnings (AUTHOR_KINDS) that remain."""
    where = f"{folder or '.'}/rss.xml"
    root = etree.fromstring(data)
    lines = data.split(b"\n")
    found: set[str] = set()
    assert root.tag == "rss", f"{where}: UndefinedElement <{root.tag!s}>"
    assert root.get("version") == "2.0", f"{where}: InvalidRSSVersion"
    assert_good_characters(root, where)
    (channel,) = root.findall("channel")
    for name in ("title", "link", "description"):
        assert channel.findtext(name), f"{where}: MissingElement <channel><{name}>"
    assert_once(channel, sorted(RSS_CHANNEL - {"category", "item"}), where)
    for child in channel:
        tag = str(child.tag)
        assert tag.startswith("{") or tag in RSS_CHANNEL, f"{where}: UndefinedElement <{tag}>"
    for name in ("title", "description"):
        element = channel.find(name)
        assert element is not None
        found |= plain_text_warnings(element.text or "", _lines_of(lines, element), where, True)
    assert_uri(channel.findtext("link"), f"{where} <channel><link>")
    if channel.find("docs") is not None:
        assert_uri(channel.findtext("docs"), f"{where} <docs>")
    language = channel.findtext("language")
    assert language is None or LANGUAGE.fullmatch(language), f"{where}: InvalidLanguage"
    if channel.find("ttl") is not None:
        ttl = channel.findtext("ttl") or ""
        assert ttl.isdigit() and int(ttl) > 0, f"{where}: InvalidPositiveInteger <ttl>"
    image = channel.find("image")
    if image is not None:
        for name in ("url", "title", "link"):
            assert image.findtext(name), f"{where}: MissingElement <image><{name}>"
        assert image.findtext("link") == channel.findtext("link"), f"{where}: ImageLinkDoesntMatch"
        assert image.findtext("title") == channel.findtext("title"), (
            f"{where}: ImageTitleDoesntMatch"
        )
        assert_uri(image.findtext("url"), f"{where} <image><url>")
        for name, most in (("width", 144), ("height", 400)):
            size = image.findtext(name)
            assert size is None or (size.isdigit() and 0 < int(size) <= most), (
                f"{where}: InvalidWidth/InvalidHeight <image><{name}> {size!r}"
            )
    for name in ("lastBuildDate", "pubDate"):
        if channel.find(name) is not None:
            found |= validator_rfc822(channel.findtext(name), f"{where} <{name}>")
    selves = [e for e in channel.findall(f"{ATOM}link") if e.get("rel") == "self"]
    assert selves, f"{where}: MissingAtomSelfLink"
    assert len(selves) == 1, f"{where}: DuplicateAtomLink"
    assert selves[0].get("href") == feed_url(folder, "rss.xml", base), (
        f"{where}: SelfDoesntMatchLocation {selves[0].get('href')!r}"
    )
    guids: list[str] = []
    for item in channel.findall("item"):
        here = f"{where} {item.findtext('guid')}"
        assert item.findtext("title") or item.findtext("description"), f"{here}: MissingElement"
        assert_once(
            item,
            [
                "title",
                "link",
                "description",
                "guid",
                "pubDate",
                "source",
                CONTENT_ENCODED,
                "comments",
            ],
            here,
        )
        for child in item:
            tag = str(child.tag)
            assert tag.startswith("{") or tag in RSS_ITEM, f"{here}: UndefinedElement <{tag}>"
        order = [str(child.tag) for child in item]
        if CONTENT_ENCODED in order:
            assert "description" in order[: order.index(CONTENT_ENCODED)], (
                f"{here}: NeedDescriptionBeforeContent"
            )
        title = item.find("title")
        if title is not None:
            assert title.text, f"{here}: NotBlank <title>"
            found |= plain_text_warnings(title.text, _lines_of(lines, title), here, True)
        assert_uri(item.findtext("link"), f"{here} <link>")
        author = item.findtext("author")
        assert author is None or re.fullmatch(r"[^@\s()]+@[^@\s()]+ \(.+\)", author), (
            f"{here}: InvalidContact <author> (an address, then the name in parentheses)"
        )
        guid = item.find("guid")
        assert guid is not None and guid.text, f"{here}: MissingGuid"
        permalink = guid.get("isPermaLink", "true")
        assert permalink in {"true", "false"}, f"{here}: InvalidBooleanAttribute isPermaLink"
        if permalink == "true":
            assert not guid.text.lower().startswith(("tag:", "urn:uuid:")), (
                f"{here}: InvalidPermalink"
            )
            assert_uri(guid.text, f"{here} <guid>: InvalidHttpGUID")
        else:
            assert_uri(guid.text, f"{here} <guid>")  # an id all the same (feedpub's rule)
        guids.append(guid.text)
        for category in item.findall("category"):
            assert category.text, f"{here}: NotBlank <category>"
            found |= plain_text_warnings(category.text, _lines_of(lines, category), here, True)
            if category.get("domain") is not None:
                assert_uri(category.get("domain"), f"{here} <category domain>")
        found |= validator_rfc822(item.findtext("pubDate"), f"{here} <pubDate>")
        # The description is HTML feedpub writes from the summary; the content is the body
        # (the author's), but in the issues feed feedpub writes it too.
        found |= html_warnings(item.findtext("description"), f"{here} <description>", False)
        issues = folder == "issues"
        found |= html_warnings(
            item.findtext(CONTENT_ENCODED), f"{here} <content:encoded>", not issues
        )
        for enclosure in item.findall("enclosure"):
            assert_uri(enclosure.get("url"), f"{here} <enclosure url>")
            assert (enclosure.get("length") or "").isdigit(), f"{here}: InvalidIntegerAttribute"
            assert re.fullmatch(r"[\w.+-]+/[\w.+-]+", enclosure.get("type") or ""), (
                f"{here}: InvalidMIMEType"
            )
        for media in item.iter(f"{MEDIA}content"):
            assert_uri(media.get("url"), f"{here} <media:content url>")
    assert len(guids) == len(set(guids)), f"{where}: DuplicateValue <guid> {guids}"
    return found


def validator_atom(data: bytes, folder: str, base: str = SITE_URL) -> set[str]:
    """Every check of the validator's Atom 1.0 rules that can fire on a feed feedpub writes;
    the author's own warnings (AUTHOR_KINDS) that remain."""
    where = f"{folder or '.'}/atom.xml"
    root = etree.fromstring(data)
    lines = data.split(b"\n")
    found: set[str] = set()
    assert root.tag == f"{ATOM}feed", f"{where}: UndefinedElement"
    assert_good_characters(root, where)
    language = root.get("{http://www.w3.org/XML/1998/namespace}lang")
    assert language is None or LANGUAGE.fullmatch(language), f"{where}: InvalidLanguage"

    def text_construct(element: etree._Element, here: str, content: bool = False) -> set[str]:
        kind = element.get("type", "text")
        assert kind in {"text", "html", "xhtml"}, f"{here}: InvalidTextType {kind!r}"
        assert element.text or len(element), f"{here}: NotBlank <{element.tag!s}>"
        if kind == "text":
            return plain_text_warnings(
                element.text or "", _lines_of(lines, element), here, False, "ContainsUndeclaredHTML"
            )
        if kind == "html":
            return html_warnings(element.text, here, content and folder != "issues")
        return set()

    def person(element: etree._Element, here: str) -> set[str]:
        name = element.find(f"{ATOM}name")
        assert name is not None and name.text, f"{here}: MissingElement <name>"
        assert not re.search(r"<[^>@\s]+@[^>\s]+>", name.text), (
            f"{here}: ContainsEmail {name.text!r}"
        )
        email = element.findtext(f"{ATOM}email")
        assert email is None or re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.\w+", email), (
            f"{here}: InvalidContact"
        )
        if element.find(f"{ATOM}uri") is not None:
            assert_uri(element.findtext(f"{ATOM}uri"), f"{here} <uri>")
        return plain_text_warnings(name.text, _lines_of(lines, name), here, False)

    document = feed_url(folder, "atom.xml", base)

    def links(element: etree._Element, here: str) -> None:
        seen: set[tuple[str, str | None, str | None]] = set()
        # The base in scope (xml:base on the element or above it, else the document's own).
        bases = [e.get(XML_BASE) for e in (element, *element.iterancestors())]
        in_scope = next((b for b in bases if b is not None), document)
        for link in element.findall(f"{ATOM}link"):
            assert link.get("href"), f"{here}: MissingHref"
            assert_uri(link.get("href"), f"{here} <link href>")
            # A link that resolves to the in-scope base, where that is not the document itself,
            # reads as a reference to the same document.
            target = urljoin(in_scope, link.get("href", "")).split("#")[0]
            assert in_scope == document or target != in_scope.split("#")[0], (
                f"{here}: SameDocumentReference {link.get('href')!r} (xml:base {in_scope!r})"
            )
            rel = link.get("rel", "alternate")
            assert rel in ATOM_RELS or ":" in rel, f"{here}: UnregisteredAtomLinkRel {rel!r}"
            if rel == "alternate":
                key = (rel, link.get("type"), link.get("hreflang"))
                assert key not in seen, f"{here}: DuplicateAtomLink"
                seen.add(key)

    for name in ("id", "title", "updated"):
        assert root.find(f"{ATOM}{name}") is not None, f"{where}: MissingElement <{name}>"
    assert_once(
        root,
        [
            f"{ATOM}{n}"
            for n in ("id", "title", "updated", "subtitle", "rights", "icon", "logo", "generator")
        ],
        where,
    )
    assert_atom_id(root.findtext(f"{ATOM}id"), f"{where} <id>")
    for name in ("title", "subtitle"):
        element = root.find(f"{ATOM}{name}")
        if element is not None:
            found |= text_construct(element, f"{where} <{name}>")
    found |= validator_rfc3339(root.findtext(f"{ATOM}updated"), f"{where} <updated>")
    feed_authors = root.findall(f"{ATOM}author")
    for author in feed_authors:
        found |= person(author, f"{where} <author>")
    generator = root.find(f"{ATOM}generator")
    if generator is not None and generator.get("uri"):
        assert_uri(generator.get("uri"), f"{where} <generator uri>")
    links(root, where)
    selves = [e.get("href") for e in root.findall(f"{ATOM}link") if e.get("rel") == "self"]
    assert selves, f"{where}: MissingSelf"
    assert selves == [feed_url(folder, "atom.xml", base)], (
        f"{where}: SelfDoesntMatchLocation {selves}"
    )
    ids: list[str] = []
    updated: list[str] = []
    for entry in root.findall(f"{ATOM}entry"):
        here = f"{where} {entry.findtext(f'{ATOM}id')}"
        for name in ("id", "title", "updated"):
            assert entry.find(f"{ATOM}{name}") is not None, f"{here}: MissingElement <{name}>"
        assert_once(
            entry,
            [
                f"{ATOM}{n}"
                for n in (
                    "id",
                    "title",
                    "updated",
                    "published",
                    "summary",
                    "content",
                    "rights",
                    "source",
                )
            ],
            here,
        )
        entry_id = entry.findtext(f"{ATOM}id") or ""
        assert_atom_id(entry_id, f"{here} <id>")
        ids.append(entry_id)
        updated.append(entry.findtext(f"{ATOM}updated") or "")
        assert feed_authors or entry.findall(f"{ATOM}author"), f"{here}: MissingAuthor"
        for author in entry.findall(f"{ATOM}author"):
            found |= person(author, f"{here} <author>")
        for name in ("updated", "published"):
            if entry.find(f"{ATOM}{name}") is not None:
                found |= validator_rfc3339(entry.findtext(f"{ATOM}{name}"), f"{here} <{name}>")
        links(entry, here)
        title = entry.find(f"{ATOM}title")
        assert title is not None
        found |= text_construct(title, f"{here} <title>")
        summary = entry.find(f"{ATOM}summary")
        content = entry.find(f"{ATOM}content")
        if summary is not None:
            found |= text_construct(summary, f"{here} <summary>")
        if content is not None:
            assert content.get("src") is None or summary is not None, f"{here}: MissingSummary"
            found |= text_construct(content, f"{here} <content>", content=True)
        else:
            assert summary is not None, f"{here}: MissingTextualContent"
        for category in entry.findall(f"{ATOM}category"):
            assert category.get("term"), f"{here}: MissingAttribute <category term>"
            if category.get("scheme") is not None:
                assert_uri(category.get("scheme"), f"{here} <category scheme>")
            found |= plain_text_warnings(
                category.get("label") or "", _lines_of(lines, category), here, False
            )
        for media in entry.iter(f"{MEDIA}content"):
            assert_uri(media.get("url"), f"{here} <media:content url>")
    assert len(ids) == len(set(ids)), f"{where}: DuplicateIds {ids}"
    if len(updated) != len(set(updated)):
        found.add("DuplicateUpdated")  # two articles written with the same date and time
    return found


JSON_FEED_KEYS = {
    "version", "title", "home_page_url", "feed_url", "description", "user_comment",
    "next_url", "icon", "favicon", "authors", "language", "expired", "hubs", "items",
}  # fmt: skip
JSON_ITEM_KEYS = {
    "id", "url", "external_url", "title", "content_html", "content_text", "summary", "image",
    "banner_image", "date_published", "date_modified", "authors", "tags", "language",
    "attachments",
}  # fmt: skip


def validator_json(data: bytes, folder: str, base: str = SITE_URL) -> set[str]:
    """JSON Feed 1.1's rules (jsonfeed.org/version/1.1): the required keys and their types,
    URLs that are absolute, RFC 3339 dates, authors with a name, url or avatar, extensions
    only under an underscore; the author's own warnings that remain."""
    where = f"{folder or '.'}/feed.json"
    document = json.loads(data.decode("utf-8"))
    found: set[str] = set()
    assert document.get("version") == JSON_FEED_VERSION, f"{where}: version"
    assert isinstance(document.get("title"), str) and document["title"], f"{where}: title"
    assert isinstance(document.get("items"), list), f"{where}: items"
    for key in document:
        assert key in JSON_FEED_KEYS or key.startswith("_"), f"{where}: unknown key {key!r}"
    for key in ("home_page_url", "feed_url", "icon", "favicon", "next_url"):
        if key in document:
            assert_absolute(document[key], f"{where} {key}")
            assert_uri(document[key], f"{where} {key}")
    if "language" in document:
        assert LANGUAGE.fullmatch(document["language"]), f"{where}: language"

    def authors(value: object, here: str) -> None:
        assert isinstance(value, list) and value, f"{here}: authors is a non-empty array"
        for author in value:
            assert isinstance(author, dict) and {"name", "url", "avatar"} & set(author), here
            assert all(isinstance(v, str) and v for v in author.values()), here
            for key in ("url", "avatar"):
                if key in author:
                    assert_uri(author[key], f"{here} author {key}")

    if "authors" in document:
        authors(document["authors"], where)
    ids: list[str] = []
    for item in document["items"]:
        here = f"{where} {item.get('id')}"
        for key in item:
            assert key in JSON_ITEM_KEYS or key.startswith("_"), f"{here}: unknown key {key!r}"
        assert isinstance(item.get("id"), str) and item["id"], f"{here}: id"
        ids.append(item["id"])
        assert "content_html" in item or "content_text" in item, f"{here}: no content"
        for key in ("title", "content_html", "content_text", "summary"):
            if key in item:
                assert isinstance(item[key], str), f"{here}: {key} is a string"
        for key in ("url", "external_url", "image", "banner_image"):
            if key in item:
                # The spec's URLs are fetched as they are: absolute http(s), nothing to escape.
                assert_absolute(item[key], f"{here} {key}")
                assert_uri(item[key], f"{here} {key}")
        for key in ("date_published", "date_modified"):
            if key in item:
                found |= validator_rfc3339(item[key], f"{here} {key}")
        if "authors" in item:
            authors(item["authors"], here)
        if "tags" in item:
            assert all(isinstance(t, str) and t for t in item["tags"]), f"{here}: tags"
        found |= html_warnings(item.get("content_html"), f"{here} content_html", folder != "issues")
    assert len(ids) == len(set(ids)), f"{where}: duplicate ids {ids}"
    return found


VALIDATORS: dict[str, Callable[[bytes, str, str], set[str]]] = {
    "rss": validator_rss,
    "atom": validator_atom,
    "json": validator_json,
}


def check_rss(data: bytes, folder: str, base: str = SITE_URL) -> Feed:
    where = f"{folder or '.'}/rss.xml"
    assert validator_rss(data, folder, base) <= AUTHOR_KINDS
    root = etree.fromstring(data)
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    assert channel is not None
    title = channel.findtext("title")
    assert title, where
    assert channel.findtext("description"), where
    # The channel link is the page the feed stands for; the self link is the feed itself.
    assert channel.findtext("link") == home_url(folder, base), where
    selves = [link.get("href") for link in channel.iter(f"{ATOM}link") if link.get("rel") == "self"]
    assert selves == [feed_url(folder, "rss.xml", base)], where
    updated = channel.findtext("lastBuildDate")
    items = []
    for element in channel.findall("item"):
        guid = element.find("guid")
        assert guid is not None and guid.text, where
        # Ids are URNs and URIs, not the article's address.
        assert guid.get("isPermaLink") == "false", f"{where}: {guid.text}"
        assert URI.fullmatch(guid.text), f"{where}: {guid.text}"
        item_title = element.findtext("title")
        assert item_title, f"{where}: {guid.text} has no title"
        link = element.findtext("link")
        assert_absolute(link, f"{where} {guid.text} <link>")
        # <author> and dc:creator at once say one thing twice (DuplicateItemSemantics).
        both = element.find("author") is not None and element.find(DC_CREATOR) is not None
        assert not both, f"{where}: {guid.text} has <author> and dc:creator"
        description = element.findtext("description")
        content = element.findtext(CONTENT_ENCODED)
        assert_absolute_links(description, f"{where} {guid.text} <description>")
        assert_absolute_links(content, f"{where} {guid.text} <content:encoded>")
        items.append(
            Item(
                id=guid.text,
                title=item_title,
                link=link or "",
                published=rfc822(element.findtext("pubDate"), f"{where} {guid.text} <pubDate>"),
                # One author with an address is RSS's <author>, "jane@example.org (Jane Doe)".
                authors=tuple(
                    re.sub(r"^\S+@\S+ \((.*)\)$", r"\1", e.text or "")
                    for e in [*element.findall("author"), *element.findall(DC_CREATOR)]
                ),
                tags=tuple(e.text or "" for e in element.findall("category")),
                content=content,
                summary=description,
            )
        )
    assert_unique_ids(items, where)
    assert_feedparser_happy(data)
    return Feed(
        title, rfc822(updated, f"{where} <lastBuildDate>") if updated else None, tuple(items)
    )


def _alternates(element: etree._Element) -> list[str | None]:
    # A link without rel is an alternate link (RFC 4287, 4.2.7.2).
    return [
        link.get("href")
        for link in element.findall(f"{ATOM}link")
        if link.get("rel", "alternate") == "alternate"
    ]


def check_atom(data: bytes, folder: str, base: str = SITE_URL) -> Feed:
    where = f"{folder or '.'}/atom.xml"
    assert validator_atom(data, folder, base) <= AUTHOR_KINDS
    root = etree.fromstring(data)
    assert root.tag == f"{ATOM}feed"
    feed_id = root.findtext(f"{ATOM}id")
    assert feed_id and URI.fullmatch(feed_id), where
    title = root.findtext(f"{ATOM}title")
    assert title, where
    updated = rfc3339(root.findtext(f"{ATOM}updated"), f"{where} <updated>")
    # A feed-level author: then no entry needs one of its own.
    assert root.findtext(f"{ATOM}author/{ATOM}name"), where
    selves = [link.get("href") for link in root.findall(f"{ATOM}link") if link.get("rel") == "self"]
    assert selves == [feed_url(folder, "atom.xml", base)], where
    assert _alternates(root) == [home_url(folder, base)], where
    items = []
    for entry in root.findall(f"{ATOM}entry"):
        entry_id = entry.findtext(f"{ATOM}id")
        assert entry_id and URI.fullmatch(entry_id), where
        entry_title = entry.findtext(f"{ATOM}title")
        assert entry_title, f"{where}: {entry_id} has no title"
        entry_updated = rfc3339(entry.findtext(f"{ATOM}updated"), f"{where} {entry_id} <updated>")
        published = rfc3339(entry.findtext(f"{ATOM}published"), f"{where} {entry_id} <published>")
        assert published <= entry_updated <= updated, f"{where}: {entry_id}"
        alternates = _alternates(entry)
        assert len(alternates) == 1, f"{where}: {entry_id} links {alternates}"
        assert_absolute(alternates[0], f"{where} {entry_id} <link>")
        content = entry.find(f"{ATOM}content")
        if content is not None:
            assert content.get("type") == "html", where
            assert (content.text or "").strip(), f"{where}: {entry_id} has an empty <content>"
        summary = entry.findtext(f"{ATOM}summary")
        html = content.text if content is not None else None
        assert_absolute_links(html, f"{where} {entry_id} <content>")
        assert_absolute_links(summary, f"{where} {entry_id} <summary>")
        items.append(
            Item(
                id=entry_id,
                title=entry_title,
                link=alternates[0] or "",
                published=published,
                authors=tuple(e.text or "" for e in entry.findall(f"{ATOM}author/{ATOM}name")),
                tags=tuple(e.get("term") or "" for e in entry.findall(f"{ATOM}category")),
                content=html,
                summary=summary,
            )
        )
        assert entry_updated <= updated
    assert_unique_ids(items, where)
    assert_feedparser_happy(data)
    return Feed(title, updated, tuple(items))


def check_json(data: bytes, folder: str, base: str = SITE_URL) -> Feed:
    where = f"{folder or '.'}/feed.json"
    assert validator_json(data, folder, base) <= AUTHOR_KINDS
    document = json.loads(data.decode("utf-8"))
    assert document["version"] == JSON_FEED_VERSION, where
    assert document["title"], where
    assert document["home_page_url"] == home_url(folder, base), where
    assert document["feed_url"] == feed_url(folder, "feed.json", base), where
    items = []
    for entry in document["items"]:
        assert isinstance(entry["id"], str) and URI.fullmatch(entry["id"]), where
        assert entry["title"], f"{where}: {entry['id']}"
        assert_absolute(entry["url"], f"{where} {entry['id']} url")
        content = entry.get("content_html")
        assert content is not None or "content_text" in entry, f"{where}: {entry['id']}"
        assert content is None or content.strip(), f"{where}: {entry['id']} empty content_html"
        assert_absolute_links(content, f"{where} {entry['id']} content_html")
        items.append(
            Item(
                id=entry["id"],
                title=entry["title"],
                link=entry["url"],
                published=rfc3339(entry["date_published"], f"{where} {entry['id']} date_published"),
                authors=tuple(a["name"] for a in entry.get("authors", [])),
                tags=tuple(entry.get("tags", [])),
                content=content,
                summary=entry.get("summary"),
            )
        )
    assert_unique_ids(items, where)
    return Feed(document["title"], None, tuple(items))


CHECKS: dict[str, tuple[str, Callable[[bytes, str, str], Feed]]] = {
    "rss": ("rss.xml", check_rss),
    "atom": ("atom.xml", check_atom),
    "json": ("feed.json", check_json),
}


def read_feed(output: Path, folder: str, kind: str, base: str = SITE_URL) -> Feed:
    name, check = CHECKS[kind]
    return check((output / folder / name).read_bytes(), folder, base)


def feed_folders(output: Path) -> list[str]:
    """The folders holding a feed: "" for the main feeds, then tags/... and authors/..."""
    found = sorted(p.parent.relative_to(output).as_posix() for p in output.glob("*/*/rss.xml"))
    for folder in ["", *found]:
        assert all((output / folder / name).is_file() for name in FEED_FILES), folder
    return ["", *found]


def check_all(output: Path, base: str = SITE_URL) -> dict[tuple[str, str], Feed]:
    """Validate every feed of a build."""
    return {
        (folder, kind): read_feed(output, folder, kind, base)
        for folder in feed_folders(output)
        for kind in FORMATS
    }


def feed_bytes(output: Path) -> dict[str, bytes]:
    return {
        f"{folder}/{name}": (output / folder / name).read_bytes()
        for folder in feed_folders(output)
        for name in FEED_FILES
    }


def all_bytes(output: Path) -> dict[str, bytes]:
    return {
        p.relative_to(output).as_posix(): p.read_bytes()
        for p in sorted(output.rglob("*"))
        if p.is_file()
    }


def write_site(root: Path, articles: dict[str, str | bytes], extra: str = "") -> Path:
    (root / "content").mkdir(parents=True)
    (root / "feedpub.toml").write_text(SETTINGS + extra, encoding="utf-8")
    write_articles(root, articles)
    return root


def build_output(root: Path, now: datetime = NOW) -> Path:
    """Build the site at ``root``; its output folder."""
    publish(root, now)
    return load(root).output_dir


def q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are YAML)."""
    return json.dumps(text, ensure_ascii=False)


# --- a small newsroom: every kind of article, every kind of feed --------------------------------
