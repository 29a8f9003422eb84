"""Issue variants: an issue rendered for one set of its articles (their positions, as
``deliveries.articles`` writes them: "1,3"), stored once and shared by every recipient whose
topics choose that set."""

from __future__ import annotations

import sqlite3


class Variants:
    """The issue_variants table of an open state."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def get(self, issue: int, articles: str) -> tuple[str, str, str] | None:
        """(subject, html, text) of issue ``issue`` for ``articles``, or None."""
        row = self.db.execute(
            "SELECT subject, html, text FROM issue_variants WHERE issue = ? AND articles = ?",
            (issue, articles),
        ).fetchone()
        return None if row is None else (str(row[0]), str(row[1]), str(row[2]))

    def add(self, issue: int, articles: str, subject: str, html: str, text: str) -> None:
        """Store a rendering; one stored already for the same set is kept (the first stays,
        so every recipient of the set gets the same bytes, a resumed send too)."""
        self.db.execute(
            "INSERT INTO issue_variants (issue, articles, subject, html, text)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(issue, articles) DO NOTHING",
            (issue, articles, subject, html, text),
        )

    def all(self, issue: int) -> list[str]:
        """The sets of positions issue ``issue`` has a rendering for."""
        rows = self.db.execute(
            "SELECT articles FROM issue_variants WHERE issue = ? ORDER BY articles", (issue,)
        )
        return [str(r[0]) for r in rows]
