"""`feedpub preview`: the site built and served on 127.0.0.1, built again when a file changes,
the open page reloaded by itself (headless Chromium), a failed build shown in the page and the
page back after the next good one, the next issue at /_preview/issue, nothing outside public/
served, and the files in public/ as the build wrote them."""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import (
    CHILD_ENV,
    FEEDPUB,
    NOW,
    SETTINGS,
    MakeSite,
    article,
    assert_clean_exit,
    files_of,
    free_port,
    invoke,
    load,
    wait_until,
)
from test_signup_browser import browser
from watchfiles import Change

from feedpub.preview import ISSUE_PATH, Outcome, Preview, running, watched
from feedpub.store.state import State

NEWSLETTER = """
[newsletter]
name = "Ledger Weekly"
from = "Desk <desk@example.org>"
schedule = "manual"
"""
ARTICLES: dict[str, str | bytes] = {
    "a.md": article("Games tonight", "2026-11-20 09:00", body="The first draft of the story."),
}
PAGE = "/2026/11/a/"
MARK = b"feedpub preview"


@dataclass
class Served:
    root: Path
    port: int
    preview: Preview
    outcomes: list[Outcome]

    def get(self, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
        """The answer to ``path`` sent as it is (no client tidies ``..`` away)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path)
            answer = connection.getresponse()
            return answer.status, dict(answer.getheaders()), answer.read()
        finally:
            connection.close()

    def rebuilt(self, after: int) -> Callable[[], bool]:
        return lambda: self.preview.version > after


@pytest.fixture
def serve_preview(make_site: MakeSite) -> Iterator[Callable[..., Served]]:
    """serve_preview(articles, extra) -> the preview of a new site, served on a free port of
    127.0.0.1 in this process with its folders watched, at the fixed clock."""
    stops: list[Callable[[], None]] = []

    def start(
        articles: dict[str, str | bytes] = ARTICLES,
        extra: str = NEWSLETTER,
        settings: str = SETTINGS,
    ) -> Served:
        root = make_site(articles, settings=settings, extra=extra)
        port = free_port()
        outcomes: list[Outcome] = []
        context = running(root, "127.0.0.1", port, outcomes.append, clock=lambda site: NOW)
        preview, server = context.__enter__()
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()

        def stop() -> None:
            server.shutdown()
            thread.join()
            context.__exit__(None, None, None)

        stops.append(stop)
        return Served(root, port, preview, outcomes)

    yield start
    for stop in stops:
        stop()


def test_pages_are_served_with_the_reload_script_and_the_files_in_public_are_not_touched(
    serve_preview: Callable[..., Served],
) -> None:
    served = serve_preview()
    public = load(served.root).output_dir
    status, headers, body = served.get(PAGE)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"The first draft of the story." in body
    assert body.count(MARK) == 1 and body.index(MARK) < body.rindex(b"</body>")
    # The page's links to the site's own address lead to the preview's.
    assert b"https://news.example.org/" not in body
    written = (public / "2026/11/a/index.html").read_bytes()
    assert _unscripted(body) == written.replace(b"https://news.example.org/", b"/")
    assert all(MARK not in data for data in files_of(public).values())
    # A feed is served as it is, with no script.
    status, headers, body = served.get("/rss.xml")
    assert status == 200 and body == (public / "rss.xml").read_bytes()
    # A folder without its slash is sent to it; HEAD has the headers only.
    status, headers, _ = served.get(PAGE.rstrip("/"))
    assert (status, headers["Location"]) == (301, PAGE)
    status, headers, body = served.get(PAGE, "HEAD")
    assert (status, body) == (200, b"")


def test_a_change_to_the_settings_or_a_static_file_is_built_and_a_bad_setting_shown(
    serve_preview: Callable[..., Served],
) -> None:
    served = serve_preview()
    settings = served.root / "feedpub.toml"
    good = settings.read_text(encoding="utf-8")
    for text, seen in [
        (good.replace("Test Gazette", "Evening Gazette"), b"Evening Gazette"),
        (good + '\n[site]\ntitle = "twice"\n', b"feedpub.toml:"),
        (good, b"Test Gazette"),
    ]:
        before = served.preview.version
        settings.write_text(text, encoding="utf-8")
        wait_until(served.rebuilt(before))
        assert seen in served.get("/")[2]
    before = served.preview.version
    (served.root / "static").mkdir()
    (served.root / "static/note.txt").write_text("Added while previewing", encoding="utf-8")
    wait_until(served.rebuilt(before))
    assert served.get("/note.txt")[2] == b"Added while previewing"


@pytest.mark.parametrize(
    ("path", "kept"),
    [
        ("content/a.md", True),
        ("content/sub/b.md", True),
        ("templates/article.html", True),
        ("static/images/x.png", True),
        ("feedpub.toml", True),
        ("www/index.html", False),
        (".feedpub/state.db", False),
        (".feedpub/preview/issue-1.html", False),
        ("README.md", False),
        ("feedpub.toml.swp", False),
    ],
)
def test_only_the_sites_sources_call_for_a_build(
    make_site: MakeSite, path: str, kept: bool
) -> None:
    root = make_site(ARTICLES, extra='[feeds]\noutput = "www"\n')
    assert watched(load(root))(Change.modified, str(root / path)) is kept


def test_a_site_under_a_sub_path_is_previewed_under_it(
    serve_preview: Callable[..., Served],
) -> None:
    served = serve_preview(
        settings=SETTINGS.replace("https://news.example.org/", "https://club.example.org/paper/")
    )
    status, headers, _ = served.get("/")
    assert (status, headers["Location"]) == (301, "/paper/")
    status, _, body = served.get("/paper" + PAGE)
    assert status == 200 and b"The first draft of the story." in body
    assert b"https://club.example.org/" not in body and b'href="/paper/' in body
    assert served.get(PAGE)[0] == 404


def test_a_missing_file_is_the_sites_404_page_and_only_get_and_head_are_served(
    serve_preview: Callable[..., Served],
) -> None:
    served = serve_preview()
    status, _, body = served.get("/no/such/page/")
    assert status == 404
    assert (load(served.root).output_dir / "404.html").read_bytes()[:200] in body
    status, headers, _ = served.get("/", "POST")
    assert (status, headers["Allow"]) == (405, "GET, HEAD")


@pytest.mark.parametrize(
    "path",
    [
        "/../feedpub.toml",
        "/%2e%2e/feedpub.toml",
        "/%2E%2E/%2e%2e/etc/passwd",
        "/..%2ffeedpub.toml",
        "/2026/../../feedpub.toml",
        "/.feedpub-link/state.db",
        "/leak.toml",
        "/index.html%00.txt",
        "/" + "a" * 5000,
        "/" + "a/" * 3000,
    ],
    ids=[
        "dots",
        "encoded",
        "encoded-twice",
        "encoded-slash",
        "inside-out",
        "dir-link",
        "link",
        "nul",
        "long-name",
        "deep",
    ],
)
def test_nothing_outside_public_is_served(serve_preview: Callable[..., Served], path: str) -> None:
    served = serve_preview()
    public = load(served.root).output_dir
    # Links planted in public/ (as a static/ folder could carry) that lead out of it.
    (public / "leak.toml").symlink_to(served.root / "feedpub.toml")
    (public / ".feedpub-link").symlink_to(served.root / ".feedpub", target_is_directory=True)
    status, _, body = served.get(path)
    assert status == 404
    assert b"Test Gazette" not in body.split(b"<title>")[0]
    assert b"[site]" not in body and b"SQLite" not in body


@pytest.mark.parametrize(
    ("path", "text", "shown"),
    [
        (
            "content/a.md",
            "---\ntitle: Games tonight\ndate: <script>x</script>\n---\n\nBody.\n",
            "content/a.md:3: error: &#x27;date&#x27;: "
            "&#x27;&lt;script&gt;x&lt;/script&gt;&#x27; is not a date",
        ),
        (
            "templates/article.html",
            "{% if %}<b>broken</b>",
            "templates/article.html:1: error: template syntax:",
        ),
    ],
    ids=["front-matter", "template"],
)
def test_a_failed_build_shows_in_the_page_and_the_next_good_one_brings_it_back(
    serve_preview: Callable[..., Served], path: str, text: str, shown: str
) -> None:
    served = serve_preview()
    target = served.root / path
    target.parent.mkdir(exist_ok=True)
    before = served.preview.version
    target.write_text(text, encoding="utf-8")
    wait_until(served.rebuilt(before))
    status, _, body = served.get(PAGE)
    assert status == 500
    assert b"The build failed" in body and shown.encode() in body
    assert b"<script>x" not in body  # the error is escaped
    assert MARK in body
    # The output of the last good build is still there, untouched.
    kept = load(served.root).output_dir / PAGE[1:] / "index.html"
    assert b"The first draft" in kept.read_bytes()
    before = served.preview.version
    if path.startswith("templates"):
        target.unlink()
    else:
        target.write_text(article("Games tonight", body="Fixed and back."), encoding="utf-8")
    wait_until(served.rebuilt(before))
    status, _, body = served.get(PAGE)
    assert status == 200 and b"The build failed" not in body


def test_the_next_issue_is_at_preview_issue_and_nothing_is_recorded_or_sent(
    serve_preview: Callable[..., Served], runner: CliRunner
) -> None:
    served = serve_preview()
    status, _, body = served.get(ISSUE_PATH)
    assert status == 200
    assert b"Ledger Weekly" in body and b"Games tonight" in body
    # The digest `issue preview` writes, but for the script and the links to the site.
    shown = invoke(runner, "--site", served.root, "issue", "preview", "--now", NOW.isoformat())
    assert_clean_exit(shown, 0)
    written = Path(shown.output.splitlines()[0]).read_bytes()
    assert _unscripted(body) == written.replace(b"https://news.example.org/", b"/")
    state_dir = load(served.root).state_dir
    with State.open(state_dir) as state:
        assert state.issues.all() == []
    assert not (state_dir / "outbox").exists()
    # Once the article has gone out, the next issue has nothing: the page says so.
    made = invoke(runner, "--site", served.root, "issue", "new", "--now", NOW.isoformat())
    assert_clean_exit(made, 0)
    status, _, body = served.get(ISSUE_PATH)
    assert status == 200 and b"Nothing new" in body and b"No article is waiting" in body


def test_preview_issue_without_a_newsletter_says_there_is_none(
    serve_preview: Callable[..., Served],
) -> None:
    served = serve_preview(extra="")
    status, _, body = served.get(ISSUE_PATH)
    assert status == 404 and b"no [newsletter] section" in body


def test_the_open_page_shows_an_edit_by_itself_in_chromium(
    serve_preview: Callable[..., Served], tmp_path: Path
) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    served = serve_preview()
    driver = browser(tmp_path / "profile")

    def shows(text: str) -> None:
        # A page that reloads between finding its body and reading it leaves a stale element.
        WebDriverWait(
            driver, 30, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
        ).until(lambda d: text in d.find_element(By.TAG_NAME, "body").text)

    try:
        driver.get(f"http://127.0.0.1:{served.port}{PAGE}")
        assert "The first draft of the story." in driver.find_element(By.TAG_NAME, "body").text
        # Marked, to tell a page that reloaded itself from the one the test opened.
        driver.execute_script("window.openedByTest = true;")
        (served.root / "content/a.md").write_text(
            article("Games tonight", "2026-11-20 09:00", body="The story, rewritten."),
            encoding="utf-8",
        )
        shows("The story, rewritten.")
        assert driver.execute_script("return window.openedByTest === undefined;")
        # A bad edit: the error in the page; fixed: the page again.
        (served.root / "content/a.md").write_text("---\ntitle: [\n---\n", encoding="utf-8")
        shows("The build failed")
        shows("content/a.md:")
        (served.root / "content/a.md").write_text(
            article("Games tonight", "2026-11-20 09:00", body="Back again."), encoding="utf-8"
        )
        shows("Back again.")
    finally:
        driver.quit()


def test_a_port_in_use_is_a_clear_error(make_site: MakeSite, runner: CliRunner) -> None:
    root = make_site(ARTICLES)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke(runner, "--site", root, "preview", "--port", str(port))
    assert_clean_exit(result, 1)
    assert f"Error: cannot listen on 127.0.0.1:{port}: Address already in use" in result.output
    assert "--port" in result.output


@pytest.mark.parametrize("when", ["building", "serving"])
def test_ctrl_c_stops_the_preview_cleanly(make_site: MakeSite, tmp_path: Path, when: str) -> None:
    """Exit 0 and no traceback, whether Ctrl-C comes during the first build (the port is
    taken before it) or while the preview is serving."""
    root = make_site(ARTICLES)
    port = free_port()
    out, err = tmp_path / "preview.out", tmp_path / "preview.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [str(FEEDPUB), "--site", str(root), "preview", "--port", str(port)],
            stdout=stdout,
            stderr=stderr,
            env=CHILD_ENV,
        )
        try:
            wait_until(lambda: _listening(port), proc)
            if when == "serving":
                wait_until(lambda: "Previewing" in out.read_text(), proc)
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, err.read_text()
    assert "Traceback" not in err.read_text() and "Aborted" not in err.read_text(), err.read_text()
    if when == "serving":
        assert f"Previewing http://127.0.0.1:{port}/ (the next issue: " in out.read_text()


def test_a_host_other_machines_reach_is_warned_of(make_site: MakeSite, runner: CliRunner) -> None:
    """The warning `serve` gives; an address not of this machine (TEST-NET-1) is then an error
    that says so, as nothing listens there."""
    root = make_site(ARTICLES)
    result = invoke(runner, "--site", root, "preview", "--host", "192.0.2.1")
    assert_clean_exit(result, 1)
    assert "warning: --host 192.0.2.1 is reachable from other machines" in result.output
    assert "Error: cannot listen on 192.0.2.1:8000: Cannot assign requested address" in (
        result.output
    )


def _unscripted(page: bytes) -> bytes:
    """``page`` without the script the preview adds (it appears once)."""
    assert page.count(MARK) == 1
    start = page.index(b"<script>/* feedpub preview")
    end = page.index(b"</script>\n", start) + len(b"</script>\n")
    return page[:start] + page[end:]


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
