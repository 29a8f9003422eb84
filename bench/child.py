"""Run one measured command; write its wall time, peak memory, CPU time (user and system, its
own and its children's) and exit code as JSON.

    python bench/child.py RESULT_FILE COMMAND...

bench/run.py starts every measured command through this small process instead of directly.
Linux keeps a process's peak resident size across exec, and a child starts with the memory of
the process it was forked from: a command started straight from the bench, which grows to
hundreds of megabytes over a run, reported the bench's own size as its peak whenever it used
less. Started from here (about 10 MB), its figure is its own.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    result, command = argv[0], argv[1:]
    started = time.perf_counter()
    pid = os.posix_spawnp(command[0], command, os.environ)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - started
    with open(result, "w", encoding="utf-8") as file:
        json.dump({"seconds": seconds, "peak_kib": usage.ru_maxrss,
                   "cpu_seconds": usage.ru_utime + usage.ru_stime,
                   "exit": os.waitstatus_to_exitcode(status)}, file)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
