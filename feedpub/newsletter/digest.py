"""The newsletter digest: one HTML email (inlined CSS) and its plain-text twin per issue.

Rendered once, when an issue is composed, and stored with it; delivery only swaps the
unsubscribe placeholder for each recipient's own link.
"""

from __future__ import annotations

import html as html_module
import logging
import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import cssutils
import imagesize
import jinja2
from markupsafe import Markup
from premailer import Premailer

from feedpub.config import Site
from feedpub.content.bodies import Bodies, image_url
from feedpub.errors import DigestError
from feedpub.links import rooted
from feedpub.model import Article
from feedpub.newsletter.note import ARTICLE_COLUMN, email_html, note_html, note_text
from feedpub.placeholders import MANAGE_PLACEHOLDER
from feedpub.store.issues import UNSUBSCRIBE_PLACEHOLDER
from feedpub.templating import (
    Sandbox,
    environment,
    install_words,
    template_error_text,
    template_problem,
)
from feedpub.text import html_to_text, isolate, shorten, wrap
from feedpub.theme import theme_of

GMAIL_CLIP_BYTES = 102 * 1024
ISSUE_NAMESPACE = uuid.UUID("8d6f0b0e-3b8e-4b6f-9a0b-4c1f9f6f2e55")
# After premailer, which leaves <link rel="stylesheet"> alone when it may not fetch it.
_STYLESHEET = re.compile(r"<link\b[^>]*\brel=\"[^\"]*\bstylesheet\b[^>]*>", re.IGNORECASE)
_HREF = re.compile(r'\bhref="([^"]*)"')


@dataclass(frozen=True)
class IssueView:
    """What the digest templates see as ``issue``."""

    number: int
    date: datetime
    articles: Sequence[Article]


@dataclass(frozen=True)
class Digest:
    subject: str
    html: str
    text: str
    warnings: tuple[str, ...]


def wrap72(text: str) -> str:
    """Wrap each paragraph at 72 columns (by display width: a Japanese character takes two)
    without breaking URLs or words."""
    paragraphs = text.split("\n")
    return "\n".join("\n".join(wrap(p, 72)) if p else "" for p in paragraphs)


def issue_id(number: int, articles: Sequence[Article]) -> str:
    """A stable id for the issues feed: derived from what makes the issue, not from the URL."""
    first = articles[0].feed_id if articles else ""
    return f"urn:uuid:{uuid.uuid5(ISSUE_NAMESPACE, f'{number}:{first}')}"


def _isolated(article: Article) -> Article:
    """The article as the digest shows it: its title and authors isolated (text.isolate), for
    the templates that join them with other text in one plain-text line."""
    title, authors = isolate(article.title), tuple(map(isolate, article.authors))
    if title == article.title and authors == article.authors:
        return article
    return replace(article, title=title, authors=authors)


def _view(issue: IssueView) -> IssueView:
    return IssueView(issue.number, issue.date, tuple(map(_isolated, issue.articles)))


def subject_line(site: Site, issue: IssueView) -> str:
    env = Sandbox(undefined=jinja2.StrictUndefined, extensions=["jinja2.ext.i18n"])
    install_words(env, site.site.language)  # a subject of the site's own may say _("…")
    issue = _view(issue)
    context = {
        "newsletter": {"name": isolate(site.newsletter_name)},
        "site": site.site,
        "issue": issue,
    }
    try:
        subject = env.from_string(site.newsletter.subject).render(**context)
    except Exception as exc:  # whatever its code raises: ZeroDivisionError, RecursionError...
        problem = template_error_text(exc)
        raise DigestError(f"[newsletter] subject cannot be rendered: {problem}") from None
    return clean_subject(subject)


def clean_subject(subject: str) -> str:
    """A subject as a header carries it: one line of plain text."""
    # A header is one line of text: a control character the template wrote ({{ "\\x07" }}) has
    # no place in it, and no line break may start a header of its own.
    subject = "".join(
        c for c in subject if c.isspace() or unicodedata.category(c) not in ("Cc", "Cs")
    )
    # The subject is plain text wherever it is shown (a client's list of messages, a page's
    # title): an override it leaves open would reverse what the client writes after it.
    return isolate(" ".join(subject.split()))


def render(
    site: Site,
    issue: IssueView,
    note: str = "",
    bodies: Bodies | None = None,
    subject: str | None = None,
) -> Digest:
    """Render the digest's subject, HTML (CSS inlined) and text for ``issue``; ``subject``, the
    editor's own, instead of [newsletter] subject's."""
    bodies = bodies or Bodies(site)
    env = environment(site)
    env.filters["wrap72"] = wrap72
    subject = subject_line(site, issue) if subject is None else clean_subject(subject)
    issue = _view(issue)
    # The same safe HTML as the issues feed's (an email has no base URL: the note's relative
    # links and images point into the site), its images held to the column.
    safe_note = note_html(note, site.site.url)
    shown_note = Markup(email_html(safe_note)) if safe_note else None
    # Each title on its own (the view isolated them): one's open override would reverse the
    # titles after it.
    titles = " · ".join(a.title for a in issue.articles)
    context = {
        "site": site.site,
        "newsletter": {
            "name": isolate(site.newsletter_name),
            "postal_address": site.newsletter.postal_address,
        },
        "issue": issue,
        "subject": subject,
        "note_html": shown_note,
        "note_text": note_text(safe_note),
        "preheader": shorten(html_to_text(safe_note) if safe_note else titles, 140),
        "summary": lambda a: isolate(bodies.summary(a)),
        "image": partial(image_url, root=site.site.url),
        "image_size": partial(image_size, site),
        "image_alt": lambda a: a.title,
        "web_url": site.issue_url(issue.number),
        "feed_url": site.site.url + "rss.xml",
        "issues_feed_url": site.site.url + "issues/rss.xml",
        "unsubscribe_url": UNSUBSCRIBE_PLACEHOLDER,
        "manage_url": MANAGE_PLACEHOLDER,
    }
    context["logo_width"], context["logo_height"] = logo_size(site)
    try:
        name = "digest.html"
        raw_html = env.get_template(name).render(**context)
        name = "digest.txt"
        text = env.get_template(name).render(**context)
    except Exception as exc:  # whatever a template's code raises, told with its file and line
        raise DigestError(template_problem(exc, site, name)) from None
    # A root-relative URL of a template of the site's own (a logo) is the site's, as in pages.
    html, warnings = inline_css(rooted(raw_html, site.site.url))
    if len(html.encode()) > GMAIL_CLIP_BYTES:
        warnings.append(
            f"the HTML is {len(html.encode()) // 1024} KB: Gmail clips messages over 102 KB; "
            "lower [newsletter] max_items or shorten the summaries"
        )
    return Digest(subject, html, text, tuple(warnings))


def image_size(site: Site, article: Article) -> tuple[int, int | None]:
    """The width and height attributes of the article's picture in the digest.

    Outlook 2007-2019 ignore CSS sizes and show a picture as wide as its attributes say. The
    width is the column's, or the picture's own when it is narrower (not stretched); the height
    is given only when feedpub can read the picture, one of the site's own in static/: for
    another site's picture it is unknown, and a wrong one would distort it, so Outlook keeps
    the picture's own proportions.
    """
    url = image_url(article, site.site.url) or ""
    found = _static_file(site, url)
    size = _pixels(found) if found is not None else None
    if size is None:
        return ARTICLE_COLUMN, None
    width, height = size
    shown = min(width, ARTICLE_COLUMN)
    return shown, max(1, round(height * shown / width))


LOGO_HEIGHT = 48


def logo_size(site: Site) -> tuple[int | None, int]:
    """The width and height attributes of the logo in the digest's header: LOGO_HEIGHT
    pixels high, as wide as its proportions make it (at most the column) when it is a picture
    in static/ feedpub can read; for another site's picture the width is left out."""
    logo = theme_of(site).logo
    found = _static_file(site, logo) if logo else None
    size = _pixels(found) if found is not None else None
    if size is None:
        return None, LOGO_HEIGHT
    width, height = size
    shown = max(1, round(width * LOGO_HEIGHT / height))
    if shown <= ARTICLE_COLUMN:
        return shown, LOGO_HEIGHT
    return ARTICLE_COLUMN, max(1, round(height * ARTICLE_COLUMN / width))


def _static_file(site: Site, url: str) -> Path | None:
    """The file in static/ that the site's URL ``url`` serves, if there is one."""
    if not url.startswith(site.site.url):
        return None
    path = unquote(url[len(site.site.url) :].partition("?")[0].partition("#")[0])
    static = site.static_dir.resolve()
    found = (static / path).resolve()
    return found if found.is_relative_to(static) and found.is_file() else None


def _pixels(path: Path) -> tuple[int, int] | None:
    """The picture's size read from its header (imagesize reads only that); None if unknown."""
    try:
        width, height = imagesize.get(path)
    except (OSError, ValueError):
        return None
    if not (isinstance(width, int) and isinstance(height, int)) or width <= 0 or height <= 0:
        return None
    return width, height


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"CSS: {record.getMessage()}")


class _Offline(Premailer):  # type: ignore[misc]  # premailer ships no types
    """premailer whose CSS parser fetches nothing.

    premailer's allow_network covers <link> only: cssutils, which parses the <style> blocks,
    loads what an @import names by itself, over the network or from any local path.
    """

    def __init__(self, html: str, **options: Any) -> None:
        super().__init__(html, **options)
        self.imports: list[str] = []

    def _parse_css_string(self, css_body: str, validate: bool = True) -> Any:
        parser = cssutils.CSSParser(fetcher=self._refuse, validate=validate)
        return parser.parseString(css_body)

    def _refuse(self, url: str) -> None:
        self.imports.append(url)


def inline_css(html: str) -> tuple[str, list[str]]:
    """Move the CSS into style attributes, as mail clients need; media queries stay in <style>.

    The network is never used; what the CSS parser warns about comes back as warnings.
    """
    handler = _Collect()
    # cssutils logs through one process-wide logger that prints to stderr; for this call it
    # logs into a private one whose messages come back as warnings, then it gets its own back.
    private = logging.Logger("feedpub.css", logging.WARNING)
    private.addHandler(handler)
    previous = cssutils.log._log
    cssutils.log.setLog(private)
    try:
        inlined, imports = _inline(html)
    finally:
        cssutils.log.setLog(previous)
    external = list(imports)
    for tag in _STYLESHEET.findall(inlined):
        href = _HREF.search(tag)
        external.append(html_module.unescape(href[1]) if href else tag)
    if external:
        raise DigestError(
            f"the digest template loads the stylesheet {external[0]}, which mail clients do not "
            "load (and feedpub does not fetch); put its rules into the template's <style> block"
        )
    return inlined, handler.messages


def _inline(html: str) -> tuple[str, list[str]]:
    inliner = _Offline(
        html,
        allow_network=False,
        allow_loading_external_files=False,
        keep_style_tags=False,
        strip_important=False,
        disable_validation=True,
        # premailer copies CSS widths into width attributes, turning the card's width="600"
        # (for Outlook, which ignores max-width) into "100%" and adding height="auto".
        disable_basic_attributes=["width", "height"],
    )
    try:
        inlined = str(inliner.transform(pretty_print=False))
    except Exception as exc:  # premailer raises many kinds on broken CSS or markup
        raise DigestError(f"cannot inline the digest's CSS: {exc}") from None
    return inlined, list(inliner.imports)
