"""Sign-up, confirmation and the reader's own page: the rules, over the store, without HTTP.

The web app (``web``) reads requests and renders pages; everything it decides is here, so that
it can be called and tested without a server. Each function takes an open State inside a
transaction its caller holds (one short transaction per request: a sending run waits for
none of them for long), the site, its secret and ``now``. The mail a change needs is put in
``state.outgoing`` in that same transaction, so it is sent exactly when the change holds;
the sender (``mailer``) sends it. No SQL here: the store's rows classes do the writing.

Nothing a sign-up answers depends on who is on the list: the same page for a new, a pending,
an active and a suppressed address; the limits for one address drop mail silently.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from feedpub.config import Site
from feedpub.delivery import tokens
from feedpub.delivery.messages import list_id
from feedpub.delivery.subscribers import Subscribers, normalize
from feedpub.errors import FormError, LinkExpired, RateLimited, SubscriberError, TokenError
from feedpub.i18n import N_
from feedpub.store.state import State
from feedpub.store.subscribers import Subscriber

# The form's field names: the sign-up page and `feedpub subscribe-form`'s snippet post these.
EMAIL = "email"
NAME = "name"
TOPICS = "topics"
# A field people never see (hidden by the form's style, skipped by the tab key, and not
# filled by autofill): a bot that fills every field gets the usual answer and nothing else.
HONEYPOT = "website"

MAX_EMAIL = 320
MAX_NAME = 100
# A confirmation link lives this long; an address is sent at most one confirmation an hour
# and at most MOST_PENDING while none of them is used (over the week a link lives), so a
# stranger's address cannot be flooded through the form.
CONFIRM_LIFETIME = tokens.CONFIRM_TIME
MAIL_EVERY = timedelta(hours=1)
MOST_PENDING = 3
CLIENT_WINDOW = timedelta(hours=1)
# A pause longer than this is an unsubscribe with extra steps; the page says so.
MAX_PAUSE_DAYS = 366
# Statuses that a confirmed sign-up turns back into 'active': they left or were stopped, and
# now prove again, from the mailbox itself, that they want the newsletter.
REJOINABLE = ("pending", "unsubscribed", "bounced", "complained")


@dataclass(frozen=True)
class SignupForm:
    """What a sign-up form carried, checked."""

    email: str  # as normalize() writes it
    key: str  # the address's key (normalize's second half)
    name: str = ""
    topics: tuple[str, ...] = ()
    trapped: bool = False  # the honeypot was filled in


def _one(fields: Mapping[str, Sequence[str]], name: str) -> str:
    values = fields.get(name) or []
    if len(values) > 1:
        raise FormError(
            name,
            N_("the form sent '%(name)s' %(count)s times; send it once"),
            name=name,
            count=len(values),
        )
    return values[0] if values else ""


def clean_name(text: str) -> str:
    """The name with control and format characters removed and spaces folded; FormError if
    longer than MAX_NAME. It is only ever shown on the reader's own page and in issues."""
    kept = "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co"))
    kept = " ".join(kept.split())
    if len(kept) > MAX_NAME:
        raise FormError(
            NAME,
            N_("the name is %(count)s characters; keep it to %(most)s"),
            count=len(kept),
            most=MAX_NAME,
        )
    return kept


def topic_names(site: Site) -> tuple[str, ...]:
    return tuple(topic.name for topic in site.newsletter.topics)


def clean_topics(site: Site, chosen: Sequence[str]) -> tuple[str, ...]:
    """The chosen topics in the settings' order; FormError for one the newsletter lacks."""
    names = topic_names(site)
    unknown = [name for name in chosen if name not in names]
    if unknown:
        shown = repr(unknown[0][:60])
        if not names:
            raise FormError(
                TOPICS,
                N_("there is no topic %(topic)s; choose among none: this newsletter has no topics"),
                topic=shown,
            )
        raise FormError(
            TOPICS,
            N_("there is no topic %(topic)s; choose among %(topics)s"),
            topic=shown,
            topics=", ".join(names),
        )
    return tuple(name for name in names if name in chosen)


def read_form(site: Site, fields: Mapping[str, Sequence[str]]) -> SignupForm:
    """The sign-up form's fields checked; FormError names the first bad field and the fix."""
    trapped = bool(_one(fields, HONEYPOT).strip())
    email = _one(fields, EMAIL).strip()
    if not email:
        raise FormError(EMAIL, N_("the email address is missing; type the address to send to"))
    if len(email) > MAX_EMAIL:
        raise FormError(
            EMAIL,
            N_("the email address is too long; an address has at most %(most)s characters"),
            most=MAX_EMAIL,
        )
    try:
        address, key = normalize(email)
    except SubscriberError:
        raise FormError(
            EMAIL,
            N_("this is not an email address; check it for typing mistakes (name@example.org)"),
        ) from None
    name = clean_name(_one(fields, NAME))
    topics = clean_topics(site, fields.get(TOPICS) or [])
    return SignupForm(address, key, name, topics, trapped)


def keyed_hash(secret: bytes, purpose: str, value: str) -> str:
    return hmac.new(secret, f"{purpose}\n{value}".encode(), hashlib.sha256).hexdigest()


def client_bucket(secret: bytes, client: str) -> str:
    """The limits' bucket of a client address: a keyed hash, so that the state holds no
    address of anyone who did not ask for it to be kept (``[web] record_ip``)."""
    return "ip:" + keyed_hash(secret, "limit", client)[:32]


def _stamp(now: datetime) -> str:
    return now.isoformat()


def _mail(state: State, subscriber: Subscriber, kind: str, now: datetime, target: str = "") -> bool:
    """Queue ``kind`` for ``subscriber`` unless the per-address limits say no (silently: the
    page the visitor sees must not tell whether mail went)."""
    outgoing = state.outgoing
    if outgoing.count(subscriber.id, kind, since=_stamp(now - MAIL_EVERY)):
        return False
    # The weekly bound holds for the "already" note too: a member's inbox is no easier to
    # flood through the form than a stranger's.
    if outgoing.count(subscriber.id, kind, since=_stamp(now - CONFIRM_LIFETIME)) >= MOST_PENDING:
        return False
    outgoing.add(kind, subscriber.id, _stamp(now), target=target)
    return True


def sign_up(
    state: State, site: Site, secret: bytes, form: SignupForm, client: str, now: datetime
) -> bool:
    """Record a sign-up and queue the mail it needs; True if mail was queued. RateLimited if
    the client has posted ``[web] signups_per_hour`` already (the one answer that differs,
    and it depends on the client, never on the address)."""
    if form.trapped:
        return False
    if not state.limits.hit(
        client_bucket(secret, client), now, CLIENT_WINDOW, site.web.signups_per_hour
    ):
        raise RateLimited(
            N_(
                "more than %(most)s sign-ups came from your network this hour; try again in an hour"
            ),
            most=site.web.signups_per_hour,
        )
    email, key = form.email, form.key
    rows = state.subscribers
    found = rows.find(key)
    stamp = _stamp(now)
    if found is None:
        found = rows.insert(
            email,
            key,
            form.name,
            "pending",
            stamp,
            source="form",
            joined=stamp,
            ip=client if site.web.record_ip else "",
            topics=form.topics,
        )
        return _mail(state, found, "confirm", now)
    if found.status == "active":
        # Their manage link, not a second confirmation: someone typing a member's address
        # learns nothing, and the member gets a note they can ignore.
        return _mail(state, found, "already", now)
    if found.status == "pending" and form.topics != found.topics:
        # The latest form is the one they will confirm (a stranger changing a pending row's
        # topics changes nothing anyone receives until the mailbox's owner confirms).
        rows.set_topics(found.id, form.topics, stamp)
    return _mail(state, found, "confirm", now)


# -- links -----------------------------------------------------------------------------------


def _new_key_of(state: State) -> Any:
    def extra_for(token_key: str) -> str:
        found = state.subscribers.find_token(token_key)
        if found is None or not found.new_email:
            return ""
        try:
            return normalize(found.new_email)[1]
        except SubscriberError:
            return ""

    return extra_for


def read_link(
    state: State, site: Site, secret: bytes, token: str, purposes: Sequence[str], now: datetime
) -> tuple[tokens.Reading, Subscriber]:
    """The reading of a link's token and its subscriber. TokenError for a malformed, forged,
    wrong or stale link (and for a forgotten subscriber's: nothing is held about them)."""
    purpose = token[:1] if token[:1] in purposes and token[1:2] == "." else purposes[0]
    reading = tokens.read(secret, list_id(site), token, purpose, now, extra_for=_new_key_of(state))
    if reading.purpose not in purposes:
        raise TokenError("this link is not one for this page")
    found = Subscribers(state).of_token(reading)
    if found is None:
        raise TokenError("this link belongs to no subscriber now")
    return reading, found


def link_token(
    site: Site, secret: bytes, subscriber: Subscriber, purpose: str, now: datetime
) -> str:
    expires = now + CONFIRM_LIFETIME if purpose in ("c", "a") else None
    extra = ""
    if purpose == "a":
        extra = normalize(subscriber.new_email)[1]
    return tokens.make(secret, list_id(site), purpose, subscriber.token_key, expires, extra)


@dataclass(frozen=True)
class Confirmed:
    """What a confirmation did: ``kind`` is 'joined', 'already' (confirmed before: nothing
    changed) or 'address' (an address change took effect)."""

    kind: str
    subscriber: Subscriber


def confirm(state: State, site: Site, secret: bytes, token: str, now: datetime) -> Confirmed:
    """Apply a confirmation link (a sign-up's, or an address change's). LinkExpired for an
    expired link (the page offers a fresh one); TokenError for a bad one."""
    reading, found = read_link(state, site, secret, token, ("c", "a"), now)
    if reading.expired:
        raise LinkExpired("this confirmation link has expired; ask for a fresh one")
    rows = state.subscribers
    stamp = _stamp(now)
    people = Subscribers(state, secret)
    if reading.purpose == "a":
        if not found.new_email:
            return Confirmed("already", found)
        email, key = normalize(found.new_email)
        other = rows.find(key)
        if other is not None and other.id != found.id:
            raise SubscriberError(
                N_(
                    "that address is already on the list with a subscription of its own; "
                    "unsubscribe one of the two first"
                )
            )
        rows.change_email(found.id, email, key, stamp)
        rows.unsuppress(people.suppression_hash(key))
        return Confirmed("address", rows.find(key) or found)
    if found.status == "active":
        return Confirmed("already", found)
    if found.status not in REJOINABLE:
        raise TokenError("this link belongs to no subscriber now")
    if found.status != "pending":
        # They left once (or their mail bounced): a click from the mailbox itself is the
        # fresh consent, recorded as the form's at this moment; confirm() forgets the
        # failures counted before.
        rows.set_status(found.id, "pending", stamp)
        rows.set_consent(found.id, "form", stamp, found.ip, stamp)
    rows.confirm(found.id, stamp)
    key = normalize(found.email)[1]
    rows.unsuppress(people.suppression_hash(key))
    if site.newsletter.welcome:
        state.outgoing.add("welcome", found.id, stamp)
    return Confirmed("joined", rows.find(key) or found)


def resend(state: State, site: Site, secret: bytes, token: str, now: datetime) -> None:
    """A fresh confirmation for the subscriber of an expired (or any valid) confirmation
    link, within the per-address limits; the address it goes to is the one on file."""
    reading, found = read_link(state, site, secret, token, ("c", "a"), now)
    if reading.purpose == "a":
        if found.new_email:
            _mail(state, found, "address", now, target=found.new_email)
        return
    if found.status != "active":
        _mail(state, found, "confirm", now)


# -- the reader's own page -------------------------------------------------------------------


def manage_reading(
    state: State, site: Site, secret: bytes, token: str, now: datetime
) -> Subscriber:
    """The subscriber a manage link stands for; a link of the form before version 6 (every
    email sent until then carries one) reads as a manage link too. An unsubscribe link of
    today's form does not: it travels in a header that mail software acts on by itself."""
    return read_link(state, site, secret, token, ("m",), now)[1]


def pause_until(site: Site, value: str, now: datetime) -> str | None:
    """The pause's end as the state keeps it (the start of that day in the site's timezone);
    None for '' (no pause). FormError for a date that is not one, past, or too far."""
    text = value.strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise FormError("until", N_("the date is not one; write it as YYYY-MM-DD, e.g. 2027-01-31"))
    today = now.astimezone(site.tz).date()
    if day <= today:
        raise FormError("until", N_("the date has passed; choose a day after today"))
    if day > today + timedelta(days=MAX_PAUSE_DAYS):
        raise FormError(
            "until",
            N_("that is more than %(most)s days away; choose a nearer day, or unsubscribe"),
            most=MAX_PAUSE_DAYS,
        )
    return datetime.combine(day, time(0), site.tz).isoformat()


def change_address(
    state: State, site: Site, subscriber: Subscriber, address: str, now: datetime
) -> bool:
    """Keep ``address`` as the one waiting for its confirmation and queue the mail to it;
    the current address stays in use until the new one is confirmed. True if mail was
    queued (False within the limits, or for the address it already is)."""
    text = address.strip()
    if not text or len(text) > MAX_EMAIL:
        raise FormError(EMAIL, N_("type the new email address (at most 320 characters)"))
    try:
        email, key = normalize(text)
    except SubscriberError:
        raise FormError(
            EMAIL,
            N_("this is not an email address; check it for typing mistakes (name@example.org)"),
        ) from None
    if key == normalize(subscriber.email)[1]:
        raise FormError(EMAIL, N_("that is the address already in use; type a different one"))
    stamp = _stamp(now)
    if email != subscriber.new_email:
        state.subscribers.set_new_email(subscriber.id, email, stamp)
    return _mail(state, subscriber, "address", now, target=email)


def data(state: State, secret: bytes, subscriber: Subscriber) -> bytes:
    """Everything held about the subscriber, as the JSON file their page downloads."""
    held = Subscribers(state, secret).data(subscriber)
    return (json.dumps(held, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()
