"""The web archive: Jinja2 templates (a site's own override the packaged ones, file by file)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from importlib import resources
from pathlib import Path

import jinja2
from markupsafe import Markup

from .catalog import Catalog, Group
from .config import Site
from .errors import FeedpubError
from .feeds import Bodies, FeedSpec, image_url
from .model import Article
from .text import slugify, url_path


class TemplateError(FeedpubError):
    """A template is missing or broken."""


def packaged_templates() -> Path:
    """The default templates: inside the installed package, or at the top of a source tree."""
    inside = Path(str(resources.files("feedpub"))) / "templates"
    if inside.is_dir():
        return inside
    return Path(__file__).resolve().parent.parent / "templates"


def environment(site: Site) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if site.templates_dir.is_dir():
        loaders.append(jinja2.FileSystemLoader(site.templates_dir))
    loaders.append(jinja2.FileSystemLoader(packaged_templates()))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        # Everything is escaped but plain-text templates (the digest's text part).
        autoescape=jinja2.select_autoescape(disabled_extensions=("txt",), default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["human_date"] = human_date
    return env


def human_date(value: datetime) -> str:
    return f"{value:%B} {value.day}, {value.year}"


def feed_links(site: Site, spec: FeedSpec) -> list[dict[str, str]]:
    return [
        {
            "type": "application/rss+xml",
            "title": f"{spec.title} (RSS)",
            "href": spec.url(site, "rss.xml"),
        },
        {
            "type": "application/atom+xml",
            "title": f"{spec.title} (Atom)",
            "href": spec.url(site, "atom.xml"),
        },
        {
            "type": "application/feed+json",
            "title": f"{spec.title} (JSON)",
            "href": spec.url(site, "feed.json"),
        },
    ]


class Pages:
    """Renders every page of the archive; ``render`` yields (path, bytes)."""

    def __init__(self, site: Site, catalog: Catalog, bodies: Bodies) -> None:
        self.site = site
        self.catalog = catalog
        self.bodies = bodies
        self.env = environment(site)
        self._urls: dict[tuple[str, str], str | None] = {}
        self._cards: dict[str, Markup] = {}
        self.env.globals.update(
            {
                "site": site.site,
                "home": site.site.url,
                "content": lambda a: Markup(bodies.html(a)),
                "summary": bodies.summary,
                "image": image_url,
                "card": self.card,
            "tag_url": lambda name: self.group_url("tags", name),
                "author_url": lambda name: self.group_url("authors", name),
                "archive_url": site.site.url + "archive/",
                "tags_url": site.site.url + "tags/",
            }
        )

    def group_url(self, kind: str, name: str) -> str | None:
        key = (kind, name)
        if key not in self._urls:
            slug = slugify(name)
            self._urls[key] = f"{self.site.site.url}{kind}/{url_path(slug)}/" if slug else None
        return self._urls[key]

    def card(self, article: Article) -> Markup:
        """An article's summary block for lists, rendered once per build."""
        key = article.feed_id or article.relpath
        if key not in self._cards:
            self._cards[key] = Markup(self._render("card.html", article=article))
        return self._cards[key]

    def _page(self, template: str, **context: object) -> bytes:
        return self._render(template, **context).encode()

    def _render(self, template: str, **context: object) -> str:
        try:
            return self.env.get_template(template).render(**context)
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(f"template {exc.name!r} not found in templates/") from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(
                f"{exc.filename or exc.name}:{exc.lineno}: error: template syntax: {exc.message}"
            ) from None
        except jinja2.TemplateError as exc:
            raise TemplateError(f"template {template}: {exc}") from None

    def render_issues(self, spec: FeedSpec, issues: list[Article]) -> Iterator[tuple[str, bytes]]:
        """The list of newsletter issues, newest first (each issue's page is its email)."""
        yield (
            "issues/index.html",
            self._page(
                "issues.html",
                issues=issues,
                feeds=feed_links(self.site, spec),
                page_title=f"{spec.title} · {self.site.site.title}",
                heading=spec.title,
            ),
        )

    def render(
        self, main: FeedSpec, groups: dict[str, list[tuple[Group, FeedSpec]]]
    ) -> Iterator[tuple[str, bytes]]:
        site = self.site
        articles = self.catalog.articles
        yield (
            "index.html",
            self._page(
                "index.html",
                articles=articles[: site.feeds.limit],
                feeds=feed_links(site, main),
                page_title=site.site.title,
            ),
        )
        yield (
            "archive/index.html",
            self._page(
                "archive.html",
                articles=articles,
                feeds=feed_links(site, main),
                page_title=f"Archive · {site.site.title}",
            ),
        )
        for kind, label in (("tags", "Tag"), ("authors", "Author")):
            pairs = groups[kind]
            yield (
                f"{kind}/index.html",
                self._page(
                    "groups.html",
                    kind=kind,
                    groups=[g for g, _ in pairs],
                    feeds=feed_links(site, main),
                    page_title=f"{label}s · {site.site.title}",
                ),
            )
            for group, spec in pairs:
                yield (
                    f"{spec.folder}/index.html",
                    self._page(
                        "list.html",
                        heading=group.name,
                        kind=kind,
                        articles=group.articles,
                        feeds=feed_links(site, spec) + feed_links(site, main),
                        page_title=f"{group.name} · {site.site.title}",
                    ),
                )
        for article in articles:
            if article.page is None:
                continue
            yield (
                article.page,
                self._page(
                    "article.html",
                    article=article,
                    feeds=feed_links(site, main),
                    page_title=f"{article.title} · {site.site.title}",
                ),
            )
