"""Schema version 6 on a real version-5 state: tests/data/state/v5.db, made by feedpub at
commit 2828d1b (tests/data/state/make_v5.py): five subscribers (one unsubscribed, one with an
internationalised domain), issue 1 sent to three of them. The upgrade keeps every row, id and
delivery, gives each subscriber a token key of its own, and every link already sent (tokens
made by that version's make_token) keeps working."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import NEWSLETTER, NOW, SETTINGS, MakeSite, assert_clean_exit, feedpub, invoke

from feedpub.delivery.subscribers import Subscribers
from feedpub.delivery.tokens import make_token, read
from feedpub.errors import StateError
from feedpub.store import state as state_module
from feedpub.store.state import SCHEMA_VERSION, State

V5 = Path(__file__).resolve().parent / "data" / "state"
# What v5.db holds, read with the version that wrote it.
V5_SUBSCRIBERS = [
    (1, "ann@example.org", "ann@example.org", "Ann Lee", "active"),
    (2, "Bob@example.org", "bob@example.org", "", "active"),
    (3, "carla@bücher.example", "carla@xn--bcher-kva.example", "Carla", "active"),
    (4, "dan@example.net", "dan@example.net", "Dan", "unsubscribed"),
    (5, "erin@example.com", "erin@example.com", "Erin", "active"),
]
V5_DELIVERIES = [(1, 1, "sent", 1, None, "250"), (1, 2, "sent", 1, None, "250")]
V5_DELIVERIES.append((1, 3, "sent", 1, None, "250"))


@pytest.fixture
def v5_site(make_site: MakeSite) -> Path:
    root = make_site(extra=NEWSLETTER)
    state_dir = root / ".feedpub"
    state_dir.mkdir()
    shutil.copyfile(V5 / "v5.db", state_dir / "state.db")
    shutil.copyfile(V5 / "v5.secret", state_dir / "secret")
    shutil.copyfile(V5 / "v5.list-id", state_dir / "list-id")
    return root


def raw(path: Path, query: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(query).fetchall()
    finally:
        db.close()


def test_the_fixture_is_a_version_5_state() -> None:
    assert raw(V5 / "v5.db", "PRAGMA user_version") == [(5,)]
    assert SCHEMA_VERSION >= 6


def test_upgrade_keeps_rows_ids_and_deliveries(v5_site: Path) -> None:
    path = v5_site / ".feedpub" / "state.db"
    issues_before = raw(path, "SELECT * FROM issues")
    articles_before = raw(path, "SELECT * FROM issue_articles ORDER BY position")
    with State.open(v5_site / ".feedpub") as state:
        assert state.db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        # Foreign keys are on again after the rebuild, and every reference holds.
        assert state.db.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert state.db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert (
        raw(path, "SELECT id, email, email_key, name, status FROM subscribers ORDER BY id")
        == V5_SUBSCRIBERS
    )
    assert (
        raw(
            path,
            "SELECT issue, subscriber, status, attempts, next_attempt, last_reply FROM deliveries"
            " ORDER BY subscriber",
        )
        == V5_DELIVERIES
    )
    assert raw(path, "SELECT DISTINCT articles FROM deliveries") == [("",)]
    # Later schemas add columns at the end of issues; the ones version 5 had hold what they held.
    assert [row[:9] for row in raw(path, "SELECT * FROM issues")] == issues_before
    after = raw(path, "SELECT * FROM issue_articles ORDER BY position")
    assert [row[:-2] for row in after] == articles_before
    assert {row[-2:] for row in after} == {("[]", "")}
    consent = raw(
        path,
        "SELECT source, joined, confirmed, ip, topics, paused_until, new_email FROM subscribers",
    )
    assert set(consent) == {("unknown", None, None, "", "[]", None, "")}
    keys = [str(k) for (k,) in raw(path, "SELECT token_key FROM subscribers")]
    assert len(set(keys)) == 5
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", k) for k in keys)
    assert raw(path, "SELECT count(*) FROM outgoing") == [(0,)]
    assert raw(path, "SELECT count(*) FROM suppressions") == [(0,)]


def test_the_rebuilt_table_refuses_what_version_6_forbids(v5_site: Path) -> None:
    with State.open(v5_site / ".feedpub") as state:
        with pytest.raises(sqlite3.IntegrityError):
            state.db.execute("UPDATE subscribers SET status = 'gone' WHERE id = 1")
        with pytest.raises(sqlite3.IntegrityError):  # a delivery for no subscriber
            state.db.execute(
                "INSERT INTO deliveries (issue, subscriber, status, attempts, last_reply,"
                " updated) VALUES (1, 99, 'pending', 0, '', 'x')"
            )
        # New rows carry on from the old ids.
        added, _ = Subscribers(state).add("fay@example.org", "Fay", NOW)
        assert added.id == 6
        assert added.source == "cli"
        assert added.joined == NOW.isoformat()


def test_links_sent_before_the_upgrade_keep_working(v5_site: Path, runner: CliRunner) -> None:
    secret = (V5 / "v5.secret").read_bytes().strip()
    list_id = (V5 / "v5.list-id").read_text().strip()
    # Made as version 5 made them (make_token is that version's function, kept as it was).
    old = make_token(secret, list_id, "carla@xn--bcher-kva.example")
    with State.open(v5_site / ".feedpub") as state:
        for purpose in ("u", "m"):
            reading = read(secret, list_id, old, purpose, NOW)
            assert reading.legacy and not reading.expired
            found = Subscribers(state).of_token(reading)
            assert found is not None and found.email == "carla@bücher.example"


def test_upgrade_that_fails_changes_nothing(
    v5_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = v5_site / ".feedpub" / "state.db"
    before = raw(path, "SELECT * FROM subscribers")

    def broken(db: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setitem(state_module._AFTER, 6, broken)
    with pytest.raises(sqlite3.OperationalError):
        State.open(v5_site / ".feedpub")
    assert raw(path, "PRAGMA user_version") == [(5,)]
    assert raw(path, "SELECT * FROM subscribers") == before


def test_a_dangling_reference_stops_the_upgrade(v5_site: Path) -> None:
    path = v5_site / ".feedpub" / "state.db"
    db = sqlite3.connect(path)
    db.execute(
        "INSERT INTO deliveries (issue, subscriber, status, attempts, last_reply, updated)"
        " VALUES (1, 42, 'sent', 1, '250', 'x')"
    )
    db.commit()
    db.close()
    with pytest.raises(StateError, match=r"table deliveries row .* subscribers row"):
        State.open(v5_site / ".feedpub")
    assert raw(path, "PRAGMA user_version") == [(5,)]


def test_commands_work_on_the_upgraded_state(v5_site: Path, runner: CliRunner) -> None:
    listed = invoke(runner, "--site", v5_site, "subscribers", "list")
    assert_clean_exit(listed, 0)
    assert "dan@example.net\tDan\tunsubscribed" in listed.stdout
    shown = invoke(runner, "--site", v5_site, "subscribers", "show", "ANN@example.org")
    assert_clean_exit(shown, 0)
    assert "Joined:       unknown (source: unknown)" in shown.stdout
    assert "Issues:       1 (1 sent)" in shown.stdout


def test_a_new_state_is_version_6(make_site: MakeSite) -> None:
    root = make_site(settings=SETTINGS)
    with State.open(root / ".feedpub") as state:
        assert state.db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert state.db.execute("PRAGMA foreign_keys").fetchone() == (1,)
        tables = {r[0] for r in state.db.execute("SELECT name FROM sqlite_master")}
    assert {"suppressions", "limits", "outgoing", "issue_variants"} <= tables


def test_two_processes_opening_a_version_5_state_at_once(v5_site: Path) -> None:
    # Each reads the version again under the write lock: one upgrades, the other finds it done.
    children = [feedpub(v5_site, "subscribers", "list") for _ in range(3)]
    results = [child.communicate(timeout=60) for child in children]
    for child, (out, err) in zip(children, results, strict=True):
        assert child.returncode == 0, err.decode()
        assert b"5 subscribers" in err + out
    path = v5_site / ".feedpub" / "state.db"
    assert raw(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert raw(path, "SELECT count(*) FROM subscribers") == [(5,)]
