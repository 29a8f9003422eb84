"""The tables of version 6 through their store classes, on real state files: subscribers'
consent and preferences, forgetting, the suppression list, rate limits (across two
connections, as two server processes have), the outgoing mail queue and issue variants."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import NOW

from feedpub.delivery.subscribers import Subscribers
from feedpub.errors import SubscriberError
from feedpub.store.issues import IssueItem, IssueRecord
from feedpub.store.outgoing import LEASE
from feedpub.store.state import State

SECRET = b"s" * 32


@pytest.fixture
def state(tmp_path: Path) -> Iterator[State]:
    opened = State.open(tmp_path / ".feedpub")
    yield opened
    opened.close()


def issue(number: int = 1, items: int = 3) -> IssueRecord:
    return IssueRecord(
        number,
        f"urn:uuid:{number}",
        NOW.isoformat(),
        "ready",
        f"Issue {number}",
        "",
        "<p>html</p>",
        "text",
        None,
        tuple(
            IssueItem(
                f"id-{number}-{n}",
                f"Title {n}",
                f"https://e.org/{n}",
                NOW.isoformat(),
                ("Ann",),
                "s",
                tags=(f"tag{n}", "Common"),
                image=f"https://e.org/{n}.png" if n == 1 else "",
            )
            for n in range(1, items + 1)
        ),
    )


def test_consent_and_preferences_are_kept(state: State) -> None:
    rows = state.subscribers
    with state.transaction():
        made = rows.insert(
            "Ann@Example.org",
            "ann@example.org",
            "Ann",
            "pending",
            NOW.isoformat(),
            source="form",
            joined=NOW.isoformat(),
            ip="192.0.2.7",
            topics=("Sports",),
        )
    assert rows.find_token(made.token_key) == made
    assert rows.find("ann@example.org") == made
    later = (NOW + timedelta(hours=1)).isoformat()
    rows.confirm(made.id, later)
    rows.confirm(made.id, (NOW + timedelta(hours=2)).isoformat())  # twice: no change
    rows.set_topics(made.id, ("Sports", "Arts"), later)
    rows.set_pause(made.id, "2027-01-01T00:00:00+00:00", later)
    rows.set_new_email(made.id, "ann@new.example", later)
    got = rows.find_id(made.id)
    assert got is not None
    assert (got.status, got.confirmed, got.topics) == ("active", later, ("Sports", "Arts"))
    assert (got.paused_until, got.new_email, got.ip, got.source) == (
        "2027-01-01T00:00:00+00:00",
        "ann@new.example",
        "192.0.2.7",
        "form",
    )
    rows.change_email(made.id, "ann@new.example", "ann@new.example", later)
    moved = rows.find("ann@new.example")
    assert moved is not None and moved.new_email == "" and moved.token_key == made.token_key
    assert rows.find("ann@example.org") is None


def test_issue_items_keep_their_tags_and_image(state: State) -> None:
    with state.transaction():
        state.issues.add(issue())
    items = state.issues.get(1).items
    assert [i.tags for i in items] == [("tag1", "Common"), ("tag2", "Common"), ("tag3", "Common")]
    assert [i.image for i in items] == ["https://e.org/1.png", "", ""]


def delivered(state: State, subscriber: int, status: str, articles: str) -> None:
    state.db.execute(
        "INSERT INTO deliveries (issue, subscriber, status, attempts, last_reply, updated,"
        " articles) VALUES (1, ?, ?, 1, '250 ok: queued as 7f3a for ann@example.org', ?, ?)",
        (subscriber, status, NOW.isoformat(), articles),
    )


def test_forget_leaves_a_tombstone_and_a_suppression(state: State) -> None:
    people = Subscribers(state, SECRET)
    with state.transaction():
        state.issues.add(issue())
        ann, _ = people.add("ann@example.org", "Ann", NOW, source="form")
        bob, _ = people.add("bob@example.org", "Bob", NOW)
        delivered(state, ann.id, "sent", "1,3")
        delivered(state, bob.id, "sent", "")
        state.outgoing.add("welcome", ann.id, NOW.isoformat())
        held = people.data(people.get("ann@example.org"))
        people.forget("ANN@example.org", NOW)
    assert held["issues"] == [
        {
            "issue": 1,
            "subject": "Issue 1",
            "status": "sent",
            "updated": NOW.isoformat(),
            "articles": ["Title 1", "Title 3"],
        }
    ]
    assert people.data(bob)["issues"][0]["articles"] == ["Title 1", "Title 2", "Title 3"]
    row = state.db.execute(
        "SELECT email, email_key, name, status, ip, topics, new_email FROM subscribers"
        " WHERE id = ?",
        (ann.id,),
    ).fetchone()
    assert row == ("", f"forgotten:{ann.id}", "", "forgotten", "", "[]", "")
    assert state.db.execute(
        "SELECT status, attempts, last_reply FROM deliveries WHERE subscriber = ?", (ann.id,)
    ).fetchall() == [("sent", 1, "")]
    assert state.issues.counts(1) == {"sent": 2}  # the past issue's counts stay exact
    assert state.outgoing.count(ann.id, "welcome") == 0
    with pytest.raises(SubscriberError, match="is not a subscriber"):
        people.get("ann@example.org")
    with pytest.raises(SubscriberError, match="is not a subscriber"):
        people.forget("ann@example.org", NOW)
    assert [s.email for s in people.iter()] == ["bob@example.org"]
    assert people.count() == 1
    assert people.suppressed("Ann@Example.org")
    assert not people.suppressed("bob@example.org")


def test_a_suppressed_address_is_not_added_again_but_may_sign_up(state: State) -> None:
    people = Subscribers(state, SECRET)
    with state.transaction():
        people.add("ann@example.org", "Ann", NOW)
        people.forget("ann@example.org", NOW)
    for source in ("import", "cli"):
        with pytest.raises(SubscriberError, match="asked to be forgotten") as caught:
            people.add("ann@example.org", "", NOW, reactivate=False, source=source)
        assert "ann@example.org" in str(caught.value)  # the editor's own file, not a page
    again, added = people.add(
        "ann@example.org", "", NOW, status="pending", source="form", allow_suppressed=True
    )
    assert added and again.status == "pending"
    state.subscribers.unsuppress(people.suppression_hash("ann@example.org"))
    assert not people.suppressed("ann@example.org")


def test_the_suppression_hash_is_keyed_with_the_site_secret(state: State) -> None:
    one = Subscribers(state, SECRET).suppression_hash("ann@example.org")
    other = Subscribers(state, b"another").suppression_hash("ann@example.org")
    assert one != other and len(one) == 64 and "ann" not in one


def test_a_site_that_never_forgot_anyone_needs_no_secret_to_add(tmp_path: Path) -> None:
    with State.open(tmp_path / ".feedpub") as opened:
        Subscribers(opened).add("ann@example.org", "", NOW)
    assert not (tmp_path / ".feedpub" / "secret").exists()


@pytest.mark.parametrize(
    ("status", "source", "message"),
    [
        ("forgotten", "cli", "status 'forgotten' is not one of"),
        ("gone", "cli", "status 'gone' is not one of"),
        ("active", "web", "source 'web' is not one of"),
    ],
)
def test_add_refuses_unknown_statuses_and_sources(
    state: State, status: str, source: str, message: str
) -> None:
    with pytest.raises(SubscriberError, match=message):
        Subscribers(state, SECRET).add("ann@example.org", "", NOW, status=status, source=source)


def test_add_records_the_import_s_own_consent_time(state: State) -> None:
    joined = "2019-03-04T05:06:07+00:00"
    made, _ = Subscribers(state, SECRET).add(
        "ann@example.org", "", NOW, source="import", joined=joined
    )
    assert (made.source, made.joined, made.confirmed) == ("import", joined, None)


def test_limits_hold_across_connections(tmp_path: Path) -> None:
    first = State.open(tmp_path / ".feedpub")
    second = State.open(tmp_path / ".feedpub")
    try:
        hour = timedelta(hours=1)
        results = [
            (first if n % 2 else second).limits.hit("ip:x", NOW + timedelta(minutes=n), hour, 3)
            for n in range(5)
        ]
        assert results == [True, True, True, False, False]
        assert first.limits.hit("ip:y", NOW, hour, 3)  # another bucket
        assert second.limits.count("ip:x", NOW - hour) == 3
        # An hour after the first hit, it has left the window; its row is deleted.
        assert first.limits.hit("ip:x", NOW + hour, hour, 3)
        assert first.db.execute("SELECT count(*) FROM limits WHERE bucket = 'ip:x'").fetchone() == (
            3,
        )
        assert first.limits.prune(NOW + 3 * hour) == 4
    finally:
        first.close()
        second.close()


def test_a_limit_hit_inside_a_transaction_is_part_of_it(state: State) -> None:
    with pytest.raises(RuntimeError), state.transaction():
        assert state.limits.hit("ip:x", NOW, timedelta(hours=1), 1)
        raise RuntimeError
    assert state.limits.count("ip:x", NOW - timedelta(hours=1)) == 0


def test_the_outgoing_queue(state: State) -> None:
    with state.transaction():
        ann = state.subscribers.insert("a@e.org", "a@e.org", "", "pending", NOW.isoformat())
        first = state.outgoing.add("confirm", ann.id, NOW.isoformat())
        second = state.outgoing.add("address", ann.id, NOW.isoformat(), target="b@e.org")
    with pytest.raises(ValueError):
        state.outgoing.add("spam", ann.id, NOW.isoformat())
    stamp = NOW.isoformat()
    claimed = state.outgoing.claim(stamp)
    assert claimed is not None
    assert (claimed.id, claimed.kind, claimed.status, claimed.attempts) == (
        first,
        "confirm",
        "sending",
        1,
    )
    again = state.outgoing.claim(stamp)
    assert again is not None and (again.id, again.target) == (second, "b@e.org")
    assert state.outgoing.claim(stamp) is None  # both taken
    state.outgoing.done(first, stamp)
    later = (NOW + timedelta(minutes=5)).isoformat()
    state.outgoing.later(second, "451 try later", later, stamp)
    assert state.outgoing.claim((NOW + timedelta(minutes=4)).isoformat()) is None
    retried = state.outgoing.claim(later)
    assert retried is not None and (retried.id, retried.attempts) == (second, 2)
    state.outgoing.failed(second, "550 no such user", later)
    assert state.outgoing.claim((NOW + timedelta(days=9)).isoformat()) is None
    assert state.outgoing.count(ann.id, "confirm") == 1
    assert state.outgoing.count(ann.id, "confirm", status="sent") == 1
    assert state.outgoing.count(ann.id, "address", status="failed") == 1
    assert state.outgoing.count(ann.id, "confirm", since=NOW.isoformat()) == 0
    earlier = (NOW - timedelta(seconds=1)).isoformat()
    assert state.outgoing.count(ann.id, "confirm", since=earlier) == 1


def test_a_message_a_killed_sender_left_is_due_again_after_its_lease(tmp_path: Path) -> None:
    path = tmp_path / ".feedpub"
    with State.open(path) as opened:
        ann = opened.subscribers.insert("a@e.org", "a@e.org", "", "pending", NOW.isoformat())
        opened.outgoing.add("confirm", ann.id, NOW.isoformat())
        assert opened.outgoing.claim(NOW.isoformat()) is not None
    # The process is gone; the row stays 'sending' until the lease runs out.
    with State.open(path) as opened:
        before = NOW + LEASE - timedelta(seconds=1)
        assert opened.outgoing.claim(before.isoformat()) is None
        taken = opened.outgoing.claim((NOW + LEASE).isoformat())
        assert taken is not None and taken.attempts == 2


def test_forgetting_or_deleting_a_subscriber_drops_their_mail(state: State) -> None:
    with state.transaction():
        ann = state.subscribers.insert("a@e.org", "a@e.org", "", "pending", NOW.isoformat())
        state.outgoing.add("confirm", ann.id, NOW.isoformat())
        state.db.execute("DELETE FROM subscribers WHERE id = ?", (ann.id,))
    assert state.db.execute("SELECT count(*) FROM outgoing").fetchone() == (0,)


def test_variants_are_stored_once(state: State) -> None:
    with state.transaction():
        state.issues.add(issue())
    assert state.variants.get(1, "1,3") is None
    state.variants.add(1, "1,3", "S", "<p>1,3</p>", "1,3")
    state.variants.add(1, "1,3", "S2", "<p>other</p>", "other")  # the first stays
    state.variants.add(1, "2", "S", "<p>2</p>", "2")
    assert state.variants.get(1, "1,3") == ("S", "<p>1,3</p>", "1,3")
    assert state.variants.all(1) == ["1,3", "2"]
    state.issues.discard(1)
    assert state.variants.all(1) == []


def test_the_topics_column_is_json(state: State) -> None:
    made = state.subscribers.insert(
        "a@e.org", "a@e.org", "", "active", NOW.isoformat(), topics=("Sport", 'Q"uote')
    )
    (raw,) = state.db.execute("SELECT topics FROM subscribers WHERE id = ?", (made.id,)).fetchone()
    assert json.loads(raw) == ["Sport", 'Q"uote']


def test_the_schema_refuses_unknown_kinds_and_statuses(state: State) -> None:
    ann = state.subscribers.insert("a@e.org", "a@e.org", "", "pending", NOW.isoformat())
    with pytest.raises(sqlite3.IntegrityError):
        state.db.execute(
            "INSERT INTO outgoing (kind, subscriber, created, status)"
            " VALUES ('confirm', ?, 'x', 'lost')",
            (ann.id,),
        )
    with pytest.raises(sqlite3.IntegrityError):
        state.db.execute("UPDATE subscribers SET source = 'web' WHERE id = ?", (ann.id,))
