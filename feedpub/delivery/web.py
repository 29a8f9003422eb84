"""The web app (``feedpub.web:app``): sign-up, confirmation, the reader's own page, unsubscribe.

Werkzeug reads the requests (routing, query and form parsing, the body's bound); the rules
are ``signup``'s; this module turns requests into calls and results into pages, all rendered
from the site's templates (``subscribe.html``, ``web_confirm.html``, ``manage.html``,
``unsubscribe.html``, and ``web_message.html`` for every other answer and every error), with
the right status and the same security headers on each. Paths are matched by their last
segment, under any prefix (``/news/subscribe`` as well as ``/subscribe``):

- ``GET /subscribe``: the form. ``POST /subscribe``: the form from here or from any page of the
  static site (a cross-origin post: there is no session to forge, and all a post can do is
  queue a confirmation email, bounded per address and per client). The answer is the same
  page whoever the address belongs to.
- ``GET /confirm?t=``: a page, never a change (link scanners fetch every link); its one
  script, allowed by its hash in the CSP, posts the form itself. ``POST /confirm`` confirms.
- ``GET /manage?t=``: the reader's page; ``POST /manage`` applies one change. The token in the
  form is the credential (the forms are posted with it from the page, not from a cookie), so
  a cross-site post cannot act for a reader: SameSite and CSRF tokens have nothing to add.
- ``GET``/``POST /unsubscribe``: as always, RFC 8058's one-click included.
- ``POST /hooks/ses``, ``/hooks/postmark``, ``/hooks/mailgun``, ``/hooks/sendgrid``: the
  providers' reports of bounces, complaints and unsubscribes, answered in short texts
  (``hooks`` checks and maps them).

No answer redirects anywhere (there is no return address to abuse). While the state is held
by another process longer than ``busy_timeout``, a change is refused with 503 and Retry-After:
nothing is recorded, and the client (or the reader) asks again.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from feedpub import config
from feedpub.config import Site
from feedpub.delivery import hooks, signup, tokens
from feedpub.delivery.mailer import Mailer
from feedpub.delivery.messages import list_id
from feedpub.delivery.subscribers import Subscribers
from feedpub.delivery.tokens import load_secret
from feedpub.delivery.transport import forget_copies
from feedpub.errors import (
    FeedpubError,
    FormError,
    HookRefused,
    LinkExpired,
    RateLimited,
    SecretError,
    StateBusy,
    StateError,
    SubscriberError,
    TokenError,
    Worded,
)
from feedpub.i18n import N_, words
from feedpub.store.state import State
from feedpub.store.subscribers import Subscriber
from feedpub.templating import environment

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
MAX_BODY = 10_000
# In the query or in the form: a sign-up carries at most 20 topics and three other fields.
MAX_FIELDS = 30
PATHS = ("subscribe", "confirm", "manage", "unsubscribe")
METHODS = ("GET", "HEAD", "POST")
# The confirmation page's one script: it posts the page's form, so that a browser confirms
# with no click and one without script with one. Written without quotes or markup, so the
# template's escaping leaves it as it is and its hash below stays the one in the CSP.
CONFIRM_SCRIPT = "document.forms.confirm.submit();"
CONFIRM_SCRIPT_HASH = (
    "sha256-" + base64.b64encode(hashlib.sha256(CONFIRM_SCRIPT.encode()).digest()).decode()
)
# The pages load nothing but their own inline style, post only to themselves, and are never
# framed: a framed button is one click away from a change the reader did not mean.
POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    # The token in the address must not travel on to other sites.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Cross-Origin-Opener-Policy": "same-origin",
    "X-Robots-Tag": "noindex",  # no page of the web app belongs in a search engine
}
# A web request waits this long for the state's write lock (a sending run holds it for a
# moment per message; a backup may hold it longer), then answers 503.
BUSY_TIMEOUT = 5.0
RETRY_AFTER = 60  # seconds, in the 503's Retry-After
RATE_RETRY_AFTER = 3600  # seconds, in the 429's: the client limit's window

# RFC 9110's reason phrases (Werkzeug writes them in capitals).
REASONS = {
    200: "200 OK",
    400: "400 Bad Request",
    401: "401 Unauthorized",
    403: "403 Forbidden",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    409: "409 Conflict",
    413: "413 Content Too Large",
    429: "429 Too Many Requests",
    500: "500 Internal Server Error",
    503: "503 Service Unavailable",
}

_URLS = Map(
    [Rule(f"/{name}/", endpoint=name) for name in PATHS]
    + [Rule(f"/<path:prefix>/{name}/", endpoint=name) for name in PATHS]
    + [Rule("/hooks/<provider>/", endpoint="hook")]
    + [Rule("/<path:prefix>/hooks/<provider>/", endpoint="hook")],
    strict_slashes=False,
    merge_slashes=False,
    redirect_defaults=False,
)

# Every message page: (status, title, text), in English: the catalogues' msgids (i18n), shown
# in the site's language. The texts name what happened and what to do; %(most)s is MAX_BODY.
MESSAGES: dict[str, tuple[int, str, str]] = {
    "missing": (404, N_("Not found"), N_("There is nothing here.")),
    "method": (405, N_("Not allowed"), N_("This page takes GET and POST requests only.")),
    "too-big": (
        413,
        N_("Too large"),
        N_(
            "The form sent more than %(most)s bytes; a form of this site is far smaller. "
            "Shorten what you typed and send it again."
        ),
    ),
    "bad-request": (
        400,
        N_("Bad request"),
        N_(
            "This request cannot be read: it carries more fields than any form of this site, "
            "or a broken length. Reload the page and send the form again."
        ),
    ),
    "invalid": (
        400,
        N_("This link is not valid"),
        N_(
            "This link is not valid: it may be incomplete or damaged, or from another site. "
            "Use the link in the newsletter's most recent email."
        ),
    ),
    "busy": (
        503,
        N_("Try again in a minute"),
        N_(
            "Your request could not be recorded just now: nothing has changed. Please try "
            "again in a minute."
        ),
    ),
    "limited": (429, N_("Too many sign-ups"), ""),
    "conflict": (409, N_("Address in use"), ""),
    "forgotten": (
        200,
        N_("Forgotten"),
        N_(
            "Everything held about you is erased: your address, name, choices and what was "
            "sent to you. Only a keyed hash of the address is kept, so that no import adds it "
            "again; signing up again with it works as for anyone."
        ),
    ),
    "error": (
        500,
        N_("Something went wrong"),
        N_(
            "This request failed on the server, and nothing has changed. Please try again "
            "later; if it keeps failing, write to the newsletter's editors."
        ),
    ),
}


def _fields(values: Any) -> dict[str, list[str]]:
    return {name: values.getlist(name) for name in values}


def _count(values: Any) -> int:
    return sum(len(values.getlist(name)) for name in values)


class WebApp:
    """The whole web app for one site; ``clock`` and ``busy_timeout`` are for tests, ``notify``
    is called after a request queued mail (the sender thread wakes)."""

    def __init__(
        self,
        site: Site,
        clock: Callable[[], datetime] | None = None,
        busy_timeout: float = BUSY_TIMEOUT,
        notify: Callable[[], None] | None = None,
    ) -> None:
        self.site = site
        self.clock = clock or (lambda: datetime.now(site.tz))
        self.busy_timeout = busy_timeout
        self.notify = notify or (lambda: None)
        self.hooks = hooks.Hooks(site)
        self.local = threading.local()  # each server thread's connection to the state
        # The sign-up page and its answer depend on the settings and templates only: rendered
        # at their first request (a template edited later shows after a restart).
        self.fixed: dict[str, bytes] = {}
        self.env = environment(site)
        self.words = words(site.site.language)  # what a reader reads, in the site's language
        url = site.site.url
        self.base: dict[str, Any] = {
            "site": site.site,
            "name": site.newsletter_name,
            "home": url,
            "archive_url": url + "archive/",
            "tags_url": url + "tags/",
            "issues_url": url + "issues/",
            # The navigation's links to the newsletter's issues and to the sign-up page.
            "nav_issues": url + "issues/",
            "nav_signup": site.web_url + "subscribe",
            "feeds": [
                {
                    "type": kind,
                    "title": f"{site.site.title} ({label})",
                    "label": label,
                    "href": url + file,
                }
                for kind, label, file in (
                    ("application/rss+xml", "RSS", "rss.xml"),
                    ("application/atom+xml", "Atom", "atom.xml"),
                    ("application/feed+json", "JSON", "feed.json"),
                )
            ],
            "topics": signup.topic_names(site),
            "fields": {
                "email": signup.EMAIL,
                "name": signup.NAME,
                "topics": signup.TOPICS,
                "honeypot": signup.HONEYPOT,
            },
            "max_name": signup.MAX_NAME,
        }

    # -- answers ---------------------------------------------------------------------------
    def render(
        self,
        template: str,
        status: int,
        headers: Mapping[str, str] | None = None,
        script: bool = False,
        **context: Any,
    ) -> Response:
        body = self.env.get_template(template).render(**self.base, **context)
        response = Response(body, status=REASONS[status], content_type="text/html; charset=utf-8")
        self.secure(response, script)
        for key, value in (headers or {}).items():
            response.headers[key] = value
        return response

    @staticmethod
    def secure(response: Response, script: bool = False) -> None:
        policy = POLICY + (f"; script-src '{CONFIRM_SCRIPT_HASH}'" if script else "")
        response.headers["Content-Security-Policy"] = policy
        for key, value in HEADERS.items():
            response.headers[key] = value

    def message(
        self, what: str, text: str = "", headers: Mapping[str, str] | None = None, **context: Any
    ) -> Response:
        status, english, default = MESSAGES[what]
        title = self.words.gettext(english)
        shown = text or self.words.say(default, most=self.words.number(MAX_BODY))
        return self.render(
            "web_message.html",
            status,
            headers,
            state=what,
            title=title,
            text=shown,
            page_title=self.titled(title),
            **context,
        )

    def titled(self, what: str) -> str:
        """A page's <title>: the newsletter's name, and what the page is for."""
        return f"{self.site.newsletter_name}: {what}"

    def told(self, error: FeedpubError) -> str:
        """``error``'s message in the site's language: its msgid's translation, filled in."""
        if isinstance(error, Worded):
            return self.words.say(error.message, **error.values)
        return self.words.gettext(str(error))

    # -- WSGI ------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        # Werkzeug refuses more than these itself (413), whatever a handler reads.
        request.max_content_length = MAX_BODY
        request.max_form_memory_size = MAX_BODY
        request.max_form_parts = MAX_FIELDS
        try:
            response = self.dispatch(request)
        except HTTPException as exc:
            response = self.message(
                {413: "too-big", 404: "missing", 405: "method"}.get(exc.code or 400, "bad-request")
            )
        except StateError as exc:
            self.log(environ, str(exc))
            response = self.message("busy", headers={"Retry-After": str(RETRY_AFTER)})
        except Exception:  # a bug: the reader gets a page, the server's log the traceback
            self.log(environ, traceback.format_exc())
            response = self.message("error")
        return response(environ, start)

    @staticmethod
    def log(environ: Mapping[str, Any], text: str) -> None:
        errors = environ.get("wsgi.errors")
        if errors is not None:
            errors.write(f"feedpub: {text.rstrip()}\n")

    def dispatch(self, request: Request) -> Response:
        try:
            endpoint, values = _URLS.bind("", "/").match(request.path, method="GET")
        except HTTPException:
            return self.message("missing")
        if endpoint == "hook":  # the providers' own limits and answers
            return self.on_hook(request, str(values["provider"]))
        if request.method not in METHODS:
            return self.message("method", headers={"Allow": ", ".join(METHODS)})
        if _count(request.args) > MAX_FIELDS:  # no link this site wrote
            if endpoint == "unsubscribe":
                return self.unsubscribe_page(400, "invalid")
            return self.message("bad-request")
        if request.method == "POST":
            raw = request.environ.get("CONTENT_LENGTH") or ""
            length = int(raw) if raw.strip().isdigit() else -1
            if raw and length < 0:  # read(-1) would read everything, past MAX_BODY
                return self.message("bad-request")
            if length > MAX_BODY:
                return self.message("too-big")
        handler: Callable[[Request], Response] = getattr(self, f"on_{endpoint}")
        return handler(request)

    def form(self, request: Request) -> dict[str, list[str]] | None:
        """The posted form's fields, or None for more fields than any form here has."""
        if _count(request.form) > MAX_FIELDS:
            return None
        return _fields(request.form)

    def secret(self, create: bool = False) -> bytes:
        return load_secret(self.site.state_dir, create=create)

    @contextmanager
    def state(self) -> Iterator[State]:
        """This thread's connection to the state, opened at its first request and kept.

        Opening costs more than most requests (the file's checks, the pragmas), and closing
        the last connection of a WAL database checkpoints it with an fsync: a sign-up took
        19 ms with a connection of its own, most of it in close(). A connection that failed
        for another reason than a busy lock is dropped, and the next request opens anew.
        (Safe since State.open reads the file's header only at a process's first opening:
        a plain descriptor of state.db closed while this one is open would drop its locks.)"""
        held: State | None = getattr(self.local, "state", None)
        if held is None:
            held = State.open(self.site.state_dir, busy_timeout=self.busy_timeout)
            self.local.state = held
        try:
            yield held
        except StateError as exc:
            if not isinstance(exc, StateBusy):
                self.local.state = None
                held.close()
            raise

    def client(self, request: Request) -> str:
        """The address the request came from: the last one ``[web] trusted_proxy`` put in
        X-Forwarded-For when the request came through it, the peer's otherwise. Read here,
        not only by waitress, so that it holds under any WSGI server (gunicorn passes the
        header on as it came); reading it again after waitress gives the same address."""
        peer = request.remote_addr or ""
        proxy = self.site.web.trusted_proxy
        forwarded = request.headers.get("X-Forwarded-For", "")
        if not proxy or peer != proxy or not forwarded:
            return peer
        last = forwarded.rsplit(",", 1)[-1].strip()
        try:
            return str(ipaddress.ip_address(last))
        except ValueError:  # not what the proxy writes: count it as the proxy's own
            return peer

    # -- /hooks/<provider> ------------------------------------------------------------------
    def on_hook(self, request: Request, provider: str) -> Response:
        answer = self.hook(request, provider)
        if answer.log:
            self.log(request.environ, answer.log)
        response = Response(
            answer.text + "\n",
            status=REASONS[answer.status],
            content_type="text/plain; charset=utf-8",
        )
        self.secure(response)
        for key, value in answer.headers.items():
            response.headers[key] = value
        return response

    def hook(self, request: Request, provider: str) -> hooks.Answer:
        if not self.hooks.configured(provider):
            return hooks.Answer(404, "no such webhook here")
        if request.method != "POST":
            return hooks.Answer(405, "this webhook takes POST requests only", {"Allow": "POST"})
        raw = request.environ.get("CONTENT_LENGTH") or ""
        if raw and not raw.strip().isdigit():
            return hooks.Answer(400, "the request's Content-Length is not a number")
        too_big = f"over {hooks.MAX_BODY:,} bytes: refused unread"
        if raw and int(raw) > hooks.MAX_BODY:
            return hooks.Answer(413, too_big)
        request.max_content_length = hooks.MAX_BODY

        def read() -> bytes:
            try:
                return request.get_data(cache=False)
            except RequestEntityTooLarge:
                raise HookRefused(413, too_big) from None

        headers = {name.lower(): value for name, value in request.headers.items()}
        try:
            return self.hooks.handle(provider, headers, read, self.state, self.clock())
        except StateError as exc:
            # Nothing was recorded: the provider sends it again later.
            self.log(request.environ, str(exc))
            retry = {"Retry-After": str(RETRY_AFTER)}
            return hooks.Answer(503, "busy; nothing was recorded, try again later", retry)

    # -- /subscribe ------------------------------------------------------------------------
    def on_subscribe(self, request: Request) -> Response:
        if request.method != "POST":
            return self.subscribe_page(200, "form")
        fields = self.form(request)
        if fields is None:
            return self.message("bad-request")
        try:
            form = signup.read_form(self.site, fields)
        except FormError as exc:
            return self.subscribe_page(400, "form", exc, fields)
        # A sign-up may be the site's first use of its secret: the links it makes are the
        # first the secret signs, so making it here cannot break one already sent.
        secret = self.secret(create=True)
        client = self.client(request)
        try:
            with self.state() as state, state.transaction():
                queued = signup.sign_up(state, self.site, secret, form, client, self.clock())
        except RateLimited as exc:
            return self.message("limited", self.told(exc), {"Retry-After": str(RATE_RETRY_AFTER)})
        if queued:
            self.notify()
        return self.subscribe_page(200, "sent")

    def subscribe_page(
        self,
        status: int,
        state: str,
        error: FormError | None = None,
        fields: Mapping[str, Sequence[str]] | None = None,
    ) -> Response:
        if error is None and state in self.fixed:
            # The same bytes for everyone (the sign-up's answer must be), rendered once.
            return self.fixed_page(status, self.fixed[state])
        values = {
            key: (fields or {}).get(key, [""])[:1] or [""] for key in (signup.EMAIL, signup.NAME)
        }
        response = self.render(
            "subscribe.html",
            status,
            state=state,
            error=self.told(error) if error else "",
            error_field=error.field if error else "",
            email=values[signup.EMAIL][0][: signup.MAX_EMAIL],
            person=values[signup.NAME][0][: signup.MAX_NAME * 2],
            chosen=list((fields or {}).get(signup.TOPICS, [])),
            page_title=self.titled(self.words.gettext("sign up")),
        )
        if error is None and not fields:
            self.fixed[state] = response.get_data()
        return response

    def fixed_page(self, status: int, body: bytes) -> Response:
        response = Response(body, status=REASONS[status], content_type="text/html; charset=utf-8")
        self.secure(response)
        return response

    # -- /confirm --------------------------------------------------------------------------
    def on_confirm(self, request: Request) -> Response:
        if request.method != "POST":
            token = request.args.get("t", "")
            try:
                secret = self.secret()
                with self.state() as state:
                    reading, _ = signup.read_link(
                        state, self.site, secret, token, ("c", "a"), self.clock()
                    )
            except SecretError as exc:
                self.log(request.environ, str(exc))
                return self.message("invalid")
            except TokenError:
                return self.message("invalid")
            if reading.expired:
                return self.confirm_page(400, "expired", token)
            return self.confirm_page(200, "ask", token, script=True)
        fields = self.form(request)
        if fields is None:
            return self.message("bad-request")
        token = (fields.get("t") or [request.args.get("t", "")])[0]
        action = (fields.get("action") or [""])[0]
        try:
            secret = self.secret()
            with self.state() as state, state.transaction():
                now = self.clock()
                if action == "resend":
                    signup.resend(state, self.site, secret, token, now)
                    done = None
                else:
                    done = signup.confirm(state, self.site, secret, token, now)
                    manage = signup.link_token(self.site, secret, done.subscriber, "m", now)
        except LinkExpired:
            return self.confirm_page(400, "expired", token)
        except (TokenError, SecretError):
            return self.message("invalid")
        except SubscriberError as exc:
            return self.message("conflict", self.told(exc))
        self.notify()
        if done is None:
            return self.confirm_page(200, "resent", "")
        return self.confirm_page(200, done.kind, "", manage=manage)

    def confirm_page(
        self, status: int, state: str, token: str, script: bool = False, manage: str = ""
    ) -> Response:
        return self.render(
            "web_confirm.html",
            status,
            script=script,
            state=state,
            token=token,
            script_text=CONFIRM_SCRIPT if script else "",
            manage_token=manage,
            page_title=self.titled(self.words.gettext("confirm")),
        )

    # -- /manage ---------------------------------------------------------------------------
    def on_manage(self, request: Request) -> Response:
        if request.method != "POST":
            token = request.args.get("t", "")
            try:
                secret = self.secret()
                with self.state() as state:
                    found = signup.manage_reading(state, self.site, secret, token, self.clock())
            except (TokenError, SecretError):
                return self.message("invalid")
            return self.manage_page(200, found, token)
        fields = self.form(request)
        if fields is None:
            return self.message("bad-request")
        token = (fields.get("t") or [request.args.get("t", "")])[0]
        action = (fields.get("action") or [""])[0]
        try:
            secret = self.secret()
            with self.state() as state, state.transaction():
                now = self.clock()
                found = signup.manage_reading(state, self.site, secret, token, now)
                try:
                    result = self.apply(state, secret, found, action, fields, now)
                except FormError as exc:
                    return self.manage_page(400, found, token, error=exc)
                if isinstance(result, Response):
                    return result
                after = state.subscribers.find_token(found.token_key) or found
        except (TokenError, SecretError):
            return self.message("invalid")
        if action == "address":
            self.notify()
        if action == "forget":
            # The write-ahead log still holds the pages as they were, the address in them.
            with self.state() as state:
                state.scrub()
            return self.message("forgotten")
        return self.manage_page(200, after, token, notice=result)

    def apply(
        self,
        state: State,
        secret: bytes,
        found: Subscriber,
        action: str,
        fields: Mapping[str, Sequence[str]],
        now: datetime,
    ) -> str | Response:
        """Make the change ``action`` asks for; the notice the page shows, or the download."""
        rows = state.subscribers
        stamp = now.isoformat()

        def one(name: str) -> str:
            return (fields.get(name) or [""])[0]

        if action == "topics":
            rows.set_topics(
                found.id, signup.clean_topics(self.site, fields.get(signup.TOPICS) or []), stamp
            )
            return self.words.gettext("Your topics are saved.")
        if action == "pause":
            until = signup.pause_until(self.site, one("until"), now)
            rows.set_pause(found.id, until, stamp)
            if until:
                return self.words.gettext("Paused.")
            return self.words.gettext("Resumed: the next issue comes to you.")
        if action == "resume":
            rows.set_pause(found.id, None, stamp)
            return self.words.gettext("Resumed: the next issue comes to you.")
        if action == "address":
            signup.change_address(state, self.site, found, one(signup.EMAIL), now)
            return self.words.gettext(
                "A confirmation link is on its way to the new address; until it is used, "
                "issues keep coming to this one."
            )
        if action == "unsubscribe":
            if found.status in ("active", "pending"):
                rows.set_status(found.id, "unsubscribed", stamp)
                # An event too, so the figures count the readers who left from here.
                state.events.add(found.id, None, "unsubscribe", "web", "manage page", stamp)
            return self.words.gettext("You are unsubscribed: no more issues will be sent to you.")
        if action == "resubscribe":
            if found.status != "unsubscribed":
                raise FormError(
                    "action", N_("only an unsubscribed address can be subscribed again here")
                )
            rows.reactivate(found.id, "", stamp)
            return self.words.gettext("You are subscribed again.")
        if action == "download":
            body = signup.data(state, secret, found)
            response = Response(
                body, status=REASONS[200], content_type="application/json; charset=utf-8"
            )
            self.secure(response)
            response.headers["Content-Disposition"] = 'attachment; filename="subscription.json"'
            return response
        if action == "forget":
            if one("sure") != "yes":
                raise FormError("sure", N_("tick the box to say you want everything erased"))
            Subscribers(state, secret).forget(found.email, now)
            forget_copies(self.site, (found.email, found.new_email))
            return ""
        raise FormError(
            "action", N_("this form asked for no change this page knows; reload the page")
        )

    def manage_page(
        self,
        status: int,
        found: Subscriber,
        token: str,
        notice: str = "",
        error: FormError | None = None,
    ) -> Response:
        paused = (found.paused_until or "")[:10]
        paused_day = date.fromisoformat(paused) if paused else None
        return self.render(
            "manage.html",
            status,
            subscriber=found,
            token=token,
            chosen=list(found.topics),
            paused=paused,
            paused_day=paused_day,
            notice=notice,
            error=self.told(error) if error else "",
            error_field=error.field if error else "",
            page_title=self.titled(self.words.gettext("your subscription")),
        )

    # -- /unsubscribe ----------------------------------------------------------------------
    def on_unsubscribe(self, request: Request) -> Response:
        token = request.args.get("t", "")
        if request.method != "POST":
            if self.unsubscribe_key(token, request.environ) is None:
                return self.unsubscribe_page(400, "invalid")
            return self.unsubscribe_page(200, "confirm", token)
        if not token:  # one-click requests carry it in the query, whatever their body
            fields = self.form(request)
            if fields is None:
                return self.unsubscribe_page(400, "invalid")
            token = (fields.get("t") or [""])[0]
        reading = self.unsubscribe_key(token, request.environ)
        if reading is None:
            return self.unsubscribe_page(400, "invalid")
        try:
            with self.state() as state, state.transaction():
                found = Subscribers(state).of_token(reading)
                # Removed or forgotten since: nothing is sent to them, which is what they asked.
                if found is not None and found.status in ("active", "pending"):
                    stamp = self.clock().isoformat()
                    state.subscribers.set_status(found.id, "unsubscribed", stamp)
                    # The issue it counts for is the latest sent to them (the figures find it).
                    events = state.events
                    events.add(found.id, None, "unsubscribe", "web", "unsubscribe link", stamp)
        except StateError as exc:
            # Nothing was recorded: a 503 makes a one-click client ask again later, and shows a
            # reader the button again; a 500 would look final and the request would be lost.
            self.log(request.environ, str(exc))
            retry = {"Retry-After": str(RETRY_AFTER)}
            return self.unsubscribe_page(503, "busy", token, retry)
        return self.unsubscribe_page(200, "done")

    def unsubscribe_page(
        self, status: int, state: str, token: str = "", headers: Mapping[str, str] | None = None
    ) -> Response:
        return self.render(
            "unsubscribe.html",
            status,
            headers,
            state=state,
            token=token,
            page_title=self.titled(self.words.gettext("unsubscribe")),
        )

    def unsubscribe_key(self, token: str, environ: Mapping[str, Any]) -> tokens.Reading | None:
        try:
            secret = self.secret()
        except SecretError as exc:
            # No link can be checked: say so in the server's log, answer as for a bad link.
            self.log(environ, str(exc))
            return None
        try:
            return tokens.read(secret, list_id(self.site), token, "u", self.clock())
        except TokenError:
            return None


# The name older code and deployments used for the app when it only unsubscribed.
UnsubscribeApp = WebApp


class _LazyApp:
    """``feedpub.delivery.web:app``: the site comes from FEEDPUB_SITE (default: the working folder),
    loaded at the first request so that importing never fails. With it starts the sender of
    the mail requests queue (as ``feedpub serve`` starts one), so that under gunicorn or any
    other server a confirmation leaves at once; several worker processes each have one, and
    each queued mail is claimed by one of them."""

    def __init__(self) -> None:
        self.app: WebApp | None = None
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        if self.app is None:
            with self.lock:  # a server's threads all take their first request at once
                if self.app is None:
                    site = config.load(os.environ.get("FEEDPUB_SITE", "."))
                    sender = Mailer(site)
                    sender.start()
                    self.app = WebApp(site, notify=sender.wake)
        return self.app(environ, start)


app = _LazyApp()
