"""Pre-send checks: what is wrong with an issue, as it is stored, before readers get it.

Owns ``Finding`` (one thing found, at one of three levels), ``LeftOut`` (how many waiting
articles the issue leaves out, and why) and ``check_issue``. An error stops ``run`` from
sending the issue; a warning and an info are told (in ``issue preview``, the review copy).

The site's own links are checked against the files of the built site in ``public/``; links
elsewhere are listed, never fetched: a check makes no network connection. What the next build
writes counts as there, since ``run`` checks an issue before the build that follows it: the
issue's own pages (its web version, the issues feed), the pages of the articles it carries
and the files in ``static/`` (copied as they are).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from feedpub.config import Site
from feedpub.content.catalog import Catalog
from feedpub.content.readers.languages import looks_like_a_date
from feedpub.model import Article
from feedpub.newsletter.digest import GMAIL_CLIP_BYTES

# The newsletter's tag filter ([newsletter] tags, exclude_tags), as composing applies it.
from feedpub.newsletter.issues import _wanted, waiting
from feedpub.placeholders import MANAGE_PLACEHOLDER
from feedpub.store.issues import UNSUBSCRIBE_PLACEHOLDER, IssueRecord
from feedpub.store.state import State
from feedpub.text import plural

Level = Literal["error", "warning", "info"]
LONGEST_SUBJECT = 70
NAMED = 10  # the titles of articles left out named in a finding; the rest are counted
# A reader's own link as delivery writes it in place of a placeholder: the web app's page,
# "?t=" and a token (the subscriber's key and a MAC, base64, about 90 characters). A little
# more than most, so that a digest near the clip size is warned about before it is clipped.
_TOKEN_CHARS = 100
_PERSONAL = (UNSUBSCRIBE_PLACEHOLDER, MANAGE_PLACEHOLDER)
# The web app's pages: served by the web app, not files in public/.
_WEB_PAGES = ("subscribe", "confirm", "manage", "unsubscribe")
# Whole words only: "TK" (the newsroom's "to come"), "TKTK"; "TODO" in capitals, as an editor
# leaves it ("todo" is Spanish for "all"); lorem ipsum in any case; "[link]" standing alone,
# not the text of a Markdown link ("[link](https://...)", "[link][1]", "[link]: https://...").
_PLACEHOLDERS = (
    (re.compile(r"(?<![\w])(?:TK)+(?![\w])"), None),
    (re.compile(r"(?<![\w])TODO(?![\w])"), None),
    (re.compile(r"(?<![\w])lorem\s+ipsum(?![\w])", re.IGNORECASE), "lorem ipsum"),
    (re.compile(r"\[link\](?![(\[:])", re.IGNORECASE), "[link]"),
)


@dataclass(frozen=True)
class Finding:
    """One thing a check found about an issue; ``fix`` says what to do about it."""

    level: Level
    code: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        return f"{self.level}: {self.message}"

    def explained(self) -> str:
        """The finding and its fix, on one line."""
        return f"{self}; {self.fix}" if self.fix else str(self)


@dataclass(frozen=True)
class LeftOut:
    """How many waiting articles the issue leaves out: dated before ``lookback_days`` (before
    the first issue), and over ``max_items`` (they wait for the next one); with their titles
    when known (``left_out`` gives them), which the findings then name."""

    by_lookback: int
    by_max_items: int
    lookback_titles: tuple[str, ...] = ()
    max_items_titles: tuple[str, ...] = ()


def left_out(
    site: Site,
    state: State,
    catalog: Catalog,
    now: datetime,
    chosen: Sequence[Article] | None = None,
) -> LeftOut:
    """What the issue composed now would leave out, and why; ``chosen``: what waits (issues.
    waiting), if the caller found it already.

    ``lookback_days`` leaves out the archive only before the first issue: after it the
    articles dated earlier were never the newsletter's, and saying so at every issue would be
    noise. ``max_items`` leaves out the newest that wait (the oldest go first).
    """
    if chosen is None:
        chosen = waiting(site, state, catalog, now)
    over = chosen[site.newsletter.max_items :]
    old: list[Article] = []
    if state.issues.first() is None:
        taken = {a.feed_id for a in chosen}
        old = [a for a in catalog.articles if a.feed_id not in taken and _wanted(site, a)]
        old.sort(key=lambda a: (a.date, a.feed_id))
    return LeftOut(len(old), len(over), tuple(a.title for a in old), tuple(a.title for a in over))


def errors(findings: list[Finding]) -> list[Finding]:
    """The findings that stop an issue from being sent."""
    return [f for f in findings if f.level == "error"]


def check_issue(site: Site, record: IssueRecord, left_out: LeftOut | None = None) -> list[Finding]:
    """Everything the checks find about ``record``: errors first, then warnings, then infos."""
    found = [
        *_subject(record.subject),
        *_placeholders(record),
        *_date_titles(record),
        *_links(site, record),
        *_clip(site, record),
        *_left_out(site, left_out),
    ]
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(found, key=lambda f: order[f.level])


def _subject(subject: str) -> Iterator[Finding]:
    if not subject.strip():
        yield Finding(
            "error",
            "empty-subject",
            "the subject is empty",
            "set [newsletter] subject in feedpub.toml (or pass --subject)",
        )
    elif len(subject) > LONGEST_SUBJECT:
        yield Finding(
            "warning",
            "long-subject",
            f"the subject is {len(subject)} characters long: mail clients cut it after about "
            f"{LONGEST_SUBJECT}",
            "shorten [newsletter] subject",
        )


def _texts(record: IssueRecord) -> Iterator[tuple[str, str, str]]:
    """(where, text, fix) of each text the editor wrote that the issue carries."""
    yield "the subject", record.subject, "change [newsletter] subject"
    yield "the editor's note", record.note, "edit the note file"
    for item in record.items:
        fix = "edit the article's file and build"
        yield f'the title of "{item.title}"', item.title, fix
        yield f'the summary of "{item.title}"', item.summary, fix


def _placeholders(record: IssueRecord) -> Iterator[Finding]:
    for where, text, fix in _texts(record):
        seen: list[str] = []
        for pattern, name in _PLACEHOLDERS:
            for match in pattern.finditer(text):
                word = name or match[0]
                if word not in seen:
                    seen.append(word)
        for word in seen:
            yield Finding(
                "error", "placeholder", f'{where} still has the placeholder "{word}"', fix
            )


def _date_titles(record: IssueRecord) -> Iterator[Finding]:
    # A saved page whose headline the reader missed is titled by its dateline, and the issue's
    # subject would say "#8: 2027年2月3日".
    for item in record.items:
        if looks_like_a_date(item.title):
            yield Finding(
                "warning",
                "date-title",
                f'the title "{item.title}" is a date, not a headline',
                "give the article's file its headline ('Title: ...' in a .txt file's header "
                "block, 'title:' in front matter) and build",
            )


class _Links(HTMLParser):
    """Every link (a href) and picture (img src, alt) of an HTML document, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.images: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href") is not None:
            self.links.append((values["href"] or "").strip())
        elif tag == "img":
            self.images.append(((values.get("src") or "").strip(), values.get("alt")))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)


def _links(site: Site, record: IssueRecord) -> Iterator[Finding]:
    parser = _Links()
    parser.feed(record.html)
    parser.close()
    for src, alt in parser.images:
        if not (alt or "").strip():
            yield Finding(
                "warning",
                "no-alt",
                f"the picture {src or '(without src)'} has no alt text: screen readers and "
                "mail clients that block pictures show nothing in its place",
                "say what it shows (in the note: ![what it shows](picture.png))",
            )
    own = {
        site.issue_url(record.number),
        site.site.url + "issues/rss.xml",
        *(item.link for item in record.items),
    }
    web = {site.web_url + page for page in _WEB_PAGES}
    built = site.output_dir.is_dir()
    if not built:
        yield Finding(
            "warning",
            "not-built",
            f"{site.output_dir.name}/ is not built yet, so the links into the site are not checked",
            "run 'feedpub build' first",
        )
    outside: list[str] = []
    reported: set[str] = set()
    urls = [*parser.links, *(src for src, _ in parser.images)]
    for url in urls:
        if url in reported or url in _PERSONAL or url in own:
            continue
        reported.add(url)
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in ("mailto", "tel", "sms") or url.startswith("#"):
            continue
        if not scheme or not parts.netloc:
            yield Finding(
                "error",
                "relative-link",
                f"the link {url or '(empty)'} leads nowhere in an email (it names no site)",
                "write the whole address, https://...",
            )
            continue
        if url.partition("?")[0] in web:
            continue
        path = _site_path(site, url)
        if path is None:
            outside.append(url)
        elif built and not _there(site, path):
            yield Finding(
                "error",
                "broken-link",
                f"the link {url} leads nowhere: public/{path} is not in the built site",
                "fix the link, or add the page and build",
            )
    for url in outside:
        yield Finding("info", "outside-link", f"a link outside the site (not checked): {url}")


def _site_path(site: Site, url: str) -> str | None:
    """The path under the site's URL that ``url`` names, or None if it is not the site's."""
    base, parts = urlsplit(site.site.url), urlsplit(url)
    if (parts.scheme.lower(), parts.netloc.lower()) != (base.scheme.lower(), base.netloc.lower()):
        return None
    if not parts.path.startswith(base.path) and parts.path + "/" != base.path:
        return None
    return unquote(parts.path[len(base.path) :])


def _there(site: Site, path: str) -> bool:
    """Whether the built site has (or the next build copies from static/) the file the web
    server answers ``path`` with."""
    return _has(site.output_dir, path) or _has(site.static_dir.resolve(), path)


def _has(folder: Path, path: str) -> bool:
    try:
        found = (folder / path).resolve() if path else folder
        if not found.is_relative_to(folder):
            return False
        if found.is_dir():
            found = found / "index.html"
        return found.is_file()
    except (OSError, ValueError):  # a name too long for the file system, a NUL (%00)
        return False


def _clip(site: Site, record: IssueRecord) -> Iterator[Finding]:
    link = len(site.web_url) + len("unsubscribe?t=") + _TOKEN_CHARS
    size = len(record.html.encode())
    size += sum(record.html.count(p) * (link - len(p)) for p in _PERSONAL)
    if size > GMAIL_CLIP_BYTES:
        yield Finding(
            "warning",
            "gmail-clip",
            f"the HTML is {size // 1024} KB as sent: Gmail clips messages over "
            f"{GMAIL_CLIP_BYTES // 1024} KB, hiding the rest and the unsubscribe link",
            "lower [newsletter] max_items or shorten the summaries and the note",
        )


def _left_out(site: Site, left_out: LeftOut | None) -> Iterator[Finding]:
    if left_out is None:
        return
    days = site.newsletter.lookback_days
    if left_out.by_lookback:
        yield Finding(
            "warning",
            "left-out-lookback",
            f"{plural(left_out.by_lookback, 'article')} left out: older than lookback_days "
            f"({days}){_named(left_out.lookback_titles)}",
            "raise [newsletter] lookback_days before the first issue to send them",
        )
    if left_out.by_max_items:
        yield Finding(
            "warning",
            "left-out-max-items",
            f"{plural(left_out.by_max_items, 'article')} left out: over max_items "
            f"({site.newsletter.max_items}), waiting for the next issue"
            f"{_named(left_out.max_items_titles)}",
            "raise [newsletter] max_items to send them now",
        )


def _named(titles: tuple[str, ...]) -> str:
    if not titles:
        return ""
    shown = ", ".join(f'"{t}"' for t in titles[:NAMED])
    more = f" and {len(titles) - NAMED} more" if len(titles) > NAMED else ""
    return f": {shown}{more}"
