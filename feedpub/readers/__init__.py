"""Readers turn one article file into an Article, and its body into HTML when asked."""

from __future__ import annotations

import html
from pathlib import Path

import cmarkgfm
from cmarkgfm.cmark import Options

from ..config import Site
from ..errors import Problem
from ..model import Article
from .common import Findings, decode, read_bytes
from .markdown import read_markdown
from .plaintext import read_text

MARKDOWN_SUFFIXES = {".md", ".markdown"}
TEXT_SUFFIXES = {".txt"}
SUFFIXES = MARKDOWN_SUFFIXES | TEXT_SUFFIXES


def is_article(path: Path) -> bool:
    return path.suffix.lower() in SUFFIXES and not path.name.startswith((".", "_", "#"))


def read_article(path: Path, relpath: str, site: Site) -> tuple[Article | None, list[Problem]]:
    """Read one file; the problems list holds every error and warning found in it."""
    found = Findings(relpath)
    raw = read_bytes(path, found)
    if raw is None:
        return None, found.problems
    text = decode(raw, found)
    reader = read_markdown if path.suffix.lower() in MARKDOWN_SUFFIXES else read_text
    article, problems = reader(path, relpath, text, site)
    return article, found.problems + problems


# Table alignment as style="text-align: ..." (HTML5), not the obsolete align attribute.
_OPTIONS = Options.CMARK_OPT_UNSAFE | Options.CMARK_OPT_TABLE_PREFER_STYLE_ATTRIBUTES


def markdown_to_html(text: str) -> str:
    """CommonMark plus GFM tables, by GitHub's cmark-gfm (C). Raw HTML is the author's to use,
    so it passes through (CMARK_OPT_UNSAFE); no other GFM extension changes the text."""
    html_text: str = cmarkgfm.markdown_to_html_with_extensions(
        text, options=_OPTIONS, extensions=["table"]
    )
    return html_text


def render_html(article: Article) -> str:
    """The body as an HTML fragment (relative links still relative)."""
    if article.body_format == "markdown":
        return markdown_to_html(article.body)
    paragraphs = [p for p in article.body.split("\n\n") if p.strip()]
    return "".join(f"<p>{html.escape(p, quote=False)}</p>\n" for p in paragraphs)
