"""`feedpub inbox` over a Maildir, an mbox file and standard input (the MTA's pipe), and
`feedpub run` reading [inbox]: each message classified and acted on once, moved after the
commit, re-runs and kill -9 changing nothing more, bad files counted as unknown, the [inbox]
settings' checks. IMAP against a real dovecot is tests/test_inbox_imap.py."""

from __future__ import annotations

import hashlib
import io
import os
import random
import re
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from bounce_mail import (
    BOUNCE_ADDRESS,
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
from click.testing import CliRunner, Result
from helpers import (
    CHILD_ENV,
    FEEDPUB,
    MAIL_ARTICLES,
    NEWSLETTER,
    NOW,
    NOW_ARG,
    REPO,
    MakeSite,
    Relay,
    assert_clean_exit,
    deliveries,
    feedpub,
    invoke,
    load,
    make_issue,
    smtp_settings,
    subscribe,
    wait_until,
)

from feedpub.cli import main
from feedpub.config import Site
from feedpub.delivery.inbox import MIN_PARALLEL, read
from feedpub.delivery.mailboxes import MaildirSource, MboxSource, StreamSource
from feedpub.errors import ConfigError
from feedpub.store.state import State


def make_maildir(folder: Path) -> Path:
    for part in ("new", "cur", "tmp"):
        (folder / part).mkdir(parents=True, exist_ok=True)
    return folder


def deliver(maildir: Path, messages: list[bytes], prefix: str = "m") -> list[Path]:
    """Each message as a delivery agent leaves it: written in tmp/, renamed into new/."""
    paths = []
    for number, data in enumerate(messages):
        name = f"1764580{number:06}.{prefix}{number}.mx.example.net"
        (maildir / "tmp" / name).write_bytes(data)
        os.rename(maildir / "tmp" / name, maildir / "new" / name)
        paths.append(maildir / "new" / name)
    return paths


def folder_files(maildir: Path, folder: str) -> list[Path]:
    cur = maildir / f".feedpub.{folder}" / "cur"
    return sorted(cur.iterdir()) if cur.is_dir() else []


def waiting(maildir: Path) -> list[Path]:
    return sorted([*(maildir / "new").iterdir(), *(maildir / "cur").iterdir()])


def statuses(site: Site) -> dict[str, str]:
    with State.open(site.state_dir) as state:
        return {s.email: s.status for s in state.subscribers.iter()}


def events(site: Site) -> list[tuple[str, str, int | None]]:
    """(address, kind, issue) of every event, in the order recorded."""
    with State.open(site.state_dir) as state:
        rows = state.db.execute(
            "SELECT s.email, e.kind, e.issue FROM events e JOIN subscribers s"
            " ON s.id = e.subscriber ORDER BY e.id"
        ).fetchall()
    return [(row[0], row[1], row[2]) for row in rows]


def received(site: Site) -> int:
    with State.open(site.state_dir) as state:
        return int(state.db.execute("SELECT count(*) FROM received").fetchone()[0])


@pytest.fixture
def site(make_site: MakeSite) -> Site:
    return sent_site(make_site(MAIL_ARTICLES, extra=SETTINGS_EXTRA), 10)


def mixed(site: Site) -> tuple[list[bytes], dict[str, str]]:
    """One message of each kind, and the status each reader should end in."""
    who = subscribers(site)
    r = [f"reader{i:04}@example.net" for i in range(10)]
    messages = [
        dsn(address(site, who[r[0]]), r[0], "5.1.1"),
        dsn(address(site, who[r[1]]), r[1], "4.2.2", serial=1),
        arf(address(site, who[r[2]]), r[2]),
        unsubscribe_mail(address(site, who[r[3]], "u"), r[3]),
        out_of_office(address(site, who[r[4]]), r[4]),
        b"\x00\x01garbage that is no mail at all\xff\xfe",
    ]
    expected = {email: "active" for email in r}
    expected |= {r[0]: "bounced", r[2]: "complained", r[3]: "unsubscribed"}
    return messages, expected


# -- a Maildir -----------------------------------------------------------------------------


def test_a_maildir_is_read_acted_on_and_moved(site: Site, tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path / "Maildir")
    messages, expected = mixed(site)
    deliver(maildir, messages)
    with MaildirSource(maildir) as source:
        report = read(site, source, NOW)
    assert statuses(site) == expected
    assert report.line() == (
        "inbox: 6 read, 1 hard, 1 soft, 1 complaint, 1 unsubscribe, 1 auto-reply, 1 unknown"
    )
    assert waiting(maildir) == []
    assert len(folder_files(maildir, "processed")) == 5
    [unknown] = folder_files(maildir, "unknown")
    assert unknown.read_bytes() == messages[-1]
    # Maildir++: a folder a mail client (Dovecot, Courier) shows as feedpub/processed, each
    # message in cur/ marked seen.
    assert (maildir / ".feedpub.processed" / "maildirfolder").exists()
    assert all(p.name.endswith(":2,S") for p in folder_files(maildir, "processed"))
    assert sorted((e, k) for e, k, _ in events(site)) == [
        ("reader0000@example.net", "hard"),
        ("reader0001@example.net", "soft"),
        ("reader0002@example.net", "complaint"),
        ("reader0003@example.net", "unsubscribe"),
    ]


def test_a_crash_between_the_commit_and_the_move_changes_nothing_more(
    site: Site, tmp_path: Path
) -> None:
    """The messages acted on are put back where they were, as a kill -9 after the commit and
    before the renames leaves them: the next run only moves them."""
    maildir = make_maildir(tmp_path / "Maildir")
    messages, expected = mixed(site)
    deliver(maildir, messages)
    with MaildirSource(maildir) as source:
        read(site, source, NOW)
    recorded = events(site)
    for path in [*folder_files(maildir, "processed"), *folder_files(maildir, "unknown")]:
        path.unlink()
    deliver(maildir, messages, prefix="again")
    with MaildirSource(maildir) as source:
        report = read(site, source, NOW)
    assert events(site) == recorded
    assert statuses(site) == expected
    assert report.already == 6
    assert report.line().endswith("(6 acted on before)")
    assert waiting(maildir) == []
    assert len(folder_files(maildir, "processed")) == 5
    assert len(folder_files(maildir, "unknown")) == 1


def test_the_same_message_twice_in_one_maildir_is_acted_on_once(site: Site, tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path / "Maildir")
    who = subscribers(site)
    bounce = dsn(address(site, who["reader0005@example.net"]), "reader0005@example.net")
    junk = b"Subject: ?\r\n\r\n?\r\n"
    deliver(maildir, [bounce, junk, bounce, junk, bounce])
    with MaildirSource(maildir) as source:
        report = read(site, source, NOW)
    assert [k for _, k, _ in events(site)] == ["hard"]
    assert (report.read, report.hard, report.unknown, report.already) == (5, 1, 1, 3)
    # Each copy goes where the first went.
    assert len(folder_files(maildir, "processed")) == 3
    assert len(folder_files(maildir, "unknown")) == 2


def test_bad_files_in_a_maildir_are_unknown_and_never_stop_the_rest(
    site: Site, tmp_path: Path
) -> None:
    maildir = make_maildir(tmp_path / "Maildir")
    who = subscribers(site)
    r6 = "reader0006@example.net"
    big = dsn(address(site, who[r6]), r6, padding="x" * 76 + "\r\n")
    # A bounce of 20 MB (the original attached whole) is still a bounce.
    attachment = ("A" * 76 + "\r\n") * (20 * 2**20 // 78)
    huge_bounce = dsn(
        address(site, who["reader0007@example.net"]),
        "reader0007@example.net",
        serial=7,
        returned=attachment,
    )
    bad = [
        b"",
        os.urandom(4096),
        b"\r\n" * 10,
        b"From: x\r\n" + b"X-Long: " + b"y" * 2_000_000 + b"\r\n\r\nbody",
        b"Content-Type: multipart/mixed; boundary=a\r\n\r\n" + b"--a\r\n" * 50_000,
        ("Subject: =?utf-8?b?" + "!" * 1000 + "?=\r\n\r\n").encode(),
        b"MIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n" * 2000,
    ]
    deliver(maildir, [*bad, big, huge_bounce])
    (maildir / "new" / "a-folder").mkdir()
    (maildir / "new" / "a-link").symlink_to(REPO / "README.md")
    os.mkfifo(maildir / "new" / "a-fifo")
    # Hashed whole, and only its first megabyte kept, as much as classify reads.
    with (maildir / "new" / "too-big").open("wb") as file:
        file.truncate(65 * 2**20)
    with MaildirSource(maildir) as source:
        report = read(site, source, NOW)
    assert statuses(site)[r6] == "bounced"
    assert statuses(site)["reader0007@example.net"] == "bounced"
    assert (report.read, report.hard, report.unknown) == (13, 2, 11)
    assert waiting(maildir) == []
    assert len(folder_files(maildir, "unknown")) == 11
    assert (REPO / "README.md").is_file()  # the link moved, never what it leads to
    warned = "\n".join(report.warnings)
    for name in ("a-folder", "a-fifo", "a-link"):
        assert name in warned


def test_a_file_that_cannot_be_read_stays_and_the_rest_go_on(site: Site, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file: a mode of 000 stops no one")
    maildir = make_maildir(tmp_path / "Maildir")
    who = subscribers(site)
    [locked, _] = deliver(
        maildir,
        [b"Subject: private\r\n\r\nx", dsn(address(site, who["reader0001@example.net"]), "x")],
    )
    locked.chmod(0)
    with MaildirSource(maildir) as source:
        report = read(site, source, NOW)
    assert locked.exists()
    assert f"{locked}: cannot be read (Permission denied); left where it is" in report.warnings


def test_messages_that_cannot_be_moved_are_named_once_and_moved_next_time(
    site: Site, tmp_path: Path
) -> None:
    maildir = make_maildir(tmp_path / "Maildir")
    messages, expected = mixed(site)
    deliver(maildir, messages)
    (maildir / ".feedpub.processed").write_text("in the way")
    with MaildirSource(maildir) as source:
        report = read(site, source, NOW)
    assert statuses(site) == expected
    [warning] = report.warnings
    assert re.fullmatch(
        r".*/new/\S+ and 4 more: acted on but not moved \(.+\); the next run moves them and "
        r"changes nothing more",
        warning,
    ), warning
    recorded = events(site)
    (maildir / ".feedpub.processed").unlink()
    with MaildirSource(maildir) as source:
        again = read(site, source, NOW)
    assert (again.read, again.already) == (5, 5)
    assert events(site) == recorded
    assert waiting(maildir) == []


def kill_trial(site: Site, maildir: Path, seed: int) -> None:
    """``feedpub inbox --maildir`` killed with -9 at a random moment after its first commit,
    then run again to the end."""
    pace = random.Random(seed)
    child = subprocess.Popen(
        [str(FEEDPUB), "--site", str(site.root), "inbox", "--maildir", str(maildir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=CHILD_ENV,
    )
    # The state records a batch (200) at a time: past a random batch, then a random moment
    # into the next one (reading, classifying, committing or renaming it).
    after, jitter = pace.randrange(1000), pace.uniform(0, 0.3)
    try:
        wait_until(lambda: received(site) >= after or child.poll() is not None, timeout=120)
        time.sleep(jitter)  # a random moment, not a wait for something
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate()
    done = subprocess.run(
        [str(FEEDPUB), "--site", str(site.root), "inbox", "--maildir", str(maildir)],
        capture_output=True,
        env=CHILD_ENV,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    "seed", [pytest.param(n, marks=pytest.mark.slow if n > 1 else ()) for n in range(8)]
)
def test_kill_9_mid_run_then_a_rerun_acts_on_each_message_once(
    make_site: MakeSite, tmp_path: Path, seed: int
) -> None:
    site = sent_site(make_site(MAIL_ARTICLES, extra=SETTINGS_EXTRA), 1000)
    who = subscribers(site)
    maildir = make_maildir(tmp_path / "Maildir")
    messages = [
        dsn(address(site, who[email]), email, "5.1.1" if i % 2 else "4.4.1", serial=i)
        for i, (email, _) in enumerate(people(1000))
    ]
    deliver(maildir, messages)
    kill_trial(site, maildir, seed)
    kinds = events(site)
    assert sorted(email for email, _, _ in kinds) == sorted(email for email, _ in people(1000))
    assert received(site) == 1000
    assert waiting(maildir) == []
    assert len(folder_files(maildir, "processed")) == 1000
    bounced = [e for e, s in statuses(site).items() if s == "bounced"]
    assert len(bounced) == 500


def test_a_maildir_classified_by_several_processes_acts_as_one_message_at_a_time(
    make_site: MakeSite, tmp_path: Path
) -> None:
    """A batch of more than inbox.MIN_PARALLEL messages is classified by one process per core
    (on a machine of one core, by one): the same events, the same statuses, the same counts
    as the messages handed over one by one, as the pipe does."""
    sites = [
        sent_site(make_site(MAIL_ARTICLES, extra=SETTINGS_EXTRA, folder=name), 80)
        for name in ("many", "one-by-one")
    ]
    batches = []
    for site in sites:
        who = subscribers(site)
        # The two sites' secrets differ: the same messages, each with its own site's tokens.
        # One message a reader: what the rules make of two depends on their order, which a
        # Maildir does not keep.
        batch = []
        for i, (email, _) in enumerate(people(80)):
            kind = i % 5
            batch.append(
                dsn(address(site, who[email]), email, "5.1.1", i)
                if kind == 0
                else dsn(address(site, who[email]), email, "4.2.2", i)
                if kind == 1
                else arf(address(site, who[email]), email)
                if kind == 2
                else unsubscribe_mail(address(site, who[email], "u"), email)
                if kind == 3
                else b"\x00" * i
            )
        batches.append(batch)
    assert len(batches[0]) > MIN_PARALLEL
    maildir = make_maildir(tmp_path / "Maildir")
    deliver(maildir, batches[0])
    with MaildirSource(maildir) as source:
        many = read(sites[0], source, NOW)
    singles = []
    for data in batches[1]:
        with StreamSource(io.BytesIO(data)) as stream:
            singles.append(read(sites[1], stream, NOW))
    assert statuses(sites[0]) == statuses(sites[1])
    assert sorted(events(sites[0])) == sorted(events(sites[1]))
    for name in ("read", "hard", "soft", "complaints", "unsubscribes", "unknown", "already"):
        assert getattr(many, name) == sum(getattr(one, name) for one in singles), name


# -- an mbox file --------------------------------------------------------------------------


def test_an_mbox_is_only_read_and_reading_it_again_changes_nothing(
    site: Site, tmp_path: Path
) -> None:
    messages, expected = mixed(site)
    mbox = tmp_path / "bounces.mbox"
    mbox.write_bytes(
        b"".join(
            b"From MAILER-DAEMON Fri Nov 27 12:00:00 2026\n"
            + data.replace(b"\r\n", b"\n").replace(b"\nFrom ", b"\n>From ")
            + b"\n"
            for data in messages
        )
    )
    before = hashlib.sha256(mbox.read_bytes()).hexdigest()
    with MboxSource(mbox) as source:
        first = read(site, source, NOW)
    assert statuses(site) == expected
    assert (first.read, first.hard, first.unknown) == (6, 1, 1)
    recorded = events(site)
    with MboxSource(mbox) as source:
        second = read(site, source, NOW)
    assert events(site) == recorded
    assert (second.read, second.already) == (6, 6)
    assert hashlib.sha256(mbox.read_bytes()).hexdigest() == before


# -- standard input: an MTA's pipe ---------------------------------------------------------


def test_the_pipe_acts_on_one_message_and_exits_0(
    site: Site, runner: CliRunner, tmp_path: Path
) -> None:
    who = subscribers(site)
    bounce = dsn(address(site, who["reader0008@example.net"]), "reader0008@example.net")
    # Postfix's pipe with flag F, procmail and others put an mbox "From " line first.
    envelope = b"From MAILER-DAEMON  Fri Nov 27 12:00:00 2026\n"
    result = invoke_with(runner, site, envelope + bounce)
    assert_clean_exit(result, 0)
    assert result.stdout.startswith("inbox: 1 read, 1 hard, 0 soft,")
    assert statuses(site)["reader0008@example.net"] == "bounced"
    # The same message from a Maildir later: the same key, nothing more done.
    maildir = make_maildir(tmp_path / "Maildir")
    deliver(maildir, [bounce])
    again = invoke(runner, "--site", site.root, "inbox", "--maildir", maildir)
    assert_clean_exit(again, 0)
    assert "(1 acted on before)" in again.stdout
    assert len(events(site)) == 1


def invoke_with(runner: CliRunner, site: Site, data: bytes) -> Result:
    """``feedpub inbox -`` with ``data`` on standard input."""
    return runner.invoke(main, ["--site", str(site.root), "inbox", "-"], input=data)


@pytest.mark.parametrize(
    "data",
    [b"", os.urandom(10_000), b"From: \xff\xfe\r\n\r\n", b"Subject: x\r\n" * 100_000],
    ids=["empty", "random", "bad-encoding", "many-headers"],
)
def test_a_bad_message_on_the_pipe_is_unknown_and_exits_0(
    site: Site, runner: CliRunner, data: bytes
) -> None:
    result = invoke_with(runner, site, data)
    assert_clean_exit(result, 0)
    assert "1 unknown" in result.stdout
    assert events(site) == []


def test_the_pipe_exits_75_while_the_state_is_held_and_the_retry_acts(
    site: Site, tmp_path: Path
) -> None:
    who = subscribers(site)
    bounce = dsn(address(site, who["reader0009@example.net"]), "reader0009@example.net")
    holder = sqlite3.connect(site.state_dir / "state.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    env = {**CHILD_ENV, "FEEDPUB_BUSY_TIMEOUT": "0.5"}
    command = [str(FEEDPUB), "--site", str(site.root), "inbox", "-"]
    try:
        busy = subprocess.run(command, input=bounce, capture_output=True, env=env, check=False)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert busy.returncode == 75, busy.stderr
    assert b"Traceback" not in busy.stderr
    assert statuses(site)["reader0009@example.net"] == "active"
    retry = subprocess.run(command, input=bounce, capture_output=True, env=env, check=False)
    assert retry.returncode == 0, retry.stderr
    assert statuses(site)["reader0009@example.net"] == "bounced"


def test_the_pipe_exits_75_when_the_settings_are_broken(site: Site, runner: CliRunner) -> None:
    """The MTA keeps the message (75) rather than bouncing it (1) while the settings are
    fixed."""
    toml = site.root / "feedpub.toml"
    toml.write_text(toml.read_text() + "\n[inbox]\nsecurity = 'tls'\n")
    result = invoke_with(runner, site, b"Subject: x\r\n\r\n")
    assert_clean_exit(result, 75)
    assert "[inbox] security 'tls' is not one of ssl, starttls, none" in result.stderr
    assert "the message waits at the MTA" in result.stderr


def test_twenty_pipes_in_parallel_while_a_send_of_500_runs(
    make_site: MakeSite, start_relay: Callable[..., Relay]
) -> None:
    relay = start_relay()
    relay.handler.delay = 0.02  # a send of some seconds, for the pipes to land in
    bounce_setting = f'bounce_address = "{BOUNCE_ADDRESS}"\n'
    root = make_site(MAIL_ARTICLES, extra=NEWSLETTER + smtp_settings(relay.port, 2, bounce_setting))
    subscribe(root, people(500))
    make_issue(root)
    site = load(root)
    who = subscribers(site)
    chosen = [f"reader{i:04}@example.net" for i in range(0, 500, 25)]
    messages = [dsn(address(site, who[e]), e, serial=n) for n, e in enumerate(chosen)]
    sending = feedpub(root, "send", "1", "--now", NOW_ARG)
    wait_until(lambda: relay.handler.count() >= 10, sending)
    pipes = [
        subprocess.Popen(
            [str(FEEDPUB), "--site", str(root), "inbox", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=CHILD_ENV,
        )
        for _ in messages
    ]
    with ThreadPoolExecutor(len(pipes)) as pool:  # each fed and read at once, side by side
        results = list(pool.map(lambda p, d: p.communicate(d, timeout=120), pipes, messages))
    for pipe, (out, err) in zip(pipes, results, strict=True):
        assert pipe.returncode == 0, err
        assert out.startswith(b"inbox: 1 read, 1 hard,"), out
    still_sending = sending.poll() is None
    out, err = sending.communicate(timeout=120)
    assert sending.returncode == 0, err
    assert still_sending or relay.handler.count() == 500, "the send ended before the pipes"
    # Every bounce counted, once; the send's counts exact: what the relay took is what is
    # recorded sent, nobody twice, and no one who bounced was sent to afterwards.
    assert sorted(e for e, _, _ in events(site)) == sorted(chosen)
    assert all(statuses(site)[e] == "bounced" for e in chosen)
    copies = relay.handler.copies()
    assert max(copies.values()) == 1
    rows = deliveries(root)
    assert len(rows) == 500
    assert sum(1 for status, *_ in rows.values() if status == "sent") == sum(copies.values())
    for email, (status, *_) in rows.items():
        assert (status == "sent") == (email in copies), email


# -- the command line and feedpub run ------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-", "--maildir", "x"], "give one source, not - and --maildir"),
        (["--maildir", "x", "--mbox", "y"], "give one source, not --maildir and --mbox"),
        (["inbox.mbox"], "give - to read one message on standard input"),
        ([], "nothing to read: give --maildir DIR, --mbox FILE or -"),
    ],
    ids=["pipe-and-maildir", "maildir-and-mbox", "a-file", "nothing"],
)
def test_usage_mistakes_exit_2(
    site: Site, runner: CliRunner, args: list[str], message: str
) -> None:
    result = invoke(runner, "--site", site.root, "inbox", *args)
    assert_clean_exit(result, 2)
    assert message in result.stderr


def test_a_folder_that_is_no_maildir_is_named(
    site: Site, runner: CliRunner, tmp_path: Path
) -> None:
    (tmp_path / "mail").mkdir()
    result = invoke(runner, "--site", site.root, "inbox", "--maildir", tmp_path / "mail")
    assert_clean_exit(result, 1)
    assert result.stderr == (
        f"Error: {tmp_path / 'mail'} is not a Maildir: it has no new/ or cur/ folder; give "
        "the Maildir itself (the folder holding new/, cur/ and tmp/)\n"
    )
    missing = invoke(runner, "--site", site.root, "inbox", "--mbox", tmp_path / "none.mbox")
    assert_clean_exit(missing, 1)
    assert "none.mbox is not a file; give an mbox file" in missing.stderr


def test_run_reads_the_inbox_before_the_next_issue(
    site: Site, runner: CliRunner, tmp_path: Path
) -> None:
    maildir = make_maildir(site.root / "bounces")
    messages, expected = mixed(site)
    deliver(maildir, messages)
    toml = site.root / "feedpub.toml"
    toml.write_text(toml.read_text() + '\n[inbox]\nmaildir = "bounces"\n')
    result = invoke(runner, "--site", site.root, "run", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    assert (
        "inbox: 6 read, 1 hard, 1 soft, 1 complaint, 1 unsubscribe, 1 auto-reply, 1 unknown"
        in result.stdout
    )
    assert statuses(site) == expected


def test_run_goes_on_when_the_imap_server_is_down(site: Site, runner: CliRunner) -> None:
    toml = site.root / "feedpub.toml"
    toml.write_text(
        toml.read_text()
        + '\n[inbox]\nhost = "127.0.0.1"\nport = 1\nusername = "u"\npassword_env = "PW"\n'
    )
    result = invoke(runner, "--site", site.root, "run", "--now", NOW_ARG, env={"PW": "x"})
    assert_clean_exit(result, 75)
    assert "Built " in result.stdout
    assert "warning: the inbox was not read: cannot reach the IMAP server 127.0.0.1:1" in (
        result.stderr
    )


# -- the [inbox] settings ------------------------------------------------------------------

IMAP = '[inbox]\nhost = "imap.example.org"\nusername = "u"\npassword_env = "PW"\n'


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("[inbox]\nsecurity = 'tls'\n", "[inbox] security 'tls' is not one of ssl, starttls, none"),
        ("[inbox]\nport = 70000\n", "[inbox] port must be a port number from 1 to 65535"),
        ("[inbox]\nhost = 'imap example'\n", "[inbox] host 'imap example' is not a host name"),
        ('[inbox]\nhost = "imap.example.org\\nX-Evil: 1"\n', "[inbox] host 'imap.example.org\\n"),
        ("[inbox]\npassword_env = 'hunter2!'\n", "[inbox] password_env must name an environment"),
        ("[inbox]\nfolder = 'a\"b'\n", "is not a folder name feedpub can use"),
        ("[inbox]\nfolder = 'Bounces/'\n", "is not a folder name feedpub can use"),
        ("[inbox]\nfolder = 'caf\u00e9'\n", "is not a folder name feedpub can use"),
        ("[inbox]\nfolder = 'a*'\n", "is not a folder name feedpub can use"),
        ("[inbox]\nunknown_folder = ''\n", "is not a folder name feedpub can use"),
        ("[inbox]\nprocessed = 'x'\n", "unknown setting 'processed' in [inbox]"),
        ("[inbox]\nmaildir = 5\n", "[inbox] maildir must be a string in quotes, not a number"),
        ("[inbox]\nhost = 'imap.example.org'\n", "[inbox] host is set but no username"),
        (
            "[inbox]\nhost = 'imap.example.org'\nusername = 'u'\n",
            "[inbox] host is set but no password_env",
        ),
        (IMAP + "security = 'none'\n", '[inbox] security = "none" would send the password'),
        (
            IMAP.replace("imap.example.org", "127.0.0.1") + "security = 'none'\n",
            '[inbox] security = "none" would send the password',
        ),
        (IMAP + "processed_folder = 'inbox'\n", "must be three different folders"),
        ("[inbox]\nmaildir = '" + "m" * 5000 + "'\n", "[inbox] maildir is 5000 characters"),
    ],
    ids=lambda value: re.sub(r"\W+", "-", value)[:40],
)
def test_bad_inbox_settings_are_errors_naming_the_setting(
    make_site: MakeSite, section: str, message: str
) -> None:
    root = make_site(extra="\n" + section)
    with pytest.raises(ConfigError) as caught:
        load(root)
    [problem] = [p for p in caught.value.problems if message in p.message]
    assert problem.line > 0


def test_good_inbox_settings(make_site: MakeSite) -> None:
    plain = load(make_site(extra="\n" + IMAP.replace("imap.example.org", "127.0.0.1")
                           + "security = 'none'\nallow_insecure = true\n"))  # fmt: skip
    assert plain.has_inbox and plain.inbox.real_port == 143
    idna = load(make_site(extra="\n" + IMAP.replace("imap.example.org", "imap.bücher.example"),
                          folder="idna"))  # fmt: skip
    assert idna.inbox.host == "imap.xn--bcher-kva.example"
    assert idna.inbox.real_port == 993
    assert not load(make_site(folder="none")).has_inbox


def test_the_readme_and_ci_install_dovecot() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"```sh\n(.*?)\n```", readme, re.S)
    [command] = [c for c in commands if "pytest" in c]
    assert "dovecot-imapd" in command
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert command in ci.splitlines()
    assert "dovecot-imapd" in ci.split(command)[0]  # the check for what is installed already
