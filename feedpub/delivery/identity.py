"""The list's identity, which every message and token is bound to: the site's host, the
List-Id (kept in ``.feedpub/list-id``) and the plain sender address.

Apart from ``messages`` so that ``verp``, which ``messages`` uses for the bounce and
unsubscribe addresses, can use them too without a cycle.
"""

from __future__ import annotations

from email.utils import parseaddr
from urllib.parse import urlsplit

from feedpub.config import Site
from feedpub.errors import DeliveryError, StateError
from feedpub.oserrors import describe
from feedpub.private import write_private
from feedpub.store.state import create_file
from feedpub.text import slugify

LIST_ID_FILE = "list-id"


def host_of(site: Site) -> str:
    return urlsplit(site.site.url).hostname or "feedpub.invalid"


def list_id(site: Site) -> str:
    """RFC 2919 List-Id, made from the newsletter's name and the site's host when first needed
    and kept in ``.feedpub/list-id``: renaming the newsletter or moving the site later changes
    neither it nor the unsubscribe links already sent, whose tokens are bound to it."""
    path = site.state_dir / LIST_ID_FILE
    try:
        kept = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        kept = ""
    except (OSError, UnicodeDecodeError) as exc:
        what = describe(exc, path) if isinstance(exc, OSError) else f"{path} is not UTF-8"
        raise StateError(f"cannot read the List-Id: {what}") from None
    if kept:
        return kept
    value = f"{slugify(site.newsletter_name) or 'newsletter'}.{host_of(site)}"
    try:
        # Whole or not at all: an empty file left by a full disk would be read as no List-Id.
        kept = create_file(path, f"{value}\n".encode()).decode("utf-8", "replace").strip()
        if not kept:  # an empty file an older version left at a kill: written whole now
            write_private(path, f"{value}\n".encode())
    except OSError as exc:
        raise StateError(f"cannot keep the List-Id: {describe(exc, path)}") from None
    return kept or value


def sender_address(site: Site) -> str:
    """The envelope sender without VERP: the address of ``[newsletter] from``."""
    address = parseaddr(site.newsletter.from_)[1]
    if not address:
        if site.has_smtp:
            raise DeliveryError(
                '[newsletter] from is not set; add from = "Name <address>" before sending'
            )
        return f"newsletter@{host_of(site)}"
    return address
