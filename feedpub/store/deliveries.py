"""The deliveries table: one row per issue and recipient, and the steps of a send on it.

Each method that changes rows is one transaction of its own, committed before it returns: a
row is claimed (``sending``) in one commit and its outcome recorded in another, so that a
process killed at any moment leaves at most one claimed row per connection. The send loop
(``feedpub.delivery.sending``) calls these steps through its ``DeliveryStore`` interface and
holds no SQL.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import NamedTuple

from feedpub.store.issues import Issues

# A delivery in one of these is done: the issue is sent when every row is.
FINAL = ("sent", "failed", "skipped")
# The last_reply of a reader whose topics have nothing in the issue (their row is skipped).
NOTHING_CHOSEN = "not sent: nothing in this issue is in their topics"

# What copy of an issue a reader of some topics gets: the positions of its articles ("1,3"),
# "" for the whole issue, None for none (``feedpub.newsletter.topics.choose``).
Choose = Callable[[tuple[str, ...]], str | None]


def topic_names(text: str) -> tuple[str, ...]:
    """A subscriber's topics as the state keeps them (a JSON list); () if it is not one."""
    try:
        names = json.loads(text)
    except ValueError:
        return ()
    if not isinstance(names, list):
        return ()
    return tuple(n for n in names if isinstance(n, str))


class ClaimedRow(NamedTuple):
    """A row a connection took: the recipient, and how the row was before (to give it back
    untouched). ``active`` False: the recipient left while the issue was sending, and the row
    was recorded ``skipped`` instead."""

    subscriber: int
    email: str
    name: str
    key: str
    active: bool
    status: str
    updated: str
    token_key: str = ""
    articles: str = ""  # the copy the reader gets: positions ("1,3"), "" the whole issue


class Deliveries:
    """The deliveries table of an open state; ``transaction`` is the state's."""

    def __init__(
        self, db: sqlite3.Connection, transaction: Callable[[], AbstractContextManager[None]]
    ) -> None:
        self.db = db
        self.transaction = transaction

    def start(self, number: int, stamp: str, choose: Choose | None = None) -> int:
        """Make the rows of issue ``number``: one per subscriber active when it starts.

        Until a first message has been tried, the rows are not fixed: each start makes them
        afresh, from whoever is active then (a send the relay refused at once must not leave
        out who subscribed since, nor hold a reader to the topics or the pause they had at
        the first try). Each row names the copy its reader gets (``articles``), which
        ``choose`` makes of their topics (without it, everyone gets the whole issue); a reader
        ``choose`` gives nothing to, or one paused past ``stamp``, gets a row recorded
        ``skipped`` with the reason, so that the issue accounts for them. Rows a killed run
        left in ``sending`` go back to ``pending``. Returns the number of rows.
        """
        with self.transaction():
            if not self._fixed(number):
                # Every row is pending or skipped, with no attempt: nothing was sent.
                self.db.execute("DELETE FROM deliveries WHERE issue = ?", (number,))
                self._add_rows(number, stamp, choose)
            self.db.execute(
                "UPDATE deliveries SET status = 'pending', updated = ? WHERE issue = ?"
                " AND status = 'sending'",
                (stamp, number),
            )
        return int(
            self.db.execute(
                "SELECT count(*) FROM deliveries WHERE issue = ?", (number,)
            ).fetchone()[0]
        )

    def _fixed(self, number: int) -> bool:
        """Whether a message of issue ``number`` has been tried: its rows are fixed then."""
        tried = self.db.execute(
            "SELECT 1 FROM deliveries WHERE issue = ? AND (attempts > 0 OR status NOT IN"
            " ('pending', 'skipped')) LIMIT 1",
            (number,),
        ).fetchone()
        return tried is not None

    def _add_rows(self, number: int, stamp: str, choose: Choose | None) -> None:
        """A row for each active subscriber; call in a transaction, the issue having none."""
        self.db.executemany(
            "INSERT INTO deliveries (issue, subscriber, status, attempts, next_attempt,"
            " last_reply, updated, articles) VALUES (?, ?, ?, 0, NULL, ?, ?, ?)",
            (
                (number, id_, status, reply, stamp, copy)
                for id_, status, reply, copy in self._readers(number, stamp, choose)
            ),
        )

    def would_start(self, number: int, stamp: str, choose: Choose | None) -> dict[str, int]:
        """How many rows a start at ``stamp`` would make in each status (``pending``,
        ``skipped``), making none: what ``send --dry-run`` says."""
        counts: dict[str, int] = {}
        if self._fixed(number):
            return counts
        for _, status, _, _ in self._readers(number, stamp, choose):
            counts[status] = counts.get(status, 0) + 1
        return counts

    def new_copies(self, number: int, stamp: str, choose: Choose | None) -> list[str]:
        """The copies (``articles``) the rows a start at ``stamp`` would make are to get."""
        if self._fixed(number):
            return []
        return sorted(
            {
                copy
                for _, status, _, copy in self._readers(number, stamp, choose)
                if status == "pending"
            }
        )

    def _readers(
        self, number: int, stamp: str, choose: Choose | None
    ) -> Iterator[tuple[int, str, str, str]]:
        """(subscriber, status, last_reply, articles) of each active subscriber, as their row
        of issue ``number`` would start. ``choose`` runs once for each distinct choice of
        topics (a dictionary, not a join: SQLite would read the table once for each)."""
        choices: dict[str, tuple[str, str, str]] = {}
        # A pause is compared as a moment (julianday), as next_attempt is; one that is not a
        # moment at all (NULL from julianday) pauses nothing.
        rows = self.db.execute(
            "SELECT id, topics, paused_until, coalesce(julianday(paused_until) > julianday(?), 0)"
            " FROM subscribers WHERE status = 'active' ORDER BY id",
            (stamp,),
        ).fetchall()
        for id_, topics, paused_until, paused in rows:
            if paused:
                yield id_, "skipped", f"paused until {paused_until}", ""
                continue
            choice = choices.get(topics)
            if choice is None:
                copy = choose(topic_names(topics)) if choose is not None else ""
                choice = ("skipped", NOTHING_CHOSEN, "") if copy is None else ("pending", "", copy)
                choices[topics] = choice
            yield (id_, *choice)

    def open_copies(self, number: int) -> list[str]:
        """The copies (``articles``) that rows of issue ``number`` not yet final are to get."""
        return [
            row[0]
            for row in self.db.execute(
                "SELECT DISTINCT articles FROM deliveries WHERE issue = ? AND status NOT IN"
                " (?, ?, ?) ORDER BY articles",
                (number, *FINAL),
            )
        ]

    def copies(self, number: int) -> list[tuple[str, str, int]]:
        """(copy, status, rows) for each copy of issue ``number`` and each status of its rows."""
        return [
            (row[0], row[1], int(row[2]))
            for row in self.db.execute(
                "SELECT articles, status, count(*) FROM deliveries WHERE issue = ?"
                " GROUP BY articles, status ORDER BY articles, status",
                (number,),
            )
        ]

    def due(self, number: int, stamp: str) -> int:
        """How many rows of issue ``number`` a send at ``stamp`` would try."""
        # Moments compare as moments (julianday), not as text: the same time written with
        # another UTC offset (after a DST change, or a --now in UTC) is neither early nor late.
        return int(
            self.db.execute(
                "SELECT count(*) FROM deliveries WHERE issue = ? AND (status = 'pending' OR"
                " (status = 'deferred' AND julianday(next_attempt) <= julianday(?)))",
                (number, stamp),
            ).fetchone()[0]
        )

    def next_try(self, number: int) -> str | None:
        """The next_attempt of issue ``number``'s first deferred row (None: none is deferred)."""
        row = self.db.execute(
            "SELECT next_attempt FROM deliveries WHERE issue = ? AND status = 'deferred'"
            " ORDER BY julianday(next_attempt) LIMIT 1",
            (number,),
        ).fetchone()
        return None if row is None else str(row[0])

    def claim(self, number: int, stamp: str, sent: int | None = None) -> ClaimedRow | None:
        """Take the next row due (pending first, then deferred ones whose time has come): it
        becomes ``sending``, or ``skipped`` if its recipient is no longer active. In the same
        transaction the subscriber ``sent`` (the previous message's, accepted) is recorded
        sent: one commit per message. None when no row is due."""
        with self.transaction():
            if sent is not None:
                self._set(number, sent, "sent", 1, None, "250", stamp)
            # Two index lookups (issue, status, subscriber), never a scan: claiming stays
            # as cheap at the last of 100,000 recipients as at the first.
            row = (
                self.db.execute(
                    "SELECT d.subscriber, s.email, s.name, s.email_key, s.status,"
                    " d.status, d.updated, s.token_key, d.articles"
                    " FROM deliveries d JOIN subscribers s ON s.id = d.subscriber"
                    " WHERE d.issue = ? AND d.status = 'pending'"
                    " ORDER BY d.subscriber LIMIT 1",
                    (number,),
                ).fetchone()
                or self.db.execute(
                    "SELECT d.subscriber, s.email, s.name, s.email_key, s.status,"
                    " d.status, d.updated, s.token_key, d.articles"
                    " FROM deliveries d JOIN subscribers s ON s.id = d.subscriber"
                    " WHERE d.issue = ? AND d.status = 'deferred'"
                    " AND julianday(d.next_attempt) <= julianday(?)"
                    " ORDER BY d.subscriber LIMIT 1",
                    (number, stamp),
                ).fetchone()
            )
            if row is None:
                return None
            # Who unsubscribed (or bounced) while the issue was sending is not sent to.
            active = row[4] == "active"
            self.db.execute(
                "UPDATE deliveries SET status = ?, updated = ? WHERE issue = ?"
                " AND subscriber = ?",
                ("sending" if active else "skipped", stamp, number, row[0]),
            )
        return ClaimedRow(row[0], row[1], row[2], row[3], active, row[5], row[6], row[7], row[8])

    def give_back(self, number: int, subscriber: int, status: str, updated: str) -> None:
        """Put a claimed row back as it was (``status``, ``updated``)."""
        try:
            with self.transaction():
                self.db.execute(
                    "UPDATE deliveries SET status = ?, updated = ? WHERE issue = ?"
                    " AND subscriber = ? AND status = 'sending'",
                    (status, updated, number, subscriber),
                )
        except sqlite3.Error:
            pass  # left in 'sending', which the next run's start puts back to 'pending'

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
        """Record one recipient's outcome: ``status``, ``attempt`` more attempts spent."""
        with self.transaction():
            self._set(number, subscriber, status, attempt, next_attempt, reply, stamp)

    def hard_failure(
        self, number: int, subscriber: int, reply: str, stamp: str, bounce_after: int
    ) -> None:
        """A permanent refusal: the delivery failed, and the subscriber has one more hard
        failure (``bounced`` at ``bounce_after`` of them, across issues)."""
        with self.transaction():
            self._set(number, subscriber, "failed", 1, None, reply, stamp)
            self.db.execute(
                "UPDATE subscribers SET hard_failures = hard_failures + 1,"
                " status = CASE WHEN hard_failures + 1 >= ? THEN 'bounced' ELSE status END"
                " WHERE id = ?",
                (bounce_after, subscriber),
            )

    def _set(
        self,
        number: int,
        subscriber: int,
        status: str,
        attempt: int,
        next_attempt: str | None,
        reply: str,
        stamp: str,
    ) -> None:
        """Record one recipient's outcome; call inside a transaction."""
        self.db.execute(
            "UPDATE deliveries SET status = ?, attempts = attempts + ?, next_attempt = ?,"
            " last_reply = ?, updated = ? WHERE issue = ? AND subscriber = ?",
            (status, attempt, next_attempt, reply[:500], stamp, number, subscriber),
        )

    def attempts(self, number: int, subscriber: int) -> int:
        """How many attempts the delivery of issue ``number`` to ``subscriber`` has spent."""
        return int(
            self.db.execute(
                "SELECT attempts FROM deliveries WHERE issue = ? AND subscriber = ?",
                (number, subscriber),
            ).fetchone()[0]
        )

    def counts(self, number: int) -> dict[str, int]:
        """How many deliveries of issue ``number`` are in each status."""
        return Issues(self.db).counts(number)

    def finish_if_done(self, number: int, stamp: str) -> bool:
        """Mark issue ``number`` sent when every row is final; whether it is."""
        with self.transaction():
            open_rows = self.db.execute(
                "SELECT count(*) FROM deliveries WHERE issue = ? AND status NOT IN (?, ?, ?)",
                (number, *FINAL),
            ).fetchone()[0]
            if open_rows:
                return False
            Issues(self.db).mark_sent(number, stamp)
        return True
