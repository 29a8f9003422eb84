"""The colours of a theme: from the two a site chooses ([theme] accent and background), every
colour the pages' CSS and the digest's inline styles are written with, light and dark.

Everything but the light scheme's links is derived: the text, the muted text, the rules, the
dark scheme, the text on an accent button, each the least change of feedpub's own colour that
holds WCAG AA (4.5:1) on its background. The links are the accent the site chose, on the
background it chose: ``weak_pairs`` names them when they fall short, for ``check``. Imports
nothing of feedpub's but the colour arithmetic, so that the settings can ask it.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def palettes(accent: str, background: str) -> tuple[Palette, Palette, Palette, Palette]:
    """The pages' light and dark schemes, then the digest's, for ``[theme] accent`` and
    ``background`` ('' for feedpub's own)."""
    site_paper = background or SITE_LIGHT["paper"]
    card = background or DIGEST_LIGHT["paper"]
    return (
        _derive(SITE_LIGHT, site_paper, accent or None),
        _dark(SITE_DARK, site_paper, accent, bool(background)),
        _derive(DIGEST_LIGHT, card, accent or None),
        _dark(DIGEST_DARK, card, accent, bool(background)),
    )


@dataclass(frozen=True)
class WeakPair:
    setting: str
    message: str


def weak_pairs(accent: str, background: str) -> list[WeakPair]:
    """The pairs of colours a site chose that fall below WCAG AA, each with a fix."""
    if not accent:
        return []
    light, _, digest_light, _ = palettes(accent, background)
    # The pages' default background is written #fff, the digest's #ffffff: the same white.
    where: dict[str, list[str]] = {}
    for name, paper in (("pages", light.paper), ("digest", digest_light.paper)):
        where.setdefault(check_colour(paper), []).append(name)
    found: list[WeakPair] = []
    for paper, names in where.items():
        ratio = contrast(accent, paper)
        if ratio >= AA_TEXT:
            continue
        better = ensure(accent, paper, AA_TEXT)
        background = "[theme] background" if background else "the default background"
        found.append(
            WeakPair(
                "accent",
                f"[theme] accent {accent} as the links' colour on {background} "
                f"{paper} ({' and '.join(names)}) has a contrast of {ratio:.2f}:1, under the "
                f"4.5:1 WCAG AA asks of text; use a darker or lighter accent, like accent = "
                f'"{better}", or another background',
            )
        )
    return found
