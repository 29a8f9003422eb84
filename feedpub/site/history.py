"""The main feed's whole history, as RFC 5005 (section 4) archived feeds: ``[feeds] archive``.

The subscription documents (rss.xml, atom.xml, feed.json) keep the newest ``[feeds] limit``
articles; every older article is in exactly one archive document, that of its month (its date,
in the site's timezone): ``archive/feed/2026-11/rss.xml``, ``atom.xml`` and ``feed.json``,
beside the archive's web page (``archive/index.html``). The documents link one another:
the subscription documents to the newest month (prev-archive), each month to the month before
and after it (prev-archive, next-archive) and to the subscription document (current).

Archives are stable because the catalog is sorted by date: an article leaves the subscription
feed only when a newer one comes, and then joins the newest month. So a rebuild changes only
the newest month's documents (and, when a new month starts, the month before gains its
next-archive link); every earlier month keeps its bytes, and the writer leaves those files (and
their modification times) as they were. What changes an older month, and only that month: an
article added with a date in it, removed from it, or edited. An edit is written into the
month's documents as the article is now (with its new ``updated`` date): RFC 5005 asks that
the set of entries of an archive document does not change, and the set stays the same; a
reader that already read the month may not fetch it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from feedpub.config import Site
from feedpub.model import Article
from feedpub.site.feeds import FeedSpec, History

ARCHIVE_FOLDER = "archive/feed"


def _months(site: Site, articles: Sequence[Article]) -> dict[str, list[Article]]:
    """The articles older than the subscription feed's, by month ("2026-11"), oldest month
    first, each month's newest first."""
    months: dict[str, list[Article]] = {}
    for article in articles[site.feeds.limit :]:
        month = article.date.astimezone(site.tz).strftime("%Y-%m")
        months.setdefault(month, []).append(article)
    return dict(sorted(months.items()))


def _folder(month: str) -> str:
    return f"{ARCHIVE_FOLDER}/{month}"


def subscription(site: Site, main: FeedSpec, articles: Sequence[Article]) -> FeedSpec:
    """The main feed ``main`` (of the catalog's ``articles``, newest first), with its links to
    the history when ``[feeds] archive`` is on."""
    if not site.feeds.archive:
        return main
    months = list(_months(site, articles))
    newest = _folder(months[-1]) if months else ""
    return replace(main, history=History(False, main.folder, prev=newest))


def archives(site: Site, main: FeedSpec, articles: Sequence[Article]) -> list[FeedSpec]:
    """The archive documents' feeds, oldest month first (none unless ``[feeds] archive``)."""
    if not site.feeds.archive:
        return []
    months = _months(site, articles)
    folders = [_folder(month) for month in months]
    specs: list[FeedSpec] = []
    for index, members in enumerate(months.values()):
        history = History(
            True,
            main.folder,
            prev=folders[index - 1] if index else "",
            next=folders[index + 1] if index + 1 < len(folders) else "",
        )
        specs.append(
            FeedSpec(
                folders[index],
                main.title,
                main.description,
                f"{site.site.url}archive/",
                members,
                history,
            )
        )
    return specs
