"""Newsletter issues as the state keeps them: each issue whole (subject, HTML, text) and the
articles it carried, each article in at most one issue (a UNIQUE constraint)."""

from __future__ import annotations

import json
import sqlite3
from contextlib import suppress
from dataclasses import dataclass

from feedpub.errors import IssueError, NoSuchIssue, StateError

# What ``review`` holds: none asked (review was off when the issue was made), a copy went (or
# is due to go) to the reviewers and readers get nothing yet, or the editor said yes.
REVIEW_STATES = ("", "waiting", "approved")

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
    # Since schema 8. The moment (ISO, with its offset) before which no run starts the issue;
    # None: as soon as it is made (and approved, with review on).
    send_at: str | None = None
    review: str = ""
    reviewed: str | None = None  # when the (latest) review copy went to the reviewers
    approved: str | None = None


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
            "SELECT number, id, created, status, subject, note, html, text, sent, send_at,"
            " review, reviewed, approved FROM issues WHERE number = ?",
            (number,),
        ).fetchone()
        if row is None:
            return None
        number, id_, created, status, subject, note, html, text, sent = row[:9]
        send_at, review, reviewed, approved = row[9:]
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
            send_at=send_at,
            review=review,
            reviewed=reviewed,
            approved=approved,
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
                "INSERT INTO issues (number, id, created, status, subject, note, html, text, sent,"
                " send_at, review, reviewed, approved)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    issue.send_at,
                    issue.review,
                    issue.reviewed,
                    issue.approved,
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

    def set_review(self, number: int, review: str, stamp: str | None) -> None:
        """Put issue ``number`` in review state ``review`` ('' none, 'waiting', 'approved').

        ``stamp`` is the moment it happened: for 'waiting' when the review copy went (None:
        none went yet, one is due), for 'approved' when it was approved. NoSuchIssue if there
        is no such issue.
        """
        if review not in REVIEW_STATES:
            raise IssueError(f"{review!r} is not a review state (one of: waiting, approved)")
        if review == "approved":
            query = "UPDATE issues SET review = ?, approved = ? WHERE number = ?"
        else:
            # Waiting again (after an edit) takes back an earlier approval.
            query = "UPDATE issues SET review = ?, reviewed = ?, approved = NULL WHERE number = ?"
        if self.db.execute(query, (review, stamp, number)).rowcount == 0:
            raise NoSuchIssue(number)

    def set_send_at(self, number: int, send_at: str | None) -> None:
        """Hold issue ``number`` until ``send_at`` (ISO with its offset), or not (None)."""
        if (
            self.db.execute(
                "UPDATE issues SET send_at = ? WHERE number = ?", (send_at, number)
            ).rowcount
            == 0
        ):
            raise NoSuchIssue(number)

    def edit(self, number: int, subject: str, note: str, html: str, text: str) -> None:
        """Replace issue ``number``'s subject, note and rendering, and forget the renderings
        kept for its topic sets; refused (IssueError) once anything was sent for it: a reader's
        copy and the issue as the state keeps it stay the same."""
        self.db.execute("SAVEPOINT edit_issue")
        try:
            row = self.db.execute(
                "SELECT status, (SELECT count(*) FROM deliveries WHERE issue = number)"
                " FROM issues WHERE number = ?",
                (number,),
            ).fetchone()
            if row is None:
                raise NoSuchIssue(number)
            if row[0] != "ready" or row[1]:
                raise IssueError(
                    f"issue {number} cannot be changed: it was sent, or its sending has "
                    "started; compose a new issue instead"
                )
            self.db.execute(
                "UPDATE issues SET subject = ?, note = ?, html = ?, text = ? WHERE number = ?",
                (subject, note, html, text, number),
            )
            self.db.execute("DELETE FROM issue_variants WHERE issue = ?", (number,))
        except BaseException:
            if self.db.in_transaction:
                with suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK TO edit_issue")
                    self.db.execute("RELEASE edit_issue")
            raise
        self.db.execute("RELEASE edit_issue")
