"""A scripted SMTP relay on 127.0.0.1 for fault tests: it answers each stage of each
connection as a script says, and records exactly what it received and what it acknowledged.

The stages are ``greeting``, ``ehlo`` (also HELO), ``auth``, ``mail`` (MAIL FROM), ``rcpt``
(RCPT TO), ``data`` (the answer to DATA) and ``end`` (the answer after the message). A script is
a function of the moment (a ``Moment``: stage, connection number, messages so far, recipient)
that returns ``None`` (answer as a good relay would) or one of:

- a reply line such as ``"451 4.7.0 throttled"`` (a 421 also closes the connection);
- ``DROP``: close the connection without a reply (at ``end``: after taking the whole message,
  the classic end-of-DATA timeout; the message counts as received, not acknowledged);
- ``DROP_MID_DATA`` (at ``data``): answer 354, read part of the message, then close;
- ``STALL``: answer nothing and wait until the client gives up (its timeout) and closes.

``close_after`` closes each connection, cleanly, after that many acknowledged messages, as
relays that limit messages per connection do; ``auth`` offers AUTH PLAIN; ``smtputf8=False``
leaves SMTPUTF8 out of the EHLO answer. A port with nothing listening comes from
``absent_port``. ``stop()`` ends every connection: a relay that goes away.
"""

from __future__ import annotations

import base64
import socket
import socketserver
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

DROP = "drop"
DROP_MID_DATA = "drop-mid-data"
STALL = "stall"
GOOD = {
    "greeting": "220 relay.test ESMTP scripted",
    "auth": "235 2.7.0 authenticated",
    "mail": "250 2.1.0 sender ok",
    "rcpt": "250 2.1.5 recipient ok",
    "data": "354 go ahead",
    "end": "250 2.0.0 queued",
}


@dataclass(frozen=True)
class Moment:
    """Where a connection is when the relay is about to answer."""

    stage: str
    connection: int  # from 1, in the order the relay accepted them
    messages: int  # messages acknowledged on this connection so far
    total: int  # messages acknowledged by the relay so far, on all connections
    recipient: str  # the RCPT TO address of this transaction ("" before RCPT)


Script = Callable[[Moment], str | None]


def good(moment: Moment) -> str | None:
    return None


def at(stage: str, action: str, recipients: set[str] | None = None) -> Script:
    """``action`` at ``stage`` (for ``recipients`` only, if given), a good answer elsewhere."""

    def script(moment: Moment) -> str | None:
        if moment.stage != stage:
            return None
        if recipients is not None and moment.recipient not in recipients:
            return None
        return action

    return script


def first_connections(count: int, stage: str, action: str) -> Script:
    """``action`` at ``stage`` on the first ``count`` connections, then a good relay again
    (a throttle that lifts)."""

    def script(moment: Moment) -> str | None:
        return action if moment.stage == stage and moment.connection <= count else None

    return script


@dataclass
class Record:
    received: list[tuple[str, bytes]] = field(default_factory=list)  # whole messages taken
    acknowledged: list[str] = field(default_factory=list)  # recipients answered 250 at the end
    connections: int = 0
    rcpt: Counter[str] = field(default_factory=Counter)  # RCPT TO commands per address
    mail: int = 0  # MAIL FROM commands
    auth: list[bytes] = field(default_factory=list)  # the AUTH PLAIN credentials offered


class _Stop(Exception):
    """The connection is over (closed by either side)."""


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        relay = self.server.relay
        with relay.lock:
            relay.record.connections += 1
            self.number = relay.record.connections
            relay.sockets.add(self.request)
        self.messages = 0
        self.recipient = ""
        try:
            self.session()
        except (_Stop, OSError):
            pass
        finally:
            with relay.lock:
                relay.sockets.discard(self.request)

    # -- answering ---------------------------------------------------------------------------
    def decide(self, stage: str) -> str | None:
        relay = self.server.relay
        with relay.lock:
            moment = Moment(stage, self.number, self.messages, relay.acked, self.recipient)
        return relay.script(moment)

    def answer(self, stage: str, default: str | None = None) -> bool:
        """Answer ``stage`` as scripted; True if the good answer went out."""
        action = self.decide(stage)
        if action is None:
            self.reply(default or GOOD[stage])
            return True
        if action == DROP:
            raise _Stop
        if action == STALL:
            self.stall()
        if action == DROP_MID_DATA:
            return True  # handled by the caller, which knows where the data is
        self.reply(action)
        if action.startswith("421"):
            raise _Stop
        return False

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def stall(self) -> None:
        # Say nothing; read (and discard) until the client closes the connection.
        while self.request.recv(65536):
            pass
        raise _Stop

    def line(self) -> bytes:
        raw = self.rfile.readline(100_000)
        if not raw:
            raise _Stop
        return raw.rstrip(b"\r\n")

    # -- the session -------------------------------------------------------------------------
    def session(self) -> None:
        relay = self.server.relay
        if not self.answer("greeting"):
            self.refuse_until_quit()
        while True:
            command = self.line()
            verb = command.split(b" ", 1)[0].upper()
            if verb in (b"EHLO", b"HELO"):
                extensions = ["relay.test", "8BITMIME"]
                if relay.smtputf8:
                    extensions.append("SMTPUTF8")
                if relay.auth:
                    extensions.append("AUTH PLAIN")
                text = "\r\n".join(
                    f"250{'-' if i < len(extensions) - 1 else ' '}{e}"
                    for i, e in enumerate(extensions)
                )
                self.answer("ehlo", text if verb == b"EHLO" else "250 relay.test")
            elif verb == b"AUTH":
                with relay.lock:
                    relay.record.auth.append(base64.b64decode(command.split(b" ")[-1]))
                self.answer("auth")
            elif verb == b"MAIL":
                self.recipient = ""
                with relay.lock:
                    relay.record.mail += 1
                self.answer("mail")
            elif verb == b"RCPT":
                address = command.split(b":", 1)[1].strip().split(b" ")[0].strip(b"<>")
                self.recipient = address.decode("utf-8", "replace")
                with relay.lock:
                    relay.record.rcpt[self.recipient] += 1
                self.answer("rcpt")
            elif verb == b"DATA":
                self.data()
            elif verb == b"RSET":
                self.recipient = ""
                self.reply("250 2.0.0 reset")
            elif verb == b"NOOP":
                self.reply("250 2.0.0 ok")
            elif verb == b"QUIT":
                self.reply("221 2.0.0 bye")
                raise _Stop
            else:
                self.reply("502 5.5.2 not implemented")

    def data(self) -> None:
        relay = self.server.relay
        action = self.decide("data")
        if action == DROP_MID_DATA:
            self.reply(GOOD["data"])
            self.line()  # the first line of the message, then gone
            raise _Stop
        if not self.answer("data"):
            return
        lines: list[bytes] = []
        while (raw := self.line()) != b".":
            lines.append(raw[1:] if raw.startswith(b".") else raw)
        message = b"\r\n".join(lines) + b"\r\n"
        with relay.lock:
            relay.record.received.append((self.recipient, message))
        if self.answer("end"):
            self.messages += 1
            with relay.lock:
                relay.record.acknowledged.append(self.recipient)
                relay.acked += 1
            if relay.close_after and self.messages >= relay.close_after:
                raise _Stop
        self.recipient = ""

    def refuse_until_quit(self) -> None:
        # A greeting that is not 220: a real relay then waits for QUIT.
        while True:
            if self.line().upper() == b"QUIT":
                self.reply("221 2.0.0 bye")
                raise _Stop
            self.reply("503 5.5.1 no service")


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = False
    block_on_close = True

    def __init__(self, relay: ScriptedRelay, port: int) -> None:
        self.relay = relay
        super().__init__(("127.0.0.1", port), _Handler)


class ScriptedRelay:
    """The relay: ``start()``, then ``port``; ``script`` may be changed at any time."""

    def __init__(
        self,
        script: Script = good,
        close_after: int = 0,
        auth: bool = False,
        smtputf8: bool = True,
        port: int = 0,
    ) -> None:
        self.script = script
        self.close_after = close_after
        self.auth = auth
        self.smtputf8 = smtputf8
        self.lock = threading.Lock()
        self.record = Record()
        self.acked = 0
        self.sockets: set[socket.socket] = set()
        self.server = _Server(self, port)
        self.port: int = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, args=(0.01,), name="scripted-relay"
        )

    def start(self) -> ScriptedRelay:
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and end every open connection (a relay that goes away)."""
        if not self.thread.is_alive():
            return
        self.server.shutdown()
        with self.lock:
            open_sockets = list(self.sockets)
        for sock in open_sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.server.server_close()  # joins the connections' threads
        self.thread.join()

    # -- what it saw -------------------------------------------------------------------------
    def copies(self) -> Counter[str]:
        """How many whole messages each recipient's address received (acknowledged or not)."""
        with self.lock:
            return Counter(rcpt for rcpt, _ in self.record.received)

    def acknowledged(self) -> Counter[str]:
        with self.lock:
            return Counter(self.record.acknowledged)

    def count(self) -> int:
        with self.lock:
            return len(self.record.received)

    def connections(self) -> int:
        with self.lock:
            return self.record.connections


@contextmanager
def absent_port() -> Iterator[int]:
    """A port on 127.0.0.1 where nothing listens (bound, never listening: connections are
    refused, and no other process can take the port meanwhile)."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    try:
        yield int(holder.getsockname()[1])
    finally:
        holder.close()
