"""Unsubscribe tokens: the address, and an HMAC binding it to the list, with a site secret.

The secret comes from ``FEEDPUB_SECRET`` or from ``.feedpub/secret``, created (mode 0600) on
first use; it is never written to feedpub.toml, printed or logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

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
