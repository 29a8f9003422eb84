"""The transactional mail queue (``outgoing``): confirmations, "already subscribed" notes,
welcomes and address-change confirmations, one row per message owed.

A row is written in the same transaction as the change that needs the mail (a sign-up, a
confirmation), so no mail is owed for a change that did not happen and none is lost for one
that did. A sender claims a row (``sending``, its own commit) before handing it to the relay
and records the outcome in another commit; the claim is a lease of ``LEASE``: a row a killed
process left in ``sending`` is due again when it runs out (the message may then go twice,
never zero times).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import NamedTuple

KINDS = ("confirm", "already", "welcome", "address")
LEASE = timedelta(minutes=10)
_ROW = "id, kind, subscriber, target, created, status, attempts"


class OutgoingRow(NamedTuple):
    """A queued message. ``target``: the address it goes to when it is not the subscriber's
    (an address change); ``attempts``: the tries begun, the one just claimed included."""

    id: int
    kind: str
    subscriber: int
    target: str
    created: str
    status: str
    attempts: int


class Outgoing:
    """The outgoing table of an open state; ``transaction`` is the state's."""

    def __init__(
        self, db: sqlite3.Connection, transaction: Callable[[], AbstractContextManager[None]]
    ) -> None:
        self.db = db
        self.transaction = transaction

    def add(self, kind: str, subscriber: int, stamp: str, target: str = "") -> int:
        """Queue a message of ``kind`` for ``subscriber``, due at once; its id. Call inside
        the transaction of the change that needs it."""
        if kind not in KINDS:
            raise ValueError(f"no such kind of message: {kind!r}")
        cursor = self.db.execute(
            "INSERT INTO outgoing (kind, subscriber, target, created, status)"
            " VALUES (?, ?, ?, ?, 'pending')",
            (kind, subscriber, target, stamp),
        )
        return int(cursor.lastrowid or 0)

    def count(
        self, subscriber: int, kind: str, since: str | None = None, status: str | None = None
    ) -> int:
        """How many messages of ``kind`` were queued for ``subscriber`` (after ``since``, in
        ``status``, when given)."""
        query = "SELECT count(*) FROM outgoing WHERE subscriber = ? AND kind = ?"
        args: list[object] = [subscriber, kind]
        if since is not None:
            query += " AND julianday(created) > julianday(?)"
            args.append(since)
        if status is not None:
            query += " AND status = ?"
            args.append(status)
        return int(self.db.execute(query, args).fetchone()[0])

    def get(self, id_: int) -> OutgoingRow | None:
        row = self.db.execute(f"SELECT {_ROW} FROM outgoing WHERE id = ?", (id_,)).fetchone()
        return None if row is None else OutgoingRow(*row)

    def due(self, stamp: str) -> int:
        """How many messages a sender at ``stamp`` would claim."""
        row = self.db.execute(
            f"SELECT count(*) FROM outgoing WHERE {_DUE}", (stamp, stamp)
        ).fetchone()
        return int(row[0])

    def claim(self, stamp: str) -> OutgoingRow | None:
        """The next message due (oldest first), made ``sending`` in its own commit; None when
        none is due."""
        lease = (datetime.fromisoformat(stamp) + LEASE).isoformat()
        with self.transaction():
            row = self.db.execute(
                f"SELECT {_ROW} FROM outgoing WHERE {_DUE} ORDER BY id LIMIT 1", (stamp, stamp)
            ).fetchone()
            if row is None:
                return None
            self.db.execute(
                "UPDATE outgoing SET status = 'sending', attempts = attempts + 1,"
                " next_attempt = ? WHERE id = ?",
                (lease, row[0]),
            )
        claimed = OutgoingRow(*row)
        return claimed._replace(status="sending", attempts=claimed.attempts + 1)

    def give_back(self, id_: int, reply: str) -> None:
        """Undo a claim (its attempt too): the relay failed, not this message; due at once.
        ``reply`` says why, for ``outbox`` and the like to show."""
        with self.transaction():
            self.db.execute(
                "UPDATE outgoing SET status = 'pending', attempts = max(attempts - 1, 0),"
                " next_attempt = NULL, last_reply = ? WHERE id = ? AND status = 'sending'",
                (reply[:500], id_),
            )

    def done(self, id_: int, stamp: str) -> None:
        """The relay took the message: sent, never tried again."""
        self._finish(id_, "sent", None, "250", stamp)

    def later(self, id_: int, reply: str, next_attempt: str, stamp: str) -> None:
        """Not sent this time (``reply``): due again at ``next_attempt``."""
        self._finish(id_, "pending", next_attempt, reply, stamp)

    def failed(self, id_: int, reply: str, stamp: str) -> None:
        """Given up on (``reply``): never tried again."""
        self._finish(id_, "failed", None, reply, stamp)

    def _finish(
        self, id_: int, status: str, next_attempt: str | None, reply: str, stamp: str
    ) -> None:
        # ``stamp`` is not stored: the table keeps when a row was made and when it is due.
        with self.transaction():
            self.db.execute(
                "UPDATE outgoing SET status = ?, next_attempt = ?, last_reply = ? WHERE id = ?",
                (status, next_attempt, reply[:500], id_),
            )


# Pending and due, or claimed by a process whose lease ran out (killed while sending).
_DUE = (
    "((status = 'pending' AND (next_attempt IS NULL OR julianday(next_attempt) <= julianday(?)))"
    " OR (status = 'sending' AND julianday(next_attempt) <= julianday(?)))"
)
