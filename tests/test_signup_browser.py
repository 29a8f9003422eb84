"""The sign-up form posted by a real browser (headless Chromium, driven by Debian's
chromedriver through selenium) from a page of another site to a running `feedpub serve`: the
sign-up lands, as a pending subscriber with a confirmation email queued."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from helpers import CHILD_ENV, FEEDPUB, MakeSite, article, free_port, load, wait_until

from feedpub.delivery.subscribers import normalize
from feedpub.site.form import EMAIL, NAME, TOPICS, snippet
from feedpub.store.state import State

ARTICLES: dict[str, str | bytes] = {
    "a.md": article("Games tonight", "2026-11-20 09:00", tags='["sports"]'),
    "b.md": article("A concert", "2026-11-21 09:00", tags='["arts"]'),
}
NEWSLETTER = """
[newsletter]
name = "Ledger Weekly"
from = "Desk <desk@example.org>"
schedule = "manual"
topics = { Sports = ["sports"], Arts = ["arts"] }
"""

CHROMEDRIVER = Path("/usr/bin/chromedriver")
# The page around the form is in another character set: the form posts UTF-8 all the same.
EMBEDDING = """<!DOCTYPE html>
<html lang="en"><head><meta charset="windows-1252"><title>Another site</title></head>
<body><h1>Another site</h1>
{form}
</body></html>
"""


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def other_origin(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A static web server on 127.0.0.1, for a page of another origin: (its folder, its port)."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def serving(make_site: MakeSite, tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """`feedpub serve` as a child process on a free port of 127.0.0.1, its [web] url that
    address: (the site folder, the port). Its output goes to files, shown if it fails."""
    port = free_port()
    web = f'\n[web]\nurl = "http://127.0.0.1:{port}/"\ntrusted_proxy = ""\n'
    root = make_site(ARTICLES, extra=NEWSLETTER + web)
    out, err = tmp_path / "serve.out", tmp_path / "serve.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [str(FEEDPUB), "--site", str(root), "serve", "--port", str(port)],
            stdout=stdout,
            stderr=stderr,
            env=CHILD_ENV,
        )
    try:
        wait_until(lambda: _listening(port), proc)
        yield root, port
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode == 0, err.read_text(encoding="utf-8", errors="replace")


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def browser(profile: Path) -> Any:
    """Headless Chromium driven by Debian's chromedriver: given its path, selenium never runs
    its manager (which would download one). Only 127.0.0.1 resolves."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    found = shutil.which("chromium")
    if found is None or not CHROMEDRIVER.is_file():
        pytest.fail(
            "chromium and chromedriver are not installed; install Debian's: "
            "apt-get install chromium chromium-driver",
            pytrace=False,
        )
    options = webdriver.ChromeOptions()
    options.binary_location = found
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))


def test_the_form_posted_by_chromium_from_another_origin_lands(
    other_origin: tuple[Path, int], serving: tuple[Path, int], tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    folder, page_port = other_origin
    root, app_port = serving
    form = snippet(load(root))
    (folder / "page.html").write_bytes(EMBEDDING.format(form=form).encode("cp1252"))
    driver = browser(tmp_path / "profile")
    try:
        # "localhost" and "127.0.0.1" are other sites, not only other origins.
        driver.get(f"http://localhost:{page_port}/page.html")
        driver.find_element(By.NAME, EMAIL).send_keys("Reader@Example.org")
        driver.find_element(By.NAME, NAME).send_keys("Zoë Ångström")
        driver.find_element(By.CSS_SELECTOR, f'input[name="{TOPICS}"][value="Arts"]').click()
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_until(lambda: driver.current_url == f"http://127.0.0.1:{app_port}/subscribe")
        wait_until(lambda: "Check your inbox" in driver.page_source)
    finally:
        driver.quit()
    with State.open(load(root).state_dir) as state:
        person = state.subscribers.find(normalize("reader@example.org")[1])
        assert person is not None
        assert (person.status, person.source, person.name, person.topics) == (
            "pending",
            "form",
            "Zoë Ångström",
            ("Arts",),
        )
        assert state.outgoing.count(person.id, "confirm") == 1
