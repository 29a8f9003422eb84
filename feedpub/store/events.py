"""The events table (what happened to a message after the relay took it: a hard or soft
bounce, a complaint, an unsubscribe) and the ``received`` table (each incoming message or
webhook event acted on, by key, so that the same one read twice is acted on once).

Only rows here; the rules (what an event does to a subscriber's status) are
``feedpub.delivery.events``'s. Methods that write do not open a transaction of their own: the
caller wraps ``receive`` and the changes it leads to in one ``State.transaction()``, so that a
message is recorded as acted on exactly when what it did is.
"""

from __future__ import annotations

import sqlite3
import unicodedata
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

KINDS = ("hard", "soft", "complaint", "unsubscribe")
# What an incoming message or webhook event was taken for (received.kind).
RECEIVED_KINDS = (*KINDS, "auto-reply", "unknown", "ignored")
# A detail (the status code and the diagnostic) is kept to this many characters.
MAX_DETAIL = 500
# How long the received keys are kept: a message read again after that is acted on again,
# which changes nothing for a status already set, and the table does not grow for ever.
KEEP_RECEIVED_DAYS = 90


def one_line(text: str, limit: int = MAX_DETAIL) -> str:
    """``text`` as one line of at most ``limit`` characters: a diagnostic comes from whoever
    sent the bounce, and is printed on terminals (``status``, ``issue show``), so control and
    format characters (escape sequences, bidi overrides) and line breaks become spaces."""
    cleaned = "".join(
        " " if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") else c
        for c in text[: limit * 4]
    )
    return " ".join(cleaned.split())[:limit]


@dataclass(frozen=True)
class IssueFigures:
    """What became of one issue: ``sent`` (deliveries the relay took), ``delivered`` (those
    minus the readers who bounced it, hard or soft), and the distinct readers who bounced it
    hard, soft, complained about it, or unsubscribed from it."""

    sent: int = 0
    delivered: int = 0
    hard: int = 0
    soft: int = 0
    complaints: int = 0
    unsubscribes: int = 0

    @property
    def complaint_rate(self) -> float:
        """Complaints over messages sent (0 when none was sent)."""
        return self.complaints / self.sent if self.sent else 0.0

    @property
    def bounced(self) -> int:
        """The readers who bounced the issue, hard or soft, each once: a delay report and then
        the failure (a soft and a hard event) are one message bounced."""
        return self.sent - self.delivered

    @property
    def bounce_rate(self) -> float:
        """Readers who bounced over messages sent (0 when none was sent)."""
        return self.bounced / self.sent if self.sent else 0.0


# The issues sent to one reader, newest first. Walked from the issues (a few hundred), each
# looked up in deliveries by its index: deliveries has no index by subscriber, and a scan of
# it (a row per issue and reader) took 44 ms at 200,000 rows for each bounce read; CROSS JOIN
# keeps SQLite from choosing that scan.
_SENT_TO = (
    "SELECT d.issue FROM issues i CROSS JOIN deliveries d ON d.issue = i.number"
    " AND d.subscriber = {who} WHERE d.status = 'sent'"
)
# The issue an unsubscribe that names none counts for: the latest issue sent to that reader
# before it (a reader who leaves on Tuesday leaves because of Friday's issue).
_LATEST_SENT = (
    _SENT_TO + " AND julianday(d.updated) <= julianday({at}) ORDER BY i.number DESC LIMIT 1"
)


class Events:
    """The events and received tables of an open state; ``transaction`` is the state's."""

    def __init__(
        self, db: sqlite3.Connection, transaction: Callable[[], AbstractContextManager[None]]
    ) -> None:
        self.db = db
        self.transaction = transaction

    # -- received ---------------------------------------------------------------------------
    def seen(self, key: str) -> bool:
        """Whether a message or webhook event of ``key`` has been acted on."""
        row = self.db.execute("SELECT 1 FROM received WHERE key = ?", (key,)).fetchone()
        return row is not None

    def receive(self, key: str, kind: str, stamp: str) -> bool:
        """Record ``key`` as acted on, taken for ``kind``; False when it was already there
        (the caller then does nothing more). Call inside a transaction."""
        cursor = self.db.execute(
            "INSERT INTO received (key, kind, at) VALUES (?, ?, ?) ON CONFLICT(key) DO NOTHING",
            (key, kind, stamp),
        )
        return cursor.rowcount == 1

    def received_counts(self, since: str | None = None) -> dict[str, int]:
        """How many keys were received of each kind (since ``since``, when given)."""
        query = "SELECT kind, count(*) FROM received"
        args: tuple[str, ...] = ()
        if since is not None:
            query += " WHERE julianday(at) >= julianday(?)"
            args = (since,)
        return {kind: int(n) for kind, n in self.db.execute(query + " GROUP BY kind", args)}

    def prune(self, before: str) -> int:
        """Forget the received keys recorded before ``before``; how many. Call inside a
        transaction. The events themselves are kept: the issues' figures are made of them."""
        cursor = self.db.execute(
            "DELETE FROM received WHERE julianday(at) < julianday(?)", (before,)
        )
        return cursor.rowcount

    # -- events -----------------------------------------------------------------------------
    def add(
        self,
        subscriber: int,
        issue: int | None,
        kind: str,
        source: str,
        detail: str,
        stamp: str,
    ) -> None:
        """Record an event of ``subscriber`` (about ``issue``, None when it is not known).
        Call inside a transaction."""
        if kind not in KINDS:
            raise ValueError(f"no such event kind: {kind!r}")
        if issue is not None:
            # An event naming an issue this state does not have (deleted since, or a token
            # made by another copy of the site) is kept without it.
            known = self.db.execute("SELECT 1 FROM issues WHERE number = ?", (issue,))
            issue = issue if known.fetchone() is not None else None
        self.db.execute(
            "INSERT INTO events (subscriber, issue, kind, source, detail, at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (subscriber, issue, kind, source, one_line(detail), stamp),
        )

    def latest_sent(self, subscriber: int, stamp: str) -> int | None:
        """The latest issue sent to ``subscriber`` at or before ``stamp``, or None."""
        row = self.db.execute(_LATEST_SENT.format(who="?", at="?"), (subscriber, stamp))
        found = row.fetchone()
        return None if found is None else int(found[0])

    def soft_streak(self, subscriber: int) -> int:
        """How many of the latest issues sent to ``subscriber``, newest first, each have a
        soft bounce of theirs, counting until the first that has none."""
        softened = {
            int(row[0])
            for row in self.db.execute(
                "SELECT DISTINCT issue FROM events WHERE subscriber = ? AND kind = 'soft'"
                " AND issue IS NOT NULL",
                (subscriber,),
            )
        }
        if not softened:
            return 0
        streak = 0
        for (number,) in self.db.execute(
            _SENT_TO.format(who="?") + " ORDER BY i.number DESC", (subscriber,)
        ):
            if number not in softened:
                break
            streak += 1
        return streak

    def figures(self, issue: int) -> IssueFigures:
        """The figures of issue ``issue`` (all 0 for one never sent)."""
        sent = self._count(
            "SELECT count(*) FROM deliveries WHERE issue = ? AND status = 'sent'", issue
        )
        bounced = self._count(
            "SELECT count(DISTINCT e.subscriber) FROM events e JOIN deliveries d"
            " ON d.issue = e.issue AND d.subscriber = e.subscriber AND d.status = 'sent'"
            " WHERE e.issue = ? AND e.kind IN ('hard', 'soft')",
            issue,
        )
        per_kind = {
            kind: self._count(
                "SELECT count(DISTINCT subscriber) FROM events WHERE issue = ? AND kind = ?",
                issue,
                kind,
            )
            for kind in ("hard", "soft", "complaint")
        }
        unsubscribes = self._count(
            "SELECT count(*) FROM (SELECT subscriber FROM events WHERE issue = ?"
            " AND kind = 'unsubscribe' UNION SELECT e.subscriber FROM events e"
            " WHERE e.issue IS NULL AND e.kind = 'unsubscribe' AND ("
            + _LATEST_SENT.format(who="e.subscriber", at="e.at")
            + ") = ?)",
            issue,
            issue,
        )
        return IssueFigures(
            sent=sent,
            delivered=max(0, sent - bounced),
            hard=per_kind["hard"],
            soft=per_kind["soft"],
            complaints=per_kind["complaint"],
            unsubscribes=unsubscribes,
        )

    def flagged(self, issue: int) -> list[tuple[str, str, str]]:
        """(address, kind, detail) of each reader who bounced or complained about ``issue``:
        one row per reader and kind, with the latest detail; forgotten readers left out."""
        rows = self.db.execute(
            "SELECT s.email, e.kind, e.detail, max(e.id) FROM events e"
            " JOIN subscribers s ON s.id = e.subscriber"
            " WHERE e.issue = ? AND e.kind IN ('hard', 'soft', 'complaint')"
            " AND s.status != 'forgotten'"
            " GROUP BY e.subscriber, e.kind ORDER BY e.kind, s.email",
            (issue,),
        )
        return [(str(email), str(kind), str(detail)) for email, kind, detail, _ in rows]

    def of_subscriber(self, subscriber: int) -> list[tuple[int | None, str, str, str, str]]:
        """(issue, kind, source, detail, at) of each event of ``subscriber``, oldest first."""
        return [
            (None if issue is None else int(issue), str(kind), str(source), str(detail), str(at))
            for issue, kind, source, detail, at in self.db.execute(
                "SELECT issue, kind, source, detail, at FROM events WHERE subscriber = ?"
                " ORDER BY id",
                (subscriber,),
            )
        ]

    def _count(self, query: str, *args: object) -> int:
        return int(self.db.execute(query, args).fetchone()[0])
