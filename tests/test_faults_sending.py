"""Sending under real faults, against the scripted relay of tests/relay.py on 127.0.0.1: a
relay that takes a message and drops the line, drops mid-DATA, answers 4xx or 5xx or 421 at
every stage, stalls past the timeout, is absent, closes after N messages, throttles and
recovers, goes away mid-send; an outbox on a full tmpfs; kill -9 at random moments.

For each: who received what is counted exactly (duplicates and losses), the state says the
truth, and the command exits 0, 1 (someone must fix something) or 75 (try again later)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from disks import fill, small_disk
from helpers import MAIL_ARTICLES as ARTICLES
from helpers import MAIL_NEWSLETTER as NEWSLETTER
from helpers import (
    NOW,
    NOW_ARG,
    MakeSite,
    deliveries,
    feedpub,
    invoke,
    issue_status,
    load,
    make_issue,
    parse,
    readers,
    smtp_settings,
    smtp_site,
    status_counts,
    subscribe,
    subscriber,
    wait_until,
)
from relay import (
    DROP,
    DROP_MID_DATA,
    STALL,
    Moment,
    Script,
    ScriptedRelay,
    absent_port,
    at,
    first_connections,
    good,
)

from feedpub.delivery.messages import list_id
from feedpub.delivery.sending import REFUSES_EVERYTHING, send_issue
from feedpub.delivery.tokens import load_secret
from feedpub.store.state import State

SENDER = "news@news.example.org"
Relays = Callable[..., ScriptedRelay]


@pytest.fixture
def relays() -> Iterator[Relays]:
    """relays(script, **options) -> a running ScriptedRelay; all stopped after the test."""
    running: list[ScriptedRelay] = []

    def start(script: Script = good, **options: int | bool) -> ScriptedRelay:
        relay = ScriptedRelay(script, **options).start()  # type: ignore[arg-type]
        running.append(relay)
        return relay

    yield start
    for relay in running:
        relay.stop()


def addresses(count: int) -> list[str]:
    return [address for address, _ in readers(count)]


def listed(runner: CliRunner, root: Path) -> str:
    """The line of issue 1 in 'feedpub issue list', spaces squeezed."""
    result = invoke(runner, "--site", root, "issue", "list")
    assert result.exit_code == 0, result.output
    return " ".join(result.stdout.splitlines()[1].split()[3:7])


def clean(output: str) -> None:
    assert "Traceback" not in output
    assert "unexpected" not in output


# -- a connection lost during a message ----------------------------------------------------------

LOST = {
    "rcpt-drop": ("rcpt", DROP, False),
    "data-drop": ("data", DROP, False),
    "mid-data-drop": ("data", DROP_MID_DATA, False),
    # The classic end-of-DATA timeout: the relay has the whole message, the client no answer.
    "taken-then-dropped": ("end", DROP, True),
}


# Every stage for one reader; for every reader (a new connection per message, slower) the two
# ways the message may or may not have arrived.
LOST_CASES = [(case, False) for case in LOST] + [
    ("mid-data-drop", True),
    ("taken-then-dropped", True),
]


@pytest.mark.parametrize(
    ("case", "everyone"),
    LOST_CASES,
    ids=[f"{case}-{'every-reader' if everyone else 'one-reader'}" for case, everyone in LOST_CASES],
)
def test_a_lost_connection_is_one_attempt_for_that_reader(
    runner: CliRunner, relays: Relays, make_site: MakeSite, case: str, everyone: bool
) -> None:
    stage, action, arrives = LOST[case]
    people = addresses(8)
    victims = set(people) if everyone else {people[4]}
    relay = relays(at(stage, action, victims))
    root = smtp_site(make_site, relay.port, connections=2, extra="max_attempts = 3\n")
    subscribe(root, readers(8))
    make_issue(root)
    site = load(root)

    first = send_issue(site, 1, NOW)
    # Nobody else is stopped, nobody is left pending, and the lost ones wait for the backoff.
    assert (first.sent, first.deferred, first.error) == (8 - len(victims), len(victims), None)
    rows = deliveries(root)
    later = (NOW + timedelta(minutes=5)).isoformat()
    assert {a for a, row in rows.items() if row[0] == "deferred"} == victims
    assert all(rows[a][1:3] == (1, later) for a in victims)
    assert all(rows[a][:2] == ("sent", 1) for a in people if a not in victims)
    assert all("without a reply" in rows[a][3] for a in victims), rows

    # Each later run (after the backoff) is one more attempt, up to max_attempts, then failed.
    second = send_issue(site, 1, NOW + timedelta(minutes=5))
    assert (second.deferred, second.finished) == (len(victims), False)
    third = send_issue(site, 1, NOW + timedelta(minutes=15))
    assert (third.failed, third.finished, third.error) == (len(victims), True, None)
    assert send_issue(site, 1, NOW + timedelta(days=1)).sent == 0
    rows = deliveries(root)
    assert all(rows[a][:3] == ("failed", 3, None) for a in victims)
    assert issue_status(root) == "sent"

    # Exactly: a copy per attempt where the relay took the message, none where it did not; the
    # others once. The duplicates to one reader are bounded by max_attempts.
    expected = Counter({a: 1 for a in people if a not in victims})
    if arrives:
        expected.update(dict.fromkeys(victims, 3))
    assert relay.copies() == expected
    assert relay.acknowledged() == Counter({a: 1 for a in people if a not in victims})
    assert all(relay.record.rcpt[a] == 3 for a in victims)

    # What is shown is the truth: an issue that reached no one is not listed as sent.
    if everyone:
        assert third.outcome == "finished, but it reached no one: sent to 0 of 8, 8 failed"
        assert listed(runner, root) == "unsent 2 0/8 8"
    else:
        assert third.outcome == "finished: sent to 7 of 8, 1 failed"
        assert listed(runner, root) == "sent 2 7/8 1"


# -- 4xx, 5xx and 421 at every stage -----------------------------------------------------------

AGAIN = "; nothing was sent, the next run tries again"
RESUMES = "; sending stopped, no recipient's attempts were spent, and the next run resumes"
STOPPED = "; sending stopped until that is fixed (no recipient's attempts were spent)"
FROM = f"refused the sender {SENDER} at MAIL FROM"


def error_line(error: str, relay: ScriptedRelay | int) -> str:
    """The expected standard error: ``error`` with HOST standing for the relay's address."""
    port = relay if isinstance(relay, int) else relay.port
    return f"Error: {error.replace('HOST', f'127.0.0.1:{port}')}\n"


# The relay-wide conditions: (stage, reply, exit code, the error after "Error: ").
RELAY_WIDE = [
    ("greeting", "421 4.3.2 later", 75, f"HOST greeted with 421 4.3.2 later instead of 220{AGAIN}"),
    ("greeting", "450 4.3.2 busy", 75, f"HOST greeted with 450 4.3.2 busy instead of 220{AGAIN}"),
    ("greeting", "554 5.3.2 closed", 1, "HOST greeted with 554 5.3.2 closed instead of 220"),
    ("ehlo", "421 4.3.2 closing", 75, f"HOST refused EHLO: 421 4.3.2 closing{AGAIN}"),
    ("ehlo", "451 4.3.0 busy", 75, f"HOST refused EHLO: 451 4.3.0 busy{AGAIN}"),
    ("ehlo", "550 5.7.1 go away", 1, "HOST refused EHLO: 550 5.7.1 go away"),
    ("mail", "421 4.7.0 closing", 75, f"HOST {FROM}: 421 4.7.0 closing{RESUMES}"),
    ("mail", "451 4.7.0 throttled", 75, f"HOST {FROM}: 451 4.7.0 throttled{RESUMES}"),
    ("mail", "550 5.7.1 not you", 1, f"HOST {FROM}: 550 5.7.1 not you{STOPPED}"),
    ("rcpt", "421 4.7.0 closing", 75, f"HOST refused at RCPT TO: 421 4.7.0 closing{RESUMES}"),
    ("data", "421 4.7.0 closing", 75, f"HOST refused at DATA: 421 4.7.0 closing{RESUMES}"),
    ("end", "421 4.7.0 closing", 75, f"HOST refused after the message: 421 4.7.0 closing{RESUMES}"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("stage", "reply", "code", "error"),
    RELAY_WIDE,
    ids=[f"{stage}-{reply[:3]}" for stage, reply, _, _ in RELAY_WIDE],
)
def test_a_relay_wide_refusal_spends_no_attempts(
    runner: CliRunner,
    relays: Relays,
    make_site: MakeSite,
    stage: str,
    reply: str,
    code: int,
    error: str,
) -> None:
    relay = relays(at(stage, reply))
    root = smtp_site(make_site, relay.port, connections=2)
    subscribe(root, readers(5))
    make_issue(root)

    result = invoke(runner, "--site", root, "send", "--now", NOW_ARG)
    assert result.exit_code == code, result.output
    assert result.stderr == error_line(error, relay)
    clean(result.output)
    rows = deliveries(root)
    if stage in ("greeting", "ehlo"):
        assert rows == {}  # the relay was never reached: no list of recipients is fixed
        assert result.stdout == ""
    else:
        assert {row[:2] for row in rows.values()} == {("pending", 0)}  # no attempt spent
        assert result.stdout.endswith("; not finished: sent to 0 of 5 so far\n"), result.stdout
    assert relay.acknowledged() == Counter()
    assert issue_status(root) == "ready"
    assert listed(runner, root) == ("ready 2 0/0 0" if not rows else "sending 2 0/5 0")

    # The relay recovers; someone subscribed meanwhile, and gets the issue too.
    relay.script = good
    subscribe(root, [("newcomer@example.net", "New")])
    again = invoke(runner, "--site", root, "send", "--now", NOW_ARG)
    assert again.exit_code == 0, again.output
    assert again.stdout.endswith("; sent\n"), again.stdout
    assert relay.acknowledged() == Counter([*addresses(5), "newcomer@example.net"])
    assert issue_status(root) == "sent"
    assert listed(runner, root) == "sent 2 6/6 0"


PER_MESSAGE = [
    ("rcpt", "450 4.2.0 mailbox busy", "deferred"),
    ("rcpt", "550 5.1.1 no such user", "failed"),
    ("data", "451 4.3.0 try later", "deferred"),
    ("data", "554 5.6.0 not this one", "failed"),
    ("end", "452 4.3.1 out of room", "deferred"),
    ("end", "552 5.3.4 too big", "failed"),
]


@pytest.mark.parametrize(
    ("stage", "reply", "status"),
    PER_MESSAGE,
    ids=[f"{stage}-{reply[:3]}" for stage, reply, _ in PER_MESSAGE],
)
def test_a_refusal_of_one_message_is_that_readers_attempt(
    runner: CliRunner, relays: Relays, make_site: MakeSite, stage: str, reply: str, status: str
) -> None:
    people = addresses(5)
    relay = relays(at(stage, reply, {people[2]}))
    root = smtp_site(make_site, relay.port, connections=2)
    subscribe(root, readers(5))
    make_issue(root)
    result = invoke(runner, "--site", root, "send", "--now", NOW_ARG)
    assert result.exit_code == 0, result.output
    clean(result.output)
    rows = deliveries(root)
    assert rows[people[2]][:2] == (status, 1)
    assert rows[people[2]][3] == reply
    assert all(rows[a][:2] == ("sent", 1) for a in people if a != people[2])
    assert relay.acknowledged() == Counter(a for a in people if a != people[2])


def test_a_relay_throttling_at_mail_from_for_hours_burns_nothing(
    runner: CliRunner, relays: Relays, make_site: MakeSite
) -> None:
    """Five runs against a 451 at MAIL FROM (max_attempts is 5): each exits 75 and spends
    nothing; when the throttle lifts, everyone gets the issue once."""
    relay = relays(at("mail", "451 4.7.0 throttled"))
    root = smtp_site(make_site, relay.port, connections=2)
    subscribe(root, readers(20))
    for tick in range(5):
        moment = (NOW + timedelta(minutes=20 * tick)).isoformat()
        result = invoke(runner, "--site", root, "run", "--now", moment)
        assert result.exit_code == 75, result.output
        error = f"issue 1: HOST {FROM}: 451 4.7.0 throttled{RESUMES}"
        assert result.stderr == error_line(error, relay)
        assert "; sent" not in result.stdout
        assert {row[:2] for row in deliveries(root).values()} == {("pending", 0)}
        assert listed(runner, root) == "sending 2 0/20 0"
    assert relay.count() == 0

    relay.script = good
    result = invoke(runner, "--site", root, "run", "--now", (NOW + timedelta(hours=2)).isoformat())
    assert result.exit_code == 0, result.output
    assert relay.acknowledged() == Counter(addresses(20))
    assert status_counts(root) == {"sent": 20}
    assert listed(runner, root) == "sent 2 20/20 0"


def test_a_throttle_that_lifts_after_some_connections(
    runner: CliRunner, relays: Relays, make_site: MakeSite
) -> None:
    relay = relays(first_connections(2, "mail", "451 4.7.0 slow down"))
    root = smtp_site(make_site, relay.port, connections=1)
    subscribe(root, readers(8))
    make_issue(root)
    codes = [invoke(runner, "--site", root, "send", "--now", NOW_ARG).exit_code for _ in range(3)]
    assert codes == [75, 75, 0]
    assert relay.acknowledged() == Counter(addresses(8))
    assert {row[:2] for row in deliveries(root).values()} == {("sent", 1)}


# -- absent, going away, closing after N ------------------------------------------------------


def test_an_absent_relay_fixes_no_list_of_recipients(
    runner: CliRunner, relays: Relays, make_site: MakeSite
) -> None:
    with absent_port() as port:
        root = smtp_site(make_site, port)
        subscribe(root, readers(3))
        make_issue(root)
        for command in (["send"], ["run"]):
            result = invoke(runner, "--site", root, *command, "--now", NOW_ARG)
            assert result.exit_code == 75, result.output
            prefix = "issue 1: " if command == ["run"] else ""
            error = f"{prefix}cannot connect to HOST: [Errno 111] Connection refused{AGAIN}"
            assert result.stderr == error_line(error, port)
            assert status_counts(root) == {}
        assert listed(runner, root) == "ready 2 0/0 0"
        subscribe(root, [("late@example.net", "")])
    relay = relays(port=port)  # the relay is back where it was
    result = invoke(runner, "--site", root, "send", "--now", NOW_ARG)
    assert result.exit_code == 0, result.output
    assert relay.acknowledged() == Counter([*addresses(3), "late@example.net"])


def test_a_relay_that_goes_away_mid_send(
    runner: CliRunner, relays: Relays, make_site: MakeSite
) -> None:
    """After 8 messages the relay drops every connection at the next MAIL FROM and greets new
    ones with 421: the run stops (75) with the rest untouched; the next run finishes them."""

    def going(moment: Moment) -> str | None:
        if moment.total < 8:
            return None
        return {"greeting": "421 4.3.2 shutting down", "mail": DROP}.get(moment.stage)

    relay = relays(going)
    root = smtp_site(make_site, relay.port, connections=2)
    subscribe(root, readers(30))
    make_issue(root)
    result = invoke(runner, "--site", root, "send", "--now", NOW_ARG)
    assert result.exit_code == 75, result.output
    assert "greeted with 421 4.3.2 shutting down instead of 220; sending stopped" in result.stderr
    rows = deliveries(root)
    sent = {a for a, row in rows.items() if row[0] == "sent"}
    assert sent == set(relay.acknowledged())
    assert len(sent) in (8, 9)  # the other connection may finish the message it had begun
    assert all(rows[a][:2] == ("pending", 0) for a in rows if a not in sent)

    relay.script = good
    again = invoke(runner, "--site", root, "send", "--now", NOW_ARG)
    assert again.exit_code == 0, again.output
    assert relay.acknowledged() == Counter(addresses(30))
    assert relay.copies() == Counter(addresses(30))


@pytest.mark.parametrize(
    "script",
    [good, lambda m: "421 4.7.0 too many messages" if m.stage == "mail" and m.messages else None],
    ids=["closes-quietly", "421-at-mail-from"],
)
def test_a_relay_that_closes_after_n_messages(
    relays: Relays, make_site: MakeSite, script: Script
) -> None:
    relay = relays(script, close_after=3) if script is good else relays(script)
    root = smtp_site(make_site, relay.port, connections=2)
    subscribe(root, readers(20))
    make_issue(root)
    report = send_issue(load(root), 1, NOW)
    assert (report.sent, report.deferred, report.finished, report.error) == (20, 0, True, None)
    assert {row[:2] for row in deliveries(root).values()} == {("sent", 1)}
    assert relay.copies() == Counter(addresses(20))
    assert relay.connections() >= 7


# -- a relay slower than [smtp] timeout --------------------------------------------------------

SLOW = "; raise [smtp] timeout if the relay is this slow"


@pytest.mark.parametrize(
    ("stage", "error"),
    [
        ("greeting", f"HOST did not answer within 1 s when connecting{SLOW}{AGAIN}"),
        ("mail", f"HOST did not answer within 1 s at MAIL FROM{SLOW}{RESUMES}"),
    ],
    ids=["greeting", "mail-from"],
)
def test_a_stalled_relay_is_said_to_have_timed_out(
    runner: CliRunner, relays: Relays, make_site: MakeSite, stage: str, error: str
) -> None:
    relay = relays(at(stage, STALL))
    root = smtp_site(make_site, relay.port, connections=1, extra="timeout = 1\n")
    subscribe(root, readers(2))
    make_issue(root)
    result = invoke(runner, "--site", root, "send", "--now", NOW_ARG)
    assert result.exit_code == 75, result.output
    assert result.stderr == error_line(error, relay)
    assert "closed the connection" not in result.output
    assert all(row[:2] == ("pending", 0) for row in deliveries(root).values())


def test_a_message_the_relay_never_answers_is_a_timed_out_attempt(
    relays: Relays, make_site: MakeSite
) -> None:
    people = addresses(4)
    relay = relays(at("end", STALL, {people[1]}))
    root = smtp_site(make_site, relay.port, connections=2, extra="timeout = 1\n")
    subscribe(root, readers(4))
    make_issue(root)
    report = send_issue(load(root), 1, NOW)
    assert (report.sent, report.deferred, report.error) == (3, 1, None)
    status, attempts, _, reply = deliveries(root)[people[1]]
    assert (status, attempts) == ("deferred", 1)
    assert reply == f"127.0.0.1:{relay.port} did not answer within 1 s after the message{SLOW}"
    assert relay.copies() == Counter(people)  # it has the message; the client cannot know


# -- login, SMTPUTF8 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "code", "error"),
    [
        ("454 4.7.0 not now", 75, f"HOST cannot check the login now (454 4.7.0 not now){AGAIN}"),
        (
            "535 5.7.8 bad credentials",
            1,
            "HOST refused the username or password (535); check [smtp] username and the "
            "variable RELAY_PASSWORD",
        ),
    ],
    ids=["454", "535"],
)
def test_a_refused_login(
    runner: CliRunner, relays: Relays, make_site: MakeSite, reply: str, code: int, error: str
) -> None:
    relay = relays(at("auth", reply), auth=True)
    root = smtp_site(
        make_site, relay.port, extra='username = "mailer"\npassword_env = "RELAY_PASSWORD"\n'
    )
    subscribe(root, readers(3))
    make_issue(root)
    result = invoke(
        runner, "--site", root, "send", "--now", NOW_ARG, env={"RELAY_PASSWORD": "pa55-word"}
    )
    assert result.exit_code == code, result.output
    assert result.stderr == error_line(error, relay)
    assert "pa55-word" not in result.output
    assert relay.record.auth == [b"\0mailer\0pa55-word"]
    assert status_counts(root) == {}


def test_an_address_that_needs_smtputf8_at_a_relay_without_it(
    relays: Relays, make_site: MakeSite
) -> None:
    relay = relays(smtputf8=False)
    root = smtp_site(make_site, relay.port)
    subscribe(root, [*readers(3), ("jörg@example.net", "Jörg")])
    make_issue(root)
    report = send_issue(load(root), 1, NOW)
    assert (report.sent, report.failed, report.finished, report.error) == (3, 1, True, None)
    assert deliveries(root)["jörg@example.net"][:2] == ("failed", 1)
    assert relay.acknowledged() == Counter(addresses(3))


def test_an_issue_every_relay_answer_refused_is_not_called_sent(
    runner: CliRunner, relays: Relays, make_site: MakeSite
) -> None:
    relay = relays(at("rcpt", "550 5.1.1 no such user"))
    root = smtp_site(make_site, relay.port)
    subscribe(root, readers(3))
    make_issue(root)
    result = invoke(runner, "--site", root, "send", "--now", NOW_ARG)
    # Finished, but a failure for cron to see.
    assert result.exit_code == 1, result.output
    summary = result.stdout.splitlines()[0]
    assert summary.startswith("Issue 1: 0 sent, 0 deferred, 3 failed, 0 skipped of 3 recipients")
    assert summary.endswith("; finished, but it reached no one: sent to 0 of 3, 3 failed")
    assert result.stderr == (
        "Error: issue 1 reached no one: the relay refused every recipient (the replies are "
        "above); check the addresses, or the relay if it refuses them all\n"
    )
    assert listed(runner, root) == "unsent 2 0/3 3"


@pytest.mark.parametrize("stage", ["rcpt", "data", "end"])
@pytest.mark.parametrize("connections", [1, 3])
def test_a_relay_that_refuses_everything_fails_no_reader(
    runner: CliRunner, relays: Relays, make_site: MakeSite, stage: str, connections: int
) -> None:
    """A relay that refuses every message permanently ("554 5.7.1 relaying denied" to a sender
    it does not know) is a condition of the relay: were each refusal a reader's hard failure,
    three issues would mark the whole list bounced."""
    relay = relays(at(stage, "554 5.7.1 relaying denied"))
    root = smtp_site(make_site, relay.port, connections=connections)
    subscribe(root, readers(REFUSES_EVERYTHING + 15))
    make_issue(root)

    result = invoke(runner, "--site", root, "send", "--now", NOW_ARG)
    assert result.exit_code == 1, result.output
    assert "the relay refused each of the first" in result.stderr, result.stderr
    assert "554 5.7.1 relaying denied" in result.stderr
    assert "Traceback" not in result.output and "unexpected" not in result.output
    # No reader is failed or charged a hard failure; the list is not fixed either way.
    assert set(status_counts(root)) <= {"pending"}
    with State.open(load(root).state_dir) as state:
        charged = state.db.execute("SELECT count(*) FROM subscribers WHERE hard_failures > 0")
        assert charged.fetchone()[0] == 0

    # Fixed: the next run sends everyone once.
    relay.script = good
    again = invoke(runner, "--site", root, "send", "--now", NOW_ARG)
    assert again.exit_code == 0, again.output
    assert relay.acknowledged() == Counter(addresses(REFUSES_EVERYTHING + 15))


def test_refusals_before_the_first_accepted_message_count_once_one_is_accepted(
    relays: Relays, make_site: MakeSite
) -> None:
    """The first readers' addresses are bad and the rest good: held back while nothing was
    accepted, their refusals are recorded as soon as the relay takes a message."""
    bad = set(addresses(REFUSES_EVERYTHING - 1))
    relay = relays(at("rcpt", "550 5.1.1 no such user", bad))
    root = smtp_site(make_site, relay.port, connections=1)
    subscribe(root, readers(REFUSES_EVERYTHING + 5))
    make_issue(root)
    report = send_issue(load(root), 1, NOW)
    assert (report.sent, report.failed, report.finished, report.error) == (6, len(bad), True, None)
    rows = deliveries(root)
    assert {a for a, row in rows.items() if row[0] == "failed"} == bad
    assert all(subscriber(root, a) == ("active", 1) for a in bad)


# -- the outbox on a full disk -----------------------------------------------------------------


@pytest.mark.parametrize("where", ["outbox", "site"], ids=["outbox-is-tmpfs", "site-is-tmpfs"])
def test_an_outbox_on_a_full_disk(
    runner: CliRunner, make_site: MakeSite, tmp_path: Path, where: str
) -> None:
    people = addresses(40)
    with ExitStack() as mounts:
        if where == "site":
            mounted = mounts.enter_context(small_disk(tmp_path / "site", "4m"))
        root = make_site(ARTICLES, extra=NEWSLETTER)
        subscribe(root, readers(40))
        make_issue(root)
        site = load(root)
        list_id(site), load_secret(site.state_dir)  # the files a first send makes, made now
        outbox = site.state_dir / "outbox" / "1"
        filler = None
        if where == "outbox":
            mounted = mounts.enter_context(small_disk(site.state_dir / "outbox", "64k"))
        else:
            filler = fill(mounted, 64 * 1024)

        result = invoke(runner, "--site", root, "send", "--now", NOW_ARG)
        assert result.exit_code == 1, result.output
        clean(result.output)
        assert "No space left on device" in result.stderr or "disk is full" in result.stderr
        # The outbox's file or the state's database, whichever the full disk stops first.
        assert result.stderr.startswith("Error: "), result.stderr
        assert "unexpected" not in result.stderr and "Traceback" not in result.stderr
        # Nobody is marked sent who was not written whole, and nothing half-written is left.
        rows = deliveries(root)
        written = sorted(p.name for p in outbox.iterdir()) if outbox.exists() else []
        assert all(name.endswith(".eml") and not name.startswith(".") for name in written)
        sent = {a for a, row in rows.items() if row[0] == "sent"}
        assert {f"{a}.eml" for a in sent} <= set(written)
        assert len(sent) < len(people)
        # No attempt spent; the row being written goes back to pending, or, when the state
        # itself cannot be written, stays claimed until the next run puts it back.
        assert all(
            row[:2] in {("pending", 0), ("sent", 1), ("sending", 0)} for row in rows.values()
        )
        assert sum(row[0] == "sending" for row in rows.values()) <= (where == "site")
        for name in written:
            raw = (outbox / name).read_bytes()
            assert raw.endswith(b"==--\r\n"), name  # the closing boundary: a whole message
            assert parse(raw)["To"].endswith(f"<{name[:-4]}>")

        # Room again: the next run finishes, and everyone has one whole message.
        if filler is not None:
            filler.unlink()
        else:
            subprocess.run(["mount", "-o", "remount,size=4m", str(mounted)], check=True)
        again = invoke(runner, "--site", root, "send", "--now", NOW_ARG)
        assert again.exit_code == 0, again.output
        assert again.stdout.endswith("; sent\n")
        assert sorted(os.listdir(outbox)) == sorted(f"{a}.eml" for a in people)
        assert status_counts(root) == {"sent": 40}


def test_an_empty_list_id_file_is_written_again(make_site: MakeSite) -> None:
    """A kill between creating .feedpub/list-id and writing it left it empty: the List-Id
    (to which every unsubscribe token is bound) must be made and kept, not made anew each
    time from names that may change."""
    root = make_site(ARTICLES, extra=NEWSLETTER)
    site = load(root)
    site.state_dir.mkdir(mode=0o700)
    (site.state_dir / "list-id").write_bytes(b"")
    assert list_id(site) == "test-weekly.news.example.org"
    assert (site.state_dir / "list-id").read_text() == "test-weekly.news.example.org\n"
    assert sorted(os.listdir(site.state_dir)) == ["list-id"]


# -- kill -9 at random moments -----------------------------------------------------------------


@pytest.mark.parametrize(
    "trials",
    [pytest.param(2, id="2-trials"), pytest.param(20, id="20-trials", marks=pytest.mark.slow)],
)
def test_kill_9_at_random_moments_of_a_send(
    relays: Relays, make_site: MakeSite, trials: int
) -> None:
    """Each trial: a send of 300 over 2 connections killed at a random moment, then a send
    that finishes. Nobody is lost; only a message in flight at the kill arrives twice."""
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    people = addresses(300)
    for trial in range(trials):
        relay = relays()
        root = make_site(
            ARTICLES, extra=NEWSLETTER + smtp_settings(relay.port, 2), folder=f"site-{trial}"
        )
        subscribe(root, readers(300))
        make_issue(root)
        after = rng.randrange(300)
        jitter = rng.uniform(0, 0.005)
        where = f"seed {seed}, trial {trial}: killed after {after} messages + {jitter:.4f} s"

        proc = feedpub(root, "send", "--now", NOW_ARG)
        try:
            wait_until(lambda: relay.count() >= after, proc)  # noqa: B023
            time.sleep(jitter)  # a random moment, not a wait for something
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
        rows = deliveries(root)
        in_flight = {a for a, row in rows.items() if row[0] == "sending"}
        assert len(in_flight) <= 2, where

        resumed = feedpub(root, "send", "--now", NOW_ARG)
        out, err = resumed.communicate(timeout=120)
        assert resumed.returncode == 0, (where, out, err)
        assert err == b"", where
        assert out.decode().endswith("; sent\n"), (where, out)
        copies = relay.copies()
        assert set(copies) == set(people), where  # nobody lost
        twice = {a for a, n in copies.items() if n > 1}
        assert twice <= in_flight, where  # only a message in flight at the kill
        assert sum(copies.values()) - len(people) <= 2, where  # at most the connections
        assert status_counts(root) == {"sent": 300}, where
        assert issue_status(root) == "sent", where
        relay.stop()
