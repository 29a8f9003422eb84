"""The site's input folders, walked and read without following a link out of them.

One walk serves content/ and static/ (and the build snapshot's look at every input folder),
so ``check`` and ``build`` see the same files and report the same problems. What it decides:

- A link to a file is followed only when the file it leads to is inside the site's
  content/, static/ or templates/ folder, outside any hidden folder and outside .feedpub/ and
  the output folder; any other link is refused with an error naming it, and never read.
- A link to a folder is never followed (a warning says so): following one could loop, or make
  the same article appear twice under two paths.
- A link that loops or leads nowhere, a pipe, socket or device, a name that is not UTF-8 or
  holds a line break or another control character, a folder nested deeper than MAX_DEPTH or
  one that cannot be listed: each is an error naming it, never a silent skip.

Every read goes through ``read_input``, which opens the file without following a link in its
last part and then checks where the open file really is, so a file swapped for a link after
the walk is refused too.
"""

from __future__ import annotations

import errno
import functools
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from feedpub.config import STATE_DIR, Site
from feedpub.errors import Problem, Severity

# Deeper than any real site's folders, far shallower than the 4096 bytes a path may have.
MAX_DEPTH = 100
# Characters no file name of an input may carry: C0 and C1 controls (a line break in a name
# would start a forged 'PATH:LINE: error:' line in the output), Unicode line and paragraph
# separators, the bidirectional overrides that make a name read differently from what it is,
# and the lone surrogates that stand for bytes that are not UTF-8.
_BAD_CHARACTER = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)

Files = list[tuple[str, os.stat_result]]


class Refused(OSError):
    """A file that may not be read: it leads outside the site's input folders."""


@dataclass
class Tree:
    """The files a walk found (path, metadata) in walking order, and its problems."""

    files: Files = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class Roots:
    """Where a link may lead (the real paths of the input folders) and where never, each as
    the tuple of its parts: a path is inside a folder when it starts with the folder's parts
    ('/site/static2' is not inside '/site/static'), compared without a call per read."""

    inputs: tuple[tuple[str, ...], ...]
    never: tuple[tuple[str, ...], ...]

    @classmethod
    def of(cls, inputs: Iterable[str], never: Iterable[str] = ()) -> Roots:
        return cls(tuple(_parts(p) for p in inputs), tuple(_parts(p) for p in never))

    def allows(self, real: str) -> bool:
        """Whether the real path ``real`` may be read: inside an input folder, in no hidden
        folder there, and not inside a folder it must never be."""
        parts = _parts(real)
        for root in self.inputs:
            if parts[: len(root)] == root:
                return not any(part.startswith(".") for part in parts[len(root) :]) and not any(
                    parts[: len(other)] == other for other in self.never
                )
        return False


def _parts(real: str) -> tuple[str, ...]:
    return tuple(real.rstrip(os.sep).split(os.sep))


@functools.lru_cache(maxsize=64)
def roots(root: Path, output: str) -> Roots:
    """The Roots of the site in folder ``root`` (config.Site.root) with ``[feeds] output``."""
    inputs = [os.path.realpath(root / name) for name in ("content", "static", "templates")]
    return Roots.of(inputs, (os.path.realpath(root / STATE_DIR), os.path.realpath(root / output)))


def of_site(site: Site) -> Roots:
    return roots(site.root, site.feeds.output)


def shown(path: str) -> str:
    """``path`` as it can be printed on one line: bytes that are not UTF-8 as \\xNN, control
    characters as escapes (\\n, \\x1b, \\u2028)."""

    def escape(match: re.Match[str]) -> str:
        char = match.group()
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # a byte os.fsdecode could not decode
            return f"\\x{code - 0xDC00:02x}"
        return repr(char)[1:-1] if code < 0x100 else f"\\u{code:04x}"

    return _BAD_CHARACTER.sub(escape, path)


def _bad_name(name: str) -> str | None:
    found = _BAD_CHARACTER.search(name)
    if found is None:
        return None
    if 0xD800 <= ord(found.group()) <= 0xDFFF:
        return "its name is not valid UTF-8; rename it (in UTF-8)"
    return "its name holds a line break or another control character; rename it"


def everything(name: str) -> bool:
    return True


def walk(
    top: Path,
    label: str,
    allowed: Roots,
    wanted: Callable[[str], bool] = everything,
    skip: tuple[str, ...] = (".",),
) -> Tree:
    """Every file under ``top`` whose name is ``wanted``, in a stable order (a folder's files
    by name, then its folders by name, as ``os.walk`` goes), with the problems found. Folders
    whose names start with one of ``skip`` are not entered; hidden files are never wanted.
    Problems name paths as ``label`` followed by the path inside ``top``. A missing ``top``
    is an empty tree."""
    tree = Tree()
    base = str(top)

    def problem(path: str, severity: Severity, message: str) -> None:
        where = shown(label + path[len(base) :].replace(os.sep, "/"))
        tree.problems.append(Problem(where, 0, severity, message))

    stack = [(base, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            if depth or exc.errno != errno.ENOENT:  # a site need not have static/ at all
                problem(folder, "error", f"cannot read this folder: {exc.strerror}")
            continue
        folders: list[str] = []
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            link = entry.is_symlink()
            try:
                is_dir = entry.is_dir()  # a link to a folder too: its name is a folder's
            except OSError:  # a link that loops, say: _follow says what it is
                is_dir = False
            if is_dir and name.startswith(skip):
                continue
            if not is_dir and not wanted(name):
                continue
            if (why := _bad_name(name)) is not None:
                problem(entry.path, "error", f"{why}; it is left out")
            elif link:
                _follow(entry, allowed, tree, problem)
            elif is_dir:
                if depth >= MAX_DEPTH:
                    problem(
                        entry.path,
                        "error",
                        f"is nested more than {MAX_DEPTH} folders deep; its files are left "
                        "out: move them into a shallower folder",
                    )
                else:
                    folders.append(entry.path)
            else:
                _file(entry, tree, problem)
        stack.extend((path, depth + 1) for path in reversed(folders))  # the first goes next
    return tree


Report = Callable[[str, Severity, str], None]


def _file(entry: os.DirEntry[str], tree: Tree, problem: Report) -> None:
    try:
        info = entry.stat(follow_symlinks=False)
    except OSError as exc:
        problem(entry.path, "error", f"cannot read: {exc.strerror}")
        return
    if stat.S_ISREG(info.st_mode):
        tree.files.append((entry.path, info))
    else:
        problem(entry.path, "error", "is not a file (a pipe, a socket or a device); remove it")


def _follow(entry: os.DirEntry[str], allowed: Roots, tree: Tree, problem: Report) -> None:
    """A link: its file is taken when it is one the site may publish."""
    try:
        real = os.path.realpath(entry.path, strict=True)
        info = os.stat(real)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            problem(
                entry.path, "error", "is a link that loops (it leads back to itself): remove it"
            )
        elif exc.errno == errno.ENOENT:
            target = shown(os.readlink(entry.path))
            problem(
                entry.path,
                "error",
                f"is a link to {target}, which does not exist; fix or remove it",
            )
        else:
            problem(entry.path, "error", f"cannot follow this link: {exc.strerror}")
        return
    if not allowed.allows(real):
        problem(
            entry.path,
            "error",
            f"is a link to {shown(real)}, outside the site's content/, static/ and templates/ "
            "folders; it is never read: copy the file in instead, or remove the link",
        )
    elif stat.S_ISDIR(info.st_mode):
        problem(
            entry.path,
            "warning",
            "is a link to a folder, which is not followed; move the folder here, or link its "
            "files one by one",
        )
    elif not stat.S_ISREG(info.st_mode):
        problem(entry.path, "error", "is a link to something that is not a file; remove it")
    else:
        tree.files.append((entry.path, info))


_OPEN = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def read_input(path: str, allowed: Roots, limit: int | None = None) -> bytes:
    """The bytes of the input file ``path`` (a link is followed as ``walk`` would). Raises
    Refused when it leads out of the input folders (whatever happened since the walk),
    OSError when it cannot be read, and FileTooBig over ``limit`` bytes."""
    try:
        fd = os.open(path, _OPEN)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        # The last part is a link (O_NOFOLLOW): open where it leads, if it may be read.
        real = os.path.realpath(path)
        if not allowed.allows(real):
            raise Refused(errno.EACCES, "it is a link out of the site's input folders") from None
        fd = os.open(real, _OPEN)
    try:
        # Where the open file really is: a folder on the way may have become a link.
        try:
            opened = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # no /proc (not Linux): the checks above are all there is
            opened = None
        if opened is not None and not allowed.allows(opened):
            raise Refused(errno.EACCES, "it is a link out of the site's input folders")
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a file (a pipe, a socket or a device)")
        if limit is not None and info.st_size > limit:
            raise FileTooBig(info.st_size)
        chunks = []
        size = 0
        # One read for most files; a file still growing is read until it ends (or passes
        # the limit, which is then reported with what was read).
        while chunk := os.read(fd, max(info.st_size - size, 0) + 65536):
            chunks.append(chunk)
            size += len(chunk)
            if limit is not None and size > limit:
                raise FileTooBig(size)
        return b"".join(chunks)
    finally:
        os.close(fd)


class FileTooBig(OSError):
    """A file over the size asked for; ``size`` is its size in bytes."""

    def __init__(self, size: int) -> None:
        super().__init__(errno.EFBIG, "file too big")
        self.size = size
