"""Subscribers: validated, unique regardless of case, kept in the site state, with each one's
consent record; forgetting a person, and the suppression list that keeps them forgotten.

The state holds personal data: commands print no more of it than they are asked for. A
forgotten person leaves a tombstone row (so past issues' counts stay exact) and a keyed hash of
their address (``suppression_hash``: HMAC-SHA256 with the site secret), which no import gets
past; only a fresh confirmation of a sign-up lifts it.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import hmac
import io
import unicodedata
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from feedpub.delivery.tokens import Reading, load_secret
from feedpub.errors import NotResubscribed, SubscriberError
from feedpub.store.state import State
from feedpub.store.subscribers import SOURCES, STATUSES, Subscriber

MAX_NAME = 200
FORGOTTEN = "forgotten"
# The statuses of someone who left (or whose mailbox or complaint took them off): adding them
# again is a decision to make on purpose, never a side effect of a plain `subscribers add`.
LEFT = {
    "unsubscribed": "unsubscribed",
    "bounced": "was taken off after their mailbox bounced",
    "complained": "was taken off after reporting an issue as spam",
}


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
    """The subscribers of an open state, with the rules for addresses and names. ``secret``
    keys the suppression hashes (default: the site's, read from the state's folder when first
    needed)."""

    def __init__(self, state: State, secret: bytes | None = None) -> None:
        self.state = state
        self.rows = state.subscribers
        self._secret = secret

    @property
    def secret(self) -> bytes:
        if self._secret is None:
            if self.state.path is None:
                raise SubscriberError(
                    "the site has no state yet, so no secret to check the suppression list with"
                )
            self._secret = load_secret(self.state.path.parent)
        return self._secret

    def suppression_hash(self, key: str) -> str:
        """The keyed hash the suppression list holds for the address whose key is ``key``."""
        return hmac.new(self.secret, f"suppress\n{key}".encode(), hashlib.sha256).hexdigest()

    def suppressed(self, address_or_key: str) -> bool:
        """Whether the address asked to be forgotten (and has not signed up again since)."""
        return self._suppressed_key(_key_of(address_or_key))

    def _suppressed_key(self, key: str) -> bool:
        # An empty list needs no secret: a site that never forgot anyone never makes one here.
        return self.rows.has_suppressions() and self.rows.is_suppressed(
            self.suppression_hash(key)
        )

    def add(
        self,
        address: str,
        name: str,
        now: datetime,
        reactivate: bool = True,
        status: str = "active",
        source: str = "cli",
        joined: datetime | str | None = None,
        allow_suppressed: bool = False,
        ip: str = "",
        topics: tuple[str, ...] = (),
        resubscribe: bool = True,
    ) -> tuple[Subscriber, bool]:
        """Add (or, with ``reactivate``, re-activate) a subscriber; (subscriber, True if it was
        new or re-activated). A new subscriber gets ``status``, and a consent record: how they
        joined (``source``) and when (``joined``, default ``now``), from where (``ip``, only
        with ``[web] record_ip``), and their ``topics``.

        An address on the suppression list (forgotten on request) is refused, SubscriberError,
        unless ``allow_suppressed`` (a sign-up, which only its confirmation makes active).
        Without ``resubscribe``, re-activating someone who left (``LEFT``) is a
        NotResubscribed naming when they left."""
        email, key = normalize(address)
        name = _clean_name(name)
        if status not in STATUSES or status == FORGOTTEN:
            allowed = ", ".join(s for s in STATUSES if s != FORGOTTEN)
            raise SubscriberError(f"status {status!r} is not one of {allowed}")
        if source not in SOURCES:
            raise SubscriberError(f"source {source!r} is not one of {', '.join(SOURCES)}")
        found = self.rows.find(key)
        stamp = now.isoformat()
        if found is None:
            if not allow_suppressed and self._suppressed_key(key):
                raise SubscriberError(
                    f"{email} asked to be forgotten and is not added again; they can sign up "
                    "again themselves (the confirmation lifts it)"
                )
            when = joined.isoformat() if isinstance(joined, datetime) else joined or stamp
            made = self.rows.insert(
                email, key, name, status, stamp, source, when, ip=ip, topics=topics
            )
            return made, True
        if found.status == "active" or not reactivate:
            return found, False
        if not resubscribe and found.status in LEFT:
            raise NotResubscribed(found.email, LEFT[found.status], found.changed)
        self.rows.reactivate(found.id, name, stamp)
        return self.get(key), True

    def get(self, address_or_key: str) -> Subscriber:
        found = self.rows.find(_key_of(address_or_key))
        if found is None or found.status == FORGOTTEN:
            raise SubscriberError(f"{address_or_key!r} is not a subscriber")
        return found

    def of_token(self, reading: Reading) -> Subscriber | None:
        """The subscriber a valid token stands for (by token_key, or by email_key for a token
        of the form before version 6); None if there is none, or they were forgotten."""
        found = self.rows.find(reading.key) if reading.legacy else self.rows.find_token(reading.key)
        return None if found is None or found.status == FORGOTTEN else found

    def set_status(self, address_or_key: str, status: str, now: datetime) -> Subscriber:
        subscriber = self.get(address_or_key)
        if status not in STATUSES or status == FORGOTTEN:
            raise SubscriberError(f"status {status!r} is not one a subscriber can be set to")
        self.rows.set_status(subscriber.id, status, now.isoformat())
        return replace(subscriber, status=status, changed=now.isoformat())

    def forget(self, address_or_key: str, now: datetime) -> Subscriber:
        """Erase the person: their row becomes a tombstone, their deliveries keep only status
        and counts, their queued mail is dropped, and their address's keyed hash goes on the
        suppression list. The subscriber as it was. Call inside a transaction, and
        ``state.scrub()`` once it has committed (the log's old copies of the row go too)."""
        key = _key_of(address_or_key)  # the row's email_key: get() found it by this one
        subscriber = self.get(key)
        stamp = now.isoformat()
        self.rows.forget(subscriber.id, stamp)
        self.rows.suppress(self.suppression_hash(key), "forgotten", stamp)
        return subscriber

    def data(self, subscriber: Subscriber) -> dict[str, Any]:
        """Everything the state holds about ``subscriber``, ready for JSON: what ``subscribers
        show --json`` prints and the reader's own download is."""
        held: dict[str, Any] = {
            "address": subscriber.email,
            "name": subscriber.name,
            "status": subscriber.status,
            "source": subscriber.source,
            "joined": subscriber.joined,
            "confirmed": subscriber.confirmed,
        }
        if subscriber.ip:
            held["ip"] = subscriber.ip
        held["topics"] = list(subscriber.topics)
        held["paused_until"] = subscriber.paused_until
        if subscriber.new_email:
            held["new_address"] = subscriber.new_email
        held["added"] = subscriber.added
        held["changed"] = subscriber.changed
        held["issues"] = [
            {
                "issue": d.issue,
                "subject": d.subject,
                "status": d.status,
                "updated": d.updated,
                "articles": list(d.titles),
            }
            for d in self.rows.delivered(subscriber.id)
        ]
        return held

    def iter(self, status: str | None = None) -> Iterator[Subscriber]:
        """The subscribers in ``status``; without one, all but the forgotten."""
        return self.rows.iter(status)

    def count(self, status: str | None = None) -> int:
        return self.rows.count(status)


def _key_of(address_or_key: str) -> str:
    key = address_or_key.lower()
    if "@" in key:
        with contextlib.suppress(SubscriberError):  # not valid now: look it up as written
            key = normalize(address_or_key)[1]
    return key


def export_csv(subscribers: Subscribers) -> str:
    """Every subscriber as CSV with a header: email, name, status."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["email", "name", "status"])
    for subscriber in subscribers.iter():
        writer.writerow([subscriber.email, subscriber.name, subscriber.status])
    return out.getvalue()
