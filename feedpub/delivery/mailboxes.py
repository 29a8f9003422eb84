"""Where the inbox's messages come from: a Maildir (each message renamed, once acted on, into a
Maildir++ folder of its own), an mbox file and a stream (standard input, for an MTA's pipe),
both only read. The IMAP server is ``imap``'s. Each source yields ``Message``s one at a time,
hashed whole (the key) and kept in memory only as far as ``classify`` reads them
(``MAX_PARSED``), and moves them when told to (``settle``), after the inbox's commit.
"""

from __future__ import annotations

import errno
import hashlib
import mailbox
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Literal, Protocol

from feedpub.delivery.classify import KEY_PREFIX, MAX_PARSED
from feedpub.errors import InboxError

# Maildir++ folders (Courier's layout, which Dovecot reads): ".feedpub.processed" shows as
# "feedpub/processed" in a mail client.
MAILDIR_FOLDERS = {"processed": ".feedpub.processed", "unknown": ".feedpub.unknown"}
_CHUNK = 1 << 20

Folder = Literal["processed", "unknown"]


@dataclass
class Message:
    """One message as a source read it: ``where`` names it in warnings (a file, an IMAP
    UID); ``data`` its first MAX_PARSED bytes, None when it was not read (not a file, too big
    to fetch); ``key`` its key, '' when its bytes are unknown; ``handle`` what the source
    needs to move it; ``movable`` False when it must stay where it is (a file that could not
    be opened may be readable later)."""

    where: str
    data: bytes | None
    key: str
    handle: str = ""
    movable: bool = True


class Source(Protocol):
    """Where messages come from. ``moves``: whether ``settle`` moves anything (a Maildir and
    IMAP do; an mbox file and standard input are only read)."""

    moves: bool
    warnings: list[str]

    def messages(self) -> Iterator[Message]: ...

    def settle(self, moves: list[tuple[Message, Folder]]) -> None: ...

    def close(self) -> None: ...


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


def read_message(stream: Readable, where: str, handle: str = "") -> Message:
    """A message from a stream: hashed whole (its key is classify.message_key of all its
    bytes), kept only as far as classify reads."""
    digest = hashlib.sha256()
    head = bytearray()
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
        if len(head) < MAX_PARSED:
            head += chunk[: MAX_PARSED - len(head)]
    return Message(where, bytes(head), KEY_PREFIX + digest.hexdigest(), handle)


class MaildirSource:
    """The messages of a Maildir's ``new`` and ``cur``; each one acted on is renamed into the
    Maildir++ folder ``.feedpub.processed`` (or ``.feedpub.unknown``), after the commit."""

    moves = True

    def __init__(self, root: Path) -> None:
        self.root = root
        self.warnings: list[str] = []
        if not root.is_dir():
            raise InboxError(
                f"{root} is not a folder; give the Maildir the mail server delivers the "
                "bounces to ([inbox] maildir or --maildir)"
            )
        missing = [name for name in ("new", "cur") if not (root / name).is_dir()]
        if missing:
            raise InboxError(
                f"{root} is not a Maildir: it has no {' or '.join(f'{n}/' for n in missing)} "
                "folder; give the Maildir itself (the folder holding new/, cur/ and tmp/)"
            )
        self._made: set[str] = set()

    def __enter__(self) -> MaildirSource:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        pass

    def messages(self) -> Iterator[Message]:
        # Never tmp/: a message there is still being written by the delivery agent.
        for part in ("new", "cur"):
            try:
                entries = os.scandir(self.root / part)
            except OSError as exc:
                raise InboxError(f"cannot read {self.root / part}: {exc.strerror}") from None
            with entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue
                    found = self._message(Path(entry.path), f"{part}/{entry.name}")
                    if found is not None:
                        yield found

    def _message(self, path: Path, shown: str) -> Message | None:
        where = str(path)
        try:
            # No link followed (a link to another file would be read as mail and moved), and
            # a FIFO left there does not block the read.
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return None  # moved meanwhile by another reader of the same Maildir
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # a symbolic link
                self.warnings.append(f"{where}: a symbolic link, not a message: moved unread")
                return Message(where, None, "", shown)
            self.warnings.append(f"{where}: cannot be read ({exc.strerror}); left where it is")
            return Message(where, None, "", shown, movable=False)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                self.warnings.append(f"{where}: not a file: moved unread")
                return Message(where, None, "", shown)
            with open(fd, "rb", closefd=False) as stream:
                return read_message(stream, where, shown)
        except OSError as exc:
            self.warnings.append(f"{where}: cannot be read ({exc.strerror}); left where it is")
            return Message(where, None, "", shown, movable=False)
        finally:
            os.close(fd)

    def _folder(self, folder: Folder) -> Path:
        path = self.root / MAILDIR_FOLDERS[folder]
        if folder not in self._made:
            for part in ("cur", "new", "tmp"):
                (path / part).mkdir(parents=True, exist_ok=True, mode=0o700)
            # Maildir++ marks a folder with this empty file (Courier, Dovecot).
            (path / "maildirfolder").touch(mode=0o600, exist_ok=True)
            self._made.add(folder)
        return path

    def settle(self, moves: list[tuple[Message, Folder]]) -> None:
        failed: list[tuple[Path, OSError]] = []
        for message, folder in moves:
            source = self.root / message.handle
            try:
                target = self._folder(folder) / "cur" / _seen_name(source.name)
                if target.exists():  # never over another message of the same name
                    target = target.with_name(_seen_name(source.name, f".{os.getpid()}"))
                os.rename(source, target)
            except FileNotFoundError:
                continue  # another reader moved it first
            except OSError as exc:
                failed.append((source, exc))
        if failed:
            # One line, not one per message: a read-only Maildir would fail them all.
            first, error = failed[0]
            others = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
            self.warnings.append(
                f"{first}{others}: acted on but not moved ({error.strerror}); the next run "
                "moves them and changes nothing more"
            )


def _seen_name(name: str, suffix: str = "") -> str:
    """The file's name in cur/ with the Seen flag (Maildir's "unique:2,FLAGS"), its unique part
    followed by ``suffix``."""
    unique, _, flags = name.partition(":2,")
    return f"{unique}{suffix}:2,{''.join(sorted(set(flags) | {'S'}))}"


# -- an mbox file --------------------------------------------------------------------------


class MboxSource:
    """The messages of an mbox file, only read: the keys make a second reading harmless."""

    moves = False

    def __init__(self, path: Path) -> None:
        self.path = path
        self.warnings: list[str] = []
        if not path.is_file():
            raise InboxError(
                f"{path} is not a file; give an mbox file (messages one after another, each "
                "starting with a 'From ' line)"
            )

    def __enter__(self) -> MboxSource:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        pass

    def messages(self) -> Iterator[Message]:
        try:
            # mailbox opens the file for writing when it may, but writes only what it is asked
            # to change, and nothing is.
            box = mailbox.mbox(self.path, create=False)
        except (OSError, mailbox.Error) as exc:
            raise InboxError(f"cannot read {self.path}: {exc}") from None
        try:
            # The table of contents is each message's offsets: small however many there are.
            for number, key in enumerate(box.iterkeys(), start=1):
                stream = box.get_file(key)
                try:
                    yield read_message(stream, f"{self.path} message {number}")
                finally:
                    stream.close()
        except (OSError, mailbox.Error) as exc:
            raise InboxError(f"cannot read {self.path}: {exc}") from None
        finally:
            box.close()

    def settle(self, moves: list[tuple[Message, Folder]]) -> None:
        pass


# -- standard input ------------------------------------------------------------------------


class StreamSource:
    """One message on a stream: ``feedpub inbox -`` in an MTA's pipe. A leading mbox "From "
    line (Postfix's pipe flag F, procmail) is not part of the message and is dropped, so the
    message's key is the one its copy in a Maildir has."""

    moves = False

    def __init__(self, stream: BinaryIO, name: str = "standard input") -> None:
        self.stream = stream
        self.name = name
        self.warnings: list[str] = []

    def __enter__(self) -> StreamSource:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        pass

    def messages(self) -> Iterator[Message]:
        try:
            first = self.stream.readline(_CHUNK)
            if first.startswith(b"From "):
                first = b""
            message = read_message(_Prefixed(first, self.stream), self.name)
        except OSError as exc:
            raise InboxError(f"cannot read {self.name}: {exc.strerror}", temporary=True) from None
        yield message

    def settle(self, moves: list[tuple[Message, Folder]]) -> None:
        pass


class _Prefixed:
    """A stream with some bytes already read put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self.head = head
        self.rest = rest

    def read(self, size: int = -1) -> bytes:
        if self.head:
            head, self.head = self.head, b""
            return head
        return self.rest.read(size)
