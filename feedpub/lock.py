"""One acting command per site: an advisory lock on ``.feedpub/lock``.

The lock is an ``flock`` on the file, held for the life of the open file: the kernel drops it
when its process dies, however it dies, so a lock left by a killed process is simply free
again; the holder's description in the file is only there to name it in the message.

A forked process inherits the open file, and with it the lock: a worker left running by a
killed build would keep the site locked until it finished. Every forked child closes its copy
at once (the lock stays with the parent, which still has the file open).
"""

from __future__ import annotations

import fcntl
import os
import socket
from contextlib import suppress
from pathlib import Path
from types import TracebackType

from feedpub.errors import LockBusy, LockError
from feedpub.oserrors import describe

LOCK_NAME = "lock"
# The file descriptors of the locks this process holds.
_HELD: set[int] = set()


def _close_in_child() -> None:
    for fd in _HELD:
        with suppress(OSError):
            os.close(fd)
    _HELD.clear()


os.register_at_fork(after_in_child=_close_in_child)


class SiteLock:
    def __init__(self, state_dir: Path, command: str) -> None:
        self.path = state_dir / LOCK_NAME
        self.command = command
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            where = Path(exc.filename) if exc.filename else self.path
            raise LockError(f"cannot take the site's lock: {describe(exc, where)}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 500, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise LockBusy(
                f"the site is busy: {holder} holds {self.path}; try again when it has finished"
            ) from None
        description = f"feedpub {self.command} (pid {os.getpid()} on {socket.gethostname()})"
        with suppress(OSError):  # a full disk: the lock holds, only its holder goes unnamed
            os.ftruncate(fd, 0)
            os.pwrite(fd, description.encode(), 0)
        self._fd = fd
        _HELD.add(fd)

    def release(self) -> None:
        if self._fd is not None:
            _HELD.discard(self._fd)
            with suppress(OSError):  # the next holder writes its own name over this one
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> SiteLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
