"""Addresses that say who bounced (VERP): the envelope sender of each message names its
recipient and issue in a signed token, ``bounces+TOKEN@news.example.org``, and the mailto of
its List-Unsubscribe is ``unsubscribe+TOKEN@news.example.org``, so that a bounce or an emailed
unsubscribe is matched to its reader even when the message that comes back is mangled.

A token is ``P-KEY-ISSUE-MAC``, each field lowercase base32 (a-z, 2-7, no padding) or base 36,
since bounce generators often lowercase the local part: P the purpose (``b`` bounce, ``u``
unsubscribe by mail), KEY the subscriber's token_key (16 bytes) in base32 (26 characters),
ISSUE the issue number in base 36 ("0": none), MAC the first 10 bytes of
HMAC-SHA256(secret, "verp\\nP\\nlist_id\\nKEY\\nISSUE") in base32 (16 characters). It is read
whatever its case. Like every other token, it reveals no address: only the state maps KEY to
a subscriber, and only the site's secret makes a MAC that reads.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable
from email.utils import parseaddr
from typing import NamedTuple, Protocol

from feedpub.config import UNSUBSCRIBE_LOCAL, Site
from feedpub.delivery.identity import list_id, sender_address
from feedpub.delivery.tokens import base36
from feedpub.errors import VerpError

PURPOSES = ("b", "u")
BOUNCE, UNSUBSCRIBE = PURPOSES
KEY_BYTES = 16
MAC_BYTES = 10
# Issue numbers of up to 4 base-36 digits (1,679,615 issues: a daily one for 4,600 years),
# so that the unsubscribe address keeps within RFC 5321's 64 octets for a local part.
MAX_ISSUE = 36**4 - 1
# config.VERP_TOKEN_LENGTH is this, which the bounce address's check counts on.
MAX_TOKEN = len("b-") + 26 + len("-") + 4 + len("-") + 16
_TOKEN = re.compile(r"([bu])-([a-z2-7]{26})-(0|[1-9a-z][0-9a-z]{0,3})-([a-z2-7]{16})")
# The longest address looked at: RFC 5321's 64 + 1 + 255, with room for brackets and quotes.
_LONGEST_ADDRESS = 330


class VerpReading(NamedTuple):
    """What a valid token says: its purpose, the subscriber's token_key, the issue (or None)."""

    purpose: str
    token_key: str
    issue: int | None


class Keyed(Protocol):
    """Whom a message goes to, as far as their addresses go: their random key ('' for an
    address that is no subscriber, such as a test copy's)."""

    @property
    def token_key(self) -> str: ...


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def _mac(secret: bytes, list_id: str, purpose: str, key: str, issue: str) -> str:
    message = f"verp\n{purpose}\n{list_id}\n{key}\n{issue}".encode()
    return _b32(hmac.new(secret, message, hashlib.sha256).digest()[:MAC_BYTES])


def make(secret: bytes, list_id: str, purpose: str, token_key: str, issue: int | None) -> str:
    """The token of ``purpose`` for the subscriber of ``token_key`` (URL-safe base64 of 16
    bytes, as the state keeps it) and ``issue``; ValueError for anything else."""
    if purpose not in PURPOSES:
        raise ValueError(f"no such VERP purpose: {purpose!r}")
    try:
        raw = base64.urlsafe_b64decode(token_key + "=" * (-len(token_key) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("a token_key is URL-safe base64 of 16 bytes") from None
    if len(raw) != KEY_BYTES or not re.fullmatch(r"[A-Za-z0-9_-]{22}", token_key):
        raise ValueError("a token_key is URL-safe base64 of 16 bytes")
    if issue is not None and not 1 <= issue <= MAX_ISSUE:
        raise ValueError(f"an issue number of a VERP token is from 1 to {MAX_ISSUE}")
    key = _b32(raw)
    number = "0" if issue is None else base36(issue)
    return f"{purpose}-{key}-{number}-{_mac(secret, list_id, purpose, key, number)}"


def read(secret: bytes, list_id: str, token: str) -> VerpReading:
    """What ``token`` says; VerpError if it is malformed, forged, or another list's."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN:
        raise VerpError("the address's token is missing, cut short or too long")
    match = _TOKEN.fullmatch(token.lower())
    if match is None:
        raise VerpError("the address's token is malformed")
    purpose, key, number, mac = match.groups()
    if not hmac.compare_digest(mac, _mac(secret, list_id, purpose, key, number)):
        raise VerpError("the address's token is not valid for this list: forged or another's")
    raw = base64.b32decode(key.upper() + "=" * (-len(key) % 8))
    token_key = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
    return VerpReading(purpose, token_key, None if number == "0" else int(number, 36))


def _parts(address: str) -> tuple[str, str]:
    local, _, domain = address.rpartition("@")
    return local, domain


def bounce_sender(
    site: Site,
    secret: bytes,
    recipient: Keyed,
    issue: int | None,
    lid: str | None = None,
    plain: str | None = None,
) -> str:
    """The envelope sender of a message to ``recipient``: ``<bounce local>+<b token>@<bounce
    domain>``; the plain sender when there is no ``[smtp] bounce_address`` or the recipient is
    no subscriber (a test copy's bounce must not touch anyone). ``lid`` and ``plain``: the
    List-Id and the plain sender, when the caller has them already (a send, for each
    message)."""
    bounce = site.smtp.bounce_address
    if not bounce or not recipient.token_key:
        return plain or sender_address(site)
    local, domain = _parts(bounce)
    try:
        token = make(secret, lid or list_id(site), BOUNCE, recipient.token_key, issue)
    except ValueError:  # a key no token can carry (never one the state made)
        return plain or sender_address(site)
    return f"{local}+{token}@{domain}"


def unsubscribe_mailto(
    site: Site, secret: bytes, recipient: Keyed, issue: int | None, lid: str | None = None
) -> str:
    """The address of List-Unsubscribe's mailto for ``recipient``: ``unsubscribe+<u token>@
    <bounce domain>``; without a bounce address (or for no subscriber), ``[newsletter]
    reply_to`` or ``from`` as before ('' when neither is set)."""
    bounce = site.smtp.bounce_address
    if bounce and recipient.token_key:
        try:
            token = make(secret, lid or list_id(site), UNSUBSCRIBE, recipient.token_key, issue)
        except ValueError:
            pass
        else:
            return f"{UNSUBSCRIBE_LOCAL}+{token}@{_parts(bounce)[1]}"
    newsletter = site.newsletter
    return parseaddr(newsletter.reply_to or newsletter.from_)[1]


def address_token(site: Site, address: str) -> tuple[str, str] | None:
    """(purpose, token) if ``address`` is one of this site's VERP addresses (the bounce
    address's local part or "unsubscribe", "+", a token, the bounce domain; compared whatever
    the case), else None. The token is not checked here: ``read`` does that."""
    bounce = site.smtp.bounce_address
    if not bounce or not isinstance(address, str) or len(address) > _LONGEST_ADDRESS:
        return None
    text = address.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    local, domain = _parts(text)
    if len(local) >= 2 and local.startswith('"') and local.endswith('"'):
        local = local[1:-1]
    domain = domain.strip().rstrip(".").lower()
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    ours_local, ours_domain = _parts(bounce)
    if domain != ours_domain.lower():
        return None
    base, plus, token = local.partition("+")
    if not plus or not token:
        return None
    base = base.lower()
    if base == ours_local.lower():
        return BOUNCE, token
    if base == UNSUBSCRIBE_LOCAL:
        return UNSUBSCRIBE, token
    return None


def matcher(site: Site) -> Callable[[str], tuple[str, str] | None]:
    """``address_token`` bound to ``site``: what a classifier asks of an address it finds."""
    return lambda address: address_token(site, address)
