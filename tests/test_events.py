"""What bounces, complaints and unsubscribes do (feedpub.delivery.events) and the store they
are kept in (feedpub.store.events): each transition, the soft-bounce streak, a message acted on
once, forged tokens and unknown addresses changing nothing, each issue's figures; and schema 7
on a real version-6 state (tests/data/state/v6.db, made by make_v6.py), every row kept."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import NEWSLETTER, NOW, MakeSite, load

from feedpub.config import Site
from feedpub.delivery import verp
from feedpub.delivery.events import Applied, Event, apply, apply_many
from feedpub.delivery.identity import list_id
from feedpub.delivery.subscribers import Subscribers
from feedpub.delivery.tokens import load_secret
from feedpub.store.events import IssueFigures
from feedpub.store.issues import IssueRecord
from feedpub.store.state import SCHEMA_VERSION, State
from feedpub.store.subscribers import Subscriber

BOUNCES = '\n[smtp]\nbounce_address = "bounces@news.example.org"\n'
WEEK = timedelta(days=7)


@pytest.fixture
def site(make_site: MakeSite) -> Site:
    return load(make_site(extra=NEWSLETTER + BOUNCES))


@pytest.fixture
def state(site: Site) -> Iterator[State]:
    with State.open(site.state_dir) as opened:
        yield opened


def add(state: State, address: str, status: str = "active") -> Subscriber:
    with state.transaction():
        found, _ = Subscribers(state).add(address, "", NOW, status=status)
    return found


def sent_issue(state: State, number: int, weeks: int = 0) -> str:
    """Issue ``number``, sent ``weeks`` after NOW to everyone active then; its stamp."""
    stamp = (NOW + weeks * WEEK).isoformat()
    record = IssueRecord(number, f"urn:uuid:{number}", stamp, "ready", f"#{number}", "", "",
                         "", None, ())  # fmt: skip
    with state.transaction():
        state.issues.add(record)
    state.deliveries.start(number, stamp)
    for (who,) in state.db.execute(
        "SELECT subscriber FROM deliveries WHERE issue = ?", (number,)
    ).fetchall():
        state.deliveries.record(number, who, "sent", 1, None, "250", stamp)
    state.deliveries.finish_if_done(number, stamp)
    return stamp


def token(site: Site, who: Subscriber, issue: int | None, purpose: str = "b") -> str:
    return verp.make(load_secret(site.state_dir), list_id(site), purpose, who.token_key, issue)


def status(state: State, who: Subscriber) -> str:
    found = state.subscribers.find_id(who.id)
    assert found is not None
    return found.status


# -- each transition ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "before", "after", "change"),
    [
        ("hard", "active", "bounced", "bounced"),
        ("hard", "pending", "bounced", "bounced"),
        ("hard", "unsubscribed", "unsubscribed", "nothing"),
        ("hard", "complained", "complained", "nothing"),
        ("soft", "active", "active", "soft"),
        ("complaint", "active", "complained", "complained"),
        ("complaint", "pending", "complained", "complained"),
        ("complaint", "unsubscribed", "complained", "complained"),
        ("complaint", "bounced", "complained", "complained"),
        ("unsubscribe", "active", "unsubscribed", "unsubscribed"),
        ("unsubscribe", "pending", "unsubscribed", "unsubscribed"),
        ("unsubscribe", "bounced", "bounced", "nothing"),
        ("unsubscribe", "complained", "complained", "nothing"),
    ],
)
def test_each_event_moves_the_subscriber_as_the_rules_say(
    site: Site, state: State, kind: str, before: str, after: str, change: str
) -> None:
    ann = add(state, "ann@example.org")
    sent_issue(state, 1)
    with state.transaction():
        state.subscribers.set_status(ann.id, before, NOW.isoformat())
    done = apply(site, state, Event(kind, "inbox", "5.1.1", token(site, ann, 1)), NOW)
    assert done == Applied("ann@example.org", change)
    assert status(state, ann) == after
    # The event is recorded whatever it changed, for the issue's figures.
    assert [e[:3] for e in state.events.of_subscriber(ann.id)] == [(1, kind, "inbox")]


def test_a_paused_reader_who_bounces_hard_is_bounced(site: Site, state: State) -> None:
    ann = add(state, "ann@example.org")
    with state.transaction():
        state.subscribers.set_pause(ann.id, (NOW + 4 * WEEK).isoformat(), NOW.isoformat())
    assert apply(site, state, Event("hard", "inbox", token=token(site, ann, None)), NOW).change == (
        "bounced"
    )
    assert status(state, ann) == "bounced"


def test_a_forgotten_reader_stays_forgotten_and_nothing_is_kept(site: Site, state: State) -> None:
    ann = add(state, "ann@example.org")
    with state.transaction():
        state.subscribers.forget(ann.id, NOW.isoformat())
    for kind in ("hard", "soft", "complaint", "unsubscribe"):
        done = apply(site, state, Event(kind, "inbox", token=token(site, ann, None)), NOW)
        assert done == Applied("", "nothing")
    assert status(state, ann) == "forgotten"
    assert state.events.of_subscriber(ann.id) == []


def test_forgetting_a_reader_erases_the_diagnostics_that_quote_their_address(
    site: Site, state: State
) -> None:
    ann = add(state, "ann@example.org")
    detail = "550 5.1.1 <ann@example.org>: Recipient address rejected"
    apply(site, state, Event("soft", "ses", detail, address="ann@example.org"), NOW)
    with state.transaction():
        state.subscribers.forget(ann.id, NOW.isoformat())
    assert [e[3] for e in state.events.of_subscriber(ann.id)] == [""]


# -- soft bounces ---------------------------------------------------------------------------


def test_three_soft_bounces_in_a_row_bounce_the_address(site: Site, state: State) -> None:
    ann = add(state, "ann@example.org")
    changes = []
    for number in (1, 2, 3):
        stamp = sent_issue(state, number, weeks=number)
        event = Event("soft", "inbox", "4.2.2 mailbox full", token(site, ann, number))
        changes.append(apply(site, state, event, NOW + number * WEEK + WEEK / 2).change)
        assert stamp
    assert changes == ["soft", "soft", "bounced"]
    assert status(state, ann) == "bounced"
    assert state.events.soft_streak(ann.id) == 3


def test_three_soft_bounces_not_in_a_row_do_not(site: Site, state: State) -> None:
    ann = add(state, "ann@example.org")
    for number in (1, 2, 3, 4):
        sent_issue(state, number, weeks=number)
        if number != 2:  # issue 2 went through
            event = Event("soft", "inbox", "4.2.2", token(site, ann, number))
            assert apply(site, state, event, NOW + number * WEEK).change == "soft"
    assert status(state, ann) == "active"
    assert state.events.soft_streak(ann.id) == 2


def test_soft_bounces_of_one_issue_count_once(site: Site, state: State) -> None:
    ann = add(state, "ann@example.org")
    sent_issue(state, 1)
    for attempt in range(5):  # a relay reports each retry
        event = Event(
            "soft", "inbox", f"4.4.1 try {attempt}", token(site, ann, 1), key=f"k{attempt}"
        )
        assert apply(site, state, event, NOW).change == "soft"
    assert state.events.soft_streak(ann.id) == 1
    assert status(state, ann) == "active"


def test_a_bounce_naming_no_issue_counts_for_the_latest_sent(site: Site, state: State) -> None:
    ann = add(state, "ann@example.org")
    sent_issue(state, 1)
    sent_issue(state, 2, weeks=1)
    apply(site, state, Event("soft", "ses", "4.0.0", address="ANN@example.org"), NOW + WEEK)
    assert [e[:2] for e in state.events.of_subscriber(ann.id)] == [(2, "soft")]


# -- once, and only for the real ones -------------------------------------------------------


def test_a_message_acted_on_once_changes_nothing_the_second_time(site: Site, state: State) -> None:
    ann = add(state, "ann@example.org")
    sent_issue(state, 1)
    event = Event("soft", "inbox", "4.2.2", token(site, ann, 1), key="mail:abc")
    assert apply(site, state, event, NOW).change == "soft"
    assert state.events.seen("mail:abc")
    assert apply(site, state, event, NOW).change == "duplicate"
    assert apply_many(site, [event, event], NOW, state) == [Applied("", "duplicate")] * 2
    assert len(state.events.of_subscriber(ann.id)) == 1


def test_the_events_of_one_message_share_its_key(site: Site, state: State) -> None:
    ann, bob = add(state, "ann@example.org"), add(state, "bob@example.org")
    sent_issue(state, 1)
    report = [
        Event("hard", "inbox", "5.1.1", token(site, ann, 1), key="mail:two"),
        Event("hard", "inbox", "5.1.1", token(site, bob, 1), key="mail:two"),
    ]
    assert [a.change for a in apply_many(site, report, NOW, state)] == ["bounced", "bounced"]
    assert [a.change for a in apply_many(site, report, NOW, state)] == ["duplicate"] * 2


def test_a_forged_token_changes_nothing_but_its_key_is_kept(site: Site, state: State) -> None:
    ann = add(state, "ann@example.org")
    good = token(site, ann, 1)
    forged = good[:-1] + ("a" if good[-1] != "a" else "b")
    other = verp.make(b"another site's secret", list_id(site), "b", ann.token_key, 1)
    for number, fake in enumerate((forged, other, "b-garbage", "x" * 5000)):
        event = Event("complaint", "inbox", token=fake, key=f"mail:{number}")
        assert apply(site, state, event, NOW) == Applied("", "forged")
        assert state.events.seen(f"mail:{number}")
    assert status(state, ann) == "active"
    assert state.events.of_subscriber(ann.id) == []


@pytest.mark.parametrize(
    "event",
    [
        Event("hard", "ses", address="nobody@example.org"),
        Event("hard", "ses", address="not an address"),
        Event("hard", "ses", address="x" * 10_000),
        Event("hard", "ses"),
    ],
    ids=["not-on-the-list", "malformed", "huge", "none"],
)
def test_an_address_not_on_the_list_is_an_unknown_subscriber(
    site: Site, state: State, event: Event
) -> None:
    add(state, "ann@example.org")
    assert apply(site, state, event, NOW) == Applied("", "unknown subscriber")


def test_a_token_of_a_key_no_one_has_is_an_unknown_subscriber(site: Site, state: State) -> None:
    lid, secret = list_id(site), load_secret(site.state_dir)
    stray = verp.make(secret, lid, "b", "AAAAAAAAAAAAAAAAAAAAAA", 1)
    assert apply(site, state, Event("hard", "inbox", token=stray), NOW).change == (
        "unknown subscriber"
    )


@pytest.mark.parametrize("kind", ["auto-reply", "unknown", "ignored"])
def test_what_is_not_an_event_only_records_its_key(site: Site, state: State, kind: str) -> None:
    ann = add(state, "ann@example.org")
    done = apply(site, state, Event(kind, "inbox", token=token(site, ann, None), key="m:1"), NOW)
    assert done == Applied("", "nothing")
    assert state.events.received_counts() == {kind: 1}
    assert status(state, ann) == "active"


def test_an_unknown_kind_is_a_bug_not_an_event(site: Site, state: State) -> None:
    with pytest.raises(ValueError, match="no such event kind"):
        apply(site, state, Event("spam", "inbox", key="m:1"), NOW)
    assert not state.events.seen("m:1")


def test_a_site_without_a_secret_takes_every_token_for_forged(site: Site, state: State) -> None:
    ann = add(state, "ann@example.org")
    made = verp.make(b"x" * 32, list_id(site), "b", ann.token_key, None)
    assert not (site.state_dir / "secret").exists()
    assert apply(site, state, Event("hard", "inbox", token=made), NOW).change == "forged"
    assert not (site.state_dir / "secret").exists()  # and none was made


def test_received_keys_are_pruned_after_their_time(site: Site, state: State) -> None:
    with state.transaction():
        state.events.receive("old", "unknown", (NOW - 100 * timedelta(days=1)).isoformat())
        state.events.receive("new", "unknown", NOW.isoformat())
        assert state.events.prune((NOW - 90 * timedelta(days=1)).isoformat()) == 1
    assert not state.events.seen("old") and state.events.seen("new")


# -- the figures ----------------------------------------------------------------------------


def test_the_figures_add_up(site: Site, state: State) -> None:
    people = [add(state, f"reader{i}@example.org") for i in range(10)]
    sent_issue(state, 1)
    events = [Event("hard", "inbox", "5.1.1", token(site, people[0], 1))]
    events += [Event("hard", "ses", "5.1.1", address=people[1].email, issue=1)]
    events += [Event("soft", "inbox", "4.2.2", token(site, people[2], 1))] * 2
    events += [Event("complaint", "inbox", "abuse", token(site, people[3], 1))]
    events += [Event("unsubscribe", "list-unsubscribe", "", token(site, people[4], 1, "u"))]
    apply_many(site, events, NOW + timedelta(hours=1), state)
    # An unsubscribe from the web names no issue: it counts for the latest sent before it.
    with state.transaction():
        state.events.add(people[5].id, None, "unsubscribe", "web", "", (NOW + WEEK).isoformat())
    figures = state.events.figures(1)
    assert figures == IssueFigures(
        sent=10, delivered=7, hard=2, soft=1, complaints=1, unsubscribes=2
    )
    assert figures.bounce_rate == pytest.approx(0.3)
    assert figures.complaint_rate == pytest.approx(0.1)
    assert state.events.figures(2) == IssueFigures()
    assert IssueFigures().bounce_rate == 0.0 and IssueFigures().complaint_rate == 0.0
    # One reader with a delay report and then the failure bounced one message, not two.
    twice = IssueFigures(sent=10, delivered=9, hard=1, soft=1)
    assert twice.bounced == 1 and twice.bounce_rate == pytest.approx(0.1)
    flagged = state.events.flagged(1)
    assert [(email, kind) for email, kind, _ in flagged] == [
        ("reader3@example.org", "complaint"),
        ("reader0@example.org", "hard"),
        ("reader1@example.org", "hard"),
        ("reader2@example.org", "soft"),
    ]


def test_an_unsubscribe_before_any_issue_counts_for_none(site: Site, state: State) -> None:
    ann = add(state, "ann@example.org")
    with state.transaction():
        state.events.add(ann.id, None, "unsubscribe", "web", "", NOW.isoformat())
    sent_issue(state, 1, weeks=1)
    assert state.events.figures(1).unsubscribes == 0


def test_an_event_for_an_issue_the_state_lacks_is_kept_without_it(site: Site, state: State) -> None:
    ann = add(state, "ann@example.org")
    apply(site, state, Event("hard", "inbox", token=token(site, ann, 99)), NOW)
    assert [e[:2] for e in state.events.of_subscriber(ann.id)] == [(None, "hard")]


# -- schema 7 on a real version-6 state -----------------------------------------------------

V6 = Path(__file__).resolve().parent / "data" / "state"


def raw(path: Path, query: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(query).fetchall()
    finally:
        db.close()


def test_the_upgrade_from_version_6_keeps_every_row(make_site: MakeSite) -> None:
    root = make_site(extra=NEWSLETTER)
    (root / ".feedpub").mkdir()
    path = root / ".feedpub" / "state.db"
    shutil.copyfile(V6 / "v6.db", path)
    assert raw(path, "PRAGMA user_version") == [(6,)]
    tables = [
        r[0] for r in raw(path, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    ]
    before = {table: raw(path, f"SELECT * FROM {table} ORDER BY 1") for table in tables}
    assert len(before["subscribers"]) == 5 and len(before["deliveries"]) == 7
    with State.open(root / ".feedpub") as state:
        assert state.db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert state.db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert state.events.figures(2) == IssueFigures(sent=4, delivered=4)
    for table in tables:
        # Later schemas add columns at the end of a table (issues, in 8): the old ones stay.
        width = len(before[table][0]) if before[table] else 0
        after = raw(path, f"SELECT * FROM {table} ORDER BY 1")
        assert [row[:width] for row in after] == before[table], table
    assert raw(path, "SELECT count(*) FROM events") == [(0,)]
    assert raw(path, "SELECT count(*) FROM received") == [(0,)]


def test_the_events_table_refuses_what_it_must(site: Site, state: State) -> None:
    ann = add(state, "ann@example.org")
    with pytest.raises(sqlite3.IntegrityError):  # a kind that is none
        state.db.execute(
            "INSERT INTO events (subscriber, kind, source, at) VALUES (?, 'spam', 'x', 'x')",
            (ann.id,),
        )
    with pytest.raises(sqlite3.IntegrityError):  # no such subscriber
        state.db.execute(
            "INSERT INTO events (subscriber, kind, source, at) VALUES (99, 'hard', 'x', 'x')"
        )
    with pytest.raises(ValueError), state.transaction():
        state.events.add(ann.id, None, "spam", "x", "", NOW.isoformat())


@pytest.mark.parametrize(
    ("detail", "kept"),
    [
        (
            "550 5.1.1 <ann@example.org>:\r\n  no such user",
            "550 5.1.1 <ann@example.org>: no such user",
        ),
        ("\x1b[31mred\x1b[0m \u202egnp.exe", "[31mred [0m gnp.exe"),
        ("x" * 100_000, "x" * 500),
        ("", ""),
    ],
    ids=["folded", "escapes-and-bidi", "huge", "empty"],
)
def test_a_diagnostic_is_kept_as_one_short_line(
    site: Site, state: State, detail: str, kept: str
) -> None:
    ann = add(state, "ann@example.org")
    apply(site, state, Event("soft", "ses", detail, address="ann@example.org"), NOW)
    assert [e[3] for e in state.events.of_subscriber(ann.id)] == [kept]


def test_reading_a_readers_issues_never_scans_the_deliveries(site: Site, state: State) -> None:
    # deliveries has a row per issue and reader and no index by reader: a scan of it for each
    # bounce read took 44 ms at 200,000 rows. Every statement the rules and figures run is
    # checked with SQLite's own query plan.
    ann = add(state, "ann@example.org")
    sent_issue(state, 1)
    statements: list[str] = []
    state.db.set_trace_callback(statements.append)
    try:
        apply(site, state, Event("soft", "ses", "4.2.2", address="ann@example.org"), NOW)
        state.events.soft_streak(ann.id)
        state.events.latest_sent(ann.id, NOW.isoformat())
        with state.transaction():
            state.events.add(ann.id, None, "unsubscribe", "web", "", NOW.isoformat())
        state.events.figures(1)
    finally:
        state.db.set_trace_callback(None)
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT") and "deliveries" in s]
    assert len(reads) >= 4
    for statement in reads:
        plan = " | ".join(row[3] for row in state.db.execute("EXPLAIN QUERY PLAN " + statement))
        assert "SCAN d " not in plan + " " and "SCAN deliveries" not in plan, (statement, plan)
