"""Pictures: which images an article shows would be missing once published, for ``check``.

The build copies only static/ as it is, so an image an article names by a path in the site
(``image:``, or an image in its body: ``![alt](a.png)``, ``<img src="/images/a.png">``) must be
a file there, and an image file kept in content/ is never published. Each finding is a warning
naming the file and the line. Only ``check`` looks (catalog.load): finding an article's images
means rendering its body again, which a build from cron should not pay for on every run.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from feedpub.config import Site
from feedpub.content import tree
from feedpub.content.readers import render_html
from feedpub.content.readers.common import Findings, decode, read_bytes
from feedpub.content.uris import written_image
from feedpub.errors import Problem
from feedpub.model import Article

IMAGE_SUFFIXES = frozenset(
    ".apng .avif .bmp .gif .ico .jpeg .jpg .png .svg .tif .tiff .webp".split()
)
_IMAGE_KEY = re.compile(r"^[ \t]*image[ \t]*[:=]", re.IGNORECASE | re.MULTILINE)


def is_image_name(name: str) -> bool:
    return posixpath.splitext(name)[1].lower() in IMAGE_SUFFIXES and not name.startswith(".")


def problems(site: Site, articles: Iterable[tuple[Article, str]]) -> list[Problem]:
    """The warnings for image files in content/ and for each article's missing images;
    ``articles``: each with the URL of its page (relative images resolve against it)."""
    walked = tree.walk(site.content_dir, "content", tree.of_site(site), is_image_name, (".", "_"))
    found = [_stray(site, path) for path, _ in walked.files]
    for article, page in articles:
        if article.url is None:  # an article that lives elsewhere: its images are there
            found.extend(_missing(site, article, page))
    return found


def _relpath(site: Site, path: str | Path) -> str:
    return Path(path).relative_to(site.root).as_posix()


def _stray(site: Site, path: str) -> Problem:
    name = posixpath.basename(path)
    return Problem(
        _relpath(site, path),
        0,
        "warning",
        "is an image in content/, which the build never publishes: move it into static/ "
        f"(static/images/{name} is served as /images/{name}) and show it from there",
    )


class _Images(HTMLParser):
    """The src of every <img> in a fragment, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            src = dict(attrs).get("src")
            if src:
                self.sources.append(src)


def _missing(site: Site, article: Article, page: str) -> list[Problem]:
    # What reading the file finds again was told when the article was read.
    told = Findings(article.relpath)
    raw = read_bytes(Path(article.source), told, site)
    if raw is None:
        return []
    text = decode(raw, told)
    found = Findings(article.relpath)
    where = _static_path(site, article.image, page) if article.image else None
    if where is not None and not where.is_file():
        match = _IMAGE_KEY.search(text)
        line = text.count("\n", 0, match.start()) + 1 if match else 1
        found.warning(
            line,
            f"'image' {article.image!r} is not a file in static/ (looked for "
            f"{_relpath(site, where)}): add it there, or fix the path",
        )
    if article.body_format == "text":  # a plain-text body shows no images
        return found.problems
    images = _Images()
    images.feed(render_html(article, site))
    images.close()
    for src in images.sources:
        where = _static_path(site, src, page)
        if where is None or where.is_file():
            continue
        at = text.find(src)
        if at < 0:
            at = text.find(unquote(src))
        line = text.count("\n", 0, at) + 1 if at >= 0 else 1
        message = (
            f"the image {src!r} is not a file in static/ (looked for {_relpath(site, where)}): "
            "add it there, or fix the path"
        )
        beside = Path(article.source).parent / unquote(urlsplit(src).path)
        if not src.startswith("/") and beside.is_file():
            message = (
                f"the image {src!r} is next to the article in content/, which the build never "
                f"publishes: move it to {_relpath(site, where)}, or into static/images/ and "
                f"write '/images/{posixpath.basename(unquote(urlsplit(src).path))}'"
            )
        found.warning(line, message)
    return found.problems


def _static_path(site: Site, reference: str, page: str) -> Path | None:
    """Where under static/ the image ``reference`` on ``page`` must be; None for an image on
    another site, or one no file can serve (a data: URL, a query)."""
    written = written_image(reference)
    if written is None:
        return None
    url = urlsplit(urljoin(page, written))
    home = urlsplit(site.site.url)
    if (url.scheme, url.netloc) != (home.scheme, home.netloc):
        return None
    if not url.path.startswith(home.path):
        return None
    inside = unquote(url.path[len(home.path) :])
    parts = [part for part in inside.split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return site.static_dir.joinpath(*parts)
