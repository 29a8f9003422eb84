"""What the templates see as ``theme``: the site's palettes (feedpub.colours), font, logo and
icons; and the favicon the build makes for a site whose static/ has none."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from urllib.parse import quote

from feedpub.colours import (
    EMAIL_FONTS,
    LIGHT,
    PAGE_FONTS,
    Palette,
    contrast,
    dark_palette,
    light_palette,
)
from feedpub.config import Site

# The files of static/ a page links as its icon, in the order they are linked, with their
# <link> attributes; with none of them the build writes GENERATED_ICON.
ICON_FILES = (
    ("favicon.ico", ' sizes="any"'),
    ("favicon.svg", ' type="image/svg+xml"'),
    ("favicon.png", ' type="image/png"'),
)
GENERATED_ICON = "favicon.svg"


@dataclass(frozen=True)
class Icon:
    href: str
    attributes: str  # ' type="image/svg+xml"': what the <link> says besides rel and href


@dataclass(frozen=True)
class Theme:
    """What the templates see as ``theme``."""

    light: Palette
    dark: Palette
    font: str
    page_font: str  # the body's font-family in pages (write it with |safe in <style>)
    email_font: str  # the same in the digest and the short emails
    logo: str  # the logo's absolute URL, or ""
    icons: tuple[Icon, ...]
    custom: bool  # whether [theme] changes any colour or the font


def theme_of(site: Site) -> Theme:
    """The site's theme, from its settings and the icons in static/."""
    settings = site.theme
    root = site.site.url
    logo = logo_setting(site)
    if logo and not logo.startswith("https://"):
        logo = root + quote(logo)
    icons = tuple(
        Icon(root + name, attributes) for name, attributes in ICON_FILES if name in icon_names(site)
    ) or (Icon(root + GENERATED_ICON, ' type="image/svg+xml"'),)
    return Theme(
        light=light_palette(settings.accent, settings.background),
        dark=dark_palette(settings.accent),
        font=settings.font,
        page_font=PAGE_FONTS[settings.font],
        email_font=EMAIL_FONTS[settings.font],
        logo=logo,
        icons=icons,
        custom=bool(settings.accent or settings.background or settings.font != "serif"),
    )


def logo_setting(site: Site) -> str:
    """``[site] logo``, else ``[theme] logo`` (config refuses the two when they differ)."""
    return site.site.logo or site.theme.logo


def icon_names(site: Site) -> tuple[str, ...]:
    """The icon files static/ has (ICON_FILES), in order."""
    return tuple(name for name, _ in ICON_FILES if (site.static_dir / name).is_file())


def generated_icon(site: Site) -> bytes:
    """The favicon of a site whose static/ has none: the first letter of its title, on the
    accent colour, in the colour (black or white) that reads on it best."""
    accent = site.theme.accent or LIGHT.link
    letter = next((c for c in site.site.title if c.isalnum()), "")
    upper = letter.upper()
    letter = upper if len(upper) == 1 else letter
    on = max(("#ffffff", "#000000"), key=lambda c: contrast(c, accent))
    text = (
        f'<text x="32" y="45" font-family="Georgia, serif" font-size="40" font-weight="bold" '
        f'text-anchor="middle" fill="{on}">{escape(letter)}</text>'
        if letter
        else ""
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
        f'<rect width="64" height="64" rx="12" fill="{accent}"/>{text}</svg>\n'
    ).encode()


