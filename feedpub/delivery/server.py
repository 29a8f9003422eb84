"""``feedpub serve``: the web app (``web.WebApp``) under waitress, bound to its port.

waitress reads requests in one loop that never waits for a slow client and answers them from
THREADS threads; the client address comes from the ``[web] trusted_proxy``'s X-Forwarded-For
and from nowhere else (the per-client sign-up limit counts by it). Ctrl-C and SIGTERM finish the
requests under way, then stop.
"""

from __future__ import annotations

import io
import signal
import sys
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from feedpub.config import Site
from feedpub.delivery import hooks
from feedpub.delivery.web import StartResponse, WebApp
from feedpub.errors import FeedpubError

if TYPE_CHECKING:
    from waitress.wasyncore import _SocketMap

# waitress: requests are read by one loop that never waits for a slow client, and answered
# by THREADS threads; a connection silent for CHANNEL_TIMEOUT seconds is closed.
THREADS = 4
CHANNEL_TIMEOUT = 30
# After Ctrl-C, requests already under way get this long to finish.
GRACE_SECONDS = 10


# Set in the environ of a request whose body waitress refused as over its limit (see
# ``_channel``): the app answers it with its own 413 page.
TOO_LARGE = "feedpub.too_large"


def _logged(app: WebApp) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """``app``, writing one line per request to stderr: the method and the status only, as
    the address holds the reader's token."""

    def logged(environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        def start_and_log(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            when = time.strftime("%d/%b/%Y %H:%M:%S")
            client = environ.get("REMOTE_ADDR", "-")
            method = environ.get("REQUEST_METHOD", "-")
            sys.stderr.write(f"{client} - - [{when}] {method} {status.split()[0]}\n")
            sys.stderr.flush()
            return start(status, headers, *rest)

        if environ.get(TOO_LARGE):
            return app.message("too-big")(environ, start_and_log)
        return app(environ, start_and_log)

    return logged


def _channel() -> type[Any]:
    """waitress's connection, answering a body over ``max_request_body_size`` with the app's
    own 413 page (the site's look, its security headers) instead of waitress's plain text.

    waitress refuses such a body itself, before the app sees the request (on a Content-Length
    over the limit at once, on a chunked body once it has counted that much), and has no hook
    for the answer: its error task is replaced by one that, for that error alone, runs the
    app as for any request, marked ``TOO_LARGE``, with no body, and closes the connection
    after (the rest of the body is never read)."""
    from waitress.channel import HTTPChannel
    from waitress.task import ErrorTask, WSGITask
    from waitress.utilities import RequestEntityTooLarge

    class TooLargeTask(WSGITask):
        def execute(self) -> None:
            # The stubs type the request of an error task as the error itself.
            if not isinstance(getattr(self.request, "error", None), RequestEntityTooLarge):
                self.complete = True  # as waitress's ErrorTask, whose answer this is
                ErrorTask.execute(self)  # type: ignore[arg-type]
                return
            self.set_close_on_finish()
            super().execute()

        def get_environment(self) -> Any:
            environ = super().get_environment()
            environ[TOO_LARGE] = True
            environ["wsgi.input"] = io.BytesIO()
            environ["CONTENT_LENGTH"] = "0"
            return environ

    class Channel(HTTPChannel):
        error_task_class = TooLargeTask  # type: ignore[assignment]

    return Channel


class Sender(Protocol):
    """The outgoing mail's sender thread (``mailer.Mailer``): started with the server, woken
    by each request that queued mail, stopped (the rest waits in the state) with it."""

    def start(self) -> None: ...

    def wake(self) -> None: ...

    def stop(self, timeout: float = ...) -> None: ...


class Server:
    """The web app under waitress, bound to its port; ``run`` serves until ``stop`` or Ctrl-C."""

    def __init__(
        self,
        site: Site,
        host: str,
        port: int,
        channel_timeout: int = CHANNEL_TIMEOUT,
        app: WebApp | None = None,
        sender: Sender | None = None,
    ) -> None:
        from waitress import wasyncore
        from waitress.server import BaseWSGIServer, create_server

        self.channels: _SocketMap = {}
        self.stopping = False
        self.sender = sender
        self.app = app or WebApp(site, notify=sender.wake if sender else None)
        proxy = site.web.trusted_proxy
        # Only the proxy in front may say who the client is: from anyone else X-Forwarded-For
        # is dropped, or one client could claim a new address on every sign-up.
        proxied: dict[str, Any] = (
            {
                "trusted_proxy": proxy,
                "trusted_proxy_headers": {"x-forwarded-for"},
                "trusted_proxy_count": 1,
            }
            if proxy
            else {}
        )
        try:
            server = create_server(
                _logged(self.app),
                map=self.channels,
                host=host,
                port=port,
                threads=THREADS,
                channel_timeout=channel_timeout,
                # waitress looks for silent connections this often.
                cleanup_interval=max(1, channel_timeout // 3),
                ident="",  # no Server header: the version of nothing is anyone's business
                # The app refuses bodies over its limits itself; over the largest of them (a
                # webhook's), waitress does (with the app's page, see _channel), having read no
                # more than this.
                max_request_body_size=hooks.MAX_BODY,
                max_request_header_size=65_536,
                clear_untrusted_proxy_headers=True,
                **proxied,
            )
        except OSError as exc:
            wasyncore.close_all(self.channels)  # waitress leaves the socket and its pipe open
            raise FeedpubError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        except ValueError:  # waitress's word for a host it cannot resolve
            wasyncore.close_all(self.channels)
            raise FeedpubError(
                f"cannot listen on {host}:{port}: no such address; use an address of this "
                "machine, like 127.0.0.1"
            ) from None
        self.server = server
        # Each address of the host ('localhost': 127.0.0.1 and ::1) has a listener of its own.
        channels: list[object] = list(self.channels.values())  # typed as sockets by the stubs
        self.listeners = [c for c in channels if isinstance(c, BaseWSGIServer)]
        channel = _channel()
        for listener in self.listeners:
            listener.channel_class = channel
        self.host, self.port = self.listeners[0].getsockname()[:2]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def run(self, ready: Callable[[], None] = lambda: None) -> None:
        """Serve; ``ready`` is called first, so that a Ctrl-C right after it stops cleanly."""
        from waitress import wasyncore

        if self.sender is not None:
            self.sender.start()  # it sends what was owed before, then what requests queue
        try:
            ready()
            while self.channels and not self.stopping:
                wasyncore.loop(timeout=0.5, map=self.channels, count=1)
        except KeyboardInterrupt:
            pass
        self._finish(wasyncore)

    def stop(self) -> None:
        """Ask ``run``, in another thread, to finish the requests under way and return."""
        self.stopping = True

    def _finish(self, wasyncore: Any) -> None:
        from waitress.channel import HTTPChannel

        for listener in self.listeners:  # no new connections
            wasyncore.dispatcher.close(listener)

        def busy() -> bool:
            return any(
                isinstance(c, HTTPChannel) and (c.request or c.requests or c.total_outbufs_len)
                for c in list(self.channels.values())
            )

        deadline = time.monotonic() + GRACE_SECONDS
        try:
            while busy() and time.monotonic() < deadline:
                wasyncore.loop(timeout=0.1, map=self.channels, count=1)
        except KeyboardInterrupt:  # a second Ctrl-C: stop now
            pass
        self.server.task_dispatcher.shutdown(timeout=1)
        wasyncore.close_all(self.channels)
        if self.sender is not None:
            self.sender.stop()


# The name tests and older callers use; the class takes the same arguments.
make_server = Server


def serve(
    site: Site,
    host: str,
    port: int,
    say: Callable[[str], None],
    sender: Sender | None = None,
) -> None:
    """Run the web app under waitress until interrupted (Ctrl-C finishes the requests under
    way, then stops), with ``sender`` sending the mail its requests queue."""
    server = make_server(site, host, port, sender=sender)
    # Ctrl-C, and SIGTERM (how systemd and docker stop a service), finish and stop; SIGINT even
    # where it was ignored, as a script's `feedpub serve &` starts it.
    stops = (signal.SIGINT, signal.SIGTERM)
    before = [signal.signal(number, signal.default_int_handler) for number in stops]
    try:
        server.run(ready=lambda: say(f"Serving {server.url} (Ctrl-C stops)"))
    finally:
        for number, handler in zip(stops, before, strict=True):
            signal.signal(number, handler)
