"""Rate limits kept in the state, so that they hold across server processes: one row per hit
(``limits``: a bucket, such as "ip:<keyed hash of the client address>", and a moment), counted
over a sliding window; rows older than their window are deleted as the bucket is hit."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta


def _moment(when: datetime) -> str:
    # One zone and one width, so that the text compares as the moment does (the index's order).
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Limits:
    """The limits table of an open state; ``transaction`` is the state's (without it, the
    caller's transaction holds the count and the hit together)."""

    def __init__(
        self,
        db: sqlite3.Connection,
        transaction: Callable[[], AbstractContextManager[None]] | None = None,
    ) -> None:
        self.db = db
        self.transaction = transaction

    def hit(self, bucket: str, now: datetime, window: timedelta, most: int) -> bool:
        """True, and the hit recorded, if ``bucket`` had fewer than ``most`` hits in the
        ``window`` before ``now``; False (nothing recorded) otherwise."""
        # Counted and recorded under one write lock: two processes cannot both take the last.
        opened = (
            self.transaction()
            if self.transaction is not None and not self.db.in_transaction
            else nullcontext()
        )
        with opened:
            self.db.execute(
                "DELETE FROM limits WHERE bucket = ? AND at <= ?",
                (bucket, _moment(now - window)),
            )
            if self.count(bucket, now - window) >= most:
                return False
            self.db.execute(
                "INSERT INTO limits (bucket, at) VALUES (?, ?)", (bucket, _moment(now))
            )
        return True

    def count(self, bucket: str, since: datetime) -> int:
        """How many hits ``bucket`` has had after ``since``."""
        row = self.db.execute(
            "SELECT count(*) FROM limits WHERE bucket = ? AND at > ?", (bucket, _moment(since))
        ).fetchone()
        return int(row[0])

    def prune(self, before: datetime) -> int:
        """Delete every hit before ``before`` (buckets never hit again keep theirs until
        then); how many were deleted."""
        cursor = self.db.execute("DELETE FROM limits WHERE at < ?", (_moment(before),))
        return cursor.rowcount
