"""The URI-valued front matter fields: which forms each accepts, and the form written out.

``image`` is an http(s) URL or a path in the site (``/images/a.png``, ``a.png``); ``url`` an
http(s) URL. Both are percent-encoded where a URI needs it (spaces, quotes, ``<``, non-ASCII;
an IDNA host), an encoding already there kept. ``id`` is a UUID, a tag: URI (RFC 4151) or an
http(s) URL, checked for the syntax the W3C feed validator checks and in the normal form Atom
asks of ids (RFC 4287 section 4.2.6.1), since feed readers compare ids character by character:
an id is never rewritten (it is the article's identity), only refused with the form to write.
Every check raises ValueError with the whole message; the readers add the file and line.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from datetime import date
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
# What an id may hold: no brackets, which only an IPv6 host could use (refused in ids).
ID_CHARACTERS = UNRESERVED | frozenset(QUERY_SAFE + "#%")

# RFC 3986 appendix B, with the scheme as 3.1 defines it.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}")
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_PORT = re.compile(r"[0-9]{1,5}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_UUID_PREFIX = re.compile(r"^(?:urn:)?(?:uuid:)?", re.IGNORECASE)
_UUID_DIGITS = re.compile(r"[-{}]*(?:[0-9a-f][-{}]*){32}", re.IGNORECASE)
# RFC 4151: DNScomp = alphaNum [*(alphaNum / "-") alphaNum]; the W3C validator takes the
# authority in lower case only (its pattern has no capitals).
_DNS_NAME = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"
_TAG_AUTHORITY = re.compile(rf"(?:[a-z0-9._-]+@)?{_DNS_NAME}")
_TAG_DATE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")

WEB_EXAMPLE = "'https://example.org/photo.jpg'"
SITE_EXAMPLE = "'/images/photo.jpg'"
ACCEPTED_IDS = (
    "use the UUID 'feedpub new' writes, a tag: URI such as 'tag:example.org,2026:slug', "
    "or an http(s) URL"
)
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
    if first_control(image) is not None:
        return None
    try:
        return web_url(image.strip(), "image", site_paths=True)
    except ValueError:
        return None


def first_control(text: str) -> int | None:
    """Where ``text``'s first control character (tab and line breaks included: browsers drop
    them from URLs, so 'java\\tscript:' runs) or lone surrogate is; None if it has none."""
    return next(
        (i for i, c in enumerate(text) if unicodedata.category(c) in {"Cc", "Cs"}), None
    )


# -- ids -----------------------------------------------------------------------------------------


def feed_id(text: str) -> str:
    """The feed id an explicit ``id`` gives: a UUID (RFC 9562's 8-4-4-4-12 form, bare, in
    braces or after 'urn:uuid:') as 'urn:uuid:' and its digits in lower case, as feedpub has
    always written it; a tag: or http(s) URI as it is, if it is valid and in normal form."""
    bare = text[1:-1] if text.startswith("{") and text.endswith("}") else text
    if _UUID.fullmatch(bare):
        return f"urn:uuid:{bare.lower()}"
    scheme, colon, rest = text.partition(":")
    if not (colon and _SCHEME.fullmatch(scheme)):
        _refuse_uuid_spelling(text)
        raise ValueError(f"'id' {text!r} is neither a UUID nor an absolute URI; {ACCEPTED_IDS}")
    kind = scheme.lower()
    if kind == "urn" and rest[:5].lower() == "uuid:":
        return _uuid_urn(text)
    if kind == "tag":
        return _tag(text)
    if kind in DEFAULT_PORTS:
        return _http_id(text)
    _refuse_uuid_spelling(text)
    raise ValueError(
        f"'id' {text!r} is a {kind}: URI, which feedpub does not take as an id; {ACCEPTED_IDS}"
    )


def _uuid_digits(text: str) -> str | None:
    """The UUID in another spelling (no hyphens, hyphens elsewhere, braces, 'uuid:'), in
    RFC 9562's form; None if it is no UUID."""
    digits = _UUID_PREFIX.sub("", text)
    if not _UUID_DIGITS.fullmatch(digits):
        return None
    hexa = re.sub(r"[-{}]", "", digits).lower()
    return f"{hexa[:8]}-{hexa[8:12]}-{hexa[12:16]}-{hexa[16:20]}-{hexa[20:]}"


def _refuse_uuid_spelling(text: str) -> None:
    canonical = _uuid_digits(text)
    if canonical is not None:
        raise ValueError(
            f"'id' {text!r} is a UUID not written as RFC 9562 writes one; write it as "
            f"{canonical!r} (the same id)"
        )


def _uuid_urn(text: str) -> str:
    digits = text[len("urn:uuid:") :]
    canonical = _uuid_digits(digits)
    if text.startswith("urn:uuid:") and _UUID.fullmatch(digits):
        return f"urn:uuid:{digits.lower()}"
    if canonical is None:
        raise ValueError(
            f"'id' {text!r} is not a UUID URN (RFC 9562): after 'urn:uuid:' come 32 "
            "hexadecimal digits in groups of 8-4-4-4-12, like "
            "'urn:uuid:0b5f9c1e-4c55-4a5e-b7c2-8f0f4b9c2a11'; or write a bare UUID"
        )
    raise ValueError(
        f"'id' {text!r} is a UUID URN not written as RFC 9562 writes one; write it as "
        f"'urn:uuid:{canonical}'"
    )


def _tag(text: str) -> str:
    """A tag URI (RFC 4151): tag:AUTHORITY,DATE:SPECIFIC[#FRAGMENT]."""
    like = "write it like 'tag:example.org,2026:slug'"
    invalid = f"'id' {text!r} is not a valid tag URI (RFC 4151)"
    rest = text[4:]
    authority, comma, after = rest.partition(",")
    if not comma:
        raise ValueError(f"{invalid}: no ',' and date after the domain name; {like}")
    if not _TAG_AUTHORITY.fullmatch(authority.lower()):
        raise ValueError(
            f"{invalid}: {authority!r} is neither a domain name nor an email address; {like}"
        )
    when, colon, specific = after.partition(":")
    dated = _TAG_DATE.fullmatch(when)
    if not colon or not dated:
        raise ValueError(
            f"{invalid}: the date after ',' must be YYYY, YYYY-MM or YYYY-MM-DD, then ':'; {like}"
        )
    year, month, day = (int(part) if part else 1 for part in dated.groups())
    try:
        date(max(year, 1), month, day)
    except ValueError:
        raise ValueError(f"{invalid}: {when!r} is not a date; {like}") from None
    path, hash_mark, fragment = specific.partition("#")
    written = f"tag:{authority.lower()},{when}:" + _normal_part(path, QUERY_SAFE, invalid)
    if hash_mark:
        written += "#" + _normal_part(fragment, QUERY_SAFE, invalid)
    return _as_written(text, written, invalid)


def _http_id(text: str) -> str:
    """An http(s) URL as an id: absolute, with a host, in normal form."""
    invalid = f"'id' {text!r} is not a valid http(s) URI for an id"
    scheme, _, rest = text.partition(":")
    scheme = scheme.lower()
    if not rest.startswith("//"):
        raise ValueError(f"{invalid}: no host after '{scheme}:'; write it like {WEB_EXAMPLE}")
    after = rest[2:]
    end = min((i for i in map(after.find, "/?#") if i >= 0), default=len(after))
    authority, reference = after[:end], after[end:]
    # The W3C validator's check of a full URI has no room for an IPv6 literal ([::1]).
    host = _host(authority, text, "id", ipv6=False)
    name, _, port = host.partition(":")
    if port == DEFAULT_PORTS[scheme]:
        host = name
    path, query, fragment = _split_reference(reference)
    written = f"{scheme}://{host}" + (_without_dots(_normal_part(path, PATH_SAFE, invalid)) or "/")
    if query is not None:
        written += "?" + _normal_part(query, QUERY_SAFE, invalid)
    if fragment is not None:
        written += "#" + _normal_part(fragment, QUERY_SAFE, invalid)
    return _as_written(text, written, invalid)


def _as_written(text: str, normal: str, invalid: str) -> str:
    if normal == text:
        return text
    bad = next((c for c in text if c not in ID_CHARACTERS), None)
    if bad is None and _STRAY_PERCENT.search(text):
        bad = "%"
    if bad is None and text.count("#") > 1:
        bad = "#"
    if bad is not None:
        raise ValueError(f"{invalid}: {bad!r} cannot be in a URI; write it as {normal!r}")
    raise ValueError(
        f"'id' {text!r} is not in normal form (RFC 3986 section 6.2, which Atom asks of ids: "
        f"feed readers compare them character by character); write it as {normal!r}"
    )


def _normal_part(part: str, safe: str, invalid: str) -> str:
    """A component in RFC 3986's normal form: characters a URI cannot hold percent-encoded,
    %XX in capitals, unreserved characters not encoded, encoded text UTF-8 in NFC."""
    encoded = _encode(unicodedata.normalize("NFC", part), safe)
    out: list[str] = []
    run: list[int] = []

    def flush() -> None:
        if not run:
            return
        try:
            decoded = bytes(run).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(
                f"{invalid}: its %XX encode bytes that are not UTF-8; encode the text as UTF-8"
            ) from None
        out.append(quote(unicodedata.normalize("NFC", decoded), safe=""))
        run.clear()

    position = 0
    for match in _ENCODED.finditer(encoded):
        if match.start() > position:
            flush()
            out.append(encoded[position : match.start()])
        byte = int(match.group()[1:], 16)
        if byte >= 0x80:
            run.append(byte)
        else:
            flush()
            character = chr(byte)
            out.append(character if character in UNRESERVED else match.group().upper())
        position = match.end()
    flush()
    out.append(encoded[position:])
    return "".join(out)


def _without_dots(path: str) -> str:
    """The path without '.' and '..' segments (RFC 3986 5.2.4)."""
    if "." not in path:
        return path
    segments: list[str] = []
    parts = path.split("/")
    for index, segment in enumerate(parts):
        last = index == len(parts) - 1
        if segment == ".":
            if last:
                segments.append("")
        elif segment == "..":
            if len(segments) > 1:
                segments.pop()
            if last:
                segments.append("")
        else:
            segments.append(segment)
    return "/".join(segments)
