"""The placeholders a stored issue carries where each recipient's own links go: the digest
writes them (``newsletter``), delivery puts each recipient's link in their place. URLs, so
that escaping leaves them whole; the unsubscribe one is ``store.issues``'s, kept there since
issues already stored carry it."""

from __future__ import annotations

MANAGE_PLACEHOLDER = "https://manage.feedpub.invalid/placeholder"
