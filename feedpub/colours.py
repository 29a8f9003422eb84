"""The publication's colours and font: ``[theme]``'s accent and background read into what the
pages' and the digest's templates write, with the contrast of every text on its background measured
as WCAG 2 measures it.

The pages set CSS custom properties (--ink, --paper, --link...) for light and dark mode; the
digest gets the same colours as values, since Outlook and Gmail need them inline (premailer
writes them into style attributes). A site chooses ``accent`` (its links) and ``background``;
the rest is derived from them: the text and muted text darkened or lightened until they read
at AA (4.5:1) on the chosen background, the dark mode's links lightened from the accent until
they read on the dark paper. What a site's own choice cannot meet (a yellow accent on white)
is kept, as chosen, and ``feedpub check`` says so (``contrast_problems``).

A basic module that imports no other part of feedpub: config checks the settings with it and
warns with ``contrast_problems``; feedpub.theme gives the templates its palettes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

# WCAG 2's minimum contrast for text (success criterion 1.4.3, level AA).
AA_TEXT = 4.5
# The body text aims at AAA's 7:1 (1.4.6) where it is moved: AA is the least that passes, and a
# page of grey text at 4.6:1 on a dark background reads poorly.
AAA_TEXT = 7.0
_HEX = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
FONTS = ("serif", "sans")
# The body's font in pages and in the digest; headings and notes stay sans in pages.
PAGE_FONTS = {
    "serif": 'Georgia, "Times New Roman", serif',
    "sans": 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
}
EMAIL_FONTS = {
    "serif": "Georgia, 'Times New Roman', serif",
    "sans": "Arial, Helvetica, sans-serif",
}

def check_colour(value: str) -> str:
    """A CSS hex colour, "#rgb" or "#rrggbb", lowercased; anything else is refused, so that a
    setting can never write more CSS than one colour. Empty: not set."""
    if value and _HEX.fullmatch(value) is None:
        shown = repr(value) if len(value) <= 40 else f"{value[:40]!r}... ({len(value)} characters)"
        raise ValueError(
            f'must be a hex colour like "#0b57d0" or "#c03" (a # and 3 or 6 hex digits), '
            f"not {shown}"
        )
    return value.lower()


def check_font(value: str) -> str:
    if value not in FONTS:
        shown = repr(value) if len(value) <= 40 else f"{value[:40]!r}..."
        raise ValueError(f'must be "serif" or "sans", not {shown}')
    return value


def rgb(colour: str) -> tuple[int, int, int]:
    digits = colour[1:]
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def luminance(colour: str) -> float:
    """WCAG 2's relative luminance of an sRGB colour (0 black, 1 white). The threshold is
    WCAG's 0.03928, as axe-core's is."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = map(linear, rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(one: str, other: str) -> float:
    """WCAG 2's contrast ratio of two colours, from 1 (the same) to 21 (black on white)."""
    a, b = luminance(one), luminance(other)
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


def mix(colour: str, towards: str, share: float) -> str:
    """``colour`` moved ``share`` (0 to 1) of the way to ``towards``, as #rrggbb."""
    a, b = rgb(colour), rgb(towards)
    return "#" + "".join(f"{round(x + (y - x) * share):02x}" for x, y in zip(a, b, strict=True))


def readable(colour: str, backgrounds: tuple[str, ...], ratio: float = AA_TEXT) -> str:
    """``colour`` as it is when it reads at ``ratio`` on every one of ``backgrounds``; else
    the least change of it towards black or white (whichever reads better) that does; black
    or white when nothing nearer does."""
    if min(contrast(colour, bg) for bg in backgrounds) >= ratio:
        return colour
    ends = sorted(
        ("#000000", "#ffffff"), key=lambda end: -min(contrast(end, bg) for bg in backgrounds)
    )
    for end in ends:
        for step in range(1, 65):
            moved = mix(colour, end, step / 64)
            if min(contrast(moved, bg) for bg in backgrounds) >= ratio:
                return moved
    return ends[0]


def _shade(colour: str, share: float) -> str:
    """A quieter surface next to ``colour``: a little darker, or lighter on a dark one."""
    return mix(colour, "#000000" if luminance(colour) > 0.18 else "#ffffff", share)


@dataclass(frozen=True)
class Palette:
    """The colours of one mode (light or dark): the pages' (paper, ink, muted, rule, link)
    and the digest's (wrap around the card, card, note, title links, the note's links)."""

    paper: str
    ink: str
    muted: str
    rule: str
    link: str
    wrap: str
    card: str
    note: str
    title: str
    # The links of the editor's note, on the note: a themed digest colours them (a site that
    # sets nothing leaves them to the mail client, as before [theme]).
    note_link: str


# Today's look, exactly: a site that sets nothing gets the bytes it got before [theme].
LIGHT = Palette(
    paper="#fff",
    ink="#1d1d1f",
    muted="#5f6368",
    rule="#e3e3e3",
    link="#0b57d0",
    wrap="#f2f2f0",
    card="#ffffff",
    note="#f7f5ee",
    title="#0b4fb3",
    note_link="#0b4fb3",
)
DARK = Palette(
    paper="#161616",
    ink="#e8e8e8",
    muted="#a8acb3",
    rule="#3a3a3a",
    link="#8ab4f8",
    wrap="#111111",
    card="#1c1c1e",
    note="#2a2a2c",
    title="#8ab4f8",
    note_link="#8ab4f8",
)
# Every text colour with each background it is written on (pages and digest): what must read
# at AA. The rule is a line, not text, and the wrap carries no text.
TEXT_PAIRS = (
    ("ink", "paper"),
    ("muted", "paper"),
    ("link", "paper"),
    ("ink", "card"),
    ("muted", "card"),
    ("title", "card"),
    ("ink", "note"),
    ("note_link", "note"),
)
# Which setting chose each text colour's pair, when it fails: the accent chose the links.
_CHOSEN_BY = {"link": "accent", "title": "accent"}


def light_palette(accent: str = "", background: str = "") -> Palette:
    colours = LIGHT
    if background:
        note = _shade(background, 0.03)
        ink = readable(LIGHT.ink, (background, note), AAA_TEXT)
        if contrast(ink, note) < AA_TEXT or contrast(ink, background) < AA_TEXT:
            # A background near the middle, where no text reads on both it and a shade of it
            # (#777: black reads on it, not on a shade darker): the note goes untinted.
            note = background
            ink = readable(LIGHT.ink, (background,))
        colours = replace(
            colours,
            paper=background,
            card=background,
            wrap=_shade(background, 0.05),
            note=note,
            ink=ink,
            muted=readable(LIGHT.muted, (background,)),
            rule=mix(background, ink, 0.12),
            link=readable(LIGHT.link, (background,)),
            title=readable(LIGHT.title, (background,)),
            note_link=readable(LIGHT.note_link, (note,)),
        )
    if accent:  # as chosen: check says when it does not read
        # The note's background is feedpub's, not the site's: its links are fitted to it.
        colours = replace(
            colours, link=accent, title=accent, note_link=readable(accent, (colours.note,))
        )
    return colours


def dark_palette(accent: str = "") -> Palette:
    if not accent:
        return DARK
    # The accent lightened (or darkened) until it reads on the dark paper and card.
    link = readable(accent, (DARK.paper, DARK.card))
    return replace(DARK, link=link, title=link, note_link=readable(link, (DARK.note,)))


@dataclass(frozen=True)
class Failure:
    """A text colour that does not read on its background."""

    mode: str  # "light" or "dark"
    text: str  # the Palette's field names
    background: str
    ratio: float

    def colours(self, palette: Palette) -> tuple[str, str]:
        return getattr(palette, self.text), getattr(palette, self.background)


def failures(accent: str = "", background: str = "") -> list[Failure]:
    """Every pair of TEXT_PAIRS under AA, in light and dark mode."""
    found: list[Failure] = []
    for mode, palette in (
        ("light", light_palette(accent, background)),
        ("dark", dark_palette(accent)),
    ):
        for text, back in TEXT_PAIRS:
            ratio = contrast(getattr(palette, text), getattr(palette, back))
            if ratio < AA_TEXT:
                found.append(Failure(mode, text, back, ratio))
    return found


_WHERE = {
    "ink": "the text",
    "muted": "the dates and footers",
    "link": "the pages' links",
    "title": "the digest's titles",
    "note_link": "the note's links",
}


def contrast_problems(accent: str = "", background: str = "") -> list[tuple[str, str]]:
    """(setting, message) for each colour pair under AA: the setting that chose it, the pair,
    its measured ratio and a colour that would read. Pairs of the same two colours are told
    once."""
    problems: list[tuple[str, str]] = []
    told: dict[tuple[str, str, str], list[str]] = {}
    for failure in failures(accent, background):
        palette = light_palette(accent, background) if failure.mode == "light" else dark_palette(
            accent
        )
        fg, bg = failure.colours(palette)
        # The pages' "#fff" and the digest's "#ffffff" are one colour, told once.
        told.setdefault((failure.mode, mix(fg, fg, 0), mix(bg, bg, 0)), []).append(failure.text)
    for (mode, fg, bg), texts in told.items():
        where = " and ".join(dict.fromkeys(_WHERE[t] for t in texts))
        ratio = contrast(fg, bg)
        setting = "accent" if all(_CHOSEN_BY.get(t) == "accent" for t in texts) else "background"
        if setting == "accent":
            fix = readable(accent, (bg,))
            message = (
                f'[theme] accent "{accent}" ({where}) on the background {bg} has a contrast of '
                f"{ratio:.2f}:1 in {mode} mode, under the 4.5:1 WCAG AA asks of text; "
                f'use an accent that reads on it, such as accent = "{fix}"'
            )
        else:
            fix = _readable_background(accent, background)
            message = (
                f'[theme] background "{background}" under {where} ({fg}) has a contrast of '
                f"{ratio:.2f}:1 in {mode} mode, under the 4.5:1 WCAG AA asks of text; "
                f'use a lighter or darker background, such as background = "{fix}"'
            )
        problems.append((setting, message))
    return problems


def _readable_background(accent: str, background: str) -> str:
    """The nearest background (towards white, else black) whose own pairs all read."""
    for end in ("#ffffff", "#000000"):
        for step in range(1, 65):
            moved = mix(background, end, step / 64)
            if not any(f.text not in _CHOSEN_BY for f in failures("", moved)):
                return moved
    return "#ffffff"
