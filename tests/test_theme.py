"""The publication's look: [theme] accent, background and font, [site] logo and the favicon,
in the pages and the digest; every pair of colours they are written with measured (WCAG AA)."""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cssutils
import lxml.html
import pytest
from click.testing import CliRunner
from helpers import SETTINGS, SITE_URL, assert_clean_exit, invoke, load, publish
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_digest import (
    NOTE,
    create_issue,
    png,
    render_in_chromium,
    served,  # noqa: F401  (the fixture the Chromium test uses)
    write_site,
)

from feedpub import colours
from feedpub.colours import AA_TEXT, contrast
from feedpub.config import Site, ThemeSettings
from feedpub.errors import ConfigError
from feedpub.newsletter.digest import IssueView, render
from feedpub.site.form import signup_form
from feedpub.templating import environment
from feedpub.theme import weak_pairs

NEWSLETTER = '[newsletter]\nname = "The Test Weekly"\nfrom = "Desk <desk@news.example.org>"\n'


def site_with(
    root: Path, theme: str = "", site_extra: str = "", files: dict[str, bytes] | None = None
) -> Path:
    """A site folder whose feedpub.toml has ``theme`` as its [theme] section."""
    (root / "content").mkdir(parents=True)
    (root / "content" / "2026-11-20-one.md").write_text(
        "---\ntitle: One\ndate: 2026-11-20 09:00\n---\n\nThe body of one.\n", encoding="utf-8"
    )
    for name, data in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    text = SETTINGS + site_extra + NEWSLETTER + '[web]\nurl = "https://news.example.org/app/"\n'
    if theme:
        text += "[theme]\n" + theme
    (root / "feedpub.toml").write_text(text, encoding="utf-8")
    return root


def problem(root: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load(root)
    return str(info.value)


# ---------------------------------------------------------------------------------------------
# Bad settings: each a clear error that names the setting and the fix.

HUGE = "#" + "a" * 200_000


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (
            'accent = "red; } body { display:none"',
            r"\[theme\] accent .* is not a colour; write it as '#rgb' or '#rrggbb'",
        ),
        ('accent = "url(javascript:alert(1))"', r"\[theme\] accent .* is not a colour"),
        ('accent = "#0b57d0; background: url(x)"', r"\[theme\] accent .* is not a colour"),
        ('accent = "#12345"', r"\[theme\] accent '#12345' is not a colour"),
        ('accent = "red"', r"\[theme\] accent 'red' is a colour name; write the colour in hex"),
        (f'accent = "{HUGE}"', r"\[theme\] accent is 200001 characters, not a colour"),
        ("accent = 12", r"\[theme\] accent must be a string in quotes, not a number"),
        ("background = ['#fff']", r"\[theme\] background must be a string in quotes, not a list"),
        ('background = "expression(alert(1))"', r"\[theme\] background .* is not a colour"),
        (
            'font = "Comic Sans"',
            r"\[theme\] font 'Comic Sans' is not a font of feedpub's; use 'serif'",
        ),
        ("font = true", r"\[theme\] font must be a string in quotes, not a boolean"),
        ('logo = "javascript:alert(1)"', r"\[theme\] logo .* is not a picture a page may show"),
        (
            'logo = "data:image/svg+xml,<svg/>"',
            r"\[theme\] logo holds a space, a quote|is not a picture",
        ),
        (
            'logo = "../feedpub.toml"',
            r"\[theme\] logo '../feedpub.toml' must name a file inside static/",
        ),
        (
            'logo = "images/missing.png"',
            r"\[theme\] logo: there is no file static/images/missing.png",
        ),
        ('logo = "a\\" onerror=\\"alert(1)"', r"\[theme\] logo holds a space, a quote"),
        (f'logo = "{"a/" * 2000}"', r"\[theme\] logo is 4000 characters"),
    ],
    ids=[
        "css-injection",
        "url-javascript",
        "declaration",
        "short-hex",
        "name",
        "huge",
        "number",
        "list",
        "expression",
        "font-name",
        "font-bool",
        "logo-javascript",
        "logo-data",
        "logo-dotdot",
        "logo-missing",
        "logo-attribute",
        "logo-huge",
    ],
)
def test_bad_theme_settings_are_clear_errors(tmp_path: Path, setting: str, expected: str) -> None:
    message = problem(site_with(tmp_path / "site", setting + "\n"))
    assert re.search(expected, message), message
    assert "Traceback" not in message


def test_a_logo_that_links_out_of_static_is_refused(tmp_path: Path) -> None:
    root = site_with(tmp_path / "site", 'logo = "logo.png"\n', files={"static/x": b""})
    outside = tmp_path / "outside.png"
    outside.write_bytes(png(10, 10))
    os.symlink(outside, root / "static" / "logo.png")
    message = problem(root)
    assert (
        "[theme] logo 'logo.png' is a link out of static/; copy the picture into static/" in message
    )


def test_two_different_logos_are_an_error(tmp_path: Path) -> None:
    files = {"static/a.png": png(10, 10), "static/b.png": png(10, 10)}
    root = site_with(tmp_path / "site", 'logo = "b.png"\n', "", files)
    text = (root / "feedpub.toml").read_text()
    (root / "feedpub.toml").write_text(text.replace("[site]\n", '[site]\nlogo = "a.png"\n', 1))
    message = problem(root)
    assert "[site] logo '/a.png' and [theme] logo '/b.png' name two logos" in message
    assert "keep one of them" in message


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("images/logo.png", "/images/logo.png"),
        ("/images/logo.png", "/images/logo.png"),
        ("static/images/logo.png", "/images/logo.png"),
        ("https://cdn.example.net/logo.png", "https://cdn.example.net/logo.png"),
    ],
    ids=["relative", "rooted", "static-prefix", "url"],
)
def test_logo_forms(tmp_path: Path, written: str, kept: str) -> None:
    root = site_with(tmp_path / "site", files={"static/images/logo.png": png(300, 100)})
    text = (root / "feedpub.toml").read_text()
    (root / "feedpub.toml").write_text(text.replace("[site]\n", f'[site]\nlogo = "{written}"\n', 1))
    assert load(root).logo == kept


@pytest.mark.parametrize(
    ("written", "kept"), [("#ABC", "#aabbcc"), ("#B3261E", "#b3261e"), ("", "")]
)
def test_colours_are_kept_as_lower_case_rrggbb(written: str, kept: str) -> None:
    assert colours.check_colour(written) == kept


# ---------------------------------------------------------------------------------------------
# The contrast of every pair of colours the CSS writes, measured from the CSS itself.


def site_of(base: Site, accent: str, background: str, font: str = "serif") -> Site:
    return replace(base, theme=ThemeSettings(accent=accent, background=background, font=font))


def page_css(site: Site) -> str:
    """The <style> of a page (base.html rendered with the sign-up box)."""
    env = environment(site)
    feeds = [
        {"type": "application/rss+xml", "title": "t", "href": SITE_URL + "rss.xml", "label": "RSS"}
    ]
    html = env.get_template("base.html").render(
        page_title="Page",
        site=site.site,
        feeds=feeds,
        home=SITE_URL,
        archive_url=SITE_URL + "archive/",
        tags_url=SITE_URL + "tags/",
        signup=signup_form(site),
    )
    return "\n".join(lxml.html.fromstring(html).xpath("//style/text()"))


VAR = re.compile(r"var\((--[a-z-]+)\)")


def _colour(value: str, variables: dict[str, str]) -> str:
    value = VAR.sub(lambda m: variables[m.group(1)], value.strip())
    # cssutils writes #000000 as #000.
    return colours.check_colour(value.split()[0]) if value.startswith("#") else value


def css_pairs(css: str) -> dict[str, list[tuple[str, str, str]]]:
    """(selector, text colour, background colour) of each rule that sets a text colour, with
    the CSS variables resolved, in the light scheme and the dark one."""
    sheet = cssutils.CSSParser(validate=False).parseString(css)
    light: dict[str, str] = {}
    dark: dict[str, str] = {}
    rules: list[Any] = []
    for rule in sheet:
        if rule.type == rule.MEDIA_RULE and "prefers-color-scheme: dark" in rule.media.mediaText:
            for inner in rule:
                if inner.selectorText == ":root":
                    dark.update({p.name: p.value for p in inner.style if p.name.startswith("--")})
        elif rule.type == rule.STYLE_RULE:
            if rule.selectorText == ":root":
                light.update({p.name: p.value for p in rule.style if p.name.startswith("--")})
            rules.append(rule)
    found: dict[str, list[tuple[str, str, str]]] = {}
    for scheme, variables in (("light", light), ("dark", {**light, **dark})):
        body = next(r for r in rules if r.selectorText == "body")
        page = _colour(body.style["background"], variables)
        pairs = []
        for rule in rules:
            if rule.style["color"]:
                back = rule.style["background"] or rule.style["background-color"]
                pairs.append(
                    (
                        rule.selectorText,
                        _colour(rule.style["color"], variables),
                        _colour(back, variables) if back else page,
                    )
                )
        found[scheme] = pairs
    return found


def digest_pairs(html: str) -> dict[str, list[tuple[str, str, str]]]:
    """(text, text colour, background colour) of each element of the digest holding text:
    its inline styles (as Outlook and Gmail see it), and with the dark <style> rules over them."""
    doc = lxml.html.fromstring(html)
    dark_rules: list[tuple[str, dict[str, str]]] = []
    for css in doc.xpath("//style/text()"):
        for rule in cssutils.CSSParser(validate=False).parseString(css):
            if (
                rule.type == rule.MEDIA_RULE
                and "prefers-color-scheme: dark" in rule.media.mediaText
            ):
                for inner in rule:
                    props = {p.name: p.value for p in inner.style}
                    dark_rules.append((inner.selectorText, props))
    own: dict[str, dict[Any, dict[str, str]]] = {"light": {}, "dark": {}}
    for element in doc.iter():
        if not isinstance(element.tag, str):
            continue
        style = cssutils.parseStyle(element.get("style", ""), validate=False)
        props = {p.name: p.value for p in style}
        own["light"][element] = props
        own["dark"][element] = dict(props)
    for selector, props in dark_rules:
        for element in doc.cssselect(selector):
            own["dark"][element].update(props)

    def nearest(scheme: str, element: Any, *names: str) -> str:
        while element is not None:
            for name in names:
                if name in own[scheme][element]:
                    return colours.check_colour(str(own[scheme][element][name]).split()[0])
            element = element.getparent()
        raise AssertionError(f"no {names[0]} for {element}")

    found: dict[str, list[tuple[str, str, str]]] = {"light": [], "dark": []}
    for element in doc.xpath("//body//*"):
        text = (element.text or "") + "".join(child.tail or "" for child in element)
        if not text.strip() or "display:none" in element.get("style", "").replace(" ", ""):
            continue
        if any(
            "display:none" in a.get("style", "").replace(" ", "") for a in element.iterancestors()
        ):
            continue
        for scheme in found:
            found[scheme].append(
                (
                    text.strip()[:30],
                    nearest(scheme, element, "color"),
                    nearest(scheme, element, "background", "background-color"),
                )
            )
    return found


colour = st.tuples(*[st.integers(0, 255)] * 3).map(lambda c: colours.hex_colour(*c))
maybe = st.one_of(st.just(""), colour)


@pytest.fixture(scope="module")
def digest_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Site, IssueView]:
    site = write_site(tmp_path_factory.mktemp("theme") / "site")
    record = create_issue(site, NOTE)
    assert record.html
    from helpers import NOW

    from feedpub.site.build import load_catalog
    from feedpub.store.state import State

    with State.open(site.state_dir) as state:
        articles = load_catalog(site, state, NOW).articles[:3]
    return site, IssueView(1, datetime(2026, 11, 27, 8, tzinfo=UTC), tuple(articles))


def weak(pairs: dict[str, list[tuple[str, str, str]]]) -> list[tuple[str, str, str, str, float]]:
    return [
        (scheme, what, fg, bg, contrast(fg, bg))
        for scheme, found in pairs.items()
        for what, fg, bg in found
        if contrast(fg, bg) < AA_TEXT
    ]


def the_accent_on_the_background(site: Site, found: list[tuple[str, str, str, str, float]]) -> None:
    """Pairs below AA are the light scheme's links in the accent the site chose on the
    background it chose, and check warns of each, with the ratio measured."""
    warnings = " ".join(w.message for w in weak_pairs(site))
    for scheme, _, fg, bg, ratio in found:
        assert scheme == "light" and fg == site.theme.accent, found
        assert f"[theme] accent {fg}" in warnings and f"{bg}" in warnings
        assert f"{ratio:.2f}:1" in warnings


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(accent=maybe, background=maybe, font=st.sampled_from(["serif", "sans"]))
def test_every_pair_in_the_pages_css_holds_aa_or_check_warns(
    digest_site: tuple[Site, IssueView], accent: str, background: str, font: str
) -> None:
    site = site_of(digest_site[0], accent, background, font)
    pairs = css_pairs(page_css(site))
    assert len(pairs["light"]) >= 6 and len(pairs["dark"]) >= 6
    if accent:
        assert (".signup button", site_pair_text(site), accent) in [
            (s, f, b) for s, f, b in pairs["light"]
        ]
    the_accent_on_the_background(site, weak(pairs))


def site_pair_text(site: Site) -> str:
    from feedpub.theme import palettes

    return palettes(site)[0].on_accent


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(accent=maybe, background=maybe)
def test_every_pair_in_the_digest_holds_aa_or_check_warns(
    digest_site: tuple[Site, IssueView], accent: str, background: str
) -> None:
    site = site_of(digest_site[0], accent, background)
    pairs = digest_pairs(render(site, digest_site[1]).html)
    assert len(pairs["light"]) > 10
    the_accent_on_the_background(site, weak(pairs))


def test_a_yellow_accent_on_white_is_warned_of_with_a_fix(tmp_path: Path) -> None:
    site = load(site_with(tmp_path / "site", 'accent = "#ffff00"\n'))
    [warning] = [w for w in site.warnings if "[theme] accent" in w.message]
    assert (
        warning.line
        == (tmp_path / "site" / "feedpub.toml").read_text().splitlines().index('accent = "#ffff00"')
        + 1
    )
    assert (
        "[theme] accent #ffff00 as the links' colour on the default background #ffffff "
        "(pages and digest)" in warning.message
    )
    assert "has a contrast of 1.07:1, under the 4.5:1 WCAG AA asks of text" in warning.message
    better = re.search(r'accent = "(#[0-9a-f]{6})"', warning.message)
    assert better and contrast(better[1], "#ffffff") >= AA_TEXT


def test_default_theme_keeps_the_look(tmp_path: Path) -> None:
    css = page_css(load(site_with(tmp_path / "site")))
    assert (
        ":root { color-scheme: light dark; --ink: #1d1d1f; --muted: #5f6368; --rule: #e3e3e3; "
        "--link: #0b57d0; --paper: #fff; }" in css
    )
    assert "--link: #8ab4f8; --paper: #161616; } }" in css
    assert 'font: 1.0625rem/1.6 Georgia, "Times New Roman", serif;' in css
    assert "--accent" not in css


# ---------------------------------------------------------------------------------------------
# The built site: logo, favicon, font.


def test_pages_show_the_logo_and_the_drawn_favicon(tmp_path: Path) -> None:
    theme = 'accent = "#b3261e"\nbackground = "#fdf6e3"\nfont = "sans"\n'
    root = site_with(tmp_path / "site", theme, "", {"static/images/logo.png": png(300, 100)})
    text = (root / "feedpub.toml").read_text()
    (root / "feedpub.toml").write_text(
        text.replace("[site]\n", '[site]\nlogo = "images/logo.png"\n', 1)
    )
    publish(root)
    out = root / "public"
    page = lxml.html.fromstring((out / "index.html").read_bytes())
    [logo] = page.xpath("//header//a[@class='name']/img")
    assert logo.get("src") == SITE_URL + "images/logo.png" and logo.get("alt") == "Test Gazette"
    assert page.xpath("//link[@rel='icon']/@href") == [SITE_URL + "favicon.svg"]
    svg = (out / "favicon.svg").read_text()
    assert 'fill="#b3261e"' in svg and ">T</text>" in svg
    css = "".join(page.xpath("//style/text()"))
    assert "--paper: #fdf6e3;" in css and "font: 1.0625rem/1.6 system-ui" in css
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    publish(root)
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == first


def test_a_favicon_of_the_sites_own_is_linked_instead(tmp_path: Path) -> None:
    root = site_with(tmp_path / "site", files={"static/favicon.ico": b"\x00\x00\x01\x00"})
    publish(root)
    page = lxml.html.fromstring((root / "public" / "index.html").read_bytes())
    assert page.xpath("//link[@rel='icon']/@href") == [SITE_URL + "favicon.ico"]
    assert not (root / "public" / "favicon.svg").exists()
    # Removing it brings the drawn one back on the next build (the pages' key knows it).
    (root / "static" / "favicon.ico").unlink()
    publish(root)
    page = lxml.html.fromstring((root / "public" / "index.html").read_bytes())
    assert page.xpath("//link[@rel='icon']/@href") == [SITE_URL + "favicon.svg"]


def test_the_digest_has_the_logo_as_an_absolute_url_and_the_colours_inline(
    digest_site: tuple[Site, IssueView], tmp_path: Path
) -> None:
    base, view = digest_site
    (base.static_dir / "images").mkdir(parents=True, exist_ok=True)
    (base.static_dir / "images" / "logo.png").write_bytes(png(400, 100))
    site = replace(
        base,
        theme=ThemeSettings(
            accent="#b3261e", background="#fdf6e3", font="sans", logo="/images/logo.png"
        ),
    )
    doc = lxml.html.fromstring(render(site, view).html)
    [logo] = doc.xpath("//img[@class='logo']")
    assert logo.get("src") == SITE_URL + "images/logo.png"
    assert logo.get("alt") == "Test Gazette"
    assert (logo.get("width"), logo.get("height")) == ("256", "64")
    [title] = doc.xpath("//h2[@class='title']/a")[:1]
    assert "color:#b3261e" in title.get("style").replace(" ", "")
    [card] = doc.xpath("//table[contains(@class, 'card')]")
    assert "background:#fdf6e3" in card.get("style").replace(" ", "")
    assert "Arial" in doc.xpath("//div[@class='summary']")[0].get("style")


# ---------------------------------------------------------------------------------------------
# In headless Chromium: the themed digest, light and dark, every visible text at AA.

THEMES = {
    "red-on-cream": 'accent = "#b3261e"\nbackground = "#fdf6e3"\n',
    "pale-accent": 'accent = "#7fdbff"\n',  # the site's choice, too pale on white
    "dark-background": 'accent = "#ffb000"\nbackground = "#10141c"\nfont = "sans"\n',
}


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("name", list(THEMES))
def test_themed_digest_in_chromium_stays_readable(
    served: tuple[str, Path],  # noqa: F811  (test_digest's fixture)
    tmp_path: Path,
    name: str,
    dark: bool,
) -> None:
    base, folder = served
    site = write_site(
        tmp_path / "site", url=base, extra=NEWSLETTER_EXTRA + "[theme]\n" + THEMES[name]
    )
    record = create_issue(site, NOTE)
    sub = folder / name
    sub.mkdir(exist_ok=True)
    (sub / "images").mkdir(exist_ok=True)
    (sub / "digest.html").write_text(record.html, encoding="utf-8")
    result = render_in_chromium(sub, f"{base}{name}/", 600, dark, tmp_path / "profile")
    assert result["dark"] is dark
    poor = [
        (t["text"], t["color"], t["background"])
        for t in result["texts"]
        if chromium_contrast(t["color"], t["background"]) < AA_TEXT
    ]
    if name == "pale-accent" and not dark:
        # The pale accent on white: the links fall short, as check says; in the dark scheme
        # the same accent holds.
        assert poor and all(p[1] == "rgb(127, 219, 255)" for p in poor)
    else:
        assert poor == []
    # check warns of the light scheme's pale links, and of nothing in the other themes.
    assert bool(weak_pairs(site)) is (name == "pale-accent")


NEWSLETTER_EXTRA = '[newsletter]\nname = "The Test Weekly"\nfrom = "Desk <desk@news.example.org>"\n'


def chromium_contrast(one: str, other: str) -> float:
    def hexed(value: str) -> str:
        return colours.hex_colour(*map(float, re.findall(r"[\d.]+", value)[:3]))

    return contrast(hexed(one), hexed(other))


# ---------------------------------------------------------------------------------------------
# axe-core on themed sites' pages (with the logo and the sign-up box), in both schemes.

AXE_THEMES = {
    "red-on-cream": 'accent = "#b3261e"\nbackground = "#fdf6e3"\nlogo = "images/square.png"\n',
    "amber-on-night": 'accent = "#ffb000"\nbackground = "#10141c"\nfont = "sans"\n',
}


@pytest.fixture(scope="module")
def themed_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from helpers import NOW
    from test_pages_valid import QuietHandler, Served, hostile_site, one_of_each_kind

    from feedpub.site.build import build

    folder = tmp_path_factory.mktemp("themed-served")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        work = tmp_path_factory.mktemp("themed-sites")
        for name, theme in AXE_THEMES.items():
            site = hostile_site(work / name, base + name + "/")
            with (site.config_path).open("a", encoding="utf-8") as handle:
                handle.write("[theme]\n" + theme)
            site = load(site.root)
            assert not [w for w in site.warnings if "[theme]" in w.message]
            build(site, NOW, False)
            shutil.copytree(site.output_dir, folder / name)
        pages = tuple(sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.html")))
        yield Served(base, folder, tuple(one_of_each_kind(pages)))
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_themed_pages_pass_axe_core(themed_served: Any, tmp_path: Path, dark: bool) -> None:
    from test_pages_valid import BAD_AXE, WCAG_TAGS, findings, run_axe

    pages = list(themed_served.pages)
    assert len(pages) >= 2 * 9
    home = (themed_served.folder / "red-on-cream" / "index.html").read_text()
    assert 'class="logo"' in home and '<aside class="signup"' in home
    # A page with poor contrast, which axe must find: proof that it measured the colours.
    canary = themed_served.folder / "canary.html"
    canary.write_text(BAD_AXE.replace("<h1>Bad</h1>", '<h1 style="color:#ffff00">Bad</h1>'))
    results = run_axe(themed_served, [*pages, "canary.html"], dark, tmp_path / "profile")
    assert "color-contrast" in {r["id"] for r in results.pop()["violations"]}, "axe found nothing"
    found = {r["page"]: lines for r in results if (lines := findings(r))}
    report = "\n".join(f"{page}:\n  " + "\n  ".join(lines) for page, lines in found.items())
    assert not found, f"axe-core ({', '.join(WCAG_TAGS)}) found:\n{report}"


# ---------------------------------------------------------------------------------------------
# What the commands say.


def test_check_prints_the_contrast_warning(runner: CliRunner, tmp_path: Path) -> None:
    root = site_with(tmp_path / "site", 'accent = "#ffff00"\n')
    line = (root / "feedpub.toml").read_text().splitlines().index('accent = "#ffff00"') + 1
    checked = invoke(runner, "--site", root, "check")
    assert_clean_exit(checked, 0)
    assert f"feedpub.toml:{line}: warning: [theme] accent #ffff00 as the links' colour" in (
        checked.stderr
    )


def test_build_refuses_css_in_a_colour_with_the_line(runner: CliRunner, tmp_path: Path) -> None:
    root = site_with(tmp_path / "site", 'background = "#fff; } body { display:none"\n')
    line = (root / "feedpub.toml").read_text().splitlines().index(
        'background = "#fff; } body { display:none"'
    ) + 1
    built = invoke(runner, "--site", root, "build")
    assert_clean_exit(built, 1)
    assert f"feedpub.toml:{line}: error: [theme] background '#fff; }} body {{ display:none' is" in (
        built.stderr
    )
    assert not (root / "public").exists()
