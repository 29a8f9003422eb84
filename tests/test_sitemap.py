"""sitemap.xml and robots.txt: every HTML page of the build, each <lastmod> the newest date of
the articles it shows (never the clock), valid per the sitemaps.org protocol (a schema written
from the protocol's definition, tests/data/sitemaps/sitemap.xsd), an index past 50,000 URLs;
robots.txt names it unless static/ has one."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from urllib.parse import unquote

import pytest
from helpers import NOW, SETTINGS, SITE_URL, MakeSite, article, publish
from lxml import etree

from feedpub.config import Site
from feedpub.site import sitemap
from feedpub.site.pages import Output

SCHEMA = etree.XMLSchema(etree.parse(Path(__file__).parent / "data" / "sitemaps" / "sitemap.xsd"))
NS = {"s": sitemap.NAMESPACE}
ARTICLES = {
    "2026-11-10-old.md": article(
        "Old", "2026-11-10 09:00", tags="[news]", author="Ana", updated="2026-11-24 08:00"
    ),
    "2026-11-20-new.md": article("New", "2026-11-20 09:00", tags="[news, arts]", author="Bo"),
    "2026-11-15-mid.md": article("Mid", "2026-11-15 09:00", tags="[arts]", author="Bo"),
}


def read(data: bytes) -> dict[str, str | None]:
    """The sitemap's URLs and their <lastmod>, after checking it against the schema."""
    document = etree.fromstring(data)
    SCHEMA.assertValid(document)
    return {
        entry.findtext("s:loc", default="", namespaces=NS): entry.findtext(
            "s:lastmod", namespaces=NS
        )
        for entry in document
    }


@pytest.fixture
def built(make_site: MakeSite) -> Path:
    root: Path = make_site(ARTICLES)
    (root / "static").mkdir()
    (root / "static" / "about & us's.html").write_text("<!DOCTYPE html><title>x</title>")
    publish(root)
    return root


def test_every_page_is_in_the_sitemap_with_its_newest_article(built: Path) -> None:
    public = built / "public"
    urls = read((public / "sitemap.xml").read_bytes())
    pages = {p.relative_to(public).as_posix() for p in public.rglob("*.html")}
    pages.remove("404.html")  # the page for an address with nothing there is no page to find
    assert len(pages) == 12  # 3 articles, home, archive, 2 tags, 2 authors, 2 indexes, 1 own
    assert {unquote(url) for url in urls} == {
        SITE_URL + p.removesuffix("index.html") for p in pages
    }
    old, new = "2026-11-24T08:00:00+01:00", "2026-11-20T09:00:00+01:00"
    assert urls[SITE_URL + "2026/11/old/"] == old  # updated, else published
    assert urls[SITE_URL + "2026/11/new/"] == new
    assert urls[SITE_URL] == old  # the newest date among what the home page shows
    assert urls[SITE_URL + "archive/"] == old
    assert urls[SITE_URL + "tags/arts/"] == new
    assert urls[SITE_URL + "authors/bo/"] == new
    assert urls[SITE_URL + "tags/"] == old
    # A page of no article (a static one) has no <lastmod>; its name is escaped.
    assert urls[SITE_URL + "about%20%26%20us%27s.html"] is None


def test_the_sitemap_is_the_same_whenever_it_is_built(make_site: MakeSite) -> None:
    first = make_site(ARTICLES, folder="one")
    second = make_site(ARTICLES, folder="two")
    publish(first, NOW)
    publish(second, datetime(2027, 3, 1, tzinfo=NOW.tzinfo))
    data = (first / "public" / "sitemap.xml").read_bytes()
    assert data == (second / "public" / "sitemap.xml").read_bytes()
    assert b"2027" not in data


def test_robots_txt_names_the_sitemap(built: Path) -> None:
    text = (built / "public" / "robots.txt").read_text(encoding="utf-8")
    assert text == f"User-agent: *\nDisallow:\n\nSitemap: {SITE_URL}sitemap.xml\n"


def test_a_robots_txt_of_the_site_s_own_is_copied_as_it_is(make_site: MakeSite) -> None:
    root: Path = make_site(ARTICLES)
    (root / "static").mkdir()
    own = b"User-agent: *\r\nDisallow: /drafts/\r\n"
    (root / "static" / "robots.txt").write_bytes(own)
    report = publish(root)
    assert not report.failed
    assert (root / "public" / "robots.txt").read_bytes() == own


def _outputs(paths: list[str]) -> list[Output]:
    return [(path, "", lambda: b"") for path in paths]


def test_pages_anyone_adds_are_in_the_sitemap(test_site: Site) -> None:
    """The sitemap takes the build's outputs as they come: a list's next pages, a 404 page
    (left out), feeds and pictures (left out)."""
    produced = _outputs(
        ["index.html", "page/2/index.html", "404.html", "rss.xml", "images/a.png", "x/y.html"]
    )
    when = datetime(2026, 11, 3, 8, 0, tzinfo=NOW.tzinfo)
    made = {
        p: r for p, _, r in sitemap.outputs(test_site, produced, {"page/2/index.html": when}, "b")
    }
    assert set(made) == {"sitemap.xml", "robots.txt"}
    urls = read(made["sitemap.xml"]())
    assert urls == {
        test_site.site.url: None,
        test_site.site.url + "page/2/": when.isoformat(),
        test_site.site.url + "x/y.html": None,
    }


def test_past_50000_urls_the_sitemap_is_an_index(test_site: Site) -> None:
    paths = [f"{n // 1000}/{n}/index.html" for n in range(sitemap.MAX_URLS + 2)]
    # In the last part: the sitemap lists the pages in the order of their paths.
    lastmod = {max(paths): datetime(2026, 1, 2, tzinfo=NOW.tzinfo)}
    made = {p: r for p, _, r in sitemap.outputs(test_site, _outputs(paths), lastmod, "b")}
    assert set(made) == {"sitemap.xml", "sitemap-1.xml", "sitemap-2.xml", "robots.txt"}
    index = read(made["sitemap.xml"]())
    url = test_site.site.url
    assert index == {
        url + "sitemap-1.xml": None,
        url + "sitemap-2.xml": "2026-01-02T00:00:00+01:00",
    }
    first, second = read(made["sitemap-1.xml"]()), read(made["sitemap-2.xml"]())
    assert (len(first), len(second)) == (sitemap.MAX_URLS, 2)
    assert first.keys().isdisjoint(second)
    assert {unquote(u) for u in (*first, *second)} == {
        url + p.removesuffix("index.html") for p in paths
    }


def test_a_subpath_site_s_sitemap_is_under_its_path(make_site: MakeSite) -> None:
    sub = "https://club.example.github.io/paper/"
    root = make_site(ARTICLES, settings=SETTINGS.replace(SITE_URL, sub))
    publish(root)
    urls = read((root / "public" / "sitemap.xml").read_bytes())
    assert urls and all(url.startswith(sub) for url in urls)
    robots = (root / "public" / "robots.txt").read_text(encoding="utf-8")
    assert robots.endswith(f"Sitemap: {sub}sitemap.xml\n")
