"""The tokens in every link feedpub sends, and the site secret that signs them.

A token is ``P.KEY.EXP.MAC``: P the purpose (``u`` unsubscribe, ``m`` manage, ``c`` confirm a
sign-up, ``a`` confirm an address change), KEY the subscriber's random token_key, EXP the
expiry in Unix seconds, base 36 ("0": never; u and m never expire, c and a after
``CONFIRM_DAYS``), MAC the first 16 bytes of HMAC-SHA256(secret, "P\nlist_id\nKEY\nEXP\nEXTRA")
in URL-safe base64 without padding. EXTRA is '' but for ``a``, where it is the new address's
key: a link for an older change cannot confirm a newer address. Nothing in a token says who
it is for: only the state maps KEY to a subscriber.

Every email sent before version 6 carries a token of the first form, the address's key in
base64, a dot, an HMAC: it keeps working, read as an unsubscribe or manage token
(``Reading.legacy``, ``key`` the email_key). ``make_token``/``read_token`` make and read it.

The secret comes from ``FEEDPUB_SECRET`` or from ``.feedpub/secret``, created (mode 0600) on
first use; it is never written to feedpub.toml, printed or logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from feedpub.errors import SecretError, TokenError
from feedpub.oserrors import describe
from feedpub.store.state import create_file

SECRET_FILE = "secret"
SECRET_ENV = "FEEDPUB_SECRET"
MAX_TOKEN = 2000


def load_secret(
    state_dir: Path, env: Mapping[str, str] | None = None, create: bool = True
) -> bytes:
    """The site's secret. Without ``create`` a missing one is a SecretError: the unsubscribe
    endpoint must check links against the secret they were made with, never a new one."""
    env = os.environ if env is None else env
    if env.get(SECRET_ENV):
        return env[SECRET_ENV].encode()
    path = state_dir / SECRET_FILE
    try:
        return _read_secret(path)
    except FileNotFoundError:
        if not create:
            raise SecretError(
                f"{path} does not exist and {SECRET_ENV} is not set: copy the secret the "
                "newsletter is sent with, or set the variable"
            ) from None
    try:
        value = create_file(path, secrets.token_hex(32).encode()).strip()
    except OSError as exc:
        raise SecretError(f"cannot make the site's secret: {describe(exc, path)}") from None
    return value or _read_secret(path)


def _read_secret(path: Path) -> bytes:
    try:
        value = path.read_bytes().strip()
    except FileNotFoundError:
        raise
    except OSError as exc:  # a folder, permissions: say which, and how to fix it
        raise SecretError(f"cannot read the site's secret: {describe(exc, path)}") from None
    if not value:
        # An empty HMAC key would make links anyone can compute from the public List-Id.
        raise SecretError(
            f"{path} holds no secret; delete it and feedpub makes a new one (unsubscribe "
            "links already sent stop working), or set FEEDPUB_SECRET"
        )
    return value


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, list_id: str, key: str) -> bytes:
    return hmac.new(secret, f"unsubscribe\n{list_id}\n{key}".encode(), hashlib.sha256).digest()


def make_token(secret: bytes, list_id: str, key: str) -> str:
    return f"{_b64(key.encode())}.{_b64(_mac(secret, list_id, key))}"


def read_token(secret: bytes, list_id: str, token: str) -> str:
    """The subscriber key a token stands for; TokenError if it is malformed or forged."""
    if not token or len(token) > MAX_TOKEN or token.count(".") != 1:
        raise TokenError("this unsubscribe link is incomplete or damaged")
    encoded_key, encoded_mac = token.split(".")
    try:
        key = _unb64(encoded_key).decode()
        mac = _unb64(encoded_mac)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise TokenError("this unsubscribe link is incomplete or damaged") from None
    if not hmac.compare_digest(mac, _mac(secret, list_id, key)):
        raise TokenError("this unsubscribe link is not valid for this newsletter")
    return key


# -- tokens of version 6 -------------------------------------------------------------------

PURPOSES = ("u", "m", "c", "a")
# What each purpose's link is for, in the errors about it (which never name an address).
_LINK = {
    "u": "unsubscribe link",
    "m": "link to your subscription",
    "c": "confirmation link",
    "a": "link confirming your new address",
}
NEVER = ("u", "m")
CONFIRM_DAYS = 7
CONFIRM_TIME = timedelta(days=CONFIRM_DAYS)
_TOKEN = re.compile(r"([umca])\.([A-Za-z0-9_-]{1,64})\.([0-9a-z]{1,13})\.([A-Za-z0-9_-]{22})")
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


class Reading(NamedTuple):
    """What a valid token says: its purpose, the key (a token_key, or for a ``legacy`` token
    the email_key), and whether it has ``expired`` (the caller offers a fresh link)."""

    purpose: str
    key: str
    legacy: bool
    expired: bool


def base36(number: int) -> str:
    """``number`` (0 or more) in base 36, lowercase: how tokens write numbers."""
    digits = ""
    while True:
        number, digit = divmod(number, 36)
        digits = _DIGITS[digit] + digits
        if not number:
            return digits


def _mac6(secret: bytes, list_id: str, purpose: str, key: str, exp: str, extra: str) -> bytes:
    message = f"{purpose}\n{list_id}\n{key}\n{exp}\n{extra}".encode()
    return hmac.new(secret, message, hashlib.sha256).digest()[:16]


def make(
    secret: bytes,
    list_id: str,
    purpose: str,
    token_key: str,
    expires: datetime | None = None,
    extra: str = "",
) -> str:
    """A token for ``purpose``. u and m never expire (``expires`` must be None); c and a need
    ``expires`` (now + CONFIRM_TIME), and a its ``extra``, the new address's key."""
    if purpose not in PURPOSES:
        raise ValueError(f"no such token purpose: {purpose!r}")
    if (expires is None) != (purpose in NEVER):
        raise ValueError(f"a {purpose!r} token {'needs' if expires is None else 'has no'} expiry")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", token_key):
        raise ValueError("a token_key is 1 to 64 URL-safe characters")
    exp = "0" if expires is None else base36(max(1, int(expires.timestamp())))
    mac = _mac6(secret, list_id, purpose, token_key, exp, extra if purpose == "a" else "")
    return f"{purpose}.{token_key}.{exp}.{_b64(mac)}"


def read(
    secret: bytes,
    list_id: str,
    token: str,
    purpose: str,
    now: datetime,
    extra_for: Callable[[str], str] | None = None,
) -> Reading:
    """What ``token`` says, if it is valid for ``purpose`` on this list; TokenError if it is
    malformed, forged, for another purpose or another newsletter. An expired one reads with
    ``expired`` True. ``extra_for``: the EXTRA of an ``a`` token, from its key (the waiting
    new address's key; '' when none waits, which no token matches)."""
    what = _LINK.get(purpose, "link")
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN:
        raise TokenError(f"this {what} is incomplete or damaged")
    if token.count(".") == 1:
        if purpose not in NEVER:
            raise TokenError(f"this {what} is not valid: it is for another page")
        try:
            key = read_token(secret, list_id, token)
        except TokenError:
            raise TokenError(f"this {what} is not valid for this newsletter") from None
        return Reading(purpose, key, True, False)
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise TokenError(f"this {what} is incomplete or damaged")
    found, key, exp, encoded = match.groups()
    try:
        mac = _unb64(encoded)
    except (binascii.Error, ValueError):
        raise TokenError(f"this {what} is incomplete or damaged") from None
    extra = ""
    if found == "a" and extra_for is not None:
        extra = extra_for(key)
    if found == "a" and not extra:
        # No address waits for this key: no change can be confirmed, whatever the MAC.
        raise TokenError(f"this {what} is not valid: no change of address waits for it")
    if not hmac.compare_digest(mac, _mac6(secret, list_id, found, key, exp, extra)):
        raise TokenError(f"this {what} is not valid for this newsletter")
    if found != purpose:
        raise TokenError(f"this {what} is not valid: it is for another page")
    expired = exp != "0" and int(exp, 36) <= now.timestamp()
    return Reading(found, key, False, expired)
