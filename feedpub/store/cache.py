"""The build cache's SQL: the record of the last complete build, and the issues as the cache
sees them. (The content cache's own methods are the State's: content_cache, content_data...)

Imports only the state, a sibling in the store.
"""

from __future__ import annotations

from feedpub.store.state import State

# One row of ``meta`` holds the record (site/cache/snapshot.py says what is in it).
RECORD_KEY = "build_memo"
# Builds before the record was one kept what the last build saw in a second row; it goes.
_FORMER_KEYS = ("build_snapshot",)


def last_build(state: State) -> str | None:
    """The record of the last complete build, as the build kept it; None if there is none."""
    return state.meta(RECORD_KEY)


def keep_last_build(state: State, record: str | None) -> None:
    """Keep ``record`` as the record of the last complete build, or forget the one kept
    (``None``); call inside the transaction that records the build."""
    keys = [*_FORMER_KEYS] if record is not None else [*_FORMER_KEYS, RECORD_KEY]
    state.db.executemany("DELETE FROM meta WHERE key = ?", [(key,) for key in keys])
    if record is not None:
        state.set_meta(RECORD_KEY, record)


def issues_seen(state: State) -> list[tuple[object, ...]]:
    """Each issue as the build cache tells a change: its number, status and sizes (the site's
    pages about the issues change with them)."""
    query = "SELECT number, status, length(html), length(subject) FROM issues ORDER BY number"
    return [tuple(row) for row in state.db.execute(query)]
