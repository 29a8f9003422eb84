"""The unsubscribe endpoint: the WSGI app called directly, the lazy ``feedpub.web:app``, the
site secret, and ``feedpub serve`` answering real HTTP on 127.0.0.1."""

from __future__ import annotations

import io
import os
import selectors
import signal
import socket
import stat
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from wsgiref.util import setup_testing_defaults

import lxml.html
import pytest
from click.testing import CliRunner
from helpers import (
    ARTICLES,
    CHILD_ENV,
    FEEDPUB,
    NOW,
    NOW_ARG,
    ONE_CLICK,
    MakeSite,
    assert_clean_exit,
    invoke,
)

import feedpub.delivery.server
import feedpub.web
from feedpub import config
from feedpub.config import Site
from feedpub.delivery.messages import list_id
from feedpub.delivery.subscribers import Subscribers, normalize
from feedpub.delivery.tokens import (
    MAX_TOKEN,
    load_secret,
    make_token,
    read_token,
)
from feedpub.delivery.web import MAX_BODY, UnsubscribeApp
from feedpub.errors import ConfigError, SecretError, TokenError
from feedpub.store.state import State

NAME = 'Ledger <b>&</b> "Weekly"'
NEWSLETTER = f"""
[newsletter]
name = '{NAME}'
from = "Test Gazette <news@news.example.org>"
schedule = "manual"
"""
ANN = "ann@example.org"
BOB = "bob@example.org"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def site(make_site: MakeSite) -> Site:
    """A site with a newsletter and two active subscribers, Ann and Bob."""
    root = make_site(ARTICLES, extra=NEWSLETTER)
    loaded = config.load(root, env={})
    with State.open(loaded.state_dir) as state, state.transaction():
        for address in (ANN, BOB):
            Subscribers(state).add(address, "", NOW)
    return loaded


def token_for(site: Site, address: str) -> str:
    return make_token(load_secret(site.state_dir), list_id(site), normalize(address)[1])


def statuses(site: Site) -> dict[str, str]:
    with State.open(site.state_dir) as state:
        return {s.email: s.status for s in Subscribers(state).iter()}


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: str


def call(
    app: Any,
    method: str = "GET",
    path: str = "/unsubscribe",
    query: str = "",
    body: bytes = b"",
    content_type: str = FORM,
    length: str | None = None,
    stream: io.BytesIO | None = None,
) -> Response:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "wsgi.input": stream or io.BytesIO(body),
    }
    if method == "POST":
        environ["CONTENT_TYPE"] = content_type
        environ["CONTENT_LENGTH"] = str(len(body)) if length is None else length
    setup_testing_defaults(environ)
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> None:
        started.append((status, headers))

    data = b"".join(app(environ, start_response))
    ((status, headers),) = started
    found = dict(headers)
    assert len(found) == len(headers), headers  # no header twice
    assert int(found["Content-Length"]) == len(data)
    return Response(int(status.split()[0]), found, data.decode("utf-8"))


def q(token: str) -> str:
    return urlencode({"t": token})


# -- GET shows a confirmation ----------------------------------------------------------------


def test_get_with_a_good_token_shows_a_button(site: Site) -> None:
    app = UnsubscribeApp(site)
    token = token_for(site, ANN)
    response = call(app, query=q(token))
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    page = lxml.html.fromstring(response.body)
    (form,) = page.xpath("//form")
    assert form.get("method") == "post"
    assert parse_qs(urlsplit(form.get("action")).query) == {"t": [token]}
    assert page.xpath("//form//input[@type='hidden' and @name='t']/@value") == [token]
    assert [b.text_content() for b in page.xpath("//form//button[@type='submit']")] == [
        "Unsubscribe"
    ]
    assert statuses(site) == {ANN: "active", BOB: "active"}  # a GET changes nothing

    # Pressing the button: the browser posts the form to its action.
    action = urlsplit(form.get("action"))
    pressed = call(app, "POST", query=action.query, body=urlencode({"t": token}).encode())
    assert pressed.status == 200
    assert "You are unsubscribed" in pressed.body
    assert statuses(site) == {ANN: "unsubscribed", BOB: "active"}


def test_get_under_a_prefix_and_with_a_trailing_slash(site: Site) -> None:
    app = UnsubscribeApp(site)
    for path in ("/unsubscribe/", "/news/unsubscribe"):
        assert call(app, path=path, query=q(token_for(site, ANN))).status == 200


# -- POST unsubscribes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "body", "content_type"),
    [
        ("query", ONE_CLICK, FORM),
        (
            "query",
            b'--x\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
            b"One-Click\r\n--x--\r\n",
            "multipart/form-data; boundary=x",
        ),
        ("form", None, FORM),
        ("query", b"", FORM),
        ("query", b"&".join(b"f%d=1" % n for n in range(30)), FORM),
    ],
    ids=[
        "one-click-rfc8058",
        "one-click-multipart",
        "token-in-form",
        "empty-body",
        "body-with-many-fields",
    ],
)
def test_post_unsubscribes(site: Site, where: str, body: bytes | None, content_type: str) -> None:
    app = UnsubscribeApp(site)
    token = token_for(site, ANN)
    query = q(token) if where == "query" else ""
    data = body if body is not None else f"{q(token)}&List-Unsubscribe=One-Click".encode()
    response = call(app, "POST", query=query, body=data, content_type=content_type)
    assert response.status == 200
    assert "You are unsubscribed" in response.body
    assert statuses(site) == {ANN: "unsubscribed", BOB: "active"}
    # Again (a mail client retrying, a second click): still 200, still unsubscribed.
    assert call(app, "POST", query=query, body=data, content_type=content_type).status == 200
    assert statuses(site) == {ANN: "unsubscribed", BOB: "active"}


def test_post_keeps_a_bounced_subscriber_bounced(site: Site) -> None:
    with State.open(site.state_dir) as state:
        Subscribers(state).set_status(ANN, "bounced", NOW)
    response = call(UnsubscribeApp(site), "POST", query=q(token_for(site, ANN)), body=ONE_CLICK)
    assert response.status == 200
    assert statuses(site) == {ANN: "bounced", BOB: "active"}


def test_post_for_an_address_no_longer_subscribed(site: Site) -> None:
    token = token_for(site, "gone@example.org")
    response = call(UnsubscribeApp(site), "POST", query=q(token), body=ONE_CLICK)
    assert response.status == 200  # nothing is sent to them, which is what they asked
    assert statuses(site) == {ANN: "active", BOB: "active"}


def test_the_unsubscribe_time_comes_from_the_clock(site: Site) -> None:
    app = UnsubscribeApp(site, clock=lambda: NOW)
    assert call(app, "POST", query=q(token_for(site, ANN)), body=ONE_CLICK).status == 200
    with State.open(site.state_dir) as state:
        changed = state.db.execute(
            "SELECT changed FROM subscribers WHERE email = ?", (ANN,)
        ).fetchone()[0]
    assert changed == NOW_ARG


def test_links_already_sent_work_after_the_newsletter_is_renamed(site: Site) -> None:
    token = token_for(site, ANN)
    toml = site.config_path
    toml.write_text(toml.read_text().replace(NAME, "The Ledger, renamed"))
    renamed = config.load(site.root, env={})
    assert renamed.newsletter_name == "The Ledger, renamed"
    response = call(UnsubscribeApp(renamed), "POST", query=q(token), body=ONE_CLICK)
    assert response.status == 200
    assert statuses(site) == {ANN: "unsubscribed", BOB: "active"}


# -- forged and broken tokens ----------------------------------------------------------------


def forged(site: Site, kind: str) -> str:
    secret = load_secret(site.state_dir)
    key = normalize(ANN)[1]
    good = make_token(secret, list_id(site), key)
    encoded_key, mac = good.split(".")
    if kind == "changed-mac":
        return f"{encoded_key}.{mac[:10]}{'A' if mac[10] != 'A' else 'B'}{mac[11:]}"
    if kind == "short-mac":
        return f"{encoded_key}.{mac[:20]}"
    if kind == "other-address":
        other = make_token(secret, list_id(site), normalize(BOB)[1]).split(".")[0]
        return f"{other}.{mac}"
    if kind == "other-list":
        return make_token(secret, "other-list.news.example.org", key)
    if kind == "other-secret":
        return make_token(b"another site's secret", list_id(site), key)
    if kind == "empty-secret":
        return make_token(b"", list_id(site), key)
    if kind == "two-dots":
        return good + ".x"
    if kind == "not-base64":
        return "%%%.!!!"
    if kind == "not-ascii":
        return "ännn.öööö"
    if kind == "garbage":
        return "not-a-token"
    if kind == "empty":
        return ""
    if kind == "5000-characters":
        return "a" * 2500 + "." + "b" * 2499
    raise AssertionError(kind)


FORGERIES = [
    "changed-mac",
    "short-mac",
    "other-address",
    "other-list",
    "other-secret",
    "empty-secret",
    "two-dots",
    "not-base64",
    "not-ascii",
    "garbage",
    "empty",
    "5000-characters",
]


@pytest.mark.parametrize("kind", FORGERIES)
@pytest.mark.parametrize(
    "how", ["get", "post-query", "post-form"], ids=["get", "post-query", "post-form"]
)
def test_a_bad_token_gets_400_and_changes_nothing(site: Site, kind: str, how: str) -> None:
    app = UnsubscribeApp(site)
    token = forged(site, kind)
    if how == "get":
        response = call(app, query=q(token))
    elif how == "post-query":
        response = call(app, "POST", query=q(token), body=ONE_CLICK)
    else:
        response = call(app, "POST", body=q(token).encode())
    assert response.status == 400
    assert "This unsubscribe link is not valid" in response.body
    assert "<form" not in response.body
    assert statuses(site) == {ANN: "active", BOB: "active"}


def test_read_token(site: Site) -> None:
    secret = load_secret(site.state_dir)
    key = normalize(ANN)[1]
    assert read_token(secret, list_id(site), make_token(secret, list_id(site), key)) == key
    overlong = forged(site, "5000-characters")
    assert len(overlong) > MAX_TOKEN
    with pytest.raises(TokenError, match="incomplete or damaged"):
        read_token(secret, list_id(site), overlong)
    with pytest.raises(TokenError, match="not valid for this newsletter"):
        read_token(secret, list_id(site), forged(site, "other-list"))


def test_a_query_without_a_token(site: Site) -> None:
    app = UnsubscribeApp(site)
    assert call(app).status == 400
    assert call(app, "POST", body=ONE_CLICK).status == 400
    assert statuses(site) == {ANN: "active", BOB: "active"}


@pytest.mark.parametrize("where", ["query", "form"])
def test_too_many_fields_is_a_bad_request(site: Site, where: str) -> None:
    """parse_qs refuses more than max_num_fields with a ValueError: a 400, not a crash."""
    app = UnsubscribeApp(site)
    token = token_for(site, ANN)
    many = "&".join(f"f{n}=1" for n in range(30)) + "&" + q(token)
    if where == "query":
        get = call(app, query=many)
        assert get.status == 400
        response = call(app, "POST", query=many, body=ONE_CLICK)
    else:
        response = call(app, "POST", body=many.encode())
    assert response.status == 400
    assert "This unsubscribe link is not valid" in response.body
    assert statuses(site) == {ANN: "active", BOB: "active"}


# -- methods, paths, sizes, headers ----------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/", "/elsewhere", "/unsubscribe.php", "/xunsubscribe"],
    ids=["root", "elsewhere", "other-suffix", "glued-prefix"],
)
def test_an_unknown_path_is_404(site: Site, path: str) -> None:
    response = call(UnsubscribeApp(site), path=path, query=q(token_for(site, ANN)))
    assert response.status == 404
    assert "There is nothing here." in response.body
    post = call(UnsubscribeApp(site), "POST", path=path, query=q(token_for(site, ANN)))
    assert post.status == 404
    assert statuses(site) == {ANN: "active", BOB: "active"}


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_405(site: Site, method: str) -> None:
    response = call(UnsubscribeApp(site), method, query=q(token_for(site, ANN)))
    assert response.status == 405
    assert response.headers["Allow"] == "GET, HEAD, POST"
    assert statuses(site) == {ANN: "active", BOB: "active"}


def test_a_body_over_the_limit_is_413(site: Site) -> None:
    app = UnsubscribeApp(site)
    token = token_for(site, ANN)
    body = (q(token) + "&pad=" + "x" * MAX_BODY).encode()
    stream = io.BytesIO(body)
    response = call(app, "POST", body=body, stream=stream)
    assert response.status == 413
    assert stream.tell() == 0  # not read at all
    assert statuses(site) == {ANN: "active", BOB: "active"}
    # Exactly at the limit is fine.
    fits = (q(token) + "&pad=").encode()
    fits += b"x" * (MAX_BODY - len(fits))
    assert call(app, "POST", body=fits).status == 200
    assert statuses(site)[ANN] == "unsubscribed"


@pytest.mark.parametrize(
    "length", ["-1", "-20000", "ten", " "], ids=["minus-one", "minus-many", "a-word", "blank"]
)
def test_a_bad_content_length(site: Site, length: str) -> None:
    """A negative length must not mean 'read everything': the body limit would not hold."""
    app = UnsubscribeApp(site)
    body = (q(token_for(site, ANN)) + "&pad=" + "x" * (MAX_BODY * 3)).encode()
    stream = io.BytesIO(body)
    response = call(app, "POST", body=body, length=length, stream=stream)
    assert stream.tell() <= MAX_BODY
    assert response.status == 400
    assert statuses(site) == {ANN: "active", BOB: "active"}


def responses(site: Site) -> Iterator[tuple[str, Response]]:
    app = UnsubscribeApp(site)
    token = token_for(site, ANN)
    yield "confirm", call(app, query=q(token))
    yield "bad-token", call(app, query=q("nonsense"))
    yield "missing", call(app, path="/nope")
    yield "method", call(app, "PUT")
    yield "too-big", call(app, "POST", body=b"x" * (MAX_BODY + 1))
    yield "done", call(app, "POST", query=q(token), body=ONE_CLICK)


def test_every_response_forbids_caching_and_referrers(site: Site) -> None:
    seen = []
    for what, response in responses(site):
        seen.append((what, response.status))
        assert response.headers["Cache-Control"] == "no-store", what
        assert response.headers["Referrer-Policy"] == "no-referrer", what
        assert response.headers["X-Content-Type-Options"] == "nosniff", what
        # From the WSGI app itself, so that gunicorn or any other server sends them too.
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, what
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], what
    assert seen == [
        ("confirm", 200),
        ("bad-token", 400),
        ("missing", 404),
        ("method", 405),
        ("too-big", 413),
        ("done", 200),
    ]


def test_the_newsletter_name_is_escaped(site: Site) -> None:
    for what, response in responses(site):
        assert "<b>&</b>" not in response.body, what
        assert "Ledger &lt;b&gt;&amp;&lt;/b&gt; &#34;Weekly&#34;" in response.body, what
        page = lxml.html.fromstring(response.body)
        assert page.xpath("//h1")[0].text_content() == NAME
        assert page.xpath("//b") == []


def test_the_done_page_links_to_the_issues(site: Site) -> None:
    response = call(UnsubscribeApp(site), "POST", query=q(token_for(site, ANN)), body=ONE_CLICK)
    page = lxml.html.fromstring(response.body)
    assert page.xpath("//main//a/@href") == ["https://news.example.org/issues/"]
    assert page.get("lang") == "en"


# -- the secret ------------------------------------------------------------------------------


def test_the_secret_file_is_made_once_and_private(site: Site) -> None:
    path = site.state_dir / "secret"
    assert not path.exists()
    first = load_secret(site.state_dir, env={})
    assert len(first) == 64 and bytes.fromhex(first.decode())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secret(site.state_dir, env={}) == first
    assert path.read_bytes() == first
    assert sorted(p.name for p in site.state_dir.iterdir()) == ["secret", "state.db"]


def test_the_secret_file_in_a_fresh_site(make_site: MakeSite) -> None:
    root = make_site(extra=NEWSLETTER, folder="fresh")
    folder = root / ".feedpub"
    secret = load_secret(folder, env={})
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "secret").stat().st_mode) == 0o600
    assert (folder / "secret").read_bytes() == secret


def test_the_environment_wins(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    from_file = load_secret(site.state_dir, env={})
    monkeypatch.setenv("FEEDPUB_SECRET", "a secret kept in the environment")
    assert load_secret(site.state_dir) == b"a secret kept in the environment"
    app = UnsubscribeApp(site)
    key = normalize(ANN)[1]
    with_file = make_token(from_file, list_id(site), key)
    assert call(app, query=q(with_file)).status == 400
    with_env = make_token(b"a secret kept in the environment", list_id(site), key)
    assert call(app, "POST", query=q(with_env), body=ONE_CLICK).status == 200
    assert statuses(site)[ANN] == "unsubscribed"


def test_the_environment_means_no_secret_file(site: Site) -> None:
    assert load_secret(site.state_dir, env={"FEEDPUB_SECRET": "s3cret"}) == b"s3cret"
    assert not (site.state_dir / "secret").exists()


@pytest.mark.parametrize("content", [b"", b"\n", b"   \n"], ids=["empty", "newline", "blank"])
def test_an_empty_secret_file_is_refused(site: Site, content: bytes) -> None:
    """An empty key makes HMACs anyone can compute: refuse it rather than accept forgeries."""
    path = site.state_dir / "secret"
    path.write_bytes(content)
    with pytest.raises(SecretError) as caught:
        load_secret(site.state_dir, env={})
    assert str(caught.value) == (
        f"{path} holds no secret; delete it and feedpub makes a new one "
        "(unsubscribe links already sent stop working), or set FEEDPUB_SECRET"
    )
    app = UnsubscribeApp(site)
    with pytest.raises(SecretError):
        call(app, "POST", query=q(forged(site, "empty-secret")), body=ONE_CLICK)
    assert statuses(site) == {ANN: "active", BOB: "active"}


def test_processes_making_the_secret_at_once_agree(make_site: MakeSite) -> None:
    """The file appears with its whole content at once: nobody reads it half-written."""

    def make(folder: Path, barrier: threading.Barrier, found: list[bytes]) -> None:
        barrier.wait()
        found.append(load_secret(folder, env={}))

    for attempt in range(20):
        folder = make_site(folder=f"race{attempt}") / ".feedpub"
        barrier = threading.Barrier(8)
        found: list[bytes] = []
        threads = [threading.Thread(target=make, args=(folder, barrier, found)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(found) == 8
        assert len(set(found)) == 1, found
        assert len(found[0]) == 64
        assert sorted(p.name for p in folder.iterdir()) == ["secret"]


def test_the_secret_never_shows(runner: CliRunner, site: Site) -> None:
    secret = load_secret(site.state_dir, env={}).decode()
    root = site.root
    outputs = []
    for command in (
        ["issue", "new", "--now", NOW_ARG],
        ["send", "--dry-run"],
        ["send", "--test", "tess@example.org"],
        ["send"],
        ["status", "--json", "--now", NOW_ARG],
        ["subscribers", "list", "--json"],
        ["subscribers", "export"],
    ):
        result = invoke(runner, "--site", root, *command)
        assert_clean_exit(result, 0)
        outputs.append(result.output)
    assert all(secret not in out for out in outputs)
    assert secret not in (root / "feedpub.toml").read_text()
    messages = list((site.state_dir / "outbox").rglob("*.eml"))
    assert len(messages) == 3  # Ann, Bob and the test copy
    for path in messages:
        assert secret.encode() not in path.read_bytes()
    for path in site.state_dir.glob("state.db*"):
        assert secret.encode() not in path.read_bytes()


# -- feedpub.web:app ------------------------------------------------------------------------------


@pytest.fixture
def lazy_app() -> Iterator[Any]:
    feedpub.web.app.app = None
    yield feedpub.web.app
    feedpub.web.app.app = None


def test_the_module_app_serves_the_site_named_by_feedpub_site(
    site: Site, lazy_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDPUB_SITE", str(site.root))
    token = token_for(site, ANN)
    assert call(lazy_app, query=q(token)).status == 200
    assert lazy_app.app is not None and lazy_app.app.site.root == site.root
    assert call(lazy_app, query=q(forged(site, "other-secret"))).status == 400
    assert call(lazy_app, "POST", query=q(token), body=ONE_CLICK).status == 200
    assert statuses(site) == {ANN: "unsubscribed", BOB: "active"}


def test_the_module_app_imports_without_a_site(
    tmp_path: Path, lazy_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDPUB_SITE", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError):
        call(lazy_app, query="t=x")
    assert lazy_app.app is None  # the next request tries again


# -- feedpub serve ---------------------------------------------------------------------------


def read_line(stream: Any, seconds: float = 20) -> str:
    """One line from a child's pipe, waiting at most ``seconds``."""
    selector = selectors.DefaultSelector()
    selector.register(stream, selectors.EVENT_READ)
    data = b""
    deadline = time.monotonic() + seconds
    try:
        while b"\n" not in data:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                raise AssertionError(f"no line within {seconds} s; got {data!r}")
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:
                raise AssertionError(f"the stream ended; got {data!r}")
            data += chunk
    finally:
        selector.close()
    return data.decode()


def spawn_serve(site: Site, *options: str) -> subprocess.Popen[bytes]:
    """`feedpub serve --port 0` (with ``options``) as a child process, its output piped."""
    return subprocess.Popen(
        [str(FEEDPUB), "--site", str(site.root), "serve", *options, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=CHILD_ENV,
    )


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_stops_on_a_signal_even_started_with_interrupts_ignored(
    site: Site, stop: signal.Signals
) -> None:
    # A shell script's `feedpub serve &` starts it with SIGINT ignored, and systemd or docker
    # stop it with SIGTERM: either still finishes the requests under way and stops.
    server = subprocess.Popen(
        [str(FEEDPUB), "--site", str(site.root), "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=CHILD_ENV,
        preexec_fn=_ignore_interrupts,
    )
    try:
        assert read_line(server.stdout).startswith("Serving http://127.0.0.1:")
        server.send_signal(stop)
        _, err = server.communicate(timeout=20)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 0, err.decode()
    assert b"Traceback" not in err


def test_serve(site: Site) -> None:
    token = token_for(site, ANN)
    server = spawn_serve(site)
    try:
        line = read_line(server.stdout)
        assert line.startswith("Serving http://127.0.0.1:")
        assert line.endswith("/ (Ctrl-C stops)\n")
        url = line.split()[1] + "unsubscribe"
        port = urlsplit(url).port
        assert port and port > 0

        with urllib.request.urlopen(f"{url}?{q(token)}", timeout=10) as page:
            assert page.status == 200
            assert page.headers["Cache-Control"] == "no-store"
            assert "<button" in page.read().decode()

        with pytest.raises(urllib.error.HTTPError) as bad:
            urllib.request.urlopen(f"{url}?{q(forged(site, 'changed-mac'))}", timeout=10)
        assert bad.value.code == 400
        assert "not valid" in bad.value.read().decode()
        bad.value.close()

        one_click = urllib.request.Request(
            f"{url}?{q(token)}", data=ONE_CLICK, headers={"Content-Type": FORM}, method="POST"
        )
        with urllib.request.urlopen(one_click, timeout=10) as done:
            assert done.status == 200
            assert "You are unsubscribed" in done.read().decode()
        assert statuses(site) == {ANN: "unsubscribed", BOB: "active"}

        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/other", timeout=10)
        assert missing.value.code == 404
        missing.value.close()
    finally:
        server.send_signal(signal.SIGINT)
        try:
            out, err = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()
            raise
    assert server.returncode == 0, err.decode()
    log = err.decode()
    assert "Traceback" not in log
    assert [entry.split("] ", 1)[1] for entry in log.splitlines()] == [
        "GET 200",
        "GET 400",
        "POST 200",
        "GET 404",
    ]
    assert token not in log
    assert token.split(".")[0] not in log and token.split(".")[1] not in log
    assert ANN not in log
    assert out == b""


CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def await_continue(client: socket.socket) -> None:
    """Block until the server answers ``Expect: 100-continue``: it has then accepted the
    connection, read the headers and holds the request open, waiting for the body."""
    answer = b""
    while not answer.endswith(b"\r\n\r\n"):
        chunk = client.recv(1)
        assert chunk, f"the server closed the connection; got {answer!r}"
        answer += chunk
    assert answer == CONTINUE


def half_sent(token: str) -> bytes:
    """The headers of a one-click POST that asks for 100 Continue before its body is sent.

    Headers only: waitress answers 100 Continue in the middle of reading what it received, so a
    Ctrl-C landing just after the answer would cut off any body bytes sent with the headers."""
    return (
        f"POST /unsubscribe?{q(token)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: {FORM}\r\nContent-Length: {len(ONE_CLICK)}\r\n"
        "Expect: 100-continue\r\n\r\n"
    ).encode()


def test_ctrl_c_during_a_request_finishes_it_and_stops(site: Site) -> None:
    """wsgiref's handler catches every exception, KeyboardInterrupt too: Ctrl-C arriving while
    a request was answered used to give that request a 500 and leave the server running."""
    token = token_for(site, ANN)
    server = spawn_serve(site)
    try:
        port = urlsplit(read_line(server.stdout).split()[1]).port
        assert port
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(half_sent(token))
            await_continue(client)
            server.send_signal(signal.SIGINT)  # while it waits for the body
            client.sendall(ONE_CLICK)
            answer = b""
            while chunk := client.recv(65536):
                answer += chunk
        # Any number of interim 1xx answers may come before the final one (RFC 9110 15.2), and
        # waitress may say 100 Continue again once the body is in.
        while answer.startswith(CONTINUE):
            answer = answer.removeprefix(CONTINUE)
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer[:200]
        assert b"You are unsubscribed" in answer
        assert server.wait(timeout=20) == 0
    finally:
        if server.poll() is None:
            server.kill()
        _, err = server.communicate(timeout=20)
    assert "Traceback" not in err.decode()
    assert statuses(site) == {ANN: "unsubscribed", BOB: "active"}


def test_serve_on_a_port_in_use(runner: CliRunner, site: Site) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke(runner, "--site", site.root, "serve", "--port", str(port))
    assert_clean_exit(result, 1)
    assert result.stderr == f"Error: cannot listen on 127.0.0.1:{port}: Address already in use\n"


def test_serve_with_a_bad_port(runner: CliRunner, site: Site) -> None:
    result = invoke(runner, "--site", site.root, "serve", "--port", "70000")
    assert_clean_exit(result, 2)
    assert "Invalid value for '--port': 70000 is not in the range 0<=x<=65535" in result.stderr


def test_without_the_secret_no_link_works_and_none_is_made(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FEEDPUB_SECRET", raising=False)
    token = token_for(site, ANN)
    (site.state_dir / "secret").unlink()
    response = call(UnsubscribeApp(site), "POST", query=q(token), body=ONE_CLICK)
    assert response.status == 400
    assert not (site.state_dir / "secret").exists()
    assert statuses(site)[ANN] == "active"


# -- feedpub serve under load and exposure ---------------------------------------------------

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@pytest.fixture
def served(site: Site) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """`feedpub serve --port 0` as a child process: (port, process); stopped with Ctrl-C."""
    server = spawn_serve(site)
    try:
        port = urlsplit(read_line(server.stdout).split()[1]).port
        assert port
        yield port, server
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
        try:
            server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()


def test_a_half_sent_request_does_not_block_the_others(
    site: Site, served: tuple[int, subprocess.Popen[bytes]]
) -> None:
    """wsgiref served one request at a time and waited for ever on a socket that sent half a
    request: every other reader waited with it."""
    port, _ = served
    token = token_for(site, ANN)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
        slow.sendall(half_sent(token))  # and no body, for as long as it stays open
        await_continue(slow)
        started = time.monotonic()
        for _ in range(3):
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/unsubscribe?{q(token)}", timeout=5
            ) as page:
                assert page.status == 200
        assert time.monotonic() - started < 5


def test_a_connection_that_stays_silent_is_closed_after_the_channel_timeout(site: Site) -> None:
    server = feedpub.delivery.server.make_server(site, "127.0.0.1", 0, channel_timeout=1)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=15) as slow:
            slow.sendall(b"POST /unsubscribe HTTP/1.1\r\nHost: x\r\n")
            started = time.monotonic()
            assert slow.recv(100) == b""  # closed by the server, not by our own timeout
            assert time.monotonic() - started < 10
    finally:
        server.stop()
        thread.join(timeout=20)
    assert not thread.is_alive()


def test_many_requests_at_once_are_answered_by_several_threads(
    site: Site, served: tuple[int, subprocess.Popen[bytes]]
) -> None:
    port, _ = served
    token = token_for(site, ANN)
    results: list[int] = []

    def fetch() -> None:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/unsubscribe?{q(token)}", timeout=10
        ) as page:
            results.append(page.status)

    workers = [threading.Thread(target=fetch) for _ in range(20)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert results == [200] * 20
    assert feedpub.delivery.server.THREADS > 1


def exchange(port: int, request: bytes) -> bytes:
    """``request`` sent to 127.0.0.1:``port``, and all it answered until it closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as client:
        client.sendall(request)
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    return answer


TOO_LARGE = {
    # Content-Length over waitress's limit: refused on the headers, the body never read.
    "declared": (
        "POST /unsubscribe HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: {FORM}\r\nContent-Length: 5000000\r\n\r\n"
    ).encode(),
    # Chunked, no length said: refused once waitress has counted its limit of it, 1,000,000
    # bytes, framing included; exactly that is sent, so that nothing is left unread (a close
    # with bytes unread is a reset, which may reach the client before the answer).
    "chunked": (
        "POST /subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: {FORM}\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    + (b"".join(b"10000\r\n" + b"x" * 0x10000 + b"\r\n" for _ in range(15)) + b"10000\r\n")
    .ljust(1_000_000, b"x"),
}


@pytest.mark.parametrize("how", TOO_LARGE)
def test_a_body_over_waitresss_limit_is_the_sites_413_page(
    site: Site, served: tuple[int, subprocess.Popen[bytes]], how: str
) -> None:
    # #15's note, not done 3: waitress answered these itself, in plain text.
    port, _ = served

    answer = exchange(port, TOO_LARGE[how])

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), answer[:300]
    headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
    assert headers["Content-Type"].startswith("text/html")
    assert headers["Connection"] == "close"  # the rest of the body is never read
    for name, value in SECURITY_HEADERS.items():
        assert headers[name] == value
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    page = body.decode()
    assert "Too large" in page and "<html" in page
    assert f'href="{site.site.url}atom.xml"' in page  # the site's own footer
    assert "waitress" not in answer.decode("latin-1").lower()
    assert statuses(site) == {ANN: "active", BOB: "active"}
    # The server goes on answering.
    again = exchange(port, b"GET /unsubscribe?t=x HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
    assert again.startswith(b"HTTP/1.0 400 ")


@pytest.mark.parametrize(
    ("path", "status"),
    [("/unsubscribe?t=x", 400), ("/other", 404), ("/unsubscribe?t=good", 200)],
    ids=["bad-token", "missing", "good"],
)
def test_every_response_forbids_framing_and_names_no_server_version(
    site: Site, served: tuple[int, subprocess.Popen[bytes]], path: str, status: int
) -> None:
    port, _ = served
    path = path.replace("good", token_for(site, ANN))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    head = answer.split(b"\r\n\r\n", 1)[0].decode()
    assert head.startswith(f"HTTP/1.0 {status} ")
    headers = dict(line.split(": ", 1) for line in head.split("\r\n")[1:])
    assert "Server" not in headers and "Via" not in headers
    assert "Python" not in head and "WSGIServer" not in head and "waitress" not in head
    for name, value in SECURITY_HEADERS.items():
        assert headers[name] == value
    policy = [part.strip() for part in headers["Content-Security-Policy"].split(";")]
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'none'" in policy


@pytest.mark.parametrize(
    ("host", "warned"),
    [("127.0.0.1", False), ("localhost", False), ("::1", False), ("0.0.0.0", True)],
)
def test_serving_beyond_loopback_warns_to_put_a_proxy_with_tls_in_front(
    site: Site, host: str, warned: bool
) -> None:
    server = spawn_serve(site, "--host", host)
    try:
        assert read_line(server.stdout).startswith("Serving http://")
    finally:
        server.send_signal(signal.SIGINT)
        try:
            _, err = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:  # fail, but leave no server running after the test
            server.kill()
            server.communicate()
            raise
    log = err.decode()
    assert server.returncode == 0, log
    assert "Traceback" not in log
    if warned:
        assert log.startswith(f"warning: --host {host} is reachable from other machines")
        assert "behind a reverse proxy that terminates TLS" in log
    else:
        assert "warning" not in log
