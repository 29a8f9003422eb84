"""Work shared out to forked processes, one per core, when there is enough of it.

The processes are forked, so they inherit the work list and the function (closures over the
site and catalog could not be pickled and sent to them); only the results travel back, each
process's in one piece through a pipe of its own when its share is done.

A process that dies (killed by the out-of-memory killer, or aborted by a C library that ran
out of memory) is noticed when its pipe closes without a result, and named with the item it
was working on: each process notes the item it starts in a small shared memory map. A forked
process keeps nothing of its parent's that must be released (the site lock is closed in it,
see lock.py) and is killed by the kernel when its parent dies, so a killed build leaves no
process behind.
"""

from __future__ import annotations

import mmap
import os
import pickle
import signal
import struct
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import PurePath
from typing import Any, TypeVar

from feedpub.errors import WorkerError

T = TypeVar("T")
R = TypeVar("R")

MAX_WORKERS = 8
_SLOT = struct.Struct("q")  # the index of the item a process is working on, plus one (0: none)
_PR_SET_PDEATHSIG = 1


def workers_for(count: int, minimum: int) -> int:
    """How many processes to use for ``count`` items: 1 below ``minimum`` (starting others
    would cost more than it saves), on one core, or where processes cannot be forked."""
    cores = min(os.cpu_count() or 1, MAX_WORKERS)
    if cores < 2 or count < minimum:
        return 1
    return cores if hasattr(os, "fork") else 1


def fork_map(
    function: Callable[[T], R],
    items: Sequence[T],
    workers: int,
    block: int = 1,
) -> list[R]:
    """``[function(item) for item in items]``, computed by this process and ``workers - 1``
    forked ones, each taking every ``workers``-th run of ``block`` items (neighbours that share
    work, such as a feed's three formats, stay in one process). This process works on the
    first share rather than wait, and its results are not pickled. An exception in any share
    is raised here once the others have stopped; a process that dies raises WorkerError,
    naming the item it was on (the item's first string or path).
    """
    if workers < 2:
        return [function(item) for item in items]
    progress = mmap.mmap(-1, _SLOT.size * workers)
    children: dict[int, tuple[int, int]] = {}  # share -> (pid, read end of its pipe)
    parent = os.getpid()
    try:
        for first in range(1, workers):
            read_end, write_end = os.pipe()
            # Ctrl-C reaches every process of the terminal's group. A worker ignores it (the
            # parent, which gets it too, stops the workers): held back across the fork, it
            # cannot reach the worker before the worker ignores it, nor the parent before the
            # worker is in ``children``, the list of processes to stop.
            held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                pid = os.fork()
                if pid == 0:  # pragma: no cover - the child's coverage is not collected
                    try:
                        signal.signal(signal.SIGINT, signal.SIG_IGN)
                        signal.pthread_sigmask(signal.SIG_SETMASK, held)
                        os.close(read_end)
                        for _, other in children.values():
                            os.close(other)
                        its = (first, workers, block)
                        _child(function, items, its, write_end, progress, parent)
                    finally:
                        # Nothing may run on in the child's copy of the caller (its cleanup
                        # is the parent's): _child itself never returns.
                        os._exit(1)
                os.close(write_end)
                children[first] = (pid, read_end)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, held)
        own = [function(items[index]) for index in _indices(len(items), 0, workers, block)]
        shares: list[list[Any]] = [own]
        for first in range(1, workers):
            pid, read_end = children[first]
            # Still in ``children`` while it is read: stopped by the ``finally`` on Ctrl-C.
            shares.append(_collect(pid, read_end, progress, first, items, children))
    finally:
        for pid, read_end in children.values():
            _stop(pid, read_end)
        progress.close()
    results: list[Any] = [None] * len(items)
    for first, share in enumerate(shares):
        for index, result in zip(_indices(len(items), first, workers, block), share, strict=True):
            results[index] = result
    return results


def _child(
    function: Callable[[Any], Any],
    items: Sequence[Any],
    share: tuple[int, int, int],
    write_end: int,
    progress: mmap.mmap,
    parent: int,
) -> None:  # pragma: no cover - runs in the forked process
    """Work through one share and send the results (or the exception) back; never returns."""
    code = 0
    try:
        _die_with(parent)
        first, step, block = share
        results = []
        for index in _indices(len(items), first, step, block):
            _SLOT.pack_into(progress, first * _SLOT.size, index + 1)
            results.append(function(items[index]))
        _SLOT.pack_into(progress, first * _SLOT.size, 0)
        payload = pickle.dumps((True, results), pickle.HIGHEST_PROTOCOL)
    except BaseException as exc:
        try:
            payload = pickle.dumps((False, exc), pickle.HIGHEST_PROTOCOL)
        except Exception:
            payload = pickle.dumps((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(write_end, view) :]
    except OSError:
        code = 1
    # No exit handlers, no flushing of what the parent had buffered, no closing of the
    # parent's database connection: this process only ever did its share.
    os._exit(code)


def _die_with(parent: int) -> None:  # pragma: no cover - runs in the forked process
    """Have the kernel kill this process when its parent dies (Linux), so that the work of a
    killed build stops with it; on other systems the process finishes its share and exits."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request was made
        os._exit(1)


def _collect(
    pid: int,
    read_end: int,
    progress: mmap.mmap,
    first: int,
    items: Sequence[Any],
    children: dict[int, tuple[int, int]],
) -> list[Any]:
    """The results of the process ``pid``, read to the end of its pipe; WorkerError if it
    died, the exception it sent if its share failed. It leaves ``children`` (share ``first``)
    once its pipe is closed and it is waited for."""
    chunks: list[bytes] = []
    while chunk := os.read(read_end, 1 << 20):
        chunks.append(chunk)
    del children[first]
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    try:
        ok, value = pickle.loads(b"".join(chunks))
    except Exception:
        (index,) = _SLOT.unpack_from(progress, first * _SLOT.size)
        what = _name_of(items[index - 1]) if index else "its share of the work"
        raise WorkerError(
            f"worker process {pid} {_how(status)} while working on {what}; nothing was "
            f"published. Build again; if it happens again, {what} may need more memory than "
            "the system gives the build"
        ) from None
    if not ok:
        raise value
    return list(value)


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            shown = signal.Signals(number).name
        except ValueError:
            shown = f"signal {number}"
        if number == signal.SIGKILL:
            return f"was killed ({shown}, as the out-of-memory killer does)"
        if number == signal.SIGABRT:
            return f"aborted ({shown}, as a library does when it runs out of memory)"
        return f"was killed by {shown}"
    return f"exited with status {os.waitstatus_to_exitcode(status)} and no result"


def _stop(pid: int, read_end: int) -> None:
    """End a process whose results are no longer wanted (another share failed)."""
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    os.close(read_end)
    os.waitpid(pid, 0)


def _name_of(item: Any) -> str:
    """How a work item is named in a message: itself, or its first string or path."""
    if isinstance(item, str | PurePath):
        return str(item)
    if isinstance(item, tuple):
        for part in item:
            if isinstance(part, str | PurePath):
                return str(part)
    return repr(item)[:200]


def _indices(count: int, first: int, step: int, block: int) -> list[int]:
    """The items of one share: blocks ``first``, ``first + step``, ... of ``block`` items."""
    return [
        index
        for start in range(first * block, count, step * block)
        for index in range(start, min(start + block, count))
    ]
