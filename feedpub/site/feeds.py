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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING

from feedpub import __version__
from feedpub.config import Site
from feedpub.content.bodies import Bodies, image_url
from feedpub.content.media import clock
from feedpub.content.readers import site_author
from feedpub.itunes import NAMESPACE
from feedpub.links import static_url
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
_ESCAPES = re.compile(rb"&amp;|&lt;")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
MEDIA_NS = "http://search.yahoo.com/mrss/"
ATOM_NS = "http://www.w3.org/2005/Atom"
HISTORY_NS = "http://purl.org/syndication/history/1.0"  # RFC 5005's fh: namespace


@dataclass(frozen=True)
class History:
    """A document's place in an archived feed (RFC 5005, section 4): whether it is an archive
    document, and the folders of the subscription document (``current``) and of the archive
    documents before and after it ("": none)."""

    archive: bool
    current: str
    prev: str = ""
    next: str = ""


@dataclass(frozen=True)
class FeedSpec:
    """One feed: where it lives, what it is called, and its articles (newest first)."""

    folder: str  # "" for the site's main feeds, else e.g. "tags/news"
    title: str
    description: str
    home: str  # the absolute URL of the page the feed stands for
    articles: Sequence[Article]
    history: History | None = None  # with [feeds] archive: where it stands in the history

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
    fg.id(_logical(spec).url(site, "atom.xml"))
    fg.title(xml_safe(spec.title))
    fg.subtitle(xml_safe(spec.description or spec.title))
    fg.description(xml_safe(spec.description or spec.title))
    fg.language(site.site.language)
    name, email = _site_person(site)
    fg.author(_person(name, email))
    if email:
        fg.managingEditor(f"{email} ({name})")
    fg.generator("feedpub", __version__, GENERATOR_URI)
    fg.load_extension("dc", atom=False, rss=True)
    fg.register_extension("feedpub", _FeedText, _EntryText, atom=True, rss=True)
    fg.register_extension("feedpub_links", _FeedLinks, _NoEntryLinks, atom=True, rss=True)
    _podcast_channel(fg, site, spec)
    updated = _updated(spec.articles)
    fg.updated(updated)
    fg.lastBuildDate(updated)
    fg.feedpub.date(updated)
    for article in map(_clean, spec.articles):
        entry = fg.add_entry(order="append")
        entry.id(article.feed_id)
        entry.title(article.title)
        entry.link(href=article.link, rel="alternate")
        entry.feedpub.base(article.link)
        entry.published(article.date)
        entry.feedpub.date(article.date)
        entry.updated(article.modified)
        people = list(_people(article))
        for name, email in people:
            entry.author(_person(name, email))
        # RSS has one <author>, an address ("jane@example.org (Jane Doe)"), or Dublin Core's
        # creators by name: both at once are the same thing said twice (the W3C validator
        # warns: DuplicateItemSemantics).
        if len(people) == 1 and people[0][1]:
            entry.feedpub.rss_author(True)
        else:
            for name, _ in people:
                entry.dc.dc_creator(name)
        if (image := image_url(article, site.site.url)) is not None:
            entry.feedpub.image(image)
        for tag in article.tags:
            entry.category(term=tag, label=tag)
        _media_entry(entry, site, spec, article)
        # summary() fills Atom's <summary> and RSS's <description>; content() fills Atom's
        # <content> and RSS's <content:encoded>. (description() would overwrite <content>.)
        # An empty body is no content: a reader shows the summary, or the title and link.
        html = bodies.html(article) if full else ""
        summary = _said(bodies, article, html)
        if summary:
            entry.summary(summary)
            entry.feedpub.rss_description(summary)
        if html.strip():
            entry.content(html, type="html")
    return fg


def _said(bodies: Bodies, article: Article, html: str) -> str:
    """What an entry says besides its body: the summary, or, with neither body nor summary,
    the title (Atom asks an entry for some text, the W3C validator's MissingTextualContent;
    JSON Feed for a content_text)."""
    return bodies.summary(article) or ("" if html.strip() else article.title)


def _people(article: Article) -> Iterator[tuple[str, str]]:
    """Each author's name and email address ("" for none)."""
    for index, name in enumerate(article.authors):
        yield name, xml_safe(article.author_email(index))


def _site_person(site: Site) -> tuple[str, str]:
    """The feed's own author: ``[site] author`` (its name and address) or the site's title."""
    if not site.site.author:
        return xml_safe(site.site.title), ""
    (name,), emails = site_author(site)
    return xml_safe(name), xml_safe(emails[0]) if emails else ""


def _person(name: str, email: str) -> dict[str, str]:
    return {"name": name, "email": email} if email else {"name": name}


def _json_person(name: str, email: str) -> dict[str, str]:
    # JSON Feed's author has no email; its url "could be a mailto: link" (JSON Feed 1.1).
    return {"name": name, "url": f"mailto:{email}"} if email else {"name": name}


def _in_gmt(element: etree._Element | None, when: datetime | None) -> None:
    """``element``'s RFC 822 date, ``when``, written in GMT ("+0000"): feedgen writes the
    date's own offset, and the W3C validator warns on one whose minutes are not :00 or :30
    (+05:45, Nepal). From the date itself, not by reading feedgen's text back."""
    # email.utils brings the email package (as lxml does, it is loaded where a feed is written).
    from email.utils import format_datetime

    if element is not None and when is not None:
        element.text = format_datetime(when.astimezone(UTC))


class _FeedText:
    """The feed half of the feedgen extension below: the channel's date in GMT."""

    def __init__(self) -> None:
        self._date: datetime | None = None

    def date(self, when: datetime) -> None:
        """The date feedgen is given for the channel's <lastBuildDate> or the item's
        <pubDate>, to write in GMT."""
        self._date = when

    def extend_ns(self) -> dict[str, str]:
        return {}

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        _in_gmt(feed.find("channel/lastBuildDate"), self._date)
        return feed

    def extend_atom(self, feed: etree._Element) -> etree._Element:
        return feed


class _EntryText(_FeedText):
    """What feedgen cannot write of an item: an extension sees the item after it is made.

    An item's RSS <description> as HTML that says its summary, a text: feedgen writes one
    summary into Atom's <summary> (type="text": right) and RSS's <description>, which readers
    and the W3C validator take as HTML ("entity-encoded HTML is allowed"), so that "Use the
    &lt;details&gt; element" would become an element; feedgen has no way to set the one
    without the other.

    An Atom entry's content's xml:base, the article's address (where jekyll-feed writes it):
    the base its references resolve against, for a reader that resolves any left relative. Not
    on the entry, where the entry's own link to the article would resolve to its base and read
    as a reference to the same document (the W3C validator's SameDocumentReference).

    The article's image as Media RSS's <media:content medium="image"> in both (as jekyll-feed
    writes it), the namespace declared on the element, so that a feed without images has none.

    RSS's <pubDate> in GMT; feedgen's <author> (an address and a name) kept only where it is
    the item's one author, who has an address."""

    def __init__(self) -> None:
        super().__init__()
        self._summary: str | None = None
        self._base: str | None = None
        self._image: str | None = None
        self._rss_author = False

    def rss_description(self, summary: str) -> None:
        self._summary = summary

    def base(self, url: str) -> None:
        self._base = url

    def image(self, url: str) -> None:
        self._image = url

    def rss_author(self, keep: bool) -> None:
        self._rss_author = keep

    def _media(self, parent: etree._Element) -> None:
        if self._image is not None:
            from lxml import etree

            media = etree.SubElement(parent, f"{{{MEDIA_NS}}}content", nsmap={"media": MEDIA_NS})
            media.set("url", self._image)
            media.set("medium", "image")

    def extend_atom(self, feed: etree._Element) -> etree._Element:
        # feedgen makes its elements without a namespace (the document's default gives them
        # Atom's once written).
        content = feed.find("content")
        if self._base is not None and content is not None:
            content.set(XML_BASE, self._base)
        self._media(feed)
        return feed

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        description = feed.find("description")
        if self._summary is not None and description is not None:
            description.text = escape(self._summary, quote=False)
        _in_gmt(feed.find("pubDate"), self._date)
        if not self._rss_author:
            for author in feed.findall("author"):
                feed.remove(author)
        self._media(feed)
        return feed


def _links(fg: FeedGenerator, site: Site, spec: FeedSpec, name: str) -> FeedGenerator:
    """A document's self link points at that document. The RSS channel <link> is whichever
    link() came last: the page, after the self link."""
    fg.link(href=spec.url(site, name), rel="self", replace=True)
    fg.link(href=spec.home, rel="alternate")
    fg.feedpub_links.use(_more_links(site, spec, name), _is_archive(spec))
    return fg


def _is_archive(spec: FeedSpec) -> bool:
    return spec.history is not None and spec.history.archive


def _logical(spec: FeedSpec) -> FeedSpec:
    """The feed ``spec`` is a document of: itself, or for an archive document the subscription
    feed, whose id (Atom's id, JSON Feed's feed_url) every document of the history shares, as
    in RFC 5005's examples: one feed, in many documents."""
    if spec.history is not None and spec.history.archive:
        return FeedSpec(spec.history.current, "", "", "", ())
    return spec


def _more_links(site: Site, spec: FeedSpec, name: str) -> list[tuple[str, str]]:
    """The links beside self and alternate, as (rel, href): the WebSub hub (section 4 of the
    WebSub recommendation: a hub link and a self link), except in archive documents, which do
    not change; and the archived feed's (RFC 5005): current, prev-archive, next-archive, each
    to the document of the same format."""
    links: list[tuple[str, str]] = []
    if site.feeds.websub_hub and not _is_archive(spec):
        links.append(("hub", site.feeds.websub_hub))
    history = spec.history
    if history is not None:
        for rel, folder in (
            ("current", history.current),
            ("prev-archive", history.prev),
            ("next-archive", history.next),
        ):
            if folder or rel == "current":
                links.append((rel, FeedSpec(folder, "", "", "", ()).url(site, name)))
    return links


class _FeedLinks:
    """A feedgen extension for the links feedgen cannot write: it knows the rel values of
    Atom 1.0 only, and in RSS a self link alone. Atom's links go before the first entry (the
    feed's metadata come before its entries in RFC 4287's schema); RSS's are atom:link
    elements in the channel (RFC 5005, appendix B). An archive document says so with
    <fh:archive/>."""

    def __init__(self) -> None:
        self._links: list[tuple[str, str]] = []
        self._archive = False

    def use(self, links: list[tuple[str, str]], archive: bool) -> None:
        """The links (rel, href) of the document about to be written."""
        self._links, self._archive = links, archive

    def extend_ns(self) -> dict[str, str]:
        return {}

    def _add(self, parent: etree._Element, before: str, link_tag: str) -> None:
        from lxml import etree

        made: list[etree._Element] = []
        for rel, href in self._links:
            link = etree.Element(link_tag)
            link.set("href", href)
            link.set("rel", rel)
            made.append(link)
        if self._archive:
            made.append(etree.Element(f"{{{HISTORY_NS}}}archive", nsmap={"fh": HISTORY_NS}))
        first = parent.find(before)
        for element in made:
            if first is not None:
                first.addprevious(element)
            else:
                parent.append(element)

    def extend_atom(self, feed: etree._Element) -> etree._Element:
        self._add(feed, "entry", "link")
        return feed

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        channel = feed.find("channel")
        if channel is not None:
            self._add(channel, "item", f"{{{ATOM_NS}}}link")
        return feed


class _NoEntryLinks:
    """The entries' half of _FeedLinks: entries get no links of its own."""

    def extend_ns(self) -> dict[str, str]:
        return {}

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        return entry

    def extend_rss(self, item: etree._Element) -> etree._Element:
        return item


def _json_more(site: Site, spec: FeedSpec) -> dict[str, object]:
    """JSON Feed 1.1's part of the links above: ``hubs`` (a WebSub hub) in the documents that
    change, the subscription feed's ``feed_url`` in the archive documents (the feed's id), and
    ``next_url``, the page of older items, for the archive documents' prev-archive
    (JSON Feed has no archives of its own; a reader that follows next_url reads the whole
    history, each item once)."""
    more: dict[str, object] = {}
    if _is_archive(spec):
        more["feed_url"] = _logical(spec).url(site, "feed.json")
    if spec.history is not None and spec.history.prev:
        more["next_url"] = FeedSpec(spec.history.prev, "", "", "", ()).url(site, "feed.json")
    if site.feeds.websub_hub and not _is_archive(spec):
        more["hubs"] = [{"type": "WebSub", "url": site.feeds.websub_hub}]
    return more


def _plain_text_as_text(data: bytes) -> bytes:
    """'&' and '<' in plain-text elements as hexadecimal character references (&#x26;, &#x3C;),
    as the RSS Best Practices Profile asks: the same XML to every parser, and the sign by which
    the W3C validator (its ContainsHTML, ContainsUndeclaredHTML and CharacterData checks) and
    readers tell a title that says "Tom &amp; Jerry" or "Use <details>" from escaped HTML."""
    return _PLAIN_TEXT.sub(_hex_refs, data)


def _hex_refs(found: re.Match[bytes]) -> bytes:
    text = found[0]
    # Most titles, names and tags hold no '&' at all (lxml writes '<' as '&lt;').
    return _ESCAPES.sub(_hex_ref, text) if b"&" in text else text


def _hex_ref(escape: re.Match[bytes]) -> bytes:
    return _HEX_REFS[escape[0]]


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
        html = bodies.html(article) if site.feeds.full_content else ""
        # An item needs content_html or content_text: an empty body says its summary.
        if html.strip():
            item["content_html"] = html
        else:
            item["content_text"] = _said(bodies, article, html)
        if summary := bodies.summary(article):
            item["summary"] = summary
        if (image := image_url(article, site.site.url)) is not None:
            item["image"] = image
        item["date_published"] = article.date.isoformat()
        if article.updated:
            item["date_modified"] = article.modified.isoformat()
        if article.authors:
            item["authors"] = [_json_person(name, email) for name, email in _people(article)]
        if article.tags:
            item["tags"] = list(article.tags)
        item.update(_json_media(site, article))
        items.append(item)
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": xml_safe(spec.title),
        "home_page_url": spec.home,
        "feed_url": spec.url(site, "feed.json"),
        "description": xml_safe(spec.description),
        "language": site.site.language,
        "authors": [_json_person(*_site_person(site))],
        **_json_more(site, spec),
        "items": items,
    }
    return (json.dumps(feed, ensure_ascii=False, indent=2) + "\n").encode("utf-8")



# --- enclosures, an article's own language, and the iTunes tags of a podcast ----------------
# The main RSS feed is the podcast's when feedpub.toml has [podcast]: Apple Podcasts and every
# podcast app read RSS only. Tag and author feeds, Atom and JSON Feed carry the enclosures and
# languages but no iTunes tags.


def enclosure_url(site: Site, article: Article) -> str | None:
    """The article's enclosure as an absolute URL: a path in the site is a file of static/,
    copied to the top of the output, so it resolves under the site's URL (its path kept)."""
    if not article.enclosure_url:
        return None
    if article.enclosure_url.lower().startswith(("http://", "https://")):
        return article.enclosure_url
    return static_url(site.site.url, article.enclosure_url)


def _is_podcast(site: Site, spec: FeedSpec) -> bool:
    return site.has_podcast and spec.folder == ""


def _media_entry(entry: object, site: Site, spec: FeedSpec, article: Article) -> None:
    """An entry's enclosure (RSS <enclosure>, Atom <link rel="enclosure">), its language (Atom
    xml:lang; RSS has only the channel's <language>) and, in a podcast's feed, its iTunes tags."""
    from feedgen.entry import FeedEntry

    assert isinstance(entry, FeedEntry)
    episode: _EpisodeTags = entry.episode
    if (url := enclosure_url(site, article)) is not None:
        entry.enclosure(url, str(article.enclosure_length), article.enclosure_type)
        episode.enclosure = (url, str(article.enclosure_length), article.enclosure_type)
    episode.lang = article.lang
    if _is_podcast(site, spec):
        episode.itunes = True
        episode.duration = article.duration
        episode.numbers = (article.season, article.episode)
        episode.explicit = site.podcast.explicit
        if (image := image_url(article, site.site.url)) is not None and image.lower().endswith(
            (".jpg", ".jpeg", ".png")
        ):
            episode.image = image


def _json_media(site: Site, article: Article) -> dict[str, object]:
    """A JSON Feed item's attachments and language."""
    item: dict[str, object] = {}
    if (url := enclosure_url(site, article)) is not None:
        attachment: dict[str, object] = {
            "url": url,
            "mime_type": article.enclosure_type,
            "size_in_bytes": article.enclosure_length,
        }
        if article.duration:
            attachment["duration_in_seconds"] = article.duration
        item["attachments"] = [attachment]
    if article.lang:
        item["language"] = article.lang
    return item


def _podcast_channel(fg: FeedGenerator, site: Site, spec: FeedSpec) -> None:
    # Two extensions: the show's namespace and tags in RSS only, the entries' in both.
    fg.register_extension("show", _ShowTags, _NoTags, atom=False, rss=True)
    fg.register_extension("episode", _NoTags, _EpisodeTags, atom=True, rss=True)
    if _is_podcast(site, spec):
        show: _ShowTags = fg.show
        show.site = site
        show.link = spec.home


def _itunes(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    from lxml import etree

    element = etree.SubElement(parent, f"{{{NAMESPACE}}}{name}")
    if text is not None:
        element.text = text
    return element


class _NoTags:
    """The half of an extension that writes nothing (feedgen asks for both)."""

    def extend_ns(self) -> dict[str, str]:
        return {}

    def extend_atom(self, element: etree._Element) -> etree._Element:
        return element

    def extend_rss(self, element: etree._Element) -> etree._Element:
        return element


class _ShowTags:
    """The channel's iTunes tags, from [podcast] (Apple's required ones: itunes:image,
    itunes:category, itunes:explicit; and itunes:owner's email, author and type)."""

    def __init__(self) -> None:
        self.site: Site | None = None
        self.link = ""

    def extend_ns(self) -> dict[str, str]:
        return {"itunes": NAMESPACE} if self.site is not None else {}

    def extend_atom(self, feed: etree._Element) -> etree._Element:
        return feed

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        if self.site is None:
            return feed
        from email.utils import parseaddr

        channel = feed.find("channel")
        assert channel is not None
        site, podcast = self.site, self.site.podcast
        # itunes:* goes before the items (RSS readers take the channel's elements in any
        # order, but Apple's examples and the validator's profile put them there).
        first_item = channel.find("item")
        tags: list[etree._Element] = []
        holder = channel.makeelement("holder")
        artwork = podcast.artwork
        if not artwork.lower().startswith(("http://", "https://")):
            artwork = static_url(site.site.url, artwork)
        _itunes(holder, "image").set("href", artwork)
        category = _itunes(holder, "category")
        category.set("text", podcast.category)
        if podcast.subcategory:
            _itunes(category, "category").set("text", podcast.subcategory)
        _itunes(holder, "explicit", "true" if podcast.explicit else "false")
        author = podcast.author or _site_person(site)[0]
        _itunes(holder, "author", xml_safe(author)[:255])
        owner = _itunes(holder, "owner")
        _itunes(owner, "name", xml_safe(podcast.owner_name or author)[:255])
        _itunes(owner, "email", parseaddr(podcast.owner_email)[1])
        _itunes(holder, "type", podcast.type)
        tags = list(holder)
        for tag in tags:
            if first_item is not None:
                first_item.addprevious(tag)
            else:
                channel.append(tag)
        return feed


class _EpisodeTags:
    """An entry's language (Atom xml:lang) and, in a podcast's feed, its iTunes tags."""

    def __init__(self) -> None:
        self.lang = ""
        self.itunes = False
        self.duration = 0
        self.numbers = (0, 0)  # the season's and the episode's, 0 for none
        self.explicit = False
        self.image: str | None = None
        self.enclosure: tuple[str, str, str] | None = None

    def extend_ns(self) -> dict[str, str]:
        return {}

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        # feedgen 1.0 writes an entry's links with their href only: the enclosure's would be a
        # second alternate link (the W3C validator's DuplicateAtomLink). Its rel, type and
        # length are set here.
        if self.enclosure is not None:
            url, length, kind = self.enclosure
            for link in entry.findall("link"):
                if link.get("href") == url and link.get("rel") is None:
                    link.set("rel", "enclosure")
                    link.set("type", kind)
                    link.set("length", length)
                    break
        if self.lang:
            entry.set("{http://www.w3.org/XML/1998/namespace}lang", self.lang)
        return entry

    def extend_rss(self, item: etree._Element) -> etree._Element:
        if not self.itunes:
            return item
        if self.duration:
            _itunes(item, "duration", clock(self.duration))
        season, number = self.numbers
        if number:
            _itunes(item, "episode", str(number))
        if season:
            _itunes(item, "season", str(season))
        if self.image is not None:
            _itunes(item, "image").set("href", self.image)
        _itunes(item, "explicit", "true" if self.explicit else "false")
        return item
