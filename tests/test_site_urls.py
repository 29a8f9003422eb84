"""A site served under a sub-path ([site] url = "https://club.example.github.io/paper/"): every
root-relative URL an editor writes (/images/x.png in a body, ``image:`` in front matter, a link
to a static file or another page) is read against the site's root, and so every URL in every
page, feed and the newsletter digest (HTML and text) that points into the site names a file
the build wrote. With ``[site] relative_urls`` the pages link relatively and work from disk.

The URLs are collected from what was written, parsed back (lxml for pages and feeds' HTML,
json for JSON Feed), never from the code that wrote them.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import lxml.html
import pytest
from helpers import (
    NOW,
    REPO,
    MakeSite,
    article,
    files_of,
    load,
    make_issue,
    publish,
    write_articles,
)
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree
from test_signup_browser import browser

from feedpub import config
from feedpub.errors import ConfigError
from feedpub.links import page_links, page_url, relative_url, site_url
from feedpub.newsletter.issues import create
from feedpub.site.build import check, load_catalog
from feedpub.store.state import State

SUB = "https://club.example.github.io/paper/"
SETTINGS = f"""\
[site]
title = "Club Paper"
url = "{SUB}"
relative_urls = false
language = "en"
timezone = "Europe/Berlin"
author = "Desk"

[newsletter]
name = "Club Weekly"
from = "Club Paper <paper@example.org>"
schedule = "manual"
lookback_days = 60
"""
RELATIVE = SETTINGS.replace("relative_urls = false", "relative_urls = true")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PICTURE = REPO / "static" / "images" / "makerspace.png"
BODY = """\
![A bench](/images/x.png)

<img src="/images/x.png" srcset="/images/x.png 1x, /images/big%20one.png 2x" alt="Bench">

Read the [agenda](/files/agenda.pdf), the [news tag](/tags/news/), the
[archive](/archive/), <a href="/">home</a>, and [the other piece](/2026/11/second/).
A [local picture](pic.png) next to this page, and [elsewhere](https://example.net/x).
"""
ARTICLES = {
    "2026-11-20-first.md": article(
        "First",
        "2026-11-20 09:00",
        BODY,
        tags="[news, club]",
        author="Ana Ortiz",
        image="/images/x.png",
        slug="first",
    ),
    "2026-11-21-second.md": article(
        "Second",
        "2026-11-21 10:00",
        'Second body, with <video src="/files/clip.mp4" poster="/images/x.png"></video>.',
        tags="[news]",
        author="Bo Li",
        image="images/x.png",
        slug="second",
        updated="2026-11-25 08:00",
    ),
}
NOTE = "This week: ![the bench](/images/x.png) and [the agenda](/files/agenda.pdf)."
# Attributes whose value is a URL, or a list of them (srcset).
URL_ATTRIBUTES = ("href", "src", "poster", "action", "data", "cite", "formaction")
_URL_IN_TEXT = re.compile(r"https?://[^\s<>\"')]+")


def make_subpath_site(make_site: MakeSite, extra: str = "") -> Path:
    root: Path = make_site(ARTICLES, settings=SETTINGS, extra=extra)
    pictures = ("images/x.png", "images/big one.png", "2026/11/first/pic.png")
    for name in (*pictures, "2026/11/second/images/x.png"):
        target = root / "static" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PICTURE, target)
    (root / "static" / "files").mkdir()
    (root / "static" / "files" / "agenda.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    (root / "static" / "files" / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    # A template of the site's own, with a root-relative URL of its own (a logo).
    packaged = (REPO / "templates" / "article.html").read_text(encoding="utf-8")
    (root / "templates").mkdir()
    (root / "templates" / "article.html").write_text(
        packaged.replace("<article>", '<article>\n<img src="/images/big%20one.png" alt="">', 1),
        encoding="utf-8",
    )
    return root


def html_urls(document: str, base: str) -> Iterator[str]:
    """Every URL an HTML document or fragment holds, resolved against ``base``."""
    tree = lxml.html.fromstring(document) if document.strip() else None
    if tree is None:
        return
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        for name in URL_ATTRIBUTES:
            value = element.get(name)
            if value is not None and value.strip():
                yield urljoin(base, value.strip())
        for name in ("srcset", "imagesrcset"):
            value = element.get(name)
            if value:
                for candidate in value.split(","):
                    yield urljoin(base, candidate.split()[0])


def feed_urls(data: bytes, base: str) -> Iterator[str]:
    """Every URL of an RSS or Atom document: attributes, <link> and permalink texts, and the
    URLs of the HTML its entries carry."""
    root = etree.fromstring(data)
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        local = etree.QName(element).localname
        for name in ("href", "url", "src"):
            if element.get(name):
                yield urljoin(base, element.get(name))
        text = (element.text or "").strip()
        if local in ("link", "loc", "docs") and text:
            yield urljoin(base, text)
        if local in ("content", "description", "encoded", "summary") and "<" in text:
            yield from html_urls(text, base)


def json_urls(data: bytes) -> Iterator[str]:
    feed = json.loads(data)
    yield feed["home_page_url"]
    yield feed["feed_url"]
    for item in feed["items"]:
        yield item["url"]
        if "image" in item:
            yield item["image"]
        if "content_html" in item:
            yield from html_urls(item["content_html"], item["url"])


def location(public: Path, path: str) -> Path:
    return public / path


def page_address(relpath: str) -> str:
    """The URL a file of public/ is served at under SUB."""
    folder, _, name = relpath.rpartition("/")
    if name == "index.html":
        return SUB + (folder + "/" if folder else "")
    return SUB + relpath


def missing_targets(public: Path, urls: dict[str, set[str]]) -> list[str]:
    """'where: url' for each URL on the site's host that is outside the site or names no file
    of public/ (a folder: its index.html)."""
    host = urlsplit(SUB).netloc
    wrong = []
    for where, found in sorted(urls.items()):
        for url in sorted(found):
            parts = urlsplit(url)
            if parts.netloc != host:
                continue
            if not url.startswith(SUB):
                wrong.append(f"{where}: {url} (outside {SUB})")
                continue
            path = unquote(parts.path[len(urlsplit(SUB).path) :])
            target = public / path
            if path == "" or path.endswith("/"):
                target = target / "index.html"
            if not target.is_file():
                wrong.append(f"{where}: {url}")
    return wrong


def every_url(public: Path, on_disk: bool = False) -> dict[str, set[str]]:
    """The URLs of every file of public/, resolved against its address (``on_disk``: its
    file:// URL)."""
    urls: dict[str, set[str]] = {}
    for file in sorted(public.rglob("*")):
        relpath = file.relative_to(public).as_posix()
        address = file.as_uri() if on_disk else page_address(relpath)
        if file.suffix == ".html":
            urls[relpath] = set(html_urls(file.read_text(encoding="utf-8"), address))
        elif file.name in ("rss.xml", "atom.xml"):
            urls[relpath] = set(feed_urls(file.read_bytes(), address))
        elif file.name == "feed.json":
            urls[relpath] = set(json_urls(file.read_bytes()))
        elif file.name.startswith("sitemap") and file.suffix == ".xml":
            urls[relpath] = set(feed_urls(file.read_bytes(), address))
        elif file.name == "robots.txt":
            urls[relpath] = set(_URL_IN_TEXT.findall(file.read_text(encoding="utf-8")))
    return urls


@pytest.fixture
def subpath_site(make_site: MakeSite) -> Path:
    root = make_subpath_site(make_site)
    publish(root)
    site = load(root)
    with State.open(site.state_dir) as state:
        draft = create(site, state, load_catalog(site, state, NOW), NOW, note=NOTE)
        assert draft is not None
        record = state.issues.get(draft.number)
    assert record is not None
    # The issue's web version and the issues feed come with the next build.
    publish(root, NOW.replace(hour=13))
    root.joinpath("digest.html").write_text(record.html, encoding="utf-8")
    root.joinpath("digest.txt").write_text(record.text, encoding="utf-8")
    return root


def test_every_url_of_a_subpath_site_names_a_file_it_built(subpath_site: Path) -> None:
    public = subpath_site / "public"
    urls = every_url(public)
    digest_html = subpath_site.joinpath("digest.html").read_text(encoding="utf-8")
    urls["digest.html"] = set(html_urls(digest_html, SUB))
    digest_text = subpath_site.joinpath("digest.txt").read_text(encoding="utf-8")
    urls["digest.txt"] = set(_URL_IN_TEXT.findall(digest_text))
    # Every kind of document was looked into, and found the editor's root-relative URLs.
    assert {"index.html", "rss.xml", "atom.xml", "feed.json", "digest.html"} <= urls.keys()
    assert any(k.startswith("tags/") and k.endswith("rss.xml") for k in urls)
    assert any(k.startswith("authors/") for k in urls)
    assert any(k.startswith("issues/1/") for k in urls)
    picture = SUB + "images/x.png"
    for where in (
        "2026/11/first/index.html",
        "rss.xml",
        "atom.xml",
        "feed.json",
        "digest.html",
        "tags/news/atom.xml",
    ):
        assert picture in urls[where], where
    assert SUB + "images/big%20one.png" in urls["2026/11/second/index.html"]  # the template's
    assert SUB + "files/agenda.pdf" in urls["2026/11/first/index.html"]
    assert SUB + "files/agenda.pdf" in urls["feed.json"]
    assert SUB + "2026/11/first/pic.png" in urls["rss.xml"]
    # The editor's note, in the digest's HTML and text, the issue's page and the issues feed.
    for where in ("digest.html", "digest.txt", "issues/1/index.html", "issues/rss.xml"):
        assert SUB + "files/agenda.pdf" in urls[where], where
    assert missing_targets(public, urls) == []


def test_the_front_matter_image_resolves_under_the_site(subpath_site: Path) -> None:
    feed = json.loads((subpath_site / "public" / "feed.json").read_bytes())
    images = {item["title"]: item["image"] for item in feed["items"]}
    # "/images/x.png" is read against the site's root; "images/x.png" against the article's
    # page, as a relative reference always is.
    assert images == {
        "First": SUB + "images/x.png",
        "Second": SUB + "2026/11/second/images/x.png",
    }


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/images/x.png", SUB + "images/x.png"),
        ("/", SUB),
        ("/tags/news/?a=1#top", SUB + "tags/news/?a=1#top"),
        # Already under the site's path: as written (the writer allowed for the sub-path).
        ("/paper/images/x.png", SUB + "images/x.png"),
        ("/paper", SUB),
        ("/papers/x.png", SUB + "papers/x.png"),
    ],
)
def test_a_root_relative_path_is_read_against_the_site_root(path: str, expected: str) -> None:
    assert site_url(SUB, path) == expected


def test_a_site_at_the_host_root_reads_root_relative_paths_as_browsers_do() -> None:
    assert site_url("https://example.org/", "/images/x.png") == "https://example.org/images/x.png"
    assert site_url("https://example.org/", "/paper/x.png") == "https://example.org/paper/x.png"


@pytest.mark.parametrize(
    ("url", "page", "expected"),
    [
        (SUB + "images/x.png", "2026/11/first/index.html", "../../../images/x.png"),
        (SUB, "2026/11/first/index.html", "../../../index.html"),
        (SUB, "index.html", "index.html"),
        (SUB + "tags/news/", "tags/index.html", "news/index.html"),
        (SUB + "tags/news/#top", "tags/news/index.html", "index.html#top"),
        (SUB + "rss.xml", "archive/index.html", "../rss.xml"),
        (SUB + "authors/zo%C3%AB/", "index.html", "authors/zo%C3%AB/index.html"),
        ("https://example.net/x", "index.html", None),
        ("https://club.example.github.io/other/", "index.html", None),
    ],
)
def test_relative_url_from_a_page(url: str, page: str, expected: str | None) -> None:
    assert relative_url(SUB, url, page) == expected


def test_page_url_is_absolute_unless_relative_urls(make_site: MakeSite) -> None:
    absolute = load(make_site(settings=SETTINGS))
    relative = load(make_site(settings=RELATIVE, folder="relative"))
    page = "2026/11/a/index.html"
    assert page_url(absolute, "/images/x.png", page) == SUB + "images/x.png"
    assert page_url(relative, "/images/x.png", page) == "../../../images/x.png"
    assert page_url(relative, SUB + "archive/", page) == "../../../archive/index.html"
    assert page_url(relative, "https://example.net/", page) == "https://example.net/"


# -- [site] relative_urls ---------------------------------------------------------------------


@pytest.fixture
def relative_site(make_site: MakeSite) -> Path:
    root = make_subpath_site(make_site)
    (root / "feedpub.toml").write_text(RELATIVE, encoding="utf-8")
    publish(root)
    make_issue(root, NOW)
    publish(root, NOW.replace(hour=13))
    return root


def test_the_404_page_of_a_relative_site_links_absolutely(relative_site: Path) -> None:
    """A server shows 404.html at any address, as deep as it may be: a relative link would
    lead nowhere from most of them."""
    page = relative_site / "public" / "404.html"
    urls = list(html_urls(page.read_text(encoding="utf-8"), SUB + "2026/11/gone/deep/"))
    ours = [url for url in urls if url.startswith("https://club.example.github.io/")]
    assert len(ours) > 5
    assert all(url.startswith(SUB) for url in ours), ours
    assert missing_targets(relative_site / "public", {"404.html": set(ours)}) == []


def test_relative_urls_pages_work_from_disk(relative_site: Path) -> None:
    """Every URL of every page, resolved against the page's file:// URL as a browser opening
    it from disk does, that points into the site names a file there (a folder would show a
    listing, not the page); none points at [site] url but the feeds' own addresses."""
    public = relative_site / "public"
    pages = sorted(set(public.rglob("*.html")) - {public / "404.html"})  # served, not opened
    assert "2026/11/first/index.html" in {p.relative_to(public).as_posix() for p in pages}
    wrong, seen = [], 0
    for page in pages:
        base = page.as_uri()
        text = page.read_text(encoding="utf-8")
        # A canonical link names the page where it is served, whatever opened it.
        canonical = set(lxml.html.fromstring(text).xpath("//link[@rel='canonical']/@href"))
        assert len(canonical) == 1, page
        for url in html_urls(text, base):
            if url in canonical:
                continue
            parts = urlsplit(url)
            if parts.scheme == "file":
                seen += 1
                if not Path(unquote(parts.path)).is_file():
                    wrong.append(f"{page.relative_to(public)}: {url}")
            elif url.startswith(SUB):
                wrong.append(f"{page.relative_to(public)}: {url} (absolute)")
    assert wrong == []
    assert seen > 100
    first = (public / "2026/11/first/index.html").read_text(encoding="utf-8")
    assert 'src="../../../images/x.png"' in first
    assert 'href="../../../index.html"' in first
    assert 'href="pic.png"' in first  # a relative link of the body, as written


def test_relative_urls_keep_feeds_and_the_sitemap_absolute(relative_site: Path) -> None:
    public = relative_site / "public"
    # Resolved against each file's file:// URL: a relative URL would come out as a file: one.
    urls = {k: v for k, v in every_url(public, on_disk=True).items() if not k.endswith(".html")}
    for name in ("rss.xml", "atom.xml", "feed.json", "sitemap.xml", "tags/news/rss.xml"):
        assert urls[name], name
        assert all(urlsplit(url).scheme in ("http", "https") for url in urls[name]), name
    assert missing_targets(public, urls) == []


def test_chromium_opens_the_site_from_disk_and_follows_its_links(
    relative_site: Path, tmp_path: Path
) -> None:
    """public/index.html opened as a file: its article's link leads to the article, whose
    pictures load, and its way home leads back to index.html."""
    from selenium.webdriver.common.by import By

    public = relative_site / "public"
    driver = browser(tmp_path / "profile")
    try:
        driver.get((public / "index.html").as_uri())
        driver.find_element(By.LINK_TEXT, "First").click()
        assert driver.current_url == (public / "2026/11/first/index.html").as_uri()
        images = driver.find_elements(By.CSS_SELECTOR, "main img")
        assert len(images) >= 2
        widths = [driver.execute_script("return arguments[0].naturalWidth", i) for i in images]
        assert all(width > 0 for width in widths), widths
        driver.find_element(By.LINK_TEXT, "#news").click()
        assert driver.current_url == (public / "tags/news/index.html").as_uri()
        driver.find_element(By.LINK_TEXT, "Archive").click()
        assert driver.current_url == (public / "archive/index.html").as_uri()
        driver.find_element(By.LINK_TEXT, "Latest").click()
        assert driver.current_url == (public / "index.html").as_uri()
    finally:
        driver.quit()


# -- bad settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('relative_urls = "yes"', "[site] relative_urls must be true or false, not a string"),
        ("relative_urls = 1", "[site] relative_urls must be true or false, not a number"),
        ("relative_urls = [true]", "[site] relative_urls must be true or false, not a list"),
        ('url = "https://club.example.github.io/paper/?x=1"', "must not have a query"),
        ('url = "https://club.example.github.io/paper/#top"', "must not have a query"),
        ('url = "/paper/"', "[site] url must be an absolute http:// or https:// URL"),
        ('url = "https://club.example.github.io/pa per/"', "[site] url must not contain spaces"),
        (f'url = "https://club.example.github.io/{"p" * 2001}/"', "keep it under 2000"),
    ],
    ids=["string", "number", "list", "query", "fragment", "no-host", "space", "huge"],
)
def test_a_bad_url_setting_is_an_error_on_its_line(
    make_site: MakeSite,
    line: str,
    message: str,
) -> None:
    key = line.split(" =")[0]
    lines = [text for text in SETTINGS.splitlines() if not text.startswith(f"{key} =")]
    lines.insert(1, line)
    root = make_site(settings="\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as raised:
        load(root)
    (problem,) = raised.value.problems
    assert message in problem.message
    assert (problem.path, problem.line) == ("feedpub.toml", 2)


def test_relative_urls_from_the_environment(make_site: MakeSite) -> None:
    root = make_site(settings=SETTINGS)
    assert config.load(root, env={"FEEDPUB_SITE_RELATIVE_URLS": "on"}).site.relative_urls
    with pytest.raises(ConfigError) as raised:
        config.load(root, env={"FEEDPUB_SITE_RELATIVE_URLS": "maybe"})
    (problem,) = raised.value.problems
    assert problem.message == "[site] relative_urls must be true or false"
    assert problem.path == "environment variable FEEDPUB_SITE_RELATIVE_URLS"


def test_a_quick_rebuild_of_a_relative_subpath_site_writes_what_a_full_build_writes(
    relative_site: Path,
) -> None:
    later = NOW.replace(hour=14)
    story = relative_site / "content" / "2026-11-20-first.md"
    story.write_text(
        story.read_text(encoding="utf-8") + "\nAnd ![more](/images/x.png).\n", encoding="utf-8"
    )
    assert publish(relative_site, later).path == "quick"
    rebuilt = files_of(relative_site / "public")
    assert b'src="../../../images/x.png" alt="more"' in rebuilt["2026/11/first/index.html"]
    shutil.rmtree(relative_site / "public")
    with sqlite3.connect(relative_site / ".feedpub" / "state.db") as db:
        db.execute("DELETE FROM content_cache")
        db.execute("DELETE FROM meta WHERE key = 'build_memo'")
    db.close()
    assert publish(relative_site, later).path == "full"
    assert files_of(relative_site / "public") == rebuilt


def test_check_looks_for_a_subpath_site_s_root_relative_images_where_the_build_does(
    make_site: MakeSite,
) -> None:
    root = make_subpath_site(make_site)
    write_articles(root, {"2026-11-22-third.md": article("Third", body="![x](/images/gone.png)")})
    site = load(root)
    with State.open(site.state_dir) as state:
        problems = check(site, NOW, state).problems
    told = [p.message for p in problems if p.path == "content/2026-11-22-third.md"]
    assert len(told) == 1
    assert "'/images/gone.png' is not a file in static/" in told[0]
    assert "static/images/gone.png" in told[0]
    # The ones that are there are not told.
    assert [p for p in problems if p.path.startswith("content/2026-11-2")] == [
        p for p in problems if p.path == "content/2026-11-22-third.md"
    ]


_SEGMENT = st.text(alphabet="abz09-._~%C3%A9", min_size=1, max_size=8).filter(
    lambda s: s not in (".", "..")
)


@given(
    page=st.lists(_SEGMENT, max_size=4),
    target=st.lists(_SEGMENT, max_size=4),
    folder=st.booleans(),
    tail=st.sampled_from(["", "?a=1", "#top", "?a=b:c#x"]),
)
def test_a_relative_url_resolves_from_its_page_to_the_file_it_names(
    page: list[str], target: list[str], folder: bool, tail: str
) -> None:
    """From the page's file, the relative URL reaches the target's file (a folder's
    index.html), with its query and fragment, as a browser opening the page from disk reads
    it."""
    page_path = "/".join([*page, "index.html"])
    path = "/".join(target) + ("/" if folder and target else "")
    relative = relative_url(SUB, SUB + path + tail, page_path)
    assert relative is not None
    assert not urlsplit(relative).scheme
    disk = "file:///public/"
    file = path + "index.html" if path == "" or path.endswith("/") else path
    assert urljoin(disk + page_path, relative) == disk + file + tail


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_a_canonical_link_and_a_form_stay_absolute(make_site: MakeSite, relative: bool) -> None:
    site = load(make_site(settings=RELATIVE if relative else SETTINGS))
    page = (
        f'<link rel="canonical" href="{SUB}2026/11/a/">'
        '<form action="/vote" method="post"></form>'
        f'<form action="{SUB}subscribe"></form>'
        f'<a href="{SUB}tags/">t</a><img src="/images/x.png" alt="">'
    )
    written = page_links(page, site, "2026/11/a/index.html")
    assert f'<link rel="canonical" href="{SUB}2026/11/a/">' in written
    assert f'<form action="{SUB}vote" method="post">' in written
    assert f'<form action="{SUB}subscribe">' in written
    if relative:
        assert '<a href="../../../tags/index.html">' in written
        assert '<img src="../../../images/x.png" alt="">' in written
    else:
        assert f'<a href="{SUB}tags/">' in written
        assert f'<img src="{SUB}images/x.png" alt="">' in written
