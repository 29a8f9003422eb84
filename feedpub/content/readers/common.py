"""What both readers share: decoding a file, and turning metadata into an Article."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from feedpub.config import Site
from feedpub.content import media, uris
from feedpub.content.tree import FileTooBig, Refused, of_site, read_input
from feedpub.content.uris import first_control
from feedpub.dates import parse_date
from feedpub.errors import Problem
from feedpub.model import Article, BodyFormat
from feedpub.text import name_key, normalize_newlines, slugify, xml_safe

MAX_ARTICLE_BYTES = 5_000_000
# An undecodable byte, as surrogateescape keeps it, to the Windows-1252 character.
_WINDOWS_1252 = {
    0xDC00 + byte: bytes([byte]).decode("cp1252", "ignore") or None for byte in range(0x80, 0x100)
}
# Memory grows with an article's structure, not its size: cmark-gfm spends about 200-500
# bytes on each node, and nearly every one of these characters can start one ('<' repeated
# 4.5 million times took 0.9 GB, '>' 1.6 GB, one line each 1 GB); the plain-text reader
# spends as much on each line. A budget of them bounds what one article can cost (about
# 100 MB) and leaves room for any real article: five megabytes of prose has ~100,000.
MAX_MARKS = 200_000
MARKDOWN_MARKS = "\n\\`&_*[]<>!|"
MAX_TITLE = 500
MAX_TAGS = 100
MAX_NAME = 200
# A URL as written out; browsers and servers take far longer ones, sitemaps not (2,048).
MAX_URL = 2000
FILENAME_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})[-_ ]+")
FIELDS = "title date updated author authors tags categories summary slug id draft image url".split()
FIELDS.append("image_alt")  # what the image shows, in words: its alt text on the pages
# Alt text is read aloud whole: a long description belongs in the article's text.
MAX_ALT = 1000
# A podcast's episode and an article's own language (content/media.py checks them); "lang" is
# also Jekyll's, ignored before feedpub read it.
MEDIA_FIELDS = ("enclosure", "duration", "episode", "season", "lang")
FIELDS += MEDIA_FIELDS
# Jekyll's, Hugo's and Pelican's names for feedpub's fields, so that their content folders build
# as they are (keys are matched in any case: Pelican's are, and Hugo's are case-insensitive).
# ``status`` (Pelican: draft, hidden, published) and ``published`` (Jekyll: false hides a post)
# become ``draft``; Hugo's ``published`` is a date (publishDate's alias): a date there is one.
ALIASES = {
    "category": "categories",
    "description": "summary",
    "excerpt": "summary",
    "lastmod": "updated",
    "modified": "updated",
    "last_modified_at": "updated",
    "status": "draft",
    "published": "draft",
    "publishdate": "date",
    "pubdate": "date",
}
# Keys that only mean something to those tools' templates, URLs and menus: read and ignored
# without a warning (a page's URL here is always the one feedpub makes; see "Moving from
# Jekyll, Hugo or Pelican" in the README for where each comes from).
IGNORED = frozenset(
    {
        # Jekyll (front matter defaults and jekyll-seo-tag, jekyll-redirect-from, jekyll-feed)
        "layout", "permalink", "excerpt_separator", "redirect_from", "redirect_to", "sitemap",
        "comments", "lang",
        # Hugo (front matter fields)
        "weight", "aliases", "type", "menu", "menus", "linktitle", "keywords", "series", "toc",
        "markup", "outputs", "headless", "iscjklanguage", "translationkey", "params",
        "cascade", "build", "resources", "images",
        # Pelican (metadata)
        "template", "save_as", "translation",
    }
)  # fmt: skip
_STATUS = {"draft": True, "hidden": True, "published": False}


@dataclass(frozen=True)
class Value:
    """A metadata value and the line it came from."""

    value: Any
    line: int


class Findings:
    """Problems found in one file."""

    def __init__(self, relpath: str) -> None:
        self.relpath = relpath
        self.problems: list[Problem] = []

    def error(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.relpath, line, "error", message))

    def warning(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.relpath, line, "warning", message))

    @property
    def failed(self) -> bool:
        return any(p.severity == "error" for p in self.problems)


def front_matter_fields(
    data: dict[Any, Any], lines: dict[str, int], found: Findings, default_line: int = 2
) -> dict[str, Value]:
    """A front matter's values (YAML, TOML or Pelican's header, parsed) by feedpub's field
    names: the other tools' names (ALIASES) taken as feedpub's, in any case; IGNORED keys
    dropped quietly; any other key a warning. ``lines``: each key's line as written.

    feedpub's own name wins over another tool's (Hugo sites give both ``summary`` and
    ``description``, for the list and for the page's meta tag), then the first alias given;
    ``category`` and ``categories`` both join the tags."""
    meta: dict[str, Value] = {}
    aliased: list[tuple[str, str, Any, int]] = []
    for key, value in data.items():
        text = str(key)
        line = lines.get(text, default_line)
        folded = text.casefold()
        if folded in FIELDS:
            if folded in meta:  # "Title" and "title": one key to YAML's eyes, not here
                found.warning(line, f"{text!r} given twice (in any case); using the last")
            meta[folded] = Value(value, line)
        elif folded in ALIASES:
            aliased.append((folded, ALIASES[folded], value, line))
        elif folded not in IGNORED:
            found.warning(
                line,
                f"unknown front matter key {text!r} is ignored; known keys: {', '.join(FIELDS)}",
            )
    for alias, name, value, line in aliased:
        if alias == "published" and not _is_yes_no(value):
            if not _is_date(value):
                found.error(
                    line,
                    "'published' must be true or false (Jekyll's) or a date (Hugo's), "
                    f"not {value!r}",
                )
                continue
            name = "date"
        elif name == "draft":
            draft = _draft_of(alias, value, line, found)
            if draft is None or "draft" in meta:
                continue
            value = draft
        if name == "categories" and name in meta:
            earlier = meta[name]
            both = [*_as_list(earlier.value), *_as_list(value)]
            meta[name] = Value(both, earlier.line)
        elif name not in meta:
            meta[name] = Value(value, line)
    return meta


def _is_yes_no(value: Any) -> bool:
    return isinstance(value, bool) or (
        isinstance(value, str) and value.strip().casefold() in {"true", "false"}
    )


def _is_date(value: Any) -> bool:
    try:
        parse_date(value, UTC)
    except ValueError:
        return False
    return True


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        return value.split(",")
    return value if isinstance(value, list) else [value]


def _draft_of(key: str, value: Any, line: int, found: Findings) -> bool | None:
    """Pelican's ``status`` or Jekyll's ``published`` as feedpub's ``draft``; None, with the
    error recorded, for a value neither tool takes."""
    if key == "status":
        draft = _STATUS.get(value.strip().casefold()) if isinstance(value, str) else None
        if draft is None:
            found.error(line, f"'status' must be draft, hidden or published, not {value!r}")
        return draft
    if isinstance(value, str):
        value = {"true": True, "false": False}.get(value.strip().casefold(), value)
    if not isinstance(value, bool):
        found.error(line, f"'published' must be true or false, not {value!r}")
        return None
    return not value


def decode(raw: bytes, found: Findings) -> str:
    """Bytes to text: BOM dropped, CRLF and CR made LF, invalid UTF-8 replaced with a warning,
    characters XML cannot carry removed."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = normalize_newlines(raw[: exc.start].decode("utf-8", "replace")).count("\n") + 1
        found.warning(line, "invalid UTF-8 read as Windows-1252; save the file as UTF-8")
        text = _utf8_or_windows_1252(raw)
    return xml_safe(normalize_newlines(text))


def _utf8_or_windows_1252(raw: bytes) -> str:
    """UTF-8, each byte that is not read as Windows-1252 (as WHATWG reads Latin-1).

    A file that is not UTF-8 is nearly always one saved in Windows-1252 or Latin-1 ("Caf\xe9"
    meant "Café"); U+FFFD, the usual replacement, says nothing to a reader and is what the
    W3C validator's BadCharacters warns about. The five bytes Windows-1252 leaves undefined
    are dropped."""
    # surrogateescape keeps each undecodable byte as U+DC80..U+DCFF, in one pass.
    return raw.decode("utf-8", "surrogateescape").translate(_WINDOWS_1252)


def within_budget(text: str, markdown: bool, found: Findings) -> bool:
    """Whether the text has at most MAX_MARKS line breaks (and, in Markdown, characters that
    can open a node); the problem is recorded, with the line where the budget ran out."""
    marks = MARKDOWN_MARKS if markdown else "\n"
    if sum(map(text.count, marks)) <= MAX_MARKS:
        return True
    # Where it ran out: counted again, a line at a time, only for a file already refused
    # (without splitting it: a list of a million lines would cost more than the check saves).
    seen, start, line = 0, 0, 1
    while True:
        end = text.find("\n", start)
        seen += sum(text.count(mark, start, len(text) if end < 0 else end) for mark in marks)
        if end < 0 or seen + 1 > MAX_MARKS:
            break
        seen, start, line = seen + 1, end + 1, line + 1
    what = "line breaks and characters that make Markdown structure" if markdown else "lines"
    found.error(
        line,
        f"has more than {MAX_MARKS} {what} (the budget runs out here): each costs about 300 "
        "bytes of memory to read; split the article, or put long listings and data in a file "
        "under static/ and link to it",
    )
    return False


def read_bytes(path: Path, found: Findings, site: Site) -> bytes | None:
    """The file's bytes, read as tree.read_input reads (never through a link out of the
    site); None with the problem recorded."""
    try:
        return read_input(str(path), of_site(site), MAX_ARTICLE_BYTES)
    except FileTooBig as exc:
        found.error(
            0, f"is {exc.size} bytes; articles over {MAX_ARTICLE_BYTES} bytes are refused: split it"
        )
    except Refused:
        found.error(
            0,
            "is a link out of the site's content/, static/ and templates/ folders; it is never "
            "read: copy the file in instead, or remove the link",
        )
    except OSError as exc:
        found.error(0, f"cannot read: {exc.strerror}")
    return None


def filename_date(path: Path) -> str | None:
    match = FILENAME_DATE.match(path.name)
    return match.group(1) if match else None


def _text(item: Value, name: str, found: Findings, limit: int = MAX_TITLE) -> str | None:
    value = item.value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        found.error(item.line, f"'{name}' must be text, not {_kind(value)}")
        return None
    # The file's text is cleaned as it is decoded, but YAML escapes ("\e", "\x00") bring
    # characters XML cannot carry back into front matter values.
    value = " ".join(xml_safe(value).split())
    if len(value) > limit:
        found.error(item.line, f"'{name}' is {len(value)} characters; keep it under {limit}")
        return None
    return value


def _kind(value: object) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, date):  # a datetime too
        return "a date"
    return type(value).__name__


def _names(item: Value, name: str, found: Findings) -> tuple[str, ...]:
    """A list field given as a YAML list or as comma-separated text."""
    value = item.value
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        found.error(
            item.line, f"'{name}' must be a list or comma-separated text, not {_kind(value)}"
        )
        return ()
    if len(value) > MAX_TAGS:
        found.error(item.line, f"'{name}' has {len(value)} entries; keep it under {MAX_TAGS}")
        return ()
    names: dict[str, str] = {}  # by name_key: "C" and "c" are one tag, the first kept
    for entry in value:
        text = _text(Value(entry, item.line), name, found, MAX_NAME)
        if text:
            names.setdefault(name_key(text), text)
    return tuple(names.values())


# "Jane Doe <jane@example.org>" (as Atom, email and git write a person) or, as RSS writes one,
# "jane@example.org (Jane Doe)". An address as the W3C feed validator accepts one (its
# addr_spec): ASCII, a dot in the domain.
_NAME_ADDRESS = re.compile(r"(?P<name>[^<>]*?)\s*<(?P<address>[^<>\s]*@[^<>\s]*)>")
_ADDRESS_NAME = re.compile(r"(?P<address>[^\s()<>]+@[^\s()<>]+)\s*\((?P<name>[^()]*)\)")
_ADDRESS = re.compile(
    r"[A-Za-z0-9_+.'-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]*"
)


def split_address(text: str) -> tuple[str, str | None]:
    """An author's name and email address, when ``text`` gives one in either form above
    ("" as the name if only the address is there); else ``text`` and None."""
    found = _NAME_ADDRESS.fullmatch(text) or _ADDRESS_NAME.fullmatch(text)
    if found is None:
        return text, None
    return found.group("name").strip(), found.group("address")


def site_author(site: Site) -> tuple[tuple[str], tuple[str, ...]]:
    """``[site] author`` as an article's author: its name, and its address if it gives one
    (a setting that is not a name and an address stays the name, as written)."""
    name, email = split_address(site.site.author)
    if email is None or not name or not _ADDRESS.fullmatch(email):
        return (site.site.author,), ()
    return (name,), (email,)


def _addresses(
    names: tuple[str, ...], line: int, found: Findings
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Authors' names without their addresses, and the addresses ("" for none; () if none
    has one). The address stays out of the name, so out of the author's page and its URL."""
    authors: list[str] = []
    emails: list[str] = []
    for text in names:
        name, email = split_address(text)
        if email is not None and not _ADDRESS.fullmatch(email):
            found.error(
                line,
                f"author {text!r}: {email!r} is not an email address; "
                "write 'Name <name@example.org>', or leave the <...> out",
            )
            continue
        if email is not None and not name:
            found.error(line, f"author {text!r} has an address but no name; write 'Name <{email}>'")
            continue
        if name not in authors:
            authors.append(name)
            emails.append(email or "")
    return tuple(authors), tuple(emails) if any(emails) else ()


def _uri_text(item: Value, name: str, found: Findings, limit: int) -> str | None:
    """A URI-valued field's text, stripped; None with the problem recorded. Unlike _text, it
    keeps inner spaces as they are (they are encoded or refused, never merged) and refuses
    control characters rather than dropping them: 'java\tscript:' is not 'javascript:' to
    this check but is to a browser, which drops tabs and line breaks from a URL."""
    value = item.value
    if name == "id" and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        if value is None:
            found.error(item.line, f"'{name}' is empty; {_EMPTY[name]}")
        else:
            found.error(item.line, f"'{name}' must be text, not {_kind(value)}")
        return None
    text = value.strip()
    if len(text) > limit:
        found.error(item.line, f"'{name}' is {len(text)} characters; keep it under {limit}")
        return None
    if not text:
        found.error(item.line, f"'{name}' is empty; {_EMPTY[name]}")
        return None
    if (bad := first_control(text)) is not None:
        found.error(
            item.line,
            f"'{name}' holds the control character U+{ord(text[bad]):04X} at character "
            f"{bad + 1}; remove it",
        )
        return None
    return text


_EMPTY = {
    "id": "remove the line or give a UUID",
    "image": f"remove the line or give a path such as {uris.SITE_EXAMPLE}",
    "url": "remove the line or give the article's http(s) URL",
}


def _explicit_id(item: Value, found: Findings) -> str | None:
    text = _uri_text(item, "id", found, MAX_TITLE)
    if text is None:
        return None
    try:
        return uris.feed_id(text)
    except ValueError as exc:
        found.error(item.line, str(exc))
        return None


def _url(item: Value, name: str, found: Findings) -> str | None:
    text = _uri_text(item, name, found, MAX_URL)
    if text is None:
        return None
    try:
        written = uris.web_url(text, name, site_paths=name == "image")
    except ValueError as exc:
        found.error(item.line, str(exc))
        return None
    if len(written) > MAX_URL:
        found.error(
            item.line,
            f"'{name}' is {len(written)} characters once percent-encoded; keep it under {MAX_URL}",
        )
        return None
    return written


def make_article(
    path: Path,
    relpath: str,
    meta: dict[str, Value],
    body: str,
    body_format: BodyFormat,
    site: Site,
    found: Findings,
    inferred: tuple[str, ...] = (),
) -> Article | None:
    """Validate metadata into an Article; record every problem in ``found``; None on error."""
    tz = site.tz
    title = _text(meta["title"], "title", found) if "title" in meta else None
    if "title" not in meta:
        found.error(1, "no title; add one (front matter 'title:' or a 'Title:' line)")
    elif title == "":
        found.error(meta["title"].line, "the title is empty")

    date_item = meta.get("date")
    if date_item is None and (prefix := filename_date(path)):
        date_item = Value(prefix, 0)
    date: datetime | None = None
    if date_item is None:
        found.error(1, "no date; add 'date: 2026-11-20' or start the file name with 2026-11-20-")
    else:
        try:
            date = parse_date(date_item.value, tz)
        except ValueError as exc:
            found.error(date_item.line, f"'date': {exc}")
    updated = None
    if "updated" in meta:
        try:
            updated = parse_date(meta["updated"].value, tz)
        except ValueError as exc:
            found.error(meta["updated"].line, f"'updated': {exc}")

    if "author" in meta and "authors" in meta:
        found.warning(meta["authors"].line, "both 'author' and 'authors'; using 'authors'")
    author_item = meta.get("authors") or meta.get("author")
    authors = _names(author_item, "authors", found) if author_item else ()
    emails: tuple[str, ...] = ()
    if authors and author_item:
        authors, emails = _addresses(authors, author_item.line, found)
    elif site.site.author:
        authors, emails = site_author(site)
    tags = _names(meta["tags"], "tags", found) if "tags" in meta else ()
    # Pelican's and Hugo's categories: tags by another name, so that their sites move over.
    if "categories" in meta:
        extra = _names(meta["categories"], "categories", found)
        have = set(map(name_key, tags))
        tags += tuple(t for t in extra if name_key(t) not in have)

    summary = None
    if "summary" in meta:
        summary = _text(meta["summary"], "summary", found, 2000) or None

    stem = FILENAME_DATE.sub("", path.stem)
    ascii_only = site.site.ascii_urls
    slug = slugify(stem, ascii_only) or slugify(title or "", ascii_only)
    if "slug" in meta:
        wanted = _text(meta["slug"], "slug", found, MAX_NAME)
        if wanted is not None:
            slug = slugify(wanted, ascii_only)
            if slug != wanted:
                found.warning(meta["slug"].line, f"slug {wanted!r} is not URL-safe; using {slug!r}")
    if not slug and not found.failed:
        found.error(
            meta.get("slug", Value(None, 1)).line, "cannot make a URL slug; add 'slug: some-words'"
        )

    explicit_id = _explicit_id(meta["id"], found) if "id" in meta else None
    draft = False
    if "draft" in meta:
        draft_value = meta["draft"].value
        if not isinstance(draft_value, bool):
            found.error(meta["draft"].line, f"'draft' must be true or false, not {draft_value!r}")
        else:
            draft = draft_value
    image = _url(meta["image"], "image", found) if "image" in meta else None
    url = _url(meta["url"], "url", found) if "url" in meta else None
    image_alt = None
    if "image_alt" in meta:
        image_alt = _text(meta["image_alt"], "image_alt", found, MAX_ALT)
    if image_alt and "image" not in meta:
        found.warning(
            meta["image_alt"].line,
            "'image_alt' describes an image, but there is no 'image'; add 'image:' or remove "
            "the line",
        )
    media_fields = _media(meta, site, found)

    if found.failed or title is None or date is None:
        return None
    return Article(
        source=str(path),
        relpath=relpath,
        title=title,
        date=date,
        updated=updated,
        body=body,
        body_format=body_format,
        content_hash=hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest(),
        authors=authors,
        author_emails=emails,
        tags=tags,
        summary=summary,
        slug=slug,
        explicit_id=explicit_id,
        draft=draft,
        image=image or None,
        url=url or None,
        image_alt=image_alt if image_alt and image else None,
        inferred=inferred,
        **media_fields,
    )


def _media(meta: dict[str, Value], site: Site, found: Findings) -> dict[str, Any]:
    """The Article fields of ``enclosure``, ``duration``, ``episode``, ``season`` and ``lang``;
    errors recorded."""
    fields: dict[str, Any] = {}
    try:
        if "enclosure" in meta:
            enclosure = media.enclosure(meta["enclosure"].value, site.static_dir)
            fields.update(
                enclosure_url=enclosure.url,
                enclosure_length=enclosure.length,
                enclosure_type=enclosure.type,
            )
    except ValueError as exc:
        found.error(meta["enclosure"].line, str(exc))
    try:
        if "duration" in meta:
            fields["duration"] = media.duration(meta["duration"].value)
    except ValueError as exc:
        found.error(meta["duration"].line, str(exc))
    for name in ("episode", "season"):
        try:
            if name in meta:
                fields[name] = media.number(meta[name].value, name)
        except ValueError as exc:
            found.error(meta[name].line, str(exc))
    try:
        if "lang" in meta:
            lang = media.lang(meta["lang"].value)
            if lang.casefold() != site.site.language.casefold():
                fields["lang"] = lang
    except ValueError as exc:
        found.error(meta["lang"].line, str(exc))
    return fields
