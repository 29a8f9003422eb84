"""The inbox: the mail that comes back after the relay said yes (bounces, complaints, mails to
the unsubscribe address, auto-replies), read from a Maildir, an mbox file, one message on
standard input (an MTA's pipe) or an IMAP folder (``imap``), each message classified
(``classify``) and acted on (``events``) once.

A message is known by the key of its bytes ("mail:" + their SHA-256): one acted on before is
only moved out of the way, so a re-run, or a crash between the commit and the move, changes
nothing more. Messages are read one at a time (a generator: memory stays flat however many
wait) and committed in batches; a batch's messages are moved only after the commit that
records them. A message that cannot be read or classified (huge, empty, binary, malformed) is
unknown: counted, moved to the unknown folder, never acted on, and never stops the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from feedpub.config import Site
from feedpub.delivery import verp
from feedpub.delivery.classify import SOURCE, classify
from feedpub.delivery.events import Applied, Event, apply_many
from feedpub.delivery.imap import ImapSource
from feedpub.delivery.mailboxes import Folder, MaildirSource, Message, Source
from feedpub.parallel import fork_map, workers_for
from feedpub.store.state import State
from feedpub.text import plural

# Messages acted on in one transaction: one commit (and disk sync) per message would cost more
# than classifying it, and a batch this size holds the state's write lock only briefly. A batch
# also ends at BATCH_BYTES of messages held, however few.
BATCH = 200
BATCH_BYTES = 32 * 2**20
# Fewer messages than this in a batch are classified by this process alone: a fork costs more.
MIN_PARALLEL = 50


def configured_source(site: Site) -> Source:
    """The inbox [inbox] names: its Maildir (relative to the site), else its IMAP server,
    connected at once (InboxError if it cannot be)."""
    if site.inbox.maildir:
        return MaildirSource(site.root / site.inbox.maildir)  # an absolute path stays
    return ImapSource(site)


def read_configured(site: Site, now: datetime, state: State | None = None) -> InboxReport:
    """``read`` of the inbox [inbox] names (what ``feedpub run`` does when it names one)."""
    source = configured_source(site)
    try:
        return read(site, source, now, state)
    finally:
        source.close()


@dataclass
class InboxReport:
    """What one reading of the inbox did. Bounces, complaints and unsubscribes are counted by
    recipient (one report may name several); auto-replies and unknown ones by message."""

    read: int = 0
    hard: int = 0
    soft: int = 0
    complaints: int = 0
    unsubscribes: int = 0
    auto_replies: int = 0
    unknown: int = 0
    ignored: int = 0  # reports of a delay or a delivery: nothing to act on
    already: int = 0  # acted on before: a re-run, or a crash before the message was moved
    unmatched: int = 0  # about no one on the list, or with a token this site never made
    # With a bounce address: reports that name their reader by address only (no token of
    # ours), which anyone could send (feedpub.delivery.events), kept and not acted on.
    unverified: int = 0
    changes: list[Applied] = field(default_factory=list)  # the readers whose status changed
    warnings: list[str] = field(default_factory=list)

    def line(self) -> str:
        text = (
            f"inbox: {self.read} read, {self.hard} hard, {self.soft} soft, "
            f"{plural(self.complaints, 'complaint')}, {plural(self.unsubscribes, 'unsubscribe')}, "
            f"{self.auto_replies} auto-repl{'y' if self.auto_replies == 1 else 'ies'}, "
            f"{self.unknown} unknown"
        )
        extra = [
            f"{self.ignored} ignored" if self.ignored else "",
            f"{self.already} acted on before" if self.already else "",
            f"{self.unmatched} about no one on the list" if self.unmatched else "",
            f"{self.unverified} without our token, not acted on" if self.unverified else "",
        ]
        extra = [part for part in extra if part]
        return text + (f" ({', '.join(extra)})" if extra else "")


# -- reading -------------------------------------------------------------------------------


def read(site: Site, source: Source, now: datetime, state: State | None = None) -> InboxReport:
    """Classify and act on every message of ``source``, then move it; ``state`` is opened
    (and closed) here when not given. Raises StateBusy when the state stays locked (the batch
    under way is then neither recorded nor moved) and InboxError when the source fails."""
    if state is None:
        with State.open(site.state_dir) as opened:
            return read(site, source, now, opened)
    report = InboxReport()
    ours = verp.matcher(site)
    batch: list[Message] = []
    held = 0
    try:
        for message in source.messages():
            report.read += 1
            batch.append(message)
            held += len(message.data or b"")
            if len(batch) >= BATCH or held >= BATCH_BYTES:
                _commit(
                    site, state, source, _prepare(state, batch, ours, source.moves), now, report
                )
                batch, held = [], 0
        if batch:
            _commit(site, state, source, _prepare(state, batch, ours, source.moves), now, report)
    finally:
        report.warnings.extend(source.warnings)
    return report


@dataclass
class _Prepared:
    message: Message
    folder: Folder
    events: list[Event]
    kind: str  # the first event's, or "duplicate" (the same bytes earlier in the batch)
    warning: str = ""


def _prepare(
    state: State,
    batch: list[Message],
    ours: Callable[[str], tuple[str, str] | None],
    moves: bool,
) -> list[_Prepared]:
    """Each message of a batch with its events, classified by as many processes as pay."""
    prepared: list[_Prepared | None] = []
    wanted: list[tuple[bytes, str]] = []
    keys: set[str] = set()  # the events of one key are taken for one message's
    for message in batch:
        if message.data is None or not message.key:
            prepared.append(_Prepared(message, "unknown", [], "unknown"))
        elif message.key in keys:
            prepared.append(_Prepared(message, "processed", [], "duplicate"))
        elif not moves and state.events.seen(message.key):
            # Read again from a source that keeps it (an mbox file): not even classified.
            event = Event("unknown", SOURCE, key=message.key)
            prepared.append(_Prepared(message, "processed", [event], "unknown"))
        else:
            prepared.append(None)
            wanted.append((message.data, message.key))
        keys.add(message.key)
    workers = workers_for(len(wanted), MIN_PARALLEL)
    found = iter(fork_map(lambda item: _classified(*item, ours), wanted, workers))
    done: list[_Prepared] = []
    for message, item in zip(batch, prepared, strict=True):
        if item is None:
            events, warning = next(found)
            if not events:
                events = [Event("unknown", SOURCE, key=message.key)]
            kinds = {event.kind for event in events}
            folder: Folder = "unknown" if kinds == {"unknown"} else "processed"
            item = _Prepared(message, folder, events, events[0].kind, warning)
        done.append(item)
    # A copy goes where the first of its bytes went.
    folders = {item.message.key: item.folder for item in done if item.kind != "duplicate"}
    for item in done:
        if item.kind == "duplicate":
            item.folder = folders.get(item.message.key, item.folder)
    return done


def _classified(
    data: bytes, key: str, ours: Callable[[str], tuple[str, str] | None]
) -> tuple[list[Event], str]:
    try:
        return classify(data, ours, SOURCE, key), ""
    except Exception as exc:  # one message must never stop the others
        return [], f"could not be classified ({type(exc).__name__}: {exc}; a bug in feedpub)"


def _commit(
    site: Site,
    state: State,
    source: Source,
    batch: list[_Prepared],
    now: datetime,
    report: InboxReport,
) -> None:
    applied = apply_many(site, [event for item in batch for event in item.events], now, state)
    position = 0
    for item in batch:
        results = applied[position : position + len(item.events)]
        position += len(item.events)
        if item.warning:
            report.warnings.append(f"{item.message.where}: {item.warning}: counted as unknown")
        if item.kind == "duplicate":
            report.already += 1
            continue
        if not item.events:
            report.unknown += 1
            continue
        if results[0].change == "duplicate":
            report.already += 1
            continue
        _count(item, results, report)
    moves = [(item.message, item.folder) for item in batch if item.message.movable]
    if source.moves and moves:
        source.settle(moves)


_COUNTED = {
    "hard": "hard",
    "soft": "soft",
    "complaint": "complaints",
    "unsubscribe": "unsubscribes",
    "auto-reply": "auto_replies",
    "unknown": "unknown",
    "ignored": "ignored",
}


def _count(item: _Prepared, results: list[Applied], report: InboxReport) -> None:
    for event, result in zip(item.events, results, strict=True):
        name = _COUNTED.get(event.kind)
        if name is not None:
            setattr(report, name, getattr(report, name) + 1)
        if result.change in ("forged", "unknown subscriber"):
            report.unmatched += 1
        elif result.change == "unverified":
            report.unverified += 1
        elif result.change in ("bounced", "complained", "unsubscribed"):
            report.changes.append(result)
