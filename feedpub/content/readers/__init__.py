"""Readers turn one article file into an Article, and its body into HTML when asked.

The reader is chosen by the file's suffix: a site's plugins add readers for more suffixes
(feedpub.plugins); feedpub's own take .md and .markdown (readers.markdown) and .txt
(readers.plaintext). It may import the basics (plugins among them) and its own modules.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import posixpath
from collections.abc import Callable, Collection
from pathlib import Path

from feedpub.config import Site
from feedpub.content.readers.cmark import markdown_to_html as markdown_to_html
from feedpub.content.readers.common import Findings, decode, read_bytes, within_budget
from feedpub.content.readers.common import site_author as site_author
from feedpub.errors import Problem
from feedpub.model import Article, evolve
from feedpub.plugins import BUILTIN_SUFFIXES, Reader, registry
from feedpub.text import first_paragraph_text, shorten, xml_safe

MARKDOWN_SUFFIXES = {".md", ".markdown"}
TEXT_SUFFIXES = {".txt"}
SUFFIXES = MARKDOWN_SUFFIXES | TEXT_SUFFIXES
assert SUFFIXES == BUILTIN_SUFFIXES
# feedpub's own readers, by the module that holds each. They are loaded the way a plugin is,
# by name, when a file of theirs is first read or rendered: a build whose files all come from
# the content cache imports neither (nor PyYAML).
MARKDOWN = "feedpub.content.readers.markdown"
PLAINTEXT = "feedpub.content.readers.plaintext"


def is_article_name(name: str, suffixes: Collection[str] = SUFFIXES) -> bool:
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    return suffix in suffixes and not name.startswith((".", "_", "#"))


def article_names(site: Site) -> Callable[[str], bool]:
    """``is_article_name`` for the site: its plugins' suffixes count too."""
    plugged = registry(site).readers
    if not plugged:
        return is_article_name
    suffixes = SUFFIXES | plugged.keys()
    return functools.partial(is_article_name, suffixes=suffixes)


@functools.cache
def builtin(module: str) -> Reader:
    """The reader (READER) of one of feedpub's own reader modules."""
    reader = importlib.import_module(module).READER
    if not isinstance(reader, Reader):
        raise TypeError(f"{module}.READER is not a Reader")
    return reader


def _plugged(relpath: str, site: Site) -> Reader | None:
    return registry(site).readers.get(posixpath.splitext(relpath)[1].lower())


def reader_of(article: Article, site: Site) -> Reader:
    """The reader that read ``article``: a plugin's, by the file's suffix, or feedpub's own, by
    its body's format."""
    plugged = _plugged(article.relpath, site)
    if plugged is not None:
        return plugged
    return builtin(MARKDOWN if article.body_format == "markdown" else PLAINTEXT)


def read_article(path: Path, relpath: str, site: Site) -> tuple[Article | None, list[Problem]]:
    """Read one file; the problems list holds every error and warning found in it."""
    found = Findings(relpath)
    raw = read_bytes(path, found, site)
    if raw is None:
        return None, found.problems
    text = decode(raw, found)
    suffix = path.suffix.lower()
    markdown = suffix in MARKDOWN_SUFFIXES
    if not within_budget(text, markdown, found):
        return None, found.problems
    reader = registry(site).readers.get(suffix) or builtin(MARKDOWN if markdown else PLAINTEXT)
    article, problems = reader.read(path, relpath, text, site)
    if article is not None:
        # A media file of static/ is read with the article: its length is part of what the
        # outputs showing the article depend on.
        media = f"\0{article.enclosure_length}".encode() if article.enclosure_url else b""
        fingerprint = hashlib.sha256(relpath.encode() + b"\0" + raw + media).hexdigest()
        article = evolve(article, fingerprint=fingerprint, lead=lead_of(article, site))
    return article, found.problems + problems


def lead_of(article: Article, site: Site) -> str:
    """The summary, or the first paragraph as plain text cut at a word boundary."""
    if article.summary:
        return xml_safe(article.summary)
    body = article.body or ""
    if article.body_format == "text" and _plugged(article.relpath, site) is None:
        return xml_safe(shorten(body.split("\n\n", 1)[0]))
    return xml_safe(shorten(first_paragraph_text(_fragment(article, site, body))))


def _fragment(article: Article, site: Site, body: str) -> str:
    """The body as HTML: an HTML body (made, not read: an issue in the issues feed) is one."""
    if article.body_format == "html":
        return body
    return reader_of(article, site).render(body)


def load_body(article: Article, site: Site) -> str:
    """The article's body, read again from its file when it came from the content cache."""
    if article.body is not None:
        return article.body
    found = Findings(article.relpath)
    path = Path(article.source)
    raw = read_bytes(path, found, site)
    if raw is None:
        return ""
    return reader_of(article, site).body(path, article.relpath, decode(raw, found), site)


def render_html(article: Article, site: Site) -> str:
    """The body as an HTML fragment (relative links still relative), without the characters
    XML cannot carry (text.xml_safe)."""
    from_file = article.body is None
    body = load_body(article, site)
    plugged = _plugged(article.relpath, site)
    fragment = plugged.render(body) if plugged is not None else _fragment(article, site, body)
    # A body read from its file went through decode(), which removed them; only a character
    # reference (&#12;) can bring one back. Skipping the second pass saves 35 us a page. A
    # plugin's renderer may make them from anything: its HTML always takes the pass.
    return fragment if from_file and "&" not in body and plugged is None else xml_safe(fragment)
