"""Their data is theirs: each subscriber's consent record (subscribers add/show), forgetting a
person (subscribers forget: a tombstone and a keyed hash, nothing else, not even in the file's
free space or its write-ahead log), imports that never re-add the forgotten, and the
unsubscribe links of both forms against a real `feedpub serve`."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import (
    ARTICLES,
    CHILD_ENV,
    FEEDPUB,
    NEWSLETTER,
    NOW,
    NOW_ARG,
    MakeSite,
    assert_clean_exit,
    free_port,
    invoke,
    load,
    make_issue,
    readers,
    wait_until,
)

from feedpub.delivery.messages import list_id
from feedpub.delivery.subscribers import Subscribers
from feedpub.delivery.tokens import load_secret, make, make_token
from feedpub.store.state import State

ANN = "ann.secretive@example.org"
OLD = "ann.before@example.org"
NEXT = "ann.after@example.org"
NAME = "Annabel Quuxworth"
IP = "198.51.100.77"
BOB = "bob@example.org"


@pytest.fixture
def root(make_site: MakeSite) -> Path:
    return make_site(ARTICLES, extra=NEWSLETTER)


def state_of(root: Path) -> State:
    return State.open(load(root).state_dir)


def sign_up_ann(root: Path) -> None:
    """Ann as the web app leaves her after a while: signed up on the form (address kept),
    confirmed, moved from an older address, topics, a pause, an address change waiting with
    its mail queued, and an issue whose relay reply named her."""
    issue = make_issue(root)
    with state_of(root) as state:
        people = Subscribers(state)
        with state.transaction():
            # Others around her, so that her rows share their pages (a page holding only her
            # row is rewritten whole, and would prove nothing).
            for address, name in readers(40):
                people.add(address, name, NOW)
            ann, _ = people.add(
                OLD, NAME, NOW, status="pending", source="form", ip=IP, topics=("Sports",)
            )
            bob, _ = people.add(BOB, "Bob", NOW)
        rows = state.subscribers
        stamp = (NOW + timedelta(minutes=5)).isoformat()
        rows.confirm(ann.id, stamp)
        rows.change_email(ann.id, ANN, ANN, stamp)
        rows.set_pause(ann.id, "2027-02-01T00:00:00+01:00", stamp)
        with state.transaction():
            rows.set_new_email(ann.id, NEXT, stamp)
            state.outgoing.add("address", ann.id, stamp, target=NEXT)
        state.deliveries.start(issue.number, stamp)
        state.deliveries.record(
            issue.number, ann.id, "failed", 1, None, f"550 5.1.1 <{ANN}>: mailbox full", stamp
        )
        state.deliveries.record(issue.number, bob.id, "sent", 1, None, "250", stamp)


def state_bytes(root: Path) -> bytes:
    folder = load(root).state_dir
    return b"".join(
        p.read_bytes() for p in (folder / "state.db", folder / "state.db-wal") if p.exists()
    )


PERSONAL = [ANN, OLD, NEXT, NAME, IP, "ann.secretive", "Annabel"]


def test_a_forgotten_person_appears_nowhere_in_the_state_file(
    runner: CliRunner, root: Path
) -> None:
    sign_up_ann(root)
    before = state_bytes(root)
    assert ANN.encode() in before and BOB.encode() in before  # the check can fail

    result = invoke(runner, "--site", root, "subscribers", "forget", ANN.upper())
    assert_clean_exit(result, 0)
    assert "their data is erased" in result.stdout

    # Without a VACUUM: nothing in the pages' free space nor in the write-ahead log.
    data = state_bytes(root)
    for text in PERSONAL:
        for form in {text, text.lower(), text.upper()}:
            assert form.encode() not in data, form
    assert BOB.encode() in data
    # And as the brief asks, after a VACUUM too.
    db = sqlite3.connect(load(root).state_dir / "state.db")
    db.execute("VACUUM")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    data = state_bytes(root)
    for text in PERSONAL:
        assert text.encode() not in data, text

    with state_of(root) as state:
        # The counts of the issue stay exact.
        assert state.issues.counts(1) == {"failed": 1, "sent": 1, "pending": 40}
        people = Subscribers(state)
        assert people.suppressed(ANN)
        assert not people.suppressed(OLD)  # an address they had left is not theirs now
        assert [s.email for s in people.iter()][-1] == BOB
        assert people.count() == 41


def test_a_row_forgotten_as_it_was_added_leaves_nothing_either(
    runner: CliRunner, root: Path
) -> None:
    # No update before the forgetting moved the row: its old bytes would stay in the page's
    # free space but for secure_delete.
    with state_of(root) as state, state.transaction():
        people = Subscribers(state)
        for address, name in [*readers(20), (ANN, NAME), *readers(40)[20:]]:
            people.add(address, name, NOW)
    assert_clean_exit(invoke(runner, "--site", root, "subscribers", "forget", ANN), 0)
    data = state_bytes(root)
    assert ANN.encode() not in data and NAME.encode() not in data
    assert b"reader039@example.net" in data
    # Whatever this build of SQLite does by default (Debian's zeroes; others do not).
    with state_of(root) as state:
        assert state.db.execute("PRAGMA secure_delete").fetchone()[0] in (1, 2)


def test_forget_then_show_list_export_and_import(
    runner: CliRunner, root: Path, tmp_path: Path
) -> None:
    site = ["--site", str(root)]
    assert_clean_exit(invoke(runner, *site, "subscribers", "add", ANN, "--name", NAME), 0)
    assert_clean_exit(invoke(runner, *site, "subscribers", "add", BOB), 0)
    assert_clean_exit(invoke(runner, *site, "subscribers", "forget", ANN), 0)

    again = invoke(runner, *site, "subscribers", "forget", ANN)
    assert_clean_exit(again, 1)
    assert again.stderr == f"Error: {ANN!r} is not a subscriber\n"
    shown = invoke(runner, *site, "subscribers", "show", ANN)
    assert_clean_exit(shown, 1)
    assert shown.stderr == f"Error: {ANN!r} is not a subscriber\n"
    listed = invoke(runner, *site, "subscribers", "list", "--json")
    assert [p["email"] for p in json.loads(listed.stdout)] == [BOB]
    exported = invoke(runner, *site, "subscribers", "export")
    assert exported.stdout == f"email,name,status\n{BOB},,active\n"

    path = tmp_path / "list.csv"
    path.write_text(f"email,name\nnew@example.org,New\n{ANN.upper()},Ann\n", encoding="utf-8")
    imported = invoke(runner, *site, "subscribers", "import", path)
    assert_clean_exit(imported, 1)
    assert f"{path}:3: error: ANN.SECRETIVE@example.org asked to be forgotten" in imported.stderr
    assert "1 added" in imported.stdout
    added = invoke(runner, *site, "subscribers", "add", ANN)
    assert_clean_exit(added, 1)
    assert "asked to be forgotten and is not added again" in added.stderr


def test_show_the_consent_record(runner: CliRunner, root: Path) -> None:
    sign_up_ann(root)
    plain = invoke(runner, "--site", root, "subscribers", "show", ANN)
    assert_clean_exit(plain, 0)
    assert plain.stdout.splitlines() == [
        f"Address:      {ANN}",
        f"Name:         {NAME}",
        "Status:       active",
        "Joined:       2026-11-27 12:00 CET (source: form)",
        "Confirmed:    2026-11-27 12:05 CET",
        f"IP:           {IP}",
        "Topics:       Sports",
        "Paused until: 2027-02-01 00:00 CET",
        f"New address:  {NEXT}",
        "Issues:       1 (1 failed)",
    ]
    as_json = invoke(runner, "--site", root, "subscribers", "show", ANN, "--json")
    assert_clean_exit(as_json, 0)
    held = json.loads(as_json.stdout)
    assert {k: held[k] for k in ("address", "source", "ip", "topics", "new_address")} == {
        "address": ANN,
        "source": "form",
        "ip": IP,
        "topics": ["Sports"],
        "new_address": NEXT,
    }
    [delivered] = held["issues"]
    assert (delivered["issue"], delivered["status"]) == (1, "failed")
    assert delivered["articles"] == ["Bravo", "Alpha"]


def test_add_records_the_command_line_as_the_source(runner: CliRunner, root: Path) -> None:
    assert_clean_exit(invoke(runner, "--site", root, "subscribers", "add", BOB), 0)
    held = json.loads(invoke(runner, "--site", root, "subscribers", "show", BOB, "--json").stdout)
    assert (held["source"], held["confirmed"], held["status"]) == ("cli", None, "active")
    assert held["joined"] == held["added"]
    assert "ip" not in held and "new_address" not in held
    plain = invoke(runner, "--site", root, "subscribers", "show", BOB).stdout
    assert "Topics:       all" in plain and "Issues:       0" in plain


@pytest.mark.parametrize(
    "address",
    ["", "nobody@example.org", "not an address", "a" * 5000 + "@example.org", "\x1b[2J@x.org"],
    ids=["empty", "unknown", "invalid", "huge", "escape"],
)
def test_show_and_forget_of_no_subscriber(runner: CliRunner, root: Path, address: str) -> None:
    assert_clean_exit(invoke(runner, "--site", root, "subscribers", "add", BOB), 0)
    for command in ("show", "forget"):
        result = invoke(runner, "--site", root, "subscribers", command, address)
        assert_clean_exit(result, 1)
        assert "is not a subscriber" in result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr) < 6000


# -- the unsubscribe endpoint, tokens of both forms ---------------------------------------


@pytest.fixture
def server(root: Path) -> Iterator[str]:
    """`feedpub serve` on a free port of 127.0.0.1, as a child process: its base URL."""
    with state_of(root) as state, state.transaction():
        people = Subscribers(state)
        people.add(ANN, "", NOW)
        people.add(BOB, "", NOW)
    port = free_port()
    child = subprocess.Popen(
        [str(FEEDPUB), "--site", str(root), "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=CHILD_ENV,
    )

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    try:
        wait_until(listening, child)
        yield f"http://127.0.0.1:{port}/"
    finally:
        child.send_signal(signal.SIGINT)
        try:
            child.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()


def post(url: str, data: bytes = b"") -> int:
    request = urllib.request.Request(url, data=data, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def status_of(root: Path, address: str) -> str:
    with state_of(root) as state:
        return Subscribers(state).get(address).status


def test_one_click_unsubscribe_with_a_token_of_either_form(server: str, root: Path) -> None:
    site = load(root)
    secret = load_secret(site.state_dir)
    with state_of(root) as state:
        bob = Subscribers(state).get(BOB)
    new = make(secret, list_id(site), "u", bob.token_key)
    old = make_token(secret, list_id(site), ANN)  # in every email sent before version 6
    started = time.monotonic()
    assert post(f"{server}unsubscribe?t={new}", b"List-Unsubscribe=One-Click") == 200
    assert post(f"{server}unsubscribe?t={old}", b"List-Unsubscribe=One-Click") == 200
    assert time.monotonic() - started < 20
    assert (status_of(root, ANN), status_of(root, BOB)) == ("unsubscribed", "unsubscribed")


@pytest.mark.parametrize("purpose", ["m", "c", "forged", "other list"])
def test_the_unsubscribe_endpoint_takes_u_tokens_only(
    server: str, root: Path, purpose: str
) -> None:
    site = load(root)
    secret = load_secret(site.state_dir)
    with state_of(root) as state:
        key = Subscribers(state).get(BOB).token_key
    token = {
        "m": lambda: make(secret, list_id(site), "m", key),
        "c": lambda: make(secret, list_id(site), "c", key, NOW + timedelta(days=7)),
        "forged": lambda: make(b"another secret", list_id(site), "u", key),
        "other list": lambda: make(secret, "other.example.org", "u", key),
    }[purpose]()
    assert post(f"{server}unsubscribe?t={token}", b"List-Unsubscribe=One-Click") == 400
    assert status_of(root, BOB) == "active"


def test_a_forgotten_reader_s_old_link_changes_nothing(server: str, root: Path) -> None:
    site = load(root)
    secret = load_secret(site.state_dir)
    with state_of(root) as state:
        key = Subscribers(state).get(ANN).token_key
        with state.transaction():
            Subscribers(state).forget(ANN, NOW)
    token = make(secret, list_id(site), "u", key)
    assert post(f"{server}unsubscribe?t={token}", b"List-Unsubscribe=One-Click") == 200
    with state_of(root) as state:
        assert state.subscribers.find_token(key) is not None  # the tombstone, untouched
        assert state.subscribers.count("forgotten") == 1


def test_a_forgotten_person_leaves_no_copy_in_the_outbox(runner: CliRunner, root: Path) -> None:
    """A site without [smtp] keeps each message it sends as a file named after its recipient:
    forgetting someone deletes theirs, and only theirs."""
    for address in (ANN, BOB):
        assert_clean_exit(invoke(runner, "--site", root, "subscribers", "add", address), 0)
    assert_clean_exit(invoke(runner, "--site", root, "run", "--now", NOW_ARG), 0)
    outbox = load(root).state_dir / "outbox"

    def copies(address: str) -> list[Path]:
        return [p for p in outbox.rglob("*.eml") if address.encode() in p.read_bytes()]

    assert copies(ANN) and copies(BOB)  # the check can fail
    assert_clean_exit(invoke(runner, "--site", root, "subscribers", "forget", ANN.upper()), 0)
    assert copies(ANN) == []
    assert copies(BOB)
