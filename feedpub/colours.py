"""Colours as the theme settings write them (#rgb, #rrggbb) and the WCAG 2.x contrast between
two of them; imports nothing of feedpub's, so that the settings can check a colour."""

from __future__ import annotations

import re

# WCAG 2.x success criteria 1.4.3 and 1.4.11: body text, and large text or a control's parts.
AA_TEXT = 4.5
AA_LARGE = 3.0
BLACK = "#000000"
WHITE = "#ffffff"
MAX_COLOUR_TEXT = 40
_HEX = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_WORD = re.compile(r"[A-Za-z]+")


def check_colour(value: str) -> str:
    """A colour setting as the CSS and the digest write it: '#rrggbb' in lower case ('' for
    none). Only hex is taken: the value goes as it is into a page's <style> and the digest's
    inline styles, where anything else (a ';', a url(...)) would be CSS of the site's own."""
    if value == "":
        return value
    if len(value) > MAX_COLOUR_TEXT:
        raise ValueError(
            f"is {len(value)} characters, not a colour; write one as '#rrggbb', like '#b3261e'"
        )
    if _HEX.fullmatch(value):
        digits = value[1:].lower()
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        return "#" + digits
    if _WORD.fullmatch(value):
        raise ValueError(
            f"{value!r} is a colour name; write the colour in hex, as '#rrggbb' (like '#b3261e'), "
            "so that feedpub can measure its contrast and mail clients show it the same"
        )
    raise ValueError(
        f"{value[:MAX_COLOUR_TEXT]!r} is not a colour; write it as '#rgb' or '#rrggbb', like "
        "'#b3261e' (nothing else: the value goes into the site's CSS as it is)"
    )


def rgb(colour: str) -> tuple[int, int, int]:
    """The red, green and blue of '#rrggbb' (or '#rgb')."""
    if len(colour) == 4:
        colour = "#" + "".join(c * 2 for c in colour[1:])
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def hex_colour(red: float, green: float, blue: float) -> str:
    return "#" + "".join(f"{max(0, min(255, round(c))):02x}" for c in (red, green, blue))


def luminance(colour: str) -> float:
    """The relative luminance of WCAG 2.x (sRGB), from 0 (black) to 1 (white)."""
    linear = []
    for channel in rgb(colour):
        c = channel / 255
        linear.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    """The contrast ratio of WCAG 2.x, from 1 to 21."""
    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def mix(one: str, other: str, share: float) -> str:
    """``one`` with ``share`` (0 to 1) of ``other`` mixed in, channel by channel."""
    a, b = rgb(one), rgb(other)
    return hex_colour(*(x + (y - x) * share for x, y in zip(a, b, strict=True)))


def is_dark(colour: str) -> bool:
    """Whether text on ``colour`` reads better light than dark."""
    return contrast(WHITE, colour) > contrast(BLACK, colour)


def ensure(colour: str, background: str, ratio: float) -> str:
    """``colour``, or the least change of it towards black or white (whichever stands out more
    from ``background``) that reaches ``ratio`` against ``background``; black or white itself
    when no mix does (then it has the most contrast there is, over 4.5:1 on any background)."""
    return ensure_on(colour, (background,), ratio)


def ensure_on(colour: str, backgrounds: tuple[str, ...], ratio: float) -> str:
    """``colour`` changed as little as it takes to reach ``ratio`` on each of ``backgrounds``
    (which should be alike); else black or white, whichever stands out more from them all."""

    def worst(candidate: str) -> float:
        return min(contrast(candidate, b) for b in backgrounds)

    if worst(colour) >= ratio:
        return colour
    extreme = max((WHITE, BLACK), key=worst)
    for step in range(1, 101):
        mixed = mix(colour, extreme, step / 100)
        if worst(mixed) >= ratio:
            return mixed
    return extreme
