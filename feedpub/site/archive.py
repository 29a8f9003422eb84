"""The archive of issues: the site's pages and feed about the newsletter.

The one part of the site that may import the newsletter, and it takes only the editor's note
(``newsletter.note``: the issues feed and the web versions show the note as safely as the email
does). The issues come from the store, as entries of the issues feed and of the site's pages
(``Pages.render_issues`` makes each issue's web version, ``issues/N/``, at the address the
digest links to, ``Site.issue_url``). The digest brings premailer and Jinja2, which a build with
nothing to do does not load.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from feedpub.config import Site
from feedpub.i18n import N_, words
from feedpub.model import Article
from feedpub.newsletter.note import note_html
from feedpub.site.cache.keys import key
from feedpub.site.feeds import FeedSpec
from feedpub.store.issues import IssueRecord


def as_articles(site: Site, issues: list[IssueRecord]) -> list[Article]:
    """Every issue as an entry of the archive, newest first."""
    return [as_article(site, issue) for issue in reversed(issues)]


def issues_feed(site: Site, newest: list[Article]) -> FeedSpec:
    """The issues feed (``issues/``): the newest issues, up to the feeds' limit."""
    return FeedSpec(
        "issues",
        site.newsletter_name,
        words(site.site.language).say(N_("Every issue of %(name)s"), name=site.newsletter_name),
        f"{site.site.url}issues/",
        newest[: site.feeds.limit],
    )


def as_article(site: Site, issue: IssueRecord) -> Article:
    """An issue as an entry of the issues feed: its subject, web version and article list."""
    body = issue_html(site, issue)
    created = datetime.fromisoformat(issue.created)
    return Article(
        source=str(site.state_dir),
        relpath=f"issues/{issue.number}",
        title=issue.subject,
        date=created,
        body=body,
        body_format="html",
        content_hash="",
        # What the feed's entry and the issues page show of it: their keys depend on it.
        fingerprint=key("issue", issue.subject, body),
        authors=(site.newsletter_name,),
        feed_id=issue.id,
        link=site.issue_url(issue.number),
        page=f"issues/{issue.number}/index.html",
    )


def issue_html(site: Site, issue: IssueRecord) -> str:
    """The issue's entry in the issues feed as HTML: the editor's note, as safe as the email's
    (the same function makes both), then each article's title, linked, and summary. Titles and
    summaries are text: they are escaped, never read as Markdown or HTML."""
    note = note_html(issue.note, site.site.url)
    note += "\n" if note else ""
    if not issue.items:
        return note
    lines = [note + "<ul>"]
    for item in issue.items:
        # Isolated as every title on the pages is (this is the body of the issue's web version
        # too), so that right-to-left text in one stays in it.
        link = f'<a href="{escape(item.link)}" dir="auto">{escape(item.title, quote=False)}</a>'
        summary = f": {escape(item.summary, quote=False)}" if item.summary else ""
        lines.append(f"<li>{link}{summary}</li>")
    return "\n".join(lines) + "\n</ul>\n"
