"""Backups of the site state: one file holding a consistent copy of ``state.db`` and the
state folder's small files every sent link depends on (the secret, the List-Id), and the
restore of such a file into a site.

The copy is made through SQLite's online backup API, in one step, inside one read
transaction: the database is in WAL mode, so a run sending at the same moment goes on
writing while the copy sees the state as it was at one instant, every delivery either in it
or not. The backup is a gzip-compressed tar archive (stdlib, readable with ``tar``) whose
first member, ``feedpub-backup.json``, names the format, the schema version and the SHA-256
of each other member; it is written beside its final name, readable by its owner only, and
linked (or, when asked, renamed) into place whole.

A restore trusts nothing in the file: only the members named here, regular files, within
their size limits, each matching its checksum; the database must be SQLite, pass its
integrity check and carry a schema this feedpub knows. The build's record of ``public/``
(which files the last build wrote, the output trees' inode numbers) is left out of what is
restored: it describes another machine's folder, and the next build is a full one.

Imports the state, a sibling in the store, and the basics.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import sqlite3
import tarfile
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from feedpub.errors import BackupError, StateError
from feedpub.oserrors import describe
from feedpub.private import write_private
from feedpub.store.cache import RECORD_KEY
from feedpub.store.state import SCHEMA_VERSION, STATE_NAME, State

MANIFEST = "feedpub-backup.json"
FORMAT = "feedpub-backup"
FORMAT_VERSION = 1
# The state folder's small files a backup carries besides the database; anything larger than
# this is not one of them.
MAX_SMALL_FILE = 64 * 1024
# The meta rows that describe the output folder of the machine the backup was made on (the
# writer's TREES_KEY, the build cache's record): not restored, see the module's docstring.
BUILD_RECORD = ("output_trees", RECORD_KEY)
_CHUNK = 1 << 20
_SQLITE_HEADER = b"SQLite format 3\x00"


@dataclass(frozen=True)
class BackupReport:
    """What a backup holds: the schema version, counts for the person making it to check,
    and which of the small files were there."""

    path: Path
    schema: int
    issues: int
    subscribers: int
    deliveries: int
    files: tuple[str, ...]
    size: int


@dataclass(frozen=True)
class RestoreReport:
    """What a restore put in place."""

    schema: int
    made: str
    issues: int
    subscribers: int
    deliveries: int
    files: tuple[str, ...]
    replaced: bool


def _counts(db: sqlite3.Connection) -> tuple[int, int, int]:
    counted = []
    for table in ("issues", "subscribers", "deliveries"):
        row = db.execute(f"SELECT count(*) FROM {table}").fetchone()  # fixed names, no input
        counted.append(int(row[0]))
    return counted[0], counted[1], counted[2]


def backup(
    state_dir: Path, target: Path, files: Sequence[str], force: bool = False
) -> BackupReport:
    """Write a backup of the state in ``state_dir`` (its database and those of ``files`` that
    exist there) to ``target``, mode 0600. An existing ``target`` is a BackupError unless
    ``force``; a site without a state is one too."""
    if target.is_dir():
        raise BackupError(
            f"{target} is a folder; name the backup file to write, e.g. {target}/feedpub.backup"
        )
    if (target.exists() or target.is_symlink()) and not force:
        raise BackupError(
            f"{target} already exists; choose another name, or add --force to replace it"
        )
    state = State.open(state_dir, create=False)
    try:
        if state.path is None:
            raise BackupError(
                f"{state_dir / STATE_NAME} does not exist: this site has no state to back up "
                "(is --site the site's folder?)"
            )
        folder = _temporary_folder(target)
        try:
            copy = folder / STATE_NAME
            _copy_database(state, copy)
            with sqlite3.connect(copy) as db:
                schema = int(db.execute("PRAGMA user_version").fetchone()[0])
                counts = _counts(db)
            db.close()
            smalls = {name: _read_small(state_dir / name) for name in files}
            present = {name: data for name, data in smalls.items() if data is not None}
            size = _write_archive(folder, copy, present, schema, target, force)
        finally:
            _remove_folder(folder)
    finally:
        state.close()
    return BackupReport(target, schema, *counts, tuple(sorted(present)), size)


def _temporary_folder(target: Path) -> Path:
    # Beside the target: the archive is linked into place on the same file system, and the
    # copy of the database (personal data) sits in a folder only its owner can enter.
    parent = target.parent
    try:
        return Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=parent))
    except OSError as exc:
        raise BackupError(f"cannot write the backup: {describe(exc, parent)}") from None


def _remove_folder(folder: Path) -> None:
    for child in folder.iterdir():
        with suppress(OSError):
            child.unlink()
    with suppress(OSError):
        folder.rmdir()


def _copy_database(state: State, copy: Path) -> None:
    try:
        target = sqlite3.connect(copy)
        try:
            # pages=-1: the whole database in one step, so in one read transaction: one instant
            # of the state, however long a sending run goes on writing beside it.
            state.db.backup(target, pages=-1)
            target.execute("PRAGMA journal_mode = DELETE")
        finally:
            target.close()
    except sqlite3.Error as exc:
        raise state.explain(exc) from None
    except OSError as exc:
        raise BackupError(f"cannot write the backup: {describe(exc, copy)}") from None


def _read_small(path: Path) -> bytes | None:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_SMALL_FILE + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise BackupError(f"cannot read {path} for the backup: {describe(exc, path)}") from None
    if len(data) > MAX_SMALL_FILE:
        raise BackupError(f"{path} is over {MAX_SMALL_FILE // 1024} KB: it is not feedpub's")
    return data


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_archive(
    folder: Path, copy: Path, smalls: dict[str, bytes], schema: int, target: Path, force: bool
) -> int:
    manifest = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "schema": schema,
        "made": datetime.now().astimezone().isoformat(timespec="seconds"),
        "files": {
            STATE_NAME: _sha256_file(copy),
            **{name: hashlib.sha256(data).hexdigest() for name, data in sorted(smalls.items())},
        },
    }
    archive = folder / "backup.tar.gz"
    try:
        fd = os.open(archive, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as raw:
            # mtime 0: the archive's bytes tell nothing but what it holds.
            with (
                gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped,
                tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
            ):
                _add(tar, MANIFEST, json.dumps(manifest, indent=2).encode())
                info = tarfile.TarInfo(STATE_NAME)
                info.size = copy.stat().st_size
                info.mode = 0o600
                with copy.open("rb") as handle:
                    tar.addfile(info, handle)
                for name, data in sorted(smalls.items()):
                    _add(tar, name, data)
            raw.flush()
            os.fsync(raw.fileno())
        size = archive.stat().st_size
        if force:
            os.replace(archive, target)
        else:
            try:
                os.link(archive, target)  # fails if it appeared meanwhile: never overwritten
            except FileExistsError:
                raise BackupError(
                    f"{target} already exists; choose another name, or add --force to replace it"
                ) from None
    except OSError as exc:
        where = Path(exc.filename) if exc.filename else target
        raise BackupError(f"cannot write the backup: {describe(exc, where)}") from None
    return size


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


# -- restoring ------------------------------------------------------------------------------


def existing_state(state_dir: Path, files: Sequence[str]) -> list[str]:
    """The names of the state's files already in ``state_dir`` (a restore would replace them)."""
    names = [STATE_NAME, *files]
    return [n for n in names if (state_dir / n).exists() or (state_dir / n).is_symlink()]


def restore(
    source: Path, state_dir: Path, files: Sequence[str], force: bool = False
) -> RestoreReport:
    """Put the backup ``source`` in place in ``state_dir``. A site that already has a state
    is a BackupError unless ``force``; so is any file that is not a whole, intact backup of a
    schema this feedpub knows (nothing is changed then). The caller holds the site's lock."""
    if not source.exists():
        raise BackupError(f"{source} does not exist")
    there = existing_state(state_dir, files)
    if there and not force:
        raise BackupError(
            f"{state_dir} already holds a state ({', '.join(there)}); restore into a site "
            "without one, or add --force to replace it (what it holds now is lost: back it "
            "up first)"
        )
    try:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=".restore.", dir=state_dir))
    except OSError as exc:
        raise BackupError(f"cannot restore: {describe(exc, state_dir)}") from None
    try:
        manifest, smalls = _unpack(source, folder, files)
        copy = folder / STATE_NAME
        schema, counts = _check_database(source, copy, manifest)
        replaced = _install(copy, state_dir / STATE_NAME)
        for name, data in sorted(smalls.items()):
            try:
                write_private(state_dir / name, data)
            except OSError as exc:
                raise BackupError(
                    f"cannot restore {name}: {describe(exc, state_dir / name)}"
                ) from None
    finally:
        _remove_folder(folder)
    return RestoreReport(
        schema, str(manifest.get("made", "")), *counts, tuple(sorted(smalls)), replaced
    )


def _garbage(source: Path, why: str) -> BackupError:
    return BackupError(
        f"{source} is not a feedpub backup that can be restored: {why}; nothing was changed "
        "(use a file `feedpub backup` wrote, whole)"
    )


@contextmanager
def _open_archive(source: Path) -> Iterator[tarfile.TarFile]:
    """The backup's tar archive, read as a stream of its gzip data, which is read to its end
    when the block ends: a file cut after the archive's last member still fails the gzip
    trailer's check (its length and CRC)."""
    try:
        with gzip.open(source, "rb") as zipped, tarfile.open(fileobj=zipped, mode="r|") as tar:
            yield tar
            while zipped.read(_CHUNK):
                pass
    except FileNotFoundError:
        raise BackupError(f"{source} does not exist") from None
    except IsADirectoryError:
        raise BackupError(f"{source} is a folder; name the backup file") from None
    except tarfile.ReadError:
        # tarfile's own message can run over several lines.
        raise _garbage(source, "not a tar archive, or cut short") from None
    except gzip.BadGzipFile:
        raise _garbage(source, "not a gzip-compressed tar archive") from None
    except (EOFError, zlib.error) as exc:
        raise _garbage(source, f"its compressed data is cut short or damaged ({exc})") from None
    except OSError as exc:
        raise BackupError(f"cannot read the backup: {describe(exc, source)}") from None


def _unpack(
    source: Path, folder: Path, files: Sequence[str]
) -> tuple[dict[str, object], dict[str, bytes]]:
    allowed = {STATE_NAME, *files}
    smalls: dict[str, bytes] = {}
    manifest: dict[str, object] | None = None
    sums: dict[str, str] = {}
    with _open_archive(source) as tar:
        for number, member in enumerate(_members(tar, source)):
            if number == 0:
                if member.name != MANIFEST or not member.isfile() or member.size > MAX_SMALL_FILE:
                    raise _garbage(source, f"it does not begin with {MANIFEST}")
                manifest, sums = _read_manifest(source, _read_member(tar, member, source))
                continue
            if member.name not in allowed or member.name not in sums:
                raise _garbage(source, f"it holds {member.name[:80]!r}, which a backup does not")
            if not member.isfile():
                raise _garbage(source, f"{member.name} in it is not a plain file")
            if member.name == STATE_NAME:
                digest = _extract(tar, member, folder / STATE_NAME, source)
            else:
                if member.size > MAX_SMALL_FILE:
                    raise _garbage(source, f"its {member.name} is too large to be one")
                data = _read_member(tar, member, source)
                smalls[member.name] = data
                digest = hashlib.sha256(data).hexdigest()
            if digest != sums.pop(member.name):
                raise _garbage(source, f"its {member.name} does not match its checksum")
    if manifest is None:
        raise _garbage(source, "it is empty")
    if sums:
        raise _garbage(source, f"{', '.join(sorted(sums))} is missing from it (cut short?)")
    return manifest, smalls


def _members(tar: tarfile.TarFile, source: Path) -> Iterator[tarfile.TarInfo]:
    try:
        while (member := tar.next()) is not None:
            yield member
    except tarfile.ReadError as exc:
        raise _garbage(source, f"its archive is cut short or damaged ({exc})") from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise _garbage(source, f"its compressed data is cut short or damaged ({exc})") from None


def _stream(tar: tarfile.TarFile, member: tarfile.TarInfo, source: Path) -> IO[bytes]:
    handle = tar.extractfile(member)
    if handle is None:
        raise _garbage(source, f"{member.name} in it is not a plain file")
    return handle


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo, source: Path) -> bytes:
    try:
        return _stream(tar, member, source).read()
    except (tarfile.ReadError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise _garbage(source, f"it is cut short or damaged in {member.name} ({exc})") from None


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, path: Path, source: Path) -> str:
    digest = hashlib.sha256()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as out:
            handle = _stream(tar, member, source)
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except (tarfile.ReadError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise _garbage(source, f"it is cut short or damaged in {member.name} ({exc})") from None
    except OSError as exc:
        raise BackupError(f"cannot restore: {describe(exc, path)}") from None
    return digest.hexdigest()


def _read_manifest(source: Path, data: bytes) -> tuple[dict[str, object], dict[str, str]]:
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _garbage(source, f"its {MANIFEST} is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _garbage(source, f"its {MANIFEST} does not say it is one")
    version = manifest.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _garbage(source, f"its {MANIFEST} has no format version")
    if version > FORMAT_VERSION:
        raise BackupError(
            f"{source} was written by a newer feedpub (backup format {version}, this one "
            f"reads {FORMAT_VERSION}); upgrade feedpub to restore it"
        )
    files = manifest.get("files")
    if (
        not isinstance(files, dict)
        or STATE_NAME not in files
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items())
    ):
        raise _garbage(source, f"its {MANIFEST} does not list the state database")
    return manifest, dict(files)


def _check_database(
    source: Path, copy: Path, manifest: dict[str, object]
) -> tuple[int, tuple[int, int, int]]:
    with copy.open("rb") as handle:
        if handle.read(len(_SQLITE_HEADER)) != _SQLITE_HEADER:
            raise _garbage(source, "its state.db is not an SQLite database")
    try:
        db = sqlite3.connect(copy, isolation_level=None)
        try:
            checked = [row[0] for row in db.execute("PRAGMA integrity_check")]
            if checked != ["ok"]:
                raise _garbage(source, f"its state.db is damaged ({checked[0]})")
            schema = int(db.execute("PRAGMA user_version").fetchone()[0])
            if schema > SCHEMA_VERSION:
                raise BackupError(
                    f"{source} holds a state of a newer feedpub (schema {schema}, this one "
                    f"knows {SCHEMA_VERSION}); upgrade feedpub to restore it"
                )
            if schema != manifest.get("schema") or schema < 1:
                raise _garbage(source, "its state.db is not the schema its manifest names")
            counts = _counts(db)
            with suppress(sqlite3.Error):  # an empty outputs table already in the oldest
                db.execute("DELETE FROM outputs")
            db.executemany("DELETE FROM meta WHERE key = ?", [(k,) for k in BUILD_RECORD])
            db.execute("PRAGMA journal_mode = WAL")
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise _garbage(source, f"its state.db cannot be read ({exc})") from None
    return schema, counts


def _install(copy: Path, path: Path) -> bool:
    """Put the checked copy in place as ``path``: linked in when there is none (a -wal or -shm
    file left without its database removed first, or SQLite would apply it to this one),
    else copied into the database there through the backup API, one transaction that other
    processes' connections see whole."""
    if not path.exists() and not path.is_symlink():
        try:
            for suffix in ("-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            os.link(copy, path)
        except FileExistsError:
            raise BackupError(f"{path} appeared while restoring; nothing was changed") from None
        except OSError as exc:
            raise BackupError(f"cannot restore: {describe(exc, path)}") from None
        return False
    try:
        source = sqlite3.connect(copy)
        try:
            target = sqlite3.connect(path, timeout=10.0)
            try:
                source.backup(target, pages=-1)
            finally:
                target.close()
        finally:
            source.close()
    except sqlite3.OperationalError as exc:
        raise StateError(f"cannot restore into {path}: {exc}; nothing was changed") from None
    except sqlite3.DatabaseError:
        # The database there is damaged beyond SQLite's reading it: replaced as a file.
        try:
            for suffix in ("-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            os.replace(copy, path)
        except OSError as exc:
            raise BackupError(f"cannot restore: {describe(exc, path)}") from None
    return True
