"""Schema 8 on a real version-7 state (tests/data/state/v7.db, made by make_v7.py with the
version that wrote schema 7): issue 1 sent to four subscribers, issue 2 composed and not sent.
The upgrade keeps every row; each issue reads as made without review and without a moment to
wait for, and the new columns refuse what they must."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import NEWSLETTER, TZ, MakeSite, assert_clean_exit, invoke

from feedpub.errors import IssueError, NoSuchIssue
from feedpub.newsletter.issues import sendable, state_of
from feedpub.store.state import SCHEMA_VERSION, State

V7 = Path(__file__).resolve().parent / "data" / "state"
LATER = datetime(2026, 12, 4, 12, 0, tzinfo=TZ)
NEW_COLUMNS = ("send_at", "review", "reviewed", "approved")


def raw(path: Path, query: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(query).fetchall()
    finally:
        db.close()


@pytest.fixture
def v7_site(make_site: MakeSite) -> Path:
    root = make_site(extra=NEWSLETTER)
    (root / ".feedpub").mkdir()
    for kept, name in [("v7.db", "state.db"), ("v7.secret", "secret"), ("v7.list-id", "list-id")]:
        shutil.copyfile(V7 / kept, root / ".feedpub" / name)
    return root


def test_the_fixture_is_a_version_7_state() -> None:
    assert raw(V7 / "v7.db", "PRAGMA user_version") == [(7,)]
    assert SCHEMA_VERSION >= 8  # the upgrade these tests follow is the one to version 8


def test_the_upgrade_from_version_7_keeps_every_row(v7_site: Path) -> None:
    path = v7_site / ".feedpub" / "state.db"
    tables = [
        r[0] for r in raw(path, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    ]
    before = {table: raw(path, f"SELECT * FROM {table} ORDER BY 1") for table in tables}
    assert len(before["issues"]) == 2 and len(before["deliveries"]) == 4
    with State.open(v7_site / ".feedpub") as state:
        assert state.db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert state.db.execute("PRAGMA foreign_key_check").fetchall() == []
        records = state.issues.all()
        counts = [state.issues.counts(r.number) for r in records]
    for table in tables:
        after = raw(path, f"SELECT * FROM {table} ORDER BY 1")
        width = len(before[table][0]) if before[table] else 0
        # The old columns hold what they held; issues gains its new ones at the end.
        assert [row[:width] for row in after] == before[table], table
    assert raw(path, "SELECT " + ", ".join(NEW_COLUMNS) + " FROM issues") == [
        (None, "", None, None),
        (None, "", None, None),
    ]
    assert [(r.send_at, r.review, r.reviewed, r.approved) for r in records] == [
        (None, "", None, None)
    ] * 2
    assert [str(state_of(r, c, LATER)) for r, c in zip(records, counts, strict=True)] == [
        "sent (4/4 sent)",
        "ready",
    ]
    assert [sendable(r, LATER) for r in records] == [False, True]


def test_commands_work_on_the_upgraded_state(v7_site: Path, runner: CliRunner) -> None:
    listed = invoke(runner, "--site", v7_site, "issue", "list")
    assert_clean_exit(listed, 0)
    assert "Test Weekly #2" in listed.stdout


@pytest.mark.parametrize(
    "column, value",
    [("review", "maybe"), ("review", None), ("review", "WAITING")],
    ids=["unknown-word", "null", "upper-case"],
)
def test_the_review_column_refuses_what_is_no_review_state(
    v7_site: Path, column: str, value: object
) -> None:
    with State.open(v7_site / ".feedpub") as state, pytest.raises(sqlite3.IntegrityError):
        state.db.execute(f"UPDATE issues SET {column} = ? WHERE number = 2", (value,))


def test_set_review_set_send_at_and_their_refusals(v7_site: Path) -> None:
    with State.open(v7_site / ".feedpub") as state:
        state.issues.set_review(2, "waiting", None)
        waiting = state.issues.get(2)
        assert (waiting.review, waiting.reviewed) == ("waiting", None)
        assert (
            str(state_of(waiting, {}, LATER)) == "in review (the review copy goes at the next run)"
        )
        assert not sendable(waiting, LATER)
        state.issues.set_review(2, "waiting", LATER.isoformat())
        assert str(state_of(state.issues.get(2), {}, LATER)) == (
            "in review (review copy sent 2026-12-04 12:00 CET)"
        )
        state.issues.set_review(2, "approved", LATER.isoformat())
        approved = state.issues.get(2)
        assert (approved.review, approved.approved) == ("approved", LATER.isoformat())
        assert str(state_of(approved, {}, LATER)) == "ready (approved 2026-12-04 12:00 CET)"
        assert sendable(approved, LATER)
        # An edit sends it back for review: the earlier approval no longer holds.
        state.issues.set_review(2, "waiting", None)
        assert state.issues.get(2).approved is None
        state.issues.set_review(2, "", None)

        state.issues.set_send_at(2, "2026-12-05T07:00:00+01:00")
        held = state.issues.get(2)
        assert str(state_of(held, {}, LATER)) == "scheduled (until 2026-12-05 07:00 CET)"
        assert not sendable(held, LATER)
        assert sendable(held, datetime.fromisoformat("2026-12-05T07:00:00+01:00"))
        state.issues.set_send_at(2, None)
        assert state.issues.get(2).send_at is None

        with pytest.raises(IssueError, match="not a review state"):
            state.issues.set_review(2, "maybe", None)
        with pytest.raises(NoSuchIssue):
            state.issues.set_review(9, "approved", LATER.isoformat())
        with pytest.raises(NoSuchIssue):
            state.issues.set_send_at(9, None)


def test_edit_changes_an_unsent_issue_and_refuses_a_sent_one(v7_site: Path) -> None:
    with State.open(v7_site / ".feedpub") as state:
        state.db.execute(
            "INSERT INTO issue_variants (issue, articles, subject, html, text)"
            " VALUES (2, '1', 's', 'h', 't')"
        )
        state.issues.edit(2, "New subject", "A note", "<p>new</p>", "new")
        edited = state.issues.get(2)
        assert (edited.subject, edited.note, edited.html, edited.text) == (
            "New subject",
            "A note",
            "<p>new</p>",
            "new",
        )
        # A rendering kept for a topic set was made from the old text: it goes too.
        assert state.variants.all(2) == []
        before = state.issues.get(1)
        with pytest.raises(IssueError, match="issue 1 cannot be changed"):
            state.issues.edit(1, "x", "", "x", "x")
        assert state.issues.get(1) == before
        with pytest.raises(NoSuchIssue):
            state.issues.edit(9, "x", "", "x", "x")


def test_edit_refuses_an_issue_whose_sending_started(v7_site: Path) -> None:
    with State.open(v7_site / ".feedpub") as state:
        state.db.execute(
            "INSERT INTO deliveries (issue, subscriber, status, attempts, last_reply, updated)"
            " VALUES (2, 1, 'pending', 0, '', 'x')"
        )
        assert str(state_of(state.issues.get(2), state.issues.counts(2), LATER)) == (
            "sending (0/1 sent)"
        )
        with pytest.raises(IssueError, match="its sending has started"):
            state.issues.edit(2, "x", "", "x", "x")
        assert state.issues.get(2).subject == "Test Weekly #2: Charlie"
