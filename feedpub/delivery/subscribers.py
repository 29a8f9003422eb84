"""Subscribers: validated, unique regardless of case, kept in the site state.

The state holds personal data: commands print no more of it than they are asked for.
"""

from __future__ import annotations

import contextlib
import csv
import io
import unicodedata
from collections.abc import Iterator
from datetime import datetime

from feedpub.errors import SubscriberError
from feedpub.store.state import State
from feedpub.store.subscribers import STATUSES, Subscriber

MAX_NAME = 200




def normalize(address: str) -> tuple[str, str]:
    """(the address to send to, its key for uniqueness). Raises SubscriberError if invalid.

    Internationalised domains are accepted; the key is the lower-cased ASCII form, so that
    Jane@Example.org and jane@example.org are one subscriber.
    """
    text = address.strip()
    if len(text) > 320:
        raise SubscriberError(f"{text[:40]!r}... is too long for an email address")
    try:
        from email_validator import validate_email  # here: most commands never need it

        valid = validate_email(text, check_deliverability=False)
    except ValueError as exc:  # EmailNotValidError is a ValueError
        raise SubscriberError(f"{text!r} is not a valid address: {exc}") from None
    key = (valid.ascii_email or valid.normalized).lower()
    return valid.normalized, key


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if len(name) > MAX_NAME:
        raise SubscriberError(f"the name is {len(name)} characters; keep it under {MAX_NAME}")
    # Cc: C0, DEL and C1 (U+0080-U+009F; U+009B is a terminal's CSI, like ESC [).
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise SubscriberError("the name holds control characters")
    return name


class Subscribers:
    """The subscribers of an open state, with the rules for addresses and names."""

    def __init__(self, state: State) -> None:
        self.rows = state.subscribers

    def add(
        self,
        address: str,
        name: str,
        now: datetime,
        reactivate: bool = True,
        status: str = "active",
    ) -> tuple[Subscriber, bool]:
        """Add (or, with ``reactivate``, re-activate) a subscriber; (subscriber, True if it was
        new or re-activated). A new subscriber gets ``status``."""
        email, key = normalize(address)
        name = _clean_name(name)
        if status not in STATUSES:
            raise SubscriberError(f"status {status!r} is not one of {', '.join(STATUSES)}")
        found = self.rows.find(key)
        stamp = now.isoformat()
        if found is None:
            return self.rows.insert(email, key, name, status, stamp), True
        if found.status == "active" or not reactivate:
            return found, False
        self.rows.reactivate(found.id, name, stamp)
        return self.get(key), True

    def get(self, address_or_key: str) -> Subscriber:
        key = address_or_key.lower()
        if "@" in key:
            with contextlib.suppress(SubscriberError):  # not valid now: look it up as written
                key = normalize(address_or_key)[1]
        found = self.rows.find(key)
        if found is None:
            raise SubscriberError(f"{address_or_key!r} is not a subscriber")
        return found

    def set_status(self, address_or_key: str, status: str, now: datetime) -> Subscriber:
        subscriber = self.get(address_or_key)
        self.rows.set_status(subscriber.id, status, now.isoformat())
        return Subscriber(subscriber.id, subscriber.email, subscriber.name, status)

    def iter(self, status: str | None = None) -> Iterator[Subscriber]:
        return self.rows.iter(status)

    def count(self, status: str | None = None) -> int:
        return self.rows.count(status)


def export_csv(subscribers: Subscribers) -> str:
    """Every subscriber as CSV with a header: email, name, status."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["email", "name", "status"])
    for subscriber in subscribers.iter():
        writer.writerow([subscriber.email, subscriber.name, subscriber.status])
    return out.getvalue()
