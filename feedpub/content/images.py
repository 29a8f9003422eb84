"""Pictures: which images an article shows would be missing once published, for ``check``.

The build copies only static/ as it is, so an image an article names by a path in the site
(``image:``, or an image in its body: ``![alt](a.png)``, ``<img src="/images/a.png">``) must be
a file there, and an image file kept in content/ is never published. Each finding is a warning
naming the file and the line. Only ``check`` looks (catalog.load): finding an article's images
means rendering its body again, which a build from cron should not pay for on every run.
"""

from __future__ import annotations

import html
import posixpath
import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from feedpub.config import Site
from feedpub.content import tree
from feedpub.content.readers import load_body, render_html
from feedpub.content.readers.common import Findings, decode, read_bytes
from feedpub.content.uris import written_image
from feedpub.errors import Problem
from feedpub.links import site_url
from feedpub.model import Article, evolve

IMAGE_SUFFIXES = frozenset(
    ".apng .avif .bmp .gif .ico .jpeg .jpg .png .svg .tif .tiff .webp".split()
)
# The missing images of one article told one by one; the rest are counted (finding each one's
# line costs a pass over the file).
MAX_TOLD = 20
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


# The src of an <img> as cmark-gfm writes it, and as raw HTML in a body may (any quotes, any
# case). A scan rather than an HTML parser: html.parser took two thirds of check's time.
_IMG_SRC = re.compile(
    r"""<img\b[^>]*?\ssrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE
)
# What a body must hold to show an image: most show none, and are not rendered again.
_MAY_SHOW = re.compile(r"!\[|<img\b", re.IGNORECASE)


def _sources(article: Article, site: Site) -> list[str]:
    """The src of every image the article's body shows, in order."""
    if article.body_format == "text":  # a plain-text body shows no images
        return []
    body = load_body(article, site)
    if not _MAY_SHOW.search(body):
        return []
    return shown_images(render_html(evolve(article, body=body), site))


def shown_images(fragment: str) -> list[str]:
    """The src of every <img> in an HTML ``fragment`` (a rendered body), as written."""
    return [
        html.unescape(next(g for g in m.groups() if g is not None))
        for m in _IMG_SRC.finditer(fragment)
    ]


def _missing(site: Site, article: Article, page: str) -> list[Problem]:
    missing: list[tuple[str, str, Path]] = []  # (what, reference, where it must be)
    where = _static_path(site, article.image, page) if article.image else None
    if article.image and where is not None and not _is_file(where):
        missing.append(("image", article.image, where))
    more = 0
    for src in _sources(article, site):
        where = _static_path(site, src, page)
        if where is not None and not _is_file(where):
            if len(missing) < MAX_TOLD:
                missing.append(("body", src, where))
            else:
                more += 1
    if not missing:
        return []
    # The file is read again only to name the lines. What reading it finds besides was told
    # when the article was read.
    told = Findings(article.relpath)
    raw = read_bytes(Path(article.source), told, site)
    text = decode(raw, told) if raw is not None else ""
    found = Findings(article.relpath)
    for what, reference, where in missing:
        shown = _relpath(site, where)
        if what == "image":
            match = _IMAGE_KEY.search(text)
            line = text.count("\n", 0, match.start()) + 1 if match else 1
            found.warning(
                line,
                f"'image' {reference!r} is not a file in static/ (looked for {shown}): add it "
                "there, or fix the path",
            )
            continue
        at = text.find(reference)
        if at < 0:
            at = text.find(unquote(reference))
        line = text.count("\n", 0, at) + 1 if at >= 0 else 1
        path = unquote(urlsplit(reference).path)
        if not reference.startswith("/") and (Path(article.source).parent / path).is_file():
            message = (
                f"the image {reference!r} is next to the article in content/, which the build "
                f"never publishes: move it to {shown}, or into static/images/ and write "
                f"'/images/{posixpath.basename(path)}'"
            )
        else:
            message = (
                f"the image {reference!r} is not a file in static/ (looked for {shown}): add it "
                "there, or fix the path"
            )
        found.warning(line, message)
    if more:
        found.warning(
            found.problems[-1].line,
            f"and {more} more images that are not files in static/ (the first {MAX_TOLD} above)",
        )
    return found.problems


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long for the file system, a NUL: no file
        return False


def _static_path(site: Site, reference: str, page: str) -> Path | None:
    """Where under static/ the image ``reference`` on ``page`` must be; None for an image on
    another site, or one no file can serve (a data: URL, a query)."""
    written = written_image(reference)
    if written is None:
        return None
    # Read as the build reads it: a root-relative one against the site's root (links).
    url = urlsplit(site_url(site.site.url, written, page))
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
