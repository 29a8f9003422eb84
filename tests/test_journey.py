"""A reader's whole journey, in headless Chromium driven by selenium through Debian's
chromedriver, against ``feedpub serve`` running as a child process, with every email caught by
an aiosmtpd relay on 127.0.0.1: sign up, confirm, the welcome, an issue, topics chosen on the
manage page, an issue with only those topics' articles, unsubscribe from the footer, forget.
Also sign-ups posted while a long send runs.

Nothing is downloaded: selenium is given the driver's path (so its driver manager never runs),
and Chromium resolves no name but 127.0.0.1."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    CHILD_ENV,
    FEEDPUB,
    TZ,
    MakeSite,
    Relay,
    article,
    free_port,
    load,
    parse,
    smtp_settings,
    subscribe,
    wait_until,
    write_articles,
)
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

from feedpub.store.state import State

CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM = Path("/usr/bin/chromium")
# The machine is shared with other work: waits are generous, and each is a poll with a deadline.
DEADLINE = 90.0
READER = "ada.reader@example.net"
READER_NAME = "Ada Reader"
TOPICS = {"Sports": ["sports", "athletics"], "Arts": ["arts"]}


def site_settings(port: int, relay_port: int, web: bool = True, extra: str = "") -> str:
    """feedpub.toml for a site whose web app is at http://127.0.0.1:``port``/ and whose mail
    goes to the relay. With ``web``, ``[web] url`` and ``[newsletter] topics`` are set;
    without, only ``[newsletter] unsubscribe_url`` (what a site before sign-ups has)."""
    base = f"http://127.0.0.1:{port}/"
    topics = ", ".join(
        f"{name} = [{', '.join(repr(t).replace(chr(39), chr(34)) for t in tags)}]"
        for name, tags in TOPICS.items()
    )
    return (
        '[site]\ntitle = "Journey Gazette"\nurl = "https://news.example.org/"\n'
        'language = "en"\ntimezone = "Europe/Berlin"\n'
        '\n[newsletter]\nname = "Journey Weekly"\n'
        'from = "Journey Gazette <news@news.example.org>"\nschedule = "manual"\n'
        + (f"topics = {{ {topics} }}\n" if web else f'unsubscribe_url = "{base}unsubscribe"\n')
        + extra
        + smtp_settings(relay_port)
        + (f'\n[web]\nurl = "{base}"\n' if web else "")
    )


# -- the web app as a child process ------------------------------------------------------------


@dataclass
class Served:
    """``feedpub serve`` running: its base URL and the process."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def serving(root: Path, port: int, log: Path) -> Iterator[Served]:
    """``feedpub serve --port PORT`` until the block ends; it must stop cleanly on SIGINT, with
    no traceback in its log. Its output goes to files: a pipe nobody reads would fill up and
    stall the server once it has logged enough requests."""
    out, err = log.with_suffix(".out"), log.with_suffix(".err")
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [str(FEEDPUB), "--site", str(root), "serve", "--port", str(port)],
            stdout=stdout,
            stderr=stderr,
            env=CHILD_ENV,
        )
    try:
        wait_until(lambda: b"Serving http://" in out.read_bytes(), process, DEADLINE)
        yield Served(f"http://127.0.0.1:{port}/", process, err)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    log_text = err.read_text(encoding="utf-8", errors="replace")
    assert process.returncode == 0, log_text[-3000:]
    assert "Traceback" not in log_text, log_text[-3000:]


def feedpub(root: Path, *args: str, timeout: float = 600) -> str:
    """Run a feedpub command as a child process; it must succeed. Its output."""
    done = subprocess.run(
        [str(FEEDPUB), "--site", str(root), *args],
        capture_output=True,
        text=True,
        env=CHILD_ENV,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"feedpub {' '.join(args)}: {done.stdout}{done.stderr}"
    assert "Traceback" not in done.stderr
    return done.stdout


def state_row(root: Path, query: str, *args: Any) -> tuple[Any, ...] | None:
    """One row read straight from the state file, as another process sees it."""
    db = sqlite3.connect(f"file:{root / '.feedpub' / 'state.db'}?mode=ro", uri=True, timeout=30)
    try:
        row = db.execute(query, args).fetchone()
    finally:
        db.close()
    return None if row is None else tuple(row)


def status_of(root: Path, address: str) -> str | None:
    row = state_row(root, "SELECT status FROM subscribers WHERE email = ?", address)
    return None if row is None else str(row[0])


# -- the browser --------------------------------------------------------------------------------


def chrome(profile: Path) -> webdriver.Chrome:
    """Headless Chromium under Debian's chromedriver; a missing one fails saying what to
    install. Only 127.0.0.1 resolves."""
    for path in (CHROMEDRIVER, CHROMIUM):
        if not path.is_file():
            pytest.fail(
                f"{path} is missing: the journey runs in headless Chromium under Debian's "
                f"chromedriver (apt-get install chromium chromium-driver)",
                pytrace=False,
            )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    # The console, to see any Content-Security-Policy refusal.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # A driver path given to the Service means selenium's driver manager never runs.
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(DEADLINE)
    return driver


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    driver = chrome(tmp_path / "chromium")
    try:
        yield driver
    finally:
        driver.quit()


def console_refusals(driver: webdriver.Chrome) -> list[str]:
    """What the console said about the Content-Security-Policy since the last call."""
    # get_log is untyped in selenium: each entry is a dict with the console's "message".
    entries: list[dict[str, Any]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    messages = [str(entry["message"]) for entry in entries]
    return [m for m in messages if "Content Security Policy" in m or "Refused" in m]


def page_text(driver: webdriver.Chrome) -> str:
    return str(driver.find_element(By.TAG_NAME, "body").text)


def wait_for_text(driver: webdriver.Chrome, pattern: str) -> None:
    """Wait until the page's text matches ``pattern`` (case-insensitive). The page may still
    be the one before a click, replaced as it is read: then it is read again."""

    def shown() -> bool:
        try:
            return re.search(pattern, page_text(driver), re.I) is not None
        except (StaleElementReferenceException, NoSuchElementException):
            return False

    wait_until(shown, timeout=DEADLINE)


def button(driver: webdriver.Chrome, pattern: str) -> WebElement:
    """The one button (or submit input) whose text or value matches ``pattern``."""
    found = [
        element
        for element in driver.find_elements(
            By.CSS_SELECTOR, "button, input[type=submit], input[type=button]"
        )
        if re.search(pattern, element.text or element.get_attribute("value") or "", re.I)
        and element.is_displayed()
    ]
    assert len(found) == 1, f"{len(found)} buttons match {pattern!r} on {driver.current_url}"
    return found[0]


def field(driver: webdriver.Chrome, name: str, kind: str = "") -> WebElement:
    """The visible input named ``name`` (or with that id, or of type ``kind``)."""
    selector = f"input[name={name}], input#{name}" + (f", input[type={kind}]" if kind else "")
    found = [e for e in driver.find_elements(By.CSS_SELECTOR, selector) if e.is_displayed()]
    assert found, f"no visible field {name!r} on {driver.current_url}"
    return found[0]


def checkbox(driver: webdriver.Chrome, topic: str) -> WebElement:
    """The checkbox of ``topic``: by its value, else by its label's text."""
    for element in driver.find_elements(By.CSS_SELECTOR, "input[type=checkbox]"):
        label = driver.execute_script(
            "return arguments[0].labels.length ? arguments[0].labels[0].textContent : ''", element
        )
        if element.get_attribute("value") == topic or topic in str(label):
            return element
    raise AssertionError(f"no checkbox for the topic {topic!r} on {driver.current_url}")


# -- mail ---------------------------------------------------------------------------------------


def mail_to(relay: Relay, address: str, count: int) -> list[EmailMessage]:
    """Wait until ``count`` messages have reached ``address``; all of them, oldest first."""

    def arrived() -> list[EmailMessage]:
        return [parse(raw) for rcpt, raw in relay.handler.received() if rcpt == address]

    wait_until(lambda: len(arrived()) >= count, timeout=DEADLINE)
    return arrived()


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, "the message has no text part"
    content = part.get_content()
    assert isinstance(content, str)
    return content


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None, "the message has no HTML part"
    content = part.get_content()
    assert isinstance(content, str)
    return content


def link(message: EmailMessage, base: str, path: str) -> str:
    """The one link to ``base + path + '?t=...'`` in the message's text part."""
    pattern = re.escape(base + path) + r"\?t=[A-Za-z0-9._~%-]+"
    found = sorted(set(re.findall(pattern, text_of(message))))
    assert len(found) == 1, f"{len(found)} links to /{path} in {message['Subject']!r}"
    return str(found[0])


# -- the newsletter side ------------------------------------------------------------------------


def stamp(hours_ago: float) -> str:
    """An article date a little before the real now (the web app runs on the real clock, so the
    whole journey does)."""
    return (datetime.now(TZ) - timedelta(hours=hours_ago)).strftime("%Y-%m-%d %H:%M")


def tagged(title: str, hours_ago: float, *tags: str) -> str:
    extra = {"tags": "[" + ", ".join(tags) + "]"} if tags else {}
    return article(title, stamp(hours_ago), body=f"The story of {title}.", **extra)


def send_issue(root: Path, articles: dict[str, str | bytes]) -> int:
    """Write ``articles``, make the next issue of them and send it. The issue's number."""
    write_articles(root, articles)
    feedpub(root, "issue", "new")
    row = state_row(root, "SELECT max(number) FROM issues")
    assert row is not None and row[0] is not None
    feedpub(root, "send")
    return int(row[0])


def issue_copy(relay: Relay, address: str, number: int) -> EmailMessage:
    """The copy of issue ``number`` that reached ``address`` (exactly one)."""
    copies = [
        m
        for m in mail_to(relay, address, 1)
        if m["List-Unsubscribe"] is not None and re.search(rf"#{number}\b", str(m["Subject"]))
    ]
    assert len(copies) == 1, f"{len(copies)} copies of issue {number} reached {address}"
    return copies[0]


# -- the journey, step by step ------------------------------------------------------------------


@contextmanager
def step(name: str, driver: webdriver.Chrome | None = None) -> Iterator[None]:
    """A failure inside says which step of the journey failed, and where the browser was."""
    try:
        yield
    except (AssertionError, WebDriverException) as exc:
        where = ""
        if driver is not None:
            with suppress(WebDriverException):
                where = f"\n  at {driver.current_url}:\n{page_text(driver)[:1500]}"
        raise AssertionError(f"journey step {name!r} failed: {exc}{where}") from exc


Step = Callable[[], None]


class Journey:
    """One reader's way through the site, each step a method that checks what it should have
    done: in the browser, in the mail that reached the relay, and in the state file."""

    def __init__(self, root: Path, served: Served, relay: Relay, driver: webdriver.Chrome) -> None:
        self.root = root
        self.base = served.url
        self.relay = relay
        self.driver = driver
        self.mail = 0  # messages that reached READER so far
        self.issue: EmailMessage | None = None

    def arrived(self) -> EmailMessage:
        """The next message to reach READER."""
        self.mail += 1
        return mail_to(self.relay, READER, self.mail)[self.mail - 1]

    def sign_up(self) -> None:
        self.driver.get(self.base + "subscribe")
        assert self.driver.title, "the sign-up page has no title"
        field(self.driver, "email", "email").send_keys(READER)
        field(self.driver, "name").send_keys(READER_NAME)
        button(self.driver, r"subscribe|sign up|join").click()
        wait_for_text(self.driver, r"inbox|check your (e-?mail|mail)")
        row = state_row(
            self.root, "SELECT status, source, name FROM subscribers WHERE email = ?", READER
        )
        assert row == ("pending", "form", READER_NAME), row

    def confirmation_arrives(self) -> str:
        message = self.arrived()
        assert message["Auto-Submitted"] == "auto-generated", message["Auto-Submitted"]
        # The name is never put in a confirmation: spam is sent through name fields.
        assert READER_NAME not in message.as_string()
        assert READER_NAME not in text_of(message) + html_of(message)
        return link(message, self.base, "confirm")

    def confirm(self, url: str) -> None:
        console_refusals(self.driver)  # what came before is not this page's
        self.driver.get(url)
        # The page's one script confirms with no click, under a policy that allows only it.
        wait_until(lambda: status_of(self.root, READER) == "active", timeout=DEADLINE)
        wait_for_text(self.driver, r"confirmed|welcome|you are subscribed|you're subscribed")
        assert console_refusals(self.driver) == []
        row = state_row(
            self.root, "SELECT joined, confirmed FROM subscribers WHERE email = ?", READER
        )
        assert row is not None and row[0] and row[1], row

    def welcome_arrives(self, latest: int) -> None:
        message = self.arrived()
        assert "confirm?t=" not in text_of(message)
        assert f"https://news.example.org/issues/{latest}/" in text_of(message)

    def issue_arrives(self, number: int, titles: list[str], absent: list[str]) -> None:
        message = issue_copy(self.relay, READER, number)
        self.mail += 1
        text = text_of(message)
        for title in titles:
            assert title in text, f"{title!r} is missing from issue {number}"
        for title in absent:
            assert title not in text, f"{title!r} should not be in issue {number}"
        row = state_row(
            self.root,
            "SELECT d.status FROM deliveries d JOIN subscribers s ON s.id = d.subscriber"
            " WHERE d.issue = ? AND s.email = ?",
            number,
            READER,
        )
        assert row == ("sent",), row
        self.issue = message

    def choose_topics(self, topics: list[str]) -> None:
        assert self.issue is not None
        self.driver.get(link(self.issue, self.base, "manage"))
        for name in TOPICS:
            box = checkbox(self.driver, name)
            if box.is_selected() != (name in topics):
                box.click()
        topics_form = checkbox(self.driver, topics[0]).find_element(By.XPATH, "ancestor::form")
        submit = topics_form.find_elements(By.CSS_SELECTOR, "button, input[type=submit]")
        assert submit, "the topics form has no button"
        submit[0].click()
        wait_until(
            lambda: (
                state_row(self.root, "SELECT topics FROM subscribers WHERE email = ?", READER)
                == (str(topics).replace("'", '"'),)
            ),
            timeout=DEADLINE,
        )

    def unsubscribe_from_footer(self) -> None:
        assert self.issue is not None
        self.driver.get(link(self.issue, self.base, "unsubscribe"))
        assert status_of(self.root, READER) == "active", "opening the link changed something"
        button(self.driver, r"unsubscribe").click()
        wait_for_text(self.driver, r"unsubscribed")
        assert status_of(self.root, READER) == "unsubscribed"

    def forget(self) -> None:
        assert self.issue is not None
        self.driver.get(link(self.issue, self.base, "manage"))
        press = button(self.driver, r"forget|erase")
        # Erasing everything is asked for twice over: the box that says so must be ticked.
        for box in press.find_element(By.XPATH, "ancestor::form").find_elements(
            By.CSS_SELECTOR, "input[type=checkbox]"
        ):
            if not box.is_selected():
                box.click()
        press.click()
        wait_until(lambda: status_of(self.root, READER) is None, timeout=DEADLINE)
        wait_for_text(self.driver, r"forgotten|erased|deleted")
        row = state_row(
            self.root,
            "SELECT count(*) FROM subscribers WHERE status = 'forgotten' AND email = ''",
        )
        assert row is not None and row[0] == 1, row


def test_a_subscriber_of_today_gets_an_issue_and_unsubscribes_from_its_footer(
    make_site: MakeSite,
    start_relay: Callable[..., Relay],
    browser: webdriver.Chrome,
    tmp_path: Path,
) -> None:
    """The harness on its own: a site configured as before sign-ups (only
    [newsletter] unsubscribe_url), a subscriber the editor added, an issue through the relay,
    and the footer's unsubscribe link followed in Chromium: the page changes nothing until its
    button is pressed."""
    relay = start_relay()
    port = free_port()
    root = make_site(settings=site_settings(port, relay.port, web=False))
    feedpub(root, "subscribers", "add", READER, "--name", READER_NAME)
    with serving(root, port, tmp_path / "serve") as served:
        journey = Journey(root, served, relay, browser)
        with step("the issue reaches the reader"):
            number = send_issue(root, {"one.md": tagged("Harness news", 1)})
            journey.issue_arrives(number, ["Harness news"], [])
        with step("unsubscribe from the footer", browser):
            journey.unsubscribe_from_footer()


def test_a_readers_whole_journey(
    make_site: MakeSite,
    start_relay: Callable[..., Relay],
    browser: webdriver.Chrome,
    tmp_path: Path,
) -> None:
    """Sign up on /subscribe, confirm from the email's link (the page's script posts the form,
    under its Content-Security-Policy), the welcome with the latest issue's link, an issue, topics
    chosen on the manage page, an issue with only those topics' articles, unsubscribe from its
    footer, forget."""
    relay = start_relay()
    port = free_port()
    root = make_site(settings=site_settings(port, relay.port))
    with step("0 an editor on the list and issue 1 sent, before the reader comes"):
        feedpub(root, "subscribers", "add", "editor@example.net", "--name", "Editor")
        first = send_issue(root, {"first.md": tagged("Before you came", 6)})
    with serving(root, port, tmp_path / "serve") as served:
        journey = Journey(root, served, relay, browser)
        with step("1 sign up on /subscribe", browser):
            journey.sign_up()
        with step("2 the confirmation arrives"):
            confirm = journey.confirmation_arrives()
        with step("3 confirm from the link", browser):
            journey.confirm(confirm)
        with step("4 the welcome arrives"):
            journey.welcome_arrives(first)
        with step("5 the next issue reaches the reader"):
            second = send_issue(
                root,
                {
                    "match.md": tagged("Cup final tonight", 3, "sports"),
                    "gallery.md": tagged("Gallery opens", 3, "arts"),
                    "council.md": tagged("Council meets", 3),
                },
            )
            journey.issue_arrives(
                second, ["Cup final tonight", "Gallery opens", "Council meets"], []
            )
        with step("6 choose topics on the manage page", browser):
            journey.choose_topics(["Sports"])
        with step("7 the next issue carries only those topics' articles"):
            third = send_issue(
                root,
                {
                    "relay.md": tagged("Relay record", 2, "athletics"),
                    "opera.md": tagged("Opera season", 2, "arts"),
                },
            )
            journey.issue_arrives(third, ["Relay record"], ["Opera season"])
            row = state_row(
                root,
                "SELECT d.articles FROM deliveries d JOIN subscribers s ON s.id = d.subscriber"
                " WHERE d.issue = ? AND s.email = ?",
                third,
                READER,
            )
            assert row is not None and row[0] not in ("", None), row
        with step("8 unsubscribe from the footer", browser):
            journey.unsubscribe_from_footer()
        with step("9 forget", browser):
            journey.forget()
        # The editor, who chose nothing, had everything.
        editor = [
            parse(raw) for rcpt, raw in relay.handler.received() if rcpt == "editor@example.net"
        ]
        assert len(editor) == 3
        assert "Opera season" in text_of(editor[-1]) and "Relay record" in text_of(editor[-1])


# -- sign-ups during a send ---------------------------------------------------------------------

SEND_SIZE = 2_000
SIGNUPS = 50


def post_sign_up(base: str, address: str) -> tuple[int, bytes]:
    """POST /subscribe as the static site's form does: the status and the page."""
    body = urllib.parse.urlencode({"email": address, "name": "New Reader"}).encode()
    request = urllib.request.Request(
        base + "subscribe",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=DEADLINE) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


@pytest.mark.slow
def test_sign_ups_during_a_send_are_all_recorded_and_the_send_counts_exactly(
    make_site: MakeSite, start_relay: Callable[..., Relay], tmp_path: Path
) -> None:
    """Fifty sign-ups posted to the web app while ``feedpub send`` delivers an issue to 2,000
    readers: each is answered and recorded (pending, from the form, its confirmation sent), the
    send finishes with exactly 2,000 sent, every reader has one copy, and no one who signed up
    during the send gets the issue (they have not confirmed)."""
    relay = start_relay()
    relay.handler.delay = 0.005  # the send lasts long enough for every sign-up to land in it
    port = free_port()
    root = make_site(
        settings=site_settings(port, relay.port, extra="").replace(
            "[web]\n", "[web]\nsignups_per_hour = 1000\n"
        )
    )
    people = [(f"reader{i:04}@example.net", f"Reader {i}") for i in range(SEND_SIZE)]
    subscribe(root, people)
    write_articles(root, {"big.md": tagged("The big issue", 1)})
    feedpub(root, "issue", "new")
    with serving(root, port, tmp_path / "serve") as served:
        sender = subprocess.Popen(
            [str(FEEDPUB), "--site", str(root), "send"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=CHILD_ENV,
        )
        try:
            wait_until(lambda: relay.handler.count() >= 100, sender, DEADLINE)
            addresses = [f"signup{i:02}@example.org" for i in range(SIGNUPS)]
            with ThreadPoolExecutor(max_workers=10) as pool:
                answers = list(pool.map(lambda a: post_sign_up(served.url, a), addresses))
            assert sender.poll() is None, "the send ended before the sign-ups were all in"
            out, err = sender.communicate(timeout=600)
        finally:
            if sender.poll() is None:
                sender.kill()
                sender.communicate()
        assert sender.returncode == 0, (out + err).decode()
        assert [status for status, _ in answers] == [200] * SIGNUPS
        assert len({page for _, page in answers}) == 1  # the same page for every address
        # Their confirmations leave from the web process, whatever the send is doing.
        wait_until(
            lambda: sum(relay.handler.copies()[a] for a in addresses) == SIGNUPS,
            timeout=DEADLINE,
        )
    with State.open(load(root).state_dir) as state:
        assert state.issues.counts(1)["sent"] == SEND_SIZE
    copies = relay.handler.copies()
    assert {a: copies[a] for a, _ in people} == {a: 1 for a, _ in people}
    assert {a: copies[a] for a in addresses} == {a: 1 for a in addresses}  # the confirmation
    for address in addresses:
        row = state_row(root, "SELECT status, source FROM subscribers WHERE email = ?", address)
        assert row == ("pending", "form"), (address, row)
    assert b"Issue 1: 2000 sent" in out
