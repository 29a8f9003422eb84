"""`feedpub inbox` against a real IMAP server: Debian's dovecot on 127.0.0.1 (tests/dovecot.py),
over TLS verified with [inbox] ca_file. Messages are APPENDed, acted on, and moved with MOVE,
or COPY and UID EXPUNGE when the server has no MOVE, never deleted unread; kill -9 mid-run and
a re-run act on each message exactly once; a server that is down, a wrong password and an
unverified certificate are clear errors."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import dovecot
import pytest
from bounce_mail import (
    SETTINGS_EXTRA,
    address,
    arf,
    dsn,
    out_of_office,
    people,
    sent_site,
    subscribers,
    unsubscribe_mail,
)
from click.testing import CliRunner
from helpers import (
    CHILD_ENV,
    FEEDPUB,
    MAIL_ARTICLES,
    NOW_ARG,
    MakeSite,
    assert_clean_exit,
    free_port,
    invoke,
    wait_until,
)

from feedpub.config import Site
from feedpub.delivery.imap import ImapSource
from feedpub.errors import InboxError
from feedpub.store.state import State

PASSWORD_ENV = "IMAP_TEST_PASSWORD"
ENV: dict[str, str | None] = {PASSWORD_ENV: dovecot.PASSWORD}  # for invoke()
CHILD = CHILD_ENV | {PASSWORD_ENV: dovecot.PASSWORD}  # for a child process


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[dovecot.Dovecot]:
    """A fresh dovecot; indirect parameters name what it announces after login."""
    running = dovecot.start(getattr(request, "param", ""))
    yield running
    running.stop()


def inbox_settings(server: dovecot.Dovecot, **changes: str | int) -> str:
    values: dict[str, str | int] = {
        "host": "127.0.0.1",
        "port": server.port,
        "username": server.user,
        "password_env": PASSWORD_ENV,
        "ca_file": str(server.ca_file),
    }
    values |= changes
    lines = [f"{k} = {v}" if isinstance(v, int) else f'{k} = "{v}"' for k, v in values.items()]
    return "\n[inbox]\n" + "\n".join(lines) + "\n"


def imap_site(
    make_site: MakeSite, server: dovecot.Dovecot, count: int, **changes: str | int
) -> Site:
    return sent_site(
        make_site(MAIL_ARTICLES, extra=SETTINGS_EXTRA + inbox_settings(server, **changes)), count
    )


def statuses(site: Site) -> dict[str, str]:
    with State.open(site.state_dir) as state:
        return {s.email: s.status for s in state.subscribers.iter()}


def events(site: Site) -> list[tuple[str, str]]:
    with State.open(site.state_dir) as state:
        rows = state.db.execute(
            "SELECT s.email, e.kind FROM events e JOIN subscribers s ON s.id = e.subscriber"
        ).fetchall()
    return sorted((row[0], row[1]) for row in rows)


def received(site: Site) -> int:
    with State.open(site.state_dir) as state:
        return int(state.db.execute("SELECT count(*) FROM received").fetchone()[0])


def deleted_in_inbox(server: dovecot.Dovecot) -> int:
    conn = server.client()
    try:
        conn.select("INBOX", readonly=True)
        _, found = conn.uid("SEARCH", "DELETED")
        return len(found[0].split()) if found and found[0] else 0
    finally:
        conn.logout()


def mixed(site: Site) -> list[bytes]:
    who = subscribers(site)
    r = [f"reader{i:04}@example.net" for i in range(5)]
    return [
        dsn(address(site, who[r[0]]), r[0], "5.1.1"),
        dsn(address(site, who[r[1]]), r[1], "4.2.2", serial=1),
        arf(address(site, who[r[2]]), r[2]),
        unsubscribe_mail(address(site, who[r[3]], "u"), r[3]),
        out_of_office(address(site, who[r[4]]), r[4]),
        b"Subject: no idea\r\n\r\nwhat this is\r\n",
    ]


@pytest.mark.parametrize(
    "server",
    ["", "IMAP4rev1 LITERAL+ UIDPLUS", "IMAP4rev1 LITERAL+"],
    ids=["move", "copy-and-uid-expunge", "copy-only"],
    indirect=True,
)
def test_messages_are_acted_on_and_moved_never_deleted_unread(
    make_site: MakeSite, server: dovecot.Dovecot, runner: CliRunner, request: pytest.FixtureRequest
) -> None:
    site = imap_site(make_site, server, 5)
    messages = mixed(site)
    server.append(messages)
    result = invoke(runner, "--site", site.root, "inbox", env=ENV)
    assert_clean_exit(result, 0)
    assert result.stdout == (
        "inbox: 6 read, 1 hard, 1 soft, 1 complaint, 1 unsubscribe, 1 auto-reply, 1 unknown\n"
    )
    assert statuses(site) == {
        "reader0000@example.net": "bounced",
        "reader0001@example.net": "active",
        "reader0002@example.net": "complained",
        "reader0003@example.net": "unsubscribed",
        "reader0004@example.net": "active",
    }
    assert server.folder("INBOX") == []
    processed = server.folder("feedpub.processed")
    assert sorted(processed) == sorted(messages[:5])
    assert server.folder("feedpub.unknown") == [messages[5]]
    copy_only = request.node.callspec.id == "copy-only"
    # Without UIDPLUS an EXPUNGE would remove what others flagged too: the originals stay,
    # flagged \Deleted, for the owner's client to expunge.
    assert deleted_in_inbox(server) == (6 if copy_only else 0)
    again = invoke(runner, "--site", site.root, "inbox", env=ENV)
    assert_clean_exit(again, 0)
    assert again.stdout.startswith("inbox: 0 read,")


def test_a_message_put_back_after_it_was_acted_on_changes_nothing_more(
    make_site: MakeSite, server: dovecot.Dovecot, runner: CliRunner
) -> None:
    """As a crash between the commit and the MOVE leaves it: read again, only moved."""
    site = imap_site(make_site, server, 5)
    messages = mixed(site)
    server.append(messages)
    assert_clean_exit(invoke(runner, "--site", site.root, "inbox", env=ENV), 0)
    before = events(site)
    server.append(messages)
    again = invoke(runner, "--site", site.root, "inbox", env=ENV)
    assert_clean_exit(again, 0)
    assert again.stdout.endswith("(6 acted on before)\n")
    assert events(site) == before
    assert server.folder("INBOX") == []
    assert len(server.folder("feedpub.processed")) == 10


# Two trials by default, six with -m slow.
TRIALS = [pytest.param(n, marks=[pytest.mark.slow] if n >= 2 else []) for n in range(6)]


@pytest.mark.parametrize("seed", TRIALS)
def test_kill_9_mid_run_then_a_rerun_acts_on_each_message_once(
    make_site: MakeSite, server: dovecot.Dovecot, seed: int
) -> None:
    count = 400
    site = imap_site(make_site, server, count)
    who = subscribers(site)
    server.append(
        [
            dsn(address(site, who[email]), email, "5.1.1", serial=i)
            for i, (email, _) in enumerate(people(count))
        ]
    )
    command = [str(FEEDPUB), "--site", str(site.root), "inbox"]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=CHILD)
    rng = random.Random(seed)
    # The state records a batch (200) at a time: past a random batch, then a random moment
    # into the next one (fetching, classifying, committing or moving it).
    after, jitter = rng.randrange(count), rng.uniform(0, 0.5)
    try:
        wait_until(lambda: received(site) >= after or child.poll() is not None, timeout=120)
        time.sleep(jitter)  # a random moment, not a wait for something
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate()
    done = subprocess.run(command, capture_output=True, env=CHILD, check=False)
    assert done.returncode == 0, done.stderr
    assert events(site) == sorted((email, "hard") for email, _ in people(count))
    assert received(site) == count
    assert set(statuses(site).values()) == {"bounced"}
    assert server.folder("INBOX") == []
    assert len(server.folder("feedpub.processed")) == count


def test_run_reads_the_imap_inbox(
    make_site: MakeSite, server: dovecot.Dovecot, runner: CliRunner
) -> None:
    site = imap_site(make_site, server, 5)
    server.append(mixed(site))
    result = invoke(runner, "--site", site.root, "run", "--now", NOW_ARG, env=ENV)
    assert_clean_exit(result, 0)
    assert "inbox: 6 read, 1 hard, 1 soft, 1 complaint," in result.stdout
    assert statuses(site)["reader0000@example.net"] == "bounced"


def test_a_uidvalidity_change_mid_run_stops_it_and_the_next_run_reads_again(
    make_site: MakeSite, server: dovecot.Dovecot, runner: CliRunner
) -> None:
    """The UIDs read before a UIDVALIDITY change name other messages (RFC 3501 2.3.1.1): the
    run stops there, trying later (dovecot ends the session), moving nothing by those UIDs,
    and the next run reads the folder afresh."""
    site = imap_site(make_site, server, 5)
    messages = mixed(site)
    server.append(messages)
    source = ImapSource(site, env=CHILD)
    try:
        reading = source.messages()
        next(reading)
        server.set_uidvalidity(int(server.uidvalidity()) + 1000)
        with pytest.raises(InboxError) as caught:
            list(reading)
        assert caught.value.temporary
    finally:
        source.close()
    assert len(server.folder("INBOX")) == 6
    result = invoke(runner, "--site", site.root, "inbox", env=ENV)
    assert_clean_exit(result, 0)
    assert result.stdout.startswith("inbox: 6 read, 1 hard,")
    assert server.folder("INBOX") == []


# -- what goes wrong -----------------------------------------------------------------------


def test_a_wrong_password_is_named(
    make_site: MakeSite, server: dovecot.Dovecot, runner: CliRunner
) -> None:
    site = imap_site(make_site, server, 1)
    result = invoke(runner, "--site", site.root, "inbox", env={PASSWORD_ENV: "wrong"})
    assert_clean_exit(result, 1)
    assert (
        f"Error: the IMAP server 127.0.0.1:{server.port} refused the login of bounces: "
        in result.stderr
    )
    assert f"check [inbox] username and the password in {PASSWORD_ENV}" in result.stderr
    assert "wrong" not in result.output  # the password is never shown
    missing = invoke(runner, "--site", site.root, "inbox")
    assert_clean_exit(missing, 1)
    assert f"[inbox] password_env names {PASSWORD_ENV}, which is not set" in missing.stderr


def test_a_certificate_that_does_not_verify_is_refused(
    make_site: MakeSite, server: dovecot.Dovecot, runner: CliRunner
) -> None:
    """Without its CA in ca_file, the self-signed certificate does not verify against the
    system's CAs: nothing is sent to the server, not even the login."""
    site = imap_site(make_site, server, 1, ca_file="")
    logins = server.log().count("Login: user=<bounces>")  # the fixture's, to see it is up
    result = invoke(runner, "--site", site.root, "inbox", env=ENV)
    assert_clean_exit(result, 1)
    assert f"the IMAP server 127.0.0.1:{server.port}'s certificate does not verify" in (
        result.stderr
    )
    assert "give its CA in [inbox] ca_file" in result.stderr
    assert server.log().count("Login: user=<bounces>") == logins


def test_a_ca_file_that_is_not_one_is_named(
    make_site: MakeSite, server: dovecot.Dovecot, runner: CliRunner, tmp_path: Path
) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate\n")
    site = imap_site(make_site, server, 1, ca_file=str(tmp_path / "ca.pem"))
    result = invoke(runner, "--site", site.root, "inbox", env=ENV)
    assert_clean_exit(result, 1)
    assert f"[inbox] ca_file {tmp_path / 'ca.pem'}: cannot be read as PEM certificates" in (
        result.stderr
    )


def test_a_server_that_is_down_is_try_later(
    make_site: MakeSite, server: dovecot.Dovecot, runner: CliRunner
) -> None:
    site = imap_site(make_site, server, 1, port=free_port())
    result = invoke(runner, "--site", site.root, "inbox", env=ENV)
    assert_clean_exit(result, 75)
    assert "cannot reach the IMAP server 127.0.0.1:" in result.stderr


def test_a_folder_the_server_lacks_is_named(
    make_site: MakeSite, server: dovecot.Dovecot, runner: CliRunner
) -> None:
    site = imap_site(make_site, server, 1, folder="Bounces")
    result = invoke(runner, "--site", site.root, "inbox", env=ENV)
    assert_clean_exit(result, 1)
    assert f"the IMAP server 127.0.0.1:{server.port} has no folder Bounces to read" in (
        result.stderr
    )
    assert "check [inbox] folder" in result.stderr


def test_starttls_on_the_tls_port_times_out_naming_the_setting(
    make_site: MakeSite, server: dovecot.Dovecot, runner: CliRunner
) -> None:
    """The server waits for a TLS handshake, the client for a greeting: [inbox] timeout."""
    site = imap_site(make_site, server, 1, security="starttls", timeout=2)
    result = invoke(runner, "--site", site.root, "inbox", env=ENV)
    assert_clean_exit(result, 75)
    assert (
        f"the IMAP server 127.0.0.1:{server.port} did not answer within 2 s ([inbox] timeout)"
        in result.stderr
    )
