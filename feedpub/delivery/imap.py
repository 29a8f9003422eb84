"""The inbox on an IMAP server ([inbox] host): the folder's messages read with imaplib over TLS
(verified against [inbox] ca_file or the system's CAs), each moved after the commit that
records it to [inbox] processed_folder or unknown_folder: MOVE (RFC 6851) where the server has
it, else COPY, then \\Deleted and UID EXPUNGE (RFC 4315) of those UIDs only. Nothing is ever
deleted that was not copied first, and nothing unread is deleted at all.

UIDs are taken within one session of the selected folder; when the server says the folder's
UIDVALIDITY changed, the UIDs read before mean other messages, so nothing more is moved: the
next run reads the folder again, and the keys make that harmless.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import re
import socket
import ssl
from collections.abc import Iterator, Mapping
from types import TracebackType

from feedpub.config import InboxSettings, Site
from feedpub.delivery.classify import MAX_PARSED, message_key
from feedpub.delivery.mailboxes import Folder, Message
from feedpub.errors import InboxError
from feedpub.store.events import one_line

# UIDs asked about in one FETCH of sizes, and in one MOVE (a command line stays short).
_CHUNK = 200
# A message larger than this is not fetched, only moved as unknown: no bounce is that big (a
# 20 MB attachment comes well under it), and imaplib holds a message whole in memory.
MAX_FETCHED = 64 * 2**20
_LIST_LINE = re.compile(rb'\((?P<flags>[^)]*)\) (?:"(?P<sep>[^"]*)"|NIL) ')
_FETCH_SIZE = re.compile(rb"UID (\d+)|RFC822\.SIZE (\d+)")


def _quoted(name: str) -> str:
    # The settings allow no quote or backslash in a folder's name (config._check_folder).
    return f'"{name}"'


def _text(data: object) -> str:
    if isinstance(data, list):
        data = b" ".join(part for part in data if isinstance(part, bytes))
    raw = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
    return one_line(raw, 300)


class ImapSource:
    """The messages of [inbox] folder on [inbox] host, opened at once (InboxError when the
    server cannot be reached, refuses the login or the folder)."""

    moves = True

    def __init__(self, site: Site, env: Mapping[str, str] | None = None) -> None:
        self.settings = site.inbox
        self.warnings: list[str] = []
        env = os.environ if env is None else env
        settings = self.settings
        password = env.get(settings.password_env, "")
        if not password:
            raise InboxError(
                f"[inbox] password_env names {settings.password_env}, which is not set: put the "
                f"IMAP password for {settings.username} in that environment variable"
            )
        self.where = f"{settings.host}:{settings.real_port}"
        self.uidvalidity = ""  # the selected folder's, once it is selected
        self.valid = True  # False once the server says it changed: the UIDs read mean nothing
        self.conn = self._connect(site, settings)
        try:
            self._login(settings, password)
            self.separator = self._separator()
            self.folders: dict[Folder, str] = {
                "processed": self._name(settings.processed_folder),
                "unknown": self._name(settings.unknown_folder),
            }
            for name in self.folders.values():
                self._create(name)
            capabilities = self._capabilities()  # one round trip for both
            self.moves_natively = "MOVE" in capabilities
            self.uidplus = "UIDPLUS" in capabilities
            self.uidvalidity = self._select(self._name(settings.folder))
        except BaseException:
            self.close()
            raise

    # -- the session -------------------------------------------------------------------------
    def _connect(self, site: Site, settings: InboxSettings) -> imaplib.IMAP4:
        context = ssl.create_default_context()
        if settings.ca_file:
            path = site.root / settings.ca_file  # an absolute ca_file stays as it is
            try:
                context = ssl.create_default_context(cafile=str(path))
            except (OSError, ssl.SSLError) as exc:
                raise InboxError(
                    f"[inbox] ca_file {settings.ca_file}: cannot be read as PEM certificates "
                    f"({getattr(exc, 'strerror', None) or exc}); give a CA bundle in PEM"
                ) from None
        host, port, timeout = settings.host, settings.real_port, settings.timeout
        try:
            if settings.security == "ssl":
                return imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=timeout)
            conn = imaplib.IMAP4(host, port, timeout=timeout)
            if settings.security == "starttls":
                try:
                    conn.starttls(ssl_context=context)
                except BaseException:
                    conn.shutdown()
                    raise
            return conn
        except ssl.SSLCertVerificationError as exc:
            raise InboxError(
                f"the IMAP server {self.where}'s certificate does not verify "
                f"({exc.verify_message}); give its CA in [inbox] ca_file, or fix the server's "
                "certificate"
            ) from None
        except (ssl.SSLError, imaplib.IMAP4.error) as exc:
            raise InboxError(
                f"TLS with the IMAP server {self.where} failed: {_text(str(exc))}; check "
                "[inbox] security (ssl for port 993, starttls for 143) and port"
            ) from None
        except TimeoutError:
            raise InboxError(
                f"the IMAP server {self.where} did not answer within {timeout} s ([inbox] timeout)",
                temporary=True,
            ) from None
        except OSError as exc:
            reason = exc.strerror or str(exc)
            if isinstance(exc, socket.gaierror):
                reason = f"the name does not resolve ({reason})"
            raise InboxError(
                f"cannot reach the IMAP server {self.where}: {reason}", temporary=True
            ) from None

    def _login(self, settings: InboxSettings, password: str) -> None:
        try:
            self.conn.login(settings.username, password)
        except imaplib.IMAP4.error as exc:
            raise InboxError(
                f"the IMAP server {self.where} refused the login of {settings.username}: "
                f"{_text(str(exc))}; check [inbox] username and the password in "
                f"{settings.password_env}"
            ) from None
        except (OSError, imaplib.IMAP4.abort) as exc:
            raise self._lost(exc) from None

    def _lost(self, exc: BaseException) -> InboxError:
        if isinstance(exc, TimeoutError):
            return InboxError(
                f"the IMAP server {self.where} stopped answering (more than "
                f"{self.settings.timeout} s, [inbox] timeout)",
                temporary=True,
            )
        return InboxError(
            f"the connection to the IMAP server {self.where} was lost: {_text(str(exc))}",
            temporary=True,
        )

    def _command(self, name: str, *args: str) -> list[object]:
        """An IMAP command that must succeed; its untagged data. ``name``: CAPABILITY, LIST,
        or "UID " and the UID command."""
        try:
            if name.startswith("UID "):
                kind, data = self.conn.uid(name[4:], *args)
            elif name == "LIST":
                kind, data = self.conn.list(*args)
            else:
                kind, data = self.conn.capability()
        except imaplib.IMAP4.abort as exc:
            raise self._lost(exc) from None
        except imaplib.IMAP4.error as exc:
            raise InboxError(
                f"the IMAP server {self.where} refused {name}: {_text(str(exc))}"
            ) from None
        except OSError as exc:
            raise self._lost(exc) from None
        if kind != "OK":
            raise InboxError(f"the IMAP server {self.where} refused {name}: {_text(data)}")
        self._check_uidvalidity()
        return list(data)

    def _capabilities(self) -> set[str]:
        # After the login: servers announce more (MOVE, UIDPLUS) than to a stranger.
        words: set[str] = set()
        for line in self._command("CAPABILITY"):
            if isinstance(line, bytes):
                words.update(line.decode("ascii", "replace").upper().split())
        return words

    def _separator(self) -> str:
        for line in self._command("LIST", '""', '""'):
            match = _LIST_LINE.match(line) if isinstance(line, bytes) else None
            if match and match.group("sep"):
                return match.group("sep").decode("ascii", "replace")
        return "/"

    def _name(self, setting: str) -> str:
        """A folder setting (levels joined by "/") in the server's own hierarchy."""
        return setting.replace("/", self.separator) if self.separator != "/" else setting

    def _create(self, name: str) -> None:
        listed = self._command("LIST", '""', _quoted(name))
        if any(isinstance(line, bytes) for line in listed):
            return
        try:
            kind, data = self.conn.create(_quoted(name))
        except (OSError, imaplib.IMAP4.abort) as exc:
            raise self._lost(exc) from None
        if kind != "OK" and b"ALREADYEXISTS" not in b" ".join(
            part for part in data if isinstance(part, bytes)
        ):
            raise InboxError(
                f"the IMAP server {self.where} would not create the folder {name}: "
                f"{_text(data)}; create it, or name another in [inbox]"
            )

    def _select(self, name: str) -> str:
        try:
            kind, data = self.conn.select(_quoted(name))
        except (OSError, imaplib.IMAP4.abort) as exc:
            raise self._lost(exc) from None
        if kind != "OK":
            raise InboxError(
                f"the IMAP server {self.where} has no folder {name} to read ({_text(data)}); "
                "check [inbox] folder"
            )
        _, found = self.conn.response("UIDVALIDITY")
        return _text(found[-1:]) if found and found[-1] else ""

    def _check_uidvalidity(self) -> None:
        """A UIDVALIDITY the server sends now (RFC 3501 2.3.1.1) voids the UIDs read before."""
        _, found = self.conn.response("UIDVALIDITY")
        changed = found and found[-1] is not None and _text(found[-1:]) != self.uidvalidity
        if self.uidvalidity and changed:
            self.valid = False

    # -- the messages ------------------------------------------------------------------------
    def messages(self) -> Iterator[Message]:
        found = self._command("UID SEARCH", "UNDELETED")
        uids = [int(n) for n in b" ".join(p for p in found if isinstance(p, bytes)).split()]
        for start in range(0, len(uids), _CHUNK):
            if not self.valid:
                return
            chunk = uids[start : start + _CHUNK]
            sizes = self._sizes(chunk)
            for uid in chunk:
                if not self.valid:
                    return
                size = sizes.get(uid)
                if size is None:
                    continue  # expunged meanwhile by another client
                where = f"{self.where} {self.settings.folder} UID {uid}"
                if size > MAX_FETCHED:
                    self.warnings.append(f"{where}: {size:,} bytes, not read: moved as unknown")
                    yield Message(where, None, "", str(uid))
                    continue
                data = self._body(uid)
                if data is None:
                    continue
                yield Message(where, data[:MAX_PARSED], message_key(data), str(uid))

    def _sizes(self, uids: list[int]) -> dict[int, int]:
        sizes: dict[int, int] = {}
        for part in self._command("UID FETCH", _set(uids), "(UID RFC822.SIZE)"):
            line = part[0] if isinstance(part, tuple) else part
            if not isinstance(line, bytes):
                continue
            uid = size = None
            for match in _FETCH_SIZE.finditer(line):
                uid = int(match.group(1)) if match.group(1) else uid
                size = int(match.group(2)) if match.group(2) else size
            if uid is not None and size is not None:
                sizes[uid] = size
        return sizes

    def _body(self, uid: int) -> bytes | None:
        # BODY.PEEK: reading a message leaves it unseen, for whoever else reads the folder.
        for part in self._command("UID FETCH", str(uid), "(BODY.PEEK[])"):
            if isinstance(part, tuple) and len(part) == 2 and isinstance(part[1], bytes):
                return part[1]
        return None

    def settle(self, moves: list[tuple[Message, Folder]]) -> None:
        if not self.valid:
            self.warnings.append(
                f"the IMAP server {self.where} changed {self.settings.folder}'s UIDVALIDITY "
                "during the run: nothing more was moved; the next run reads the folder again"
            )
            return
        for folder in ("processed", "unknown"):
            uids = [int(m.handle) for m, f in moves if f == folder]
            for start in range(0, len(uids), _CHUNK):
                self._move(_set(uids[start : start + _CHUNK]), self.folders[folder])

    def _move(self, uids: str, target: str) -> None:
        if self.moves_natively:
            self._command("UID MOVE", uids, _quoted(target))
            return
        # COPY first: a message is flagged \Deleted only once its copy is in the target.
        self._command("UID COPY", uids, _quoted(target))
        self._command("UID STORE", uids, "+FLAGS.SILENT", r"(\Deleted)")
        if self.uidplus:
            self._command("UID EXPUNGE", uids)
        # Without UIDPLUS an EXPUNGE would also remove what others flagged \Deleted: the
        # copies stay flagged (and skipped, UNDELETED) for the owner's client to expunge.

    def close(self) -> None:
        conn = getattr(self, "conn", None)
        if conn is None:
            return
        self.conn = None  # type: ignore[assignment]
        try:
            # LOGOUT, never CLOSE: CLOSE would expunge every message flagged \Deleted, other
            # clients' too.
            conn.logout()
        except (OSError, imaplib.IMAP4.error, imaplib.IMAP4.abort):
            with contextlib.suppress(OSError):
                conn.shutdown()

    def __enter__(self) -> ImapSource:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _set(uids: list[int]) -> str:
    """A UID set, runs written as ranges (1:200 rather than 200 numbers)."""
    parts: list[str] = []
    run_start = previous = None
    for uid in sorted(uids):
        if previous is not None and uid == previous + 1:
            previous = uid
            continue
        if run_start is not None:
            parts.append(str(run_start) if run_start == previous else f"{run_start}:{previous}")
        run_start = previous = uid
    if run_start is not None:
        parts.append(str(run_start) if run_start == previous else f"{run_start}:{previous}")
    return ",".join(parts)
