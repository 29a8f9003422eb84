"""Readers turn one article file into an Article, and its body into HTML when asked.

Part of content: may import the basics and the readers' own modules, nothing else.
"""

from __future__ import annotations

import functools
import hashlib
import html
from pathlib import Path
from typing import Any

from feedpub.config import Site
from feedpub.content.readers.common import Findings, decode, read_bytes, within_budget
from feedpub.errors import Problem
from feedpub.model import Article, evolve
from feedpub.text import first_paragraph_text, shorten, xml_safe

MARKDOWN_SUFFIXES = {".md", ".markdown"}
TEXT_SUFFIXES = {".txt"}
SUFFIXES = MARKDOWN_SUFFIXES | TEXT_SUFFIXES


def is_article_name(name: str) -> bool:
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    return suffix in SUFFIXES and not name.startswith((".", "_", "#"))


def read_article(path: Path, relpath: str, site: Site) -> tuple[Article | None, list[Problem]]:
    """Read one file; the problems list holds every error and warning found in it."""
    found = Findings(relpath)
    raw = read_bytes(path, found, site)
    if raw is None:
        return None, found.problems
    text = decode(raw, found)
    markdown = path.suffix.lower() in MARKDOWN_SUFFIXES
    if not within_budget(text, markdown, found):
        return None, found.problems
    # Imported here: a build whose files are all in the content cache reads none of them.
    if markdown:
        from feedpub.content.readers.markdown import read_markdown as reader
    else:
        from feedpub.content.readers.plaintext import read_text as reader
    article, problems = reader(path, relpath, text, site)
    if article is not None:
        fingerprint = hashlib.sha256(relpath.encode() + b"\0" + raw).hexdigest()
        article = evolve(article, fingerprint=fingerprint, lead=lead_of(article))
    return article, found.problems + problems


def lead_of(article: Article) -> str:
    """The summary, or the first paragraph as plain text cut at a word boundary."""
    if article.summary:
        return xml_safe(article.summary)
    body = article.body or ""
    if article.body_format == "text":
        return xml_safe(shorten(body.split("\n\n", 1)[0]))
    return xml_safe(shorten(first_paragraph_text(markdown_to_html(body))))


def load_body(article: Article, site: Site) -> str:
    """The article's body, read again from its file when it came from the content cache."""
    if article.body is not None:
        return article.body
    if article.body_format == "markdown":
        # Only the body is wanted: the front matter was checked when the article was read,
        # so it is cut off, not parsed again.
        from feedpub.content.readers.markdown import split_front_matter

        found = Findings(article.relpath)
        raw = read_bytes(Path(article.source), found, site)
        parts = split_front_matter(decode(raw, found), found) if raw is not None else None
        # Checked again: the file may have changed since it was read.
        return parts[1] if parts is not None and within_budget(parts[1], True, found) else ""
    again, _ = read_article(Path(article.source), article.relpath, site)
    return (again.body or "") if again is not None else ""


def markdown_to_html(text: str) -> str:
    """CommonMark plus GFM tables, by GitHub's cmark-gfm (C). Raw HTML is the author's to use,
    so it passes through (CMARK_OPT_UNSAFE); no other GFM extension changes the text."""
    return _cmark().to_html(text)


class _Cmark:
    """cmark-gfm through cmarkgfm's compiled bindings, freeing what they leave allocated.

    cmarkgfm's own markdown_to_html_with_extensions frees neither the document tree nor the
    HTML string cmark-gfm returns: about 40 KB per call with this corpus, 2.5 GB for the
    pages of 100,000 articles. The two functions that free them are exported by the same
    library but not declared in its bindings, so they are looked up here with ctypes (cffi
    would parse a declaration with pycparser first: 50 ms more at each start)."""

    def __init__(self) -> None:
        import ctypes

        from cmarkgfm import _cmark

        self.lib, self.ffi = _cmark.lib, _cmark.ffi
        self.lib.cmark_gfm_core_extensions_ensure_registered()
        self.table = self.lib.cmark_find_syntax_extension(b"table")
        # Table alignment as style="text-align: ..." (HTML5), not the obsolete align attribute.
        self.options = self.lib.CMARK_OPT_UNSAFE | self.lib.CMARK_OPT_TABLE_PREFER_STYLE_ATTRIBUTES
        library = ctypes.CDLL(_cmark.__file__)
        self.node_free, self.free = library.cmark_node_free, library.free
        for function in (self.node_free, self.free):
            function.argtypes, function.restype = [ctypes.c_void_p], None

    def _pointer(self, cdata: Any) -> int:
        address: int = int(self.ffi.cast("uintptr_t", cdata))
        return address

    def to_html(self, text: str) -> str:
        lib = self.lib
        data = text.encode("utf-8")
        parser = lib.cmark_parser_new(self.options)
        try:
            lib.cmark_parser_attach_syntax_extension(parser, self.table)
            lib.cmark_parser_feed(parser, data, len(data))
            root = lib.cmark_parser_finish(parser)
            try:
                raw = lib.cmark_render_html(
                    root, self.options, lib.cmark_parser_get_syntax_extensions(parser)
                )
                try:
                    # cmark-gfm writes &#xFFFE; and &#xFFFF; as the single bytes FE and FF
                    # (utf8proc's encoder), never valid UTF-8: dropped, as xml_safe would.
                    html_text: str = self.ffi.string(raw).decode("utf-8", "ignore")
                finally:
                    self.free(self._pointer(raw))
            finally:
                self.node_free(self._pointer(root))
        finally:
            lib.cmark_parser_free(parser)
        return html_text


@functools.cache
def _cmark() -> _Cmark:
    return _Cmark()


def render_html(article: Article, site: Site) -> str:
    """The body as an HTML fragment (relative links still relative), without the characters
    XML cannot carry (text.xml_safe)."""
    from_file = article.body is None
    body = load_body(article, site)
    if article.body_format == "markdown":
        fragment = markdown_to_html(body)
    else:
        paragraphs = [p for p in body.split("\n\n") if p.strip()]
        fragment = "".join(f"<p>{html.escape(p, quote=False)}</p>\n" for p in paragraphs)
    # A body read from its file went through decode(), which removed them; only a character
    # reference (&#12;) can bring one back. Skipping the second pass saves 35 us a page.
    return fragment if from_file and "&" not in body else xml_safe(fragment)
