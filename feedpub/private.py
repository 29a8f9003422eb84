"""Files that hold personal data (subscribers' addresses, messages to them): readable by their
owner only, and written whole or not at all."""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path


def write_private(path: Path, data: bytes) -> None:
    """Make ``path`` hold ``data``, readable by its owner only (mode 0600).

    The bytes go to ``.NAME.tmp`` beside it, which then replaces it: a reader never finds
    half a file, and a temporary file a killed process left is replaced by the next write of
    the same file. That temporary file is always made anew (O_EXCL, O_NOFOLLOW), never
    written through a file or a link already there. OSError if it cannot be written; nothing
    is left behind then.
    """
    temp = path.with_name(f".{path.name}.tmp")
    with suppress(FileNotFoundError):
        temp.unlink()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temp, flags, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
