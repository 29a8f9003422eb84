"""Where messages go: an SMTP relay (one connection reused for many messages), or the outbox.

A transport's ``send`` either returns (the message was accepted) or raises one of:
``Refused`` (the relay answered this message with a 4xx or 5xx code), ``ConnectionLost`` (the
connection broke; the message may or may not have arrived) or ``Fatal`` (nothing can be sent
this run: a wrong password, a refused TLS handshake, no relay at that address).
"""

from __future__ import annotations

import ipaddress
import smtplib
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .config import SmtpSettings
from .errors import FeedpubError

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
    """The connection broke during a message."""


class Fatal(Exception):
    """Nothing can be sent through this relay as configured."""


class InsecureRelay(FeedpubError):
    """The settings would send mail unencrypted to a remote host."""


class Transport(Protocol):
    def send(self, sender: str, recipient: str, data: bytes) -> None: ...

    def close(self) -> None: ...


def is_loopback(host: str) -> bool:
    if host.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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


class _Smtp(smtplib.SMTP):
    """smtplib's client, with DATA's dot-stuffing done by ``dot_stuffed``."""

    def data(self, msg: Buffer | str) -> tuple[int, bytes]:
        if not isinstance(msg, bytes):
            return super().data(msg)
        self.putcmd("data")
        code, reply = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        stuffed = dot_stuffed(msg)
        end = b".\r\n" if stuffed.endswith(b"\r\n") else b"\r\n.\r\n"
        self.send(stuffed + end)
        return self.getreply()


class _SmtpSsl(_Smtp, smtplib.SMTP_SSL):
    pass


class SmtpTransport:
    """One SMTP connection, opened on first use and reused; reopened after it breaks."""

    def __init__(self, settings: SmtpSettings, password: str) -> None:
        self.settings = settings
        self.password = password
        self.connection: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        where = f"{s.host}:{s.real_port}"
        context = ssl.create_default_context()  # verifies the certificate and the host name
        try:
            if s.security == "ssl":
                connection: smtplib.SMTP = _SmtpSsl(
                    s.host, s.real_port, timeout=s.timeout, context=context
                )
            else:
                connection = _Smtp(s.host, s.real_port, timeout=s.timeout)
            try:
                if s.security == "starttls":
                    connection.ehlo()
                    if not connection.has_extn("starttls"):
                        raise Fatal(
                            f'{where} does not offer STARTTLS; use security = "ssl" or another port'
                        )
                    connection.starttls(context=context)
                    connection.ehlo()
                if s.username:
                    connection.login(s.username, self.password)
            except BaseException:
                connection.close()  # a refused login or STARTTLS must not leave the socket open
                raise
        except smtplib.SMTPAuthenticationError as exc:
            raise Fatal(
                f"{where} refused the username or password ({exc.smtp_code}); check "
                f"[smtp] username and the variable {s.password_env or '(no password_env)'}"
            ) from None
        except ssl.SSLError as exc:
            raise Fatal(f"the TLS handshake with {where} failed: {exc.reason or exc}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise Fatal(f"cannot connect to {where}: {exc}") from None
        return connection

    def send(self, sender: str, recipient: str, data: bytes) -> None:
        if self.connection is None:
            self.connection = self._connect()
        options = [] if recipient.isascii() and sender.isascii() else ["SMTPUTF8"]
        try:
            self.connection.sendmail(sender, [recipient], data, mail_options=options)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise Refused(code, _reply_text(text)) from None
        except smtplib.SMTPSenderRefused as exc:
            if 400 <= exc.smtp_code < 500:
                raise Refused(exc.smtp_code, _reply_text(exc.smtp_error)) from None
            raise Fatal(
                f"the relay refuses the sender {sender}: {exc.smtp_code} "
                f"{_reply_text(exc.smtp_error)}"
            ) from None
        except smtplib.SMTPServerDisconnected as exc:
            self.connection = None
            raise ConnectionLost(f"the relay closed the connection: {exc}") from None
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421:  # the service is closing the channel
                self.close()
                raise ConnectionLost(f"421 {_reply_text(exc.smtp_error)}") from None
            raise Refused(exc.smtp_code, _reply_text(exc.smtp_error)) from None
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise ConnectionLost(str(exc) or type(exc).__name__) from None

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (TimeoutError, smtplib.SMTPException, OSError):
            connection.close()


def write_atomically(path: Path, data: bytes) -> None:
    """Write a file under .feedpub/ whole or not at all (its folders made private)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_bytes(data)
    temp.replace(path)


class OutboxTransport:
    """Messages as .eml files in a folder, one per recipient; for a site without [smtp]."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, sender: str, recipient: str, data: bytes) -> None:
        name = "".join(c if c.isalnum() or c in "@.-_" else "_" for c in recipient)
        write_atomically(self.folder / f"{name}.eml", data)

    def close(self) -> None:
        pass
