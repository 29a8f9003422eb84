"""Sign-up, confirmation and the reader's own page: the web app called through Werkzeug's test
client (a real WSGI client) over a real state file, and two real `feedpub serve` processes
sharing one state for the limits."""

from __future__ import annotations

import json
import os
import selectors
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import lxml.html
import pytest
from helpers import ARTICLES, CHILD_ENV, FEEDPUB, NOW, MakeSite, examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client, TestResponse

from feedpub import config
from feedpub.config import Site
from feedpub.delivery import signup, tokens
from feedpub.delivery.messages import list_id
from feedpub.delivery.server import make_server
from feedpub.delivery.subscribers import Subscribers, normalize
from feedpub.delivery.tokens import load_secret, make_token
from feedpub.delivery.web import CONFIRM_SCRIPT, CONFIRM_SCRIPT_HASH, MAX_BODY, WebApp
from feedpub.store.state import State
from feedpub.store.subscribers import Subscriber

NEWSLETTER = """
[newsletter]
name = "Ledger Weekly"
from = "Test Gazette <news@news.example.org>"
schedule = "manual"
topics = { Sports = ["sports", "athletics"], Arts = ["arts"] }

[web]
url = "https://news.example.org/"
"""
FORM = "application/x-www-form-urlencoded"
ANN = "ann@example.org"
CLIENT = "192.0.2.10"


class Clock:
    """The app's clock, moved by the test."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Web:
    site: Site
    clock: Clock
    app: WebApp
    notified: list[int] = field(default_factory=list)

    @property
    def client(self) -> Client:
        return Client(self.app)

    def get(self, path: str, query: dict[str, str] | None = None, **kw: Any) -> TestResponse:
        return self.client.get(path, query_string=query or {}, environ_base=self.environ(), **kw)

    def head(self, path: str, query: dict[str, str] | None = None) -> TestResponse:
        return self.client.head(path, query_string=query or {}, environ_base=self.environ())

    def post(self, path: str, data: Any = None, client: str = CLIENT, **kw: Any) -> TestResponse:
        return self.client.post(path, data=data, environ_base=self.environ(client), **kw)

    @staticmethod
    def environ(client: str = CLIENT) -> dict[str, str]:
        return {"REMOTE_ADDR": client}

    def subscribe(self, email: str = ANN, client: str = CLIENT, **fields: Any) -> TestResponse:
        return self.post("/subscribe", {"email": email, **fields}, client=client)

    def secret(self) -> bytes:
        return load_secret(self.site.state_dir)

    def token(self, address: str, purpose: str, expires: datetime | None = None) -> str:
        found = self.find(address)
        assert found is not None
        if purpose in ("c", "a") and expires is None:
            expires = self.clock.now + signup.CONFIRM_LIFETIME
        extra = normalize(found.new_email)[1] if purpose == "a" else ""
        return tokens.make(
            self.secret(), list_id(self.site), purpose, found.token_key, expires, extra
        )

    def find(self, address: str) -> Subscriber | None:
        with State.open(self.site.state_dir) as state:
            return state.subscribers.find(normalize(address)[1])

    def outgoing(self) -> list[tuple[str, str, str]]:
        """(kind, the subscriber's address, target) of every queued mail, oldest first."""
        with State.open(self.site.state_dir) as state:
            rows = state.db.execute(
                "SELECT o.kind, s.email, o.target FROM outgoing o"
                " JOIN subscribers s ON s.id = o.subscriber ORDER BY o.id"
            ).fetchall()
        return [tuple(row) for row in rows]

    def snapshot(self) -> tuple[list[Any], list[Any]]:
        """Every subscriber row and every queued mail: what 'no change' is checked against."""
        with State.open(self.site.state_dir) as state:
            people = state.db.execute("SELECT * FROM subscribers ORDER BY id").fetchall()
            mail = state.db.execute("SELECT * FROM outgoing ORDER BY id").fetchall()
        return people, mail


@pytest.fixture
def web(make_site: MakeSite) -> Web:
    root = make_site(ARTICLES, extra=NEWSLETTER)
    site = config.load(root, env={})
    clock = Clock()
    notified: list[int] = []
    app = WebApp(site, clock=clock, notify=lambda: notified.append(1))
    return Web(site, clock, app, notified)


def page(response: TestResponse) -> Any:
    return lxml.html.fromstring(response.get_data(as_text=True))


def text(response: TestResponse) -> str:
    return " ".join(page(response).text_content().split())


def confirm_link(web: Web, address: str = ANN) -> str:
    return f"{web.site.web_url}confirm?{urlencode({'t': web.token(address, 'c')})}"


def path_of(link: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(link)
    query = dict(item.split("=", 1) for item in parts.query.split("&") if item)
    from urllib.parse import unquote

    return parts.path, {k: unquote(v) for k, v in query.items()}


# -- the sign-up page ------------------------------------------------------------------------


def test_the_sign_up_page_has_the_form(web: Web) -> None:
    response = web.get("/subscribe")
    assert response.status_code == 200
    tree = page(response)
    (form,) = tree.xpath("//main//form")
    assert form.get("method") == "post" and form.get("action") is None  # posts to itself
    names = form.xpath(".//input/@name")
    assert names == ["email", "name", "topics", "topics", "website"]
    assert form.xpath(".//input[@name='topics']/@value") == ["Sports", "Arts"]
    for input_id in ("email", "name", "website"):
        assert tree.xpath(f"//label[@for='{input_id}']"), input_id
    assert tree.xpath("//input[@name='website']/@tabindex") == ["-1"]
    # The site's look: its own header and navigation from base.html.
    assert tree.xpath("//header[@class='site']//a[@class='name']")[0].text == "Test Gazette"
    assert "script-src" not in response.headers["Content-Security-Policy"]


def test_a_sign_up_is_pending_with_its_consent_and_one_confirmation(web: Web) -> None:
    response = web.subscribe(ANN, name="Ann", topics=["Arts"])
    assert response.status_code == 200
    assert "Check your inbox" in text(response)
    found = web.find(ANN)
    assert found is not None
    assert (found.status, found.name, found.topics) == ("pending", "Ann", ("Arts",))
    assert (found.source, found.joined, found.confirmed) == ("form", NOW.isoformat(), None)
    assert found.ip == ""  # [web] record_ip is off
    assert web.outgoing() == [("confirm", ANN, "")]
    assert web.notified == [1]


def test_the_client_address_is_kept_only_with_record_ip(make_site: MakeSite) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER + "record_ip = true\n")
    site = config.load(root, env={})
    web = Web(site, Clock(), WebApp(site, clock=Clock()))
    assert web.subscribe(ANN).status_code == 200
    found = web.find(ANN)
    assert found is not None and found.ip == CLIENT


def test_the_honeypot_answers_the_same_and_records_nothing(web: Web) -> None:
    trapped = web.subscribe(ANN, website="http://spam.example")
    other = web.subscribe("bob@example.org")
    assert trapped.status_code == 200
    assert trapped.get_data() == other.get_data()
    assert web.find(ANN) is None
    assert web.outgoing() == [("confirm", "bob@example.org", "")]


def test_the_answer_is_byte_identical_whoever_the_address_is(web: Web) -> None:
    """New, pending, active, unsubscribed, bounced and forgotten addresses: one answer."""
    with State.open(web.site.state_dir) as state, state.transaction():
        people = Subscribers(state, web.secret())
        people.add("active@example.org", "", NOW)
        people.add("left@example.org", "", NOW)
        people.set_status("left@example.org", "unsubscribed", NOW)
        people.add("bounced@example.org", "", NOW)
        people.set_status("bounced@example.org", "bounced", NOW)
        people.add("gone@example.org", "", NOW)
        people.forget("gone@example.org", NOW)
    web.subscribe("pending@example.org")
    answers = {}
    for address in (
        "new@example.org",
        "pending@example.org",
        "active@example.org",
        "left@example.org",
        "bounced@example.org",
        "gone@example.org",
    ):
        web.clock.advance(hours=2)  # past the per-address limit
        response = web.subscribe(address)
        answers[address] = (response.status, sorted(response.headers.items()), response.get_data())
    first = answers["new@example.org"]
    assert first[0] == "200 OK"
    for address, answer in answers.items():
        assert answer == first, address


def test_an_active_address_gets_its_manage_link_not_a_confirmation(web: Web) -> None:
    with State.open(web.site.state_dir) as state, state.transaction():
        Subscribers(state, web.secret()).add(ANN, "", NOW)
    web.subscribe(ANN)
    assert web.outgoing() == [("already", ANN, "")]
    found = web.find(ANN)
    assert found is not None and found.status == "active"
    for _ in range(4):  # one an hour, three a week: a member's inbox is not flooded either
        web.clock.advance(minutes=61)
        web.subscribe(ANN)
    assert web.outgoing() == [("already", ANN, "")] * 3


# -- limits ----------------------------------------------------------------------------------


def test_one_confirmation_an_hour_and_three_while_pending(web: Web) -> None:
    for _ in range(5):
        assert web.subscribe(ANN).status_code == 200
    assert web.outgoing() == [("confirm", ANN, "")]  # one an hour, however often they post
    web.clock.advance(minutes=61)
    web.subscribe(ANN)
    web.clock.advance(minutes=61)
    web.subscribe(ANN)
    web.clock.advance(minutes=61)
    web.subscribe(ANN)  # a fourth while the first three wait: none
    assert web.outgoing() == [("confirm", ANN, "")] * 3
    web.clock.advance(days=7)  # the first links have expired
    web.subscribe(ANN)
    assert len(web.outgoing()) == 4


def test_sign_ups_per_client_an_hour(make_site: MakeSite) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER + "signups_per_hour = 3\n")
    site = config.load(root, env={})
    clock = Clock()
    web = Web(site, clock, WebApp(site, clock=clock))
    for n in range(3):
        assert web.subscribe(f"p{n}@example.org").status_code == 200
    refused = web.subscribe("p3@example.org")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "3600"
    assert "more than 3 sign-ups came from your network this hour" in text(refused)
    assert web.find("p3@example.org") is None
    assert web.subscribe("p3@example.org", client="198.51.100.7").status_code == 200
    clock.advance(minutes=61)
    assert web.subscribe("p4@example.org").status_code == 200
    with State.open(site.state_dir) as state:
        buckets = [row[0] for row in state.db.execute("SELECT bucket FROM limits")]
    assert all(CLIENT not in bucket for bucket in buckets)  # a keyed hash, not the address


# -- hostile and malformed fields ------------------------------------------------------------

HOSTILE = [
    ("missing-email", {"name": "Ann"}, 400, "the email address is missing"),
    ("empty-email", {"email": "   "}, 400, "the email address is missing"),
    ("not-an-address", {"email": "ann at example"}, 400, "this is not an email address"),
    (
        "header-injection",
        {"email": "ann@example.org\r\nBcc: all@example.org"},
        400,
        "this is not an email address",
    ),
    ("nul", {"email": "ann@example.org\x00"}, 400, "this is not an email address"),
    ("huge-email", {"email": "a" * 5000 + "@example.org"}, 400, "at most 320 characters"),
    ("two-emails", {"email": [ANN, "bob@example.org"]}, 400, "sent 'email' 2 times"),
    ("huge-name", {"email": ANN, "name": "N" * 101}, 400, "keep it to 100"),
    (
        "unknown-topic",
        {"email": ANN, "topics": ["Sports", "Politics"]},
        400,
        "there is no topic 'Politics'; choose among Sports, Arts",
    ),
    (
        "topic-markup",
        {"email": ANN, "topics": "<script>alert(1)</script>"},
        400,
        "there is no topic",
    ),
]


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [case[1:] for case in HOSTILE],
    ids=[case[0] for case in HOSTILE],
)
def test_a_bad_field_is_named_and_nothing_is_recorded(
    web: Web, fields: dict[str, Any], status: int, message: str
) -> None:
    response = web.post("/subscribe", fields)
    assert response.status_code == status
    body = response.get_data(as_text=True)
    assert message in text(response)
    assert "<script>alert" not in body
    assert "Traceback" not in body
    assert web.snapshot() == ([], [])
    # The form comes back, so the reader fixes the field and sends it again.
    assert page(response).xpath("//main//form//input[@aria-invalid='true']") or fields.get("topics")


def test_a_name_loses_its_control_characters(web: Web) -> None:
    web.subscribe(ANN, name="  Ann\x1b[31m \u202eEvil\x00  \r\nBcc: x ")
    found = web.find(ANN)
    assert found is not None and found.name == "Ann[31m Evil Bcc: x"


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"email=" + b"a" * MAX_BODY, {}, 413),
        (b"&".join(b"f%d=1" % n for n in range(40)) + b"&email=ann%40example.org", {}, 400),
        (b"email=ann%40example.org", {"Content-Length": "-1"}, 400),
        (b"email=\xff\xfe%40example.org", {}, 400),
        (b"\x00\x01\x02", {"Content-Type": "application/octet-stream"}, 400),
    ],
    ids=["over-the-body-limit", "too-many-fields", "negative-length", "not-utf8", "not-a-form"],
)
def test_a_bad_body_is_refused(web: Web, body: bytes, headers: dict[str, str], status: int) -> None:
    sent = {"Content-Type": FORM, **headers}
    environ = {"REMOTE_ADDR": CLIENT}
    if "Content-Length" in sent:
        environ["CONTENT_LENGTH"] = sent.pop("Content-Length")
    response = web.client.post("/subscribe", data=body, headers=sent, environ_overrides=environ)
    assert response.status_code == status
    assert "Traceback" not in response.get_data(as_text=True)
    assert page(response).xpath("//header[@class='site']")  # in the site's look
    assert web.snapshot() == ([], [])


def test_a_cross_origin_form_post_is_accepted(web: Web) -> None:
    """The static site's embedded form posts from another origin, without script: there is
    nothing a forged post can do but ask for a confirmation email, within the limits."""
    response = web.post(
        "/subscribe",
        {"email": ANN},
        headers={"Origin": "https://www.example.com", "Referer": "https://www.example.com/"},
    )
    assert response.status_code == 200
    assert web.outgoing() == [("confirm", ANN, "")]


# -- confirmation ----------------------------------------------------------------------------


def test_get_confirm_changes_nothing_and_a_scanner_confirms_nothing(web: Web) -> None:
    web.subscribe(ANN)
    before = web.snapshot()
    link = confirm_link(web)
    # A scanner fetches the link, every link of the page it gets, and HEADs them all.
    seen: set[str] = set()
    queue = [link]
    while queue:
        url = queue.pop()
        if url in seen or not url.startswith(web.site.web_url):
            continue
        seen.add(url)
        path, query = path_of(url)
        assert web.head(path, query).status_code in (200, 400, 404)
        response = web.get(path, query)
        if response.content_type.startswith("text/html"):
            queue += [urljoin(url, href) for href in page(response).xpath("//a/@href")]
    assert len(seen) >= 1
    assert web.snapshot() == before
    found = web.find(ANN)
    assert found is not None and found.status == "pending"


def test_the_confirm_page_posts_itself_with_its_one_hashed_script(web: Web) -> None:
    web.subscribe(ANN)
    path, query = path_of(confirm_link(web))
    response = web.get(path, query)
    assert response.status_code == 200
    tree = page(response)
    scripts = tree.xpath("//script")
    assert [s.text for s in scripts] == [CONFIRM_SCRIPT]
    (form,) = tree.xpath("//form[@id='confirm']")
    assert form.get("method") == "post"
    assert form.xpath(".//input[@name='t']/@value") == [query["t"]]
    import base64
    import hashlib

    digest = base64.b64encode(hashlib.sha256(scripts[0].text.encode()).digest()).decode()
    assert f"sha256-{digest}" == CONFIRM_SCRIPT_HASH
    policy = [p.strip() for p in response.headers["Content-Security-Policy"].split(";")]
    assert f"script-src '{CONFIRM_SCRIPT_HASH}'" in policy
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy


def test_confirming_activates_once_and_welcomes_once(web: Web) -> None:
    web.subscribe(ANN, topics=["Sports"])
    token = web.token(ANN, "c")
    web.clock.advance(minutes=5)
    response = web.post("/confirm", {"t": token})
    assert response.status_code == 200
    assert "You are subscribed" in text(response)
    found = web.find(ANN)
    assert found is not None
    assert (found.status, found.confirmed, found.topics) == (
        "active",
        web.clock.now.isoformat(),
        ("Sports",),
    )
    assert web.outgoing() == [("confirm", ANN, ""), ("welcome", ANN, "")]
    # The page links to the reader's own page.
    (manage,) = page(response).xpath("//main//a/@href")
    path, query = path_of(urljoin(web.site.web_url + "confirm", manage))
    assert web.get(path, query).status_code == 200
    again = web.post("/confirm", {"t": token})
    assert again.status_code == 200
    assert "You had confirmed already" in text(again)
    assert web.outgoing() == [("confirm", ANN, ""), ("welcome", ANN, "")]


def test_no_welcome_when_it_is_off(make_site: MakeSite) -> None:
    root = make_site(
        ARTICLES,
        extra=NEWSLETTER.replace('schedule = "manual"', 'schedule = "manual"\nwelcome = false'),
    )
    site = config.load(root, env={})
    web = Web(site, Clock(), WebApp(site, clock=Clock()))
    web.subscribe(ANN)
    assert web.post("/confirm", {"t": web.token(ANN, "c")}).status_code == 200
    assert web.outgoing() == [("confirm", ANN, "")]


def test_a_forgotten_address_signs_up_again_through_a_confirmation(web: Web) -> None:
    with State.open(web.site.state_dir) as state, state.transaction():
        people = Subscribers(state, web.secret())
        people.add(ANN, "", NOW)
        people.forget(ANN, NOW)
        suppressed = people.suppression_hash(normalize(ANN)[1])
        assert state.subscribers.is_suppressed(suppressed)
    web.subscribe(ANN)
    assert web.post("/confirm", {"t": web.token(ANN, "c")}).status_code == 200
    found = web.find(ANN)
    assert found is not None and found.status == "active"
    with State.open(web.site.state_dir) as state:
        assert not state.subscribers.is_suppressed(suppressed)


def test_an_expired_link_offers_a_fresh_one(web: Web) -> None:
    web.subscribe(ANN)
    token = web.token(ANN, "c")
    web.clock.advance(days=8)
    before = web.snapshot()
    for response in (web.get("/confirm", {"t": token}), web.post("/confirm", {"t": token})):
        assert response.status_code == 400
        assert "This link has expired" in text(response)
        assert page(response).xpath("//form//button[@value='resend']")
    assert web.snapshot() == before
    fresh = web.post("/confirm", {"t": token, "action": "resend"})
    assert fresh.status_code == 200
    assert web.outgoing() == [("confirm", ANN, "")] * 2
    found = web.find(ANN)
    assert found is not None and found.status == "pending"


def bad_tokens(web: Web, purpose: str) -> dict[str, str]:
    good = web.token(ANN, purpose)
    secret = web.secret()
    found = web.find(ANN)
    assert found is not None
    expires = web.clock.now + timedelta(days=7) if purpose in ("c", "a") else None
    return {
        "truncated": good[:-3],
        "changed-mac": good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        "other-site": tokens.make(
            b"another site", list_id(web.site), purpose, found.token_key, expires
        ),
        "other-list": tokens.make(secret, "other.example.org", purpose, found.token_key, expires),
        "other-purpose": tokens.make(secret, list_id(web.site), "u", found.token_key),
        "unknown-key": tokens.make(secret, list_id(web.site), purpose, "A" * 22, expires),
        "empty": "",
        "huge": "c." + "A" * 3000,  # over MAX_TOKEN, within the body limit
        "markup": '"><script>alert(1)</script>',
        "nul": "c.\x00.0.x",
    }


@pytest.mark.parametrize(
    "kind",
    [
        "truncated",
        "changed-mac",
        "other-site",
        "other-list",
        "other-purpose",
        "unknown-key",
        "empty",
        "huge",
        "markup",
        "nul",
    ],
)
@pytest.mark.parametrize("path", ["/confirm", "/manage"])
def test_a_bad_token_gets_400_and_changes_nothing(web: Web, kind: str, path: str) -> None:
    web.subscribe(ANN)
    if path == "/manage":
        web.post("/confirm", {"t": web.token(ANN, "c")})
    token = bad_tokens(web, "c" if path == "/confirm" else "m")[kind]
    before = web.snapshot()
    answers = [
        web.get(path, {"t": token}),
        web.post(path, {"t": token}),
        web.post(path, {"t": token, "action": "unsubscribe"}),
        web.post(path, {"t": token, "action": "forget", "sure": "yes"}),
        web.post(path, {"t": token, "action": "resend"}),
    ]
    for response in answers:
        assert response.status_code == 400, kind
        assert "<script>alert" not in response.get_data(as_text=True)
        assert "This link is not valid" in text(response)
    assert web.snapshot() == before


# -- the reader's own page -------------------------------------------------------------------


@pytest.fixture
def member(web: Web) -> str:
    """Ann, signed up and confirmed; her manage token."""
    web.subscribe(ANN, name="Ann")
    web.post("/confirm", {"t": web.token(ANN, "c")})
    return web.token(ANN, "m")


def test_the_manage_page_shows_the_subscription(web: Web, member: str) -> None:
    response = web.get("/manage", {"t": member})
    assert response.status_code == 200
    assert ANN in text(response)
    tree = page(response)
    actions = tree.xpath("//form//button[@name='action']/@value")
    assert actions == ["topics", "pause", "address", "unsubscribe", "download", "forget"]
    for form in tree.xpath("//main//form"):
        assert form.xpath(".//input[@name='t']/@value") == [member]


def test_topics_are_chosen_and_cleared(web: Web, member: str) -> None:
    response = web.post("/manage", {"t": member, "action": "topics", "topics": ["Arts"]})
    assert response.status_code == 200
    assert "Your topics are saved" in text(response)
    found = web.find(ANN)
    assert found is not None and found.topics == ("Arts",)
    assert page(response).xpath("//input[@name='topics' and @checked]/@value") == ["Arts"]
    web.post("/manage", {"t": member, "action": "topics"})
    found = web.find(ANN)
    assert found is not None and found.topics == ()
    bad = web.post("/manage", {"t": member, "action": "topics", "topics": "Nope"})
    assert bad.status_code == 400 and "there is no topic 'Nope'" in text(bad)


@pytest.mark.parametrize(
    ("until", "status", "message"),
    [
        ("2026-12-24", 200, "Paused"),
        ("", 200, "Resumed"),
        ("2026-11-27", 400, "the date has passed"),
        ("2026-02-30", 400, "the date is not one"),
        ("next week", 400, "the date is not one"),
        ("9" * 5000, 400, "the date is not one"),
        ("2030-01-01", 400, "more than 366 days away"),
    ],
    ids=["future", "empty", "today", "no-such-day", "words", "huge", "too-far"],
)
def test_a_pause(web: Web, member: str, until: str, status: int, message: str) -> None:
    response = web.post("/manage", {"t": member, "action": "pause", "until": until})
    assert response.status_code == status
    assert message in text(response)
    found = web.find(ANN)
    assert found is not None
    if until == "2026-12-24":
        assert found.paused_until == "2026-12-24T00:00:00+01:00"
        assert page(response).xpath("//input[@name='until']/@value") == ["2026-12-24"]
        web.post("/manage", {"t": member, "action": "resume"})
        found = web.find(ANN)
        assert found is not None
    assert found.paused_until is None


def test_an_address_change_waits_for_the_new_address(web: Web, member: str) -> None:
    new = "ann.new@example.org"
    response = web.post("/manage", {"t": member, "action": "address", "email": new})
    assert response.status_code == 200
    assert "confirmation link is on its way to the new address" in text(response)
    found = web.find(ANN)
    assert found is not None and found.new_email == new and found.email == ANN
    assert web.outgoing()[-1] == ("address", ANN, new)
    # An older change's link cannot confirm a newer address.
    stale = web.token(ANN, "a")
    newer = "ann.newer@example.org"
    web.clock.advance(minutes=61)
    web.post("/manage", {"t": member, "action": "address", "email": newer})
    assert web.post("/confirm", {"t": stale}).status_code == 400
    confirmed = web.post("/confirm", {"t": web.token(ANN, "a")})
    assert confirmed.status_code == 200
    assert "Your address is changed" in text(confirmed)
    assert web.find(ANN) is None
    moved = web.find(newer)
    assert moved is not None and moved.status == "active" and moved.new_email == ""
    assert web.get("/manage", {"t": member}).status_code == 200  # the same manage link


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("", "type the new email address"),
        ("x" * 400, "at most 320"),
        ("not an address", "this is not an email address"),
        (ANN.upper(), "already in use"),
    ],
    ids=["empty", "huge", "invalid", "the-same"],
)
def test_a_bad_new_address(web: Web, member: str, email: str, message: str) -> None:
    before = web.snapshot()
    response = web.post("/manage", {"t": member, "action": "address", "email": email})
    assert response.status_code == 400
    assert message in text(response)
    assert web.snapshot() == before


def test_unsubscribe_and_subscribe_again_from_the_page(web: Web, member: str) -> None:
    response = web.post("/manage", {"t": member, "action": "unsubscribe"})
    assert response.status_code == 200
    found = web.find(ANN)
    assert found is not None and found.status == "unsubscribed"
    assert page(response).xpath("//button[@value='resubscribe']")
    web.post("/manage", {"t": member, "action": "resubscribe"})
    found = web.find(ANN)
    assert found is not None and found.status == "active"


def test_the_download_holds_what_is_kept(web: Web, member: str) -> None:
    response = web.post("/manage", {"t": member, "action": "download"})
    assert response.status_code == 200
    assert response.content_type == "application/json; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="subscription.json"'
    held = json.loads(response.get_data())
    assert held["address"] == ANN and held["status"] == "active" and held["source"] == "form"
    assert held["name"] == "Ann"


def test_forget_needs_the_box_then_erases(web: Web, member: str) -> None:
    refused = web.post("/manage", {"t": member, "action": "forget"})
    assert refused.status_code == 400
    assert "tick the box" in text(refused)
    assert web.find(ANN) is not None
    done = web.post("/manage", {"t": member, "action": "forget", "sure": "yes"})
    assert done.status_code == 200
    assert "Everything held about you is erased" in text(done)
    assert web.find(ANN) is None
    with State.open(web.site.state_dir) as state:
        raw = state.db.execute("SELECT * FROM subscribers").fetchall()
    assert ANN not in repr(raw) and "Ann" not in repr(raw)
    # Nor in the file's bytes: the write-ahead log kept the row as it was until emptied.
    for end in ("", "-wal"):
        path = web.site.state_dir / f"state.db{end}"
        assert not path.exists() or ANN.encode() not in path.read_bytes(), path.name
    assert web.get("/manage", {"t": member}).status_code == 400  # nothing held any more


def test_a_link_already_sent_opens_the_page(web: Web, member: str) -> None:
    legacy = make_token(web.secret(), list_id(web.site), normalize(ANN)[1])
    response = web.get("/manage", {"t": legacy})
    assert response.status_code == 200
    assert ANN in text(response)


def test_an_unknown_action(web: Web, member: str) -> None:
    before = web.snapshot()
    response = web.post("/manage", {"t": member, "action": "drop-table"})
    assert response.status_code == 400
    assert "asked for no change this page knows" in text(response)
    assert web.snapshot() == before


# -- every page: headers, HEAD, errors, no redirects -----------------------------------------

SECURITY = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def every_answer(web: Web, member: str) -> Iterator[tuple[str, TestResponse]]:
    yield "subscribe", web.get("/subscribe")
    yield "manage", web.get("/manage", {"t": member})
    yield "bad-manage", web.get("/manage", {"t": "x"})
    yield "missing", web.get("/nothing")
    yield "method", web.client.put("/subscribe")
    yield "too-big", web.post("/subscribe", {"email": "x" * (MAX_BODY + 1)})
    yield "sent", web.subscribe("bob@example.org")
    yield "head", web.head("/subscribe")


def test_every_answer_has_the_security_headers_and_the_site_look(web: Web, member: str) -> None:
    seen = []
    for what, response in every_answer(web, member):
        seen.append((what, response.status_code))
        for name, value in SECURITY.items():
            assert response.headers[name] == value, what
        policy = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy, what
        if what != "head":
            assert page(response).xpath("//header[@class='site']"), what
            assert page(response).xpath("//h1")[0].text_content() == "Ledger Weekly", what
    assert seen == [
        ("subscribe", 200),
        ("manage", 200),
        ("bad-manage", 400),
        ("missing", 404),
        ("method", 405),
        ("too-big", 413),
        ("sent", 200),
        ("head", 200),
    ]


@pytest.mark.parametrize("path", ["/subscribe", "/manage", "/confirm", "/unsubscribe"])
def test_head_is_answered_like_get_without_a_body(web: Web, member: str, path: str) -> None:
    query = {"t": member} if path == "/manage" else {}
    get = web.get(path, query)
    head = web.head(path, query)
    assert head.status_code == get.status_code
    assert head.get_data() == b""
    assert head.headers["Content-Length"] == get.headers["Content-Length"]


@pytest.mark.parametrize(
    "path",
    [
        "//evil.example/subscribe",
        "/subscribe?next=https://evil.example/",
        "/manage/../../subscribe",
        "/subscribe/",
        "/news/subscribe",
        "/confirm?t=&redirect=//x",
    ],
)
def test_nothing_redirects(web: Web, path: str) -> None:
    for method in ("GET", "POST"):
        response = web.client.open(
            path, method=method, data={"email": ANN}, environ_base=web.environ()
        )
        assert response.status_code < 300 or response.status_code >= 400, path
        assert "Location" not in response.headers


def test_a_locked_state_is_503_and_nothing_recorded(make_site: MakeSite) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER)
    site = config.load(root, env={})
    with State.open(site.state_dir):
        pass
    app = WebApp(site, clock=Clock(), busy_timeout=0.05)
    web = Web(site, Clock(), app)
    holder = sqlite3.connect(site.state_dir / "state.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        response = web.subscribe(ANN)
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "60"
        assert "nothing has changed" in text(response)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert web.find(ANN) is None


def test_a_server_bug_is_a_500_page_and_a_logged_traceback(web: Web) -> None:
    (web.site.root / "templates").mkdir(exist_ok=True)
    (web.site.root / "templates" / "manage.html").write_text("{{ 1 // 0 }}")
    app = WebApp(web.site, clock=web.clock)
    with State.open(web.site.state_dir) as state, state.transaction():
        Subscribers(state, web.secret()).add(ANN, "", NOW)
    import io

    errors = io.StringIO()
    response = Client(app).get(
        "/manage", query_string={"t": web.token(ANN, "m")}, errors_stream=errors
    )
    assert response.status_code == 500
    assert "nothing has changed" in text(response)
    assert "ZeroDivisionError" in errors.getvalue()
    assert "ZeroDivisionError" not in response.get_data(as_text=True)


# -- two real server processes ---------------------------------------------------------------


def spawn(site: Site) -> tuple[subprocess.Popen[bytes], str]:
    server = subprocess.Popen(
        [str(FEEDPUB), "--site", str(site.root), "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=CHILD_ENV,
    )
    assert server.stdout is not None
    try:
        line = first_line(server.stdout)
    except BaseException:
        server.kill()
        server.communicate()
        raise
    assert line.startswith("Serving http://127.0.0.1:"), line
    return server, line.split()[1]


def first_line(stream: Any, seconds: float = 20) -> str:
    """The first line a child writes to its pipe, waited for at most ``seconds``."""
    selector = selectors.DefaultSelector()
    selector.register(stream, selectors.EVENT_READ)
    data = b""
    deadline = time.monotonic() + seconds
    try:
        while b"\n" not in data:
            left = deadline - time.monotonic()
            assert left > 0 and selector.select(left), f"no line within {seconds} s: {data!r}"
            chunk = os.read(stream.fileno(), 4096)
            assert chunk, f"the child's output ended: {data!r}"
            data += chunk
    finally:
        selector.close()
    return data.decode()


def post_form(url: str, fields: dict[str, str]) -> int:
    request = urllib.request.Request(
        url, data=urlencode(fields).encode(), headers={"Content-Type": FORM}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        error.close()
        return int(error.code)


def test_the_client_limit_holds_across_two_server_processes(make_site: MakeSite) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER + "signups_per_hour = 4\n")
    site = config.load(root, env={})
    servers = [spawn(site), spawn(site)]
    try:
        statuses = [
            post_form(servers[n % 2][1] + "subscribe", {"email": f"p{n}@example.org"})
            for n in range(7)
        ]
    finally:
        for server, _ in servers:
            server.send_signal(signal.SIGINT)
        for server, _ in servers:
            try:
                server.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.communicate()
    assert statuses == [200, 200, 200, 200, 429, 429, 429]
    with State.open(site.state_dir) as state:
        assert state.subscribers.count("pending") == 4


# -- under waitress: the client address, the sender thread ------------------------------------


class RecordingSender:
    """Stands where the mailer's thread stands, and notes what the server asked of it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def start(self) -> None:
        self.calls.append("start")

    def wake(self) -> None:
        self.calls.append("wake")

    def stop(self, timeout: float = 30.0) -> None:
        self.calls.append("stop")


@contextmanager
def running(
    site: Site, sender: RecordingSender | None = None, app: WebApp | None = None
) -> Iterator[str]:
    """The web app (``app``, or the site's) under waitress in a thread of this process; its
    base URL."""
    server = make_server(site, "127.0.0.1", 0, app=app, sender=sender)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.stop()
        thread.join(timeout=20)
    assert not thread.is_alive()


def post_from(url: str, address: str, forwarded_for: str) -> int:
    request = urllib.request.Request(
        url + "subscribe",
        data=urlencode({"email": address}).encode(),
        headers={"Content-Type": FORM, "X-Forwarded-For": forwarded_for},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        error.close()
        return int(error.code)


@pytest.mark.parametrize(
    ("proxy", "expected"),
    [("127.0.0.1", [200, 200, 429]), ("", [200, 429, 429])],
    ids=["behind-the-trusted-proxy", "no-proxy-trusted"],
)
def test_x_forwarded_for_names_the_client_only_from_the_trusted_proxy(
    make_site: MakeSite, proxy: str, expected: list[int]
) -> None:
    settings = NEWSLETTER + f'signups_per_hour = 1\ntrusted_proxy = "{proxy}"\n'
    site = config.load(make_site(ARTICLES, extra=settings), env={})
    with running(site) as url:
        statuses = [
            post_from(url, "p1@example.org", "203.0.113.1"),
            post_from(url, "p2@example.org", "203.0.113.2"),
            post_from(url, "p3@example.org", "203.0.113.1"),
        ]
    assert statuses == expected


def test_the_server_starts_wakes_and_stops_the_sender(make_site: MakeSite) -> None:
    site = config.load(make_site(ARTICLES, extra=NEWSLETTER), env={})
    sender = RecordingSender()
    with running(site, sender) as url:
        assert sender.calls == ["start"]
        assert post_from(url, ANN, "203.0.113.1") == 200
        assert post_from(url, "not an address", "203.0.113.1") == 400  # nothing queued
        with urllib.request.urlopen(url + "subscribe", timeout=20) as answer:
            assert answer.status == 200
    assert sender.calls == ["start", "wake", "stop"]


# -- any text in any field -------------------------------------------------------------------

FIELD = st.text(st.characters(codec="utf-8"), max_size=400)


@settings(
    max_examples=examples(0.3),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    email=FIELD,
    name=FIELD,
    topic=FIELD,
    token=FIELD,
    action=st.sampled_from(["topics", "pause", "address", "unsubscribe", "download", "x"]),
)
def test_any_text_in_any_field_is_a_page_never_a_crash(
    web: Web, email: str, name: str, topic: str, token: str, action: str
) -> None:
    answers = [
        web.post("/subscribe", {"email": email, "name": name, "topics": topic}),
        web.post("/subscribe", {"email": email + "@example.org", "name": name}),
        web.get("/confirm", {"t": token}),
        web.post("/confirm", {"t": token}),
        web.get("/manage", {"t": token}),
        web.post("/manage", {"t": token, "action": action, "until": name, "email": email}),
        web.get("/unsubscribe", {"t": token}),
    ]
    for response in answers:
        assert response.status_code in (200, 400, 429), response.status
        body = response.get_data(as_text=True)
        assert "Traceback" not in body
        assert page(response).xpath("//header[@class='site']")


# -- in a real browser -----------------------------------------------------------------------


@contextmanager
def browser(script: bool) -> Iterator[Any]:
    """Headless Chromium driven by Debian's chromedriver (selenium's manager never runs:
    the driver is named), with or without script."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for program in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        if not Path(program).exists():
            pytest.fail(f"{program} is missing: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"):
        options.add_argument(argument)
    # Names resolve to nothing: the only server reachable is ours, on 127.0.0.1.
    options.add_argument("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
    if not script:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(condition: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the deadline"
        time.sleep(0.05)


class LoggingApp(WebApp):
    """The web app, noting the method and path of each request it answers."""

    def __init__(self, site: Site, clock: Clock) -> None:
        super().__init__(site, clock=clock)
        self.requests: list[str] = []

    def __call__(self, environ: dict[str, Any], start: Any) -> Any:
        self.requests.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}")
        return super().__call__(environ, start)


@pytest.mark.parametrize("script", [True, False], ids=["with-script", "without-script"])
def test_a_browser_confirms_with_no_click_and_without_script_with_one(
    web: Web, script: bool
) -> None:
    """The CSP allows the page's one script by its hash: Chromium runs it, and it posts the
    form. Without script the page waits for its button, and nothing has changed until then."""
    web.subscribe(ANN)
    app = LoggingApp(web.site, web.clock)
    link = f"confirm?{urlencode({'t': web.token(ANN, 'c')})}"

    def requests() -> list[str]:
        return [r for r in app.requests if not r.endswith("/favicon.ico")]

    with running(web.site, app=app) as url, browser(script) as driver:
        driver.get(url + link)
        if script:
            wait_for(lambda: "You are subscribed" in driver.page_source)
            assert requests() == ["GET /confirm", "POST /confirm"]
        else:
            # Chromium may hand back the page before it has parsed it (an empty source) on a
            # loaded machine: wait for it, as the script's case does.
            wait_for(lambda: "Confirm your subscription" in driver.page_source)
            assert requests() == ["GET /confirm"]
            found = web.find(ANN)
            assert found is not None and found.status == "pending"
            driver.find_element("css selector", "form#confirm button").click()
            wait_for(lambda: "You are subscribed" in driver.page_source)
            assert requests() == ["GET /confirm", "POST /confirm"]
    found = web.find(ANN)
    assert found is not None and found.status == "active"


# A name the settings allow that holds a bidi control: the template isolates such text where
# it is shown, never in a value the form posts back.
MIXED_TOPIC = "Sport\u202e AR"


def test_a_topic_whose_name_holds_a_bidi_control_is_posted_back_as_it_is(
    make_site: MakeSite,
) -> None:
    extra = NEWSLETTER.replace('Arts = ["arts"]', f'"{MIXED_TOPIC}" = ["arts"]')
    root = make_site(ARTICLES, extra=extra)
    site = config.load(root, env={})
    web = Web(site, Clock(), WebApp(site, clock=Clock()), [])
    form = page(web.get("/subscribe"))
    assert MIXED_TOPIC in form.xpath("//input[@name='topics']/@value")
    assert web.subscribe(ANN, topics=[MIXED_TOPIC]).status_code == 200
    found = web.find(ANN)
    assert found is not None and found.topics == (MIXED_TOPIC,)
    web.post("/confirm", {"t": web.token(ANN, "c")})
    member = web.token(ANN, "m")
    manage = page(web.get("/manage", {"t": member}))
    assert manage.xpath("//input[@name='topics' and @checked]/@value") == [MIXED_TOPIC]
    saved = web.post("/manage", {"t": member, "action": "topics", "topics": [MIXED_TOPIC]})
    assert saved.status_code == 200


def test_a_form_shown_again_keeps_what_was_typed_as_it_was(web: Web) -> None:
    """After a bad field, the form comes back filled with what the reader typed, bidi controls
    and all: isolating it there would add marks to what they post next."""
    response = web.subscribe("not an address", name=MIXED_TOPIC)
    assert response.status_code == 400
    assert page(response).xpath("//input[@name='name']/@value") == [MIXED_TOPIC]


@pytest.mark.parametrize(
    ("peer", "counted_apart"),
    [("127.0.0.1", True), ("192.0.2.99", False)],
    ids=["from-the-trusted-proxy", "from-anyone-else"],
)
def test_the_app_itself_reads_the_client_from_the_trusted_proxy(
    make_site: MakeSite, peer: str, counted_apart: bool
) -> None:
    """Under any WSGI server (gunicorn passes X-Forwarded-For on as it came): a sign-up
    relayed by [web] trusted_proxy counts against the client it names, and the header from
    anyone else is ignored, so a client cannot spread its sign-ups over made-up addresses."""
    root = make_site(ARTICLES, extra=NEWSLETTER + "signups_per_hour = 2\n")
    site = config.load(root, env={})
    clock = Clock()
    client = WebApp(site, clock=clock)
    web = Web(site, clock, client)

    def sign_up(address: str, forwarded: str) -> int:
        response = web.client.post(
            "/subscribe",
            data={"email": address},
            environ_base={"REMOTE_ADDR": peer},
            headers={"X-Forwarded-For": forwarded},
        )
        return response.status_code

    assert sign_up("p0@example.org", "203.0.113.1") == 200
    assert sign_up("p1@example.org", "203.0.113.1") == 200
    assert sign_up("p2@example.org", "203.0.113.1") == 429
    # Another client behind the same proxy has its own count; spoofed, the header changes none.
    assert sign_up("p3@example.org", "10.0.0.1, 203.0.113.2") == (200 if counted_apart else 429)
