"""The providers' webhooks (feedpub.delivery.hooks, routed by the web app): each provider's
documented sample payloads (tests/data/hooks/), signed here with keys made for the test (an
RSA certificate for SNS, a P-256 key for SendGrid, an HMAC key for Mailgun, basic-auth
credentials for Postmark), acted on once; forged, stale, replayed, malformed and huge requests
refused with the right 4xx and nothing changed; the [hooks] settings' checks; and a real
``feedpub serve`` on 127.0.0.1 taking Postmark's and SendGrid's requests."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import http.client
import io
import json
import signal
import sqlite3
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from helpers import ARTICLES, CHILD_ENV, FEEDPUB, NEWSLETTER, NOW, MakeSite
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from feedpub import config
from feedpub.config import Site
from feedpub.delivery import hooks as hooks_module
from feedpub.delivery import verp
from feedpub.delivery.hooks import MAX_BODY, MAX_SKEW, Hooks
from feedpub.delivery.identity import list_id
from feedpub.delivery.subscribers import Subscribers
from feedpub.delivery.tokens import load_secret
from feedpub.delivery.web import WebApp
from feedpub.errors import ConfigError, HookRefused
from feedpub.store.issues import IssueRecord
from feedpub.store.state import State

DATA = Path(__file__).parent / "data" / "hooks"
TOPIC = "arn:aws:sns:us-west-2:123456789012:MyTopic"  # the documented samples' topic
CERT_URL = (
    "https://sns.us-west-2.amazonaws.com/"
    "SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem"
)
MAILGUN_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
POSTMARK_USER, POSTMARK_PASSWORD = "postmark-hooks", "x7!Rk2-pw:with-colon"
ENV = {
    "TEST_PM_USER": POSTMARK_USER,
    "TEST_PM_PASSWORD": POSTMARK_PASSWORD,
    "TEST_MG_KEY": MAILGUN_KEY,
}
BOUNCES = '\n[smtp]\nbounce_address = "bounces@news.example.org"\n'
# Every address the samples name, on the list before each test.
READERS = (
    "jane@example.com",
    "mary@example.com",
    "richard@example.com",
    "recipient@example.com",
    "john@example.com",
    "bounced-address@wildbit.com",
    "alice@example.com",
    "example@test.com",
)
CLOCK = NOW  # the web app's now; signatures are made at it


@dataclass(frozen=True)
class Keys:
    signer: rsa.RSAPrivateKey
    pem: bytes  # a self-signed certificate of ``signer``, valid around NOW
    other: rsa.RSAPrivateKey
    other_pem: bytes
    expired_pem: bytes  # ``signer``'s, no longer valid at NOW
    ecdsa: ec.EllipticCurvePrivateKey
    ecdsa_other: ec.EllipticCurvePrivateKey

    @property
    def sendgrid_public(self) -> str:
        der = self.ecdsa.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()


def certificate(key: rsa.RSAPrivateKey, start: datetime, days: int) -> bytes:
    """A CA-less self-signed certificate of ``key``, as SNS's own are seen by us: a key."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    built = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return built.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def keys() -> Keys:
    first = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    start = NOW - timedelta(days=1)
    return Keys(
        signer=first,
        pem=certificate(first, start, 365),
        other=other,
        other_pem=certificate(other, start, 365),
        expired_pem=certificate(first, NOW - timedelta(days=400), 30),
        ecdsa=ec.generate_private_key(ec.SECP256R1()),
        ecdsa_other=ec.generate_private_key(ec.SECP256R1()),
    )


def hooks_settings(keys: Keys, pinned: bool = True, topic: str = TOPIC) -> str:
    return f"""
[hooks]
ses_topic_arn = "{topic}"
{'ses_certificate = "sns.pem"' if pinned else ""}
postmark_username_env = "TEST_PM_USER"
postmark_password_env = "TEST_PM_PASSWORD"
mailgun_key_env = "TEST_MG_KEY"
sendgrid_public_key = "{keys.sendgrid_public}"
"""


def make_hooked_site(
    make_site: MakeSite, keys: Keys, pinned: bool = True, topic: str = TOPIC
) -> Site:
    root = make_site(ARTICLES, extra=NEWSLETTER + BOUNCES + hooks_settings(keys, pinned, topic))
    (root / "sns.pem").write_bytes(keys.pem)
    site = config.load(root, env={})
    with State.open(site.state_dir) as state, state.transaction():
        book = Subscribers(state, load_secret(site.state_dir, create=True))
        for address in READERS:
            book.add(address, "", NOW)
    return site


@pytest.fixture
def site(make_site: MakeSite, keys: Keys) -> Site:
    return make_hooked_site(make_site, keys)


class Fetched:
    """The one stand-in: what the hooks fetch from AWS (which tests cannot reach)."""

    def __init__(self, answers: dict[str, bytes] | None = None) -> None:
        self.urls: list[str] = []
        self.answers = answers or {}

    def __call__(self, url: str) -> bytes:
        self.urls.append(url)
        if url not in self.answers:
            raise HookRefused(503, f"cannot reach {url}")
        return self.answers[url]


@dataclass
class Web:
    site: Site
    app: WebApp
    fetched: Fetched
    errors: io.StringIO

    def post(
        self, provider: str, body: bytes, headers: dict[str, str] | None = None, prefix: str = ""
    ) -> tuple[int, str, dict[str, str]]:
        response = Client(self.app).post(
            f"{prefix}/hooks/{provider}",
            data=body,
            headers=headers or {},
            errors_stream=self.errors,
        )
        return response.status_code, response.get_data(as_text=True), dict(response.headers)


def web_for(site: Site, fetched: Fetched | None = None, busy: float = 5.0) -> Web:
    app = WebApp(site, clock=lambda: CLOCK, busy_timeout=busy)
    chosen = fetched or Fetched()
    app.hooks = Hooks(site, env=ENV, fetch=chosen)
    return Web(site, app, chosen, io.StringIO())


@pytest.fixture
def web(site: Site) -> Web:
    return web_for(site)


def sample(name: str) -> Any:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


def statuses(site: Site) -> dict[str, str]:
    with State.open(site.state_dir) as state:
        rows = state.db.execute("SELECT email, status FROM subscribers").fetchall()
    return {email: status for email, status in rows}


def events(site: Site) -> list[tuple[str, str, str, str]]:
    """(address, kind, source, detail) of every event, in order."""
    with State.open(site.state_dir) as state:
        rows = state.db.execute(
            "SELECT s.email, e.kind, e.source, e.detail FROM events e"
            " JOIN subscribers s ON s.id = e.subscriber ORDER BY e.id"
        ).fetchall()
    return [tuple(row) for row in rows]


def received(site: Site) -> list[str]:
    with State.open(site.state_dir) as state:
        return [row[0] for row in state.db.execute("SELECT key FROM received ORDER BY key")]


ALL_ACTIVE = dict.fromkeys(READERS, "active")


def bounce_token(site: Site, address: str, issue: int | None = 1) -> str:
    with State.open(site.state_dir) as state:
        found = state.subscribers.find(address)
    assert found is not None
    return verp.bounce_sender(site, load_secret(site.state_dir), found, issue)


# -- signing, as each provider does -----------------------------------------------------------


def sns_time(when: datetime = CLOCK) -> str:
    """A time as SNS writes its Timestamp: ISO 8601 in UTC, milliseconds, "Z"."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def sns_sign(
    envelope: dict[str, Any],
    key: rsa.RSAPrivateKey,
    version: str = "1",
    when: datetime | None = CLOCK,
) -> bytes:
    """``envelope`` signed now (``when``; None: at its own Timestamp) by ``key``, with its
    SignatureVersion and Signature, as JSON bytes."""
    signed = dict(envelope, SignatureVersion=version)
    if when is not None:
        signed["Timestamp"] = sns_time(when)
    names = hooks_module._SNS_SIGNED[signed["Type"]]
    text = "".join(
        f"{name}\n{signed[name]}\n" for name in names if name != "Subject" or name in signed
    )
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = key.sign(text.encode(), padding.PKCS1v15(), digest)
    signed["Signature"] = base64.b64encode(signature).decode()
    return json.dumps(signed, indent=2).encode()


def ses_envelope(note: dict[str, Any], message_id: str = "") -> dict[str, Any]:
    envelope = sample("sns-notification")
    envelope["Message"] = json.dumps(note)
    if message_id:
        envelope["MessageId"] = message_id
    return dict(envelope)


def ses_body(
    keys: Keys, note: dict[str, Any], message_id: str = "", version: str = "1"
) -> bytes:
    return sns_sign(ses_envelope(note, message_id), keys.signer, version)


def mailgun_body(
    payload: dict[str, Any],
    key: str = MAILGUN_KEY,
    when: datetime = CLOCK,
    token: str = "",
) -> bytes:
    signed = copy.deepcopy(payload)
    timestamp = str(int(when.timestamp()))
    token = token or hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:50]
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    signed["signature"] = {"timestamp": timestamp, "token": token, "signature": signature}
    return json.dumps(signed, indent=2).encode()


def sendgrid_headers(
    body: bytes, key: ec.EllipticCurvePrivateKey, when: datetime = CLOCK
) -> dict[str, str]:
    timestamp = str(int(when.timestamp()))
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    }


def postmark_headers(
    user: str = POSTMARK_USER, password: str = POSTMARK_PASSWORD
) -> dict[str, str]:
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def sendgrid_body(*entries: dict[str, Any]) -> bytes:
    return json.dumps(list(entries)).encode()


# -- Amazon SES through SNS ---------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"], ids=["SHA1withRSA", "SHA256withRSA"])
def test_ses_documented_bounce_marks_the_address_bounced(
    web: Web, keys: Keys, version: str
) -> None:
    status, text, headers = web.post("ses", ses_body(keys, sample("ses-bounce"), version=version))
    assert (status, text) == (200, "ok: 1 bounced\n")
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert headers["Cache-Control"] == "no-store"
    assert statuses(web.site) == dict(ALL_ACTIVE, **{"jane@example.com": "bounced"})
    assert events(web.site) == [
        ("jane@example.com", "hard", "ses", "5.1.1 smtp; 550 5.1.1 <jane@example.com>... User")
    ]
    assert received(web.site) == ["ses:22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"]


def test_ses_transient_bounce_counts_soft(web: Web, keys: Keys) -> None:
    status, text, _ = web.post("ses", ses_body(keys, sample("ses-bounce-transient")))
    assert (status, text) == (200, "ok: 1 soft\n")
    assert statuses(web.site) == ALL_ACTIVE
    assert [e[:3] for e in events(web.site)] == [("jane@example.com", "soft", "ses")]


def test_ses_documented_complaint_suppresses_at_once(web: Web, keys: Keys) -> None:
    status, text, _ = web.post("ses", ses_body(keys, sample("ses-complaint")))
    assert (status, text) == (200, "ok: 1 complained\n")
    assert statuses(web.site) == dict(ALL_ACTIVE, **{"richard@example.com": "complained"})
    assert events(web.site) == [
        ("richard@example.com", "complaint", "ses", "abuse AnyCompany Feedback Loop (V0.01)")
    ]


def test_ses_subscription_event_unsubscribes(web: Web, keys: Keys) -> None:
    status, text, _ = web.post("ses", ses_body(keys, sample("ses-subscription")))
    assert (status, text) == (200, "ok: 1 unsubscribed\n")
    assert statuses(web.site) == dict(ALL_ACTIVE, **{"recipient@example.com": "unsubscribed"})


@pytest.mark.parametrize("which", ["ses-delivery", "console"])
def test_ses_deliveries_and_console_messages_change_nothing(
    web: Web, keys: Keys, which: str
) -> None:
    body = (
        sns_sign(sample("sns-notification"), keys.signer)  # "Hello world!", as documented
        if which == "console"
        else ses_body(keys, sample("ses-delivery"))
    )
    status, text, _ = web.post("ses", body)
    assert status == 200 and "nothing to act on" in text
    assert statuses(web.site) == ALL_ACTIVE
    assert received(web.site) == []


def test_ses_resent_notification_is_acted_on_once(web: Web, keys: Keys) -> None:
    body = ses_body(keys, sample("ses-bounce-transient"))
    assert web.post("ses", body)[:2] == (200, "ok: 1 soft\n")
    # SNS retries with the very same message: a success, and nothing more happens.
    assert web.post("ses", body)[:2] == (200, "ok: 1 duplicate\n")
    assert len(events(web.site)) == 1


def test_ses_bounce_from_our_envelope_sender_names_the_reader_by_token(
    web: Web, keys: Keys
) -> None:
    note = sample("ses-bounce")
    # As feedpub sends: one recipient per message, the envelope sender naming them.
    note["mail"]["source"] = bounce_token(web.site, "mary@example.com")
    note["mail"]["destination"] = ["mary@example.com"]
    # The report names a forwarding address the list has never seen: the token decides.
    note["bounce"]["bouncedRecipients"][0]["emailAddress"] = "mary.old@forward.example"
    status, text, _ = web.post("ses", ses_body(keys, note))
    assert (status, text) == (200, "ok: 1 bounced\n")
    assert statuses(web.site) == dict(ALL_ACTIVE, **{"mary@example.com": "bounced"})


def sent_issue(site: Site, number: int, weeks: int) -> None:
    """Issue ``number``, sent ``weeks`` after NOW to everyone active then."""
    stamp = (NOW + timedelta(weeks=weeks)).isoformat()
    record = IssueRecord(number, f"urn:uuid:{number}", stamp, "ready", f"#{number}", "", "",
                         "", None, ())  # fmt: skip
    with State.open(site.state_dir) as state:
        with state.transaction():
            state.issues.add(record)
        state.deliveries.start(number, stamp)
        rows = state.db.execute("SELECT subscriber FROM deliveries WHERE issue = ?", (number,))
        for (who,) in rows.fetchall():
            state.deliveries.record(number, who, "sent", 1, None, "250", stamp)
        state.deliveries.finish_if_done(number, stamp)


def issues_of_events(site: Site) -> list[int | None]:
    with State.open(site.state_dir) as state:
        return [row[0] for row in state.db.execute("SELECT issue FROM events ORDER BY id")]


@pytest.mark.parametrize(
    ("feedback", "issue"),
    [
        ("1:{list}:news.example.org", 1),  # the issue the original's Feedback-ID names
        (None, 2),  # no headers passed on: the latest issue sent to them
        ("1:another.list:news.example.org", 2),  # another list's: not ours to read
        ("x1:{list}:news.example.org", 2),
    ],
    ids=["ours", "none", "another list", "not a number"],
)
def test_ses_bounce_without_our_token_counts_for_the_issue_its_feedback_id_names(
    web: Web, keys: Keys, feedback: str | None, issue: int
) -> None:
    sent_issue(web.site, 1, weeks=-1)
    sent_issue(web.site, 2, weeks=0)
    note = sample("ses-bounce")
    if feedback is not None:
        value = feedback.format(list=list_id(web.site))
        note["mail"]["headers"].append({"name": "Feedback-ID", "value": value})
    assert web.post("ses", ses_body(keys, note))[:2] == (200, "ok: 1 bounced\n")
    assert issues_of_events(web.site) == [issue]


def test_ses_bounce_with_a_forged_token_changes_nothing(web: Web, keys: Keys) -> None:
    note = sample("ses-bounce")
    real = bounce_token(web.site, "mary@example.com")
    note["mail"]["source"] = real.replace(real.split("-")[-1][:16], "a" * 16)
    note["mail"]["destination"] = ["mary@example.com"]
    status, text, _ = web.post("ses", ses_body(keys, note))
    assert (status, text) == (200, "ok: 1 forged\n")
    assert statuses(web.site) == ALL_ACTIVE


def _tamper(envelope: dict[str, Any], keys: Keys, how: str) -> bytes:
    if how == "other key":
        return sns_sign(envelope, keys.other)
    signed = json.loads(sns_sign(envelope, keys.signer))
    if how == "message changed":
        signed["Message"] = signed["Message"].replace("jane@", "mary@")
    elif how == "subject dropped":
        del signed["Subject"]  # signed with it: the string to sign differs without it
    elif how == "type changed":
        signed["Type"] = "SubscriptionConfirmation"
        signed["SubscribeURL"] = "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription"
        signed["Token"] = "x"
    elif how == "version 3":
        signed["SignatureVersion"] = "3"
    elif how == "signature not base64":
        signed["Signature"] = "%%%not base64%%%"
    elif how == "signature cut":
        signed["Signature"] = signed["Signature"][:40]
    elif how == "topic changed":
        signed["TopicArn"] = "arn:aws:sns:us-west-2:123456789012:OtherTopic"
    else:
        signed["SigningCertURL"] = how
    return json.dumps(signed).encode()


@pytest.mark.parametrize(
    "how",
    [
        "other key",
        "message changed",
        "subject dropped",
        "type changed",
        "version 3",
        "signature not base64",
        "signature cut",
        "topic changed",
        "http://sns.us-west-2.amazonaws.com/cert.pem",
        "https://sns.us-west-2.amazonaws.com.evil.example/cert.pem",
        "https://evil.example/sns.us-west-2.amazonaws.com/cert.pem",
        "https://attacker@sns.us-west-2.amazonaws.com/cert.pem",
        "https://sns.us-west-2.amazonaws.com:8443/cert.pem",
        "https://sns.us-west-2.amazonaws.com/cert.txt",
        "https://s3.us-west-2.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com/cert.pem",  # another region than the topic's
        "https://sns.us-west-2.amazonaws.com.cn/cert.pem",  # the topic is not in China
        "https://[::1/cert.pem",
        "",
    ],
)
def test_ses_forgeries_are_403_and_change_nothing(web: Web, keys: Keys, how: str) -> None:
    body = _tamper(ses_envelope(sample("ses-bounce")), keys, how)
    status, text, _ = web.post("ses", body)
    assert status == 403, text
    assert "Traceback" not in text and len(text) < 200
    assert statuses(web.site) == ALL_ACTIVE
    assert received(web.site) == [] and web.fetched.urls == []


@pytest.mark.parametrize(
    ("when", "status"),
    [
        (None, 403),  # the documented sample as it is: signed in 2012
        (CLOCK - hooks_module.MAX_SNS_AGE - timedelta(seconds=1), 403),
        (CLOCK - hooks_module.MAX_SNS_AGE + timedelta(seconds=1), 200),
        (CLOCK + timedelta(seconds=MAX_SKEW + 1), 403),
    ],
    ids=["2012", "just too old", "just in time", "from the future"],
)
def test_ses_old_messages_are_stale_once_their_ids_may_be_forgotten(
    web: Web, keys: Keys, when: datetime | None, status: int
) -> None:
    body = sns_sign(ses_envelope(sample("ses-bounce")), keys.signer, when=when)
    assert web.post("ses", body)[0] == status
    kept = [] if status == 403 else ["ses:22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"]
    assert received(web.site) == kept


def test_ses_a_timestamp_that_is_no_time_is_400(web: Web, keys: Keys) -> None:
    envelope = ses_envelope(sample("ses-bounce"))
    envelope["Timestamp"] = "yesterday"
    assert web.post("ses", sns_sign(envelope, keys.signer, when=None))[0] == 400


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe not utf-8", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        (b'{"Type": "Notification", "n": 1' + b"0" * 5000 + b"}", "not JSON"),
        (b'{"Type": "Other", "TopicArn": "' + TOPIC.encode() + b'"}', "Type"),
        (b'{"Type": ["Notification"]}', "Type"),
    ],
    ids=["empty", "not UTF-8", "array", "deep", "huge number", "unknown type", "type a list"],
)
def test_ses_malformed_bodies_are_400(web: Web, body: bytes, says: str) -> None:
    status, text, _ = web.post("ses", body)
    assert status == 400 and says in text
    assert statuses(web.site) == ALL_ACTIVE


@pytest.mark.parametrize("missing", ["MessageId", "Timestamp", "Message", "TopicArn"])
def test_an_sns_message_missing_a_signed_field_is_refused(
    web: Web, keys: Keys, missing: str
) -> None:
    signed = json.loads(ses_body(keys, sample("ses-bounce")))
    del signed[missing]
    status, _, _ = web.post("ses", json.dumps(signed).encode())
    assert status in (400, 403)
    assert received(web.site) == []


def test_ses_fetches_the_signing_certificate_once_from_the_sns_host(
    make_site: MakeSite, keys: Keys
) -> None:
    site = make_hooked_site(make_site, keys, pinned=False)
    web = web_for(site, Fetched({CERT_URL: keys.pem}))
    assert web.post("ses", ses_body(keys, sample("ses-bounce")))[:2] == (200, "ok: 1 bounced\n")
    again = ses_body(keys, sample("ses-complaint"), message_id="f0e1d2c3-0000-4000-8000-1")
    assert web.post("ses", again)[:2] == (200, "ok: 1 complained\n")
    assert web.fetched.urls == [CERT_URL]  # kept in memory after the first


@pytest.mark.parametrize(
    ("topic", "url"),
    [
        (
            "arn:aws-cn:sns:cn-north-1:123456789012:feedpub",
            "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-1.pem",
        ),
        (
            "arn:aws-us-gov:sns:us-gov-west-1:123456789012:feedpub",
            "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-1.pem",
        ),
    ],
    ids=["China", "GovCloud"],
)
def test_ses_the_topic_region_s_sns_host_is_trusted_in_every_partition(
    make_site: MakeSite, keys: Keys, topic: str, url: str
) -> None:
    site = make_hooked_site(make_site, keys, pinned=False, topic=topic)
    web = web_for(site, Fetched({url: keys.pem}))
    envelope = ses_envelope(sample("ses-bounce")) | {"TopicArn": topic, "SigningCertURL": url}
    assert web.post("ses", sns_sign(envelope, keys.signer))[:2] == (200, "ok: 1 bounced\n")
    assert web.fetched.urls == [url]


@pytest.mark.parametrize("served", ["expired", "not a certificate", "unreachable"])
def test_ses_a_certificate_that_cannot_be_trusted_verifies_nothing(
    make_site: MakeSite, keys: Keys, served: str
) -> None:
    site = make_hooked_site(make_site, keys, pinned=False)
    answers = {"expired": {CERT_URL: keys.expired_pem}, "not a certificate": {CERT_URL: b"<html>"}}
    web = web_for(site, Fetched(answers.get(served, {})))
    status, text, _ = web.post("ses", ses_body(keys, sample("ses-bounce")))
    assert status == (503 if served == "unreachable" else 403), text
    if served == "unreachable":  # SNS tries again later; the owner reads why in the log
        assert "cannot reach" in web.errors.getvalue()
    assert statuses(site) == ALL_ACTIVE


def test_a_subscription_confirmation_is_verified_then_its_url_fetched(
    web: Web, keys: Keys
) -> None:
    envelope = sample("sns-subscription-confirmation")
    url = envelope["SubscribeURL"]
    web.fetched.answers[url] = b"<ConfirmSubscriptionResponse/>"
    status, text, _ = web.post("ses", sns_sign(envelope, keys.signer))
    assert (status, text) == (200, "ok: subscription confirmed\n")
    assert web.fetched.urls == [url]


@pytest.mark.parametrize("how", ["other key", "url off the sns host"])
def test_a_forged_subscription_confirmation_fetches_nothing(
    web: Web, keys: Keys, how: str
) -> None:
    envelope = sample("sns-subscription-confirmation")
    if how == "url off the sns host":  # signed as SNS would, but pointing elsewhere
        envelope["SubscribeURL"] = "https://evil.example/?Action=ConfirmSubscription"
        body = sns_sign(envelope, keys.signer)
    else:
        body = sns_sign(envelope, keys.other)
    assert web.post("ses", body)[0] == 403
    assert web.fetched.urls == []


def test_an_unsubscribe_confirmation_is_verified_and_changes_nothing(
    web: Web, keys: Keys
) -> None:
    body = sns_sign(sample("sns-unsubscribe-confirmation"), keys.signer)
    assert web.post("ses", body)[:2] == (200, "ok: nothing to act on\n")
    assert web.fetched.urls == []


# -- Postmark ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "address", "after", "answer"),
    [
        ("postmark-bounce", "john@example.com", "bounced", "1 bounced"),
        ("postmark-spam-complaint", "john@example.com", "complained", "1 complained"),
        ("postmark-subscription-change", "bounced-address@wildbit.com", "bounced", "1 bounced"),
        ("postmark-delivery", "john@example.com", "active", "nothing to act on"),
    ],
)
def test_postmark_documented_payloads(
    web: Web, name: str, address: str, after: str, answer: str
) -> None:
    status, text, _ = web.post("postmark", json.dumps(sample(name)).encode(), postmark_headers())
    assert (status, text) == (200, f"ok: {answer}\n")
    assert statuses(web.site) == dict(ALL_ACTIVE, **{address: after})


@pytest.mark.parametrize(
    ("reason", "origin", "suppress", "after"),
    [
        ("ManualSuppression", "Recipient", True, "unsubscribed"),
        ("ManualSuppression", "Customer", True, "active"),
        ("SpamComplaint", "Recipient", True, "complained"),
        ("HardBounce", "Recipient", False, "active"),  # a reactivation
    ],
)
def test_postmark_subscription_changes(
    web: Web, reason: str, origin: str, suppress: bool, after: str
) -> None:
    change = sample("postmark-subscription-change")
    change.update(SuppressionReason=reason, Origin=origin, SuppressSending=suppress)
    assert web.post("postmark", json.dumps(change).encode(), postmark_headers())[0] == 200
    assert statuses(web.site)["bounced-address@wildbit.com"] == after


def test_postmark_repeats_are_acted_on_once(web: Web) -> None:
    body = json.dumps(sample("postmark-bounce")).encode()
    assert web.post("postmark", body, postmark_headers())[1] == "ok: 1 bounced\n"
    assert web.post("postmark", body, postmark_headers())[1] == "ok: 1 duplicate\n"
    assert len(events(web.site)) == 1 and received(web.site) == ["postmark:4323372036854775807"]


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer abc",
        "Basic",
        "Basic %%%",
        "Basic " + base64.b64encode(b"no colon at all").decode(),
        postmark_headers(POSTMARK_USER, "wrong")["Authorization"],
        postmark_headers("someone", POSTMARK_PASSWORD)["Authorization"],
        postmark_headers(POSTMARK_USER, POSTMARK_PASSWORD + "x")["Authorization"],
        postmark_headers("", "")["Authorization"],
        "Basic " + "QUFB" * 15_000,  # a huge header: 60 KB of credentials
        "Basic " + base64.b64encode("é:ü".encode()).decode(),
    ],
)
def test_postmark_without_the_credentials_is_401(web: Web, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    body = json.dumps(sample("postmark-bounce")).encode()
    status, _, answer = web.post("postmark", body, headers)
    assert status == 401
    assert answer["WWW-Authenticate"] == 'Basic realm="feedpub"'
    assert statuses(web.site) == ALL_ACTIVE and received(web.site) == []


class Untouched(io.BytesIO):
    """A request body that fails the test if anything reads it."""

    def read(self, size: int | None = -1) -> bytes:
        raise AssertionError("the body was read")

    def read1(self, size: int | None = -1) -> bytes:
        raise AssertionError("the body was read")

    def readline(self, size: int | None = -1) -> bytes:
        raise AssertionError("the body was read")

    def readinto(self, buffer: Any) -> int:
        raise AssertionError("the body was read")


def test_postmark_checks_the_credentials_before_reading_the_body(web: Web) -> None:
    response = Client(web.app).post(
        "/hooks/postmark",
        input_stream=Untouched(b"{}"),
        content_length=2,
        headers=postmark_headers(POSTMARK_USER, "wrong"),
    )
    assert response.status_code == 401


def test_postmark_with_its_variable_unset_is_503_and_the_log_says_which(site: Site) -> None:
    web = web_for(site)
    web.app.hooks = Hooks(site, env={"TEST_PM_USER": POSTMARK_USER})
    status, text, _ = web.post("postmark", json.dumps(sample("postmark-bounce")).encode())
    assert (status, text) == (503, "not ready; try again later\n")
    assert "TEST_PM_PASSWORD" in web.errors.getvalue()
    assert "TEST_PM_PASSWORD" not in text


def test_what_a_payload_says_is_stored_on_one_line_without_control_characters(
    web: Web,
) -> None:
    bounce = sample("postmark-bounce")
    bounce["Details"] = "line one\r\n\x1b[31mred\x1b[0m\u202eevil\x00" + "x" * 2000
    assert web.post("postmark", json.dumps(bounce).encode(), postmark_headers())[0] == 200
    ((_, _, _, detail),) = events(web.site)
    assert detail.startswith("HardBounce line one [31mred [0m evil")
    assert all(c.isprintable() for c in detail) and len(detail) <= 500


# -- Mailgun -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "after", "answer"),
    [
        ("mailgun-failed-permanent", "bounced", "1 bounced"),
        ("mailgun-failed-temporary", "active", "1 soft"),
        ("mailgun-complained", "complained", "1 complained"),
        ("mailgun-unsubscribed", "unsubscribed", "1 unsubscribed"),
        ("mailgun-delivered", "active", "nothing to act on"),
    ],
)
def test_mailgun_documented_payloads(web: Web, name: str, after: str, answer: str) -> None:
    status, text, _ = web.post("mailgun", mailgun_body(sample(name)))
    assert (status, text) == (200, f"ok: {answer}\n")
    assert statuses(web.site) == dict(ALL_ACTIVE, **{"alice@example.com": after})


def test_mailgun_details_carry_the_code_and_message(web: Web) -> None:
    web.post("mailgun", mailgun_body(sample("mailgun-failed-temporary")))
    assert events(web.site) == [
        (
            "alice@example.com",
            "soft",
            "mailgun",
            "452 4.2.2 The email account that you tried to reach is over quota.",
        )
    ]


def test_mailgun_envelope_sender_names_the_reader_by_token(web: Web) -> None:
    payload = sample("mailgun-failed-permanent")
    payload["event-data"]["envelope"]["sender"] = bounce_token(web.site, "mary@example.com")
    assert web.post("mailgun", mailgun_body(payload))[:2] == (200, "ok: 1 bounced\n")
    assert statuses(web.site) == dict(ALL_ACTIVE, **{"mary@example.com": "bounced"})


@pytest.mark.parametrize(
    ("how", "status"),
    [
        ("other key", 403),
        ("stale", 403),
        ("from the future", 403),
        ("signature cut", 403),
        ("unsigned", 403),
        ("timestamp not a number", 403),
        ("no event-data", 400),
        ("no event id", 400),
    ],
)
def test_mailgun_forged_stale_and_malformed_are_refused(web: Web, how: str, status: int) -> None:
    payload = sample("mailgun-failed-permanent")
    if how == "no event-data":
        del payload["event-data"]
    if how == "no event id":
        del payload["event-data"]["id"]
    body = mailgun_body(
        payload,
        key="another-key" if how == "other key" else MAILGUN_KEY,
        when={
            "stale": CLOCK - timedelta(seconds=MAX_SKEW + 1),
            "from the future": CLOCK + timedelta(seconds=MAX_SKEW + 1),
        }.get(how, CLOCK),
    )
    signed = json.loads(body)
    if how == "signature cut":
        signed["signature"]["signature"] = signed["signature"]["signature"][:20]
    if how == "unsigned":
        del signed["signature"]
    if how == "timestamp not a number":
        signed["signature"]["timestamp"] = "soon"
    answer, text, _ = web.post("mailgun", json.dumps(signed).encode())
    assert answer == status, text
    assert statuses(web.site) == ALL_ACTIVE and received(web.site) == []


def test_mailgun_within_the_window_is_taken(web: Web) -> None:
    late = CLOCK - timedelta(seconds=MAX_SKEW - 5)
    body = mailgun_body(sample("mailgun-failed-permanent"), when=late)
    assert web.post("mailgun", body)[:2] == (200, "ok: 1 bounced\n")


def test_mailgun_a_signature_is_taken_once(web: Web) -> None:
    body = mailgun_body(sample("mailgun-failed-temporary"), token="t" * 50)
    assert web.post("mailgun", body)[0] == 200
    # The same request again, and the same signature with another body: both replays.
    assert web.post("mailgun", body)[0] == 403
    other = sample("mailgun-complained")
    assert web.post("mailgun", mailgun_body(other, token="t" * 50))[0] == 403
    assert statuses(web.site) == ALL_ACTIVE
    assert [e[1] for e in events(web.site)] == ["soft"]


def test_mailgun_a_token_sent_by_many_at_once_is_taken_once(web: Web) -> None:
    # Eight threads of the server post the same token at the same moment, each with its own
    # connection to the state, and each with another body: one gets in, the rest are replays.
    names = ["failed-permanent", "failed-temporary", "complained", "unsubscribed"] * 2
    bodies = [mailgun_body(sample(f"mailgun-{name}"), token="z" * 50) for name in names]
    start = threading.Barrier(len(bodies))

    def post(body: bytes) -> int:
        start.wait()
        return web.post("mailgun", body)[0]

    with ThreadPoolExecutor(len(bodies)) as pool:
        answers = sorted(pool.map(post, bodies))
    assert answers == [200] + [403] * (len(bodies) - 1)
    assert len(events(web.site)) == 1


def test_mailgun_a_retry_signed_anew_is_a_duplicate(web: Web) -> None:
    payload = sample("mailgun-failed-temporary")
    assert web.post("mailgun", mailgun_body(payload, token="a" * 50))[1] == "ok: 1 soft\n"
    assert web.post("mailgun", mailgun_body(payload, token="b" * 50))[1] == "ok: 1 duplicate\n"
    assert len(events(web.site)) == 1


def test_mailgun_with_its_key_unset_is_503(site: Site) -> None:
    web = web_for(site)
    web.app.hooks = Hooks(site, env={})
    status, _, _ = web.post("mailgun", mailgun_body(sample("mailgun-failed-permanent")))
    assert status == 503 and "TEST_MG_KEY" in web.errors.getvalue()


# -- SendGrid ------------------------------------------------------------------------------------

SENDGRID_CHANGES = {
    "processed": "nothing to act on",
    "deferred": "nothing to act on",
    "delivered": "nothing to act on",
    "open": "nothing to act on",
    "click": "nothing to act on",
    "bounce": "1 bounced",
    "dropped": "1 bounced",
    "spamreport": "1 complained",
    "unsubscribe": "1 unsubscribed",
    "group_unsubscribe": "1 unsubscribed",
    "group_resubscribe": "nothing to act on",
}


@pytest.mark.parametrize(
    "index",
    range(len(sample("sendgrid-events"))),
    ids=[f"{i}-{e['event']}" for i, e in enumerate(sample("sendgrid-events"))],
)
def test_sendgrid_each_documented_event(web: Web, keys: Keys, index: int) -> None:
    entry = sample("sendgrid-events")[index]
    body = sendgrid_body(entry)
    expected = SENDGRID_CHANGES[entry["event"]]
    if entry.get("type") == "blocked":  # refused for the sender's reputation: soft
        expected = "1 soft"
    status, text, _ = web.post("sendgrid", body, sendgrid_headers(body, keys.ecdsa))
    assert (status, text) == (200, f"ok: {expected}\n")


def test_sendgrid_documented_batch_is_applied_in_order_once(web: Web, keys: Keys) -> None:
    body = sendgrid_body(*sample("sendgrid-events"))
    status, text, _ = web.post("sendgrid", body, sendgrid_headers(body, keys.ecdsa))
    # The bounce bounces the address; the spam report then makes it complained; what comes
    # between and after is recorded and changes nothing more.
    assert (status, text) == (200, "ok: 1 bounced, 1 complained, 4 nothing\n")
    assert statuses(web.site)["example@test.com"] == "complained"
    assert [e[1] for e in events(web.site)] == [
        "hard",
        "soft",
        "hard",
        "complaint",
        "unsubscribe",
        "unsubscribe",
    ]
    # Signed anew (SendGrid retries so), the same events are duplicates.
    later = CLOCK + timedelta(seconds=30)
    web.app.clock = lambda: later
    status, text, _ = web.post("sendgrid", body, sendgrid_headers(body, keys.ecdsa, later))
    assert (status, text) == (200, "ok: 6 duplicate\n")
    assert len(events(web.site)) == 6


@pytest.mark.parametrize(
    "how",
    [
        "other key",
        "body changed",
        "timestamp changed",
        "stale",
        "no signature",
        "no timestamp",
        "signature not base64",
        "signature of nothing",
        "timestamp not ASCII",
        "signature huge",
        "timestamp huge",
    ],
)
def test_sendgrid_forged_and_stale_are_403(web: Web, keys: Keys, how: str) -> None:
    body = sendgrid_body(sample("sendgrid-events")[5])  # a bounce
    headers = sendgrid_headers(
        body,
        keys.ecdsa_other if how == "other key" else keys.ecdsa,
        CLOCK - timedelta(seconds=MAX_SKEW + 1) if how == "stale" else CLOCK,
    )
    sig, ts = "X-Twilio-Email-Event-Webhook-Signature", "X-Twilio-Email-Event-Webhook-Timestamp"
    if how == "body changed":
        body = body.replace(b"example@test.com", b"alice@example.com")
    if how == "timestamp changed":
        headers[ts] = str(int(headers[ts]) + 1)
    if how == "no signature":
        del headers[sig]
    if how == "no timestamp":
        del headers[ts]
    if how == "signature not base64":
        headers[sig] = "***"
    if how == "signature of nothing":
        headers[sig] = base64.b64encode(b"\x30\x00").decode()
    if how == "timestamp not ASCII":
        headers[ts] = "17\xe9"
    if how == "signature huge":
        headers[sig] = "QUFB" * 15_000
    if how == "timestamp huge":
        headers[ts] = "9" * 60_000
    status, text, _ = web.post("sendgrid", body, headers)
    assert status == 403, text
    assert statuses(web.site) == ALL_ACTIVE and received(web.site) == []


def test_sendgrid_a_replayed_request_is_403_and_changes_nothing_more(
    web: Web, keys: Keys
) -> None:
    body = sendgrid_body(sample("sendgrid-events")[8])  # a spam report
    headers = sendgrid_headers(body, keys.ecdsa)
    assert web.post("sendgrid", body, headers)[:2] == (200, "ok: 1 complained\n")
    assert web.post("sendgrid", body, headers)[0] == 403
    assert len(events(web.site)) == 1


def test_sendgrid_a_bad_entry_does_not_stop_the_rest(web: Web, keys: Keys) -> None:
    good = sample("sendgrid-events")[5]
    body = sendgrid_body({"event": "bounce"}, good)[:-1] + b", 7, null, []]"
    status, text, _ = web.post("sendgrid", body, sendgrid_headers(body, keys.ecdsa))
    assert (status, text) == (200, "ok: 1 bounced, 4 malformed, skipped\n")


@pytest.mark.parametrize("body", [b"{}", b"not json", b'"a"', b"[" * 50_000])
def test_sendgrid_signed_but_malformed_is_400(web: Web, keys: Keys, body: bytes) -> None:
    assert web.post("sendgrid", body, sendgrid_headers(body, keys.ecdsa))[0] == 400


# -- what every endpoint shares ------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["ses", "postmark", "mailgun", "sendgrid"])
def test_an_endpoint_without_its_settings_is_404(make_site: MakeSite, provider: str) -> None:
    site = config.load(make_site(ARTICLES, extra=NEWSLETTER), env={})
    web = web_for(site)
    status, text, _ = web.post(provider, b"{}", postmark_headers())
    assert (status, text) == (404, "no such webhook here\n")


@pytest.mark.parametrize("path", ["/hooks/other", "/hooks/", "/hooks/ses/extra"])
def test_unknown_hooks_are_404(web: Web, path: str) -> None:
    assert Client(web.app).post(path, data=b"{}").status_code == 404


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE"])
def test_hooks_take_post_only(web: Web, method: str) -> None:
    response = Client(web.app).open("/hooks/mailgun", method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


def test_hooks_answer_under_a_path_prefix(web: Web) -> None:
    body = json.dumps(sample("postmark-bounce")).encode()
    assert web.post("postmark", body, postmark_headers(), prefix="/news")[0] == 200


def test_a_body_over_the_limit_is_413_unread(web: Web) -> None:
    status, text, _ = web.post("mailgun", b" " * (MAX_BODY + 1))
    assert status == 413 and "refused unread" in text
    # Without a length (chunked), the limit holds as the body is read.
    response = Client(web.app).post(
        "/hooks/mailgun",
        input_stream=io.BytesIO(b" " * (MAX_BODY + 1)),
        environ_overrides={"wsgi.input_terminated": True},
        headers={"Transfer-Encoding": "chunked"},
    )
    assert response.status_code == 413


def test_a_broken_content_length_is_400(web: Web) -> None:
    response = Client(web.app).post(
        "/hooks/mailgun", data=b"{}", environ_overrides={"CONTENT_LENGTH": "12abc"}
    )
    assert response.status_code == 400


def test_a_locked_state_is_503_and_nothing_recorded(site: Site) -> None:
    web = web_for(site, busy=0.05)
    body = json.dumps(sample("postmark-bounce")).encode()
    holder = sqlite3.connect(site.state_dir / "state.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        status, _, headers = web.post("postmark", body, postmark_headers())
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert status == 503 and headers["Retry-After"] == "60"
    assert received(site) == []
    # The provider sends it again: now it is acted on.
    assert web.post("postmark", body, postmark_headers())[:2] == (200, "ok: 1 bounced\n")


@pytest.mark.parametrize("provider", ["ses", "postmark", "mailgun", "sendgrid"])
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
def test_any_body_gets_a_4xx_never_a_crash(web: Web, provider: str, body: bytes) -> None:
    headers = postmark_headers() if provider == "postmark" else {}
    status, text, _ = web.post(provider, body, headers)
    # A Postmark body that happens to be a JSON object of no record type: nothing to act on.
    assert 400 <= status < 500 or text == "ok: nothing to act on\n", text
    assert statuses(web.site) == ALL_ACTIVE
    assert "Traceback" not in web.errors.getvalue()


# -- the [hooks] settings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('ses_topic_arn = "MyTopic"', "[hooks] ses_topic_arn 'MyTopic' is not an SNS topic ARN"),
        ('ses_topic_arn = "arn:aws:sqs:us-west-2:123456789012:q"', "not an SNS topic ARN"),
        ('ses_topic_arn = "arn:aws:sns:us-west-2:1234:MyTopic"', "not an SNS topic ARN"),
        ('sendgrid_public_key = "not base64!"', "[hooks] sendgrid_public_key is not base64"),
        ('sendgrid_public_key = "' + "A" * 2000 + '"', "far longer than a public key"),
        ('sendgrid_public_key = "aGVsbG8="', "is not a public key"),
        ('postmark_username_env = "my password!"', "must name an environment variable"),
        ('mailgun_key_env = "key-3ax6xnjp29jd6fds4gc3"', "must name an environment variable"),
        ('postmark_username_env = "PM_USER"', "postmark_password_env is not"),
        ('postmark_password_env = "PM_PASSWORD"', "postmark_username_env is not"),
        ('ses_certificate = "missing.pem"', "missing.pem: no such file"),
        ('ses_certificate = "feedpub.toml"', "not a PEM certificate"),
        ('ses_certificate = "content"', "cannot be read"),
    ],
)
def test_bad_hooks_settings_are_errors_naming_the_setting_and_the_fix(
    make_site: MakeSite, line: str, says: str
) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER + f"\n[hooks]\n{line}\n")
    with pytest.raises(ConfigError) as caught:
        config.load(root, env={})
    assert says in str(caught.value)
    assert "feedpub.toml:" in str(caught.value)


def test_a_sendgrid_key_of_another_kind_is_refused(make_site: MakeSite, keys: Keys) -> None:
    der = keys.signer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    line = f'sendgrid_public_key = "{base64.b64encode(der).decode()}"'
    root = make_site(ARTICLES, extra=NEWSLETTER + f"\n[hooks]\n{line}\n")
    with pytest.raises(ConfigError, match="not an ECDSA P-256 public key"):
        config.load(root, env={})


def test_a_sendgrid_key_may_come_with_its_pem_lines(make_site: MakeSite, keys: Keys) -> None:
    pem = keys.ecdsa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    line = f"sendgrid_public_key = '''\n{pem.decode()}'''"
    root = make_site(ARTICLES, extra=NEWSLETTER + f"\n[hooks]\n{line}\n")
    assert config.load(root, env={}).hooks.sendgrid_public_key == keys.sendgrid_public


@pytest.mark.parametrize("what", ["huge", "an EC certificate"])
def test_a_pinned_certificate_must_be_one_rsa_certificate(
    make_site: MakeSite, keys: Keys, what: str
) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER + '\n[hooks]\nses_certificate = "sns.pem"\n')
    if what == "huge":
        (root / "sns.pem").write_bytes(keys.pem * 100)
        says = "not one certificate"
    else:
        key = keys.ecdsa
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")])
        cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(NOW).not_valid_after(NOW + timedelta(days=1))
            .sign(key, hashes.SHA256())
        )  # fmt: skip
        (root / "sns.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        says = "its key is not RSA"
    with pytest.raises(ConfigError, match=says):
        config.load(root, env={})


# -- through a real feedpub serve ------------------------------------------------------------------


@pytest.fixture
def served(site: Site) -> Iterator[str]:
    """`feedpub serve` on 127.0.0.1 with the credentials' variables set: its base URL."""
    server = subprocess.Popen(
        [str(FEEDPUB), "--site", str(site.root), "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**CHILD_ENV, **ENV},
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline().decode()
        assert line.startswith("Serving http://127.0.0.1:"), line
        yield line.split()[1]
    finally:
        server.send_signal(signal.SIGINT)
        try:
            _, err = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()
            raise
    assert server.returncode == 0, err.decode()
    assert b"Traceback" not in err


def http_post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        with refused:
            return refused.code, refused.read().decode()


def test_serve_takes_the_providers_requests(site: Site, keys: Keys, served: str) -> None:
    postmark = json.dumps(sample("postmark-spam-complaint")).encode()
    assert http_post(served + "hooks/postmark", postmark, postmark_headers()) == (
        200,
        "ok: 1 complained\n",
    )
    assert http_post(served + "hooks/postmark", postmark, {})[0] == 401
    # SendGrid's signatures are made now (the server's clock is the real one).
    body = sendgrid_body(sample("sendgrid-events")[5] | {"email": "alice@example.com"})
    headers = sendgrid_headers(body, keys.ecdsa, datetime.now().astimezone())
    assert http_post(served + "hooks/sendgrid", body, headers) == (200, "ok: 1 bounced\n")
    assert http_post(served + "hooks/sendgrid", body, headers)[0] == 403  # replayed
    # Over the limit: refused on its headers, before the body is sent.
    connection = http.client.HTTPConnection(urlsplit(served).netloc, timeout=10)
    try:
        connection.putrequest("POST", "/hooks/sendgrid")
        connection.putheader("Content-Length", str(MAX_BODY + 1))
        connection.endheaders()
        assert connection.getresponse().status == 413
    finally:
        connection.close()
    assert statuses(site) == dict(
        ALL_ACTIVE, **{"john@example.com": "complained", "alice@example.com": "bounced"}
    )
