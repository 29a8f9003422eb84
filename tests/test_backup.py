"""`feedpub backup` and `feedpub restore`: a consistent copy of the state while a send runs,
restored into another folder with the secret and the List-Id, the counts exact; and every
kind of file that is not a whole backup refused, the site left as it was."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sqlite3
import stat
import tarfile
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import (
    ARTICLES,
    NEWSLETTER,
    NOW_ARG,
    MakeSite,
    Relay,
    assert_clean_exit,
    deliveries,
    feedpub,
    invoke,
    load,
    make_issue,
    readers,
    smtp_settings,
    status_counts,
    subscribe,
    wait_until,
)

from feedpub.delivery.identity import list_id
from feedpub.delivery.tokens import load_secret
from feedpub.store.backup import BUILD_RECORD, MANIFEST
from feedpub.store.state import SCHEMA_VERSION, State

STATE_FILES = ("list-id", "secret", "state.db")


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """Every file in the state folder but the lock (a restore takes it), by name."""
    if not folder.exists():
        return {}
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "lock"}


@pytest.fixture
def site(make_site: MakeSite) -> Path:
    root = make_site(ARTICLES, extra=NEWSLETTER)
    subscribe(root, readers(3))
    make_issue(root)
    site = load(root)
    load_secret(site.state_dir)  # made at the first send; here before it
    list_id(site)
    return root


def test_backup_then_restore_into_a_new_site(
    runner: CliRunner, site: Path, make_site: MakeSite, tmp_path: Path
) -> None:
    target = tmp_path / "site.backup"
    result = invoke(runner, "--site", site, "backup", target)
    assert_clean_exit(result, 0)
    assert result.stdout.startswith(
        f"Backed up the state to {target} (schema {SCHEMA_VERSION}: 1 issue, 3 subscribers, "
        "0 deliveries; with the List-Id and the secret; "
    )
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with tarfile.open(target) as tar:
        assert tar.getnames() == [MANIFEST, "state.db", "list-id", "secret"]

    other = make_site(ARTICLES, extra=NEWSLETTER, folder="elsewhere")
    restored = invoke(runner, "--site", other, "restore", target)
    assert_clean_exit(restored, 0)
    assert "schema" in restored.stdout and "the next build is a full one" in restored.stdout
    old, new = load(site).state_dir, load(other).state_dir
    for name in ("secret", "list-id"):
        assert (new / name).read_bytes() == (old / name).read_bytes()
        assert stat.S_IMODE((new / name).stat().st_mode) == 0o600
    assert stat.S_IMODE((new / "state.db").stat().st_mode) == 0o600
    assert stat.S_IMODE(new.stat().st_mode) == 0o700
    with State.open(old) as before, State.open(new) as after:
        for table in ("subscribers", "issues", "issue_articles", "articles"):
            query = f"SELECT * FROM {table} ORDER BY 1"
            assert after.db.execute(query).fetchall() == before.db.execute(query).fetchall()
        assert after.db.execute("SELECT count(*) FROM outputs").fetchone() == (0,)
        keys = {row[0] for row in after.db.execute("SELECT key FROM meta")}
        assert not keys & set(BUILD_RECORD)
    # The restored site builds (a full build) and lists the same subscribers.
    assert_clean_exit(invoke(runner, "--site", other, "build", "--now", NOW_ARG), 0)
    listed = invoke(runner, "--site", other, "subscribers", "list")
    assert listed.stdout == invoke(runner, "--site", site, "subscribers", "list").stdout


def test_backup_refuses_to_overwrite_without_force(
    runner: CliRunner, site: Path, tmp_path: Path
) -> None:
    target = tmp_path / "site.backup"
    target.write_bytes(b"keep me")
    result = invoke(runner, "--site", site, "backup", target)
    assert_clean_exit(result, 1)
    assert result.stderr == (
        f"Error: {target} already exists; choose another name, or add --force to replace it\n"
    )
    assert target.read_bytes() == b"keep me"
    assert_clean_exit(invoke(runner, "--site", site, "backup", target, "--force"), 0)
    assert tarfile.is_tarfile(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (lambda tmp: tmp, "is a folder; name the backup file to write"),
        (lambda tmp: tmp / "missing" / "x.backup", "cannot write the backup: "),
    ],
    ids=["a-folder", "no-such-folder"],
)
def test_backup_to_a_place_it_cannot_write(
    runner: CliRunner, site: Path, tmp_path: Path, where: Callable[[Path], Path], message: str
) -> None:
    result = invoke(runner, "--site", site, "backup", where(tmp_path))
    assert_clean_exit(result, 1)
    assert message in result.stderr


def test_backup_of_a_site_without_a_state(
    runner: CliRunner, make_site: MakeSite, tmp_path: Path
) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER)
    result = invoke(runner, "--site", root, "backup", tmp_path / "x.backup")
    assert_clean_exit(result, 1)
    assert "this site has no state to back up" in result.stderr
    assert not (tmp_path / "x.backup").exists()
    assert not (root / ".feedpub").exists()


def test_restore_refuses_a_site_that_has_a_state_without_force(
    runner: CliRunner, site: Path, make_site: MakeSite, tmp_path: Path
) -> None:
    target = tmp_path / "site.backup"
    assert_clean_exit(invoke(runner, "--site", site, "backup", target), 0)
    other = make_site(ARTICLES, extra=NEWSLETTER, folder="elsewhere")
    subscribe(other, [("someone@example.net", "")])
    state_dir = load(other).state_dir
    before = folder_bytes(state_dir)
    result = invoke(runner, "--site", other, "restore", target)
    assert_clean_exit(result, 1)
    assert result.stderr == (
        f"Error: {state_dir} already holds a state (state.db); restore into a site without "
        "one, or add --force to replace it (what it holds now is lost: back it up first)\n"
    )
    assert folder_bytes(state_dir) == before
    forced = invoke(runner, "--site", other, "restore", target, "--force")
    assert_clean_exit(forced, 0)
    assert "in place of its state" in forced.stdout
    listed = invoke(runner, "--site", other, "subscribers", "list").stdout
    assert "someone@example.net" not in listed
    assert listed.count("@example.net") == 3


def test_a_backup_taken_during_a_send_is_consistent(
    start_relay: Callable[..., Relay], make_site: MakeSite, tmp_path: Path
) -> None:
    """The backup runs while another process sends issue 1 to 120 readers: the relay holds
    its answer to the 30th message until the backup is done. Restored elsewhere, the state is
    that instant of the send: exactly the 29 acknowledged deliveries are sent in it, the 30th
    is in flight, and a send from the restored site reaches exactly the other 91, each once."""
    people = readers(120)
    relay = start_relay()
    held, backed_up = threading.Event(), threading.Event()

    def hold_the_30th(number: int) -> None:
        if number == 30:
            held.set()
            backed_up.wait(timeout=60)  # the relay answers nothing meanwhile

    relay.handler.on_message = hold_the_30th
    root = make_site(ARTICLES, extra=NEWSLETTER + smtp_settings(relay.port, 1))
    subscribe(root, people)
    make_issue(root)
    target = tmp_path / "during.backup"
    proc = feedpub(root, "send", "--now", NOW_ARG)
    try:
        wait_until(held.is_set, proc)
        backup = feedpub(root, "backup", str(target))
        out, err = backup.communicate(timeout=60)
        assert backup.returncode == 0, (out, err)
        assert proc.poll() is None  # the send was still going on
    finally:
        backed_up.set()
        sent_out, sent_err = proc.communicate(timeout=120)
    assert proc.returncode == 0, (sent_out, sent_err)
    assert status_counts(root) == {"sent": 120}
    first = [address for address, _ in relay.handler.received()]

    second = start_relay()
    other = make_site(ARTICLES, extra=NEWSLETTER + smtp_settings(second.port, 1), folder="b")
    restore = feedpub(other, "restore", str(target))
    out, err = restore.communicate(timeout=60)
    assert restore.returncode == 0, (out, err)
    rows = deliveries(other)
    assert len(rows) == 120
    sent = {address for address, row in rows.items() if row[0] == "sent"}
    assert sent == set(first[:29])
    in_flight = {address for address, row in rows.items() if row[0] not in ("sent", "pending")}
    assert in_flight <= {first[29]}

    resumed = feedpub(other, "send", "--now", NOW_ARG)
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, (out, err)
    assert dict(second.handler.copies()) == {a: 1 for a, _ in people if a not in sent}
    assert status_counts(other) == {"sent": 120}


# -- what restore refuses ------------------------------------------------------------------


def _tar(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return raw.getvalue()


def _file(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


def _manifest(files: dict[str, bytes], schema: int = SCHEMA_VERSION, **extra: object) -> bytes:
    return json.dumps(
        {
            "format": "feedpub-backup",
            "version": 1,
            "schema": schema,
            "made": "2026-11-27T12:00:00+01:00",
            "files": {n: hashlib.sha256(d).hexdigest() for n, d in files.items()},
            **extra,
        }
    ).encode()


def _sqlite(tmp_path: Path, version: int) -> bytes:
    path = tmp_path / f"db-{version}"
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE issues (x)")
        db.execute(f"PRAGMA user_version = {version}")
    db.close()
    return path.read_bytes()


def _good(tmp_path: Path, site: Path) -> bytes:
    target = tmp_path / "good.backup"
    if not target.exists():
        assert invoke(CliRunner(), "--site", site, "backup", target).exit_code == 0
    return target.read_bytes()


def _with_member(good: bytes, name: str, change: Callable[[bytes], bytes]) -> bytes:
    members = []
    with tarfile.open(fileobj=io.BytesIO(good)) as tar:
        for info in tar.getmembers():
            handle = tar.extractfile(info)
            assert handle is not None
            data = handle.read()
            members.append((info, change(data) if info.name == name else data))
    return _tar(members)


def _symlink() -> tarfile.TarInfo:
    info = tarfile.TarInfo("state.db")
    info.type = tarfile.SYMTYPE
    info.linkname = "/etc/passwd"
    return info


GARBAGE: dict[str, tuple[Callable[[Path, Path], bytes], str]] = {
    "empty": (lambda tmp, site: b"", "not a tar archive, or cut short"),
    "text": (lambda tmp, site: b"hello\n" * 100, "not a gzip-compressed tar archive"),
    "random": (
        lambda tmp, site: hashlib.sha512(b"x").digest() * 200,
        "not a gzip-compressed tar archive",
    ),
    "cut-at-a-tenth": (
        lambda tmp, site: _good(tmp, site)[: len(_good(tmp, site)) // 10],
        "cut short",
    ),
    "cut-at-half": (lambda tmp, site: _good(tmp, site)[: len(_good(tmp, site)) // 2], "cut short"),
    "cut-near-the-end": (lambda tmp, site: _good(tmp, site)[:-12], "cut short"),
    "plain-gzip": (lambda tmp, site: gzip.compress(b"not a tar"), "not a tar archive"),
    "no-manifest": (
        lambda tmp, site: _tar([(_file("state.db"), _sqlite(tmp, SCHEMA_VERSION))]),
        f"it does not begin with {MANIFEST}",
    ),
    "manifest-not-json": (
        lambda tmp, site: _tar([(_file(MANIFEST), b"{nope")]),
        f"its {MANIFEST} is not JSON",
    ),
    "manifest-of-something-else": (
        lambda tmp, site: _tar([(_file(MANIFEST), b'{"format": "other"}')]),
        f"its {MANIFEST} does not say it is one",
    ),
    "path-traversal": (
        lambda tmp, site: _tar(
            [
                (_file(MANIFEST), _manifest({"state.db": b"", "../../evil": b"x"})),
                (_file("../../evil"), b"x"),
            ]
        ),
        "it holds '../../evil', which a backup does not",
    ),
    "no-database-listed": (
        lambda tmp, site: _tar([(_file(MANIFEST), _manifest({"secret": b"x"}))]),
        "does not list the state database",
    ),
    "extra-member": (
        lambda tmp, site: _tar(
            [
                (_file(MANIFEST), _manifest({"state.db": b"", "evil.sh": b"x"})),
                (_file("evil.sh"), b"x"),
            ]
        ),
        "it holds 'evil.sh', which a backup does not",
    ),
    "symlink": (
        lambda tmp, site: _tar(
            [(_file(MANIFEST), _manifest({"state.db": b""})), (_symlink(), b"")]
        ),
        "state.db in it is not a plain file",
    ),
    "checksum-differs": (
        lambda tmp, site: _with_member(_good(tmp, site), "state.db", lambda d: d[:-1] + b"\x01"),
        "its state.db does not match its checksum",
    ),
    "secret-missing": (
        lambda tmp, site: _tar(
            [
                (_file(MANIFEST), _manifest({"state.db": b"", "secret": b"s"})),
                (_file("state.db"), b""),
            ]
        ),
        "secret is missing from it",
    ),
    "not-sqlite": (
        lambda tmp, site: _tar(
            [
                (_file(MANIFEST), _manifest({"state.db": b"x" * 5000})),
                (_file("state.db"), b"x" * 5000),
            ]
        ),
        "its state.db is not an SQLite database",
    ),
    "newer-schema": (
        lambda tmp, site: _tar(
            [
                (_file(MANIFEST), _manifest({"state.db": _sqlite(tmp, 99)}, schema=99)),
                (_file("state.db"), _sqlite(tmp, 99)),
            ]
        ),
        f"holds a state of a newer feedpub (schema 99, this one knows {SCHEMA_VERSION})",
    ),
    "newer-format": (
        lambda tmp, site: _tar([(_file(MANIFEST), _manifest({}, version=7))]),
        "was written by a newer feedpub (backup format 7",
    ),
    "schema-not-the-manifests": (
        lambda tmp, site: _tar(
            [
                (_file(MANIFEST), _manifest({"state.db": _sqlite(tmp, 3)}, schema=SCHEMA_VERSION)),
                (_file("state.db"), _sqlite(tmp, 3)),
            ]
        ),
        "its state.db is not the schema its manifest names",
    ),
}


@pytest.mark.parametrize("force", [False, True], ids=["new-site", "forced-over-a-state"])
@pytest.mark.parametrize("kind", list(GARBAGE), ids=list(GARBAGE))
def test_restore_refuses_what_is_not_a_whole_backup(
    runner: CliRunner, site: Path, make_site: MakeSite, tmp_path: Path, kind: str, force: bool
) -> None:
    make, message = GARBAGE[kind]
    bad = tmp_path / f"{kind}.backup"
    bad.write_bytes(make(tmp_path, site))
    other = make_site(ARTICLES, extra=NEWSLETTER, folder="elsewhere")
    if force:
        subscribe(other, [("someone@example.net", "")])
    state_dir = load(other).state_dir
    before = folder_bytes(state_dir)
    result = invoke(runner, "--site", other, "restore", bad, *(["--force"] if force else []))
    assert_clean_exit(result, 1)
    assert result.stderr.startswith("Error: "), result.stderr
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert folder_bytes(state_dir) == before


def test_restore_of_a_file_that_is_not_there(runner: CliRunner, site: Path, tmp_path: Path) -> None:
    result = invoke(runner, "--site", site, "restore", tmp_path / "nothing.backup")
    assert_clean_exit(result, 1)
    assert result.stderr == f"Error: {tmp_path / 'nothing.backup'} does not exist\n"


def test_the_manifest_lists_every_file_with_its_checksum(
    runner: CliRunner, site: Path, tmp_path: Path
) -> None:
    good = _good(tmp_path, site)
    with tarfile.open(fileobj=io.BytesIO(good)) as tar:
        handle = tar.extractfile(MANIFEST)
        assert handle is not None
        manifest = json.loads(handle.read())
        for name, digest in manifest["files"].items():
            member = tar.extractfile(name)
            assert member is not None
            assert hashlib.sha256(member.read()).hexdigest() == digest
    assert manifest["schema"] == SCHEMA_VERSION
    assert sorted(manifest["files"]) == sorted(STATE_FILES)


@pytest.mark.parametrize("damage", ["garbage", "cut-short"], ids=["garbage", "cut-short"])
def test_restore_force_over_a_damaged_state_replaces_it(
    runner: CliRunner, site: Path, make_site: MakeSite, tmp_path: Path, damage: str
) -> None:
    target = tmp_path / "site.backup"
    assert_clean_exit(invoke(runner, "--site", site, "backup", target), 0)
    other = make_site(ARTICLES, extra=NEWSLETTER, folder="elsewhere")
    subscribe(other, [("someone@example.net", "")])
    database = load(other).state_dir / "state.db"
    whole = database.read_bytes()
    database.write_bytes(b"\x00" * 8192 if damage == "garbage" else whole[: len(whole) // 3])
    # The damaged state is refused by the commands, and by a backup of it...
    refused = invoke(runner, "--site", other, "backup", tmp_path / "damaged.backup")
    assert_clean_exit(refused, 1)
    assert str(database) in refused.stderr
    # ...and a restore with --force puts the backup in its place.
    assert_clean_exit(invoke(runner, "--site", other, "restore", target, "--force"), 0)
    listed = invoke(runner, "--site", other, "subscribers", "list")
    assert_clean_exit(listed, 0)
    assert listed.stdout == invoke(runner, "--site", site, "subscribers", "list").stdout


def test_restore_removes_a_write_ahead_log_left_without_its_database(
    runner: CliRunner, site: Path, make_site: MakeSite, tmp_path: Path
) -> None:
    """A -wal file whose database is gone would otherwise be applied to the restored one."""
    target = tmp_path / "site.backup"
    assert_clean_exit(invoke(runner, "--site", site, "backup", target), 0)
    other = make_site(ARTICLES, extra=NEWSLETTER, folder="elsewhere")
    state_dir = load(other).state_dir
    state_dir.mkdir(mode=0o700)
    (state_dir / "state.db-wal").write_bytes(b"\x37\x7f\x06\x82" + b"\x00" * 4000)
    refused = invoke(runner, "--site", other, "subscribers", "list")
    assert_clean_exit(refused, 1)  # the state's own guard: a log without its database
    assert_clean_exit(invoke(runner, "--site", other, "restore", target), 0)
    assert not (state_dir / "state.db-wal").exists() or (state_dir / "state.db").exists()
    listed = invoke(runner, "--site", other, "subscribers", "list")
    assert_clean_exit(listed, 0)
    assert listed.stdout.count("@example.net") == 3


def test_a_secret_kept_in_the_environment_is_named(
    runner: CliRunner, site: Path, tmp_path: Path
) -> None:
    result = invoke(
        runner, "--site", site, "backup", tmp_path / "x.backup", env={"FEEDPUB_SECRET": "s3"}
    )
    assert_clean_exit(result, 0)
    assert result.stderr == (
        "warning: FEEDPUB_SECRET is set, and it is the secret the links are signed with, not "
        "the file: keep its value with the backup\n"
    )
