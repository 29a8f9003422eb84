"""Work shared out to forked processes, one per core, when there is enough of it.

The processes are forked, so they inherit the work list and the function (closures over the
site and catalog could not be pickled and sent to them); only the results travel back.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_WORKERS = 8
# The job of the processes running now; set only while they run.
_JOB: tuple[Callable[[Any], Any], Sequence[Any]] | None = None


def workers_for(count: int, minimum: int) -> int:
    """How many processes to use for ``count`` items: 1 below ``minimum`` (starting others
    would cost more than it saves), on one core, or where processes cannot be forked."""
    cores = min(os.cpu_count() or 1, MAX_WORKERS)
    if cores < 2 or count < minimum:
        return 1
    # Imported only when there is work to share: a build with nothing to do saves 7 ms.
    import multiprocessing

    return cores if "fork" in multiprocessing.get_all_start_methods() else 1


def fork_map(
    function: Callable[[T], R], items: Sequence[T], workers: int, block: int = 1
) -> list[R]:
    """``[function(item) for item in items]``, computed by this process and ``workers - 1``
    forked ones, each taking every ``workers``-th run of ``block`` items (neighbours that share
    work, such as a feed's three formats, stay in one process). This process works on the
    first share rather than wait, and its results are not pickled. An exception in any share
    is raised here once the others have stopped."""
    global _JOB
    if workers < 2:
        return [function(item) for item in items]
    import multiprocessing

    _JOB = (function, items)
    try:
        with multiprocessing.get_context("fork").Pool(workers - 1) as pool:
            others = pool.map_async(
                _run_share, [(first, workers, block) for first in range(1, workers)]
            )
            own = _run_share((0, workers, block))
            shares = [own, *others.get()]
    finally:
        _JOB = None
    results: list[Any] = [None] * len(items)
    for first, share in enumerate(shares):
        for index, result in zip(_indices(len(items), first, workers, block), share, strict=True):
            results[index] = result
    return results


def _indices(count: int, first: int, step: int, block: int) -> list[int]:
    """The items of one share: blocks ``first``, ``first + step``, ... of ``block`` items."""
    return [
        index
        for start in range(first * block, count, step * block)
        for index in range(start, min(start + block, count))
    ]


def _run_share(share: tuple[int, int, int]) -> list[Any]:
    assert _JOB is not None
    function, items = _JOB
    first, step, block = share
    return [function(items[index]) for index in _indices(len(items), first, step, block)]
