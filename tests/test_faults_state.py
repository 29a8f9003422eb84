"""Faults of the state database and the site lock, injected for real: a second process holding
the database's write lock, empty, cut-short and corrupted files, read-only files and folders
(chattr as root, modes as another user), a folder where a file belongs, a write-ahead log
deleted under a reader, a small tmpfs that fills up, and a clock set back."""

from __future__ import annotations

import json
import os
import pwd
import selectors
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from click.testing import CliRunner, Result
from disks import fill, small_disk
from helpers import ARTICLES, NEWSLETTER, NOW, NOW_ARG, MakeSite, article

from feedpub import config
from feedpub.cli import main
from feedpub.delivery.messages import list_id
from feedpub.delivery.sending import send_issue
from feedpub.delivery.subscribers import Subscribers, normalize
from feedpub.delivery.tokens import load_secret, make_token
from feedpub.delivery.transport import OutboxTransport
from feedpub.delivery.web import UnsubscribeApp
from feedpub.errors import SecretError, StateBusy, StateError
from feedpub.store.state import STATE_NAME, State

ANN = "ann@example.org"
BOB = "bob@example.org"
BUSY_WAIT = 0.3  # seconds: the tests' FEEDPUB_BUSY_TIMEOUT
# What no message about the state may say of data that may well be intact (item 11).
DISCARDING = ("afresh", "move it away", "delete it")


def invoke(*args: str | Path, busy: float = BUSY_WAIT) -> Result:
    env = {"FEEDPUB_BUSY_TIMEOUT": str(busy)}
    return CliRunner().invoke(main, [str(a) for a in args], prog_name="feedpub", env=env)


def assert_clean_failure(result: Result, code: int) -> str:
    """The exit code is ``code``, with one 'Error: ' line and no traceback; the message."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "unexpected" not in result.output
    assert result.stderr.startswith("Error: ")
    return result.stderr.removeprefix("Error: ").rstrip("\n")


@pytest.fixture
def site(make_site: MakeSite) -> Path:
    """A site with a weekly newsletter, two articles and two subscribers, built once."""
    root = make_site(ARTICLES, extra=NEWSLETTER)
    for address in (ANN, BOB):
        assert invoke("--site", root, "subscribers", "add", address).exit_code == 0
    return root


def state_path(root: Path) -> Path:
    return config.load(root, env={}).state_dir / STATE_NAME


def rows(root: Path, query: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(state_path(root))) as db:
        return db.execute(query).fetchall()


def subscribers_of(root: Path) -> dict[str, str]:
    return dict(rows(root, "SELECT email, status FROM subscribers"))


def issues_of(root: Path) -> list[tuple[int, str]]:
    return rows(root, "SELECT number, status FROM issues ORDER BY number")


# -- a database held locked by another process ------------------------------------------------

HOLD = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN " + sys.argv[2])
db.execute("UPDATE meta SET value = value WHERE 0")
print("held", flush=True)
sys.stdin.readline()
db.execute("ROLLBACK")
"""


@contextmanager
def held(path: Path, mode: str = "IMMEDIATE") -> Iterator[subprocess.Popen[str]]:
    """A second process holding ``BEGIN mode`` on the database ``path`` until the block ends."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(child.stdout, selectors.EVENT_READ)
            assert selector.select(timeout=20), "the holder did not take the lock in 20 s"
        assert child.stdout.readline() == "held\n"
        yield child
    finally:
        if child.stdin is not None:
            child.stdin.close()
        child.wait(timeout=20)
        if child.stdout is not None:
            child.stdout.close()


def busy_message(root: Path) -> str:
    return (
        f"{state_path(root)} is busy: another process (a backup, a maintenance tool, another "
        f"feedpub) has held a write on it for over {BUSY_WAIT:g} s; nothing was changed, try "
        "again when it has finished (FEEDPUB_BUSY_TIMEOUT sets how many seconds feedpub waits)"
    )


BUSY_COMMANDS = {
    "run": ["run", "--now", NOW_ARG],
    "build": ["build", "--now", NOW_ARG],
    "issue-new": ["issue", "new", "--now", NOW_ARG],
    "send": ["send", "--now", NOW_ARG],
    "subscribers-add": ["subscribers", "add", "cat@example.org"],
    "subscribers-remove": ["subscribers", "remove", ANN],
    "subscribers-import": ["subscribers", "import", "{list}"],
}


@pytest.mark.parametrize("mode", ["IMMEDIATE", "EXCLUSIVE"])
@pytest.mark.parametrize("name", list(BUSY_COMMANDS))
def test_a_locked_state_is_busy_75_then_the_next_run_finishes(
    site: Path, tmp_path: Path, name: str, mode: str
) -> None:
    addresses = tmp_path / "list.txt"
    addresses.write_text("dan@example.org\neve@example.org\n", encoding="utf-8")
    command = [a.replace("{list}", str(addresses)) for a in BUSY_COMMANDS[name]]
    if name == "send":  # an issue waiting to be sent
        assert invoke("--site", site, "issue", "new", "--now", NOW_ARG).exit_code == 0
    before = (subscribers_of(site), issues_of(site))
    with held(state_path(site), mode):
        started = time.monotonic()
        result = invoke("--site", site, *command)
        waited = time.monotonic() - started
        assert assert_clean_failure(result, 75) == busy_message(site)
        assert result.stdout == ""
        # Bounded: the wait, plus the command's own work (a few seconds on a loaded machine).
        assert BUSY_WAIT <= waited < BUSY_WAIT + 8
        assert (subscribers_of(site), issues_of(site)) == before
        # Reading is never held up by a write.
        listed = invoke("--site", site, "subscribers", "list")
        assert listed.exit_code == 0, listed.output
    done = invoke("--site", site, *command)
    assert done.exit_code == 0, done.output
    if name in ("run", "send"):
        assert issues_of(site) == [(1, "sent")]
        outbox = state_path(site).parent / "outbox" / "1"
        assert sorted(os.listdir(outbox)) == [f"{ANN}.eml", f"{BOB}.eml"]
    elif name == "issue-new":
        assert issues_of(site) == [(1, "ready")]
    elif name == "build":
        assert (site / "public" / "rss.xml").is_file()
    else:
        assert subscribers_of(site) != before[0]


class LockingOutbox(OutboxTransport):
    """The outbox, where a second process takes the state's write lock right after the
    ``after``-th message: the lock comes in the middle of a send, at a known point."""

    def __init__(self, folder: Path, database: Path, after: int, stack: ExitStack) -> None:
        super().__init__(folder)
        self.database = database
        self.after = after
        self.stack = stack
        self.sent: list[str] = []

    def send(self, sender: str, recipient: str, data: bytes) -> None:
        super().send(sender, recipient, data)
        self.sent.append(recipient)
        if len(self.sent) == self.after:
            self.stack.enter_context(held(self.database))


def test_a_send_stopped_by_a_locked_state_resumes_without_loss(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock is taken while the issue is being sent: the send stops with StateBusy (75),
    every answer before it is kept, and the next send reaches everyone else."""
    monkeypatch.setenv("FEEDPUB_BUSY_TIMEOUT", str(BUSY_WAIT))
    loaded = config.load(site, env={})
    more = [f"reader{n}@example.org" for n in range(30)]
    with State.open(loaded.state_dir) as state, state.transaction():
        for address in more:
            Subscribers(state).add(address, "", NOW)
    assert invoke("--site", site, "issue", "new", "--now", NOW_ARG).exit_code == 0
    outbox = loaded.state_dir / "outbox" / "1"
    with ExitStack() as stack:
        first = LockingOutbox(outbox, state_path(site), 10, stack)
        with pytest.raises(StateBusy) as busy:
            send_issue(loaded, 1, NOW, make_transports=lambda *_: [first])
        assert str(busy.value) == busy_message(site)
        assert issues_of(site) == [(1, "ready")]
    assert first.sent == [ANN, BOB, *more[:8]]
    report = send_issue(loaded, 1, NOW)
    assert report.finished
    assert issues_of(site) == [(1, "sent")]
    assert len(os.listdir(outbox)) == 32
    # Only the message in flight when the lock came may go twice: at most one per connection.
    assert report.sent + len(first.sent) <= 32 + 1


def test_the_busy_timeout_setting_is_checked(site: Path) -> None:
    result = invoke("--site", site, "subscribers", "add", "cat@example.org", busy=-1)
    assert assert_clean_failure(result, 1) == (
        "FEEDPUB_BUSY_TIMEOUT='-1' is not a number of seconds from 0 to 3600; unset it for the "
        "default (10 s)"
    )
    # The library's own parameter, for callers that know better (the web app waits 5 s).
    with (
        held(state_path(site)),
        State.open(state_path(site).parent, busy_timeout=0.05) as state,
        pytest.raises(StateBusy),
        state.transaction(),
    ):
        pass


# -- the web unsubscribe while the database is locked ----------------------------------------


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serving(app: UnsubscribeApp) -> Iterator[str]:
    """The real WSGI app behind a real HTTP server on 127.0.0.1; its unsubscribe URL."""
    server = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/unsubscribe"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _post(url: str, token: str, how: str) -> tuple[int, dict[str, str], str]:
    if how == "one-click":  # RFC 8058: the token in the query, this exact body
        request = urllib.request.Request(
            f"{url}?{urlencode({'t': token})}", data=b"List-Unsubscribe=One-Click"
        )
    else:  # the page's form
        request = urllib.request.Request(url, data=urlencode({"t": token}).encode())
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


@pytest.mark.parametrize("how", ["one-click", "form"])
def test_an_unsubscribe_while_the_state_is_locked_is_refused_with_503(
    site: Path, how: str
) -> None:
    loaded = config.load(site, env={})
    token = make_token(load_secret(loaded.state_dir), list_id(loaded), normalize(ANN)[1])
    app = UnsubscribeApp(loaded, busy_timeout=BUSY_WAIT)
    with serving(app) as url:
        with held(state_path(site), "EXCLUSIVE"):
            status, headers, body = _post(url, token, how)
            assert status == 503
            assert headers["Retry-After"] == "60"
            assert "you are not unsubscribed yet" in body
            assert 'name="t"' in body  # the button again, to try once more
            assert subscribers_of(site)[ANN] == "active"
        # The client asks again, as Retry-After tells it: now it is recorded.
        status, _, body = _post(url, token, how)
        assert status == 200
        assert "You are unsubscribed" in body
    assert subscribers_of(site) == {ANN: "unsubscribed", BOB: "active"}


HOLD_BRIEFLY = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("held", flush=True)
time.sleep(float(sys.argv[2]))  # the fault: a write held this long
db.execute("ROLLBACK")
"""


def test_an_unsubscribe_waits_out_a_short_lock(site: Path) -> None:
    loaded = config.load(site, env={})
    token = make_token(load_secret(loaded.state_dir), list_id(loaded), normalize(ANN)[1])
    app = UnsubscribeApp(loaded)  # the default wait: 5 s
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_BRIEFLY, str(state_path(site)), "0.5"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "held\n"
        with serving(app) as url:
            started = time.monotonic()
            status, _, _ = _post(url, token, "one-click")
            waited = time.monotonic() - started
    finally:
        child.wait(timeout=20)
        child.stdout.close()  # type: ignore[union-attr]
    assert status == 200
    assert 0.2 < waited < 5
    assert subscribers_of(site)[ANN] == "unsubscribed"


# -- empty, cut short, damaged -----------------------------------------------------------------


def _integrity_advice(path: Path) -> str:
    return f"Check it with: sqlite3 '{path}' 'PRAGMA integrity_check'"


@pytest.mark.parametrize(
    "command",
    [["run", "--now", NOW_ARG], ["build", "--now", NOW_ARG], ["subscribers", "list"], ["status"]],
    ids=["run", "build", "subscribers-list", "status"],
)
def test_an_empty_state_is_never_taken_for_a_new_site(site: Path, command: list[str]) -> None:
    path = state_path(site)
    path.write_bytes(b"")
    message = assert_clean_failure(invoke("--site", site, *command), 1)
    assert message == (
        f"{path} is empty (0 bytes): the state database lost its content (a copy or a restore "
        "cut short?); feedpub never leaves it empty, so this is not a new site. Restore it "
        "from a backup"
    )
    assert path.stat().st_size == 0  # nothing was made in its place
    assert not (path.parent / "outbox").exists()
    assert not (site / "public").exists()


@pytest.mark.parametrize(
    "keep", [50, 100, 4096, -4096], ids=["50-bytes", "header", "1-page", "all-but-1-page"]
)
def test_a_cut_short_state_is_refused(site: Path, keep: int) -> None:
    path = state_path(site)
    data = path.read_bytes()
    cut = data[:keep]
    path.write_bytes(cut)
    message = assert_clean_failure(invoke("--site", site, "run", "--now", NOW_ARG), 1)
    assert message.startswith((f"{path} is cut short: {len(cut)} bytes", f"{path} is damaged ("))
    assert _integrity_advice(path) in message
    assert path.read_bytes() == cut
    assert not (path.parent / "outbox").exists()


def _corrupt_the_subscribers(path: Path) -> bytes:
    """Garbage over the subscribers table's root page, in the middle of the file."""
    with sqlite3.connect(path) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'subscribers'")
    data = bytearray(path.read_bytes())
    start = (root[0] - 1) * page_size
    assert 0 < start < len(data) - page_size
    data[start : start + page_size] = b"\xa5" * page_size
    path.write_bytes(bytes(data))
    return bytes(data)


@pytest.mark.parametrize(
    "command",
    [["subscribers", "list"], ["subscribers", "add", "cat@example.org"], ["run", "--now", NOW_ARG]],
    ids=["list", "add", "run"],
)
def test_a_corrupted_page_is_a_clear_error(site: Path, command: list[str]) -> None:
    path = state_path(site)
    _corrupt_the_subscribers(path)
    message = assert_clean_failure(invoke("--site", site, *command), 1)
    assert message.startswith(f"{path} is damaged (database disk image is malformed). ")
    assert _integrity_advice(path) in message
    assert "restore the file from a backup" in message
    # The run may have recorded its issue (a transaction of its own) before reading the
    # subscribers; nothing was sent and nothing half-recorded.
    assert issues_of(site) in ([], [(1, "ready")])
    assert rows(site, "SELECT count(*) FROM deliveries") == [(0,)]


def test_a_missing_write_ahead_log_under_a_reader(site: Path) -> None:
    """A process has the database open with changes in its write-ahead log; the log file is
    deleted (a clean-up); the next reader is told, and the changes come back once the process
    has closed the database."""
    writer = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA wal_autocheckpoint = 0")
db.execute("UPDATE subscribers SET name = 'Written' WHERE email = 'ann@example.org'")
print("written", flush=True)
sys.stdin.readline()
db.close()
"""
    path = state_path(site)
    child = subprocess.Popen(
        [sys.executable, "-c", writer, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None and child.stdout.readline() == "written\n"
        Path(f"{path}-wal").unlink()
        message = assert_clean_failure(invoke("--site", site, "subscribers", "list"), 1)
        assert message.startswith(
            f"{path}: its write-ahead log state.db-wal is missing or cut short while another "
            "process has the database open"
        )
        assert "let it finish, or stop it gently (not kill -9)" in message
        assert not any(word in message for word in DISCARDING)
    finally:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.close()
        child.wait(timeout=20)
        child.stdout.close()
    listed = invoke("--site", site, "subscribers", "list")
    assert listed.exit_code == 0, listed.output
    assert f"{ANN}\tWritten\tactive" in listed.stdout


def test_a_missing_database_beside_its_log_is_not_a_new_site(site: Path) -> None:
    path = state_path(site)
    Path(f"{path}-wal").write_bytes(b"\x37\x7f\x06\x82" + bytes(28))
    path.unlink()
    message = assert_clean_failure(invoke("--site", site, "run", "--now", NOW_ARG), 1)
    assert message.startswith(f"{path} is missing but its write-ahead log state.db-wal is there")
    assert not path.exists()


def test_a_new_site_starts_afresh_and_the_database_is_made_whole(make_site: MakeSite) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER)
    folder = root / ".feedpub"
    folder.mkdir()
    (folder / "secret").write_text("kept\n")  # a site folder with no state yet
    assert invoke("--site", root, "subscribers", "add", ANN).exit_code == 0
    assert invoke("--site", root, "run", "--now", NOW_ARG).exit_code == 0
    assert issues_of(root) == [(1, "sent")]
    # No temporary database was left beside it, and it is the owner's only.
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []
    assert (folder / STATE_NAME).stat().st_mode & 0o777 == 0o600


# -- what cannot be written: permissions, attributes, folders ----------------------------------


@contextmanager
def chattr(path: Path, flag: str = "+i") -> Iterator[None]:
    subprocess.run(["chattr", flag, str(path)], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", flag.replace("+", "-"), str(path)], check=True)


def test_an_immutable_database_can_be_read_and_says_why_it_cannot_be_written(
    site: Path,
) -> None:
    path = state_path(site)
    with chattr(path):
        listed = invoke("--site", site, "subscribers", "list")
        assert listed.exit_code == 0, listed.output
        message = assert_clean_failure(invoke("--site", site, "subscribers", "add", "c@x.org"), 1)
    assert message == (
        f"cannot use the state database: {path} is marked immutable (chattr), which refuses "
        f"changes even to root; 'lsattr -d {path}' shows it, 'chattr -i -a {path}' clears it; "
        "the database itself is not damaged (nothing was changed)"
    )
    assert "backup" not in message
    assert invoke("--site", site, "subscribers", "add", "c@example.org").exit_code == 0


@pytest.mark.parametrize(
    "command",
    [["run", "--now", NOW_ARG], ["subscribers", "list"], ["subscribers", "add", "c@example.org"]],
    ids=["run", "list", "add"],
)
def test_an_immutable_state_folder_is_named(site: Path, command: list[str]) -> None:
    folder = state_path(site).parent
    with chattr(folder):
        message = assert_clean_failure(invoke("--site", site, *command), 1)
    assert f"{folder} is marked immutable (chattr)" in message
    assert f"'chattr -i -a {folder}' clears it" in message
    assert not any(word in message for word in (*DISCARDING, "backup"))


def test_a_state_database_that_is_a_folder(site: Path) -> None:
    path = state_path(site)
    path.unlink()
    path.mkdir()
    message = assert_clean_failure(invoke("--site", site, "run", "--now", NOW_ARG), 1)
    assert message == (
        f"{path} is a folder where feedpub keeps a file; move the folder away (look inside "
        "first: what it holds may be yours)"
    )
    assert path.is_dir()


def test_a_read_only_file_system_is_named(make_site: MakeSite) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER)
    with small_disk(root / ".feedpub", "1m") as folder:
        assert invoke("--site", root, "subscribers", "add", ANN).exit_code == 0
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        message = assert_clean_failure(invoke("--site", root, "subscribers", "add", BOB), 1)
        assert message == (
            f"cannot use the state database: {folder / STATE_NAME}: the file system is mounted "
            "read-only; remount it read-write or move the site to a writable disk; the "
            "database itself is not damaged (nothing was changed)"
        )
        subprocess.run(["mount", "-o", "remount,rw", str(folder)], check=True)
        assert subscribers_of(root) == {ANN: "active"}


@pytest.fixture
def shared_site(make_site: MakeSite) -> Iterator[Path]:
    """A site another user (nobody) can reach: outside root's private pytest folder."""
    top = Path(tempfile.mkdtemp(prefix="feedpub-shared-"))
    top.chmod(0o755)
    try:
        root = top / "site"
        shutil.copytree(make_site(ARTICLES, extra=NEWSLETTER), root)
        for address in (ANN, BOB):
            assert invoke("--site", root, "subscribers", "add", address).exit_code == 0
        yield root
    finally:
        shutil.rmtree(top)


def as_nobody(root: Path, *args: str) -> tuple[int, str]:
    """The command run by a forked child with nobody's user and group ids: (exit code,
    standard error). Everything it imports is imported first, as the feedpub being tested
    lives where nobody may not read."""
    import email_validator  # noqa: F401

    import feedpub.delivery.sending
    import feedpub.newsletter.issues
    import feedpub.run  # noqa: F401

    normalize(ANN)
    nobody = pwd.getpwnam("nobody")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            result = invoke("--site", root, *args)
            os.write(write, json.dumps([result.exit_code, result.stderr]).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as answer:
        data = answer.read()
    os.waitpid(pid, 0)
    code, err = json.loads(data)
    return int(code), str(err)


@pytest.mark.parametrize("what", ["database", "folder"])
def test_permissions_are_named_as_such(shared_site: Path, what: str) -> None:
    """Item 11: with the data intact, the message says what is wrong (permissions) and never
    advises throwing the database away."""
    folder = shared_site / ".feedpub"
    subprocess.run(["chown", "-R", "nobody", str(shared_site)], check=True)
    if what == "database":
        (folder / STATE_NAME).chmod(0o400)
    else:
        folder.chmod(0o500)
    listed = as_nobody(shared_site, "subscribers", "list")
    added = as_nobody(shared_site, "subscribers", "add", "cat@example.org")
    if what == "database":
        assert listed == (0, ""), listed
    else:  # SQLite reads a database in WAL mode only where it may make its index file
        assert listed == added, listed
    assert added[0] == 1, added
    message = added[1]
    assert "Traceback" not in message and "unexpected" not in message
    if what == "database":
        owner = "owner nobody:root, mode -r--------"
        assert f"{folder / STATE_NAME} ({owner}) is not writable by nobody" in message
    else:
        owner = "owner nobody:root, mode dr-x------"
        assert f"{folder} ({owner}) is not writable by nobody" in message
    assert "give nobody access (chown or chmod)" in message
    assert "the database itself is not damaged" in message
    assert not any(word in message for word in (*DISCARDING, "backup"))
    assert subscribers_of(shared_site) == {ANN: "active", BOB: "active"}


# -- the site lock -------------------------------------------------------------------------


LOCKING = [["run", "--now", NOW_ARG], ["build", "--now", NOW_ARG], ["issue", "new"]]


@pytest.mark.parametrize("command", LOCKING, ids=["run", "build", "issue-new"])
def test_a_state_folder_that_is_a_file(make_site: MakeSite, command: list[str]) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER)
    (root / ".feedpub").write_text("someone's notes\n")
    message = assert_clean_failure(invoke("--site", root, *command), 1)
    assert message == (
        f"cannot take the site's lock: {root / '.feedpub'} is a file where feedpub needs a "
        "folder; rename or move that file and try again"
    )
    assert (root / ".feedpub").read_text() == "someone's notes\n"


@pytest.mark.parametrize("command", LOCKING, ids=["run", "build", "issue-new"])
def test_a_lock_that_is_a_folder(site: Path, command: list[str]) -> None:
    lock = state_path(site).parent / "lock"
    lock.unlink(missing_ok=True)
    lock.mkdir()
    message = assert_clean_failure(invoke("--site", site, *command), 1)
    assert message == (
        f"cannot take the site's lock: {lock} is a folder where feedpub keeps a file; move the "
        "folder away (look inside first: what it holds may be yours)"
    )


def test_a_lock_that_cannot_be_created(site: Path) -> None:
    folder = state_path(site).parent
    (folder / "lock").unlink(missing_ok=True)
    with chattr(folder):
        message = assert_clean_failure(invoke("--site", site, "run", "--now", NOW_ARG), 1)
    assert message == (
        f"cannot take the site's lock: {folder / 'lock'}: its folder {folder} is marked "
        f"immutable (chattr), which refuses changes even to root; 'lsattr -d {folder}' shows "
        f"it, 'chattr -i -a {folder}' clears it"
    )


def test_a_lock_nobody_may_create(shared_site: Path) -> None:
    folder = shared_site / ".feedpub"
    (folder / "lock").unlink(missing_ok=True)
    subprocess.run(["chown", "-R", "nobody", str(shared_site)], check=True)
    folder.chmod(0o500)
    done = as_nobody(shared_site, "build")
    assert done[0] == 1
    assert done[1] == (
        f"Error: cannot take the site's lock: cannot create {folder / 'lock'}: its folder "
        f"{folder} (owner nobody:root, mode dr-x------) is not writable by nobody, the user "
        "feedpub runs as; run feedpub as the site's owner, or give nobody access (chown or "
        "chmod)\n"
    )


# -- a full disk --------------------------------------------------------------------------


def full_message(path: Path) -> str:
    return (
        f"{path}: the disk is full: the change was not saved, the state is as it was before "
        f"it; free some space on the file system of {path.parent} and try again"
    )


def test_a_full_disk_during_an_import_says_so_and_keeps_the_state(
    make_site: MakeSite, tmp_path: Path
) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER)
    addresses = tmp_path / "list.txt"
    addresses.write_text("".join(f"reader{n}@example.org\n" for n in range(4000)))
    with small_disk(root / ".feedpub") as folder:
        assert invoke("--site", root, "subscribers", "add", ANN).exit_code == 0
        filler = fill(folder, 200_000)
        imported = invoke("--site", root, "subscribers", "import", addresses)
        message = assert_clean_failure(imported, 1)
        assert message == full_message(folder / STATE_NAME)
        assert "cannot rollback" not in message
        filler.unlink()  # (SQLite cannot even read with no room for its index)
        assert subscribers_of(root) == {ANN: "active"}
        assert rows(root, "PRAGMA integrity_check") == [("ok",)]
        done = invoke("--site", root, "subscribers", "import", addresses)
        assert done.exit_code == 0, done.output
        assert len(subscribers_of(root)) == 4001


@pytest.mark.parametrize(
    "command",
    [["run", "--now", NOW_ARG], ["build", "--now", NOW_ARG], ["subscribers", "add", BOB]],
    ids=["run", "build", "add"],
)
def test_a_full_disk_for_every_state_write(make_site: MakeSite, command: list[str]) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER)
    with small_disk(root / ".feedpub", "1m") as folder:
        assert invoke("--site", root, "subscribers", "add", ANN).exit_code == 0
        filler = fill(folder, 0)
        message = assert_clean_failure(invoke("--site", root, *command), 1)
        assert message == full_message(folder / STATE_NAME)
        filler.unlink()
        assert subscribers_of(root) == {ANN: "active"}
        assert issues_of(root) == []
        assert rows(root, "PRAGMA integrity_check") == [("ok",)]


def test_a_new_state_on_a_full_disk_leaves_nothing_behind(make_site: MakeSite) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER)
    with small_disk(root / ".feedpub", "1m") as folder:
        fill(folder, 0)
        message = assert_clean_failure(invoke("--site", root, "subscribers", "add", ANN), 1)
        assert message.startswith(f"{folder / STATE_NAME}: the disk is full")
        assert sorted(os.listdir(folder)) == ["filler"]  # no empty state.db to mistake later
        (folder / "filler").unlink()
        assert invoke("--site", root, "subscribers", "add", ANN).exit_code == 0


def test_the_secret_and_the_list_id_on_a_full_disk(make_site: MakeSite) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER)
    site = config.load(root, env={})
    with small_disk(site.state_dir, "64k") as folder:
        fill(folder, 0)
        with pytest.raises(SecretError) as secret:
            load_secret(folder, env={})
        assert str(secret.value) == (
            f"cannot make the site's secret: {folder / 'secret'}: the disk is full, nothing "
            "more can be written there; free some space on that file system and try again"
        )
        with pytest.raises(StateError) as listed:
            list_id(site)
        assert str(listed.value).startswith(f"cannot keep the List-Id: {folder / 'list-id'}: ")
        assert sorted(os.listdir(folder)) == ["filler"]  # no empty secret or list-id
        (folder / "filler").unlink()
        assert load_secret(folder, env={}) == (folder / "secret").read_bytes().strip()
        assert list_id(site) == (folder / "list-id").read_text().strip()


@pytest.mark.parametrize("name", ["secret", "list-id"])
def test_a_secret_or_list_id_that_is_a_folder(site: Path, name: str) -> None:
    folder = state_path(site).parent
    (folder / name).unlink(missing_ok=True)
    (folder / name).mkdir()
    message = assert_clean_failure(invoke("--site", site, "run", "--now", NOW_ARG), 1)
    what = "the site's secret" if name == "secret" else "the List-Id"
    assert message == (
        f"cannot read {what}: {folder / name} is a folder where feedpub keeps a file; move the "
        "folder away (look inside first: what it holds may be yours)"
    )


# -- a clock set back (item 12) ------------------------------------------------------------


def test_a_clock_set_back_withdraws_nothing(make_site: MakeSite) -> None:
    articles = {
        f"2028-0{month}-story.md": article(f"Story {month}", f"2028-0{month}-10 09:00")
        for month in range(1, 6)
    }
    root = make_site({**ARTICLES, **articles})
    ahead = (NOW + timedelta(days=800)).isoformat()  # 2029: every story is due
    assert invoke("--site", root, "build", "--now", ahead).exit_code == 0
    pages = sorted(p.relative_to(root) for p in (root / "public" / "2028").rglob("index.html"))
    assert len(pages) == 5
    # The clock went back to 2026; an article came in meanwhile (with nothing changed, the
    # build would stop at the file metadata and keep everything anyway).
    (root / "content" / "charlie.md").write_text(article("Charlie", "2026-11-25 09:00"))
    back = invoke("--site", root, "build", "--now", NOW_ARG)
    assert back.exit_code == 0, back.output
    assert back.stdout.startswith("Built 8 articles (0 scheduled")
    assert back.stderr == (
        ".feedpub/state.db: warning: the clock says 2026-11-27T12:00+01:00, before the last "
        "build's 2029-02-04T12:00+01:00: is the system clock (or --now) right? Articles "
        "published then stay published; the others wait for their time\n"
    )
    assert sorted(p.relative_to(root) for p in (root / "public" / "2028").rglob("index.html")) == (
        pages
    )
    # A story edited since is a new version: it waits for its date again.
    story = root / "content" / "2028-03-story.md"
    story.write_text(story.read_text() + "\nA correction.\n")
    again = invoke("--site", root, "build", "--now", NOW_ARG)
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith("Built 7 articles (1 scheduled")
    assert again.stderr == ""  # the last build was at this time: nothing to say
    assert not (root / "public" / "2028" / "03").exists()
    checked = invoke("--site", root, "check", "--now", NOW_ARG)
    assert "7 published, 1 scheduled" in checked.stdout


HOLDER = """
import sys
from pathlib import Path
from feedpub.store.state import State
held = State.open(Path(sys.argv[1]))
held.db.execute("SELECT count(*) FROM meta").fetchone()
# What a web request does while another thread of the server holds its connection.
State.open(Path(sys.argv[1])).close()
print("ready", flush=True)
sys.stdin.readline()
held.close()
"""


def test_a_second_opening_in_a_process_keeps_the_first_connections_locks(
    tmp_path: Path,
) -> None:
    """A process with the state open (a web server's thread) that opens it again must still
    count as a user of the write-ahead log: closing any descriptor of the file drops the
    process's POSIX locks, and then another process closing its own connection would take
    itself for the last, checkpoint and delete the log under the first."""
    state_dir = tmp_path / ".feedpub"
    State.open(state_dir).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(state_dir)], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"ready\n"
        with State.open(state_dir) as state, state.transaction():
            state.set_meta("written", "by another process")
        assert (state_dir / "state.db-wal").exists(), "the log was deleted while in use"
    finally:
        holder.communicate(b"\n", timeout=30)
    assert holder.returncode == 0


def test_a_damaged_file_is_still_refused_after_a_good_one_was_open(tmp_path: Path) -> None:
    """The header is read at the first opening in a process: a state cut short after every
    connection closed is refused at the next."""
    state_dir = tmp_path / ".feedpub"
    with State.open(state_dir) as state, state.transaction():
        state.set_meta("filler", "x" * 20_000)
    with State.open(state_dir) as state:
        state.scrub()
    path = state_dir / "state.db"
    path.write_bytes(path.read_bytes()[:4096])
    for end in ("-wal", "-shm"):
        Path(f"{path}{end}").unlink(missing_ok=True)
    with pytest.raises(StateError, match="cut short"):
        State.open(state_dir)
