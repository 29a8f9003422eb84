"""[theme]: the publication's colours, font, logo and favicon in the pages and the digest; the
contrast of every text on its background in light and dark mode, measured from the CSS the
build writes, and check's warnings where a site's own colours do not read."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import lxml.etree
import lxml.html
import pytest
from click.testing import CliRunner
from helpers import NOW, SETTINGS, SITE_URL, MakeSite, article, assert_clean_exit, invoke, load
from hypothesis import given, settings
from hypothesis import strategies as st
from test_digest import served  # noqa: F401  (the digest's server, for Chromium)

from feedpub import colours, config, theme
from feedpub.config import Site
from feedpub.errors import ConfigError
from feedpub.newsletter.digest import IssueView, render
from feedpub.site.build import build, load_catalog
from feedpub.store.state import State
from feedpub.templating import environment

ARTICLES = {"a.md": article("Colours", tags="[art]"), "b.md": article("More", authors="[Ann]")}
_ROOT = re.compile(r":root \{([^}]*)\}")
_PROPERTY = re.compile(r"--([a-z]+): (#[0-9a-f]+);")


def custom_properties(page: str) -> tuple[dict[str, str], dict[str, str]]:
    """The light and the dark mode's --ink, --paper... of a page's <style>."""
    style = lxml.html.fromstring(page).findtext(".//style") or ""
    light, dark = _ROOT.findall(style)
    assert "prefers-color-scheme: dark" in style.split(dark)[0][-80:]
    return dict(_PROPERTY.findall(light)), dict(_PROPERTY.findall(dark))


def page_pairs(page: str) -> dict[tuple[str, str, str], float]:
    """(mode, text colour, background) to the contrast of each pair the page's CSS writes."""
    found: dict[tuple[str, str, str], float] = {}
    for mode, shown in zip(("light", "dark"), custom_properties(page), strict=True):
        for text in ("ink", "muted", "link"):
            pair = (mode, shown[text], shown["paper"])
            found[pair] = colours.contrast(shown[text], shown["paper"])
    return found


def base_page(site: Site) -> str:
    """base.html as every page starts, rendered with the site's theme."""
    feed = {"type": "application/rss+xml", "title": "T", "label": "RSS", "href": SITE_URL}
    return str(
        environment(site)
        .get_template("base.html")
        .render(
            site=site.site,
            page_title="T",
            feeds=[feed],
            home=SITE_URL,
            archive_url=SITE_URL,
            tags_url=SITE_URL,
        )
    )


def themed(make_site: MakeSite, lines: str, articles: dict[str, str | bytes] | None = None) -> Path:
    return make_site(articles if articles is not None else ARTICLES, extra="\n[theme]\n" + lines)


def theme_error(root: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load(root)
    (problem,) = info.value.problems
    assert problem.severity == "error"
    return str(problem)


# -- WCAG's arithmetic ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("one", "other", "ratio"),
    [
        ("#000", "#fff", 21.0),
        ("#fff", "#fff", 1.0),
        # WebAIM's contrast checker: #767676 is the lightest grey that reads on white.
        ("#767676", "#ffffff", 4.54),
        ("#777777", "#ffffff", 4.48),
        ("#595959", "#fff", 7.0),
    ],
)
def test_contrast_is_wcag_2s(one: str, other: str, ratio: float) -> None:
    assert round(colours.contrast(one, other), 2) == ratio
    assert colours.contrast(one, other) == colours.contrast(other, one)


# -- the pages ----------------------------------------------------------------------------------


def test_the_default_theme_writes_todays_css(make_site: MakeSite) -> None:
    root = make_site(ARTICLES)
    build(load(root), NOW, False)
    page = (root / "public" / "index.html").read_text()
    assert (
        ":root { color-scheme: light dark; --ink: #1d1d1f; --muted: #5f6368; --rule: #e3e3e3; "
        "--link: #0b57d0; --paper: #fff; }\n@media (prefers-color-scheme: dark) { :root { "
        "--ink: #e8e8e8; --muted: #a8acb3; --rule: #3a3a3a; --link: #8ab4f8; --paper: #161616; "
        "} }\n" in page
    )
    assert 'font: 1.0625rem/1.6 Georgia, "Times New Roman", serif;' in page
    assert "img.logo" not in page


def test_accent_background_and_font_restyle_every_page(make_site: MakeSite) -> None:
    root = themed(make_site, 'accent = "#A3336B"\nbackground = "#fdf3e1"\nfont = "sans"\n')
    build(load(root), NOW, False)
    pages = sorted((root / "public").rglob("*.html"))
    assert len(pages) >= 8
    for path in pages:
        page = path.read_text()
        light, dark = custom_properties(page)
        assert (light["link"], light["paper"]) == ("#a3336b", "#fdf3e1")
        # The dark mode's link is the accent lightened until it reads on the dark paper.
        assert dark["link"] != "#a3336b"
        assert colours.contrast(dark["link"], dark["paper"]) >= 4.5
        assert 'font: 1.0625rem/1.6 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;' in (
            page
        )
        assert all(ratio >= 4.5 for ratio in page_pairs(page).values())


def test_the_text_is_derived_for_a_dark_background(make_site: MakeSite) -> None:
    root = themed(make_site, 'background = "#202a44"\n')
    site = load(root)
    assert not site.warnings
    light, _ = custom_properties(base_page(site))
    assert light["paper"] == "#202a44"
    # Lighter text on the dark-blue paper: the body text at AAA's 7:1, the rest at AA.
    assert colours.luminance(light["ink"]) > colours.luminance("#202a44")
    assert colours.contrast(light["ink"], light["paper"]) >= 7
    assert all(ratio >= 4.5 for ratio in page_pairs(base_page(site)).values())


COLOUR = st.one_of(
    st.just(""),
    st.from_regex(r"#[0-9a-f]{6}", fullmatch=True),
    st.from_regex(r"#[0-9A-F]{3}", fullmatch=True),
)


@settings(max_examples=120, deadline=None)
@given(accent=COLOUR, background=COLOUR)
def test_every_pair_reads_at_aa_or_check_warns_about_exactly_that_pair(
    accent: str, background: str
) -> None:
    lines = "".join(
        f'{name} = "{value}"\n'
        for name, value in (("accent", accent), ("background", background))
        if value
    )
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "content").mkdir()
        (root / "feedpub.toml").write_text(SETTINGS + "\n[theme]\n" + lines, encoding="utf-8")
        site = config.load(root, env={})
        page = base_page(site)
    failing = {pair: ratio for pair, ratio in page_pairs(page).items() if ratio < 4.5}
    warned = [p.message for p in site.warnings]
    # The digest's pairs are the same colours (its card is the paper, its titles the accent).
    assert len(warned) == len(failing), (failing, warned)
    for (mode, text, paper), ratio in failing.items():
        assert text == accent.lower()  # only a site's own accent is left as chosen
        (message,) = [m for m in warned if f"{mode} mode" in m]
        assert f'[theme] accent "{text}"' in message
        assert f"{ratio:.2f}:1" in message
        fix = re.search(r'such as accent = "(#[0-9a-f]{6})"', message)
        assert fix is not None, message
        assert colours.contrast(fix[1], paper) >= 4.5


def test_check_names_the_setting_the_pair_the_ratio_and_a_fix(
    runner: CliRunner, make_site: MakeSite
) -> None:
    root = themed(make_site, 'accent = "#ffff00"\n')
    checked = invoke(runner, "--site", root, "check")
    assert_clean_exit(checked, 0)
    line = (root / "feedpub.toml").read_text().splitlines().index('accent = "#ffff00"') + 1
    assert checked.stderr.splitlines()[0] == (
        f'feedpub.toml:{line}: warning: [theme] accent "#ffff00" (the pages\' links and the '
        "digest's titles) on the background #ffffff has a contrast of 1.07:1 in light mode, "
        "under the 4.5:1 WCAG AA asks of text; use an accent that reads on it, such as "
        'accent = "#787800"'
    )
    assert invoke(runner, "--site", root, "check", "--strict").exit_code == 1


# -- the digest ----------------------------------------------------------------------------------


def digest_html(root: Path) -> str:
    site = load(root)
    with State.open(site.state_dir) as state:
        catalog = load_catalog(site, state, NOW)
    return render(site, IssueView(1, NOW, catalog.articles)).html


def test_the_digest_carries_the_colours_inline(make_site: MakeSite) -> None:
    root = themed(make_site, 'accent = "#a3336b"\nbackground = "#fdf3e1"\nfont = "sans"\n')
    html = digest_html(root)
    tree = lxml.html.fromstring(html)
    (card,) = tree.find_class("card")
    assert "background:#fdf3e1" in card.get("style", "").replace(" ", "")
    titles = tree.cssselect(".title a")
    assert titles
    for link in titles:
        assert "color:#a3336b" in link.get("style", "").replace(" ", "")
    (masthead,) = tree.find_class("masthead")
    assert "font-family:Arial,Helvetica,sans-serif" in masthead.get("style", "").replace(" ", "")
    # Dark mode stays in <style>, for the clients that read it, with the derived link.
    dark = colours.dark_palette("#a3336b")
    assert re.search(rf"\.title a \{{\s*color: {dark.title} !important\s*\}}", html)


def test_the_default_digest_keeps_todays_colours(make_site: MakeSite) -> None:
    html = digest_html(make_site(ARTICLES))
    assert "#0b4fb3" in html and "#f7f5ee" not in html  # no note: no note's colour
    assert re.search(r"\.title a \{\s*color: #8ab4f8 !important\s*\}", html)


# -- bad settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('accent = "red; } body { display:none"', "[theme] accent must be a hex colour like"),
        ('accent = "url(javascript:alert(1))"', "[theme] accent must be a hex colour like"),
        ('accent = "#12345"', "[theme] accent must be a hex colour like"),
        ('accent = "#ggg"', "[theme] accent must be a hex colour like"),
        ('accent = "#fff\\n"', "[theme] accent must be a hex colour like"),
        ('accent = "red"', "not 'red'"),
        ('accent = " #fff"', "not ' #fff'"),
        ('background = "expression(alert(1))"', "[theme] background must be a hex colour"),
        (f'accent = "#{"f" * 100_000}"', "is 100001 characters; keep it under 100"),
        ("accent = 12", "[theme] accent must be a string in quotes"),
        ('accent = ["#fff"]', "[theme] accent must be a string in quotes"),
        ('font = "comic sans"', '[theme] font must be "serif" or "sans", not \'comic sans\''),
        ("font = true", "[theme] font must be a string in quotes"),
        ("colour = 1", "unknown setting 'colour' in [theme]"),
        ('logo = "javascript:alert(1)"', "[theme] logo must not contain quotes, brackets"),
        ('logo = "data:image/png;base64,AAAA"', "[theme] logo is a URL that is not https://"),
        ('logo = "http://example.org/logo.png"', "[theme] logo is a URL that is not https://"),
        ('logo = "../feedpub.toml"', "[theme] logo must name a file inside static/"),
        ('logo = "images/x.png\\" onerror=\\"alert(1)"', "must not contain"),
        ('logo = "images/nope.png"', "there is no file static/images/nope.png; put the picture"),
    ],
    ids=lambda value: value[:40],
)
def test_a_bad_theme_setting_is_an_error_naming_it(
    make_site: MakeSite, line: str, words: str
) -> None:
    root = themed(make_site, line + "\n")
    assert words in theme_error(root)


def test_a_logo_linking_out_of_static_is_refused(make_site: MakeSite, tmp_path: Path) -> None:
    root = make_site(ARTICLES, extra='logo = "logo.png"\n')
    (tmp_path / "outside.png").write_bytes(b"\x89PNG")
    (root / "static").mkdir()
    (root / "static" / "logo.png").symlink_to(tmp_path / "outside.png")
    assert "[site] logo 'logo.png' is a link out of static/" in theme_error(root)


def test_site_and_theme_logos_must_agree(make_site: MakeSite) -> None:
    root = themed(make_site, 'logo = "https://cdn.example.org/b.png"\n')
    text = (
        (root / "feedpub.toml")
        .read_text()
        .replace("[site]\n", '[site]\nlogo = "https://cdn.example.org/a.png"\n', 1)
    )
    (root / "feedpub.toml").write_text(text)
    assert "[site] logo 'https://cdn.example.org/a.png' and [theme] logo" in theme_error(root)
    (root / "feedpub.toml").write_text(text.replace("/a.png", "/b.png"))
    assert theme.theme_of(load(root)).logo == "https://cdn.example.org/b.png"


# -- logo and favicon ----------------------------------------------------------------------------

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000c80000003208020000003a3e9a4d0000000c4944415408d7"
    "63f8cfc000000301010018dd8db00000000049454e44ae426082"
)  # the header of a 200x50 PNG: imagesize reads only that


SUBPATH = SETTINGS.replace(SITE_URL, "https://club.example.github.io/paper/")


def test_the_logo_is_in_every_page_header_and_the_digest(make_site: MakeSite) -> None:
    root = make_site(ARTICLES, settings=SUBPATH, extra='logo = "images/logo-one.png"\n')
    (root / "static" / "images").mkdir(parents=True)
    (root / "static" / "images" / "logo-one.png").write_bytes(PNG)
    build(load(root), NOW, False)
    url = "https://club.example.github.io/paper/images/logo-one.png"
    for path in (root / "public").rglob("*.html"):
        header = lxml.html.fromstring(path.read_text()).cssselect("header.site a.name")[0]
        (img,) = header.findall("img")
        assert (img.get("src"), img.get("alt")) == (url, "Test Gazette")
    assert (root / "public" / "images" / "logo-one.png").read_bytes() == PNG
    (logo,) = lxml.html.fromstring(digest_html(root)).find_class("logo")
    # Outlook sizes a picture by its attributes: 48 high, as wide as its proportions say.
    assert (logo.get("src"), logo.get("alt")) == (url, "Test Gazette")
    assert (logo.get("width"), logo.get("height")) == ("192", "48")


def icon_links(page: str) -> list[tuple[str | None, str | None]]:
    return [
        (link.get("href"), link.get("type"))
        for link in lxml.html.fromstring(page).findall(".//link[@rel='icon']")
    ]


def test_without_a_favicon_the_build_makes_one(make_site: MakeSite) -> None:
    root = make_site(ARTICLES, settings=SUBPATH.replace('"Test Gazette"', '"«über» & <co>"'))
    (root / "feedpub.toml").write_text(
        (root / "feedpub.toml").read_text() + '\n[theme]\naccent = "#a3336b"\n'
    )
    build(load(root), NOW, False)
    icon = root / "public" / "favicon.svg"
    first = icon.read_bytes()
    svg = lxml.etree.fromstring(first)  # well-formed XML
    ns = "{http://www.w3.org/2000/svg}"
    rect, text = svg.find(f"{ns}rect"), svg.find(f"{ns}text")
    assert rect is not None and text is not None
    assert rect.get("fill") == "#a3336b"
    assert text.text == "Ü"
    page = (root / "public" / "index.html").read_text()
    assert icon_links(page) == [
        ("https://club.example.github.io/paper/favicon.svg", "image/svg+xml")
    ]
    # Built again: the same bytes.
    (root / "public" / "favicon.svg").unlink()
    build(load(root), NOW.replace(hour=13), False)
    assert icon.read_bytes() == first


def test_a_favicon_of_the_sites_own_is_linked_and_none_made(make_site: MakeSite) -> None:
    root = make_site(ARTICLES)
    build(load(root), NOW, False)
    assert (root / "public" / "favicon.svg").is_file()
    (root / "static").mkdir()
    (root / "static" / "favicon.ico").write_bytes(b"\x00\x00\x01\x00")
    (root / "static" / "favicon.png").write_bytes(PNG)
    build(load(root), NOW, False)
    assert not (root / "public" / "favicon.svg").exists()
    for path in (root / "public").rglob("*.html"):
        assert icon_links(path.read_text()) == [
            (SITE_URL + "favicon.ico", None),
            (SITE_URL + "favicon.png", "image/png"),
        ]


def test_relative_pages_link_the_logo_and_favicon_relatively(make_site: MakeSite) -> None:
    root = make_site(
        ARTICLES, settings=SUBPATH, extra='relative_urls = true\nlogo = "images/logo.png"\n'
    )
    (root / "static" / "images").mkdir(parents=True)
    (root / "static" / "images" / "logo.png").write_bytes(PNG)
    build(load(root), NOW, False)
    page = sorted((root / "public").glob("2026/11/*/index.html"))[0]
    html = page.read_text()
    assert icon_links(html) == [("../../../favicon.svg", "image/svg+xml")]
    (img,) = lxml.html.fromstring(html).cssselect("header.site img.logo")
    assert img.get("src") == "../../../images/logo.png"
    assert (page.parent / "../../../images/logo.png").resolve().is_file()


def inline(element: lxml.html.HtmlElement, name: str) -> str | None:
    """The value of one property of an element's inline style (premailer wrote it)."""
    found = re.search(rf"(?:^|;)\s*{name}\s*:\s*([^;]+)", element.get("style", ""))
    return found[1].strip() if found else None


@pytest.mark.parametrize(
    ("accent", "background"),
    [("", ""), ("#ffff00", ""), ("#a3336b", "#fdf3e1"), ("#7fdbff", "#111111"), ("", "#777777")],
)
def test_the_digests_inline_colours_read_or_check_warns(
    make_site: MakeSite, accent: str, background: str
) -> None:
    lines = "".join(
        f'{name} = "{value}"\n'
        for name, value in (("accent", accent), ("background", background))
        if value
    )
    root = themed(make_site, lines)
    tree = lxml.html.fromstring(digest_html(root))
    (card,) = tree.find_class("card")
    paper = inline(card, "background")
    assert paper is not None
    shown = {
        "title": [inline(a, "color") for a in tree.cssselect(".title a")],
        "text": [inline(e, "color") for e in tree.cssselect(".summary, .masthead")],
        "meta": [inline(e, "color") for e in tree.find_class("meta")],
    }
    warned = " ".join(p.message for p in load(root).warnings)
    for kind, values in shown.items():
        assert values and None not in values, kind
        for colour in values:
            assert colour is not None
            ratio = colours.contrast(colour, paper)
            if ratio < 4.5:
                assert kind == "title" and f"{ratio:.2f}:1 in light mode" in warned, (kind, colour)
            else:
                assert f'accent "{colour}"' not in warned


def test_the_short_emails_carry_the_theme(make_site: MakeSite) -> None:
    from feedpub.delivery.mailer import render_letter

    root = themed(make_site, 'accent = "#a3336b"\nbackground = "#fdf3e1"\nfont = "sans"\n')
    letter = render_letter(
        load(root), "confirm", {"confirm_url": "https://x.example/c?t=1", "expires": NOW}
    )
    assert "background: #fdf3e1; color: #1d1d1f;" in letter.html
    assert "font-family: Arial, Helvetica, sans-serif; font-size: 24px" in letter.html


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(["accent", "background", "font", "logo"]),
    value=st.text(max_size=60) | st.from_regex(r"#[0-9a-fA-F]{0,7}", fullmatch=True),
)
def test_any_text_in_a_theme_setting_loads_or_is_a_clear_error(name: str, value: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "content").mkdir()
        (root / "feedpub.toml").write_text(SETTINGS, encoding="utf-8")
        try:
            site = config.load(root, env={}, overrides={("theme", name): value})
        except ConfigError as exc:
            (problem,) = exc.problems
            assert problem.message.startswith(f"[theme] {name}"), problem.message
            return
        if name in ("accent", "background") and value:
            assert re.fullmatch(r"#[0-9a-f]{3}|#[0-9a-f]{6}", getattr(site.theme, name))
        if name == "logo" and value:
            assert site.theme.logo.startswith("https://")  # no file in static/: only a URL


def test_a_page_without_a_picture_of_its_own_is_shared_with_the_logo(make_site: MakeSite) -> None:
    pictured = article("Pictured", "2026-11-21 09:00", image="/images/stage.png")
    root = make_site(
        {**ARTICLES, "c.md": pictured}, settings=SUBPATH, extra='logo = "images/logo-one.png"\n'
    )
    (root / "static" / "images").mkdir(parents=True)
    for name in ("logo-one.png", "stage.png"):
        (root / "static" / "images" / name).write_bytes(PNG)
    build(load(root), NOW, False)
    base = "https://club.example.github.io/paper/"

    def shared(page: str) -> tuple[str | None, str | None]:
        tree = lxml.html.fromstring((root / "public" / page).read_text(encoding="utf-8"))
        image = tree.xpath("string(//meta[@property='og:image']/@content)") or None
        card = tree.xpath("string(//meta[@name='twitter:card']/@content)") or None
        return image, card

    logo = (base + "images/logo-one.png", "summary")  # a logo is no large picture
    assert shared("index.html") == logo
    assert shared("tags/art/index.html") == logo
    assert shared("2026/11/a/index.html") == logo
    assert shared("2026/11/c/index.html") == (
        base + "images/stage.png",
        "summary_large_image",
    )


# In headless Chromium: a themed digest with a note whose links the theme colours too. A
# note's links have no colour of their own in the HTML; without the theme's they took the
# mail client's default blue, 1.8:1 on a dark background's note.
BROWSER_THEMES = {
    "dark-background": 'accent = "#ffb000"\nbackground = "#10141c"\nfont = "sans"\n',
    "background-only": 'background = "#202a44"\n',
    "red-on-cream": 'accent = "#b3261e"\nbackground = "#fdf6e3"\n',
}


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("name", list(BROWSER_THEMES))
def test_a_themed_digest_reads_at_aa_in_chromium(
    served: tuple[str, Path],  # noqa: F811  (test_digest's server on 127.0.0.1)
    tmp_path: Path,
    name: str,
    dark: bool,
) -> None:
    from test_digest import NEWSLETTER, NOTE, contrast, create_issue, render_in_chromium, write_site

    base, folder = served
    site = write_site(
        tmp_path / "site", url=base, extra=NEWSLETTER + "[theme]\n" + BROWSER_THEMES[name]
    )
    assert not site.warnings
    record = create_issue(site, NOTE)
    sub = f"{name}-{'dark' if dark else 'light'}"
    (folder / sub).mkdir()
    (folder / sub / "digest.html").write_text(record.html, encoding="utf-8")
    result = render_in_chromium(folder / sub, f"{base}{sub}/", 600, dark, tmp_path / "profile")
    assert result["dark"] is dark
    links = [t for t in result["texts"] if t["text"] in ("archive", "feed")]
    assert len(links) == 2  # the note's two links were measured
    poor = [
        (t["text"], t["color"], t["background"], round(contrast(t["color"], t["background"]), 2))
        for t in result["texts"]
        if contrast(t["color"], t["background"]) < colours.AA_TEXT
    ]
    assert poor == []
