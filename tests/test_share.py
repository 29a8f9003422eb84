"""Sharing and discovery: every page's canonical address, description, Open Graph and Twitter
card tags (parsed back with lxml and compared with the articles, hostile text too), the
article's picture on its page and its cards, the lists' pages (``[site] per_page``), the
404 page and the navigation's links to the newsletter."""

from __future__ import annotations

from pathlib import Path

import lxml.html
import pytest
from helpers import (
    NOW,
    SETTINGS,
    SITE_URL,
    MakeSite,
    article,
    examples,
    files_of,
    load,
    publish,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedpub.config import Site
from feedpub.config import load as load_config
from feedpub.content.bodies import Bodies
from feedpub.content.catalog import Catalog
from feedpub.content.readers import read_article
from feedpub.errors import ConfigError
from feedpub.model import Article
from feedpub.newsletter import issues
from feedpub.site.build import load_catalog
from feedpub.site.feeds import FeedSpec
from feedpub.site.pages import Pages
from feedpub.store.state import State
from feedpub.templating import html_datetime
from feedpub.text import isolate

RLO = "\u202e"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d7"
    "63f8cfc000000301010018dd8db00000000049454e44ae426082"
)


def page(root: Path, path: str) -> lxml.html.HtmlElement:
    return lxml.html.fromstring((root / "public" / path).read_bytes())


def meta(doc: lxml.html.HtmlElement) -> dict[str, list[str]]:
    """Every <meta> of the head by its property or name, in order, and the links by rel."""
    found: dict[str, list[str]] = {}
    for element in doc.cssselect("head meta"):
        name = element.get("property") or element.get("name")
        if name:
            found.setdefault(name, []).append(element.get("content", ""))
    for element in doc.cssselect("head link"):
        rel = element.get("rel", "")
        if rel in ("canonical", "prev", "next"):
            found.setdefault(rel, []).append(element.get("href", ""))
    return found


def catalog_of(root: Path) -> Catalog:
    site = load(root)
    with State.open(site.state_dir) as state:
        return load_catalog(site, state, NOW)


# -- an article's page --------------------------------------------------------------------------

HOSTILE = {
    "quotes.md": article(
        'Say "yes" & no to <script>alert(1)</script>',
        "2026-11-02 09:00",
        summary="\"'<b>bold</b>' &amp; ]]> done\"",
        tags='["c++", "<b>", "a&b", "\\"q\\""]',
        author='"O\'Brien & <Sons>"',
        image='"/images/a b\\".png"',
        image_alt="'\"A <red> square\" & more'",
    ),
    "rtl.md": article(
        "RTL",
        "2026-11-03 09:00",
        body=f"First {RLO}words\nacross lines\n\nMore.",
        tags=f'["t{RLO}ag"]',
        authors=f'["Ann {RLO}Bee", "Bo"]',
        updated="2026-11-05 10:30",
    ).replace("'RTL'", f'"Fix {RLO}this"'),
    "plain.md": article("Plain", "2026-11-04 09:00", body=""),
}


@pytest.mark.parametrize("name", HOSTILE, ids=[n.removesuffix(".md") for n in HOSTILE])
def test_an_article_page_tells_what_the_article_says(make_site: MakeSite, name: str) -> None:
    root = make_site(HOSTILE)
    publish(root)
    [story] = [a for a in catalog_of(root).articles if a.relpath == f"content/{name}"]
    assert story.page is not None
    found = meta(page(root, story.page))

    def text(value: str) -> str:
        return isolate(" ".join(value.split()))

    description = text(story.lead) if story.lead else "A site for tests"
    expected = {
        "canonical": [story.link],
        "description": [description],
        "og:type": ["article"],
        "og:title": [text(story.title)],
        "og:description": [description],
        "og:url": [story.link],
        "og:site_name": ["Test Gazette"],
        "article:published_time": [html_datetime(story.date)],
        "article:modified_time": [html_datetime(story.modified)],
        "article:author": [text(a) for a in story.authors],
        "article:tag": [text(t) for t in story.tags],
        "twitter:card": ["summary_large_image" if story.image else "summary"],
        "twitter:title": [text(story.title)],
        "twitter:description": [description],
    }
    if story.image:
        image = "https://news.example.org/images/a%20b%22.png"
        expected |= {"og:image": [image], "twitter:image": [image]}
        expected |= {"og:image:alt": [text(story.image_alt or "")]}
        expected |= {"twitter:image:alt": [text(story.image_alt or "")]}
    found.pop("viewport")
    assert found == {name: values for name, values in expected.items() if values}
    # Nothing in them is markup, and an override in one is closed within it.
    for values in found.values():
        for value in values:
            assert "\n" not in value
            assert isolate(value) == value
    if name == "rtl.md":
        assert found["article:modified_time"] == ["2026-11-05T10:30:00+01:00"]
        assert found["og:title"] == [f"\u2068Fix {RLO}this\u2069"]


def test_a_site_description_on_several_lines_is_one_line_in_the_tags(
    make_site: MakeSite,
) -> None:
    settings = SETTINGS.replace('"A site for tests"', '"A site\\nfor <tests> & \\"more\\""')
    root = make_site({"a.md": article("A", body="")}, settings=settings)
    publish(root)
    found = meta(page(root, "index.html"))
    assert found["description"] == found["og:description"] == ['A site for <tests> & "more"']


LISTS = {
    "index.html": ("Test Gazette", SITE_URL),
    "archive/index.html": ("Archive", SITE_URL + "archive/"),
    "tags/index.html": ("Tags", SITE_URL + "tags/"),
    "authors/index.html": ("Authors", SITE_URL + "authors/"),
    "tags/news/index.html": ("news", SITE_URL + "tags/news/"),
    "authors/desk/index.html": ("Desk", SITE_URL + "authors/desk/"),
    "page/2/index.html": ("Test Gazette", SITE_URL + "page/2/"),
    "tags/news/page/2/index.html": ("news", SITE_URL + "tags/news/page/2/"),
}


@pytest.mark.parametrize("path", LISTS, ids=LISTS)
def test_every_list_page_has_its_address_and_the_site_description(
    make_site: MakeSite, path: str
) -> None:
    articles = {
        f"{n}.md": article(f"Story {n}", f"2026-11-{n + 1:02d} 09:00", tags="[news]")
        for n in range(3)
    }
    root = make_site(articles, extra="per_page = 2\n")
    publish(root)
    title, url = LISTS[path]
    found = meta(page(root, path))
    found.pop("viewport")
    found.pop("prev", None)
    found.pop("next", None)
    assert found == {
        "canonical": [url],
        "description": ["A site for tests"],
        "og:type": ["website"],
        "og:title": [title],
        "og:description": ["A site for tests"],
        "og:url": [url],
        "og:site_name": ["Test Gazette"],
        "twitter:card": ["summary"],
        "twitter:title": [title],
        "twitter:description": ["A site for tests"],
    }


def test_a_page_without_a_description_says_none(make_site: MakeSite) -> None:
    settings = SETTINGS.replace('description = "A site for tests"\n', "")
    root = make_site({"a.md": article("A", body="")}, settings=settings)
    publish(root)
    for path in ("index.html", "2026/11/a/index.html"):
        found = meta(page(root, path))
        assert not {"description", "og:description", "twitter:description"} & found.keys()


# -- the article's picture ------------------------------------------------------------------------


def pictures(doc: lxml.html.HtmlElement) -> list[tuple[str | None, str | None]]:
    return [(img.get("src"), img.get("alt")) for img in doc.cssselect("body img")]


def test_the_picture_is_on_its_page_and_its_cards_with_its_alt_text(make_site: MakeSite) -> None:
    root = make_site(
        {
            "said.md": article(
                "Said",
                "2026-11-02 09:00",
                tags="[news]",
                image="/images/a.png",
                image_alt="'Ann & \"Bo\" <on stage>'",
            ),
            "unsaid.md": article("Unsaid", "2026-11-03 09:00", image="b.png"),
            "none.md": article("None", "2026-11-04 09:00"),
        }
    )
    publish(root)
    said = ("https://news.example.org/images/a.png", 'Ann & "Bo" <on stage>')
    unsaid = ("https://news.example.org/2026/11/unsaid/b.png", "")  # relative to its page
    assert pictures(page(root, "2026/11/said/index.html")) == [said]
    assert pictures(page(root, "2026/11/unsaid/index.html")) == [unsaid]
    assert pictures(page(root, "2026/11/none/index.html")) == []
    assert pictures(page(root, "index.html")) == [unsaid, said]
    assert pictures(page(root, "tags/news/index.html")) == [said]
    # An empty alt is written as one (a picture that decorates), never left out.
    html = (root / "public" / "2026/11/unsaid/index.html").read_text(encoding="utf-8")
    assert 'alt=""' in html


@pytest.mark.parametrize("path", ["/", "/paper/"], ids=["at-the-root", "under-a-sub-path"])
def test_a_body_showing_the_picture_does_not_show_it_twice(make_site: MakeSite, path: str) -> None:
    url = f"https://news.example.org{path}"
    root = make_site(
        {"a.md": article("A", image="/images/a.png", body="![Ann on stage](/images/a.png)")},
        settings=SETTINGS.replace('url = "https://news.example.org/"', f'url = "{url}"'),
    )
    assert url in (root / "feedpub.toml").read_text(encoding="utf-8")
    publish(root)
    # A sub-path site writes what it fixed up as absolute URLs (links.page_url).
    shown = "/images/a.png" if path == "/" else f"{url}images/a.png"
    assert pictures(page(root, "2026/11/a/index.html")) == [(shown, "Ann on stage")]
    # The card shows it: a list shows no body.
    assert pictures(page(root, "index.html")) == [(f"{url}images/a.png", "")]


BAD_ALT = {
    "date": ("image_alt: 2026-01-01", None, "'image_alt' must be text, not a date"),
    "list": ("image_alt: [a, b]", None, "'image_alt' must be text, not a list"),
    "mapping": ("image_alt: {a: b}", None, "'image_alt' must be text, not a mapping"),
    "true": ("image_alt: true", None, "'image_alt' must be text, not true/false"),
    "huge": (f"image_alt: {'a' * 1001}", None, "'image_alt' is 1001 characters; keep it under"),
    "no-image": ("image_alt: A square", "warning", "but there is no 'image'"),
}  # fmt: skip


@pytest.mark.parametrize(("line", "severity", "words"), BAD_ALT.values(), ids=BAD_ALT)
def test_a_bad_image_alt_is_told_with_its_line(
    make_site: MakeSite, line: str, severity: str | None, words: str
) -> None:
    root = make_site()
    path = root / "content" / "a.md"
    image = "" if severity == "warning" else "image: /images/a.png\n"
    path.write_text(f"---\ntitle: A\ndate: 2026-11-20\n{image}{line}\n---\nBody.\n", "utf-8")
    result, problems = read_article(path, "content/a.md", load(root))
    [problem] = problems
    assert (problem.line, problem.severity) == (5 if image else 4, severity or "error")
    assert words in problem.message
    if severity:
        assert result is not None and result.image_alt is None
    else:
        assert result is None


def test_image_alt_is_one_line_of_text(make_site: MakeSite) -> None:
    root = make_site()
    path = root / "content" / "a.md"
    path.write_text(
        '---\ntitle: A\ndate: 2026-11-20\nimage: a.png\nimage_alt: "Two\\n  lines\\u0007"\n---\n',
        "utf-8",
    )
    result, problems = read_article(path, "content/a.md", load(root))
    assert problems == [] and result is not None
    assert result.image_alt == "Two lines"


# -- the lists' pages ------------------------------------------------------------------------------


def numbered(count: int, **extra: str) -> dict[str, str | bytes]:
    """``count`` articles a day apart, all tagged news and by Desk (the site's author)."""
    return {
        f"story-{n:02d}.md": article(
            f"Story {n}", f"2026-10-{1 + n % 28:02d} {n // 28 + 9:02d}:00", tags="[news]", **extra
        )
        for n in range(count)
    }


def list_pages(root: Path, folder: str) -> list[str]:
    top = root / "public" / folder
    found = [f"{folder}index.html"] if (top / "index.html").is_file() else []
    if (top / "page").is_dir():
        numbers = sorted(int(p.name) for p in (top / "page").iterdir())
        found += [f"{folder}page/{n}/index.html" for n in numbers]
    return found


def cards(doc: lxml.html.HtmlElement) -> list[str]:
    return [a.text_content() for a in doc.cssselect("article.summary h2 a")]


@pytest.mark.parametrize(
    ("count", "per_page", "pages"),
    [(23, 5, 5), (20, 5, 4), (1, 5, 1), (0, 5, 1), (7, 1, 7), (7, 1000, 1)],
    ids=["partial-last", "exact", "one", "none", "one-each", "all-on-one"],
)
@pytest.mark.parametrize(
    "folder", ["", "tags/news/", "authors/desk/"], ids=["home", "tag", "author"]
)
def test_a_list_is_split_into_pages_with_every_article_on_one(
    make_site: MakeSite, count: int, per_page: int, pages: int, folder: str
) -> None:
    root = make_site(numbered(count), extra=f"per_page = {per_page}\n")
    publish(root)
    if count == 0 and folder:
        assert not (root / "public" / folder).exists()
        return
    paths = list_pages(root, folder)
    assert len(paths) == pages
    assert not (root / "public" / folder / "page" / "1").exists()
    newest_first = [a.title for a in catalog_of(root).articles]
    shown = []
    for number, path in enumerate(paths, 1):
        doc = page(root, path)
        on_page = cards(doc)
        assert 1 <= len(on_page) <= per_page or count == 0
        shown += on_page
        url = f"{SITE_URL}{folder}" + ("" if number == 1 else f"page/{number}/")
        newer = f"{SITE_URL}{folder}" + ("" if number == 2 else f"page/{number - 1}/")
        older = f"{SITE_URL}{folder}page/{number + 1}/"
        found = meta(doc)
        assert found["canonical"] == [url]
        assert found.get("prev") == ([newer] if number > 1 else None)
        assert found.get("next") == ([older] if number < pages else None)
        navs = doc.cssselect("nav.pages")
        if pages == 1:
            assert navs == []
            continue
        [nav] = navs
        assert nav.get("aria-label") == "Pages"
        links = {a.get("rel"): (a.get("href"), a.text_content()) for a in nav.iter("a")}
        assert links.get("prev") == ((newer, "Newer") if number > 1 else None)
        assert links.get("next") == ((older, "Older") if number < pages else None)
        assert f"Page {number} of {pages}" in nav.text_content()
        title = doc.findtext(".//title") or ""
        assert (f"page {number} of {pages}" in title) == (number > 1)
    assert shown == newest_first


def test_fewer_articles_take_their_pages_away(make_site: MakeSite) -> None:
    root = make_site(numbered(12), extra="per_page = 5\n")
    publish(root)
    assert list_pages(root, "") == ["index.html", "page/2/index.html", "page/3/index.html"]
    for name in list(numbered(12))[:8]:
        (root / "content" / name).unlink()
    publish(root)
    assert list_pages(root, "") == ["index.html"]
    assert list_pages(root, "tags/news/") == ["tags/news/index.html"]


def test_a_new_article_moves_each_list_by_one_and_rewrites_what_changed(
    make_site: MakeSite,
) -> None:
    """Each list page is keyed on the cards it shows: a new article changes every page of a
    list (each loses its oldest to the next), and none of the pages it is not on."""
    root = make_site(numbered(10), extra="per_page = 5\n")
    publish(root)
    before = files_of(root / "public")
    (root / "content" / "new.md").write_text(article("New", "2026-11-20 09:00", tags="[other]"))
    publish(root)
    after = files_of(root / "public")
    changed = {p for p in after if before.get(p) != after[p] and p.endswith(".html")}
    assert {"index.html", "page/2/index.html", "page/3/index.html"} <= changed
    assert not {p for p in changed if p.startswith(("tags/news/", "2026/10/"))}


PER_PAGE = {
    "zero": ("per_page = 0", "[site] per_page must be between 1 and 1000"),
    "negative": ("per_page = -3", "[site] per_page must be between 1 and 1000"),
    "huge": ("per_page = 100000000000", "[site] per_page must be between 1 and 1000"),
    "over": ("per_page = 1001", "[site] per_page must be between 1 and 1000"),
    "text": ('per_page = "10"', "[site] per_page must be a whole number, not a string"),
    "boolean": ("per_page = true", "[site] per_page must be a whole number, not a boolean"),
    "float": ("per_page = 2.5", "[site] per_page must be a whole number"),
}


@pytest.mark.parametrize(("line", "words"), PER_PAGE.values(), ids=PER_PAGE)
def test_a_bad_per_page_is_an_error_naming_it_and_its_line(
    make_site: MakeSite, line: str, words: str
) -> None:
    root = make_site(extra=line + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(root, env={})
    [problem] = caught.value.problems
    assert (problem.path, problem.line, problem.severity) == ("feedpub.toml", 8, "error")
    assert problem.message.startswith(words)


def test_per_page_from_the_environment_is_checked_too(make_site: MakeSite) -> None:
    root = make_site()
    assert load_config(root, env={"FEEDPUB_SITE_PER_PAGE": "3"}).site.per_page == 3
    with pytest.raises(ConfigError) as caught:
        load_config(root, env={"FEEDPUB_SITE_PER_PAGE": "0"})
    assert "[site] per_page must be between 1 and 1000" in str(caught.value)
    assert load_config(root, env={}).site.per_page == 10


# -- the 404 page ---------------------------------------------------------------------------------


def test_the_404_page_works_from_any_depth(make_site: MakeSite) -> None:
    root = make_site({"a.md": article("A")})
    publish(root)
    doc = page(root, "404.html")
    assert doc.findtext(".//h1") == "Page not found"
    assert meta(doc)["robots"] == ["noindex"]
    assert "canonical" not in meta(doc)
    links = [a.get("href") for a in doc.iter("a")]
    assert SITE_URL in links and SITE_URL + "archive/" in links
    # Served for /any/depth/: every link, stylesheet and form address is absolute.
    for element in doc.iter("a", "link", "form", "img", "script"):
        for name in ("href", "src", "action"):
            if element.get(name) is not None:
                assert element.get(name, "").startswith(SITE_URL), lxml.html.tostring(element)


def test_a_404_page_of_the_sites_own_is_copied_instead(make_site: MakeSite) -> None:
    root = make_site({"a.md": article("A")})
    (root / "static").mkdir()
    (root / "static" / "404.html").write_text("<p>Our own</p>", encoding="utf-8")
    report = publish(root)
    assert report.problems == []
    assert (root / "public" / "404.html").read_text(encoding="utf-8") == "<p>Our own</p>"
    (root / "static" / "404.html").unlink()
    publish(root)
    assert "Page not found" in (root / "public" / "404.html").read_text(encoding="utf-8")


# -- the navigation ------------------------------------------------------------------------------

NEWSLETTER = """
[newsletter]
name = "Weekly"
from = "Desk <desk@example.org>"
schedule = "manual"
"""
WEB = '\n[web]\nurl = "https://web.example.org/app/"\n'


@pytest.mark.parametrize(
    ("extra", "listed", "signup"),
    [("", False, False), (NEWSLETTER, True, False), (NEWSLETTER + WEB, True, True)],
    ids=["no-newsletter", "newsletter", "newsletter-and-web-app"],
)
def test_the_navigation_links_the_issues_and_the_sign_up_page(
    make_site: MakeSite, extra: str, listed: bool, signup: bool
) -> None:
    root = make_site({"a.md": article("A")}, extra=extra)
    publish(root)
    for path in ("index.html", "2026/11/a/index.html", "404.html", "tags/index.html"):
        nav = page(root, path).cssselect("header.site nav")[0]
        links = {a.text_content(): a.get("href") for a in nav.iter("a")}
        assert links.get("Issues") == (SITE_URL + "issues/" if listed else None)
        assert links.get("Subscribe") == (
            "https://web.example.org/app/subscribe" if signup else None
        )
    # The issues page is there before the first issue, so that the link leads somewhere.
    assert (root / "public" / "issues" / "index.html").is_file() == listed
    if listed:
        assert "No issues yet." in (root / "public" / "issues" / "index.html").read_text("utf-8")


def test_an_issues_web_version_is_shared_as_an_article(make_site: MakeSite) -> None:
    root = make_site({"a.md": article("A", "2026-11-20 09:00")}, extra=NEWSLETTER)
    site = load(root)
    with State.open(site.state_dir) as state:
        assert issues.create(site, state, load_catalog(site, state, NOW), NOW)
    publish(root)
    found = meta(page(root, "issues/1/index.html"))
    assert found["canonical"] == found["og:url"] == [site.issue_url(1)]
    assert found["og:type"] == ["article"]
    assert found["article:published_time"] == [html_datetime(NOW.replace(microsecond=0))]
    assert found["article:author"] == ["Weekly"]
    listing = meta(page(root, "issues/index.html"))
    assert listing["canonical"] == [SITE_URL + "issues/"]
    assert (listing["og:type"], listing["og:title"]) == (["website"], ["Weekly"])


# Any text a title, summary, author or tag may hold once read: every character but controls
# and lone surrogates (the readers drop those), with line breaks, tabs and bidi controls.
TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\n\t\u202e\u2066<>&\"'"),
    min_size=1,
    max_size=80,
).filter(str.strip)


@settings(max_examples=examples(0.5), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    title=TEXT,
    summary=TEXT,
    authors=st.lists(TEXT, max_size=3, unique=True),
    tags=st.lists(TEXT, max_size=3, unique=True),
    alt=TEXT,
)
def test_any_text_comes_back_from_the_tags_as_it_was_written(
    test_site: Site, title: str, summary: str, authors: list[str], tags: list[str], alt: str
) -> None:
    link = "https://example.org/2026/11/a/"
    story = Article(
        source="a.md",
        relpath="content/a.md",
        title=title,
        date=NOW,
        body="Body.",
        body_format="text",
        content_hash="",
        authors=tuple(authors),
        tags=tuple(tags),
        summary=summary,
        lead=summary,
        image="/images/a.png",
        image_alt=alt,
        feed_id="urn:uuid:6f1c1a52-9d3e-4c55-8a7b-2f0e9b1d4c3a",
        link=link,
        page="2026/11/a/index.html",
    )
    catalog = Catalog(articles=[story], ascii_urls=False)
    pages = Pages(test_site, catalog, Bodies(test_site))
    main = FeedSpec("", "T", "", "https://example.org/", [story])
    [(_, _, render)] = pages.article_pages([story], main)
    found = meta(lxml.html.fromstring(render()))

    def text(value: str) -> list[str]:
        return [isolate(" ".join(value.split()))]

    assert found["og:title"] == found["twitter:title"] == text(title)
    assert found["og:description"] == found["description"] == text(summary)
    assert found["og:image:alt"] == found["twitter:image:alt"] == text(alt)
    assert found.get("article:author", []) == [text(a)[0] for a in authors]
    assert found.get("article:tag", []) == [text(t)[0] for t in tags]
    assert found["og:image"] == ["https://example.org/images/a.png"]
    assert found["canonical"] == found["og:url"] == [link]
