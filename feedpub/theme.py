"""The publication's look as the templates see it (``theme``): the colours of [theme] accent
and background (palette.py derives them, light and dark, at WCAG AA), the font, the logo of
[site] logo, and the favicon: static/'s own, or the one feedpub draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from feedpub import palette
from feedpub.config import Site
from feedpub.links import site_url
from feedpub.palette import Palette, WeakPair
from feedpub.palette import palettes as derived

FONTS = {
    "serif": 'Georgia, "Times New Roman", serif',
    "sans": 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
}
# Mail clients know fewer fonts, and the digest's CSS is inlined into attributes (single quotes).
EMAIL_FONTS = {
    "serif": "Georgia, 'Times New Roman', serif",
    "sans": "Arial, Helvetica, sans-serif",
}
# The files a site's own favicon may be, best first (browsers take SVG at any size).
FAVICONS = (
    ("favicon.svg", "image/svg+xml"),
    ("favicon.png", "image/png"),
    ("favicon.ico", "image/x-icon"),
)
FAVICON_OUTPUT = "favicon.svg"


@dataclass(frozen=True)
class Favicon:
    href: str  # root-relative from favicon(), absolute in a Theme
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
    logo: str  # an absolute URL; "" for none
    favicon: Favicon


def palettes(site: Site) -> tuple[Palette, Palette, Palette, Palette]:
    """The pages' light and dark schemes, then the digest's (palette.palettes)."""
    return derived(site.theme.accent, site.theme.background)


def theme(site: Site) -> Theme:
    """The site's look, from its settings and its static/ folder."""
    from markupsafe import Markup  # with Jinja2, which only a render loads

    light, dark, digest_light, digest_dark = palettes(site)
    # Absolute, as the pages' other links are: the web app's pages, served from another
    # address, show them too ([site] relative_urls makes them relative in the site's pages).
    root = site.site.url
    icon = favicon(site)
    return Theme(
        light=light,
        dark=dark,
        digest_light=digest_light,
        digest_dark=digest_dark,
        font=Markup(FONTS[site.theme.font]),
        email_font=Markup(EMAIL_FONTS[site.theme.font]),
        accented=bool(site.theme.accent),
        coloured=bool(site.theme.accent or site.theme.background),
        logo=site_url(root, site.logo) if site.logo else "",
        favicon=Favicon(site_url(root, icon.href), icon.type),
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


def weak_pairs(site: Site) -> list[WeakPair]:
    """The pairs of colours the site chose that fall below WCAG AA (palette.weak_pairs)."""
    return palette.weak_pairs(site.theme.accent, site.theme.background)
