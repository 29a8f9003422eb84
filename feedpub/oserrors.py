"""Why a file of the site cannot be read or written, said plainly, with what to do.

The kernel's one word ("Permission denied", "No space left on device") rarely says which
file, whose permission or what to change; these helpers look at the file, its folder and the
file system, and say that instead. They only read: nothing is created, changed or removed.
"""

from __future__ import annotations

import errno
import fcntl
import grp
import os
import pwd
import stat
import struct
from pathlib import Path

# Linux's FS_IOC_GETFLAGS and the two flags that refuse writes even to root (chattr +i, +a).
_GETFLAGS = 0x80086601
_IMMUTABLE = 0x10
_APPEND = 0x20


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _owner(path: Path) -> str:
    """'owner root:root, mode drwx------', or '' when the file cannot be looked at."""
    try:
        info = path.lstat()
    except OSError:
        return ""
    return (
        f"owner {_user(info.st_uid)}:{_group(info.st_gid)}, mode {stat.filemode(info.st_mode)}"
    )


def _attributes(path: Path) -> str:
    """'immutable' or 'append-only' when chattr has marked the file so, else ''."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        return ""
    try:
        flags = struct.unpack("l", fcntl.ioctl(fd, _GETFLAGS, struct.pack("l", 0)))[0]
    except OSError:
        return ""
    finally:
        os.close(fd)
    if flags & _IMMUTABLE:
        return "immutable"
    if flags & _APPEND:
        return "append-only"
    return ""


def _read_only_fs(path: Path) -> bool:
    for candidate in (path, *path.parents):
        try:
            return bool(os.statvfs(candidate).f_flag & os.ST_RDONLY)
        except OSError:
            continue
    return False


def _not_a_folder(path: Path) -> Path | None:
    """The first of ``path``'s folders that exists but is not a folder."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def _free(path: Path) -> int | None:
    for candidate in (path, *path.parents):
        try:
            info = os.statvfs(candidate)
        except OSError:
            continue
        return info.f_bavail * info.f_frsize
    return None


def disk_full(path: Path) -> bool:
    """Whether the file system holding ``path`` has (almost) no room left."""
    free = _free(path)
    return free is not None and free < 64 * 1024


def describe(exc: OSError, path: Path) -> str:
    """``exc`` (raised for ``path``) as 'PATH: what is wrong; what to do'."""
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        what = "the disk is full" if code == errno.ENOSPC else "the disk quota is used up"
        return (
            f"{path}: {what}, nothing more can be written there; free some space on that "
            "file system and try again"
        )
    if code == errno.EROFS or (code in (errno.EACCES, errno.EPERM) and _read_only_fs(path)):
        return (
            f"{path}: the file system is mounted read-only; remount it read-write or move the "
            "site to a writable disk"
        )
    if code == errno.EISDIR:
        return (
            f"{path} is a folder where feedpub keeps a file; move the folder away (look "
            "inside first: what it holds may be yours)"
        )
    if code in (errno.ENOTDIR, errno.EEXIST):
        blocker = path if path.exists() and not path.is_dir() else _not_a_folder(path)
        if blocker is not None:
            return (
                f"{blocker} is a file where feedpub needs a folder; rename or move that file "
                "and try again"
            )
    if code in (errno.EACCES, errno.EPERM):
        return permission(path)
    return f"{path}: {exc.strerror or exc}"


def permission(path: Path) -> str:
    """Why this user may not write ``path`` (or create it in its folder), and the fix."""
    target = path if path.exists() else path.parent
    for marked in (target, target.parent):  # the file, or the folder it is in
        attributes = _attributes(marked)
        if attributes:
            what = f"{path} is" if marked == path else f"{path}: its folder {marked} is"
            return (
                f"{what} marked {attributes} (chattr), which refuses changes even to root; "
                f"'lsattr -d {marked}' shows it, 'chattr -i -a {marked}' clears it"
            )
    me = _user(os.geteuid())
    owner = _owner(target)
    if target == path:
        what = f"{path} ({owner}) is not writable by {me}"
    else:
        what = f"cannot create {path}: its folder {target} ({owner}) is not writable by {me}"
    return (
        f"{what}, the user feedpub runs as; run feedpub as the site's owner, or give {me} "
        "access (chown or chmod)"
    )


def unwritable(path: Path) -> str | None:
    """What stops this process writing the file ``path`` or files beside it, if anything."""
    if path.is_dir():
        return describe(OSError(errno.EISDIR, os.strerror(errno.EISDIR)), path)
    if _not_a_folder(path) is not None:
        return describe(OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR)), path)
    if path.exists():
        try:
            os.close(os.open(path, os.O_RDWR | os.O_NOFOLLOW))
        except OSError as exc:
            return describe(exc, path)
    folder = path.parent
    # O_TMPFILE: a file with no name, gone when closed; the kernel checks exactly what
    # creating a file in the folder needs (write and search permission, attributes, mount).
    try:
        os.close(os.open(folder, os.O_TMPFILE | os.O_WRONLY, 0o600))
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            return describe(exc, folder)
        if not os.access(folder, os.W_OK | os.X_OK):
            return describe(OSError(errno.EACCES, os.strerror(errno.EACCES)), folder)
    if disk_full(folder):
        return describe(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), path)
    return None
