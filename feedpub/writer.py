"""The one writer of all output: staged, atomic, confined to the output folder.

Files are staged as temporary siblings while a build renders, and only swapped into place
(``os.replace``, atomic on POSIX) once everything rendered; a build that fails or is killed
before that leaves the previous output untouched. Files whose bytes did not change are left
alone, and files an earlier build wrote that this one no longer produces are removed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import OutputError

TEMP_PREFIX = ".feedpub-tmp-"


@dataclass(frozen=True)
class WriteReport:
    written: int
    unchanged: int
    removed: int


class Writer:
    def __init__(self, output_dir: Path, previous: dict[str, str] | None = None) -> None:
        self.root = output_dir.resolve()
        self._root = str(self.root)
        self.previous = previous or {}
        self.outputs: dict[str, str] = {}
        self._staged: list[tuple[Path, Path]] = []
        self._unchanged = 0

    def offer(self, relpath: str, key: str, render: Callable[[], bytes]) -> None:
        """Stage ``relpath`` unless the last build wrote it from the same inputs (``key``) and
        it is still there: then it is not even rendered."""
        if relpath in self.outputs:
            raise OutputError(f"two outputs want the same file {relpath!r}")
        if (
            self.previous.get(relpath) == key
            and self._plain(relpath) is not None
            and os.path.isfile(os.path.join(self._root, relpath))
        ):
            self.outputs[relpath] = key
            self._unchanged += 1
            return
        self.stage(relpath, render(), key)

    @staticmethod
    def _plain(relpath: str) -> PurePosixPath:
        if (
            not relpath
            or relpath.startswith("/")
            or any(part in {"", ".", ".."} for part in relpath.split("/"))
            or "\\" in relpath
            or "\x00" in relpath
        ):
            raise OutputError(f"refusing to write {relpath!r}: not a plain path inside the output")
        return PurePosixPath(relpath)

    def target(self, relpath: str) -> Path:
        """The absolute path for ``relpath``, refusing anything outside the output folder."""
        path = self.root.joinpath(*self._plain(relpath).parts)
        # Resolving follows symlinks, so a link inside the output cannot lead the write out.
        if not path.parent.resolve().is_relative_to(self.root):
            raise OutputError(f"refusing to write {relpath!r}: it leads outside {self.root}")
        return path

    def stage(self, relpath: str, data: bytes, key: str | None = None) -> None:
        if relpath in self.outputs:
            raise OutputError(f"two outputs want the same file {relpath!r}")
        path = self.target(relpath)
        self.outputs[relpath] = key or hashlib.sha256(data).hexdigest()
        try:
            if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
                self._unchanged += 1
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.parent.resolve().is_relative_to(self.root):
                raise OutputError(f"refusing to write {relpath!r}: it leads outside {self.root}")
            temp = path.with_name(TEMP_PREFIX + path.name)
            temp.write_bytes(data)
        except OSError as exc:
            self.abort()
            raise OutputError(f"cannot write {path}: {exc.strerror}") from None
        self._staged.append((temp, path))

    def abort(self) -> None:
        for temp, _ in self._staged:
            temp.unlink(missing_ok=True)
            _prune_empty(temp.parent, self.root)
        self._staged.clear()

    def commit(self) -> WriteReport:
        try:
            for temp, path in self._staged:
                os.replace(temp, path)
        except OSError as exc:
            self.abort()
            raise OutputError(f"cannot replace {exc.filename}: {exc.strerror}") from None
        written = len(self._staged)
        self._staged.clear()
        removed = 0
        for relpath in sorted(set(self.previous) - set(self.outputs)):
            try:
                path = self.target(relpath)
            except OutputError:
                continue
            if path.is_file() and not path.is_symlink():
                path.unlink()
                removed += 1
                _prune_empty(path.parent, self.root)
        return WriteReport(written=written, unchanged=self._unchanged, removed=removed)


def _prune_empty(folder: Path, root: Path) -> None:
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
