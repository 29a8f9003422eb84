"""``feedpub preview``: the site built as ``feedpub build`` builds it, served from the output
folder on this machine, built again when an article, a template, a static file or the settings
change, with the open page reloaded.

The pages are served as they are in ``public/`` but for one small script the server adds to
every HTML answer (never to the files): it asks ``/_preview/version`` whether a newer build
exists, the server holding the question until one does (or for LONG_POLL seconds), and reloads
the page when it does. A build that fails leaves ``public/`` as it was (the writer swaps it in
whole or not at all) and every page answers with the error instead, until a build succeeds.
``/_preview/issue`` is the next newsletter issue's digest, rendered as ``issue preview`` renders
it; nothing is recorded and nothing is sent.
"""

from __future__ import annotations

import html
import mimetypes
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from feedpub import config
from feedpub.errors import ArticleError, ConfigError, FeedpubError, IssueError, LockBusy
from feedpub.links import NOT_FOUND, root_path
from feedpub.lock import SiteLock
from feedpub.run import need_newsletter, next_issue
from feedpub.site import build as build_module
from feedpub.store.state import State

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer
    from werkzeug.wrappers import Request, Response

VERSION_PATH = "/_preview/version"
ISSUE_PATH = "/_preview/issue"
# How long /_preview/version holds a question before answering "no newer build".
LONG_POLL = 20.0
# The watcher wakes this often (ms) when nothing changed, to see whether to stop.
WAKE = 200
READY_TIMEOUT = 10.0
INDEX = "index.html"

# Added to each HTML answer before </body>: it waits for a build newer than the page's and
# reloads; while the server is away (stopped, restarting) it asks again every second.
RELOAD_SCRIPT = """<script>/* feedpub preview */(function () {{
  var version = {version};
  function ask() {{
    fetch("{path}?since=" + version, {{cache: "no-store"}})
      .then(function (answer) {{ return answer.text(); }})
      .then(function (text) {{
        if (Number(text) !== version) {{ location.reload(); }} else {{ ask(); }}
      }})
      .catch(function () {{ setTimeout(ask, 1000); }});
  }}
  ask();
}})();</script>
"""

ERROR_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{title}</title>
<style>body {{ font: 1rem/1.5 system-ui, sans-serif; margin: 2rem; max-width: 60rem; }}
pre {{ white-space: pre-wrap; background: #fff0f0; color: #5a0000; padding: 1rem;
border-left: 4px solid #b00020; }}</style></head>
<body>
<h1>{title}</h1>
<p>{lead}</p>
<pre>{details}</pre>
</body>
</html>
"""


def page(title: str, lead: str, details: Iterable[str] = ()) -> str:
    """A page of the preview's own (an error, an empty issue), every word escaped."""
    return ERROR_PAGE.format(
        title=html.escape(title),
        lead=html.escape(lead),
        details="\n".join(html.escape(line) for line in details),
    )


def with_reload(document: bytes, version: int) -> bytes:
    """``document`` (an HTML page) with the reload script before its last ``</body>``, or at
    its end if it has none."""
    script = RELOAD_SCRIPT.format(version=version, path=VERSION_PATH).encode()
    at = document.lower().rfind(b"</body>")
    if at < 0:
        return document + script
    return document[:at] + script + document[at:]


def error_lines(exc: FeedpubError) -> list[str]:
    """What the build's error says, as the command line says it: one line per problem
    (``PATH:LINE: error: …``), or the error's message."""
    if isinstance(exc, ConfigError | ArticleError):
        return [str(p) for p in exc.problems if p.severity == "error"] or [
            str(p) for p in exc.problems
        ]
    return [str(exc)]


@dataclass
class Outcome:
    """One build of the preview: its number, and the error lines if it failed."""

    version: int
    errors: list[str] = field(default_factory=list)
    report: build_module.BuildReport | None = None


class Preview:
    """The site's preview: builds (one at a time) and what the server answers."""

    def __init__(
        self, site_dir: Path, clock: Callable[[config.Site], datetime] | None = None
    ) -> None:
        self.site_dir = site_dir
        # A settings error before the first build is the command's error, as for build.
        self.site = config.load(site_dir)
        self.clock = clock or (lambda site: datetime.now(site.tz))
        self.version = 0
        self.errors: list[str] = []
        self._changed = threading.Condition()
        self.closed = False
        # One build or issue at a time in this process; the site lock keeps out other
        # processes' (a cron job's run) for the length of a build only.
        self._busy = threading.Lock()

    def rebuild(self) -> Outcome:
        """Read the settings again and build; the outcome becomes the next version."""
        report = None
        with self._busy:
            try:
                site = config.load(self.site_dir)
                self.site = site
                with SiteLock(site.state_dir, "preview"):
                    report = build_module.build(site, self.clock(site))
                errors: list[str] = []
            except LockBusy as exc:
                errors = [f"{exc}; the preview builds again at the next change"]
            except FeedpubError as exc:
                errors = error_lines(exc)
            except Exception as exc:  # a bug: told in the page, and the preview goes on
                errors = [f"unexpected {type(exc).__name__}: {exc} (a bug in feedpub)"]
        with self._changed:
            self.version += 1
            self.errors = errors
            self._changed.notify_all()
            return Outcome(self.version, errors, report)

    def wait_for(self, since: int, timeout: float = LONG_POLL) -> int:
        """The version, once it is not ``since`` (or after ``timeout`` seconds)."""
        with self._changed:
            self._changed.wait_for(lambda: self.version != since or self.closed, timeout)
            return self.version

    def close(self) -> None:
        """Answer the questions held for a newer build at once: the server is stopping."""
        with self._changed:
            self.closed = True
            self._changed.notify_all()

    def issue_page(self) -> tuple[int, str]:
        """(status, HTML) of the next issue's digest as ``issue preview`` renders it."""
        with self._busy:
            site = self.site
            try:
                need_newsletter(site)
            except IssueError as exc:
                return 404, page("No newsletter", str(exc))
            try:
                with State.open(site.state_dir) as state:
                    upcoming = next_issue(site, state, self.clock(site))
            except FeedpubError as exc:
                return 500, page("The next issue cannot be rendered", "", error_lines(exc))
        if upcoming is None:
            return 200, page(
                "Nothing new",
                "No article is waiting for the next issue: every published article went out "
                "in an earlier one, or none is published yet. The next one shows here once it "
                "is published.",
            )
        return 200, upcoming.record.html

    # -- the web server's answers -----------------------------------------------------------

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        from werkzeug.wrappers import Request

        request = Request(environ)
        response = self.answer(request)
        return response(environ, start_response)

    def answer(self, request: Request) -> Response:
        from werkzeug.wrappers import Response

        if request.method not in ("GET", "HEAD"):
            return Response(
                "The preview serves files only: GET and HEAD.\n",
                status=405,
                headers={"Allow": "GET, HEAD"},
                mimetype="text/plain",
            )
        path = request.path
        if path == VERSION_PATH:
            since = request.args.get("since", type=int)
            version = self.version if since is None else self.wait_for(since)
            return self._plain(str(version))
        if path == ISSUE_PATH:
            status, text = self.issue_page()
            return self._html(text.encode(), status)
        if not path.startswith(self.base):
            # A site under a sub-path is served under it, as on its host.
            if path in ("/", self.base.rstrip("/")):
                return self._moved(self.base)
            return self._missing()
        found = self._file(path[len(self.base) - 1 :])
        if isinstance(found, str):  # a folder's address without its final slash
            return self._moved(self.base + found[1:])
        is_html = found is None or found.suffix in (".html", ".htm")
        if self.errors and is_html:
            failed = page(
                "The build failed",
                "feedpub could not build the site; the pages come back when the next build "
                "succeeds (save the file again once it is fixed).",
                self.errors,
            )
            return self._html(failed.encode(), 500)
        if found is None:
            return self._missing()
        data = found.read_bytes()
        if is_html:
            return self._html(data, 200)
        kind = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
        return Response(data, mimetype=kind, headers={"Cache-Control": "no-store"})

    @property
    def base(self) -> str:
        """Where the site's root is served: the path of its ``[site] url``, as on its host."""
        return root_path(self.site.site.url)

    def _missing(self) -> Response:
        from werkzeug.wrappers import Response

        found = self._file("/" + NOT_FOUND)
        if isinstance(found, Path):
            return self._html(found.read_bytes(), 404)
        return Response("Not found\n", status=404, mimetype="text/plain")

    def _moved(self, location: str) -> Response:
        from werkzeug.wrappers import Response

        return Response(status=301, headers={"Location": location, "Cache-Control": "no-store"})

    def _file(self, path: str) -> Path | str | None:
        """The file in the output folder at ``path`` (a folder's index.html), None when there
        is none or it would be outside the folder (``..``, a symlink out), or the address to
        redirect a folder's name to."""
        from werkzeug.security import safe_join

        output = self.site.output_dir.resolve()
        joined = safe_join(str(output), path.lstrip("/"))
        if joined is None:
            return None
        try:
            found = Path(joined).resolve()
            if not found.is_relative_to(output):
                return None
            if found.is_dir():
                if not path.endswith("/"):
                    return path + "/"
                found = (found / INDEX).resolve()
                if not found.is_relative_to(output):
                    return None
            return found if found.is_file() else None
        except (OSError, ValueError):  # a name too long, a NUL in it: no such file
            return None

    def _html(self, data: bytes, status: int) -> Response:
        from werkzeug.wrappers import Response

        # The pages link to the site's own address ([site] url): here, to the preview's.
        local = data.replace(self.site.site.url.encode(), self.base.encode())
        return Response(
            with_reload(local, self.version),
            status=status,
            mimetype="text/html",
            headers={"Cache-Control": "no-store"},
        )

    def _plain(self, text: str) -> Response:
        from werkzeug.wrappers import Response

        return Response(text, mimetype="text/plain", headers={"Cache-Control": "no-store"})


def watched(site: config.Site) -> Callable[[Any, str], bool]:
    """The changes that call for a build: under content/, templates/, static/, or
    feedpub.toml; never the output or the state (the build's own writes), wherever
    ``[feeds] output`` puts the output."""
    folders = tuple(f.resolve() for f in (site.content_dir, site.templates_dir, site.static_dir))
    settings = site.config_path.resolve()
    own = (site.output_dir.resolve(), site.state_dir.resolve())

    def keep(change: Any, path: str) -> bool:
        found = Path(path)
        if any(found.is_relative_to(f) for f in own):
            return False
        return found == settings or any(found.is_relative_to(f) for f in folders)

    return keep


def watch(
    preview: Preview,
    stop: threading.Event,
    ready: threading.Event,
    built: Callable[[Outcome], None],
) -> None:
    """Build again after each burst of changes (watchfiles waits for a quiet moment), until
    ``stop`` is set; ``ready`` is set once the folders are watched, ``built`` told each
    outcome."""
    import watchfiles

    root = preview.site_dir.resolve()
    # The sources are where they are; [feeds] output may not overlap them (config says so).
    keep = watched(preview.site)
    # The watch wakes every WAKE ms with no changes: the first wake says the folders are
    # watched (watchfiles has no other word for it), so that no edit goes unseen.
    for changes in watchfiles.watch(
        root,
        watch_filter=keep,
        stop_event=stop,
        rust_timeout=WAKE,
        yield_on_timeout=True,
    ):
        ready.set()
        if changes:
            built(preview.rebuild())
    ready.set()


def make_server(preview: Preview, host: str, port: int) -> BaseWSGIServer:
    """The preview's threaded HTTP server on ``host``:``port`` (a question held for a newer
    build holds a thread, not the server); FeedpubError when it cannot listen there."""
    from werkzeug.serving import WSGIRequestHandler
    from werkzeug.serving import make_server as werkzeug_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass  # the builds' lines are what the terminal shows

    # Bound here, not by werkzeug, which prints and exits on a port in use.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        listener = socket.create_server((host.strip("[]"), port), family=family)
    except OSError as exc:
        raise FeedpubError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; stop what uses the port "
            "or choose another with --port"
        ) from None
    with listener:
        server = werkzeug_server(
            host, port, preview.app, threaded=True, request_handler=Quiet, fd=listener.fileno()
        )
    told = server.handle_error

    def handle_error(request: Any, client_address: Any) -> None:
        # A browser's connection closed under its thread (Ctrl-C while a page waits for the
        # next build, a tab closed) is no error to print a traceback for.
        if not isinstance(sys.exc_info()[1], OSError):
            told(request, client_address)

    server.handle_error = handle_error  # type: ignore[method-assign]
    return server


def url_of(server: BaseWSGIServer, preview: Preview) -> str:
    """The preview's address of the site's home page."""
    address = server.server_address
    host = address[0].decode() if isinstance(address[0], bytes) else str(address[0])
    port = address[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{preview.base}"


@contextmanager
def running(
    site_dir: Path,
    host: str,
    port: int,
    built: Callable[[Outcome], None],
    clock: Callable[[config.Site], datetime] | None = None,
) -> Iterator[tuple[Preview, BaseWSGIServer]]:
    """The preview built, its server listening and its folders watched, for the ``with``
    block to serve (``serve_forever``); the watching stops and the port is freed after."""
    preview = Preview(site_dir, clock)
    server = make_server(preview, host, port)
    stop, ready = threading.Event(), threading.Event()
    watcher = threading.Thread(
        target=watch, args=(preview, stop, ready, built), name="preview-watch", daemon=True
    )
    try:
        watcher.start()
        built(preview.rebuild())
        ready.wait(timeout=READY_TIMEOUT)
        yield preview, server
    finally:
        stop.set()
        preview.close()
        server.server_close()
        if watcher.is_alive():
            watcher.join(timeout=READY_TIMEOUT)


def serve(
    site_dir: Path,
    host: str,
    port: int,
    say: Callable[[str], None],
    built: Callable[[Outcome], None],
) -> None:
    """Build, serve the preview until Ctrl-C, and build again on each change."""
    # Ctrl-C, and SIGTERM as Ctrl-C, stop it at any moment, the first build's too.
    stops = (signal.SIGINT, signal.SIGTERM)
    before = [signal.signal(number, signal.default_int_handler) for number in stops]
    try:
        with running(site_dir, host, port, built) as (preview, server):
            home = url_of(server, preview)
            issue = home.removesuffix(preview.base) + ISSUE_PATH
            say(f"Previewing {home} (the next issue: {issue}); Ctrl-C stops")
            server.serve_forever()  # werkzeug's returns on Ctrl-C
    except KeyboardInterrupt:
        pass
    finally:
        for number, handler in zip(stops, before, strict=True):
            signal.signal(number, handler)
