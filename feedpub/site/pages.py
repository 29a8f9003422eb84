"""The web archive: Jinja2 templates (a site's own override the packaged ones, file by file)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from feedpub.config import Site
from feedpub.content.bodies import Bodies, image_url
from feedpub.content.catalog import Catalog, Group
from feedpub.content.images import shown_images
from feedpub.errors import TemplateError
from feedpub.i18n import words
from feedpub.links import NOT_FOUND, page_links, site_url
from feedpub.model import Article
from feedpub.site.cache.keys import key, within
from feedpub.site.feeds import FeedSpec
from feedpub.site.form import TEMPLATE as FORM_TEMPLATE
from feedpub.site.form import SignupForm, page_form
from feedpub.templating import environment, html_datetime, template_problem
from feedpub.text import isolate, name_key, name_slug, url_path
from feedpub.theme import theme_of

# markupsafe comes with Jinja2, when something is rendered (templating.environment).
if TYPE_CHECKING:
    from markupsafe import Markup


def feed_links(site: Site, spec: FeedSpec) -> list[dict[str, str]]:
    return [
        {
            "type": "application/rss+xml",
            "title": f"{spec.title} (RSS)",
            "label": "RSS",
            "href": spec.url(site, "rss.xml"),
        },
        {
            "type": "application/atom+xml",
            "title": f"{spec.title} (Atom)",
            "label": "Atom",
            "href": spec.url(site, "atom.xml"),
        },
        {
            "type": "application/feed+json",
            "title": f"{spec.title} (JSON)",
            "label": "JSON",
            "href": spec.url(site, "feed.json"),
        },
    ]


# The packaged templates of the pages that list articles. Those show each article as a line
# (link, title, date) or a card (the same, its authors and its lead), never its body; while a
# site overrides none of them, a list's key is made of only those, so that editing an
# article's body does not render the archive and its tag and author lists again.
LISTING_TEMPLATES = frozenset(
    {
        "base.html",
        "_macros.html",
        "card.html",
        "index.html",
        "archive.html",
        "list.html",
        FORM_TEMPLATE,  # base.html includes it, with the page's context
        "_share.html",  # base.html includes it too: the page's head for sharing
    }
)

def page_title(*parts: str) -> str:
    """A page's <title>: its names and titles each isolated (text.isolate), since <title> is
    plain text where an override one leaves open would reverse the parts after it."""
    return " · ".join(isolate(part) for part in parts)


def _meta_text(text: str) -> str:
    """A text for a <meta content>: on one line (a sharing card shows one). Writing it with
    {{ }} isolates it (templating's finalize, text.isolate), since a card shows it next to
    other text where an override left open would reverse that."""
    return " ".join(text.split())


@dataclass(frozen=True)
class Share:
    """What a page tells the sites it is shared on: its canonical address, a description,
    Open Graph's and Twitter's cards. Every URL is absolute; every text is plain text (the
    template escapes it) on one line."""

    url: str
    title: str
    description: str
    site_name: str
    type: str = "website"  # Open Graph's og:type: "article" for an article's page
    image: str | None = None
    image_alt: str = ""
    logo: bool = False  # the picture is the site's logo ([site] logo), not the page's own
    published: str = ""  # article:published_time, as HTML and ISO 8601 write it
    modified: str = ""
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    @property
    def card(self) -> str:
        """Twitter's card: the large one when there is a picture to show."""
        return "summary_large_image" if self.image and not self.logo else "summary"


@dataclass(frozen=True)
class Pager:
    """Where one page of a list stands among the list's pages: page 1 is the list's own
    address, page n its ``page/n/``."""

    number: int
    total: int
    url: str
    prev_url: str | None  # the newer articles' page
    next_url: str | None  # the older articles' page


def page_count(count: int, per_page: int) -> int:
    """The pages a list of ``count`` articles takes: at least one, which says it is empty."""
    return max(1, -(-count // per_page))


def page_path(folder: str, number: int) -> str:
    """The file of page ``number`` of the list in ``folder`` ("" for the home page)."""
    top = f"{folder}/" if folder else ""
    return f"{top}index.html" if number == 1 else f"{top}page/{number}/index.html"


def page_url(home: str, number: int) -> str:
    """The address of page ``number`` of the list at ``home`` (absolute, ending in "/")."""
    return home if number == 1 else f"{home}page/{number}/"


def paginate(
    articles: Sequence[Article], per_page: int, folder: str, home: str
) -> Iterator[tuple[str, Pager, Sequence[Article]]]:
    """Each page of a list: its file, its Pager and its articles, newest first; every
    article on exactly one page."""
    total = page_count(len(articles), per_page)
    for number in range(1, total + 1):
        pager = Pager(
            number,
            total,
            page_url(home, number),
            page_url(home, number - 1) if number > 1 else None,
            page_url(home, number + 1) if number < total else None,
        )
        start = (number - 1) * per_page
        yield page_path(folder, number), pager, articles[start : start + per_page]


class Pages:
    """Renders every page of the archive; ``render`` yields (path, bytes)."""

    def __init__(self, site: Site, catalog: Catalog, bodies: Bodies, base: str = "") -> None:
        self.site = site
        self.base = base
        self.catalog = catalog
        self.bodies = bodies
        # What a page without a picture of its own shows where it is shared.
        self.logo = theme_of(site).logo
        from markupsafe import Markup

        if lists_show_lines_and_cards(site):
            self.line_key, self.card_key = _once_each(line_key), _once_each(card_key)
        else:  # a template of the site's own may show anything of an article
            self.line_key = self.card_key = article_key
        self.env = environment(site)
        self.words = words(site.site.language)
        self._urls: dict[tuple[str, str], str | None] = {}
        self._lost: dict[str, set[str]] = {}  # by kind: the name_keys without pages
        self._cards: dict[str, Markup] = {}
        # Each page's newest article (updated, else published), by its path: the sitemap's
        # <lastmod>, found from what the page is given to show; None for a page of no article.
        self.lastmod: dict[str, datetime | None] = {}
        self.env.globals.update(
            {
                "site": site.site,
                "home": site.site.url,
                "content": lambda a: Markup(bodies.page_html(a)),
                "summary": bodies.summary,
                "image": partial(image_url, root=site.site.url),
                "card": self.card,
                # Lists show this many articles with their summaries, the rest as plain links.
                "site_limit": site.feeds.limit,
                "tag_url": lambda name: self.group_url("tags", name),
                "author_url": lambda name: self.group_url("authors", name),
                "archive_url": site.site.url + "archive/",
                "tags_url": site.site.url + "tags/",
                # The sign-up box, on every page once [web] url is set (base.html).
                "signup": page_form(site),
            }
        )
        # The navigation's links to the newsletter: its issues (the page is built for every
        # site with a newsletter, before the first issue too) and, once [web] url says where
        # the web app runs, its sign-up page.
        signup = self.env.globals["signup"]
        self.env.globals.update(
            {
                "nav_issues": site.site.url + "issues/" if site.has_newsletter else None,
                "nav_signup": signup.action if isinstance(signup, SignupForm) else None,
            }
        )

    def group_url(self, kind: str, name: str) -> str | None:
        """The page of the tag or author ``name``; None for a name that lost its slug to
        another (the catalog reports that as an error)."""
        wanted = (kind, name)
        if wanted not in self._urls:
            if kind not in self._lost:
                grouping = self.catalog.grouping(kind)
                self._lost[kind] = {name_key(c.lost) for c in grouping.clashes}
            slug = name_slug(name, self.site.site.ascii_urls)
            lost = name_key(name) in self._lost[kind]
            self._urls[wanted] = None if lost else f"{self.site.site.url}{kind}/{url_path(slug)}/"
        return self._urls[wanted]

    def card(self, article: Article) -> Markup:
        """An article's summary block for lists, rendered once per build."""
        from markupsafe import Markup

        name = article.feed_id or article.relpath
        if name not in self._cards:
            self._cards[name] = Markup(self._render("card.html", article=article))
        return self._cards[name]

    def _page(self, template: str, path: str, **context: object) -> bytes:
        return page_links(self._render(template, **context), self.site, path).encode()

    def _render(self, template: str, **context: object) -> str:
        try:
            return self.env.get_template(template).render(**context)
        except TemplateError:
            raise  # a template's error, already told, on its way out of card()
        # Whatever a template's code raises: ZeroDivisionError, TypeError, RecursionError...
        except Exception as exc:
            raise TemplateError(template_problem(exc, self.site, template)) from None

    def render_issues(self, spec: FeedSpec, issues: list[Article]) -> Iterator[Output]:
        """The list of newsletter issues, newest first, and each issue's web version: a page
        of the site (issue.html), not the email, whose markup for Outlook (VML namespaces,
        mso- properties, layout tables) is not valid HTML."""
        feeds = feed_links(self.site, spec)
        yield self._output(
            "issues/index.html",
            [spec.folder, *(a.fingerprint for a in issues)],
            "issues.html",
            issues=issues,
            feeds=feeds,
            page_title=page_title(spec.title, self.site.site.title),
            heading=spec.title,
            share=self.share(spec.title, spec.home),
        )
        for issue in issues:
            if issue.page is not None:  # archive.as_article gives every issue one
                yield self._output(
                    issue.page,
                    [spec.folder, issue.fingerprint, issue.date.isoformat()],
                    "issue.html",
                    issue=issue,
                    feeds=feeds,
                    issues_url=f"{self.site.site.url}{spec.folder}/",
                    page_title=page_title(issue.title, self.site.site.title),
                    share=self.article_share(issue),
                )

    def _output(
        self, path: str, depends: Iterable[str], template: str, **context: object
    ) -> Output:
        """(path, key, render): the key names everything the page shows, so that an unchanged
        page is not rendered again. The page's newest article is noted for the sitemap."""
        self.lastmod[path] = newest_shown(context.values())
        made = key(self.base, template, *depends)
        return path, made, lambda: self._page(template, path, **context)

    def render(
        self, main: FeedSpec, groups: dict[str, list[tuple[Group, FeedSpec]]]
    ) -> Iterator[Output]:
        site = self.site
        articles = self.catalog.articles
        per_page = site.site.per_page
        for path, pager, shown in paginate(articles, per_page, "", site.site.url):
            title = site.site.title
            yield self._output(
                path,
                ["home", str(pager.number), str(pager.total), *map(self.card_key, shown)],
                "index.html",
                articles=shown,
                pager=pager,
                feeds=feed_links(site, main),
                page_title=self._numbered(pager, title),
                share=self.share(title, pager.url),
            )
        archive_url = site.site.url + "archive/"
        yield self._output(
            "archive/index.html",
            map(self.line_key, articles),
            "archive.html",
            articles=articles,
            feeds=feed_links(site, main),
            page_title=page_title(self.words.gettext("Archive"), site.site.title),
            share=self.share(self.words.gettext("Archive"), archive_url),
        )
        gettext = self.words.gettext
        for kind, label in (("tags", gettext("Tags")), ("authors", gettext("Authors"))):
            pairs = groups[kind]
            yield self._output(
                f"{kind}/index.html",
                [f"{g.name}:{len(g.articles)}" for g, _ in pairs],
                "groups.html",
                kind=kind,
                groups=[g for g, _ in pairs],
                feeds=feed_links(site, main),
                page_title=page_title(label, site.site.title),
                share=self.share(label, f"{site.site.url}{kind}/"),
            )
            for group, spec in pairs:
                count = str(len(group.articles))
                pages = paginate(group.articles, per_page, spec.folder, spec.home)
                for path, pager, shown in pages:
                    yield self._output(
                        path,
                        [
                            kind,
                            group.name,
                            count,
                            str(pager.number),
                            str(pager.total),
                            *map(self.card_key, shown),
                        ],
                        "list.html",
                        heading=group.name,
                        kind=kind,
                        articles=shown,
                        count=len(group.articles),
                        pager=pager,
                        feeds=feed_links(site, spec) + feed_links(site, main),
                        page_title=self._numbered(pager, group.name, site.site.title),
                        share=self.share(group.name, pager.url),
                    )
        if not (site.static_dir / NOT_FOUND).is_file():  # a site's own is copied instead
            yield self._output(
                NOT_FOUND,
                [],
                NOT_FOUND,
                feeds=feed_links(site, main),
                page_title=page_title(self.words.gettext("Page not found"), site.site.title),
            )
        yield from self.article_pages(articles, main)

    def _numbered(self, pager: Pager, *parts: str) -> str:
        """A list page's <title>: the list's, with the page's number after the first."""
        if pager.number == 1:
            return page_title(*parts)
        place = self.words.gettext("page %(number)s of %(total)s") % {
            "number": pager.number,
            "total": pager.total,
        }
        return page_title(parts[0], place, *parts[1:])

    def share(self, title: str, url: str) -> Share:
        """A page's sharing card (not an article's): its title, the site's description."""
        site = self.site.site
        logo = self.logo
        return Share(
            url,
            _meta_text(title),
            _meta_text(site.description),
            _meta_text(site.title),
            image=logo or None,
            image_alt=_meta_text(site.title) if logo else "",
            logo=bool(logo),
        )

    def article_share(self, article: Article) -> Share:
        """An article's sharing card: its summary, picture, dates, authors and tags (an issue's
        web version is one too)."""
        site = self.site.site
        image = image_url(article, self.site.site.url)
        logo = "" if image else self.logo
        return Share(
            url=article.link,
            title=_meta_text(article.title),
            description=_meta_text(self.bodies.summary(article) or site.description),
            site_name=_meta_text(site.title),
            type="article",
            image=image or logo or None,
            image_alt=_meta_text(article.image_alt or "") if image else _meta_text(site.title),
            logo=bool(logo),
            published=html_datetime(article.date),
            modified=html_datetime(article.modified),
            authors=tuple(map(_meta_text, article.authors)),
            tags=tuple(map(_meta_text, article.tags)),
        )

    def article_pages(self, articles: Iterable[Article], main: FeedSpec) -> Iterator[Output]:
        """One page per article: the template's key is made once, and joined to each article's
        own (no hash per page, and no context until the page is rendered)."""
        main_links = feed_links(self.site, main)
        template = key(self.base, "article.html")
        for article in articles:
            if article.page is not None:
                page_key = within(template, article_key(article))
                self.lastmod[article.page] = article.modified
                yield article.page, page_key, partial(self._article_page, article, main_links)

    def _article_page(self, article: Article, feeds: list[dict[str, str]]) -> bytes:
        from markupsafe import Markup

        body = self.bodies.page_html(article)
        picture = image_url(article, self.site.site.url)
        # A body that shows the article's picture itself (a site moved from a tool whose
        # ``image`` was for sharing only) does not show it twice.
        root = self.site.site.url
        shown = set()
        if picture:
            shown = {site_url(root, src, article.link) for src in shown_images(body)}
        return self._page(
            "article.html",
            article.page or "",
            article=article,
            body=Markup(body),
            lead_picture=picture is not None and picture not in shown,
            feeds=feeds,
            page_title=page_title(article.title, self.site.site.title),
            share=self.article_share(article),
        )


# What a build's output is made from: a path, the key of its inputs, and how to render it.
Output = tuple[str, str, Callable[[], bytes]]


def newest_shown(values: Iterable[object]) -> datetime | None:
    """The newest date (updated, else published) of the articles among a page's context
    values: an article, a list of articles, or a list of groups (a tag's or author's), which
    show theirs; None if there are none."""
    newest: datetime | None = None
    for value in values:
        items: Iterable[object] = value if isinstance(value, list | tuple) else (value,)
        for item in items:
            if isinstance(item, Article):
                dates = [item.modified]
            elif isinstance(item, Group):
                dates = [a.modified for a in item.articles]
            else:
                break  # a list of something else (links, names): none of it is an article
            for when in dates:
                newest = when if newest is None or when > newest else newest
    return newest


def article_key(article: Article) -> str:
    """Everything about an article: its file (and path), its id and its link."""
    return f"{article.fingerprint}:{article.feed_id}:{article.link}"


def line_key(article: Article) -> str:
    """What an article's line in a list shows: its link, title and day (a list is in order
    of time, and each key in the list's; the time of day is not shown)."""
    day = article.date
    return f"{article.link}\x1f{article.title}\x1f{day.year}-{day.month}-{day.day}"


def card_key(article: Article) -> str:
    """What an article's card (card.html) shows: the same, its time, authors, lead and
    picture (and its language)."""
    shown = (article.link, article.title, article.date.isoformat(), *article.authors)
    lang = f"\x1e{article.lang}" if article.lang else ""
    return (
        "\x1f".join(shown) + f"\x1e{article.lead}\x1e{article.image}\x1e{article.image_alt}" + lang
    )


def _once_each(make: Callable[[Article], str]) -> Callable[[Article], str]:
    """``make``, computed once per article: an article is on several lists."""
    known: dict[int, tuple[Article, str]] = {}  # the article is kept, so its id stays its own

    def once(article: Article) -> str:
        found = known.get(id(article))
        if found is None:
            found = known[id(article)] = article, make(article)
        return found[1]

    return once


def lists_show_lines_and_cards(site: Site) -> bool:
    """Whether every list is made by the packaged templates, which show an article as a line
    or a card (``line_key``, ``card_key``): the site overrides none of them."""
    return LISTING_TEMPLATES.isdisjoint(own_templates(site))


def own_templates(site: Site) -> set[str]:
    """The names of the site's own templates (under templates/), as the loader sees them."""
    top = site.templates_dir
    if not top.is_dir():
        return set()
    return {path.relative_to(top).as_posix() for path in top.rglob("*") if path.is_file()}
