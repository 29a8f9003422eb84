"""Where messages go: an SMTP relay (one connection reused for many messages), or the outbox.

A transport's ``send`` either returns (the message was accepted) or raises one of:
``Refused`` (the relay answered this one message with a 4xx or 5xx code at RCPT TO, DATA or
the end of the message), ``ConnectionLost`` (the connection broke or timed out once the
recipient was named: the message may or may not have arrived) or ``RelayFailure`` (a condition
of the relay, not of this recipient: it cannot be reached, its greeting is not 220, it refuses
EHLO, TLS, the login or the sender, or it answers 421; nothing more goes through it this run).

Transports are chosen by name from a registry: ``smtp`` (when ``[smtp]`` names a host) and
``outbox`` (otherwise) are built in; a plugin adds its own with ``register(name, factory)``.
For a site that signs (``[smtp] dkim_key_file``), ``factory`` wraps whichever it picks so that
every message is DKIM-signed (``dkim``) as it is handed over.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import smtplib
import socket
import ssl
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from feedpub import plugins
from feedpub.config import Site, SmtpSettings, is_loopback
from feedpub.delivery import dkim
from feedpub.delivery.messages import Recipient
from feedpub.delivery.subscribers import normalize
from feedpub.errors import InsecureRelay, SubscriberError, TransportError
from feedpub.private import write_private

if TYPE_CHECKING:
    from typing_extensions import Buffer  # collections.abc.Buffer from Python 3.12


class Refused(Exception):
    """The relay refused this one message."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text

    @property
    def temporary(self) -> bool:
        return 400 <= self.code < 500


class ConnectionLost(Exception):
    """The connection broke, or the relay stopped answering, during a message."""


class RelayFailure(Exception):
    """Nothing more can be sent through this relay (or into this outbox) this run."""

    def __init__(self, message: str, temporary: bool) -> None:
        super().__init__(message)
        # True: the relay may recover by itself (a throttle, a restart); False: someone must
        # change something (the password, the certificate, the sender, a full disk).
        self.temporary = temporary


class Transport(Protocol):
    def open(self) -> None: ...

    def send(self, sender: str, recipient: str, data: bytes) -> None: ...

    def close(self) -> None: ...


def check_smtp(settings: SmtpSettings) -> None:
    if (
        settings.security == "none"
        and not is_loopback(settings.host)
        and not (settings.allow_insecure)
    ):
        raise InsecureRelay(
            f'[smtp] security = "none" would send mail and password unencrypted to '
            f"{settings.host}; use starttls or ssl, or set allow_insecure = true if that "
            "network is yours"
        )


def _reply_text(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())[:300]


def dot_stuffed(data: bytes) -> bytes:
    """``data`` with a dot added to every line that starts with one (RFC 5321 4.5.2), as
    smtplib's ``_quote_periods`` does with a regular expression, six times slower on an issue."""
    stuffed = data.replace(b"\n.", b"\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


def _temporary(code: int) -> bool:
    """A 4xx answer may pass by itself; a 5xx (or a garbled answer) will not."""
    return 400 <= code < 500


def _timed_out(exc: BaseException) -> bool:
    """Whether the socket timed out: smtplib reports a timeout as the server disconnecting
    ("Connection unexpectedly closed: timed out"), with the timeout as the cause."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@functools.cache
def _local_hostname() -> str:
    """The name for EHLO, looked up once: smtplib looks it up (DNS) for every connection, and
    a relay that drops connections makes many."""
    return socket.getfqdn()


class _Smtp(smtplib.SMTP):
    """smtplib's client, with DATA's dot-stuffing done by ``dot_stuffed``."""

    def data(self, msg: Buffer | str) -> tuple[int, bytes]:
        if not isinstance(msg, bytes):
            return super().data(msg)
        self.putcmd("data")
        code, reply = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        return self.message(msg)

    def message(self, msg: bytes) -> tuple[int, bytes]:
        """The message after the relay's 354, and its answer."""
        stuffed = dot_stuffed(msg)
        end = b".\r\n" if stuffed.endswith(b"\r\n") else b"\r\n.\r\n"
        self.send(stuffed + end)
        return self.getreply()


class _SmtpSsl(_Smtp, smtplib.SMTP_SSL):
    pass


# The stages of one message, as named in messages.
_MAIL, _RCPT, _DATA, _END = "MAIL FROM", "RCPT TO", "DATA", "the message"


class SmtpTransport:
    """One SMTP connection, opened on first use and reused; reopened after it breaks."""

    def __init__(self, settings: SmtpSettings, password: str) -> None:
        self.settings = settings
        self.password = password
        self.connection: _Smtp | None = None
        self.carried = 0  # transactions begun on the open connection
        self.where = f"{settings.host}:{settings.real_port}"

    def _slow(self, when: str) -> str:
        return (
            f"{self.where} did not answer within {self.settings.timeout} s {when}; raise "
            "[smtp] timeout if the relay is this slow"
        )

    def _connect(self) -> _Smtp:
        s = self.settings
        where = self.where
        context = ssl.create_default_context()  # verifies the certificate and the host name
        try:
            name = _local_hostname()
            if s.security == "ssl":
                connection: _Smtp = _SmtpSsl(
                    s.host, s.real_port, name, timeout=s.timeout, context=context
                )
            else:
                connection = _Smtp(s.host, s.real_port, name, timeout=s.timeout)
            try:
                self._hello(connection)
                if s.security == "starttls":
                    if not connection.has_extn("starttls"):
                        raise RelayFailure(
                            f'{where} does not offer STARTTLS; use security = "ssl" or another '
                            "port",
                            temporary=False,
                        )
                    connection.starttls(context=context)
                    connection.ehlo()
                if s.username:
                    connection.login(s.username, self.password)
            except BaseException:
                connection.close()  # a refused login or STARTTLS must not leave the socket open
                raise
        except smtplib.SMTPAuthenticationError as exc:
            if _temporary(exc.smtp_code):
                raise RelayFailure(
                    f"{where} cannot check the login now ({exc.smtp_code} "
                    f"{_reply_text(exc.smtp_error)})",
                    temporary=True,
                ) from None
            raise RelayFailure(
                f"{where} refused the username or password ({exc.smtp_code}); check "
                f"[smtp] username and the variable {s.password_env or '(no password_env)'}",
                temporary=False,
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise RelayFailure(
                f"{where} offers no login (AUTH); remove [smtp] username, or use the port "
                "that takes logins",
                temporary=False,
            ) from None
        except smtplib.SMTPConnectError as exc:  # a greeting that is not 220
            raise RelayFailure(
                f"{where} greeted with {exc.smtp_code} {_reply_text(exc.smtp_error)} instead "
                "of 220",
                temporary=_temporary(exc.smtp_code),
            ) from None
        except smtplib.SMTPHeloError as exc:
            raise RelayFailure(
                f"{where} refused EHLO: {exc.smtp_code} {_reply_text(exc.smtp_error)}",
                temporary=_temporary(exc.smtp_code),
            ) from None
        except smtplib.SMTPResponseException as exc:  # STARTTLS refused
            raise RelayFailure(
                f"{where} refused STARTTLS: {exc.smtp_code} {_reply_text(exc.smtp_error)}",
                temporary=_temporary(exc.smtp_code),
            ) from None
        except ssl.SSLError as exc:
            raise RelayFailure(
                f"the TLS handshake with {where} failed: {exc.reason or exc}", temporary=False
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            if _timed_out(exc):
                raise RelayFailure(self._slow("when connecting"), temporary=True) from None
            if isinstance(exc, smtplib.SMTPServerDisconnected):
                raise RelayFailure(
                    f"{where} closed the connection before it was ready", temporary=True
                ) from None
            raise RelayFailure(f"cannot connect to {where}: {exc}", temporary=True) from None
        return connection

    @staticmethod
    def _hello(connection: _Smtp) -> None:
        """EHLO, or HELO for an old relay; not after a 421, which closes the channel."""
        code, reply = connection.ehlo()
        if not 200 <= code <= 299 and code != 421:
            code, reply = connection.helo()
        if not 200 <= code <= 299:
            raise smtplib.SMTPHeloError(code, reply)

    def open(self) -> None:
        """Connect now (if not connected): RelayFailure if the relay cannot be used."""
        if self.connection is None:
            self.connection = self._connect()
            self.carried = 0

    def send(self, sender: str, recipient: str, data: bytes) -> None:
        used = self.connection is not None and self.carried > 0
        try:
            self._transaction(sender, recipient, data)
        except RelayFailure:
            if not used:
                raise
            # A connection kept open may have been closed by the relay's idle timeout or its
            # limit of messages per connection (often with a 421): a fresh one decides.
            self._discard()
            self._transaction(sender, recipient, data)

    def _transaction(self, sender: str, recipient: str, data: bytes) -> None:
        self.open()
        connection = self.connection
        assert connection is not None
        self.carried += 1
        options = []
        if connection.has_extn("size"):
            options.append(f"SIZE={len(data)}")
        if not (recipient.isascii() and sender.isascii()):
            if not connection.has_extn("smtputf8"):
                # RFC 6531: 553 5.6.7 is the answer a relay gives to such an address.
                raise Refused(
                    553, "5.6.7 the relay does not offer SMTPUTF8, which this address needs"
                )
            options.append("SMTPUTF8")
        stage = _MAIL
        try:
            code, reply = connection.mail(sender, options)
            if code != 250:
                self._refused_by_relay(stage, code, reply, f" the sender {sender}")
            stage = _RCPT
            code, reply = connection.rcpt(recipient)
            if code not in (250, 251):
                self._refused(stage, code, reply)
            stage = _DATA
            code, reply = connection.docmd("data")
            if code != 354:
                self._refused(stage, code, reply)
            stage = _END
            code, reply = connection.message(data)
            if code != 250:
                self._refused(stage, code, reply)
        except (smtplib.SMTPException, OSError) as exc:
            self._discard()
            raise self._broken(stage, exc) from None
        finally:
            connection.command_encoding = "ascii"  # SMTPUTF8 is for one transaction

    def _broken(self, stage: str, exc: smtplib.SMTPException | OSError) -> Exception:
        """What a connection that broke (or timed out) at ``stage`` means."""
        # The message may be sent whole before the relay's close is seen: "during or after".
        at = "during or after the message" if stage == _END else f"at {stage}"
        if _timed_out(exc):
            what = self._slow("after the message" if stage == _END else at)
        elif isinstance(exc, smtplib.SMTPResponseException):  # a garbled answer
            what = f"{self.where} answered {exc.smtp_code} {_reply_text(exc.smtp_error)} {at}"
        else:
            what = f"{self.where} closed the connection {at}, without a reply"
        if stage == _MAIL:
            # Nothing of this recipient's message has gone yet: a condition of the relay.
            return RelayFailure(what, temporary=True)
        return ConnectionLost(what)

    def _refused_by_relay(self, stage: str, code: int, reply: bytes, what: str = "") -> None:
        if code == 421:
            self._discard()
        else:
            self._reset()
        at = "after the message" if stage == _END else f"at {stage}"
        raise RelayFailure(
            f"{self.where} refused{what} {at}: {code} {_reply_text(reply)}",
            temporary=code == 421 or _temporary(code),
        )

    def _refused(self, stage: str, code: int, reply: bytes) -> None:
        if code == 421:  # the service is closing the channel: not this recipient's doing
            self._refused_by_relay(stage, code, reply)
        self._reset()
        raise Refused(code, _reply_text(reply))

    def _reset(self) -> None:
        """RSET after a refusal, so the connection can carry the next message; a connection
        that cannot take even that is dropped (the next message opens another)."""
        if self.connection is None:
            return
        try:
            code, _ = self.connection.rset()
        except (smtplib.SMTPException, OSError):
            code = 0
        if code != 250:
            self._discard()

    def _discard(self) -> None:
        """Forget the connection without QUIT (it is broken, or the relay closed it)."""
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.close()

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (TimeoutError, smtplib.SMTPException, OSError):
            connection.close()


# What to do about an error writing a file, by errno.
_FIXES = {
    errno.ENOSPC: "free some space on that disk and run again",
    errno.EDQUOT: "free some space (the disk quota is used up) and run again",
    errno.EACCES: "make that folder writable by the user feedpub runs as, and run again",
    errno.EPERM: "make that folder writable by the user feedpub runs as, and run again",
    errno.EROFS: "it is on a read-only file system; remount it read-write and run again",
}


class OutboxTransport:
    """Messages as .eml files in a folder, one per recipient; for a site without [smtp]."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def open(self) -> None:
        pass  # the folder is made with the first message

    def send(self, sender: str, recipient: str, data: bytes) -> None:
        path = self.folder / outbox_name(recipient)
        try:
            # Under .feedpub/, whose folders are private too.
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            # The envelope sender, as the delivering server would record it (RFC 5321
            # 4.4): the file shows the bounce address a relay would have been given.
            write_private(path, f"Return-Path: <{sender}>\r\n".encode() + data)
        except OSError as exc:
            fix = _FIXES.get(exc.errno or 0, "fix that and run again")
            raise RelayFailure(
                f"cannot write {path}: {exc.strerror or exc}; {fix}", temporary=False
            ) from None

    def close(self) -> None:
        pass


# -- choosing a transport by name ------------------------------------------------------------
TransportFactory = Callable[[Site, str], list[Transport]]
"""Makes the transports for one batch of messages, one per connection to use at once.

Called as ``factory(site, batch)``, where ``batch`` is the issue's number (``"1"``) or
``"test"`` for a test copy (the outbox files each batch in a folder of its own). It runs before
anything is recorded: it raises a FeedpubError (say, TransportError) for settings it cannot
use. Each transport it returns is opened, used by one thread and closed by the send loop.
"""

OUTBOX = "outbox"
_FACTORIES: dict[str, TransportFactory] = {}


def register(name: str, factory: TransportFactory) -> None:
    """Make ``factory`` the transport called ``name``, for ``send_issue(..., transport=name)``.

    A plugin calls it once at load, for example for an HTTP API transport::

        from feedpub.delivery import transport

        def api_transports(site: Site, batch: str) -> list[transport.Transport]:
            return [ApiTransport(site)]  # an object with open(), send() and close()

        transport.register("example-api", api_transports)

    Registering the same factory again under its name does nothing; another factory under a
    name already taken is a TransportError (a plugin cannot replace ``smtp`` by accident).
    """
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise TransportError(f"{name!r} cannot name a transport: use letters, digits, - and _")
    known = _FACTORIES.get(name)
    if known is not None and known is not factory:
        raise TransportError(f"a transport named {name!r} is registered already")
    _FACTORIES[name] = factory


def names(site: Site | None = None) -> list[str]:
    """The names of the registered transports, and of those the site's plugins add."""
    added = plugins.registry(site).transports if site is not None else {}
    return sorted({*_FACTORIES, *added})


def default_name(site: Site) -> str:
    """SMTP when [smtp] names a host, else the outbox folder."""
    return "smtp" if site.has_smtp else OUTBOX


def factory(name: str, site: Site | None = None) -> TransportFactory:
    """The transport factory registered as ``name``, or added by one of ``site``'s plugins;
    TransportError if there is none."""
    made = _FACTORIES.get(name)
    if made is None and site is not None:
        made = plugins.registry(site).transports.get(name)
    if made is None:
        raise TransportError(
            f"there is no transport named {name!r}; the known ones: {', '.join(names(site))}"
        )
    signer = dkim.signer(site) if site is not None else None  # DkimKeyError now, if any
    if signer is None:
        return made
    return functools.partial(_signed_transports, made, signer)


class SignedTransport:
    """A transport whose every message is DKIM-signed as it is handed over."""

    def __init__(self, inner: Transport, signer: dkim.Signer) -> None:
        self.inner = inner
        self.signer = signer

    def open(self) -> None:
        self.inner.open()

    def send(self, sender: str, recipient: str, data: bytes) -> None:
        self.inner.send(sender, recipient, self.signer.sign(data))

    def close(self) -> None:
        self.inner.close()


def _signed_transports(
    make: TransportFactory, signer: dkim.Signer, site: Site, batch: str
) -> list[Transport]:
    return [SignedTransport(transport, signer) for transport in make(site, batch)]


def smtp_transports(site: Site, batch: str) -> list[Transport]:
    """``[smtp] connections`` connections to the relay (none opened yet)."""
    smtp = site.smtp
    password = ""
    if smtp.password_env:
        password = os.environ.get(smtp.password_env, "")
        if not password:
            raise TransportError(
                f"[smtp] password_env names {smtp.password_env}, which is not set; "
                f"export {smtp.password_env}=... before sending"
            )
        if not password.isascii():  # smtplib's error would show the character and its place
            raise TransportError(
                f"[smtp] password_env: the password in {smtp.password_env} has characters "
                "outside ASCII, which an SMTP login cannot carry; give the account an ASCII "
                "password"
            )
    check_smtp(smtp)
    return [SmtpTransport(smtp, password) for _ in range(smtp.connections)]


def outbox_transports(site: Site, batch: str) -> list[Transport]:
    """The folder ``.feedpub/outbox/BATCH``: one file per message."""
    return [OutboxTransport(outbox_folder(site, batch))]


def outbox_folder(site: Site, batch: str) -> Path:
    return site.state_dir / OUTBOX / batch


def outbox_name(recipient: str) -> str:
    """The file the outbox writes a message to ``recipient`` (an envelope address) in."""
    return "".join(c if c.isalnum() or c in "@.-_" else "_" for c in recipient) + ".eml"


def forget_copies(site: Site, addresses: Iterable[str]) -> int:
    """Delete every message the outbox holds for these addresses (a forgotten person's):
    they hold the address, the name and the links. How many were deleted."""
    names = set()
    for address in filter(None, addresses):
        try:
            email, key = normalize(address)
        except SubscriberError:  # not valid now: the file was named as it was written
            names.add(outbox_name(address))
            continue
        # Named after the envelope: the domain in its ASCII (IDNA) form.
        names.add(outbox_name(Recipient(0, email, "", key).envelope))
    gone = 0
    for path in (site.state_dir / OUTBOX).glob("*/*.eml"):
        if path.name in names:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                gone += 1
    return gone


register("smtp", smtp_transports)
register(OUTBOX, outbox_transports)
