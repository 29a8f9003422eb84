"""The archive of issues: the site's pages and feed about the newsletter.

The one part of the site that may import the newsletter. It does not: the issues come from the
store, and their web versions are the pages made here (``issues/N/``), whose address the
digest links to (newsletter.digest.issue_url, the same address: a test holds them together).
The digest brings premailer and Jinja2, which a build with nothing to do does not load.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import partial

from feedpub.config import Site
from feedpub.model import Article
from feedpub.site.cache.keys import key
from feedpub.site.feeds import FeedSpec
from feedpub.site.pages import Output
from feedpub.store.issues import UNSUBSCRIBE_PLACEHOLDER, IssueRecord


def as_articles(site: Site, issues: list[IssueRecord]) -> list[Article]:
    """Every issue as an entry of the archive, newest first."""
    return [as_article(site, issue) for issue in reversed(issues)]


def issues_feed(site: Site, newest: list[Article]) -> FeedSpec:
    """The issues feed (``issues/``): the newest issues, up to the feeds' limit."""
    return FeedSpec(
        "issues",
        site.newsletter_name,
        f"Every issue of {site.newsletter_name}",
        f"{site.site.url}issues/",
        newest[: site.feeds.limit],
    )


def web_versions(site: Site, issues: list[IssueRecord], base: str) -> Iterator[Output]:
    for issue in issues:
        yield (
            f"issues/{issue.number}/index.html",
            key(base, "issue", issue.html, site.newsletter.unsubscribe_url),
            partial(_web_version, site, issue),
        )


def _web_version(site: Site, issue: IssueRecord) -> bytes:
    return web_version(site, issue).encode()


def as_article(site: Site, issue: IssueRecord) -> Article:
    """An issue as an entry of the issues feed: its subject, web version and article list."""
    lines = [issue.note.strip(), ""] if issue.note.strip() else []
    for item in issue.items:
        title = item.title.replace("[", "\\[").replace("]", "\\]")
        lines.append(f"- [{title}](<{item.link}>): {item.summary}")
    body = "\n".join(lines) + "\n"
    created = datetime.fromisoformat(issue.created)
    return Article(
        source=str(site.state_dir),
        relpath=f"issues/{issue.number}",
        title=issue.subject,
        date=created,
        body=body,
        body_format="markdown",
        content_hash="",
        authors=(site.newsletter_name,),
        feed_id=issue.id,
        link=f"{site.site.url}issues/{issue.number}/",
        page=f"issues/{issue.number}/index.html",
    )


def web_version(site: Site, issue: IssueRecord) -> str:
    """The issue's email as a web page; its unsubscribe link leads to the general page."""
    return issue.html.replace(
        UNSUBSCRIBE_PLACEHOLDER, site.newsletter.unsubscribe_url or site.site.url
    )
