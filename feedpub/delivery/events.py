"""What a bounce, a complaint or an unsubscribe does to a subscriber, wherever it came from
(the inbox, a provider's webhook, the web app): the rules, applied in the transaction that
records the message or webhook event as acted on, so each is acted on once.

- hard: the subscriber is ``bounced`` at once (from active, pending or paused); one who left
  or was forgotten stays as they are.
- soft: counted; a subscriber with a soft bounce for each of their last ``SOFT_LIMIT`` issues
  in a row is ``bounced``.
- complaint: ``complained`` at once, from any status but forgotten.
- unsubscribe: ``unsubscribed``, from active or pending.

A subscriber whose status changes here is out of any send in progress from that moment: the
send's claim of their row reads the status. A token that does not read (forged, another
list's) changes nothing; the message's key is still recorded, so it is not read for ever.
Mail that names its reader by address alone, on a site with a bounce address (whose every
message carries a token), changes nothing either: anyone can send such a message.
The events are the store's (``feedpub.store.events``); the issue's figures are made of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from feedpub.config import Site
from feedpub.delivery import verp
from feedpub.delivery.identity import list_id
from feedpub.delivery.subscribers import normalize
from feedpub.delivery.tokens import load_secret
from feedpub.errors import SecretError, SubscriberError, VerpError
from feedpub.store.events import KINDS, RECEIVED_KINDS
from feedpub.store.state import State
from feedpub.store.subscribers import Subscriber

SOFT_LIMIT = 3  # issues in a row soft-bounced before an address counts as bounced
# What an event may change, from which statuses ("paused" is active with a pause).
_FROM = {
    "hard": ("active", "pending"),
    "soft": ("active", "pending"),
    "complaint": ("pending", "active", "unsubscribed", "bounced"),
    "unsubscribe": ("active", "pending"),
}
_STATUS = {
    "hard": "bounced",
    "soft": "bounced",
    "complaint": "complained",
    "unsubscribe": "unsubscribed",
}

# What ``Applied.change`` says.
CHANGES = (
    "bounced",
    "soft",
    "complained",
    "unsubscribed",
    "nothing",
    "duplicate",
    "unknown subscriber",
    "forged",
    "unverified",
)


@dataclass(frozen=True)
class Event:
    """Something that came back about a message. ``kind``: hard, soft, complaint or
    unsubscribe (or auto-reply, unknown, ignored: only the key is recorded); ``source``: where
    it came from ('inbox', 'ses', 'postmark', 'mailgun', 'sendgrid', 'web', ...); ``detail``:
    the status code and diagnostic; ``token``: a VERP token found in the message or payload;
    ``address``: the recipient's address when no token is known (as webhooks give it);
    ``issue``: the issue, when the source says it and the token does not; ``key``: the
    ``received`` key of the message or webhook event ('' for none)."""

    kind: str
    source: str
    detail: str = ""
    token: str = ""
    address: str = ""
    issue: int | None = None
    key: str = ""


@dataclass(frozen=True)
class Applied:
    """What an event did: the subscriber's address ('' when none is known) and the change,
    one of ``CHANGES``."""

    email: str
    change: str


class _Context:
    """What applying events needs once per batch: the secret and the List-Id."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.lid = list_id(site)
        try:
            self.secret: bytes | None = load_secret(site.state_dir, create=False)
        except SecretError:
            self.secret = None  # no secret, no token was ever made: every one is forged


def apply(site: Site, state: State, event: Event, now: datetime) -> Applied:
    """Apply ``event`` in a transaction of its own that records its key."""
    context = _Context(site)
    with state.transaction():
        return _apply(context, state, event, now.isoformat(), set())


def apply_many(
    site: Site, events: Iterable[Event], now: datetime, state: State | None = None
) -> list[Applied]:
    """Apply ``events`` in one transaction (the inbox's batches), in order. The events of one
    message (a report about several recipients) share its key: the first records it, and the
    rest are applied with it; a key recorded before makes each of its events a duplicate."""
    context = _Context(site)
    if state is None:
        with State.open(site.state_dir) as opened:
            return _apply_all(context, opened, events, now)
    return _apply_all(context, state, events, now)


def _apply_all(
    context: _Context, state: State, events: Iterable[Event], now: datetime
) -> list[Applied]:
    stamp = now.isoformat()
    fresh: set[str] = set()
    with state.transaction():
        return [_apply(context, state, event, stamp, fresh) for event in events]


def _apply(context: _Context, state: State, event: Event, stamp: str, fresh: set[str]) -> Applied:
    if event.kind not in RECEIVED_KINDS:
        raise ValueError(f"no such event kind: {event.kind!r}")
    if event.key and event.key not in fresh:
        if not state.events.receive(event.key, event.kind, stamp):
            return Applied("", "duplicate")
        fresh.add(event.key)
    if event.kind not in KINDS:
        return Applied("", "nothing")  # an auto-reply, an unknown message: only its key
    issue = event.issue
    found: Subscriber | None
    if event.token:
        if context.secret is None:
            return Applied("", "forged")
        try:
            reading = verp.read(context.secret, context.lid, event.token)
        except VerpError:
            return Applied("", "forged")
        found = state.subscribers.find_token(reading.token_key)
        issue = reading.issue if reading.issue is not None else issue
    elif event.address:
        if event.source == "inbox" and context.site.smtp.bounce_address:
            # Anyone can mail the bounce domain. With a bounce address every message leaves
            # with a signed token in its envelope sender (and its unsubscribe mailto), and a
            # real report carries it back; one naming its reader by address alone could be
            # anyone's, and would stop their mail for good. Kept and counted, never acted on.
            return Applied("", "unverified")
        try:
            found = state.subscribers.find(normalize(event.address)[1])
        except SubscriberError:
            found = None
    else:
        found = None
    if found is None:
        return Applied("", "unknown subscriber")
    if found.status == "forgotten":
        return Applied("", "nothing")  # nothing more is kept of them, not even this
    events = state.events
    if issue is None and event.kind != "unsubscribe":
        # A bounce or complaint that names no issue (a webhook with the address only) is about
        # the latest one sent to them; an unsubscribe's issue is found by the figures.
        issue = events.latest_sent(found.id, stamp)
    events.add(found.id, issue, event.kind, event.source, event.detail, stamp)
    if found.status not in _FROM[event.kind]:
        return Applied(found.email, "nothing")
    if event.kind == "soft" and events.soft_streak(found.id) < SOFT_LIMIT:
        return Applied(found.email, "soft")
    status = _STATUS[event.kind]
    state.subscribers.set_status(found.id, status, stamp)
    return Applied(found.email, status)  # the change is named by the status it makes
