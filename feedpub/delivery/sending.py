"""Delivery: each issue to every active subscriber exactly once, with exact bookkeeping.

Every recipient has a row in ``deliveries``, made once the relay has been reached. A connection
claims one row (status ``sending``, committed), makes one SMTP transaction, and records the
answer (committed). A process killed at any moment leaves at most one row in ``sending`` per
connection; the next run puts those back to ``pending`` and sends them again. So nobody is
lost, and the only possible duplicates are the messages that were in flight at the kill, at
most one per connection.

What the relay says decides whose problem it is. A refusal of one message (at RCPT TO, DATA or
its end) or a connection lost during it is an attempt for that recipient: deferred with backoff
(4xx, lost) up to ``max_attempts``, or failed (5xx). A condition of the relay (it cannot be
reached, refuses the login, TLS or the sender, answers 421) stops the run and spends no one's
attempts: the claimed row goes back as it was and the next run resumes. An issue is ``sent``
when every row is final, and only then do its articles count as gone out.

The send loop holds no SQL: it asks the state for each step through ``DeliveryStore``, and each
step is one transaction. The messages are ``messages``'s, the connections ``transport``'s. Each
message's envelope sender is its reader's own bounce address (``verp.bounce_sender``), so that a
bounce reported later, by mail, names them and the issue.

A reader may get a copy of the issue cut to their topics. Which copy is decided when their row is
made, and recorded with it (``deliveries.articles``); each copy is rendered once, by the
newsletter (handed in as ``Editions``: delivery may not import it), and kept in the state
(``issue_variants``), so that a resumed send sends each reader the copy, and the bytes, it
would have sent them at first.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple, Protocol

from feedpub.config import Site
from feedpub.delivery.identity import sender_address as sender_address
from feedpub.delivery.messages import PreparedIssue, Recipient, with_preface
from feedpub.delivery.subscribers import normalize
from feedpub.delivery.tokens import load_secret
from feedpub.delivery.transport import (
    OUTBOX,
    ConnectionLost,
    Refused,
    RelayFailure,
    Transport,
    TransportFactory,
    default_name,
    factory,
    outbox_folder,
)
from feedpub.delivery.verp import bounce_sender
from feedpub.errors import DeliveryError, FeedpubError, StateError
from feedpub.store.deliveries import FINAL, ClaimedRow
from feedpub.store.issues import IssueRecord
from feedpub.store.state import State
from feedpub.store.subscribers import new_token_key

WHOLE = ""  # the copy of an issue that carries every article (deliveries.articles)
TEST_BATCH = "test"  # the batch of a test copy: its own folder in the outbox
BOUNCE_AFTER = 3  # hard failures, across issues, before a subscriber counts as bounced
# Permanent refusals, before the relay has taken any message of a run, after which the relay is
# taken to refuse everything (a "554 relaying denied" to a sender it does not know), not these
# readers: as many as that would otherwise fail, and in three issues bounce, the whole list.
REFUSES_EVERYTHING = 25




# -- bookkeeping -------------------------------------------------------------------------------
@dataclass
class SendReport:
    """One send: what this run did (``sent`` ... ``skipped``) and where the issue stands
    (``delivered`` ... ``finished``), so that nothing is called sent that reached no one."""

    issue: int
    recipients: int = 0
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    started: bool = False  # this run reached the relay and began (False: it never did)
    finished: bool = False
    delivered: int = 0  # recipients the issue was sent to, in all runs
    undelivered: int = 0  # recipients it failed for, in all runs
    failures: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None
    temporary: bool = False  # the error may pass by itself (a throttle, a relay away)
    next_try: str | None = None  # when the first deferred recipient is tried again, if any

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0

    @property
    def reached_no_one(self) -> bool:
        """Finished with every recipient refused: done, but a failure for whoever runs it."""
        return self.finished and not self.delivered and self.undelivered > 0

    @property
    def outcome(self) -> str:
        """Where the issue stands, in words: 'sent' only when it reached everyone it was for."""
        skipped = self.recipients - self.delivered - self.undelivered
        if not self.finished:
            return f"not finished: sent to {self.delivered} of {self.recipients} so far"
        if not self.recipients:
            return "finished: no one to send to"
        if not self.delivered and not self.undelivered:
            # Every reader paused, or with nothing of their topics in it: nothing failed.
            return f"finished: no one to send to ({skipped} skipped)"
        if not self.undelivered:
            return "sent"
        tail = f", {self.undelivered} failed" + (f", {skipped} skipped" if skipped else "")
        if not self.delivered:
            return f"finished, but it reached no one: sent to 0 of {self.recipients}{tail}"
        return f"finished: sent to {self.delivered} of {self.recipients}{tail}"


class Editions(Protocol):
    """What the send asks of the newsletter about topics (``feedpub.newsletter.topics
    .TopicEditions`` is the real one): which copy a reader gets, and a copy rendered."""

    def articles(self, issue: IssueRecord, topics: tuple[str, ...]) -> str | None:
        """The copy of ``issue`` a reader of ``topics`` gets: the positions of its articles
        ("1,3"), "" for the whole issue, None for nothing."""
        ...

    def render(self, issue: IssueRecord, articles: str) -> tuple[str, str, str]:
        """The copy ``articles`` of ``issue``: its subject, HTML and text."""
        ...


class DeliveryStore(Protocol):
    """What the send loop needs of the state, and all it asks of it: ``State.deliveries``
    (``feedpub.store.deliveries``) is the real one. Each method that changes rows commits
    before it returns, so the send loop's transactions are these methods."""

    def start(
        self, number: int, stamp: str, choose: Callable[[tuple[str, ...]], str | None] | None
    ) -> int:
        """Make the rows of the issue (whoever is active, until a first message is tried),
        each with the copy ``choose`` makes of the reader's topics (skipped: nothing, or
        paused), and put back to pending what a killed run left claimed; the number of rows."""
        ...

    def open_copies(self, number: int) -> list[str]:
        """The copies the rows not yet final are to get."""
        ...

    def new_copies(
        self, number: int, stamp: str, choose: Callable[[tuple[str, ...]], str | None] | None
    ) -> list[str]:
        """The copies the rows a start at ``stamp`` would make are to get."""
        ...

    def due(self, number: int, stamp: str) -> int:
        """How many rows a send at ``stamp`` would try."""
        ...

    def next_try(self, number: int) -> str | None:
        """When the first deferred row of the issue is tried again (None: no row waits)."""
        ...

    def claim(self, number: int, stamp: str, sent: int | None = None) -> ClaimedRow | None:
        """Take the next row due, recording ``sent`` (a subscriber) sent in the same commit."""
        ...

    def give_back(self, number: int, subscriber: int, status: str, updated: str) -> None:
        """Put a claimed row back as it was."""
        ...

    def record(
        self,
        number: int,
        subscriber: int,
        status: str,
        attempt: int,
        next_attempt: str | None,
        reply: str,
        stamp: str,
    ) -> None:
        """Record one recipient's outcome."""
        ...

    def hard_failure(
        self, number: int, subscriber: int, reply: str, stamp: str, bounce_after: int
    ) -> None:
        """Record a permanent refusal, and one more hard failure of the subscriber."""
        ...

    def attempts(self, number: int, subscriber: int) -> int:
        """The attempts a row has spent."""
        ...

    def counts(self, number: int) -> dict[str, int]:
        """How many rows of the issue are in each status."""
        ...

    def finish_if_done(self, number: int, stamp: str) -> bool:
        """Mark the issue sent when every row is final; whether it is."""
        ...


def _tally(store: DeliveryStore, report: SendReport) -> None:
    """Fill in where the issue stands, from its rows."""
    rows = store.counts(report.issue)
    report.recipients = sum(rows.values())
    report.delivered = rows.get("sent", 0)
    report.undelivered = rows.get("failed", 0)
    report.next_try = store.next_try(report.issue) if rows.get("deferred") else None


def backoff(attempts: int) -> timedelta:
    """How long a deferred message waits: 5 minutes, doubling, at most 6 hours."""
    wait: timedelta = timedelta(minutes=5) * 2 ** min(max(attempts - 1, 0), 10)
    return min(wait, timedelta(hours=6))


class Pacer:
    """At most ``rate`` messages a second across all connections (0: no limit)."""

    def __init__(
        self,
        rate: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.clock = clock
        self.sleep = sleep
        self.lock = threading.Lock()
        self.next = 0.0

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = self.clock()
            slot = max(now, self.next)
            self.next = slot + self.interval
        if slot > now:
            self.sleep(slot - now)


class _Claim(NamedTuple):
    """A row a connection took, and how it was before (to give it back untouched)."""

    recipient: Recipient
    status: str
    updated: str
    copy: str = ""  # the copy of the issue the reader gets ("" the whole issue)


class _Worker:
    """One connection's loop: claim a row, send, record; until no row is left."""

    def __init__(self, job: _Job, transport: Transport) -> None:
        self.job = job
        self.transport = transport

    def run(self) -> None:
        try:
            self._run()
        except StateError as exc:  # busy, full or damaged: stop; send_issue raises it
            self.job.state_error = self.job.state_error or exc
            self.job.fail(str(exc))
        except FeedpubError as exc:
            self.job.fail(str(exc))
        except Exception as exc:  # a bug: stop every connection, say why
            self.job.fail(f"unexpected {type(exc).__name__}: {exc}")

    def _run(self) -> None:
        job = self.job
        state = State.open(job.site.state_dir)
        store: DeliveryStore = state.deliveries
        # A message the relay accepted is recorded in the transaction that claims the next
        # one: one commit per message, and still never more than one in flight.
        accepted: Recipient | None = None
        try:
            while not job.stop.is_set():
                claim = self.claim(store, accepted)
                accepted = None
                if claim is None:
                    return
                recipient = claim.recipient
                job.pacer.wait()
                try:
                    # Dated now, as it is handed over: not when the run (or the issue) began.
                    data = job.copies[claim.copy].render(recipient, job.secret, job.clock())
                except (ValueError, UnicodeError) as exc:  # an address no header can carry
                    self.record(store, recipient, "failed", 1, None, f"cannot write: {exc}")
                    job.tick("failed", (recipient.email, f"cannot write the message: {exc}"))
                    continue
                try:
                    self.transport.send(job.sender(recipient), recipient.envelope, data)
                except Refused as refusal:
                    if self.refused(store, claim, refusal):
                        return
                except ConnectionLost as exc:
                    # The message may have arrived: an attempt, so that a relay that takes
                    # messages and drops the line sends each reader at most max_attempts.
                    self.later(store, recipient, str(exc))
                except RelayFailure as exc:
                    self.give_back(store, claim)
                    job.fail(stopped(exc), exc.temporary)
                    return
                else:
                    accepted = recipient
                    job.tick("sent")
                    if job.held is not None:
                        self.release_held(store)
        finally:
            try:
                if accepted is not None:
                    self.record(store, accepted, "sent", 1, None, "250")
            finally:
                self.transport.close()
                state.close()

    def claim(self, store: DeliveryStore, accepted: Recipient | None = None) -> _Claim | None:
        job = self.job
        while True:
            sent = None if accepted is None else accepted.id
            row = store.claim(job.issue.number, job.stamp, sent)
            accepted = None
            if row is None:
                return None
            if row.active:
                recipient = Recipient(
                    row.subscriber, row.email, row.name, row.key, row.token_key
                )
                return _Claim(recipient, row.status, row.updated, row.articles)
            job.tick("skipped")

    def give_back(self, store: DeliveryStore, claim: _Claim) -> None:
        """Put a claimed row back as it was: the relay, not the recipient, failed."""
        store.give_back(self.job.issue.number, claim.recipient.id, claim.status, claim.updated)

    def record(
        self,
        store: DeliveryStore,
        recipient: Recipient,
        status: str,
        attempt: int,
        next_attempt: str | None,
        reply: str,
    ) -> None:
        job = self.job
        store.record(
            job.issue.number, recipient.id, status, attempt, next_attempt, reply, job.stamp
        )

    def later(self, store: DeliveryStore, recipient: Recipient, reply: str) -> None:
        """One more attempt spent: deferred with backoff, or failed once max_attempts are."""
        job = self.job
        attempts = store.attempts(job.issue.number, recipient.id) + 1
        if attempts < job.site.smtp.max_attempts:
            self.record(
                store, recipient, "deferred", 1, (job.now + backoff(attempts)).isoformat(), reply
            )
            job.tick("deferred")
            return
        self.record(store, recipient, "failed", 1, None, reply)
        job.tick("failed", (recipient.email, reply))

    def refused(self, store: DeliveryStore, claim: _Claim, refusal: Refused) -> bool:
        """Record a refusal; True if it shows the relay refuses everything (the run stops)."""
        job = self.job
        reply = f"{refusal.code} {refusal.text}"
        if refusal.temporary:
            self.later(store, claim.recipient, reply)
            return False
        with job.lock:
            held = job.held
            if held is not None:
                # Nothing accepted yet this run: held back, the row still claimed (a kill puts
                # it back to pending), until a message is accepted or too many are refused.
                held.append((claim, reply))
                if len(held) < REFUSES_EVERYTHING:
                    return False
                job.held = []
        if held is None:
            self.hard_failure(store, claim.recipient, reply)
            return False
        for refused in held:
            self.give_back(store, refused[0])
        job.fail(
            f"the relay refused each of the first {len(held)} messages of this run and took none "
            f"(the last: {reply}): it refuses this sender or this connection, not these readers, "
            "so nothing was recorded against them; check [smtp] username, password_env and "
            "the relay's settings for this sender, then run again"
        )
        return True

    def release_held(self, store: DeliveryStore) -> None:
        """The relay took a message: the refusals held back were about their readers."""
        job = self.job
        with job.lock:
            held, job.held = job.held, None
        for claim, reply in held or []:
            self.hard_failure(store, claim.recipient, reply)

    def hard_failure(self, store: DeliveryStore, recipient: Recipient, reply: str) -> None:
        """A permanent refusal: the delivery failed, and one more hard failure for the reader."""
        job = self.job
        store.hard_failure(job.issue.number, recipient.id, reply, job.stamp, BOUNCE_AFTER)
        job.tick("failed", (recipient.email, reply))


@dataclass
class _Job:
    site: Site
    issue: IssueRecord
    copies: dict[str, PreparedIssue]  # each copy to send, by its articles ("" the whole issue)
    now: datetime
    clock: Callable[[], datetime]
    secret: bytes
    list_id: str
    plain: str  # the sender without VERP: [newsletter] from's address
    pacer: Pacer
    progress: Callable[[int], None] | None
    report: SendReport
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    state_error: StateError | None = None
    # Permanent refusals held back until the relay takes a message of this run (then None).
    held: list[tuple[_Claim, str]] | None = field(default_factory=list)

    @property
    def stamp(self) -> str:
        return self.now.isoformat()

    def sender(self, recipient: Recipient) -> str:
        """The envelope sender of ``recipient``'s message: their own bounce address (VERP),
        so a bounce that comes back names them and this issue; the plain sender without
        ``[smtp] bounce_address``."""
        return bounce_sender(
            self.site, self.secret, recipient, self.issue.number, self.list_id, self.plain
        )

    def tick(self, outcome: str, failure: tuple[str, str] | None = None) -> None:
        with self.lock:
            setattr(self.report, outcome, getattr(self.report, outcome) + 1)
            if failure:
                self.report.failures.append(failure)
        if self.progress is not None:
            self.progress(1)

    def fail(self, error: str, temporary: bool = False) -> None:
        with self.lock:
            if self.report.error is None:
                self.report.error = error
                self.report.temporary = temporary
        self.stop.set()


def send_issue(
    site: Site,
    number: int,
    now: datetime,
    progress: Callable[[int], None] | None = None,
    started: Callable[[int], None] | None = None,
    pacer: Pacer | None = None,
    make_transports: TransportFactory | None = None,
    transport: str | None = None,
    clock: Callable[[], datetime] | None = None,
    editions: Editions | None = None,
) -> SendReport:
    """Send issue ``number`` to every recipient not yet final; resume what a crash left.

    The caller holds the site lock. ``progress`` is called once per recipient dealt with;
    ``started`` once with the number of recipients left. The messages go through the
    transport registered as ``transport`` (default: smtp when [smtp] names a host, else the
    outbox), or those ``make_transports`` makes. ``now`` is the run's time (its records,
    backoff); ``clock`` is read for each message's Date as it is handed over (default: the
    system's clock, in the site's timezone). ``editions`` cuts each reader's copy to their
    topics; a site with ``[newsletter] topics`` must be given it (the CLI and ``run`` give
    ``TopicEditions``): without it, everyone would get the whole issue.
    """
    began = time.perf_counter()
    with State.open(site.state_dir) as state:
        issue = state.issues.get(number)
        store: DeliveryStore = state.deliveries
        report = SendReport(issue=number)
        if site.newsletter.topics and editions is None:
            raise DeliveryError(
                "[newsletter] topics is set, but the send was not given the newsletter's "
                "editions (feedpub.newsletter.topics.TopicEditions): it would send everyone "
                "the whole issue"
            )
        if issue.status == "sent":
            report.finished = True
            _tally(store, report)
            return report
        choose = None if editions is None else functools.partial(editions.articles, issue)
        if editions is not None:
            # Rendered before the relay is reached, not with its connection open and idle
            # (relays close one idle for minutes, RFC 5321 4.5.3.2.7); kept, which fixes no
            # list of recipients. A copy someone's change makes needed meanwhile is made below.
            wanted = store.open_copies(number) + store.new_copies(number, now.isoformat(), choose)
            _render_copies(state, issue, editions, wanted)
        # Everything is checked, and the relay reached, before anything is recorded: a send
        # that cannot start must not fix its list of recipients (who subscribes before the
        # retry still gets the issue).
        make = make_transports or factory(transport or default_name(site), site)
        connections = make(site, str(number))
        plain = sender_address(site)  # a DeliveryError now, before the relay is reached
        prepared = PreparedIssue(site, issue)
        secret = load_secret(site.state_dir)
        try:
            connections[0].open()
        except RelayFailure as exc:
            report.error, report.temporary = stopped(exc, started=False), exc.temporary
            _tally(store, report)
            report.seconds = time.perf_counter() - began
            return report
        skipped = store.counts(number).get("skipped", 0)
        store.start(number, now.isoformat(), choose)
        # Who start recorded skipped (paused, or nothing of their topics) this run dealt with.
        report.skipped = max(0, store.counts(number).get("skipped", 0) - skipped)
        report.started = True
        try:
            copies = _copies(site, state, issue, prepared, editions)
        except BaseException:
            for connection in connections:
                connection.close()
            raise
        left = store.due(number, now.isoformat())
    if started is not None:
        started(left)
    job = _Job(
        site=site,
        issue=issue,
        copies=copies,
        now=now,
        clock=clock or wall_clock(site),
        secret=secret,
        list_id=prepared.list_id,
        plain=plain,
        pacer=pacer or Pacer(site.smtp.rate if site.has_smtp else 0),
        progress=progress,
        report=report,
    )
    workers = [_Worker(job, transport) for transport in connections]
    threads = [
        threading.Thread(target=w.run, name=f"feedpub-send-{i}") for i, w in enumerate(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if job.state_error is not None:
        # Every answer the relay gave before is recorded: the next run goes on from there.
        raise job.state_error
    with State.open(site.state_dir) as state:
        store = state.deliveries
        if job.held:
            # Fewer refusals than REFUSES_EVERYTHING and nothing accepted: a run that went to
            # its end records them as they came; a run the relay stopped gives them back.
            worker = workers[0]
            for claim, reply in job.held:
                if job.stop.is_set():
                    worker.give_back(store, claim)
                else:
                    worker.hard_failure(store, claim.recipient, reply)
        report.finished = store.finish_if_done(number, now.isoformat())
        _tally(store, report)
    report.seconds = time.perf_counter() - began
    return report


def _copies(
    site: Site,
    state: State,
    issue: IssueRecord,
    whole: PreparedIssue,
    editions: Editions | None,
) -> dict[str, PreparedIssue]:
    """Each copy the rows still to send are to get, encoded once: rendered by ``editions``
    the first time, then kept in the state and taken from there (a resumed send sends the
    bytes the first run did, whatever the templates have become)."""
    copies = {WHOLE: whole}
    names = state.deliveries.open_copies(issue.number)
    if editions is not None:
        _render_copies(state, issue, editions, names)
    for name in names:
        if name in copies:
            continue
        kept = state.variants.get(issue.number, name)
        if kept is None:
            raise DeliveryError(
                f"issue {issue.number} has readers of a copy cut to their topics "
                f"(articles {name}) that was never rendered, and the send was not given "
                "the newsletter's editions to render it"
            )
        subject, html, text = kept
        copies[name] = PreparedIssue(site, replace(issue, subject=subject, html=html, text=text))
    return copies


def _render_copies(
    state: State, issue: IssueRecord, editions: Editions, names: list[str]
) -> None:
    """Render and keep each copy of ``names`` the state does not have yet, once."""
    for name in sorted(set(names) - {WHOLE}):
        if state.variants.get(issue.number, name) is None:
            rendered = editions.render(issue, name)
            with state.transaction():
                state.variants.add(issue.number, name, *rendered)


def _test_copy(
    site: Site, issue: IssueRecord, key: str, address: str, editions: Editions | None
) -> IssueRecord:
    """The issue as the subscriber at ``key`` would get it: their copy (the one kept, if a send
    rendered it; else rendered now, and not kept: a test records nothing)."""
    if editions is None:
        return issue
    with State.open(site.state_dir) as state:
        person = state.subscribers.find(key)
        name = WHOLE if person is None else editions.articles(issue, person.topics)
        if name is None:
            raise DeliveryError(
                f"{address} would get no email for issue {issue.number}: nothing in it is in "
                "their topics; send the test to another address, or to one without topics"
            )
        if name == WHOLE:
            return issue
        subject, html, text = state.variants.get(issue.number, name) or editions.render(
            issue, name
        )
    return replace(issue, subject=subject, html=html, text=text)


def wall_clock(site: Site) -> Callable[[], datetime]:
    """The time now, in the site's timezone, each time it is called."""
    return lambda: datetime.now(site.tz)


def stopped(failure: RelayFailure, started: bool = True) -> str:
    """Why a send stopped, and what happens next."""
    if not started:
        return (
            f"{failure}; nothing was sent, the next run tries again"
            if failure.temporary
            else str(failure)
        )
    if failure.temporary:
        return (
            f"{failure}; sending stopped, no recipient's attempts were spent, "
            "and the next run resumes"
        )
    return f"{failure}; sending stopped until that is fixed (no recipient's attempts were spent)"


def unfinished(state: State) -> list[int]:
    return [issue.number for issue in state.issues.all() if issue.status != "sent"]


def plan(
    state: State,
    issue: IssueRecord,
    now: datetime | None = None,
    editions: Editions | None = None,
) -> dict[str, int]:
    """What a send of ``issue`` would do now, without doing it (``send --dry-run``): with
    ``now``, the readers a start would skip (paused, or nothing of their topics with
    ``editions``) are counted apart (``skipped``)."""
    rows = state.issues.counts(issue.number)
    if not rows and issue.status != "sent":
        if now is None:
            return {"to_send": state.subscribers.count("active"), "done": 0, "waiting": 0}
        choose = None if editions is None else functools.partial(editions.articles, issue)
        new = state.deliveries.would_start(issue.number, now.isoformat(), choose)
        return {
            "to_send": new.get("pending", 0),
            "done": 0,
            "waiting": 0,
            "skipped": new.get("skipped", 0),
        }
    return {
        "to_send": rows.get("pending", 0) + rows.get("sending", 0),
        "done": sum(rows.get(s, 0) for s in FINAL),
        "waiting": rows.get("deferred", 0),
    }


def send_test(
    site: Site,
    issue: IssueRecord,
    address: str,
    transport: str | None = None,
    clock: Callable[[], datetime] | None = None,
    editions: Editions | None = None,
) -> Path | None:
    """Send one test copy of ``issue`` to ``address`` (``send_tests``)."""
    return send_tests(site, issue, [address], transport, clock, editions)


def send_tests(
    site: Site,
    issue: IssueRecord,
    addresses: Sequence[str],
    transport: str | None = None,
    clock: Callable[[], datetime] | None = None,
    editions: Editions | None = None,
    preface: Sequence[str] = (),
) -> Path | None:
    """Send a test copy of ``issue`` to each of ``addresses`` over one connection, recording
    nothing; the outbox folder if they went there.

    Each is the message a subscriber at that address gets, dated as it is handed over (with
    ``editions``, the copy their topics choose: DeliveryError if they would get none), with
    "[Test] " before its subject and a Message-ID of its own, and ``preface`` (lines: a review
    copy's findings and how to approve) above the issue. Its envelope sender is the plain one,
    never a VERP address: a test copy's bounce must not touch a subscriber. DeliveryError
    names the first address the relay did not take (those before it were sent)."""
    people = []
    for address in addresses:
        email, key = normalize(address)
        # A key of no one, thrown away: the links read as a subscriber's do and name no
        # address, and unsubscribe no one (not the subscriber at ``address``, if there is one).
        recipient = Recipient(0, email, "", key, new_token_key())
        copy = with_preface(_test_copy(site, issue, key, address, editions), preface)
        people.append((address, recipient, PreparedIssue(site, copy, test=True)))
    secret = load_secret(site.state_dir)
    name = transport or default_name(site)
    connection = factory(name, site)(site, TEST_BATCH)[0]
    try:
        for address, recipient, prepared in people:
            data = prepared.render(recipient, secret, (clock or wall_clock(site))())
            try:
                connection.send(sender_address(site), recipient.envelope, data)
            except (Refused, ConnectionLost, RelayFailure) as exc:
                raise DeliveryError(f"the test copy to {address} was not sent: {exc}") from None
    finally:
        connection.close()
    return outbox_folder(site, TEST_BATCH) if name == OUTBOX else None
