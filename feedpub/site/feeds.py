"""RSS 2.0, Atom 1.0 and JSON Feed 1.1 documents for a list of articles.

feedgen's traps, and how this module steps around them: it stamps ``now()`` into
``updated``/``lastBuildDate`` (we always set both from the newest article); it prepends
entries (we add with ``order='append'``); it rejects naive datetimes (ours are all aware);
it raises on XML control characters (the readers drop them, and _clean() and Bodies drop the
ones YAML escapes and character references bring back); the RSS channel link is the last
``link()`` call (the alternate link goes last). Its RFC 2822 date formatting switches the
process locale to 'C' and back; feedpub never sets a locale and builds on one thread.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING

from feedpub import __version__
from feedpub.config import Site
from feedpub.content.bodies import Bodies, image_url
from feedpub.model import Article, evolve
from feedpub.text import url_path, xml_safe

# feedgen brings lxml (75 ms to import): a rebuild that changes no feed does not load it.
if TYPE_CHECKING:
    from feedgen.feed import FeedGenerator
    from lxml import etree

GENERATOR_URI = "https://pypi.org/project/feedpub/"
# The plain-text elements of both formats (RSS <title>, <category>, the channel's
# <description>; Atom's type="text" constructs, <name> and <category term label>), and the two
# escapes lxml writes in them.
_PLAIN_TEXT = re.compile(
    rb"<(title|subtitle|summary|name|description|category)\b[^>]*>[^<]*</\1>|<category\b[^>]*/>"
)
_HEX_REFS = {b"&amp;": b"&#x26;", b"&lt;": b"&#x3C;"}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FeedSpec:
    """One feed: where it lives, what it is called, and its articles (newest first)."""

    folder: str  # "" for the site's main feeds, else e.g. "tags/news"
    title: str
    description: str
    home: str  # the absolute URL of the page the feed stands for
    articles: Sequence[Article]

    def url(self, site: Site, name: str) -> str:
        # Percent-encoded like the page links: a self link must be the URL the file is served
        # at, and a tag or author slug may be any script ("authors/zoë-okonkwo").
        return site.site.url + url_path(*self.folder.split("/"), name)

    def path(self, name: str) -> str:
        return f"{self.folder}/{name}" if self.folder else name


class FeedBodies(Bodies):
    """Bodies, and the feed generator of the feed being written, made once for its RSS and
    Atom documents."""

    def __init__(self, site: Site) -> None:
        super().__init__(site)
        self._generator: tuple[FeedSpec, FeedGenerator] | None = None

    def generator(self, spec: FeedSpec) -> FeedGenerator:
        """The feed generator of ``spec``, made once for its RSS and Atom documents when they
        are rendered one after the other (as the writer keeps them)."""
        if self._generator is None or self._generator[0] is not spec:
            self._generator = (
                spec,
                _generator(self.site, spec, self, self.site.feeds.full_content),
            )
        return self._generator[1]


def _clean(article: Article) -> Article:
    """The article without characters XML cannot carry in its title, authors and tags.

    The readers drop them from the file, but YAML escapes ("\\x1b") bring them back, and
    HTML character references (&#12;) do so in bodies; feedgen raises on them.
    """
    return evolve(
        article,
        title=xml_safe(article.title),
        authors=tuple(map(xml_safe, article.authors)),
        tags=tuple(map(xml_safe, article.tags)),
    )


def _updated(articles: Sequence[Article]) -> datetime:
    return max((a.modified for a in articles), default=EPOCH)


def _generator(site: Site, spec: FeedSpec, bodies: FeedBodies, full: bool) -> FeedGenerator:
    from feedgen.feed import FeedGenerator

    fg = FeedGenerator()
    fg.id(spec.url(site, "atom.xml"))
    fg.title(xml_safe(spec.title))
    fg.subtitle(xml_safe(spec.description or spec.title))
    fg.description(xml_safe(spec.description or spec.title))
    fg.language(site.site.language)
    fg.author({"name": xml_safe(site.site.author or site.site.title)})
    fg.generator("feedpub", __version__, GENERATOR_URI)
    fg.load_extension("dc", atom=False, rss=True)
    fg.register_extension("feedpub", _FeedText, _EntryText, atom=False, rss=True)
    updated = _updated(spec.articles)
    fg.updated(updated)
    fg.lastBuildDate(updated)
    for article in map(_clean, spec.articles):
        entry = fg.add_entry(order="append")
        entry.id(article.feed_id)
        entry.title(article.title)
        entry.link(href=article.link, rel="alternate")
        entry.published(article.date)
        entry.updated(article.modified)
        for name in article.authors:
            entry.author({"name": name})
            entry.dc.dc_creator(name)
        for tag in article.tags:
            entry.category(term=tag, label=tag)
        # summary() fills Atom's <summary> and RSS's <description>; content() fills Atom's
        # <content> and RSS's <content:encoded>. (description() would overwrite <content>.)
        summary = bodies.summary(article)
        if summary:
            entry.summary(summary)
            entry.feedpub.rss_description(summary)
        if full:
            entry.content(bodies.html(article), type="html")
    return fg


class _FeedText:
    """The feed half of the feedgen extension below: it adds nothing to the channel."""

    def extend_ns(self) -> dict[str, str]:
        return {}

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        return feed

    def extend_atom(self, feed: etree._Element) -> etree._Element:
        return feed


class _EntryText(_FeedText):
    """An item's RSS <description> as HTML that says its summary, a text.

    feedgen writes one summary into Atom's <summary> (type="text": right) and RSS's
    <description>, which readers and the W3C validator take as HTML ("entity-encoded HTML is
    allowed"), so that "Use the &lt;details&gt; element" would become an element. feedgen has
    no way to set the one without the other; an extension sees the item after it is made."""

    def __init__(self) -> None:
        self._summary: str | None = None

    def rss_description(self, summary: str) -> None:
        self._summary = summary

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        description = feed.find("description")
        if self._summary is not None and description is not None:
            description.text = escape(self._summary, quote=False)
        return feed


def _links(fg: FeedGenerator, site: Site, spec: FeedSpec, name: str) -> FeedGenerator:
    """A document's self link points at that document. The RSS channel <link> is whichever
    link() came last: the page, after the self link."""
    fg.link(href=spec.url(site, name), rel="self", replace=True)
    fg.link(href=spec.home, rel="alternate")
    return fg


def _plain_text_as_text(data: bytes) -> bytes:
    """'&' and '<' in plain-text elements as hexadecimal character references (&#x26;, &#x3C;),
    as the RSS Best Practices Profile asks: the same XML to every parser, and the sign by which
    the W3C validator (its ContainsHTML, ContainsUndeclaredHTML and CharacterData checks) and
    readers tell a title that says "Tom &amp; Jerry" or "Use <details>" from escaped HTML."""
    return _PLAIN_TEXT.sub(
        lambda found: re.sub(rb"&amp;|&lt;", lambda e: _HEX_REFS[e[0]], found[0]), data
    )


def rss(site: Site, spec: FeedSpec, bodies: FeedBodies) -> bytes:
    data: bytes = _links(bodies.generator(spec), site, spec, "rss.xml").rss_str(pretty=True)
    return _plain_text_as_text(data)


def atom(site: Site, spec: FeedSpec, bodies: FeedBodies) -> bytes:
    data: bytes = _links(bodies.generator(spec), site, spec, "atom.xml").atom_str(pretty=True)
    return _plain_text_as_text(data)


def json_feed(site: Site, spec: FeedSpec, bodies: FeedBodies) -> bytes:
    items = []
    for article in map(_clean, spec.articles):
        item: dict[str, object] = {
            "id": article.feed_id,
            "url": article.link,
            "title": article.title,
        }
        if site.feeds.full_content:
            item["content_html"] = bodies.html(article)
        else:
            item["content_text"] = bodies.summary(article)
        item["summary"] = bodies.summary(article)
        if (image := image_url(article)) is not None:
            item["image"] = image
        item["date_published"] = article.date.isoformat()
        if article.updated:
            item["date_modified"] = article.modified.isoformat()
        if article.authors:
            item["authors"] = [{"name": name} for name in article.authors]
        if article.tags:
            item["tags"] = list(article.tags)
        items.append(item)
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": xml_safe(spec.title),
        "home_page_url": spec.home,
        "feed_url": spec.url(site, "feed.json"),
        "description": xml_safe(spec.description),
        "language": site.site.language,
        "authors": [{"name": xml_safe(site.site.author or site.site.title)}],
        "items": items,
    }
    return (json.dumps(feed, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
