"""The publication's look ([theme] accent, background, font; [site] logo; the favicon): the
colours the website's CSS and the digest's inline styles are written with, light and dark.

A site sets its accent and background; feedpub derives everything else (the text, the muted
text, the rules, the dark scheme, the text on an accent button) so that each pair of text and
background holds WCAG AA: 4.5:1. Only the light scheme's link, which is the accent the site
chose on the background it chose, can fall short; ``weak_pairs`` names it for ``check``.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from feedpub.colours import (
    AA_TEXT,
    BLACK,
    WHITE,
    check_colour,
    contrast,
    ensure,
    ensure_on,
    is_dark,
    mix,
)
from feedpub.config import Site

# The look of a site that sets nothing: the colours the templates had before there was a theme.
SITE_LIGHT = {
    "ink": "#1d1d1f",
    "muted": "#5f6368",
    "rule": "#e3e3e3",
    "link": "#0b57d0",
    "paper": "#fff",
}
SITE_DARK = {
    "ink": "#e8e8e8",
    "muted": "#a8acb3",
    "rule": "#3a3a3a",
    "link": "#8ab4f8",
    "paper": "#161616",
}
DIGEST_LIGHT = {
    "ink": "#1d1d1f",
    "muted": "#5f6368",
    "rule": "#e3e3e3",
    "link": "#0b4fb3",
    "paper": "#ffffff",
    "wrap": "#f2f2f0",
    "note": "#f7f5ee",
}
DIGEST_DARK = {
    "ink": "#e8e8e8",
    "muted": "#a8acb3",
    "rule": "#3a3a3a",
    "link": "#8ab4f8",
    "paper": "#1c1c1e",
    "wrap": "#111111",
    "note": "#2a2a2c",
}
FONTS = {
    "serif": 'Georgia, "Times New Roman", serif',
    "sans": 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
}
# Mail clients know fewer fonts, and the digest's CSS is inlined into attributes (single quotes).
EMAIL_FONTS = {
    "serif": "Georgia, 'Times New Roman', serif",
    "sans": "Arial, Helvetica, sans-serif",
}
# The text a site's own favicon may be in, best first (browsers take SVG at any size).
FAVICONS = (
    ("favicon.svg", "image/svg+xml"),
    ("favicon.png", "image/png"),
    ("favicon.ico", "image/x-icon"),
)
FAVICON_OUTPUT = "favicon.svg"
# Body text aims higher than AA where the background allows it (AAA: 7:1).
INK_RATIO = 7.0


@dataclass(frozen=True)
class Palette:
    """One scheme's colours: text (ink), secondary text (muted), rules, links, the page
    (paper); the accent's button and its text; in the digest also the page around the card
    (wrap) and the editor's note."""

    ink: str
    muted: str
    rule: str
    link: str
    paper: str
    accent: str
    on_accent: str
    wrap: str = ""
    note: str = ""
    note_link: str = ""  # links in the note, on its background


@dataclass(frozen=True)
class Favicon:
    href: str  # root-relative
    type: str


@dataclass(frozen=True)
class Theme:
    """What the templates see as ``theme``."""

    light: Palette
    dark: Palette
    digest_light: Palette
    digest_dark: Palette
    # CSS, written into <style> as it is (Markup): one of FONTS, never the site's text.
    font: str
    email_font: str
    # Whether the site chose an accent: then buttons wear it (a site without keeps its look).
    accented: bool
    # Whether it chose an accent or a background: then the note's links are styled too (in a
    # site without, they keep the mail client's own link colours, as they always had).
    coloured: bool
    logo: str  # root-relative or absolute; "" for none
    favicon: Favicon


def _derive(defaults: dict[str, str], paper: str, accent: str | None) -> Palette:
    """A scheme on ``paper``: the default colours where they hold AA on it, else the least
    change of them that does; the link is ``accent`` as it is (None: the default's)."""
    ink = ensure(defaults["ink"], paper, INK_RATIO)
    note = defaults.get("note", "")
    wrap = defaults.get("wrap", "")
    rule = defaults["rule"]
    if paper != defaults["paper"]:
        rule = mix(paper, ink, 0.14)
        # The note is tinted towards the text where the text has room to spare, else away.
        if note:
            towards = ink if contrast(ink, paper) >= INK_RATIO else WHITE if is_dark(ink) else BLACK
            note, wrap = mix(paper, towards, 0.05), mix(paper, ink, 0.07)
    grounds = (paper, note) if note else (paper,)
    ink = ensure_on(ink, grounds, AA_TEXT)
    muted = ensure_on(defaults["muted"], grounds, AA_TEXT)
    if note and min(contrast(ink, note), contrast(muted, note)) < AA_TEXT:
        note = paper  # no tint rather than a note that is hard to read
        ink, muted = ensure(ink, paper, AA_TEXT), ensure(defaults["muted"], paper, AA_TEXT)
    # feedpub's own link colour is fitted to the background; the site's accent is its choice.
    link = ensure(defaults["link"], paper, AA_TEXT) if accent is None else accent
    button = accent or link
    on_accent = ensure(WHITE, button, AA_TEXT)
    note_link = ensure(link, note, AA_TEXT) if note else ""
    return Palette(ink, muted, rule, link, paper, button, on_accent, wrap, note, note_link)


def _dark(defaults: dict[str, str], light_paper: str, accent: str, chose: bool) -> Palette:
    """The dark scheme: a site whose background is dark already keeps it; the accent is
    lightened where it does not stand out from the dark paper."""
    paper = light_paper if chose and is_dark(light_paper) else defaults["paper"]
    palette = _derive(defaults, paper, None)
    if not accent:
        return palette
    link = ensure(accent, paper, AA_TEXT)
    note_link = ensure(link, palette.note, AA_TEXT) if palette.note else ""
    return Palette(
        palette.ink,
        palette.muted,
        palette.rule,
        link,
        paper,
        link,
        ensure(WHITE, link, AA_TEXT),
        palette.wrap,
        palette.note,
        note_link,
    )


def palettes(site: Site) -> tuple[Palette, Palette, Palette, Palette]:
    """The pages' light and dark schemes, then the digest's."""
    chosen = site.theme
    accent = chosen.accent or None
    site_paper = chosen.background or SITE_LIGHT["paper"]
    card = chosen.background or DIGEST_LIGHT["paper"]
    return (
        _derive(SITE_LIGHT, site_paper, accent),
        _dark(SITE_DARK, site_paper, chosen.accent, bool(chosen.background)),
        _derive(DIGEST_LIGHT, card, accent),
        _dark(DIGEST_DARK, card, chosen.accent, bool(chosen.background)),
    )


def theme(site: Site) -> Theme:
    """The site's look, from its settings and its static/ folder."""
    from markupsafe import Markup  # with Jinja2, which only a render loads

    light, dark, digest_light, digest_dark = palettes(site)
    return Theme(
        light=light,
        dark=dark,
        digest_light=digest_light,
        digest_dark=digest_dark,
        font=Markup(FONTS[site.theme.font]),
        email_font=Markup(EMAIL_FONTS[site.theme.font]),
        accented=bool(site.theme.accent),
        coloured=bool(site.theme.accent or site.theme.background),
        logo=site.logo,
        favicon=favicon(site),
    )


def favicon(site: Site) -> Favicon:
    """static/'s favicon.svg, .png or .ico, else the one feedpub writes (favicon_svg)."""
    for name, kind in FAVICONS:
        if (site.static_dir / name).is_file():
            return Favicon("/" + name, kind)
    return Favicon("/" + FAVICON_OUTPUT, "image/svg+xml")


def favicon_svg(site: Site) -> bytes:
    """A favicon for a site without one: the title's first letter on the accent colour."""
    look = palettes(site)[0]
    initial = next((c for c in site.site.title if c.isalnum()), "·").upper()
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
        f'<rect width="64" height="64" rx="12" fill="{look.accent}"/>'
        '<text x="32" y="45" font-family="system-ui, sans-serif" font-size="38" '
        f'font-weight="bold" text-anchor="middle" fill="{look.on_accent}">{escape(initial)}'
        "</text></svg>\n"
    ).encode()


@dataclass(frozen=True)
class WeakPair:
    setting: str
    message: str


def weak_pairs(site: Site) -> list[WeakPair]:
    """The pairs of colours the site chose that fall below WCAG AA, each with a fix."""
    chosen = site.theme
    if not chosen.accent:
        return []
    found: list[WeakPair] = []
    seen = set()
    light, _, digest_light, _ = palettes(site)
    for where, paper in (("pages", light.paper), ("digest", digest_light.paper)):
        paper = check_colour(paper)  # the pages' default is written #fff
        ratio = contrast(chosen.accent, paper)
        if ratio >= AA_TEXT or paper in seen:
            continue
        seen.add(paper)
        better = ensure(chosen.accent, paper, AA_TEXT)
        background = "[theme] background" if chosen.background else "the default background"
        found.append(
            WeakPair(
                "accent",
                f"[theme] accent {chosen.accent} as the links' colour on {background} "
                f"{paper} ({where}) has a contrast of {ratio:.2f}:1, under the 4.5:1 WCAG AA "
                f'asks of text; use a darker or lighter accent, like accent = "{better}", '
                "or another background",
            )
        )
    return found
