"""WebSub publish pings owed to the hub: one row per feed URL that changed and that the hub
has not yet taken (``websub_pings``). A build records them in its own transaction, so a ping
is not lost to a hub that is down, nor to a run killed between the build and the ping; a later
change of the same feed is the same row (a hub fetches the feed as it is then)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable


class Pings:
    """The websub_pings table of an open state."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def add(self, urls: Iterable[str], now: str) -> None:
        """Owe the hub a ping for each of ``urls``; call inside a transaction."""
        self.db.executemany(
            "INSERT INTO websub_pings (url, added) VALUES (?, ?) ON CONFLICT(url) DO NOTHING",
            [(url, now) for url in urls],
        )

    def pending(self) -> list[str]:
        """The feed URLs owed a ping, in the order they were first owed."""
        rows = self.db.execute("SELECT url FROM websub_pings ORDER BY rowid")
        return [str(row[0]) for row in rows]

    def done(self, url: str) -> None:
        """The hub took the ping for ``url``."""
        self.db.execute("DELETE FROM websub_pings WHERE url = ?", (url,))

    def failed(self, url: str, reply: str) -> int:
        """The hub did not take the ping for ``url`` (``reply``: why); how many tries it had."""
        self.db.execute(
            "UPDATE websub_pings SET attempts = attempts + 1, last_reply = ? WHERE url = ?",
            (reply, url),
        )
        row = self.db.execute("SELECT attempts FROM websub_pings WHERE url = ?", (url,)).fetchone()
        return 0 if row is None else int(row[0])

    def clear(self) -> int:
        """Forget every ping owed (the site has no hub any more); how many were."""
        return self.db.execute("DELETE FROM websub_pings").rowcount
