"""The site state: one SQLite file, ``.feedpub/state.db``, schema versioned.

It remembers what cannot be derived from the files again: the feed id each article was
given when first published, and which output files the last build wrote.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import StateError

SCHEMA_VERSION = 1
STATE_NAME = "state.db"

_SCHEMA = """
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
"""


@dataclass(frozen=True)
class KnownArticle:
    """What the state remembers of a published article."""

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
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                with _transaction(db):
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            elif version > SCHEMA_VERSION:
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
    def known_articles(self) -> list[KnownArticle]:
        rows = self.db.execute(
            "SELECT id, path, content_hash, title, date, explicit FROM articles ORDER BY rowid"
        )
        return [KnownArticle(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]

    def remember_articles(self, articles: Iterable[KnownArticle], now: str) -> None:
        """Record (or refresh) published articles; call inside a transaction."""
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
                for a in articles
            ],
        )

    # -- outputs ---------------------------------------------------------------------------
    def outputs(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT path, sha256 FROM outputs").fetchall())

    def replace_outputs(self, outputs: dict[str, str]) -> None:
        self.db.execute("DELETE FROM outputs")
        self.db.executemany("INSERT INTO outputs (path, sha256) VALUES (?, ?)", outputs.items())


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
