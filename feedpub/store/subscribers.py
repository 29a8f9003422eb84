"""The subscribers table and the suppression list: one row per address, unique by its key (the
lower-cased ASCII form of the address, which ``feedpub.delivery.subscribers.normalize`` makes),
with each subscriber's consent record (source, joined, confirmed, ip), topics and pause.

A forgotten subscriber stays as a tombstone row (status 'forgotten', no address, no name), so
that the counts of the issues sent before stay exact; only a keyed hash of the address is kept,
in ``suppressions``.

The rules (which addresses and names are valid, who may be re-activated, how the hash is made)
are delivery's; this module only reads and writes the rows.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

STATUSES = ("pending", "active", "unsubscribed", "bounced", "complained", "forgotten")
# A subscriber in one of these gets nothing, and an import never makes them active again.
SUPPRESSED = ("unsubscribed", "bounced", "complained", "forgotten")
SOURCES = ("form", "import", "cli", "unknown")
FORGOTTEN_KEY = "forgotten:{id}"

_COLUMNS = (
    "id, email, name, status, token_key, source, joined, confirmed, ip, topics, paused_until,"
    " new_email, added, changed"
)


def new_token_key() -> str:
    """A subscriber's random key, which their links carry instead of their address: 22 URL-safe
    characters (128 bits)."""
    return secrets.token_urlsafe(16)


@dataclass(frozen=True)
class Subscriber:
    """One row of the subscribers table. ``topics``: the topics' names chosen (none: all);
    ``paused_until``: an ISO moment before which nothing is sent, or None."""

    id: int
    email: str
    name: str
    status: str
    token_key: str = ""
    source: str = "unknown"
    joined: str | None = None
    confirmed: str | None = None
    ip: str = ""
    topics: tuple[str, ...] = ()
    paused_until: str | None = None
    new_email: str = ""
    added: str = ""
    changed: str = ""


def _subscriber(row: tuple[object, ...]) -> Subscriber:
    values = list(row)
    values[9] = tuple(json.loads(str(values[9]))) if values[9] else ()
    return Subscriber(*values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class DeliveredIssue:
    """An issue as one subscriber's delivery row has it: the titles of the articles their copy
    carried (none when it was skipped)."""

    issue: int
    subject: str
    status: str
    updated: str
    titles: tuple[str, ...]


class SubscriberRows:
    """The subscribers and suppressions tables of an open state."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def _one(self, where: str, value: object) -> Subscriber | None:
        row = self.db.execute(
            f"SELECT {_COLUMNS} FROM subscribers WHERE {where} = ?", (value,)
        ).fetchone()
        return None if row is None else _subscriber(row)

    def find(self, key: str) -> Subscriber | None:
        """The subscriber whose address has the key ``key``, or None."""
        return self._one("email_key", key)

    def find_token(self, token_key: str) -> Subscriber | None:
        """The subscriber whose links carry ``token_key``, or None."""
        return self._one("token_key", token_key)

    def find_id(self, id_: int) -> Subscriber | None:
        return self._one("id", id_)

    def insert(
        self,
        email: str,
        key: str,
        name: str,
        status: str,
        stamp: str,
        source: str = "cli",
        joined: str | None = None,
        confirmed: str | None = None,
        ip: str = "",
        topics: tuple[str, ...] = (),
    ) -> Subscriber:
        token_key = new_token_key()
        cursor = self.db.execute(
            "INSERT INTO subscribers (email, email_key, name, status, added, changed,"
            " hard_failures, token_key, source, joined, confirmed, ip, topics)"
            " VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)",
            (
                email,
                key,
                name,
                status,
                stamp,
                stamp,
                token_key,
                source,
                joined,
                confirmed,
                ip,
                _topics(topics),
            ),
        )
        return Subscriber(
            int(cursor.lastrowid or 0),
            email,
            name,
            status,
            token_key,
            source,
            joined,
            confirmed,
            ip,
            tuple(topics),
            None,
            "",
            stamp,
            stamp,
        )

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

    def confirm(self, id_: int, stamp: str) -> None:
        """Pending becomes active, confirmed at ``stamp``; any other status is left as it is
        (confirming twice changes nothing)."""
        self.db.execute(
            "UPDATE subscribers SET status = 'active', confirmed = ?, hard_failures = 0,"
            " changed = ? WHERE id = ? AND status = 'pending'",
            (stamp, stamp, id_),
        )

    def set_consent(
        self, id_: int, source: str, joined: str | None, ip: str, stamp: str
    ) -> None:
        """Record a fresh consent (a sign-up again, after leaving): how and when, from where."""
        self.db.execute(
            "UPDATE subscribers SET source = ?, joined = ?, ip = ?, changed = ? WHERE id = ?",
            (source, joined, ip, stamp, id_),
        )

    def set_name(self, id_: int, name: str, stamp: str) -> None:
        self.db.execute(
            "UPDATE subscribers SET name = ?, changed = ? WHERE id = ?", (name, stamp, id_)
        )

    def set_topics(self, id_: int, topics: tuple[str, ...], stamp: str) -> None:
        self.db.execute(
            "UPDATE subscribers SET topics = ?, changed = ? WHERE id = ?",
            (_topics(topics), stamp, id_),
        )

    def set_pause(self, id_: int, until: str | None, stamp: str) -> None:
        self.db.execute(
            "UPDATE subscribers SET paused_until = ?, changed = ? WHERE id = ?",
            (until, stamp, id_),
        )

    def set_new_email(self, id_: int, email: str, stamp: str) -> None:
        """An address change waiting for its confirmation ('' cancels it)."""
        self.db.execute(
            "UPDATE subscribers SET new_email = ?, changed = ? WHERE id = ?", (email, stamp, id_)
        )

    def change_email(self, id_: int, email: str, key: str, stamp: str) -> None:
        """The confirmed new address replaces the old (the waiting change is cleared); its
        hard failures were the old address's."""
        self.db.execute(
            "UPDATE subscribers SET email = ?, email_key = ?, new_email = '', hard_failures = 0,"
            " changed = ? WHERE id = ?",
            (email, key, stamp, id_),
        )

    def forget(self, id_: int, stamp: str) -> None:
        """Erase what the row says of the person and keep a tombstone; their deliveries keep
        only status and counts, their queued mail is dropped. Call inside a transaction, and
        ``State.scrub`` after it commits."""
        # Every byte the old values took is zeroed in its page, whatever the I/O.
        self.db.execute("PRAGMA secure_delete = ON")
        self.db.execute(
            "UPDATE subscribers SET status = 'forgotten', email = '', email_key = ?, name = '',"
            " ip = '', topics = '[]', new_email = '', paused_until = NULL, changed = ?"
            " WHERE id = ?",
            (FORGOTTEN_KEY.format(id=id_), stamp, id_),
        )
        self.db.execute("UPDATE deliveries SET last_reply = '' WHERE subscriber = ?", (id_,))
        # A bounce's diagnostic often quotes the address ("550 <ann@example.org>: no such user").
        self.db.execute("UPDATE events SET detail = '' WHERE subscriber = ?", (id_,))
        self.db.execute("DELETE FROM outgoing WHERE subscriber = ?", (id_,))

    def is_suppressed(self, hash_: str) -> bool:
        row = self.db.execute("SELECT 1 FROM suppressions WHERE hash = ?", (hash_,)).fetchone()
        return row is not None

    def has_suppressions(self) -> bool:
        return self.db.execute("SELECT 1 FROM suppressions LIMIT 1").fetchone() is not None

    def suppress(self, hash_: str, reason: str, stamp: str) -> None:
        self.db.execute(
            "INSERT INTO suppressions (hash, reason, added) VALUES (?, ?, ?)"
            " ON CONFLICT(hash) DO UPDATE SET reason = excluded.reason",
            (hash_, reason, stamp),
        )

    def unsuppress(self, hash_: str) -> None:
        self.db.execute("DELETE FROM suppressions WHERE hash = ?", (hash_,))

    def iter(self, status: str | None = None) -> Iterator[Subscriber]:
        """The subscribers in ``status``; without one, all but the forgotten."""
        query = f"SELECT {_COLUMNS} FROM subscribers"
        args: tuple[str, ...] = ()
        if status:
            query += " WHERE status = ?"
            args = (status,)
        else:
            query += " WHERE status != 'forgotten'"
        for row in self.db.execute(query + " ORDER BY id", args):
            yield _subscriber(row)

    def count(self, status: str | None = None) -> int:
        """How many subscribers are in ``status``; without one, all but the forgotten."""
        if status:
            row = self.db.execute("SELECT count(*) FROM subscribers WHERE status = ?", (status,))
        else:
            row = self.db.execute("SELECT count(*) FROM subscribers WHERE status != 'forgotten'")
        return int(row.fetchone()[0])

    def delivered(self, id_: int) -> list[DeliveredIssue]:
        """Each issue with a delivery row for subscriber ``id_``, oldest first, with the subject
        and the titles of the articles of the copy they got (``deliveries.articles``; '' is
        the whole issue, whose subject a skipped row gives too)."""
        rows = self.db.execute(
            "SELECT d.issue, coalesce(v.subject, i.subject), d.status, d.updated, d.articles"
            " FROM deliveries d JOIN issues i ON i.number = d.issue"
            " LEFT JOIN issue_variants v ON v.issue = d.issue AND v.articles = d.articles"
            " AND d.status != 'skipped'"
            " WHERE d.subscriber = ? ORDER BY d.issue",
            (id_,),
        ).fetchall()
        found: list[DeliveredIssue] = []
        for number, subject, status, updated, articles in rows:
            titles: tuple[str, ...] = ()
            if status != "skipped":
                items = self.db.execute(
                    "SELECT position, title FROM issue_articles WHERE issue = ? ORDER BY position",
                    (number,),
                ).fetchall()
                wanted = {int(p) for p in articles.split(",") if p.strip()} if articles else None
                titles = tuple(t for p, t in items if wanted is None or p in wanted)
            found.append(DeliveredIssue(number, subject, status, updated, titles))
        return found


def _topics(topics: tuple[str, ...]) -> str:
    return json.dumps(list(topics), ensure_ascii=False)
