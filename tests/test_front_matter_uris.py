"""URI-valued front matter: ``image`` takes only http(s) URLs and paths in the site, ``url``
only http(s) URLs, both percent-encoded where a URI needs it; ``id`` only a UUID, a tag: URI
(RFC 4151) or an http(s) URL, valid and in normal form. Every reader (Markdown's YAML front
matter, a plain-text header block, a plugin's through make_article) refuses anything else with
the file, the key's line and the fix, and every output writes the encoded form."""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import UTC, date, datetime
from typing import Any

import lxml.etree
import lxml.html
import pytest
from click.testing import CliRunner
from helpers import (
    NEWSLETTER,
    NOW_ARG,
    SITE_URL,
    MakeSite,
    article,
    assert_clean_exit,
    invoke,
    make_issue,
    publish,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from feedpub.config import Site
from feedpub.content.bodies import image_url
from feedpub.content.readers import read_article
from feedpub.content.readers.common import Findings, Value, make_article
from feedpub.errors import Problem
from feedpub.model import Article

RELPATH = "news/story"
ATOM = {"atom": "http://www.w3.org/2005/Atom"}
# Where each reader's file puts the key under test: the fourth line of the Markdown file (after
# '---', title and date), the third of the plain-text header block, the seventh of a plugin's.
LINES = {"markdown": 4, "plaintext": 3, "plugin": 7}

# -- reading one value through each reader ----------------------------------------------------


def _yaml(value: object) -> str:
    """The value as YAML writes it: a string double-quoted (JSON's escapes are YAML's)."""
    if isinstance(value, str):
        # Double-quoted, every character that is not printable as a YAML escape (the file's
        # own control characters would be dropped as it is decoded).
        escaped = "".join(
            c if c.isprintable() and c not in '"\\' else f"\\U{ord(c):08x}" for c in value
        )
        return f'"{escaped}"'
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return json.dumps(value)


def read_one(
    site: Site, reader: str, key: str, value: object
) -> tuple[Article | None, list[Problem]]:
    """An article whose only extra field is ``key``, read by ``reader``."""
    if reader == "plugin":
        found = Findings(RELPATH + ".note")
        meta = {"title": Value("Hi", 1), "date": Value("2026-11-20", 2), key: Value(value, 7)}
        path = site.content_dir / "story.note"
        made = make_article(path, RELPATH + ".note", meta, "Body.", "markdown", site, found)
        return made, found.problems
    if reader == "markdown":
        name = "story.md"
        text = f"---\ntitle: Hi\ndate: 2026-11-20\n{key}: {_yaml(value)}\n---\n\nBody.\n"
    else:
        assert isinstance(value, str)
        name = "story.txt"
        text = f"Title: Hi\nDate: 2026-11-20\n{key.capitalize()}: {value}\n\nBody.\n"
    path = site.content_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return read_article(path, f"{RELPATH}{path.suffix}", site)


def plain(value: object) -> bool:
    """Whether a plain-text header line can carry the value as it is (the file's control
    characters are dropped as it is decoded, and its spaces merged)."""
    return (
        isinstance(value, str)
        and value == " ".join(value.split())
        and value != ""
        and all(unicodedata.category(c) not in {"Cc", "Cs"} for c in value)
    )


def readers_of(values: dict[str, tuple[object, str]]) -> list[Any]:
    """(reader, value, words) for each value and each reader that can carry it."""
    cases = []
    for case, (value, words) in values.items():
        for reader in ("markdown", "plaintext", "plugin"):
            # PyYAML's C loader refuses a lone surrogate's escape as a YAML error.
            surrogate = isinstance(value, str) and re.search("[\ud800-\udfff]", value)
            if (reader != "plaintext" or plain(value)) and not (reader == "markdown" and surrogate):
                cases.append(pytest.param(reader, value, words, id=f"{reader}-{case}"))
    return cases


def refused(site: Site, reader: str, key: str, value: object) -> Problem:
    made, problems = read_one(site, reader, key, value)
    assert made is None
    (problem,) = [p for p in problems if p.severity == "error"]
    assert problem.path.startswith(RELPATH)
    assert problem.line == LINES[reader]
    return problem


def accepted(site: Site, reader: str, key: str, value: object) -> Article:
    made, problems = read_one(site, reader, key, value)
    assert problems == []
    assert made is not None
    return made


# -- image ------------------------------------------------------------------------------------

ONLY = "must be an http(s) URL, like 'https://example.org/photo.jpg', or a path in the site"
HOSTILE_IMAGES: dict[str, tuple[object, str]] = {
    "javascript": ("javascript:alert(1)", "'image' 'javascript:alert(1)' is a javascript: URL"),
    "javascript-mixed-case": ("JaVaScRiPt:alert(1)", "is a javascript: URL, which feedpub never"),
    "javascript-after-spaces": ("   javascript:alert(1)", "is a javascript: URL"),
    "javascript-with-tab": ("java\tscript:alert(1)", "control character U+0009 at character 5"),
    "javascript-with-newline": ("java\nscript:x", "control character U+000A"),
    "javascript-after-nul": ("\x00javascript:alert(1)", "control character U+0000 at character 1"),
    "escape-character": ("a\x1b.png", "control character U+001B"),
    "c1-control": ("a\x85.png", "control character U+0085"),
    "lone-surrogate": ("a\ud800.png", "control character U+D800"),
    "data": ("data:image/svg+xml,<svg onload=alert(1)>", "is a data: URL"),
    "vbscript": ("vbscript:msgbox(1)", "is a vbscript: URL"),
    "file": ("file:///etc/passwd", "is a file: URL"),
    "ftp": ("ftp://example.org/a.png", f"is a ftp: URL, which feedpub never writes; it {ONLY}"),
    "drive-letter": ("C:/pictures/a.png", "is a c: URL"),
    "scheme-relative": ("//evil.example/x.png", "starts with '//', which names another host"),
    "scheme-relative-slip": ("//images/a.png", "write 'https://images/a.png', or '/images/a.png'"),
    "backslash": ("images\\a.png", "has a backslash"),
    "backslash-host": ("/\\evil.example/a.png", "has a backslash"),
    "no-host": ("https:///a.png", "has no host"),
    "no-slashes": ("https:a.png", "has no host after 'https:'"),
    "user-and-password": ("https://example.org:pw@evil.example/a.png", "a user name or password"),
    "port-too-big": ("https://example.org:99999/a.png", "a port that is not a number"),
    "port-not-a-number": ("https://example.org:http/a.png", "a port that is not a number"),
    "space-in-host": ("https://exa mple.org/a.png", "a host that is not a domain name"),
    "quote-in-host": ('https://example.org"onerror="x/a.png', "a host that is not a domain name"),
    "broken-ipv6": ("https://[::1/a.png", "a host that is not a domain name"),
    "bad-idna": ("https://a..b.example/a.png", "a host that is not a domain name"),
    "only-a-query": ("?v=2", "has no path"),
    "only-a-fragment": ("#top", "has no path"),
    "empty-quotes": ("", "'image' is empty; remove the line or give a path"),
    "only-spaces": ("   ", "'image' is empty"),
    "nothing": (None, "'image' is empty"),
    "number": (2026, "'image' must be text, not int"),
    "true": (True, "'image' must be text, not true/false"),
    "list": (["a.png"], "'image' must be text, not a list"),
    "mapping": ({"src": "a.png"}, "'image' must be text, not a mapping"),
    "date": (date(2026, 1, 1), "'image' must be text, not a date"),
    "huge": ("https://example.org/" + "a" * 3000, "'image' is 3020 characters; keep it under 2000"),
    "huge-once-encoded": (
        "/" + "é" * 700,
        "'image' is 4201 characters once percent-encoded; keep it under 2000",
    ),
}


@pytest.mark.parametrize(("reader", "value", "words"), readers_of(HOSTILE_IMAGES))
def test_an_image_that_is_no_http_url_or_site_path_is_an_error_on_its_line(
    test_site: Site, reader: str, value: object, words: str
) -> None:
    assert words in refused(test_site, reader, "image", value).message


ENCODED_IMAGES: dict[str, tuple[object, str]] = {
    "site-path": ("/images/a.png", "/images/a.png"),
    "relative": ("images/a.png", "images/a.png"),
    "parent": ("../shared/a.png", "../shared/a.png"),
    "absolute": ("https://cdn.example.org/a.png?w=600", "https://cdn.example.org/a.png?w=600"),
    "spaces": ("/images/my photo.png", "/images/my%20photo.png"),
    "double-quotes": ('/images/"best".png', "/images/%22best%22.png"),
    "attribute-breakout": ('a.png" onerror="alert(1)', "a.png%22%20onerror=%22alert(1)"),
    "apostrophe": ("/images/it's.png", "/images/it%27s.png"),
    "angle-brackets": ("<script>.png", "%3Cscript%3E.png"),
    "non-ascii": ("/images/café.png", "/images/caf%C3%A9.png"),
    "astral": ("/images/🦆.png", "/images/%F0%9F%A6%86.png"),
    "right-to-left-override": ("\u202ejavascript:alert(1)", "%E2%80%AEjavascript%3Aalert(1)"),
    "already-encoded": ("/images/my%20photo.png", "/images/my%20photo.png"),
    "lower-case-encoding-kept": ("/images/caf%c3%a9.png", "/images/caf%c3%a9.png"),
    "stray-percent": ("/images/100%.png", "/images/100%25.png"),
    "percent-not-hex": ("/images/%zz.png", "/images/%25zz.png"),
    "brackets": ("/images/[1].png", "/images/%5B1%5D.png"),
    "second-hash": ("/a.png#b#c", "/a.png#b%23c"),
    "colon-in-first-segment": ("2026:01.png", "2026%3A01.png"),
    "colon-after-dot-slash": ("./a:b.png", "./a:b.png"),
    "upper-case-scheme-and-host": (
        "HTTPS://CDN.Example.ORG/A.png",
        "https://cdn.example.org/A.png",
    ),
    "international-host": (
        "https://bücher.example/ä.png",
        "https://xn--bcher-kva.example/%C3%A4.png",
    ),
    "ipv6-host": ("https://[::1]:8080/a.png", "https://[::1]:8080/a.png"),
    "query-with-spaces": (
        'https://x.example/a.png?t=a b&u="',
        "https://x.example/a.png?t=a%20b&u=%22",
    ),
}


@pytest.mark.parametrize(("reader", "value", "expected"), readers_of(ENCODED_IMAGES))
def test_an_image_is_kept_percent_encoded_as_a_uri_needs(
    test_site: Site, reader: str, value: object, expected: str
) -> None:
    assert accepted(test_site, reader, "image", value).image == expected


# -- url --------------------------------------------------------------------------------------

HOSTILE_URLS: dict[str, tuple[object, str]] = {
    "javascript": (
        "javascript:alert(1)",
        "'url' must be an absolute http(s) URL, not 'javascript:",
    ),
    "data": ("data:text/html,<script>alert(1)</script>", "must be an absolute http(s) URL"),
    "site-path": ("/local/path", "'url' must be an absolute http(s) URL, not '/local/path'"),
    "scheme-relative": ("//elsewhere.example/story", "must be an absolute http(s) URL"),
    "mailto": ("mailto:desk@example.org", "must be an absolute http(s) URL"),
    "no-host": ("https://", "has no host"),
    "user-and-password": ("https://news.example.org@evil.example/", "a user name or password"),
    "control-character": ("https://elsewhere.example/\x07", "control character U+0007"),
    "empty": ("", "'url' is empty"),
    "list": (["https://a.example/"], "'url' must be text, not a list"),
}


@pytest.mark.parametrize(("reader", "value", "words"), readers_of(HOSTILE_URLS))
def test_a_url_that_is_no_http_url_is_an_error_on_its_line(
    test_site: Site, reader: str, value: object, words: str
) -> None:
    assert words in refused(test_site, reader, "url", value).message


ENCODED_URLS: dict[str, tuple[object, str]] = {
    "plain": ("https://elsewhere.example/story", "https://elsewhere.example/story"),
    "spaces-and-quotes": (
        'https://elsewhere.example/a story?q="x"',
        "https://elsewhere.example/a%20story?q=%22x%22",
    ),
    "international": ("http://bücher.example/straße", "http://xn--bcher-kva.example/stra%C3%9Fe"),
}


@pytest.mark.parametrize(("reader", "value", "expected"), readers_of(ENCODED_URLS))
def test_a_url_is_kept_percent_encoded(
    test_site: Site, reader: str, value: object, expected: str
) -> None:
    assert accepted(test_site, reader, "url", value).url == expected


# -- what any text gives ----------------------------------------------------------------------

# RFC 3986's URI-reference, character by character: what a written URL may hold.
URI_REFERENCE = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#\[\]]|%[0-9A-Fa-f]{2})*")
URL_TEXT = st.lists(
    st.characters(codec="utf-8")
    | st.sampled_from([*":/?#[]@%\\\"' <>", "http", "https://", "//", "%4", "%41", "xn--"]),
    max_size=30,
).map("".join)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=URL_TEXT)
@example(text="javascript:alert(1)")
@example(text="//x")
@example(text="/a b")
def test_any_image_is_an_error_or_a_uri_reference_that_stays_on_http(
    test_site: Site, text: str
) -> None:
    for key in ("image", "url"):
        made, problems = read_one(test_site, "plugin", key, text)
        if made is None:
            assert [p.line for p in problems if p.severity == "error"] == [7]
            continue
        written = getattr(made, key)
        assert URI_REFERENCE.fullmatch(written), written
        # Brackets only around an IPv6 host (RFC 3986 3.2.2).
        assert not re.search(r"[\[\]]", re.sub(r"^https?://\[[0-9a-f:.]+\]", "", written))
        scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", written)
        assert (scheme.group(1) if scheme else None) in (
            {"http", "https"} if key == "url" else {"http", "https", None}
        )
        assert not written.startswith("//")
        assert written.count("#") <= 1
        # Read again, the written form is what it is: nothing is encoded twice.
        again, _ = read_one(test_site, "plugin", key, written)
        assert again is not None and getattr(again, key) == written


# -- where an image or a link is written ------------------------------------------------------

PHOTO = SITE_URL + "images/my%20%22best%22%20photo.png"
ELSEWHERE = "https://elsewhere.example/a%20story"
ELSEWHERE_PHOTO = "https://elsewhere.example/caf%C3%A9.png"
WRITTEN = {
    "2026-11-20-photo.md": article(
        "Photo", "2026-11-20 09:00", image=r'"/images/my \"best\" photo.png"', tags="[news]"
    ),
    "2026-11-21-elsewhere.md": article(
        "Elsewhere",
        "2026-11-21 09:00",
        url='"https://elsewhere.example/a story"',
        image="café.png",
        tags="[news]",
    ),
}


def test_every_output_writes_the_encoded_image_and_link(make_site: MakeSite) -> None:
    root = make_site(WRITTEN, extra=NEWSLETTER)
    publish(root)
    public = root / "public"
    for folder in ("", "tags/news/"):
        items = json.loads((public / folder / "feed.json").read_text(encoding="utf-8"))["items"]
        assert [(i["url"], i["image"]) for i in items] == [
            (ELSEWHERE, ELSEWHERE_PHOTO),
            (SITE_URL + "2026/11/photo/", PHOTO),
        ]
        rss = lxml.etree.fromstring((public / folder / "rss.xml").read_bytes())
        assert rss.findtext("channel/item/link") == ELSEWHERE
        atom = lxml.etree.fromstring((public / folder / "atom.xml").read_bytes())
        alternate = "atom:link[not(@rel) or @rel='alternate']"
        links = atom.xpath(f"//atom:entry[1]/{alternate}/@href", namespaces=ATOM)
        assert links == [ELSEWHERE]

    record = make_issue(root)
    publish(root)  # the issue's web version and the issues feed
    email = lxml.html.document_fromstring(record.html)
    assert sorted(email.xpath("//img/@src")) == [ELSEWHERE_PHOTO, PHOTO]
    assert ELSEWHERE in email.xpath("//a/@href")
    # The web version is a page of the site listing the articles (titles and summaries).
    web = lxml.html.document_fromstring((public / "issues/1/index.html").read_bytes())
    assert ELSEWHERE in web.xpath("//a/@href")
    issues = lxml.etree.fromstring((public / "issues/rss.xml").read_bytes())
    content = "{http://purl.org/rss/1.0/modules/content/}encoded"
    listed = lxml.html.fragment_fromstring(issues.findtext(f"channel/item/{content}", ""), "div")
    assert ELSEWHERE in listed.xpath("//a/@href")


def made(image: str, link: str = SITE_URL + "2026/11/made/") -> Article:
    """An article made without a reader (a plugin's own, or one read by an older feedpub)."""
    when = datetime(2026, 11, 20, tzinfo=UTC)
    return Article(
        source="x",
        relpath="x",
        title="X",
        date=when,
        body="",
        body_format="html",
        content_hash="",
        image=image,
        link=link,
    )


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("javascript:alert(1)", None),
        ("java\tscript:alert(1)", None),
        ("//evil.example/a.png", None),
        ("data:image/png;base64,AAAA", None),
        ("my photo.png", SITE_URL + "2026/11/made/my%20photo.png"),
        ('/"a".png', SITE_URL + "%22a%22.png"),
        ("https://cdn.example/é.png", "https://cdn.example/%C3%A9.png"),
    ],
    ids=["javascript", "tab", "scheme-relative", "data", "space", "quotes", "non-ascii"],
)
def test_an_image_no_reader_checked_is_written_encoded_or_not_at_all(
    image: str, expected: str | None
) -> None:
    assert image_url(made(image), SITE_URL) == expected


# -- id ---------------------------------------------------------------------------------------

UUID = "0b5f9c1e-4c55-4a5e-b7c2-8f0f4b9c2a11"
ACCEPTED = (
    "use the UUID 'feedpub new' writes, a tag: URI such as 'tag:example.org,2026:slug', "
    "or an http(s) URL"
)
NOT_TAG = "is not a valid tag URI (RFC 4151)"
NORMAL = "is not in normal form (RFC 3986 section 6.2, which Atom asks of ids"
BAD_IDS: dict[str, tuple[object, str]] = {
    "issue-14": (
        "tag:example.org,2026:<x>&y",
        f"'id' 'tag:example.org,2026:<x>&y' {NOT_TAG}: '<' cannot be in a URI; "
        "write it as 'tag:example.org,2026:%3Cx%3E&y'",
    ),
    "tag-space": ("tag:example.org,2026:a b", "' ' cannot be in a URI"),
    "tag-double-quote": ('tag:example.org,2026:"x"', "'\"' cannot be in a URI"),
    "tag-non-ascii": (
        "tag:example.org,2026:café",
        "'é' cannot be in a URI; write it as 'tag:example.org,2026:caf%C3%A9'",
    ),
    "tag-stray-percent": ("tag:example.org,2026:100%", "write it as 'tag:example.org,2026:100%25'"),
    "tag-two-fragments": ("tag:example.org,2026:a#b#c", "'#' cannot be in a URI"),
    "tag-control-character": ("tag:example.org,2026:a\x07", "control character U+0007"),
    "tag-upper-case-authority": (
        "tag:Example.org,2026:x",
        f"{NORMAL}: feed readers compare them character by character); "
        "write it as 'tag:example.org,2026:x'",
    ),
    "tag-upper-case-scheme": ("TAG:example.org,2026:x", "write it as 'tag:example.org,2026:x'"),
    "tag-lower-case-hex": (
        "tag:example.org,2026:caf%c3%a9",
        "write it as 'tag:example.org,2026:caf%C3%A9'",
    ),
    "tag-encoded-letter": ("tag:example.org,2026:%41", "write it as 'tag:example.org,2026:A'"),
    "tag-not-utf-8": ("tag:example.org,2026:%FF", "its %XX encode bytes that are not UTF-8"),
    "tag-no-date": ("tag:example.org:x", f"{NOT_TAG}: no ',' and date after the domain name"),
    "tag-two-digit-year": ("tag:example.org,26:x", "the date after ',' must be YYYY, YYYY-MM or"),
    "tag-no-colon": ("tag:example.org,2026", "must be YYYY, YYYY-MM or YYYY-MM-DD, then ':'"),
    "tag-month-13": ("tag:example.org,2026-13:x", "'2026-13' is not a date"),
    "tag-february-30": ("tag:example.org,2026-02-30:x", "'2026-02-30' is not a date"),
    "tag-leading-hyphen": ("tag:-example.org,2026:x", "is neither a domain name nor an email"),
    "tag-empty-label": ("tag:example..org,2026:x", "is neither a domain name nor an email"),
    "tag-no-authority": ("tag:,2026:x", "'' is neither a domain name nor an email"),
    "tag-empty-mailbox": ("tag:@example.org,2026:x", "is neither a domain name nor an email"),
    "tag-url-authority": ("tag:https://example.org,2026:x", "is neither a domain name nor an"),
    "uuid-bad-digit": (f"urn:uuid:{UUID[:-1]}g", "is not a UUID URN (RFC 9562): after 'urn:uuid:'"),
    "uuid-short": ("urn:uuid:1234", "is not a UUID URN (RFC 9562)"),
    "uuid-urn-in-braces": (f"urn:uuid:{{{UUID}}}", f"write it as 'urn:uuid:{UUID}'"),
    "uuid-urn-upper-case": (f"URN:UUID:{UUID.upper()}", f"write it as 'urn:uuid:{UUID}'"),
    "uuid-no-hyphens": (UUID.replace("-", ""), f"write it as '{UUID}' (the same id)"),
    "uuid-prefix": (f"uuid:{UUID}", f"write it as '{UUID}' (the same id)"),
    "other-urn": (
        "urn:isbn:0451450523",
        f"is a urn: URI, which feedpub does not take as an id; {ACCEPTED}",
    ),
    "mailto": ("mailto:desk@example.org", "is a mailto: URI, which feedpub does not take"),
    "javascript": ("javascript:alert(1)", "is a javascript: URI, which feedpub does not take"),
    "data": ("data:,x", "is a data: URI"),
    "ftp": ("ftp://example.org/x", "is a ftp: URI"),
    "no-scheme": (
        "not an id",
        f"'id' 'not an id' is neither a UUID nor an absolute URI; {ACCEPTED}",
    ),
    "number": (12345, "'id' '12345' is neither a UUID nor an absolute URI"),
    "http-no-slashes": ("http:example.org/x", "no host after 'http:'"),
    "http-no-host": ("https:///x", "has no host"),
    "http-space": ("https://example.org/a b", "write it as 'https://example.org/a%20b'"),
    "http-space-in-host": ("https://exa mple.org/", "has a host that is not a domain name"),
    "http-user": ("https://user@example.org/", "a user name or password before its host"),
    "http-ipv6": ("https://[::1]/", "has a host that is not a domain name"),
    "http-port": ("https://example.org:0x1bb/", "a port that is not a number"),
    "http-upper-case": ("HTTP://Example.ORG/a", f"{NORMAL}"),
    "http-upper-case-fix": ("HTTP://Example.ORG/a", "write it as 'http://example.org/a'"),
    "http-empty-path": ("https://example.org", "write it as 'https://example.org/'"),
    "http-default-port": ("https://example.org:443/a", "write it as 'https://example.org/a'"),
    "http-empty-port": ("https://example.org:/a", "write it as 'https://example.org/a'"),
    "http-dot-segments": (
        "https://example.org/a/./b/../c",
        "write it as 'https://example.org/a/c'",
    ),
    "http-encoded-tilde": (
        "https://example.org/%7euser",
        "write it as 'https://example.org/~user'",
    ),
    "http-non-ascii-host": ("https://bücher.example/", "as 'https://xn--bcher-kva.example/'"),
    "empty": ("", "'id' is empty; remove the line or give a UUID"),
    "nothing": (None, "'id' is empty"),
    "list": ([UUID], "'id' must be text, not a list"),
    "mapping": ({"uuid": UUID}, "'id' must be text, not a mapping"),
    "huge": ("tag:example.org,2026:" + "x" * 600, "'id' is 621 characters; keep it under 500"),
}


@pytest.mark.parametrize(("reader", "value", "words"), readers_of(BAD_IDS))
def test_an_id_that_is_no_valid_uuid_tag_or_http_uri_is_an_error_on_its_line(
    test_site: Site, reader: str, value: object, words: str
) -> None:
    assert words in refused(test_site, reader, "id", value).message


GOOD_IDS: dict[str, tuple[object, str]] = {
    "uuid": (UUID, f"urn:uuid:{UUID}"),
    "uuid-upper-case": (UUID.upper(), f"urn:uuid:{UUID}"),
    "uuid-in-braces": (f"{{{UUID}}}", f"urn:uuid:{UUID}"),
    "urn-uuid": (f"urn:uuid:{UUID}", f"urn:uuid:{UUID}"),
    "urn-uuid-upper-case-digits": (f"urn:uuid:{UUID.upper()}", f"urn:uuid:{UUID}"),
    "tag": ("tag:example.org,2026:slug", "tag:example.org,2026:slug"),
    "tag-email-and-day": (
        "tag:jane.doe@example.org,2026-11-20:blog/post",
        "tag:jane.doe@example.org,2026-11-20:blog/post",
    ),
    "tag-every-uri-character": (
        "tag:a-1.example,2026-02:a-._~!$&'()*+,;=:@/?x#frag/?",
        "tag:a-1.example,2026-02:a-._~!$&'()*+,;=:@/?x#frag/?",
    ),
    "tag-empty-specific": ("tag:example.org,2026:", "tag:example.org,2026:"),
    "tag-encoded": ("tag:example.org,2026:%3Cx%3E&y", "tag:example.org,2026:%3Cx%3E&y"),
    "tag-encoded-utf-8": ("tag:example.org,2026:caf%C3%A9", "tag:example.org,2026:caf%C3%A9"),
    "https": ("https://example.org/2026/budget", "https://example.org/2026/budget"),
    "http-query-fragment": ("http://example.org/a?b=c&d#e", "http://example.org/a?b=c&d#e"),
    "https-port": ("https://example.org:8443/x", "https://example.org:8443/x"),
    "https-idna": (
        "https://xn--bcher-kva.example/caf%C3%A9",
        "https://xn--bcher-kva.example/caf%C3%A9",
    ),
}


@pytest.mark.parametrize(("reader", "value", "expected"), readers_of(GOOD_IDS))
def test_a_valid_id_is_kept(test_site: Site, reader: str, value: object, expected: str) -> None:
    assert accepted(test_site, reader, "id", value).explicit_id == expected


# What the W3C feed validator takes, written here from the RFCs' grammars: a UUID URN
# (RFC 9562), a tag URI (RFC 4151, the authority in lower case), an http(s) URI with a host;
# all in RFC 3986's normal form (no %XX of an unreserved character, none in lower case).
_PCHARS = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-F]{2})*"
_DNS = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"
VALID_ID = re.compile(
    r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    rf"|tag:(?:[a-z0-9._-]+@)?{_DNS},[0-9]{{4}}(?:-[0-9]{{2}}(?:-[0-9]{{2}})?)?:{_PCHARS}(?:#{_PCHARS})?"
    rf"|https?://[a-z0-9_.-]+(?::[0-9]+)?/{_PCHARS}(?:#{_PCHARS})?"
)
ENCODED_UNRESERVED = re.compile(r"%(?:[46][1-9A-F]|[57][0-9A]|3[0-9]|2[DE]|5F|7E)")
ID_TEXT = st.lists(
    st.characters(codec="utf-8")
    | st.sampled_from(
        [
            *("tag:", "urn:uuid:", "https://", "example.org", ",2026", "-11", ":", "@", "/"),
            *("#", "%41", "%c3%a9", "%3C", UUID, UUID.upper(), "..", "{", "}"),
        ]
    ),
    max_size=12,
).map("".join)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=ID_TEXT)
@example(text="tag:example.org,2026:<x>&y")
@example(text="https://example.org/")
def test_any_id_is_an_error_or_one_the_validator_takes_and_kept_as_written(
    test_site: Site, text: str
) -> None:
    made, problems = read_one(test_site, "plugin", "id", text)
    if made is None:
        assert [p.line for p in problems if p.severity == "error"] == [7]
        return
    written = made.explicit_id
    assert written is not None and VALID_ID.fullmatch(written), written
    assert not ENCODED_UNRESERVED.search(written)
    # Only a UUID is rewritten (to the form feedpub has always given it); a URI is its own id.
    assert written == text or written.startswith("urn:uuid:")
    again, _ = read_one(test_site, "plugin", "id", written)
    assert again is not None and again.explicit_id == written


def test_valid_ids_are_each_feed_s_id_as_written(make_site: MakeSite) -> None:
    ids = {
        "a.md": ("tag:example.org,2026:%3Cx%3E&y", "tag:example.org,2026:%3Cx%3E&y"),
        "b.md": ("https://example.org/2026/b", "https://example.org/2026/b"),
        "c.md": (f"'{{{UUID.upper()}}}'", f"urn:uuid:{UUID}"),
    }
    root = make_site(
        {
            name: article(name[0].upper(), f"2026-11-2{index} 09:00", id=given_id)
            for index, (name, (given_id, _)) in enumerate(ids.items())
        }
    )
    publish(root)
    public = root / "public"
    expected = [written for _, written in reversed(ids.values())]
    atom = lxml.etree.fromstring((public / "atom.xml").read_bytes())
    assert atom.xpath("//atom:entry/atom:id/text()", namespaces=ATOM) == expected
    rss = lxml.etree.fromstring((public / "rss.xml").read_bytes())
    assert rss.xpath("//item/guid/text()") == expected
    assert rss.xpath("//item/guid/@isPermaLink") == ["false"] * 3
    items = json.loads((public / "feed.json").read_text(encoding="utf-8"))["items"]
    assert [item["id"] for item in items] == expected


@pytest.mark.parametrize(
    ("key", "value", "line"),
    [
        (
            "id",
            "tag:example.org,2026:<x>&y",
            "content/x.md:4: error: 'id' 'tag:example.org,2026:<x>&y' is not a valid tag URI "
            "(RFC 4151): '<' cannot be in a URI; write it as 'tag:example.org,2026:%3Cx%3E&y'",
        ),
        (
            "image",
            "javascript:alert(1)",
            "content/x.md:4: error: 'image' 'javascript:alert(1)' is a javascript: URL, which "
            "feedpub never writes; it must be an http(s) URL, like "
            "'https://example.org/photo.jpg', or a path in the site, like '/images/photo.jpg' "
            "(a file name with ':' in it: write './' before it)",
        ),
    ],
    ids=["id", "image"],
)
def test_check_names_the_file_line_and_fix(
    runner: CliRunner, make_site: MakeSite, key: str, value: str, line: str
) -> None:
    root = make_site({"x.md": article("X", **{key: json.dumps(value)}), "ok.md": article("Fine")})
    result = invoke(runner, "--site", root, "check", "--now", NOW_ARG)
    assert_clean_exit(result, 1)
    assert result.stderr.splitlines() == [line]
