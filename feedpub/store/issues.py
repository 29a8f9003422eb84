"""Newsletter issues as the state keeps them: each issue whole (subject, HTML, text) and the
articles it carried, each article in at most one issue (a UNIQUE constraint)."""

from __future__ import annotations

import json
import sqlite3
from contextlib import suppress
from dataclasses import dataclass

from feedpub.errors import NoSuchIssue, StateError

# A stored issue's HTML carries this where each recipient's unsubscribe link goes: the digest
# writes it, delivery replaces it. A URL, so escaping leaves it whole.
UNSUBSCRIBE_PLACEHOLDER = "https://unsubscribe.feedpub.invalid/placeholder"


@dataclass(frozen=True)
class IssueItem:
    """An article as an issue carried it (a snapshot: the issue stays as it went out)."""

    article_id: str
    title: str
    link: str
    date: str
    authors: tuple[str, ...]
    summary: str
    # Since schema 6; an issue recorded before carries none (its items read as untagged).
    tags: tuple[str, ...] = ()
    image: str = ""


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
        "SELECT article_id, title, link, date, authors, summary, tags, image FROM issue_articles"
        " WHERE issue = ? ORDER BY position",
        (number,),
    )
    return tuple(
        IssueItem(
            r[0], r[1], r[2], r[3], tuple(json.loads(r[4])), r[5], tuple(json.loads(r[6])), r[7]
        )
        for r in rows
    )


class Issues:
    """The issues part of the state."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def carried_ids(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT article_id FROM issue_articles")}

    def all(self) -> list[IssueRecord]:
        numbers = [r[0] for r in self.db.execute("SELECT number FROM issues ORDER BY number")]
        return [issue for n in numbers if (issue := self.find(n)) is not None]

    def get(self, number: int) -> IssueRecord:
        """Issue ``number``; NoSuchIssue if the state has none of that number."""
        issue = self.find(number)
        if issue is None:
            raise NoSuchIssue(number)
        return issue

    def find(self, number: int) -> IssueRecord | None:
        """Issue ``number``, or None."""
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
        return self.find(row[0]) if row[0] is not None else None

    def last(self) -> IssueRecord | None:
        row = self.db.execute("SELECT max(number) FROM issues").fetchone()
        return self.find(row[0]) if row[0] is not None else None

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
                " authors, summary, tags, image) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                        json.dumps(list(item.tags), ensure_ascii=False),
                        item.image,
                    )
                    for position, item in enumerate(issue.items, start=1)
                ],
            )
        except BaseException as exc:
            # A full disk or an I/O error may have ended the transaction already: undoing
            # it again would hide the real error behind "no such savepoint".
            if self.db.in_transaction:
                with suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK TO add_issue")
                    self.db.execute("RELEASE add_issue")
            if isinstance(exc, sqlite3.IntegrityError):
                raise StateError(f"cannot record issue {issue.number}: {exc}") from None
            raise
        self.db.execute("RELEASE add_issue")

    def counts(self, number: int) -> dict[str, int]:
        """How many deliveries of issue ``number`` are in each status."""
        rows = self.db.execute(
            "SELECT status, count(*) FROM deliveries WHERE issue = ? GROUP BY status", (number,)
        )
        return {status: int(n) for status, n in rows}

    def mark_sent(self, number: int, when: str) -> None:
        self.db.execute(
            "UPDATE issues SET status = 'sent', sent = ? WHERE number = ?", (when, number)
        )

    def discard(self, number: int) -> None:
        self.db.execute("DELETE FROM issues WHERE number = ?", (number,))
