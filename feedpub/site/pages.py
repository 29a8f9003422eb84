"""The web archive: Jinja2 templates (a site's own override the packaged ones, file by file)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import TYPE_CHECKING

from feedpub.config import Site
from feedpub.content.bodies import Bodies, image_url
from feedpub.content.catalog import Catalog, Group
from feedpub.errors import TemplateError
from feedpub.model import Article
from feedpub.site.cache.keys import key, within
from feedpub.site.feeds import FeedSpec
from feedpub.site.form import TEMPLATE as FORM_TEMPLATE
from feedpub.site.form import page_form
from feedpub.templating import environment, template_problem
from feedpub.text import isolate, name_key, name_slug, url_path

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
    }
)


def page_title(*parts: str) -> str:
    """A page's <title>: its names and titles each isolated (text.isolate), since <title> is
    plain text where an override one leaves open would reverse the parts after it."""
    return " · ".join(isolate(part) for part in parts)


class Pages:
    """Renders every page of the archive; ``render`` yields (path, bytes)."""

    def __init__(self, site: Site, catalog: Catalog, bodies: Bodies, base: str = "") -> None:
        self.site = site
        self.base = base
        self.catalog = catalog
        self.bodies = bodies
        from markupsafe import Markup

        if lists_show_lines_and_cards(site):
            self.line_key, self.card_key = _once_each(line_key), _once_each(card_key)
        else:  # a template of the site's own may show anything of an article
            self.line_key = self.card_key = article_key
        self.env = environment(site)
        self._urls: dict[tuple[str, str], str | None] = {}
        self._lost: dict[str, set[str]] = {}  # by kind: the name_keys without pages
        self._cards: dict[str, Markup] = {}
        self.env.globals.update(
            {
                "site": site.site,
                "home": site.site.url,
                "content": lambda a: Markup(bodies.page_html(a)),
                "summary": bodies.summary,
                "image": image_url,
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

    def _page(self, template: str, **context: object) -> bytes:
        return self._render(template, **context).encode()

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
                )

    def _output(
        self, path: str, depends: Iterable[str], template: str, **context: object
    ) -> Output:
        """(path, key, render): the key names everything the page shows, so that an unchanged
        page is not rendered again."""
        return path, key(self.base, template, *depends), lambda: self._page(template, **context)

    def render(
        self, main: FeedSpec, groups: dict[str, list[tuple[Group, FeedSpec]]]
    ) -> Iterator[Output]:
        site = self.site
        articles = self.catalog.articles
        newest = articles[: site.feeds.limit]
        yield self._output(
            "index.html",
            map(self.card_key, newest),
            "index.html",
            articles=newest,
            feeds=feed_links(site, main),
            page_title=page_title(site.site.title),
        )
        yield self._output(
            "archive/index.html",
            map(self.line_key, articles),
            "archive.html",
            articles=articles,
            feeds=feed_links(site, main),
            page_title=page_title("Archive", site.site.title),
        )
        for kind, label in (("tags", "Tag"), ("authors", "Author")):
            pairs = groups[kind]
            yield self._output(
                f"{kind}/index.html",
                [f"{g.name}:{len(g.articles)}" for g, _ in pairs],
                "groups.html",
                kind=kind,
                groups=[g for g, _ in pairs],
                feeds=feed_links(site, main),
                page_title=page_title(f"{label}s", site.site.title),
            )
            limit = site.feeds.limit
            for group, spec in pairs:
                yield self._output(
                    f"{spec.folder}/index.html",
                    [
                        kind,
                        group.name,
                        *map(self.card_key, group.articles[:limit]),
                        *map(self.line_key, group.articles[limit:]),
                    ],
                    "list.html",
                    heading=group.name,
                    kind=kind,
                    articles=group.articles,
                    feeds=feed_links(site, spec) + feed_links(site, main),
                    page_title=page_title(group.name, site.site.title),
                )
        yield from self.article_pages(articles, main)

    def article_pages(self, articles: Iterable[Article], main: FeedSpec) -> Iterator[Output]:
        """One page per article: the template's key is made once, and joined to each article's
        own (no hash per page, and no context until the page is rendered)."""
        main_links = feed_links(self.site, main)
        template = key(self.base, "article.html")
        for article in articles:
            if article.page is not None:
                page_key = within(template, article_key(article))
                yield article.page, page_key, partial(self._article_page, article, main_links)

    def _article_page(self, article: Article, feeds: list[dict[str, str]]) -> bytes:
        return self._page(
            "article.html",
            article=article,
            feeds=feeds,
            page_title=page_title(article.title, self.site.site.title),
        )


# What a build's output is made from: a path, the key of its inputs, and how to render it.
Output = tuple[str, str, Callable[[], bytes]]


def article_key(article: Article) -> str:
    """Everything about an article: its file (and path), its id and its link."""
    return f"{article.fingerprint}:{article.feed_id}:{article.link}"


def line_key(article: Article) -> str:
    """What an article's line in a list shows: its link, title and day (a list is in order
    of time, and each key in the list's; the time of day is not shown)."""
    day = article.date
    return f"{article.link}\x1f{article.title}\x1f{day.year}-{day.month}-{day.day}"


def card_key(article: Article) -> str:
    """What an article's card (card.html) shows: the same, its time, authors and lead (and
    its language)."""
    shown = (article.link, article.title, article.date.isoformat(), *article.authors)
    lang = f"\x1e{article.lang}" if article.lang else ""
    return "\x1f".join(shown) + f"\x1e{article.lead}" + lang


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
