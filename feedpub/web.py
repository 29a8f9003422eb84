"""The unsubscribe endpoint: a small WSGI app (``feedpub.web:app``) and ``feedpub serve``.

``GET /unsubscribe?t=TOKEN`` shows a page with a button; ``POST /unsubscribe`` with the token
(in the query, as RFC 8058's one-click requests send it, or in the form) unsubscribes at once
and answers 200. A bad or forged token gets a 400 page and changes nothing. While the state
database is held by another process, a request waits up to ``busy_timeout`` seconds, then gets
503 with Retry-After: nothing is recorded, and the client (or the reader) asks again.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, make_server

from . import config
from .config import Site
from .delivery import list_id
from .errors import FeedpubError, StateError
from .pages import environment
from .state import State
from .subscribers import SubscriberError, Subscribers
from .tokens import SecretError, TokenError, load_secret, read_token

StartResponse = Callable[..., Any]
MAX_BODY = 10_000
MAX_FIELDS = 20  # in the query or the form; parse_qs raises ValueError beyond
HEADERS = [
    ("Content-Type", "text/html; charset=utf-8"),
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    # The token in the address must not travel on to other sites.
    ("Referrer-Policy", "no-referrer"),
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
        key = self.subscriber_key(token, environ.get("wsgi.errors"))
        if key is None:
            return self.page(start, 400, "invalid")
        try:
            self.unsubscribe(key)
        except StateError as exc:
            # Nothing was recorded: a 503 makes a one-click client ask again later, and shows a
            # reader the button again; a 500 would look final and the request would be lost.
            errors = environ.get("wsgi.errors")
            if errors is not None:
                errors.write(f"feedpub: {exc}\n")
            retry = [("Retry-After", str(RETRY_AFTER))]
            return self.page(start, 503, "busy", token, extra=retry)
        return self.page(start, 200, "done")

    def unsubscribe(self, key: str) -> None:
        state_dir = self.site.state_dir
        with State.open(state_dir, busy_timeout=self.busy_timeout) as state, state.transaction():
            people = Subscribers(state.db)
            try:
                if people.get(key).status == "active":
                    people.set_status(key, "unsubscribed", self.clock())
            except SubscriberError:
                pass  # removed since: there is nothing to send to, which is what they asked

    def subscriber_key(self, token: str, errors: Any = None) -> str | None:
        try:
            secret = load_secret(self.site.state_dir, create=False)
        except SecretError as exc:
            # No link can be checked: say so in the server's log, answer as for a bad link.
            if errors is not None:
                errors.write(f"feedpub: {exc}\n")
            return None
        try:
            return read_token(secret, list_id(self.site), token)
        except TokenError:
            return None


class _LazyApp:
    """``feedpub.web:app``: the site comes from FEEDPUB_SITE (default: the working folder),
    loaded at the first request so that importing never fails."""

    def __init__(self) -> None:
        self.app: UnsubscribeApp | None = None

    def __call__(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        if self.app is None:
            self.app = UnsubscribeApp(config.load(os.environ.get("FEEDPUB_SITE", ".")))
        return self.app(environ, start)


app = _LazyApp()


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The request line holds the token: log the outcome only.
        self.log_message("%s %s", self.command, code)


def serve(site: Site, host: str, port: int, say: Callable[[str], None]) -> None:
    """Run the endpoint with the standard library's server until interrupted."""
    try:
        server = make_server(host, port, UnsubscribeApp(site), handler_class=_QuietHandler)
    except OSError as exc:
        raise FeedpubError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    say(f"Serving http://{host}:{server.server_port}/unsubscribe (Ctrl-C stops)")
    # The server runs in a thread of its own: Python raises KeyboardInterrupt in the main
    # thread only, so Ctrl-C never lands inside a request, where wsgiref's handler would
    # catch it, log a traceback and serve on.
    thread = threading.Thread(target=server.serve_forever, name="feedpub-serve", daemon=True)
    thread.start()
    try:
        thread.join()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()  # lets the request being answered finish
        server.server_close()
