"""The site state: one SQLite file, ``.feedpub/state.db``, schema versioned.

It remembers what cannot be derived from the files again: the feed id each article was
given when first published, which output files the last build wrote, and every newsletter
issue with the articles it carried. An article id appears in at most one issue: the database
itself refuses a second (a UNIQUE constraint), whatever the code above it does.

The issues, subscribers, deliveries and events tables have their SQL in the modules beside this
one (``issues``, ``subscribers``, ``deliveries``, ``events``); ``State`` hands each out.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import struct
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import datetime
from itertools import starmap
from pathlib import Path
from typing import Any, NamedTuple

from feedpub.errors import StateBusy, StateError
from feedpub.oserrors import describe, disk_full, unwritable
from feedpub.store.deliveries import Deliveries
from feedpub.store.events import Events
from feedpub.store.issues import Issues
from feedpub.store.limits import Limits
from feedpub.store.outgoing import Outgoing
from feedpub.store.pings import Pings
from feedpub.store.subscribers import SubscriberRows, new_token_key
from feedpub.store.variants import Variants

STATE_NAME = "state.db"
# How long a command waits for another process's write on the state to end before it gives
# up with StateBusy (exit 75): a cron job's next tick tries again, losing nothing.
BUSY_TIMEOUT = 10.0
BUSY_TIMEOUT_ENV = "FEEDPUB_BUSY_TIMEOUT"
# Meta key: the moment ("now") of the last build that recorded its articles.
LAST_BUILD_KEY = "last_build"

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
    # Readers sign themselves up: consent, topics, pauses, address changes, forgetting.
    """
CREATE TABLE subscribers_6 (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN
        ('pending', 'active', 'unsubscribed', 'bounced', 'complained', 'forgotten')),
    added TEXT NOT NULL,
    changed TEXT NOT NULL,
    hard_failures INTEGER NOT NULL,
    token_key TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL CHECK (source IN ('form', 'import', 'cli', 'unknown')),
    joined TEXT,
    confirmed TEXT,
    ip TEXT NOT NULL DEFAULT '',
    topics TEXT NOT NULL DEFAULT '[]',
    paused_until TEXT,
    new_email TEXT NOT NULL DEFAULT ''
);
INSERT INTO subscribers_6 (id, email, email_key, name, status, added, changed, hard_failures,
                           token_key, source)
    SELECT id, email, email_key, name, status, added, changed, hard_failures,
           'unset:' || id, 'unknown' FROM subscribers;
DROP TABLE subscribers;
ALTER TABLE subscribers_6 RENAME TO subscribers;
CREATE TABLE suppressions (
    hash TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    added TEXT NOT NULL
);
CREATE TABLE limits (
    bucket TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX limits_bucket ON limits(bucket, at);
CREATE TABLE outgoing (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('confirm', 'already', 'welcome', 'address')),
    subscriber INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
    target TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt TEXT,
    last_reply TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outgoing_due ON outgoing(status, id);
CREATE INDEX outgoing_subscriber ON outgoing(subscriber, kind);
ALTER TABLE issue_articles ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE issue_articles ADD COLUMN image TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN articles TEXT NOT NULL DEFAULT '';
CREATE TABLE issue_variants (
    issue INTEGER NOT NULL REFERENCES issues(number) ON DELETE CASCADE,
    articles TEXT NOT NULL,
    subject TEXT NOT NULL,
    html TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (issue, articles)
);
""",
    # What happens after the relay says yes: bounces, complaints, unsubscribes, and each
    # incoming message or webhook event acted on (once).
    """
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    subscriber INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
    issue INTEGER REFERENCES issues(number) ON DELETE SET NULL,
    kind TEXT NOT NULL CHECK (kind IN ('hard', 'soft', 'complaint', 'unsubscribe')),
    source TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL
);
CREATE INDEX events_issue ON events(issue, kind);
CREATE INDEX events_subscriber ON events(subscriber, issue);
CREATE TABLE received (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    at TEXT NOT NULL
);
""",
    # The editor's say before an issue goes out: a moment it waits for, and a review (a copy to
    # the reviewers, then an approval). Columns added with defaults: every issue kept as it was.
    """
ALTER TABLE issues ADD COLUMN send_at TEXT;
ALTER TABLE issues ADD COLUMN review TEXT NOT NULL DEFAULT ''
    CHECK (review IN ('', 'waiting', 'approved'));
ALTER TABLE issues ADD COLUMN reviewed TEXT;
ALTER TABLE issues ADD COLUMN approved TEXT;
""",
    # The WebSub publish pings a build owes the hub, until it takes them.
    """
CREATE TABLE websub_pings (
    url TEXT PRIMARY KEY,
    added TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_reply TEXT NOT NULL DEFAULT ''
);
""",
]
SCHEMA_VERSION = len(_MIGRATIONS)
# Migrations that rebuild a table others refer to: SQLite's way (its "making other kinds of
# table schema changes") runs them with foreign keys off, then checks every reference.
_REBUILDS = {6}
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

    def __init__(
        self, connection: sqlite3.Connection, path: Path | None, busy_timeout: float = 0.0
    ) -> None:
        self.db = connection
        self.path = path
        self.busy_timeout = busy_timeout
        self.held: str | None = None  # the key of _OPEN this state counts under

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def open(
        cls, state_dir: Path, create: bool = True, busy_timeout: float | None = None
    ) -> State:
        """Open (and with ``create``, make) ``state_dir/state.db``.

        Without ``create`` a missing database opens as an empty one in memory, so read-only
        commands never leave files behind. ``busy_timeout``: seconds to wait for another
        process's write (default: FEEDPUB_BUSY_TIMEOUT, else BUSY_TIMEOUT); then StateBusy.
        A database that exists but is empty, cut short or damaged is a StateError, never
        taken for a new site's.
        """
        timeout = busy_timeout_from(os.environ) if busy_timeout is None else busy_timeout
        path = state_dir / STATE_NAME
        if state_dir.exists() and not state_dir.is_dir():
            raise StateError(describe(OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR)), path))
        if not path.exists() and not path.is_symlink():
            wal = Path(f"{path}-wal")
            if wal.exists() and wal.stat().st_size:
                raise StateError(
                    f"{path} is missing but its write-ahead log {wal.name} is there: the "
                    f"database was moved or deleted while in use; put it back (or restore it "
                    f"from a backup) beside {wal.name}"
                )
            if not create:
                return cls._connect(":memory:", None, timeout)
            _create(state_dir, path)
        key = _held(path)
        try:
            return cls._connect(str(path), path, timeout, key)
        except BaseException:
            _release(key)
            raise

    @classmethod
    def _connect(
        cls, target: str, path: Path | None, timeout: float, held: str | None = None
    ) -> State:
        shown = path or Path("state")
        try:
            db = sqlite3.connect(target, timeout=timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise explain(exc, shown, timeout) from None
        try:
            db.execute("PRAGMA foreign_keys = ON")
            if path is not None:
                # Readers (the unsubscribe endpoint, status) never wait for a sending run, and
                # each delivery's commit stays cheap; a killed process loses nothing committed.
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = NORMAL")
                # Deleted and overwritten rows leave no copy in their pages' free space: an
                # address changed or forgotten is not still in the file. FAST (no extra I/O)
                # where the build of SQLite does not zero them already.
                if not db.execute("PRAGMA secure_delete").fetchone()[0]:
                    db.execute("PRAGMA secure_delete = FAST")
            _migrate(db, shown, timeout)
        except BaseException as exc:
            db.close()
            if isinstance(exc, sqlite3.Error) and translatable(exc):
                raise explain(exc, shown, timeout) from None
            raise
        state = cls(db, path, timeout)
        state.held = held
        return state

    def close(self) -> None:
        self.db.close()
        held, self.held = self.held, None
        _release(held)

    def __enter__(self) -> State:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        self.close()
        # Whatever read or wrote the state inside the block: a locked, full or damaged
        # database is said as such, with the file and what to do.
        if isinstance(exc, sqlite3.Error) and translatable(exc):
            raise self.explain(exc) from None

    def explain(self, exc: sqlite3.Error) -> StateError:
        """``exc``, met using this state, as a StateError that says what to do."""
        return explain(exc, self.path or Path("state"), self.busy_timeout)

    def scrub(self) -> bool:
        """Write the write-ahead log into the database and empty it, so that the old copies of
        pages it holds (a forgotten person's row as it was) are gone; call outside a
        transaction. False if a reader kept part of the log (the next writer's checkpoint
        overwrites it)."""
        if self.path is None:
            return True
        busy, _, _ = self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return not busy

    @contextmanager
    def transaction(self) -> Iterator[None]:
        writer = _writer(self.held)
        # Threads of one process (a web server's, its mail sender) take turns here, each
        # woken as the one before commits: left to SQLite, a writer that finds the file
        # locked sleeps in steps of up to 100 ms and tries again, which under a stream of
        # sign-ups made some wait a second behind writes of a few milliseconds. Waiting
        # longer than busy_timeout goes on to SQLite, which says the state is busy.
        queued = writer.acquire(timeout=self.busy_timeout) if writer else False
        try:
            with _transaction(self.db, self.path or Path("state"), self.busy_timeout):
                yield
        finally:
            if queued and writer:
                writer.release()

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
        """Record published articles that are new or changed, and ``now`` as the last build's
        moment; call inside a transaction.

        ``last_seen`` is when the row last changed: a build that changed nothing of an article
        writes nothing for it. ``known_before`` spares reading the rows again when the caller
        read them under the same lock."""
        self.set_meta(LAST_BUILD_KEY, now)
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

    @property
    def subscribers(self) -> SubscriberRows:
        return SubscriberRows(self.db)

    @property
    def deliveries(self) -> Deliveries:
        return Deliveries(self.db, self.transaction)

    @property
    def events(self) -> Events:
        return Events(self.db, self.transaction)

    @property
    def limits(self) -> Limits:
        return Limits(self.db, self.transaction)

    @property
    def outgoing(self) -> Outgoing:
        return Outgoing(self.db, self.transaction)

    @property
    def variants(self) -> Variants:
        return Variants(self.db)

    @property
    def pings(self) -> Pings:
        return Pings(self.db)

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def clock_behind(self, now: datetime) -> str | None:
        """A warning when ``now`` is earlier than the last build's moment, else None."""
        last = self.meta(LAST_BUILD_KEY)
        try:
            then = datetime.fromisoformat(last) if last else None
            if then is None or now >= then:
                return None
        except (ValueError, TypeError):  # unreadable, or without a zone: nothing to compare
            return None
        shown = then.astimezone(now.tzinfo).isoformat(timespec="minutes")
        return (
            f"the clock says {now.isoformat(timespec='minutes')}, before the last build's "
            f"{shown}: is the system clock (or --now) right? Articles published then stay "
            "published; the others wait for their time"
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


@contextmanager
def _transaction(db: sqlite3.Connection, path: Path, timeout: float) -> Iterator[None]:
    """All or nothing. A write another process holds is waited for (``timeout``, SQLite's
    busy handler); a failure of SQLite itself comes out as a StateError naming ``path``."""
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        if translatable(exc):
            raise explain(exc, path, timeout) from None
        raise
    try:
        yield
        db.execute("COMMIT")
    except BaseException as exc:
        # SQLite rolls a transaction back by itself on some errors (a full disk, an I/O
        # error): a second ROLLBACK would fail, "no transaction is active", and hide why.
        if db.in_transaction:
            with suppress(sqlite3.Error):
                db.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error) and translatable(exc):
            raise explain(exc, path, timeout) from None
        raise


def _migrate(db: sqlite3.Connection, path: Path, timeout: float) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version < SCHEMA_VERSION:
        # Outside a transaction only: SQLite ignores the pragma inside one.
        rebuilding = any(v > version for v in _REBUILDS)
        keys_on = db.execute("PRAGMA foreign_keys").fetchone()[0]
        if rebuilding:
            db.execute("PRAGMA foreign_keys = OFF")
        try:
            with _transaction(db, path, timeout):
                # Read again under the write lock: another process may have just upgraded.
                version = db.execute("PRAGMA user_version").fetchone()[0]
                for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
                    for statement in script.split(";"):
                        if statement.strip():
                            db.execute(statement)
                    _AFTER.get(number, _nothing)(db)
                broken = db.execute("PRAGMA foreign_key_check").fetchone()
                if broken is not None:
                    raise StateError(
                        f"{path}: upgrading the schema found table {broken[0]} row {broken[1]} "
                        f"referring to a {broken[2]} row that is not there; nothing was "
                        f"changed. {_DAMAGED_ADVICE.format(path=path)}"
                    )
                db.execute(f"PRAGMA user_version = {max(version, SCHEMA_VERSION)}")
        finally:
            if rebuilding and keys_on:
                db.execute("PRAGMA foreign_keys = ON")
    if version > SCHEMA_VERSION:
        raise StateError(
            f"{path}: written by a newer feedpub (schema {version}, this one knows "
            f"{SCHEMA_VERSION}); upgrade feedpub"
        )


def _token_keys(db: sqlite3.Connection) -> None:
    """Version 6: each subscriber a random key of its own, which their new links carry."""
    rows = db.execute("SELECT id FROM subscribers WHERE token_key LIKE 'unset:%'")
    ids = [row[0] for row in rows]
    db.executemany(
        "UPDATE subscribers SET token_key = ? WHERE id = ?", [(new_token_key(), i) for i in ids]
    )


def _nothing(db: sqlite3.Connection) -> None:
    pass


# What a migration needs done in Python after its SQL, by the version it makes.
_AFTER: dict[int, Callable[[sqlite3.Connection], None]] = {6: _token_keys}


def busy_timeout_from(env: Mapping[str, str]) -> float:
    """Seconds to wait for the state's write lock: FEEDPUB_BUSY_TIMEOUT, else BUSY_TIMEOUT."""
    raw = env.get(BUSY_TIMEOUT_ENV, "").strip()
    if not raw:
        return BUSY_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:
        raise StateError(
            f"{BUSY_TIMEOUT_ENV}={raw!r} is not a number of seconds from 0 to 3600; "
            f"unset it for the default ({BUSY_TIMEOUT:g} s)"
        )
    return value


def _create(state_dir: Path, path: Path) -> None:
    """Make a new state database whole, beside the final name, and link it into place: a
    crash or a full disk never leaves an empty or half-made ``state.db``, so an empty one
    is always damage, never a new site."""
    try:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # The state will hold subscribers' addresses: readable by its owner only (mkstemp).
        fd, name = tempfile.mkstemp(prefix=f".{STATE_NAME}.", suffix=".new", dir=state_dir)
        os.close(fd)
    except OSError as exc:
        raise StateError(
            f"cannot create the state database: {describe(exc, Path(exc.filename or path))}"
        ) from None
    temp = Path(name)
    try:
        db = sqlite3.connect(temp, isolation_level=None)
        try:
            _migrate(db, path, 0)
            db.execute("PRAGMA journal_mode = WAL")
        finally:
            db.close()
        os.link(temp, path)
    except FileExistsError:
        pass  # another process made it first: use theirs
    except sqlite3.Error as exc:
        raise explain(exc, path, 0) from None
    except OSError as exc:
        raise StateError(f"cannot create the state database: {describe(exc, path)}") from None
    finally:
        for leftover in (temp, *(Path(f"{temp}{end}") for end in ("-journal", "-wal", "-shm"))):
            with suppress(OSError):
                leftover.unlink()


def create_file(path: Path, data: bytes) -> bytes:
    """Make the state folder's file ``path`` holding ``data``, whole or not at all (mode
    0600), unless another process made it first: then what it holds. OSError if it cannot
    be written (nothing is left behind then)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Written whole into a file of its own, then linked into place: a process reading the
    # file (or making it) at the same moment never finds it empty, nor does a full disk.
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(name, path)
        except FileExistsError:  # another process made it first: use theirs
            return path.read_bytes()
    finally:
        os.unlink(name)
    return data


_HEADER = b"SQLite format 3\x00"


# The state databases this process has open, by real path, and how many times. POSIX locks
# belong to a process and a file, not to a descriptor: closing any descriptor of state.db drops
# every lock this process's connections hold on it (SQLite's "POSIX advisory locks canceled by
# a separate thread doing close()"). A web server's thread reading the file's header while
# another thread's connection is open would make that connection look gone to other
# processes: the last one to close would checkpoint and delete the write-ahead log under it.
# So the header is read only by the first opening in a process.
_OPEN: Counter[str] = Counter()
_OPEN_LOCK = threading.Lock()


# One lock per state file for the writes of this process's threads (State.transaction).
# Re-entrant: a thread that opens the state again inside its own transaction meets SQLite's
# lock, as it would without this one, instead of waiting for itself.
_WRITERS: dict[str, threading.RLock] = {}


def _writer(key: str | None) -> threading.RLock | None:
    if key is None:
        return None
    with _OPEN_LOCK:
        return _WRITERS.setdefault(key, threading.RLock())


def _held(path: Path) -> str:
    """Count an opening of ``path``, checking its header first if nothing here has it open
    (StateError if it is damaged); the key to give ``_release``."""
    key = os.path.realpath(path)
    with _OPEN_LOCK:
        if not _OPEN[key]:
            _check_file(path)
        _OPEN[key] += 1
    return key


def _release(key: str | None) -> None:
    if key is None:
        return
    with _OPEN_LOCK:
        _OPEN[key] -= 1
        if _OPEN[key] <= 0:
            del _OPEN[key]


def _check_file(path: Path) -> None:
    """Refuse a database file that is a folder, empty, or shorter than its header says."""
    if path.is_dir():
        raise StateError(describe(OSError(errno.EISDIR, os.strerror(errno.EISDIR)), path))
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            header = handle.read(100)
    except OSError as exc:
        raise StateError(f"cannot read the state database: {describe(exc, path)}") from None
    if size == 0:
        raise StateError(
            f"{path} is empty (0 bytes): the state database lost its content (a copy or a "
            "restore cut short?); feedpub never leaves it empty, so this is not a new site. "
            "Restore it from a backup"
        )
    if len(header) < 100 or not header.startswith(_HEADER):
        return  # SQLite says what it is not
    page_size = struct.unpack(">H", header[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    pages, counter, valid_for = (struct.unpack(">I", header[n : n + 4])[0] for n in (28, 24, 92))
    wal = Path(f"{path}-wal")
    # The header's page count holds when its change counter matches; a write-ahead log with
    # frames in it may still hold pages the file does not have yet.
    if pages and counter == valid_for and size < pages * page_size:
        with suppress(OSError):
            if wal.exists() and wal.stat().st_size:
                return
        raise StateError(
            f"{path} is cut short: {size} bytes where its header counts {pages} pages of "
            f"{page_size} ({pages * page_size} bytes). {_DAMAGED_ADVICE.format(path=path)}"
        )


_DAMAGED_ADVICE = (
    "Nothing was changed. Check it with: sqlite3 '{path}' 'PRAGMA integrity_check'; if that "
    "reports errors, restore the file from a backup (sqlite3 '{path}' .recover can salvage "
    "what is left)"
)

# SQLite's primary result codes (the low byte of sqlite_errorcode) that are about the file,
# the disk or another process rather than a bug in feedpub.
_BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _PERM = 5, 6, 8, 10, 11, 13, 14, 3
_NOTADB, _AUTH, _NOLFS, _PROTOCOL = 26, 23, 22, 15
_SHORT_READ = _IOERR | (2 << 8)
_TRANSLATED = {_BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _PERM, _NOTADB}
_TRANSLATED |= {_AUTH, _NOLFS, _PROTOCOL}


def translatable(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` is about the database file, the disk or another process."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _TRANSLATED


def explain(exc: sqlite3.Error, path: Path, timeout: float) -> StateError:
    """A StateError for ``exc``, met using the database ``path``: what is wrong, what to do."""
    code = getattr(exc, "sqlite_errorcode", 0) or 0
    primary = code & 0xFF
    if primary in (_BUSY, _LOCKED):
        return StateBusy(
            f"{path} is busy: another process (a backup, a maintenance tool, another feedpub) "
            f"has held a write on it for over {timeout:g} s; nothing was changed, try again "
            f"when it has finished ({BUSY_TIMEOUT_ENV} sets how many seconds feedpub waits)"
        )
    if primary == _FULL or (primary == _IOERR and disk_full(path.parent)):
        return StateError(
            f"{path}: the disk is full: the change was not saved, the state is as it was "
            f"before it; free some space on the file system of {path.parent} and try again"
        )
    if primary in (_CORRUPT, _NOTADB):
        return StateError(f"{path} is damaged ({exc}). {_DAMAGED_ADVICE.format(path=path)}")
    if code == _SHORT_READ and Path(f"{path}-shm").exists():
        return StateError(
            f"{path}: its write-ahead log {path.name}-wal is missing or cut short while "
            f"another process has the database open (deleted or moved by a clean-up or a "
            f"backup?); the latest changes are held by that process: let it finish, or stop "
            f"it gently (not kill -9), so that it writes them back, then try again. Nothing "
            f"was changed"
        )
    if primary in (_READONLY, _CANTOPEN, _PERM, _AUTH):
        reason = unwritable(path) if path.name == STATE_NAME else None
        if reason is not None:
            return StateError(
                f"cannot use the state database: {reason}; the database itself is not "
                "damaged (nothing was changed)"
            )
    return StateError(
        f"{path}: {exc} ({getattr(exc, 'sqlite_errorname', 'SQLite')}); check the file, its "
        f"folder and the disk (dmesg). {_DAMAGED_ADVICE.format(path=path)}"
    )
