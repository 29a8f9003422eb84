"""The URI-valued front matter fields: which forms each accepts, and the form written out.

``image`` is an http(s) URL or a path in the site (``/images/a.png``, ``a.png``); ``url`` an
http(s) URL. Both are percent-encoded where a URI needs it (spaces, quotes, ``<``, non-ASCII;
an IDNA host), an encoding already there kept. Every check raises ValueError with the whole
message; the readers add the file and line.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import quote

UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
SUB_DELIMS = "!$&'()*+,;="
# What a URI's path may hold besides unreserved characters and %XX (RFC 3986 3.3), and its
# query and fragment (3.4, 3.5).
PATH_SAFE = SUB_DELIMS + ":@/"
QUERY_SAFE = PATH_SAFE + "?"
# The apostrophe is a URI character, but an image URL may be written inside a quoted CSS or
# JavaScript string of a site's own template (url('...')), where it would end the string:
# written URLs carry it as %27, which servers read as the same path.
WRITTEN_PATH_SAFE = PATH_SAFE.replace("'", "")
WRITTEN_QUERY_SAFE = QUERY_SAFE.replace("'", "")

# RFC 3986 appendix B, with the scheme as 3.1 defines it.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_PORT = re.compile(r"[0-9]{1,5}")

WEB_EXAMPLE = "'https://example.org/photo.jpg'"
SITE_EXAMPLE = "'/images/photo.jpg'"
DEFAULT_PORTS = {"http": "80", "https": "443"}


def web_url(text: str, name: str, site_paths: bool) -> str:
    """``text`` (stripped, without control characters) as the URL to write: an http(s) URL,
    or with ``site_paths`` also a relative reference (a path in the site)."""
    if "\\" in text:
        raise ValueError(
            f"'{name}' {text!r} has a backslash, which browsers read as '/' in some places and "
            "not in others; write '/' between folders"
        )
    scheme, colon, rest = text.partition(":")
    has_scheme = bool(colon and _SCHEME.fullmatch(scheme))
    if not site_paths and not (has_scheme and scheme.lower() in DEFAULT_PORTS):
        raise ValueError(
            f"'{name}' must be an absolute http(s) URL, not {text!r}; write it like {WEB_EXAMPLE}"
        )
    wanted = (
        f"must be an http(s) URL, like {WEB_EXAMPLE}, or a path in the site, like {SITE_EXAMPLE}"
    )
    if has_scheme:
        if scheme.lower() not in DEFAULT_PORTS:
            raise ValueError(
                f"'{name}' {text!r} is a {scheme.lower()}: URL, which feedpub never writes; it "
                f"{wanted} (a file name with ':' in it: write './' before it)"
            )
        return _absolute(scheme.lower(), rest, text, name)
    if text.startswith("//"):
        # Scheme-relative: the host is the first segment, so '//images/a.png' (a slip for
        # '/images/a.png') would name a host called 'images'; in email it resolves to nothing.
        host = text[2:].split("/", 1)[0] or "?"
        raise ValueError(
            f"'{name}' {text!r} starts with '//', which names another host ({host}) without "
            f"a scheme; write 'https://{text[2:]}', or '/{text.lstrip('/')}' for a file of "
            "this site"
        )
    path, query, fragment = _split_reference(text)
    if not path:
        raise ValueError(f"'{name}' {text!r} has no path; it {wanted}")
    first, slash, others = path.partition("/")
    # A relative path's first segment must not hold ':' (RFC 3986 4.2): it would be a scheme.
    path = first.replace(":", "%3A") + slash + others
    return _written(path, query, fragment)


def _absolute(scheme: str, rest: str, text: str, name: str) -> str:
    if not rest.startswith("//"):
        raise ValueError(
            f"'{name}' {text!r} has no host after '{scheme}:'; write it like {WEB_EXAMPLE}"
        )
    after = rest[2:]
    end = min((i for i in map(after.find, "/?#") if i >= 0), default=len(after))
    authority, reference = after[:end], after[end:]
    host = _host(authority, text, name, ipv6=True)
    path, query, fragment = _split_reference(reference)
    return f"{scheme}://{host}" + _written(path, query, fragment)


def _host(authority: str, text: str, name: str, ipv6: bool) -> str:
    """The authority as written out: the host in lower case (IDNA for a non-ASCII name), and
    the port if one is given."""
    if "@" in authority:
        # 'https://example.org@elsewhere.example/' goes to elsewhere.example: a classic trick.
        raise ValueError(
            f"'{name}' {text!r} has a user name or password before its host; remove everything "
            "up to the '@'"
        )
    host, port = authority, None
    if not host.endswith("]") and ":" in host:
        host, _, port = host.rpartition(":")
    if port is not None and port and not (_PORT.fullmatch(port) and int(port) <= 65535):
        raise ValueError(f"'{name}' {text!r} has a port that is not a number from 0 to 65535")
    if not host:
        raise ValueError(f"'{name}' {text!r} has no host; write it like {WEB_EXAMPLE}")
    if host.startswith("[") and host.endswith("]"):
        try:
            address = ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            address = None
        if not ipv6 or address is None:
            raise ValueError(f"'{name}' {text!r} has a host that is not a domain name")
        host = f"[{address.compressed}]"
    else:
        if not host.isascii():
            try:
                host = host.encode("idna").decode("ascii")
            except UnicodeError:
                raise ValueError(
                    f"'{name}' {text!r} has a host that is not a valid internationalised "
                    "domain name"
                ) from None
        host = host.lower()
        labels = host.split(".")
        if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
            raise ValueError(
                f"'{name}' {text!r} has a host that is not a domain name or an IP address"
            )
    return host + (f":{port}" if port else "")


def _split_reference(reference: str) -> tuple[str, str | None, str | None]:
    """(path, query, fragment) of a reference without scheme and authority."""
    rest, hash_mark, fragment = reference.partition("#")
    path, question, query = rest.partition("?")
    return path, query if question else None, fragment if hash_mark else None


def _encode(part: str, safe: str) -> str:
    """``part`` with every character a URI cannot hold there percent-encoded (UTF-8), and a
    '%' that starts no %XX written as %25; an %XX already there is kept as it is."""
    return quote(_STRAY_PERCENT.sub("%25", part), safe=safe + "%")


def _written(path: str, query: str | None, fragment: str | None) -> str:
    written = _encode(path, WRITTEN_PATH_SAFE)
    if query is not None:
        written += "?" + _encode(query, WRITTEN_QUERY_SAFE)
    if fragment is not None:
        written += "#" + _encode(fragment, WRITTEN_QUERY_SAFE)
    return written


def written_image(image: str) -> str | None:
    """An article's image as it is written into a feed or email: what ``web_url`` makes of it,
    or None for a value no reader would have taken (an article made by hand or by a plugin
    without make_article, or read by an older feedpub)."""
    try:
        return web_url(image.strip(), "image", site_paths=True) if no_control(image) else None
    except ValueError:
        return None


def no_control(text: str) -> bool:
    """Whether ``text`` holds no control character (tab and line breaks included: browsers
    drop them from URLs, so 'java\\tscript:' runs) and no lone surrogate."""
    return not any(unicodedata.category(c) in {"Cc", "Cs"} for c in text)
