"""The site state: one SQLite file, ``.feedpub/state.db``, schema versioned.

It remembers what cannot be derived from the files again: the feed id each article was
given when first published, which output files the last build wrote, and every newsletter
issue with the articles it carried. An article id appears in at most one issue: the database
itself refuses a second (a UNIQUE constraint), whatever the code above it does.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from itertools import starmap
from pathlib import Path
from typing import Any, NamedTuple

from .errors import StateError

STATE_NAME = "state.db"

# Each entry upgrades the schema by one version; a new database runs them all.
_MIGRATIONS = [
    """
CREATE TABLE articles (
    id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    date TEXT NOT NULL,
    explicit INTEGER NOT NULL,
    first_published TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
CREATE INDEX articles_path ON articles(path);
CREATE TABLE outputs (
    path TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL
);
""",
    """
CREATE TABLE issues (
    number INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ready', 'sent')),
    subject TEXT NOT NULL,
    note TEXT NOT NULL,
    html TEXT NOT NULL,
    text TEXT NOT NULL,
    sent TEXT
);
CREATE TABLE issue_articles (
    issue INTEGER NOT NULL REFERENCES issues(number) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    article_id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    link TEXT NOT NULL,
    date TEXT NOT NULL,
    authors TEXT NOT NULL,
    summary TEXT NOT NULL,
    PRIMARY KEY (issue, position)
);
""",
    """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE subscribers (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'unsubscribed', 'bounced')),
    added TEXT NOT NULL,
    changed TEXT NOT NULL,
    hard_failures INTEGER NOT NULL
);
CREATE TABLE deliveries (
    issue INTEGER NOT NULL REFERENCES issues(number) ON DELETE CASCADE,
    subscriber INTEGER NOT NULL REFERENCES subscribers(id),
    status TEXT NOT NULL
        CHECK (status IN ('pending', 'sending', 'sent', 'deferred', 'failed', 'skipped')),
    attempts INTEGER NOT NULL,
    next_attempt TEXT,
    last_reply TEXT NOT NULL,
    updated TEXT NOT NULL,
    PRIMARY KEY (issue, subscriber)
);
CREATE INDEX deliveries_status ON deliveries(issue, status);
""",
    """
CREATE TABLE content_cache (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    reader TEXT NOT NULL,
    data BLOB NOT NULL
);
ALTER TABLE outputs RENAME COLUMN sha256 TO key;
""",
    """
DROP INDEX deliveries_status;
CREATE INDEX deliveries_claim ON deliveries(issue, status, subscriber);
""",
]
SCHEMA_VERSION = len(_MIGRATIONS)
# Values bound in one statement: SQLite's smallest limit (older builds allow 999).
_MAX_VARIABLES = 900


class KnownArticle(NamedTuple):
    """What the state remembers of a published article. A tuple: a build makes, hashes and
    compares one per article (10,000 frozen dataclasses took 0.1 s of a rebuild)."""

    id: str
    path: str
    content_hash: str
    title: str
    date: str
    explicit: bool


class State:
    """An open state database. Use as a context manager, or call close()."""

    def __init__(self, connection: sqlite3.Connection, path: Path | None) -> None:
        self.db = connection
        self.path = path

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def open(cls, state_dir: Path, create: bool = True) -> State:
        """Open (and with ``create``, make) ``state_dir/state.db``.

        Without ``create`` a missing database opens as an empty one in memory, so read-only
        commands never leave files behind.
        """
        path = state_dir / STATE_NAME
        if not path.exists():
            if not create:
                return cls._connect(":memory:", None)
            try:
                state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
                # The state will hold subscribers' addresses: readable by its owner only.
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            except OSError as exc:
                raise StateError(
                    f"{path}: cannot create the state database: {exc.strerror}"
                ) from None
        return cls._connect(str(path), path)

    @classmethod
    def _connect(cls, target: str, path: Path | None) -> State:
        shown = path or "state"
        try:
            db = sqlite3.connect(target, timeout=30, isolation_level=None)
            db.execute("PRAGMA foreign_keys = ON")
            if path is not None:
                # Readers (the unsubscribe endpoint, status) never wait for a sending run, and
                # each delivery's commit stays cheap; a killed process loses nothing committed.
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = NORMAL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version < SCHEMA_VERSION:
                with _transaction(db):
                    # Read again under the write lock: another process may have just upgraded.
                    version = db.execute("PRAGMA user_version").fetchone()[0]
                    for script in _MIGRATIONS[version:]:
                        for statement in script.split(";"):
                            if statement.strip():
                                db.execute(statement)
                    db.execute(f"PRAGMA user_version = {max(version, SCHEMA_VERSION)}")
            if version > SCHEMA_VERSION:
                db.close()
                raise StateError(
                    f"{shown}: written by a newer feedpub (schema {version}, this one knows "
                    f"{SCHEMA_VERSION}); upgrade feedpub"
                )
        except sqlite3.DatabaseError as exc:
            raise StateError(
                f"{shown}: not a usable feedpub state database ({exc}); "
                "restore it from a backup or move it away to start afresh"
            ) from None
        return cls(db, path)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> State:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with _transaction(self.db):
            yield

    # -- articles --------------------------------------------------------------------------
    def known_articles(self, ids: Iterable[str] | None = None) -> list[KnownArticle]:
        """Every article the state remembers, or those with one of ``ids``."""
        # ``explicit`` comes as 0 or 1, which compare and hash as False and True.
        query = "SELECT id, path, content_hash, title, date, explicit != 0 FROM articles"
        if ids is None:
            return list(starmap(KnownArticle, self.db.execute(query + " ORDER BY rowid")))
        return list(starmap(KnownArticle, self._where_in(query + " WHERE id", ids)))

    def remember_articles(
        self,
        articles: Iterable[KnownArticle],
        now: str,
        known_before: Iterable[KnownArticle] | None = None,
    ) -> None:
        """Record published articles that are new or changed; call inside a transaction.

        ``last_seen`` is when the row last changed: a build that changed nothing of an article
        writes nothing for it. ``known_before`` spares reading the rows again when the caller
        read them under the same lock."""
        known = set(self.known_articles() if known_before is None else known_before)
        changed = [a for a in articles if a not in known]
        self.db.executemany(
            """INSERT INTO articles (id, path, content_hash, title, date, explicit,
                                     first_published, last_seen)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(id) DO UPDATE SET path = excluded.path,
                   content_hash = excluded.content_hash, title = excluded.title,
                   date = excluded.date, explicit = excluded.explicit,
                   last_seen = excluded.last_seen""",
            [
                (a.id, a.path, a.content_hash, a.title, a.date, int(a.explicit), now, now)
                for a in changed
            ],
        )

    @property
    def issues(self) -> Issues:
        return Issues(self.db)

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def first_published(self) -> dict[str, datetime]:
        """When feedpub first published each article it knows, by feed id."""
        rows = self.db.execute("SELECT id, first_published FROM articles")
        return {row[0]: datetime.fromisoformat(row[1]) for row in rows}

    # -- outputs ---------------------------------------------------------------------------
    def outputs(self) -> dict[str, str]:
        """Each output file the last build wrote, with the key of what it was made from."""
        return dict(self.db.execute("SELECT path, key FROM outputs").fetchall())

    def replace_outputs(
        self, outputs: dict[str, str], recorded: dict[str, str] | None = None
    ) -> None:
        """Make the recorded outputs ``outputs``, writing only the rows that differ.
        ``recorded`` spares reading the rows again when the caller read them under the same
        lock."""
        before = self.outputs() if recorded is None else recorded
        self.db.executemany(
            "DELETE FROM outputs WHERE path = ?", [(p,) for p in before if p not in outputs]
        )
        self.db.executemany(
            "INSERT OR REPLACE INTO outputs (path, key) VALUES (?, ?)",
            [(p, k) for p, k in outputs.items() if before.get(p) != k],
        )

    # -- content cache ---------------------------------------------------------------------
    def content_cache(self) -> dict[str, tuple[int, int, str, bytes]]:
        """path -> (size, mtime_ns, reader fingerprint, the article and problems as JSON)."""
        rows = self.db.execute("SELECT path, size, mtime_ns, reader, data FROM content_cache")
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}

    def content_metadata(self) -> dict[str, tuple[int, int, str]]:
        """path -> (size, mtime_ns, reader fingerprint): the content cache without its data."""
        rows = self.db.execute("SELECT path, size, mtime_ns, reader FROM content_cache")
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def content_data(self, paths: Iterable[str]) -> dict[str, bytes]:
        """path -> the cached article and problems as JSON, for those of ``paths`` it has."""
        return dict(self._where_in("SELECT path, data FROM content_cache WHERE path", paths))

    def _where_in(self, query: str, values: Iterable[str]) -> Iterator[Any]:
        """The rows of ``query`` followed by "IN (values)", a statement per 900 values."""
        wanted = list(values)
        for start in range(0, len(wanted), _MAX_VARIABLES):
            chunk = wanted[start : start + _MAX_VARIABLES]
            yield from self.db.execute(f"{query} IN ({', '.join('?' * len(chunk))})", chunk)

    def update_content_cache(
        self, rows: list[tuple[str, int, int, str, bytes]], present: set[str] | None = None
    ) -> None:
        """Store fresh entries and forget files that are not ``present`` (when it is given,
        else none); call inside a transaction."""
        self.db.executemany(
            "INSERT OR REPLACE INTO content_cache (path, size, mtime_ns, reader, data)"
            " VALUES (?, ?, ?, ?, ?)",
            rows,
        )
        if present is None:
            return
        gone = [
            (path,)
            for (path,) in self.db.execute("SELECT path FROM content_cache")
            if path not in present
        ]
        self.db.executemany("DELETE FROM content_cache WHERE path = ?", gone)


# -- newsletter issues -----------------------------------------------------------------------
@dataclass(frozen=True)
class IssueItem:
    """An article as an issue carried it (a snapshot: the issue stays as it went out)."""

    article_id: str
    title: str
    link: str
    date: str
    authors: tuple[str, ...]
    summary: str


@dataclass(frozen=True)
class IssueRecord:
    number: int
    id: str
    created: str
    status: str
    subject: str
    note: str
    html: str
    text: str
    sent: str | None
    items: tuple[IssueItem, ...]


def _issue_items(db: sqlite3.Connection, number: int) -> tuple[IssueItem, ...]:
    rows = db.execute(
        "SELECT article_id, title, link, date, authors, summary FROM issue_articles"
        " WHERE issue = ? ORDER BY position",
        (number,),
    )
    return tuple(IssueItem(r[0], r[1], r[2], r[3], tuple(json.loads(r[4])), r[5]) for r in rows)


class Issues:
    """The issues part of the state."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def carried_ids(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT article_id FROM issue_articles")}

    def all(self) -> list[IssueRecord]:
        numbers = [r[0] for r in self.db.execute("SELECT number FROM issues ORDER BY number")]
        return [issue for n in numbers if (issue := self.get(n)) is not None]

    def get(self, number: int) -> IssueRecord | None:
        row = self.db.execute(
            "SELECT number, id, created, status, subject, note, html, text, sent FROM issues"
            " WHERE number = ?",
            (number,),
        ).fetchone()
        if row is None:
            return None
        number, id_, created, status, subject, note, html, text, sent = row
        return IssueRecord(
            number,
            id_,
            created,
            status,
            subject,
            note,
            html,
            text,
            sent,
            items=_issue_items(self.db, number),
        )

    def first(self) -> IssueRecord | None:
        row = self.db.execute("SELECT min(number) FROM issues").fetchone()
        return self.get(row[0]) if row[0] is not None else None

    def last(self) -> IssueRecord | None:
        row = self.db.execute("SELECT max(number) FROM issues").fetchone()
        return self.get(row[0]) if row[0] is not None else None

    def next_number(self) -> int:
        return int(self.db.execute("SELECT coalesce(max(number), 0) + 1 FROM issues").fetchone()[0])

    def add(self, issue: IssueRecord) -> None:
        """Record an issue and its articles, all or nothing (in a transaction or not).

        Raises StateError if an article is already in another issue.
        """
        # Without a transaction open, each INSERT would commit on its own: a refused article
        # would leave the issue recorded with none. The savepoint makes the two one step.
        self.db.execute("SAVEPOINT add_issue")
        try:
            self.db.execute(
                "INSERT INTO issues (number, id, created, status, subject, note, html, text, sent)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    issue.number,
                    issue.id,
                    issue.created,
                    issue.status,
                    issue.subject,
                    issue.note,
                    issue.html,
                    issue.text,
                    issue.sent,
                ),
            )
            self.db.executemany(
                "INSERT INTO issue_articles (issue, position, article_id, title, link, date,"
                " authors, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        issue.number,
                        position,
                        item.article_id,
                        item.title,
                        item.link,
                        item.date,
                        json.dumps(list(item.authors), ensure_ascii=False),
                        item.summary,
                    )
                    for position, item in enumerate(issue.items, start=1)
                ],
            )
        except BaseException as exc:
            self.db.execute("ROLLBACK TO add_issue")
            self.db.execute("RELEASE add_issue")
            if isinstance(exc, sqlite3.IntegrityError):
                raise StateError(f"cannot record issue {issue.number}: {exc}") from None
            raise
        self.db.execute("RELEASE add_issue")

    def progress(self, number: int) -> tuple[int, int, int]:
        """(deliveries final, deliveries in all, deliveries attempted) for issue ``number``."""
        row = self.db.execute(
            "SELECT count(*), sum(status IN ('sent', 'failed', 'skipped')),"
            " sum(status != 'pending') FROM deliveries WHERE issue = ?",
            (number,),
        ).fetchone()
        return int(row[1] or 0), int(row[0]), int(row[2] or 0)

    def mark_sent(self, number: int, when: str) -> None:
        self.db.execute(
            "UPDATE issues SET status = 'sent', sent = ? WHERE number = ?", (when, number)
        )

    def discard(self, number: int) -> None:
        self.db.execute("DELETE FROM issues WHERE number = ?", (number,))


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
