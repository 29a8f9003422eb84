"""Transactional mail: the emails a reader's own action asks for (a sign-up's confirmation,
"you are subscribed already", the welcome, a new address's confirmation), written from their
templates and sent from the state's ``outgoing`` queue.

The web app records a row in ``outgoing`` in the same transaction as the change that needs the
mail, and answers at once; ``flush`` sends what is due, from the web process's sender thread
(``Mailer``) or from ``feedpub run``. A row is claimed (``sending``, committed) before its one
SMTP transaction and recorded (committed) right after the relay's answer, as an issue's
deliveries are: a process killed between the relay's yes and the record leaves the row claimed,
and it goes out again only once the claim is ten minutes old (one duplicate at most, never
none). A refusal of the one message is an attempt (4xx and a lost connection: retried with
backoff up to ``[smtp] max_attempts``; 5xx: failed). The relay is reached before any row is
claimed, so one that is down (or refuses the login) spends no one's attempt; one that fails in
the middle (a 421, a refused sender) stops the flush and gives the row back, due at once,
the claim's attempt undone (``Outgoing.give_back``).

The templates: ``confirm_email`` (not ``confirm``, which is the web app's confirmation page),
``already``, ``welcome`` and ``address``, each ``.txt`` (which sets the ``subject``) and
``.html``; a site's own templates/ replaces any of them. What someone typed into the sign-up
form reaches none of the mails sent before a confirmation (not even the name in To): spammers
use other tools' name fields to mail their text through them.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from feedpub.config import Site
from feedpub.delivery import tokens
from feedpub.delivery.messages import (
    Recipient,
    host_of,
    list_headers,
    list_id,
    unsubscribe_link,
    web_link,
    write_message,
)
from feedpub.delivery.sending import sender_address, wall_clock
from feedpub.delivery.signup import REJOINABLE
from feedpub.delivery.subscribers import normalize
from feedpub.delivery.transport import (
    OUTBOX,
    ConnectionLost,
    Refused,
    RelayFailure,
    Transport,
    default_name,
    factory,
)
from feedpub.delivery.verp import bounce_sender, unsubscribe_mailto
from feedpub.errors import FeedpubError, StateError, SubscriberError, TemplateError
from feedpub.store.outgoing import OutgoingRow
from feedpub.store.state import State
from feedpub.templating import environment, template_problem
from feedpub.text import isolate

log = logging.getLogger(__name__)

# The template (without its suffix) of each kind of row.
TEMPLATES = {
    "confirm": "confirm_email",
    "already": "already",
    "welcome": "welcome",
    "address": "address",
}
# Who a kind of mail is still for when it is sent: a row made for a pending sign-up that was
# confirmed since is not sent. Someone who left (or whose mail bounced, or who complained) and
# signs up again is sent the confirmation: their click is the fresh consent that brings them
# back (signup.REJOINABLE), and nothing changes until they click.
WANTED = {
    "confirm": REJOINABLE,
    "already": ("active",),
    "welcome": ("active",),
    "address": ("active", "pending"),
}
# Mails answering a form post (RFC 3834: not to be answered by vacation responders; the
# second header is Exchange's own way of saying so).
AUTOMATIC = "Auto-Submitted: auto-generated\r\nX-Auto-Response-Suppress: All\r\n"
# A lost connection's or a 4xx's retry: sooner than an issue's (someone is waiting for this
# mail, the form told them to check their inbox), a minute doubling up to an hour.
FIRST_RETRY = timedelta(minutes=1)
LAST_RETRY = timedelta(hours=1)


def retry_after(attempts: int) -> timedelta:
    """How long a deferred mail waits after its ``attempts``-th try."""
    wait: timedelta = FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 10)
    return min(wait, LAST_RETRY)


@dataclass(frozen=True)
class Letter:
    """A mail's words, rendered from its templates."""

    subject: str
    text: str
    html: str


def _clean_subject(subject: str) -> str:
    # One line of text in a header: as for the issue's subject (digest.subject_line), no
    # control character, no line break, each bidi override closed.
    kept = "".join(c for c in subject if c.isspace() or unicodedata.category(c) not in ("Cc", "Cs"))
    return isolate(" ".join(kept.split()))


def render_letter(site: Site, kind: str, context: dict[str, Any]) -> Letter:
    """The subject, text and HTML of a ``kind`` mail; TemplateError (naming the template's file
    and line) if one cannot be rendered."""
    name = TEMPLATES[kind]
    env = environment(site)
    shown = f"{name}.txt"
    full = {
        "site": site.site,
        "newsletter": {
            "name": isolate(site.newsletter_name),
            "postal_address": site.newsletter.postal_address,
        },
        **context,
    }
    try:
        template = env.get_template(shown)
        try:
            module = template.make_module(full)
        except Exception:
            # render() has Jinja2 rewrite the traceback to the template's own lines;
            # make_module() does not, and the error would name a line of compiled code.
            env.handle_exception()
        text = str(module)
        subject = _clean_subject(str(getattr(module, "subject", "") or site.newsletter_name))
        shown = f"{name}.html"
        html = env.get_template(shown).render(subject=subject, **full)
    except Exception as exc:  # whatever a template's code raises, told with its file and line
        raise TemplateError(template_problem(exc, site, shown)) from None
    return Letter(subject, text, html)


def message_id(site: Site, row: OutgoingRow) -> str:
    """The same on every try of a row, so that a copy sent again is known for a duplicate; it
    names no address."""
    seed = f"{list_id(site)}\n{row.id}\n{row.created}".encode()
    return f"<{row.kind}-{row.id}.{hashlib.sha256(seed).hexdigest()[:16]}@{host_of(site)}>"


@dataclass(frozen=True)
class Mail:
    """A row's message, ready to hand to a transport, from its envelope ``sender``."""

    recipient: Recipient
    data: bytes
    sender: str


def latest_issue_url(site: Site, state: State) -> str:
    """The web version of the last issue sent, or "" before the first."""
    last = state.issues.last()
    number = last.number if last is not None else 0
    while number > 0:
        # Most often the last one; one that waits for its approval (or is sending) is not.
        issue = state.issues.find(number)
        if issue is not None and issue.status == "sent":
            return site.issue_url(number)
        number -= 1
    return ""


def compose(
    site: Site,
    state: State,
    row: OutgoingRow,
    secret: bytes,
    now: datetime,
    date: datetime | None = None,
) -> Mail | str:
    """The message for ``row`` at ``now`` (its links expire from then), dated ``date``
    (default: ``now``); or why it is no longer wanted (the reader confirmed, left or was
    forgotten since it was queued)."""
    who = state.subscribers.find_id(row.subscriber)
    if who is None:
        return "not sent: the subscriber is gone"
    if who.status not in WANTED[row.kind]:
        return f"not sent: the subscriber is {who.status} now"
    if row.kind == "welcome" and not site.newsletter.welcome:
        return "not sent: [newsletter] welcome is false"
    lid = list_id(site)
    manage = web_link(site, "manage", tokens.make(secret, lid, "m", who.token_key))
    headers = AUTOMATIC
    # Their own bounce address (VERP, no issue): a confirmation that bounces leaves the
    # sign-up pending for good, a welcome's bounce counts as any other. A new address's
    # confirmation goes from the plain sender: its bounce says nothing of the address in use.
    sender = (
        bounce_sender(site, secret, who, None, lid)
        if row.kind != "address"
        else sender_address(site)
    )
    context: dict[str, Any]
    if row.kind in ("confirm", "address"):
        address = row.target if row.kind == "address" else who.email
        try:
            email, key = normalize(address)
        except SubscriberError:
            return "not sent: the address is not valid"
        if row.kind == "address":
            if not who.new_email:
                return "not sent: no change of address waits (confirmed or withdrawn since)"
            if _key_of(who.new_email) != key:
                return "not sent: a newer address change replaced this one"
        expires = now + tokens.CONFIRM_TIME
        purpose, extra = ("a", key) if row.kind == "address" else ("c", "")
        token = tokens.make(secret, lid, purpose, who.token_key, expires=expires, extra=extra)
        # No name: whoever filled in the form chose it.
        recipient = Recipient(who.id, email, "", key)
        context = {"confirm_url": web_link(site, "confirm", token), "expires": expires}
    else:
        try:
            email, key = normalize(who.email)
        except SubscriberError:
            return "not sent: the address is not valid"
        unsubscribe = unsubscribe_link(site, tokens.make(secret, lid, "u", who.token_key))
        context = {"manage_url": manage}
        if row.kind == "welcome":
            # Confirmed: the reader is on the list now, and the welcome is its first mail.
            recipient = Recipient(who.id, email, who.name, key)
            mailto = unsubscribe_mailto(site, secret, who, None, lid)
            headers = list_headers(site, unsubscribe, mailto, "welcome")
            context.update(
                unsubscribe_url=unsubscribe,
                issue_url=latest_issue_url(site, state),
                issues_url=site.site.url + "issues/",
            )
        else:
            recipient = Recipient(who.id, email, "", key)
    letter = render_letter(site, row.kind, context)
    try:
        data = write_message(
            site,
            recipient,
            letter.subject,
            letter.text,
            letter.html,
            date or now,
            message_id(site, row),
            headers,
        )
    except (ValueError, UnicodeError) as exc:  # an address no header can carry
        return f"not sent: cannot write the message: {exc}"
    return Mail(recipient, data, sender)


def _key_of(address: str) -> str:
    try:
        return normalize(address)[1]
    except SubscriberError:
        return ""


@dataclass
class FlushReport:
    """What one flush did; ``error``: why it stopped early (the relay, a template)."""

    sent: int = 0
    deferred: int = 0
    failed: int = 0
    skipped: int = 0  # rows no longer wanted when their turn came
    error: str | None = None
    temporary: bool = False
    failures: list[tuple[str, str]] = field(default_factory=list)  # (kind, the relay's reply)

    @property
    def counts(self) -> dict[str, int]:
        return {
            "sent": self.sent,
            "deferred": self.deferred,
            "failed": self.failed,
            "skipped": self.skipped,
        }


class _Connections:
    """The transport for each row: one relay connection reused for the whole flush; for the
    outbox a folder per row, since it names each file after its recipient and a reader's
    confirmation and welcome would be one file."""

    def __init__(self, site: Site, name: str) -> None:
        self.site = site
        self.name = name
        self.make = factory(name, site)  # TransportError now, before any row is claimed
        self.shared: Transport | None = None

    def open(self) -> None:
        """Reach the relay (RelayFailure if it cannot be used); the outbox has nothing to open."""
        if self.name != OUTBOX:
            self.shared = self.shared or self.make(self.site, "mail")[0]
            self.shared.open()

    def get(self, row: OutgoingRow) -> Transport:
        if self.name == OUTBOX:
            return self.make(self.site, f"mail-{row.id}")[0]
        if self.shared is None:
            self.shared = self.make(self.site, "mail")[0]
        return self.shared

    def close(self) -> None:
        shared, self.shared = self.shared, None
        if shared is not None:
            shared.close()


def flush(
    site: Site,
    now: datetime,
    transport: str | None = None,
    clock: Callable[[], datetime] | None = None,
    stop: threading.Event | None = None,
) -> FlushReport:
    """Send every outgoing mail due at ``now`` through the transport registered as
    ``transport`` (default: smtp when [smtp] names a host, else the outbox); the counts.

    Each mail is dated by ``clock`` (default: the system's) as it is handed over. It stops at
    a condition of the relay (``error`` says which; nothing is spent) or when ``stop`` is set.
    Raises TransportError for transport settings it cannot use, StateError if the state
    cannot be used; a site's broken template stops it with ``error`` naming the file.
    """
    report = FlushReport()
    stamp = now.isoformat()
    clock = clock or wall_clock(site)
    with State.open(site.state_dir) as state:
        outgoing = state.outgoing
        connections = _Connections(site, transport or default_name(site))
        secret = b""
        try:
            if not outgoing.due(stamp):
                return report
            try:
                # Reached before a row is claimed (a claim counts an attempt): a relay that is
                # down spends no one's attempts.
                connections.open()
            except RelayFailure as exc:
                report.error, report.temporary = str(exc), exc.temporary
                return report
            while stop is None or not stop.is_set():
                row = outgoing.claim(stamp)
                if row is None:
                    break
                try:
                    # Read once a mail is owed: a run with none makes no secret.
                    secret = secret or tokens.load_secret(site.state_dir)
                    made = compose(site, state, row, secret, now, clock())
                except FeedpubError as exc:  # a template, the settings: every row would fail
                    outgoing.give_back(row.id, str(exc))
                    report.error = str(exc)
                    break
                if isinstance(made, str):
                    outgoing.failed(row.id, made, stamp)
                    report.skipped += 1
                    continue
                if _send(site, state, connections.get(row), made, row, report, now):
                    break
        finally:
            connections.close()
    return report


def _send(
    site: Site,
    state: State,
    connection: Transport,
    mail: Mail,
    row: OutgoingRow,
    report: FlushReport,
    now: datetime,
) -> bool:
    """Hand one mail over and record the answer; True if the flush must stop."""
    outgoing = state.outgoing
    stamp = now.isoformat()
    try:
        connection.send(mail.sender, mail.recipient.envelope, mail.data)
    except Refused as refusal:
        reply = f"{refusal.code} {refusal.text}"
        if refusal.temporary:
            _later(site, state, row, reply, report, now)
        else:
            outgoing.failed(row.id, reply, stamp)
            report.failed += 1
            report.failures.append((row.kind, reply))
        return False
    except ConnectionLost as exc:
        # It may have arrived: an attempt, so that a relay that takes mail and drops the line
        # sends it at most max_attempts times.
        _later(site, state, row, str(exc), report, now)
        return False
    except RelayFailure as exc:
        # Given back, the claim's attempt undone, as an issue's row is: the relay's condition
        # spends no one's attempts. Due again at once: the next flush (the sender thread
        # waits before it) tries again.
        outgoing.give_back(row.id, str(exc))
        report.error, report.temporary = str(exc), exc.temporary
        return True
    _record_sent(state, row, stamp)
    report.sent += 1
    return False


def _record_sent(state: State, row: OutgoingRow, stamp: str) -> None:
    """Record the relay's yes; a busy state is waited out (each wait is the state's busy
    timeout): a yes left unrecorded is a mail sent twice."""
    for tries_left in range(2, -1, -1):
        try:
            state.outgoing.done(row.id, stamp)
            return
        except StateError:
            if not tries_left:
                raise


def _later(
    site: Site, state: State, row: OutgoingRow, reply: str, report: FlushReport, now: datetime
) -> None:
    """One more attempt spent (the claim counted it): retried later, or failed once
    ``[smtp] max_attempts`` are."""
    stamp = now.isoformat()
    if row.attempts < site.smtp.max_attempts:
        state.outgoing.later(row.id, reply, (now + retry_after(row.attempts)).isoformat(), stamp)
        report.deferred += 1
        return
    state.outgoing.failed(row.id, reply, stamp)
    report.failed += 1
    report.failures.append((row.kind, reply))


# -- the web process's sender ----------------------------------------------------------------
POLL = 30.0  # seconds between flushes without a wake: rows another process queued, retries
RELAY_WAIT = (5.0, 300.0)  # after a relay failure: the first wait, doubling up to the last


class Mailer:
    """A thread that sends the outgoing queue in the background of the web app: ``wake()``
    after committing a row sends it within moments, without the HTTP answer waiting on the
    relay; without a wake it flushes every ``poll`` seconds (rows queued by another server
    process, retries that came due)."""

    def __init__(
        self,
        site: Site,
        transport: str | None = None,
        poll: float = POLL,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.site = site
        self.transport = transport
        self.poll = poll
        self.clock = clock or wall_clock(site)
        self.woken = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.last: FlushReport | None = None

    def start(self) -> None:
        if self.thread is not None:
            return
        # A daemon: a server stopped without stop() must not hang on it; what it had not sent
        # is in the state, and the next flush sends it.
        self.thread = threading.Thread(target=self._run, name="feedpub-mailer", daemon=True)
        self.thread.start()

    def wake(self) -> None:
        """A row was added: send now."""
        self.woken.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the mail in hand (the rest waits in the state)."""
        self.stopping.set()
        self.woken.set()
        thread, self.thread = self.thread, None
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        wait = 0.0  # at start: what was owed before
        failures = 0
        while not self.stopping.is_set():
            self.woken.wait(wait)
            self.woken.clear()
            if self.stopping.is_set():
                return
            try:
                report = flush(self.site, self.clock(), self.transport, self.clock, self.stopping)
            except FeedpubError as exc:
                report = FlushReport(error=str(exc))
            except Exception as exc:  # a bug: the thread keeps going, and says why
                log.exception("feedpub: sending the outgoing mail failed")
                report = FlushReport(error=f"unexpected {type(exc).__name__}: {exc}")
            self.last = report
            if report.error:
                log.warning("feedpub: outgoing mail: %s", report.error)
                failures += 1
                first, most = RELAY_WAIT
                wait = min(first * 2 ** min(failures - 1, 10), most)
            else:
                failures = 0
                wait = self.poll
