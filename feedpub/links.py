"""The one place that says what a URL in the site means and what a page writes for it.

A root-relative URL (``/images/x.png``) that an editor writes in a body, in front matter or in
a note is read against the site's root, the path of ``[site] url``: with
``url = "https://club.example.github.io/paper/"`` it is
``https://club.example.github.io/paper/images/x.png``, which is what the writer of
``/images/x.png`` means (the folder ``static/images/``); a browser would read it against the
host, outside the site. One that already starts with the site's path (``/paper/images/x.png``)
allowed for it and is kept as written, as Docusaurus's ``useBaseUrl`` keeps it.

Feeds, the sitemap, email and whatever must be absolute on a page (a canonical link, Open
Graph's og:url and og:image) carry absolute URLs: ``site_url``. A link a page writes is what
``page_url`` gives: the same absolute URL, or with ``[site] relative_urls`` one relative to the
page's own file (``../../images/x.png``, a folder as its ``index.html``), so that the output
works opened from disk. Every page passes through ``page_links`` as it is written, so that a
template that writes an absolute or root-relative URL gets the same without asking.
"""

from __future__ import annotations

import posixpath
import re
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from feedpub.text import Join, has_scheme, rewrite_urls, url_path

# What a page with a root-relative URL holds: a value starting with '/', a srcset (whose later
# candidates may), a CSS url() or @import.
_MAY_BE_ROOTED = re.compile(r"""=\s*["']?/|srcset|url\(|@import""", re.IGNORECASE)

if TYPE_CHECKING:
    from feedpub.config import Site

# The page a web server shows for an address with nothing there (GitHub Pages, Netlify,
# Cloudflare Pages and nginx's ``error_page 404 /404.html;`` look for it at the root).
NOT_FOUND = "404.html"


def output_url(root: str, path: str) -> str:
    """The URL the output file ``path`` is served at under the site's root ``root``,
    percent-encoded: a folder's index.html as the folder."""
    folder, _, name = path.rpartition("/")
    if name == "index.html":
        return root + (url_path(*folder.split("/")) + "/" if folder else "")
    return root + url_path(*path.split("/"))


def static_url(root: str, path: str) -> str:
    """The URL of a file of static/ named by ``path`` as front matter and settings write it
    ("/audio/ep1.mp3", "audio/ep1.mp3", "./audio/ep1.mp3"): static/ is copied to the top of
    the output, so under the site's root (a path already under it kept, as site_url does)."""
    return site_url(root, "/" + path.removeprefix("./").lstrip("/"))


def root_path(site_url: str) -> str:
    """The path of the site's root on its host: "/paper/" ("/" for a site at the root)."""
    return urlsplit(site_url).path or "/"


def site_url(root: str, reference: str, base: str | None = None) -> str:
    """``reference`` as an absolute URL: a root-relative one against the site's root ``root``
    (its ``[site] url``), any other relative one against ``base`` (the document it is in;
    the root when None), an absolute one as it is."""
    if reference.startswith("/") and not reference.startswith("//"):
        prefix = root_path(root)
        path = reference
        if prefix != "/" and (path + "/").startswith(prefix):
            path = path[len(prefix) - 1 :] or "/"
        return root + path[1:]
    return urljoin(base or root, reference)


def absolutize(fragment: str, base: str, root: str) -> str:
    """Every relative URL of an HTML fragment made absolute (text.rewrite_urls): for feeds and
    email, which are read away from the page."""

    def join(reference: str) -> str | None:
        # A scheme-relative one ("//cdn.example.net/x.png") takes the base's scheme.
        return None if has_scheme(reference) else site_url(root, reference, base)

    return rewrite_urls(fragment, join)


def rooted(fragment: str, root: str) -> str:
    """HTML with its root-relative URLs read against the site's root; every other URL as
    written."""

    def join(reference: str) -> str | None:
        if reference.startswith("/") and not reference.startswith("//"):
            return site_url(root, reference)
        return None

    return rewrite_urls(fragment, join)


def relative_url(root: str, url: str, page: str) -> str | None:
    """``url``, an absolute URL in the site ``root``, as a reference relative to the file
    ``page`` of the output ("2026/11/a/index.html"), a folder as its index.html; None for a
    URL outside the site."""
    if not url.startswith(root):
        return None
    rest = url[len(root) :]
    path, hash_mark, fragment = rest.partition("#")
    path, question, query = path.partition("?")
    if path == "" or path.endswith("/"):
        path += "index.html"
    relative = posixpath.relpath(path, posixpath.dirname(page) or ".")
    if posixpath.basename(relative) in (".", ".."):
        # A file named as one of the page's folders ("a/b" from "a/b/c/index.html"): ".."
        # would name the folder.
        relative = posixpath.normpath(posixpath.join(relative, "..", posixpath.basename(path)))
    written = relative + (question + query) + (hash_mark + fragment)
    # A first segment with ':' would read as a scheme (RFC 3986 4.2).
    return "./" + written if ":" in relative.split("/", 1)[0] else written


def page_url(site: Site, url: str, page: str) -> str:
    """What the page at ``page`` (its path in the output) writes for ``url``: a site-root path
    ("/images/x.png") or an absolute URL, as an absolute URL, or with ``[site] relative_urls``
    relative to the page when it is in the site."""
    root = site.site.url
    absolute = site_url(root, url) if url.startswith("/") and not url.startswith("//") else url
    if site.site.relative_urls:
        return relative_url(root, absolute, page) or absolute
    return absolute


def page_links(html: str, site: Site, page: str) -> str:
    """A rendered page as it is written: its root-relative URLs (a body's, a template's own:
    a logo, a favicon) read against the site's root, and with ``[site] relative_urls`` every
    URL in the site (href, src, srcset...) relative to the page, but a canonical link, which
    is absolute by its nature, and a form's action, which posts to a server. Every other URL
    as written: a relative one resolves against the page already."""
    root = site.site.url
    # The page for an address with nothing there is served at any depth: relative links would
    # lead nowhere from most of them.
    relative = site.site.relative_urls and page != NOT_FOUND
    if not relative and (root_path(root) == "/" or not _MAY_BE_ROOTED.search(html)):
        # A browser reads a root-relative URL right at the host's root; and a page without
        # one (no value starts with '/', no srcset or CSS URL) is spared the pass.
        return html

    def join(reference: str) -> str | None:
        if reference.startswith("/") and not reference.startswith("//"):
            absolute = site_url(root, reference)
        elif relative and reference.startswith(root):
            absolute = reference
        else:
            return None
        return (relative_url(root, absolute, page) if relative else None) or absolute

    def only_rooted(reference: str) -> str | None:
        if reference.startswith("/") and not reference.startswith("//"):
            return site_url(root, reference)
        return None

    def per_tag(tag: str, text: str) -> Join | None:
        # A canonical link is absolute by its nature; a form posts to a server.
        kept = tag == "form" or (tag == "link" and "canonical" in text.lower())
        return only_rooted if kept else None

    return rewrite_urls(html, join, per_tag if relative else None)
