"""sitemap.xml (the sitemaps.org protocol, 0.9) and robots.txt, made from the build's outputs.

Every HTML page the build writes is in the sitemap, whoever adds it (a list's further pages
are found as they come), but for 404.html, which is no page to index. A page's <lastmod> is
the newest date, updated else published, of the articles it shows (pages.newest_shown), never
the clock; a page of no article (a static HTML file) has none. The URLs are absolute, under
[site] url, with the five characters the protocol names escaped (& < > " '). Past MAX_URLS
URLs the sitemap is an index of sitemap-1.xml, sitemap-2.xml, ..., as the protocol asks.

robots.txt names the sitemap, unless static/ has a robots.txt of its own, which is copied as it
is instead. (Crawlers read robots.txt at the host's root only: a site under a sub-path gets one
for whoever serves the root to take up.)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from functools import partial
from html import escape

from feedpub.config import Site
from feedpub.links import NOT_FOUND, output_url
from feedpub.site.cache.keys import key
from feedpub.site.pages import Output

NAMESPACE = "http://www.sitemaps.org/schemas/sitemap/0.9"
MAX_URLS = 50_000
SITEMAP = "sitemap.xml"
ROBOTS = "robots.txt"


def outputs(
    site: Site, produced: Iterable[Output], lastmod: Mapping[str, datetime | None], base: str
) -> Iterator[Output]:
    """The sitemap (one file, or an index and its parts) of the HTML pages among ``produced``,
    and robots.txt unless ``produced`` has one (static/robots.txt)."""
    paths = sorted({path for path, _, _ in produced})
    pages = [
        (output_url(site.site.url, path), lastmod.get(path))
        for path in paths
        if path.endswith(".html") and path != NOT_FOUND
    ]
    entries = [(url, when.isoformat() if when else None) for url, when in pages]
    parts = [entries[i : i + MAX_URLS] for i in range(0, len(entries), MAX_URLS)] or [[]]
    if len(parts) == 1:
        yield _output(base, SITEMAP, partial(_urlset, parts[0]), parts[0])
    else:
        names = [f"sitemap-{number}.xml" for number in range(1, len(parts) + 1)]
        index = [
            (site.site.url + name, max((w for _, w in part if w), default=None))
            for name, part in zip(names, parts, strict=True)
        ]
        yield _output(base, SITEMAP, partial(_index, index), index)
        for name, part in zip(names, parts, strict=True):
            yield _output(base, name, partial(_urlset, part), part)
    if ROBOTS not in paths:
        text = robots(site)
        yield ROBOTS, key(base, ROBOTS, text), text.encode


def robots(site: Site) -> str:
    return f"User-agent: *\nDisallow:\n\nSitemap: {site.site.url}{SITEMAP}\n"


def _output(
    base: str, name: str, render: partial[bytes], entries: list[tuple[str, str | None]]
) -> Output:
    made = key(base, name, *(f"{url}\x1f{when or ''}" for url, when in entries))
    return name, made, render


def _urlset(entries: list[tuple[str, str | None]]) -> bytes:
    return _document("urlset", "url", entries)


def _index(entries: list[tuple[str, str | None]]) -> bytes:
    return _document("sitemapindex", "sitemap", entries)


def _document(root: str, element: str, entries: list[tuple[str, str | None]]) -> bytes:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<{root} xmlns="{NAMESPACE}">']
    for url, when in entries:
        modified = f"<lastmod>{when}</lastmod>" if when else ""
        lines.append(f"<{element}><loc>{escape(url, quote=True)}</loc>{modified}</{element}>")
    lines.append(f"</{root}>")
    return ("\n".join(lines) + "\n").encode("utf-8")
