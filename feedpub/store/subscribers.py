"""The subscribers table: one row per address, unique by its key (the lower-cased ASCII form
of the address, which ``feedpub.delivery.subscribers.normalize`` makes).

The rules (which addresses and names are valid, who may be re-activated) are delivery's; this
module only reads and writes the rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

STATUSES = ("active", "unsubscribed", "bounced")


@dataclass(frozen=True)
class Subscriber:
    id: int
    email: str
    name: str
    status: str


class SubscriberRows:
    """The subscribers table of an open state."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def find(self, key: str) -> Subscriber | None:
        """The subscriber whose address has the key ``key``, or None."""
        row = self.db.execute(
            "SELECT id, email, name, status FROM subscribers WHERE email_key = ?", (key,)
        ).fetchone()
        return None if row is None else Subscriber(*row)

    def insert(self, email: str, key: str, name: str, status: str, stamp: str) -> Subscriber:
        cursor = self.db.execute(
            "INSERT INTO subscribers (email, email_key, name, status, added, changed,"
            " hard_failures) VALUES (?, ?, ?, ?, ?, ?, 0)",
            (email, key, name, status, stamp, stamp),
        )
        return Subscriber(int(cursor.lastrowid or 0), email, name, status)

    def reactivate(self, id_: int, name: str, stamp: str) -> None:
        """Active again, its hard failures forgotten; a non-empty ``name`` replaces the old."""
        self.db.execute(
            "UPDATE subscribers SET status = 'active', hard_failures = 0, changed = ?,"
            " name = CASE WHEN ? != '' THEN ? ELSE name END WHERE id = ?",
            (stamp, name, name, id_),
        )

    def set_status(self, id_: int, status: str, stamp: str) -> None:
        self.db.execute(
            "UPDATE subscribers SET status = ?, changed = ? WHERE id = ?", (status, stamp, id_)
        )

    def iter(self, status: str | None = None) -> Iterator[Subscriber]:
        query = "SELECT id, email, name, status FROM subscribers"
        args: tuple[str, ...] = ()
        if status:
            query += " WHERE status = ?"
            args = (status,)
        for row in self.db.execute(query + " ORDER BY id", args):
            yield Subscriber(*row)

    def count(self, status: str | None = None) -> int:
        if status:
            row = self.db.execute("SELECT count(*) FROM subscribers WHERE status = ?", (status,))
        else:
            row = self.db.execute("SELECT count(*) FROM subscribers")
        return int(row.fetchone()[0])
