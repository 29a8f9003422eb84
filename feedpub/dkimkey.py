"""The DKIM settings' values: the private key file read and checked, the selector and the
signing domain. A basic module, so that the settings check them as they load (a key that
cannot sign is an error before any mail is written) and the signer
(``feedpub.delivery.dkim``) reads the key the same way when it signs.

The key is read with ``cryptography`` (imported only when a site names a key) and handed to
dkimpy as the unencrypted PKCS#1 PEM with LF line ends it parses: dkimpy's own reader finds no
key in a file saved with CRLF, and fails on a passphrase-protected one with an ASN.1 error.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

from feedpub.errors import DkimKeyError

# RFC 8301 §3.2: signers MUST use at least 1024 bits, verifiers need check no more than 4096.
SHORTEST = 1024
LONGEST = 4096
# A PEM RSA key of 4096 bits is about 3.3 KB; whatever is far larger is not one.
MOST_BYTES = 64 * 1024
MAKE_ONE = "make one with: openssl genrsa -out dkim.pem 2048"
SETTINGS = ("dkim_key_file", "dkim_selector", "dkim_domain")
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def read_key(path: Path) -> bytes:
    """The RSA private key in ``path`` as the PKCS#1 PEM dkimpy signs with; DkimKeyError
    naming the file and the fix when it cannot be read or is no key fit for DKIM."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise DkimKeyError(f"{path} is not a file; give a PEM key file ({MAKE_ONE})")
        with path.open("rb") as file:
            data = file.read(MOST_BYTES + 1)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise DkimKeyError(
                f"{path} does not exist; give the path of the private key (relative to the "
                f"site), or {MAKE_ONE}"
            ) from None
        if isinstance(exc, PermissionError):
            raise DkimKeyError(
                f"{path} cannot be read by the user feedpub runs as; make that user its "
                "owner (chown), readable by it alone (chmod 600)"
            ) from None
        raise DkimKeyError(f"cannot read the key {path}: {exc.strerror or exc}") from None
    if len(data) > MOST_BYTES:
        raise DkimKeyError(
            f"{path} is over {MOST_BYTES // 1024} KB, which no RSA key in PEM is; {MAKE_ONE}"
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:  # cryptography's way of saying a passphrase is needed
        raise DkimKeyError(
            f"{path} is protected by a passphrase, and feedpub signs unattended; write it "
            f"unencrypted with: openssl rsa -in {path.name} -out dkim.pem, readable only by "
            "the user feedpub runs as"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise DkimKeyError(
            f"{path} holds no PEM private key (a file starting -----BEGIN RSA PRIVATE KEY----- "
            f"or -----BEGIN PRIVATE KEY-----); {MAKE_ONE}"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        kind = {
            ec.EllipticCurvePrivateKey: "an EC key",
            ed25519.Ed25519PrivateKey: "an Ed25519 key",
            dsa.DSAPrivateKey: "a DSA key",
        }
        what = next((v for k, v in kind.items() if isinstance(key, k)), "a key of another kind")
        raise DkimKeyError(
            f"{path} holds {what}, and feedpub signs with RSA (rsa-sha256, which every "
            f"receiver checks); {MAKE_ONE}"
        )
    if not SHORTEST <= key.key_size <= LONGEST:
        why = (
            "receivers ignore DKIM keys under 1024 bits (RFC 8301)"
            if key.key_size < SHORTEST
            else "receivers need not check keys over 4096 bits (RFC 8301)"
        )
        raise DkimKeyError(
            f"{path} holds a {key.key_size}-bit RSA key: {why}; make a 2048-bit one with: "
            "openssl genrsa -out dkim.pem 2048"
        )
    pem: bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return pem


def check_selector(value: str) -> str:
    """A selector (RFC 6376 §3.1): DNS labels joined by dots, as in SELECTOR._domainkey.DOMAIN."""
    if value and not all(_LABEL.fullmatch(label) for label in value.split(".")):
        raise ValueError(
            f"{value!r} is not a DKIM selector: use letters, digits and hyphens (dots between "
            'parts), as dkim_selector = "news2026"; it names the DNS record '
            "SELECTOR._domainkey.DOMAIN"
        )
    return value


def check_domain(value: str) -> str:
    """The signing domain (the d= tag), kept in its ASCII (IDNA) form."""
    if not value:
        return value
    fix = 'give the domain the DNS record is under, as dkim_domain = "news.example.org"'
    try:
        ascii_domain = value.strip().rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError(f"{value!r} is not a domain name; {fix}") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or len(ascii_domain) > 253 or not all(map(_LABEL.fullmatch, labels)):
        raise ValueError(f"{value!r} is not a domain name; {fix}")
    return ascii_domain


def missing(key_file: str, selector: str, domain: str) -> list[tuple[str, str]]:
    """(setting, message) for each DKIM setting missing when another is set: DKIM needs all
    three or none."""
    given = dict(zip(SETTINGS, (key_file, selector, domain), strict=True))
    if not any(given.values()) or all(given.values()):
        return []
    have = " and ".join(name for name, value in given.items() if value)
    examples = {
        "dkim_key_file": 'dkim_key_file = "dkim.pem" (the private key, relative to the site)',
        "dkim_selector": 'dkim_selector = "news" (the DNS record is news._domainkey.DOMAIN)',
        "dkim_domain": 'dkim_domain = "news.example.org" (the domain that signs)',
    }
    return [
        (
            name,
            f"[smtp] {name} is missing: {have} {'is' if ' and ' not in have else 'are'} set, "
            f"and DKIM needs all three (or none); add {examples[name]}",
        )
        for name, value in given.items()
        if not value
    ]


def key_path(root: Path, key_file: str) -> Path:
    """The key file's path: relative to the site's folder unless absolute."""
    return root / key_file
