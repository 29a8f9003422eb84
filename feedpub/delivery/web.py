"""The unsubscribe endpoint: a small WSGI app (``feedpub.delivery.web:app``) and ``feedpub serve``.

``GET /unsubscribe?t=TOKEN`` shows a page with a button; ``POST /unsubscribe`` with the token
(in the query, as RFC 8058's one-click requests send it, or in the form) unsubscribes at once
and answers 200. A bad or forged token gets a 400 page and changes nothing. While the state
database is held by another process, a request waits up to ``busy_timeout`` seconds, then gets
503 with Retry-After: nothing is recorded, and the client (or the reader) asks again.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from feedpub import config
from feedpub.config import Site
from feedpub.delivery.messages import list_id
from feedpub.delivery.subscribers import Subscribers
from feedpub.delivery.tokens import Reading, load_secret, read
from feedpub.errors import FeedpubError, SecretError, StateError, TokenError
from feedpub.store.state import State
from feedpub.templating import environment

if TYPE_CHECKING:
    from waitress.wasyncore import _SocketMap

StartResponse = Callable[..., Any]
MAX_BODY = 10_000
MAX_FIELDS = 20  # in the query or the form; parse_qs raises ValueError beyond
HEADERS = [
    ("Content-Type", "text/html; charset=utf-8"),
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    # The token in the address must not travel on to other sites.
    ("Referrer-Policy", "no-referrer"),
    # The page loads nothing but its own inline style, posts only to itself, and is never
    # framed: a framed button is one click away from an unsubscribe the reader did not mean.
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    ),
    ("X-Frame-Options", "DENY"),  # frame-ancestors for browsers that predate it
]
REASONS = {
    200: "200 OK",
    400: "400 Bad Request",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    413: "413 Content Too Large",
    503: "503 Service Unavailable",
}
# A web request waits this long for the state's write lock (a sending run holds it for a
# moment per message; a backup may hold it longer), then answers 503.
BUSY_TIMEOUT = 5.0
RETRY_AFTER = 60  # seconds, in the 503's Retry-After


class UnsubscribeApp:
    def __init__(
        self,
        site: Site,
        clock: Callable[[], datetime] | None = None,
        busy_timeout: float = BUSY_TIMEOUT,
    ) -> None:
        self.site = site
        self.clock = clock or (lambda: datetime.now(site.tz))
        self.busy_timeout = busy_timeout
        self.template = environment(site).get_template("unsubscribe.html")

    def page(
        self,
        start: StartResponse,
        status: int,
        state: str,
        token: str = "",
        extra: list[tuple[str, str]] | None = None,
    ) -> list[bytes]:
        body = self.template.render(
            state=state, token=token, site=self.site.site, name=self.site.newsletter_name
        ).encode()
        start(REASONS[status], [*HEADERS, ("Content-Length", str(len(body))), *(extra or [])])
        return [body]

    def __call__(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        if not path.rstrip("/").endswith("/unsubscribe"):
            return self.page(start, 404, "missing")
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            query = parse_qs(environ.get("QUERY_STRING", ""), max_num_fields=MAX_FIELDS)
        except ValueError:  # over MAX_FIELDS: no link feedpub wrote
            return self.page(start, 400, "invalid")
        token = (query.get("t") or [""])[0]
        if method in ("GET", "HEAD"):
            if self.subscriber_key(token, environ.get("wsgi.errors")) is None:
                return self.page(start, 400, "invalid")
            return self.page(start, 200, "confirm", token)
        if method != "POST":
            return self.page(start, 405, "invalid", extra=[("Allow", "GET, HEAD, POST")])
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length < 0:  # read(-1) would read everything, past MAX_BODY
            return self.page(start, 400, "invalid")
        if length > MAX_BODY:
            return self.page(start, 413, "invalid")
        if not token:  # one-click requests carry it in the query, whatever their body
            try:
                form = parse_qs(
                    environ["wsgi.input"].read(length).decode("utf-8", "replace") if length else "",
                    max_num_fields=MAX_FIELDS,
                )
            except ValueError:
                return self.page(start, 400, "invalid")
            token = (form.get("t") or [""])[0]
        reading = self.subscriber_key(token, environ.get("wsgi.errors"))
        if reading is None:
            return self.page(start, 400, "invalid")
        try:
            self.unsubscribe(reading)
        except StateError as exc:
            # Nothing was recorded: a 503 makes a one-click client ask again later, and shows a
            # reader the button again; a 500 would look final and the request would be lost.
            errors = environ.get("wsgi.errors")
            if errors is not None:
                errors.write(f"feedpub: {exc}\n")
            retry = [("Retry-After", str(RETRY_AFTER))]
            return self.page(start, 503, "busy", token, extra=retry)
        return self.page(start, 200, "done")

    def unsubscribe(self, reading: Reading) -> None:
        state_dir = self.site.state_dir
        with State.open(state_dir, busy_timeout=self.busy_timeout) as state, state.transaction():
            found = Subscribers(state).of_token(reading)
            # Removed or forgotten since: there is nothing to send to, which is what they asked.
            if found is not None and found.status in ("active", "pending"):
                state.subscribers.set_status(found.id, "unsubscribed", self.clock().isoformat())

    def subscriber_key(self, token: str, errors: Any = None) -> Reading | None:
        """What an unsubscribe link's token says (of either form), or None if it is not one."""
        try:
            secret = load_secret(self.site.state_dir, create=False)
        except SecretError as exc:
            # No link can be checked: say so in the server's log, answer as for a bad link.
            if errors is not None:
                errors.write(f"feedpub: {exc}\n")
            return None
        try:
            return read(secret, list_id(self.site), token, "u", self.clock())
        except TokenError:
            return None


class _LazyApp:
    """``feedpub.delivery.web:app``: the site comes from FEEDPUB_SITE (default: the working folder),
    loaded at the first request so that importing never fails."""

    def __init__(self) -> None:
        self.app: UnsubscribeApp | None = None

    def __call__(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        if self.app is None:
            self.app = UnsubscribeApp(config.load(os.environ.get("FEEDPUB_SITE", ".")))
        return self.app(environ, start)


app = _LazyApp()


# waitress: requests are read by one loop that never waits for a slow client, and answered
# by THREADS threads; a connection silent for CHANNEL_TIMEOUT seconds is closed.
THREADS = 4
CHANNEL_TIMEOUT = 30
# After Ctrl-C, requests already under way get this long to finish.
GRACE_SECONDS = 10


def _logged(app: UnsubscribeApp) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
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

        return app(environ, start_and_log)

    return logged


class Server:
    """The endpoint under waitress, bound to its port; ``run`` serves until ``stop`` or Ctrl-C."""

    def __init__(
        self, site: Site, host: str, port: int, channel_timeout: int = CHANNEL_TIMEOUT
    ) -> None:
        from waitress import wasyncore
        from waitress.server import BaseWSGIServer, create_server

        self.channels: _SocketMap = {}
        self.stopping = False
        try:
            server = create_server(
                _logged(UnsubscribeApp(site)),
                map=self.channels,
                host=host,
                port=port,
                threads=THREADS,
                channel_timeout=channel_timeout,
                # waitress looks for silent connections this often.
                cleanup_interval=max(1, channel_timeout // 3),
                ident="",  # no Server header: the version of nothing is anyone's business
                max_request_body_size=1_000_000,  # the app refuses bodies over MAX_BODY itself
                max_request_header_size=65_536,
                clear_untrusted_proxy_headers=True,
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
        self.host, self.port = self.listeners[0].getsockname()[:2]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/unsubscribe"

    def run(self, ready: Callable[[], None] = lambda: None) -> None:
        """Serve; ``ready`` is called first, so that a Ctrl-C right after it stops cleanly."""
        from waitress import wasyncore

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


def make_server(site: Site, host: str, port: int, channel_timeout: int = CHANNEL_TIMEOUT) -> Server:
    return Server(site, host, port, channel_timeout)


def serve(site: Site, host: str, port: int, say: Callable[[str], None]) -> None:
    """Run the endpoint under waitress until interrupted (Ctrl-C finishes the requests under
    way, then stops)."""
    server = make_server(site, host, port)
    # Ctrl-C, and SIGTERM (how systemd and docker stop a service), finish and stop; SIGINT even
    # where it was ignored, as a script's `feedpub serve &` starts it.
    stops = (signal.SIGINT, signal.SIGTERM)
    before = [signal.signal(number, signal.default_int_handler) for number in stops]
    try:
        server.run(ready=lambda: say(f"Serving {server.url} (Ctrl-C stops)"))
    finally:
        for number, handler in zip(stops, before, strict=True):
            signal.signal(number, handler)
