"""A throwaway copy of the state database for a what-if (``run --dry-run``): made through
SQLite's backup API from a connection that only reads, so the site's own file is not written."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from feedpub.errors import StateError
from feedpub.store.state import STATE_NAME, explain


def copy_state(state_dir: Path, target_dir: Path) -> bool:
    """Copy ``state_dir``'s database, as one consistent moment of it, into ``target_dir``;
    False if the site has none yet (the what-if then starts from a new one)."""
    source = state_dir / STATE_NAME
    if not source.exists():
        return False
    if not source.is_file():
        raise StateError(f"{source} is not a file; move it away or restore the state from a backup")
    target_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Not mode=ro: a read-only connection to a WAL database leaves its -wal and -shm files
    # behind, where the last connection to close removes them; query_only keeps it reading.
    try:
        reading = sqlite3.connect(source)
    except sqlite3.Error as exc:
        raise explain(exc, source, 0) from None
    try:
        reading.execute("PRAGMA query_only = ON")
        copy = sqlite3.connect(target_dir / STATE_NAME)
        try:
            reading.backup(copy)
        finally:
            copy.close()
    except sqlite3.Error as exc:
        raise explain(exc, source, 0) from None
    finally:
        reading.close()
    return True
