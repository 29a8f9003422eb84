"""Real full disks for the fault tests: a small tmpfs mounted on a folder (the tests run as
root, as .ci/run does), and a file that takes all of its room but a little."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def small_disk(folder: Path, size: str = "2m") -> Iterator[Path]:
    """A real tmpfs of ``size`` mounted on ``folder`` (made if missing), unmounted after; a
    test that leaves it in use (an open file, a process) fails."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(folder)],
        check=True,
    )
    try:
        yield folder
    finally:
        if subprocess.run(["umount", str(folder)], check=False).returncode:
            subprocess.run(["umount", "-l", str(folder)], check=True)  # still in use: detach
            raise AssertionError(f"{folder} was still in use at the end of the test")


def fill(folder: Path, leave: int) -> Path:
    """Take all but about ``leave`` bytes of the file system holding ``folder``."""
    filler = folder / "filler"
    info = os.statvfs(folder)
    with filler.open("wb") as handle:
        handle.write(b"\0" * max(info.f_bavail * info.f_frsize - leave, 0))
    return filler
