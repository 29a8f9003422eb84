"""The media front matter fields: ``enclosure`` (a podcast's episode), ``duration`` and ``lang``.

``enclosure`` is a mapping (``url``, ``length`` in bytes, ``type``, a MIME type) or the text of
an http(s) URL or a path of a file in ``static/``; for a file, feedpub reads its length from the
file and its type from its name (mimetypes). A URL without a length is refused: RSS requires
one, and only a file of the site can be measured without fetching it. Each check raises
ValueError with the whole message; the readers add the file and line.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from feedpub.config import _check_language
from feedpub.content import uris
from feedpub.model import Article

# A media file's length: RSS and JSON Feed take any non-negative integer; a petabyte is more
# than any episode, and bounds what a typing slip can write into every feed.
MAX_LENGTH = 10**15
MAX_TYPE = 127
MAX_DURATION = 100 * 3600
MAX_NUMBER = 1_000_000  # an episode's or season's number; Apple takes any positive one
# RFC 6838's type/subtype names (restricted-name), parameters refused: feeds carry the bare type.
_MIME = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,62}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,62}")
_CLOCK = re.compile(r"(?:(\d{1,3}):)?([0-5]?\d):([0-5]\d)")
ENCLOSURE_EXAMPLE = (
    "write 'enclosure: /audio/episode-1.mp3' (a file in static/) or a mapping with url, "
    "length (bytes) and type, like {url: 'https://example.org/ep1.mp3', length: 12345678, "
    "type: audio/mpeg}"
)


@dataclass(frozen=True)
class Enclosure:
    url: str  # as written out: absolute, or a path in the site
    length: int
    type: str


def enclosure(value: Any, static_dir: Path) -> Enclosure:
    """The enclosure a front matter value gives."""
    if isinstance(value, str):
        url = _url(value)
        if _is_site_path(url):
            size, guessed = _static_file(value.strip(), static_dir)
            return Enclosure(url, size, guessed)
        raise ValueError(
            f"'enclosure' {value.strip()!r} is a URL elsewhere, whose length feedpub cannot "
            f"read; give it as a mapping with its length: {ENCLOSURE_EXAMPLE}"
        )
    if not isinstance(value, dict):
        raise ValueError(f"'enclosure' must be a path or a mapping; {ENCLOSURE_EXAMPLE}")
    unknown = sorted(str(k) for k in value if k not in {"url", "length", "type"})
    if unknown:
        raise ValueError(
            f"'enclosure' has the unknown key {unknown[0][:40]!r}; it takes url, length and type"
        )
    if "url" not in value or not isinstance(value["url"], str):
        raise ValueError(f"'enclosure' needs a url as text; {ENCLOSURE_EXAMPLE}")
    url = _url(value["url"])
    static: tuple[int, str] | None = None
    if _is_site_path(url) and ("length" not in value or "type" not in value):
        static = _static_file(value["url"].strip(), static_dir)
    length = _length(value["length"]) if "length" in value else None
    kind = _type(value["type"]) if "type" in value else None
    if length is None:
        if static is None:
            raise ValueError("'enclosure' needs a length: the file's size in bytes, like 12345678")
        length = static[0]
    if kind is None:
        if static is None:
            raise ValueError("'enclosure' needs a type: the file's MIME type, like audio/mpeg")
        kind = static[1]
    return Enclosure(url, length, kind)


def _url(text: str) -> str:
    text = text.strip()
    if not text:
        raise ValueError(f"'enclosure' is empty; {ENCLOSURE_EXAMPLE}")
    if len(text) > 2000:
        raise ValueError(f"'enclosure' is {len(text)} characters; keep it under 2000")
    if (bad := uris.first_control(text)) is not None:
        raise ValueError(
            f"'enclosure' holds the control character U+{ord(text[bad]):04X}; remove it"
        )
    return uris.web_url(text, "enclosure", site_paths=True)


def _is_site_path(url: str) -> bool:
    return not url.lower().startswith(("http://", "https://"))


def _static_file(text: str, static_dir: Path) -> tuple[int, str]:
    """The length and type of the file of static/ that a site path names."""
    relative = text.split("?", 1)[0].split("#", 1)[0].lstrip("/")
    parts = [p for p in relative.split("/") if p not in {"", "."}]
    if ".." in parts or not parts:
        raise ValueError(
            f"'enclosure' {text!r} leaves static/; name a file in it, like /audio/episode-1.mp3"
        )
    path = static_dir.joinpath(*parts)
    try:
        inside = path.resolve().is_relative_to(static_dir.resolve())
        size = path.stat().st_size if inside and path.is_file() else None
    except (OSError, ValueError):
        size = None
    if size is None:
        raise ValueError(
            f"'enclosure' {text!r}: no such file in static/ (looked for "
            f"static/{'/'.join(parts)}); copy the file there, or fix the path"
        )
    kind, _ = mimetypes.guess_type(path.name, strict=False)
    if kind is None:
        raise ValueError(
            f"'enclosure' {text!r}: feedpub cannot tell the type of a {path.suffix or 'bare'} "
            "file; give the enclosure as a mapping with its type, like type: audio/mpeg"
        )
    return size, kind


def _length(value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 16:
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(
            f"'enclosure' length must be a whole number of bytes, like 12345678, not {value!r:.40}"
        )
    if not 0 <= value <= MAX_LENGTH:
        raise ValueError(
            f"'enclosure' length must be from 0 to {MAX_LENGTH} bytes, not {_short(value)}"
        )
    return value


def _short(value: int) -> str:
    # str() of an integer of more than 4300 digits raises; YAML reads any length.
    digits = len(str(value)) if abs(value) < 10**100 else 101
    return str(value) if digits <= 40 else f"a number of {digits}+ digits"


def _type(value: Any) -> str:
    if not isinstance(value, str) or not _MIME.fullmatch(value.strip()):
        raise ValueError(
            f"'enclosure' type must be a MIME type, like audio/mpeg or video/mp4, not {value!r:.60}"
        )
    return value.strip().lower()


def duration(value: Any) -> int:
    """A running time in seconds, from seconds (3723) or a clock (1:02:03, 62:03)."""
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 9:
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and (clock := _CLOCK.fullmatch(value.strip())):
        hours, minutes, secs = (int(part or 0) for part in clock.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    else:
        raise ValueError(
            "'duration' must be seconds (3723) or hours:minutes:seconds (1:02:03), "
            f"not {value!r:.40}"
        )
    if not 0 < seconds <= MAX_DURATION:
        raise ValueError(f"'duration' must be from 1 second to 100 hours, not {seconds} seconds")
    return seconds


def number(value: Any, name: str) -> int:
    """An episode's or season's number (itunes:episode, itunes:season): a whole number from 1."""
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 9:
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_NUMBER:
        raise ValueError(
            f"'{name}' must be a whole number from 1 to {MAX_NUMBER:,}, like 12, not {value!r:.40}"
        )
    return value


def lang(value: Any) -> str:
    """A BCP 47 language tag, checked as ``[site] language`` is."""
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > 35:
        raise ValueError(f"'lang' must be a language tag like 'en' or 'pt-BR', not {value!r:.40}")
    try:
        return _check_language(value.strip())
    except ValueError as exc:
        raise ValueError(f"'lang': {exc}") from None


def enclosure_current(article: Article | None, static_dir: Path) -> bool:
    """Whether a cached article's enclosure, if it is a file of static/, still has the length
    read with it: the article's file may be unchanged while the media file was replaced."""
    url = article.enclosure_url if article is not None else ""
    if article is None or not url or not _is_site_path(url):
        return True
    try:
        size, _ = _static_file(unquote(url), static_dir)
    except ValueError:
        return False
    return size == article.enclosure_length


def clock(seconds: int) -> str:
    """A duration as itunes:duration's HH:MM:SS (the W3C validator takes no bare seconds)."""
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
