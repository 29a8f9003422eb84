"""WebSub ([feeds] websub_hub): the hub link in every feed that changes, and one publish ping
per changed feed after ``build`` and ``run``, against a small hub on 127.0.0.1. A hub that is
down, answers an error, redirects or stalls is a warning (exit 0), and the pings wait in the
state for the next build or run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import feedparser
import pytest
from click.testing import CliRunner
from feed_checks import check_atom, check_json, check_rss, feed_folders
from helpers import (
    CHILD_ENV,
    NOW,
    NOW_ARG,
    MakeSite,
    article,
    assert_clean_exit,
    free_port,
    invoke,
    load,
)
from helpers import write_articles as write

from feedpub.config import FEED_FILES
from feedpub.errors import ConfigError
from feedpub.site import websub
from feedpub.site.build import build
from feedpub.store.state import State

SITE = "https://news.example.org/"
ARTICLES = {
    "one.md": article("One", "2026-11-10 09:00", author="Ann Lee", tags="[news]"),
    "two.md": article("Two", "2026-11-12 09:00", author="Bo Chen", tags="[sport]"),
}


@dataclass
class Hub:
    """A hub on 127.0.0.1: what it was sent, and how it answers (``status``; ``stall``: it
    holds every answer until released)."""

    url: str
    pings: list[dict[str, list[str]]] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    stall: threading.Event | None = None
    drip: threading.Event | None = None  # a 2xx whose body never ends (until set)
    arrived: threading.Event = field(default_factory=threading.Event)  # a ping came

    @property
    def topics(self) -> list[str]:
        return [ping["hub.url"][0] for ping in self.pings]


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A client killed mid-request breaks the handler's pipe: not the test's output."""


@pytest.fixture
def hub() -> Iterator[Hub]:
    server = _QuietServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    made = Hub(f"http://127.0.0.1:{server.server_address[1]}/hub")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            made.pings.append(parse_qs(self.rfile.read(length).decode("ascii")))
            made.types.append(self.headers.get("Content-Type", ""))
            made.arrived.set()
            if made.stall is not None:
                made.stall.wait(10)
            if made.drip is not None:
                self.send_response(200)
                self.send_header("Content-Length", "1000000")
                self.end_headers()
                self.wfile.write(b"ok")
                self.wfile.flush()
                made.drip.wait(10)
                return
            self.send_response(made.status)
            for name, value in made.headers.items():
                self.send_header(name, value)
            body = b"hub says no\x1b[31m" if made.status >= 400 else b""
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield made
    for event in (made.stall, made.drip):
        if event is not None:
            event.set()
    server.shutdown()
    server.server_close()


def _site(make_site: MakeSite, hub_url: str, extra: str = "") -> Path:
    return make_site(ARTICLES, extra=f'\n[feeds]\nwebsub_hub = "{hub_url}"\n{extra}')


def _build(runner: CliRunner, root: Path, *more: str) -> str:
    result = invoke(runner, "--site", root, "build", "--now", NOW_ARG, *more)
    assert_clean_exit(result, 0)
    return result.output


def _feeds(output: Path) -> dict[str, bytes]:
    return {
        SITE + "/".join(p for p in (folder, name) if p): (output / folder / name).read_bytes()
        for folder in feed_folders(output)
        for name in FEED_FILES
    }


def _owed(root: Path) -> list[str]:
    with State.open(load(root).state_dir) as state:
        return state.pings.pending()


def test_every_feed_names_the_hub(make_site: MakeSite, hub: Hub) -> None:
    root = _site(make_site, hub.url, "archive = true\nlimit = 1\n")
    _build(CliRunner(), root)
    output = load(root).output_dir
    for folder in feed_folders(output):
        rss = feedparser.parse((output / folder / "rss.xml").read_bytes())
        atom = feedparser.parse((output / folder / "atom.xml").read_bytes())
        for parsed, name in ((rss, "rss.xml"), (atom, "atom.xml")):
            links = {link["rel"]: link["href"] for link in parsed.feed.links}
            assert links["hub"] == hub.url, folder
            assert links["self"] == SITE + "/".join(p for p in (folder, name) if p)
        document = json.loads((output / folder / "feed.json").read_bytes())
        assert document["hubs"] == [{"type": "WebSub", "url": hub.url}]
        check_rss((output / folder / "rss.xml").read_bytes(), folder)
        check_atom((output / folder / "atom.xml").read_bytes(), folder)
        check_json((output / folder / "feed.json").read_bytes(), folder)
    # Archive documents do not change: no hub to tell.
    for path in (output / "archive/feed").rglob("*"):
        if path.is_file():
            assert hub.url.encode() not in path.read_bytes(), path


def test_one_ping_per_changed_feed_and_none_when_nothing_changed(
    make_site: MakeSite, hub: Hub
) -> None:
    root = _site(make_site, hub.url)
    runner = CliRunner()
    said = _build(runner, root)
    output = load(root).output_dir
    first = _feeds(output)
    assert sorted(hub.topics) == sorted(first)
    assert hub.types == ["application/x-www-form-urlencoded"] * len(first)
    assert all(ping["hub.mode"] == ["publish"] for ping in hub.pings)
    assert f"Told the WebSub hub of {len(first)} changed feeds" in said
    assert _owed(root) == []

    hub.pings.clear()
    assert "WebSub" not in _build(runner, root)
    assert hub.pings == []

    # An edit to one article changes the main feeds and its tag's and author's, no others.
    write(
        root,
        {"two.md": article("Two", "2026-11-12 09:00", "Edited.", author="Bo Chen", tags="[sport]")},
    )
    _build(runner, root)
    after = _feeds(output)
    changed = sorted(url for url in after if after[url] != first[url])
    assert sorted(hub.topics) == changed
    assert {url.rsplit("/", 1)[0] for url in changed} == {
        SITE.rstrip("/"),
        f"{SITE}tags/sport",
        f"{SITE}authors/bo-chen",
    }


def test_a_hub_that_is_down_is_a_warning_and_told_on_the_next_build(
    make_site: MakeSite, hub: Hub
) -> None:
    down = f"http://127.0.0.1:{free_port()}/hub"
    root = _site(make_site, down)
    runner = CliRunner()
    said = _build(runner, root)
    assert "warning: the WebSub hub" in said and "cannot be reached" in said
    owed = _owed(root)
    assert sorted(owed) == sorted(_feeds(load(root).output_dir))
    # The hub moves to where it is up; nothing changed, and the pings owed go.
    (root / "feedpub.toml").write_text(
        (root / "feedpub.toml").read_text().replace(down, hub.url), encoding="utf-8"
    )
    said = _build(runner, root)
    assert sorted(hub.topics) == sorted(set(hub.topics))
    assert set(hub.topics) >= set(owed)
    assert "warning" not in said
    assert _owed(root) == []


@pytest.mark.parametrize(
    ("status", "headers", "said"),
    [
        (500, {}, "it answered 500 Internal Server Error: hub says no [31m"),
        (404, {}, "it answered 404 Not Found"),
        (302, {"Location": "file:///etc/passwd"}, "it answered 302 Found to 'file:///etc/passwd'"),
        (307, {"Location": "http://127.0.0.1:9/x"}, "it answered 307 Temporary Redirect to"),
        (599, {}, "it answered 599: hub says no"),
    ],
    ids=["500", "404", "redirect-file", "redirect-http", "unknown-status"],
)
def test_a_hub_that_answers_an_error_keeps_the_pings_for_the_next_run(
    make_site: MakeSite, hub: Hub, status: int, headers: dict[str, str], said: str
) -> None:
    root = _site(make_site, hub.url)
    hub.status, hub.headers = status, headers
    runner = CliRunner()
    output = _build(runner, root)
    assert said in output
    # The first refusal ends the round: one request, not one per feed.
    assert len(hub.pings) == 1
    waiting = len(_feeds(load(root).output_dir))
    assert f"{waiting} pings wait for the next build or run" in output
    assert "\x1b" not in output
    hub.status, hub.headers = 204, {}
    hub.pings.clear()
    result = invoke(runner, "--site", root, "run", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    assert len(hub.topics) == waiting
    assert _owed(root) == []


def test_a_hub_that_stalls_is_left_after_the_timeout(make_site: MakeSite, hub: Hub) -> None:
    root = _site(make_site, hub.url)
    hub.stall = threading.Event()
    site = load(root)
    build(site, NOW)
    with State.open(site.state_dir) as state:
        started = time.monotonic()
        report = websub.ping(site, state, timeout=0.5)
        took = time.monotonic() - started
        assert report is not None and report.sent == ()
        assert report.error == "it did not answer within 0.5 s"
        assert report.warning is not None and "pings wait" in report.warning
        assert took < 5
        assert len(state.pings.pending()) == len(_feeds(site.output_dir))
    hub.stall.set()


def test_a_dry_run_tells_the_hub_nothing(make_site: MakeSite, hub: Hub) -> None:
    root = _site(make_site, hub.url)
    result = invoke(CliRunner(), "--site", root, "run", "--dry-run", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    assert hub.pings == []


def test_without_a_hub_nothing_is_owed(make_site: MakeSite) -> None:
    root = make_site(ARTICLES)
    _build(CliRunner(), root)
    assert _owed(root) == []
    for data in _feeds(load(root).output_dir).values():
        assert b'rel="hub"' not in data and b'"hubs"' not in data


@pytest.mark.parametrize(
    "value",
    [
        "ftp://hub.example.org/",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "hub.example.org",
        "https://editor:secret@hub.example.org/",
        "https://hub.example.org/hub\\nX-Injected: 1",
        "https://hub.example.org/a b",
        "https://hub.example.org/#top",
        "http://[::1/hub",
        "https://hub.example.org:99999/",
        "https://hub.example.org/" + "a" * 3000,
        "https://hub.example.org/'><script>",
    ],
    ids=[
        "ftp",
        "javascript",
        "file",
        "no-scheme",
        "password",
        "line-break",
        "space",
        "fragment",
        "broken-ipv6",
        "port",
        "huge",
        "markup",
    ],
)
def test_a_hub_url_that_is_no_http_url_is_a_clear_error(make_site: MakeSite, value: str) -> None:
    root = make_site(extra=f'\n[feeds]\nwebsub_hub = "{value}"\n')
    with pytest.raises(ConfigError) as caught:
        load(root)
    text = str(caught.value)
    assert "[feeds] websub_hub" in text and "Traceback" not in text
    assert "secret" not in text
    assert len(text) < 400


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("https://pubsubhubbub.appspot.com/", "https://pubsubhubbub.appspot.com/"),
        ("https://hub.example.org/publish", "https://hub.example.org/publish"),
        ("https://bücher.example/hub", "https://xn--bcher-kva.example/hub"),
        ("https://hub.example.org/?site=1&x=2", "https://hub.example.org/?site=1&x=2"),
        ("", ""),
    ],
    ids=["slash", "no-slash-added", "idn", "query", "none"],
)
def test_a_hub_url_is_kept_as_given(make_site: MakeSite, value: str, kept: str) -> None:
    root = make_site(extra=f'\n[feeds]\nwebsub_hub = "{value}"\n')
    assert load(root).feeds.websub_hub == kept


def test_a_query_in_the_hub_url_leaves_the_feeds_valid(make_site: MakeSite) -> None:
    hub_url = "https://hub.example.org/?site=1&x=%3C2%3E"
    root = make_site(ARTICLES, extra=f'\n[feeds]\nwebsub_hub = "{hub_url}"\n')
    build(load(root), NOW)
    output = load(root).output_dir
    check_rss((output / "rss.xml").read_bytes(), "")
    check_atom((output / "atom.xml").read_bytes(), "")
    links = feedparser.parse((output / "atom.xml").read_bytes()).feed.links
    assert {"rel": "hub", "href": hub_url} in [{"rel": x.rel, "href": x.href} for x in links]


def test_pings_a_build_did_not_send_go_with_the_next_run(make_site: MakeSite, hub: Hub) -> None:
    # A build that recorded its pings and was stopped before sending them (the library's
    # build, which records and never sends).
    root = _site(make_site, hub.url)
    build(load(root), NOW)
    owed = _owed(root)
    assert owed and hub.pings == []
    assert_clean_exit(invoke(CliRunner(), "--site", root, "run", "--now", NOW_ARG), 0)
    assert hub.topics == owed
    assert _owed(root) == []


def test_the_state_keeps_one_ping_per_feed_until_the_hub_takes_it(tmp_path: Path) -> None:
    with State.open(tmp_path / ".feedpub") as state:
        with state.transaction():
            state.pings.add(["https://e.org/rss.xml", "https://e.org/atom.xml"], "t1")
            state.pings.add(["https://e.org/rss.xml"], "t2")
        assert state.pings.pending() == ["https://e.org/rss.xml", "https://e.org/atom.xml"]
        with state.transaction():
            assert state.pings.failed("https://e.org/rss.xml", "down") == 1
            assert state.pings.failed("https://e.org/rss.xml", "down") == 2
            state.pings.done("https://e.org/atom.xml")
        assert state.pings.pending() == ["https://e.org/rss.xml"]
    with State.open(tmp_path / ".feedpub") as state:
        assert state.pings.pending() == ["https://e.org/rss.xml"]
        with state.transaction():
            assert state.pings.clear() == 1
        assert state.pings.pending() == []


def test_quiet_runs_tell_a_hub_that_keeps_refusing(make_site: MakeSite, hub: Hub) -> None:
    root = _site(make_site, hub.url)
    hub.status = 503
    runner = CliRunner()
    told = []
    for _ in range(websub.TELL_QUIET_AFTER):
        result = invoke(runner, "--site", root, "-q", "build", "--now", NOW_ARG)
        assert_clean_exit(result, 0)
        told.append("warning: the WebSub hub" in result.output)
    assert told == [False] * (websub.TELL_QUIET_AFTER - 1) + [True]
    assert f"refused {websub.TELL_QUIET_AFTER} times running" in result.output


def test_a_hub_that_answers_yes_and_never_ends_its_answer_holds_nothing_up(
    make_site: MakeSite, hub: Hub
) -> None:
    root = _site(make_site, hub.url)
    hub.drip = threading.Event()
    site = load(root)
    build(site, NOW)
    with State.open(site.state_dir) as state:
        owed = state.pings.pending()
        started = time.monotonic()
        report = websub.ping(site, state, timeout=2)
        assert time.monotonic() - started < 2
        assert report is not None and report.error is None and list(report.sent) == owed


def test_a_build_killed_while_it_pings_leaves_the_pings_for_the_next(
    make_site: MakeSite, hub: Hub
) -> None:
    root = _site(make_site, hub.url)
    hub.stall = threading.Event()
    child = subprocess.Popen(
        [sys.executable, "-m", "feedpub", "--site", str(root), "build", "--now", NOW_ARG],
        env=CHILD_ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert hub.arrived.wait(60), "the build never pinged"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(60)
    assert child.returncode == -signal.SIGKILL
    every = sorted(_feeds(load(root).output_dir))
    assert sorted(_owed(root)) == every
    hub.stall.set()
    hub.stall = None
    hub.pings.clear()
    _build(CliRunner(), root)
    assert sorted(hub.topics) == every
    assert _owed(root) == []
