"""DKIM signatures (RFC 6376) on the messages feedpub sends, made with dkimpy, for a site that
runs its own relay: ``[smtp] dkim_key_file``, ``dkim_selector`` and ``dkim_domain``.

Each message is signed as it is handed to its transport (``transport.factory`` wraps the
transports of a site that signs), so issues, welcomes, confirmations and test copies, through
the relay or into the outbox, are signed the same way, and a message is signed with the Date it
carries. The signature is relaxed/relaxed (RFC 6376 §3.4: header folding and trailing spaces
that relays change do not break it) and covers the headers in ``SIGNED`` that the message has.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from feedpub.config import Site
from feedpub.dkimkey import key_path, read_key

# The headers a receiver shows or acts on: who it is from and to, what it is, the list's
# identity and unsubscribe (Gmail and Yahoo want List-Unsubscribe signed for one-click), the
# MIME structure, and Gmail's Feedback-ID. Only those the message has are signed.
SIGNED = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"mime-version",
    b"content-type",
    b"feedback-id",
)
RELAXED = (b"relaxed", b"relaxed")


@dataclass(frozen=True)
class Signer:
    """Signs with one key as ``selector``._domainkey.``domain``."""

    selector: bytes
    domain: bytes
    key: bytes = field(repr=False)  # the PKCS#1 PEM

    def sign(self, data: bytes) -> bytes:
        """``data`` with its DKIM-Signature header put first."""
        # Here, not at the top: dkimpy loads dnspython (0.2 s), which a site that does not
        # sign, and every command that sends nothing, would pay for.
        import dkim as dkimpy

        head = data.split(b"\r\n\r\n", 1)[0]
        names = {
            line.split(b":", 1)[0].rstrip().lower()
            for line in head.split(b"\r\n")
            if line[:1] not in (b" ", b"\t")  # a folded header's continuation
        }
        header = dkimpy.sign(
            data,
            self.selector,
            self.domain,
            self.key,
            canonicalize=RELAXED,
            include_headers=[name for name in SIGNED if name in names],
        )
        return bytes(header) + data


def signer(site: Site) -> Signer | None:
    """The site's signer, its key read now (DkimKeyError naming the file and the fix); None
    when the site does not sign."""
    smtp = site.smtp
    if not smtp.dkim_key_file:
        return None
    key = read_key(key_path(site.root, smtp.dkim_key_file))
    return Signer(smtp.dkim_selector.encode("ascii"), smtp.dkim_domain.encode("ascii"), key)
