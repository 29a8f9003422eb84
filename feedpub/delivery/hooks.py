"""The providers' webhooks: ``POST /hooks/ses`` (Amazon SES's notifications through SNS),
``/hooks/postmark``, ``/hooks/mailgun`` and ``/hooks/sendgrid``. Owns each provider's check
that a request is its own and the mapping of its payload to ``events.Event``; what an event
does is ``events``'s, the routing ``web``'s.

Each request is checked before anything in it is acted on, or read past what the check
needs: Postmark's basic-auth credentials before the body; SendGrid's ECDSA signature over the
raw body; the SNS envelope's RSA signature (the fields it signs, with the certificate from its
SigningCertURL, taken only from an https host ``sns.<the topic's region>.amazonaws.com``)
before its Message; Mailgun's HMAC, which sits inside the JSON, before its event. Mailgun's
and SendGrid's timestamps must be within ``MAX_SKEW`` of now, and each signature is taken once
(a key in ``received``), so a request caught on the way cannot be played again; SNS resends a
message as it was, so its MessageId is what makes a resend harmless, and a message older than
``MAX_SNS_AGE`` (well within the ids' 90 days) is refused as stale. Every event is applied
once, by the provider's event id (``received``); a duplicate is answered as a success, so
that the provider stops sending it.

Answers: 200 (done, a duplicate, or nothing to do), 400 malformed, 401 (Postmark's
credentials missing or wrong), 403 forged, stale or replayed, 404 not set up in ``[hooks]``,
405 not a POST, 413 over ``MAX_BODY``, 503 (the state is busy, or a credential's variable is
unset: the provider tries again later). Each is a short text, never a traceback.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from feedpub.config import Site
from feedpub.delivery import verp
from feedpub.delivery.events import Applied, Event, apply_many
from feedpub.delivery.identity import list_id
from feedpub.delivery.messages import feedback_id
from feedpub.errors import HookRefused
from feedpub.store.events import one_line
from feedpub.store.state import State

PROVIDERS = ("ses", "postmark", "mailgun", "sendgrid")
# A request body is read up to this: SendGrid's batches (up to a few hundred KB) are the
# largest; anything over it is refused unread.
MAX_BODY = 1_000_000
# Mailgun's and SendGrid's signed timestamps may be this far from now, either way (seconds).
MAX_SKEW = 300
# An SNS message signed longer ago than this is refused: SNS's retries end within days, and
# the MessageIds that make a resend harmless are kept for KEEP_RECEIVED_DAYS, so no old
# message can be played again once its id is forgotten.
MAX_SNS_AGE = timedelta(days=30)
# SNS's certificates are fetched with this timeout, up to this size, and kept this many.
FETCH_TIMEOUT = 10
MAX_FETCHED = 65_536
KEPT_CERTIFICATES = 16
# An address, an id or a token longer than this is no provider's.
MAX_FIELD = 1000
# SNS's hosts: sns.<region>.amazonaws.com, and .com.cn for the China regions.
_SNS_HOST = re.compile(r"sns\.[a-z]{2}(?:-[a-z]+)+-\d{1,2}\.amazonaws\.com(?:\.cn)?")
# The fields SNS signs, in its order, per message type ("Subject" only when present).
_SNS_SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
_SNS_SIGNED["UnsubscribeConfirmation"] = _SNS_SIGNED["SubscriptionConfirmation"]
_SNS_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "1": hashes.SHA1,
    "2": hashes.SHA256,
}
# Postmark's bounce types that say something about the address (the rest, auto-responders,
# address changes, challenge mails and Postmark's own errors, say nothing).
_POSTMARK_BOUNCES = {
    "HardBounce": "hard",
    "BadEmailAddress": "hard",
    "SoftBounce": "soft",
    "Transient": "soft",
    "DnsError": "soft",
    "Blocked": "soft",
    "DMARCPolicy": "soft",
    "SpamComplaint": "complaint",
    "Unsubscribe": "unsubscribe",
}
# Why Postmark suppressed an address (SubscriptionChange); a manual suppression counts as the
# reader's unsubscribe only when it is theirs (Origin "Recipient": Postmark's own link).
_POSTMARK_SUPPRESSIONS = {"HardBounce": "hard", "SpamComplaint": "complaint"}
# SendGrid drops a message to an address on its suppression lists; the list says why.
_SENDGRID_DROPS = {
    "Bounced Address": "hard",
    "Invalid": "hard",
    "Spam Reporting Address": "complaint",
    "Unsubscribed Address": "unsubscribe",
}
_SENDGRID_SIGNATURE = "x-twilio-email-event-webhook-signature"
_SENDGRID_TIMESTAMP = "x-twilio-email-event-webhook-timestamp"

Fetch = Callable[[str], bytes]
Opener = Callable[[], AbstractContextManager[State]]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """SNS's URLs answer themselves: a redirect would lead off the host that was checked."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def fetch(url: str) -> bytes:
    """GET ``url`` over verified TLS (the caller has checked it is an SNS host's), following no
    redirect: its body, at most ``MAX_FETCHED`` bytes. Tests replace it (``Hooks(fetch=)``):
    AWS cannot be reached from them."""
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, headers={"User-Agent": "feedpub"})
    try:
        with opener.open(request, timeout=FETCH_TIMEOUT) as response:
            data: bytes = response.read(MAX_FETCHED + 1)
    except (OSError, ValueError) as exc:  # URLError and HTTPError are OSErrors
        raise HookRefused(503, f"cannot reach {urlsplit(url).hostname}: {exc}") from None
    if len(data) > MAX_FETCHED:
        raise HookRefused(403, f"{urlsplit(url).hostname} answered over {MAX_FETCHED} bytes")
    return data


@dataclass(frozen=True)
class Answer:
    """What a webhook request gets: the status, a short text, headers; ``log`` is for the
    server's log only (what the site's owner must fix); ``applied`` what the events did."""

    status: int
    text: str
    headers: Mapping[str, str] = field(default_factory=dict)
    log: str = ""
    applied: tuple[Applied, ...] = ()


@dataclass(frozen=True)
class _Batch:
    """What a verified request asks: its events, and the key its signature takes once ('':
    none; ``exclusive``: before the events, in a transaction of its own)."""

    events: list[Event]
    once: str = ""
    exclusive: bool = False
    skipped: int = 0  # malformed entries of a batch, left out


def _str(mapping: Mapping[str, Any], key: str) -> str:
    value = mapping.get(key)
    return value if isinstance(value, str) and len(value) <= MAX_FIELD else ""


def _text(mapping: Mapping[str, Any], key: str) -> str:
    """A descriptive field (a diagnostic, a reason): cut short, not dropped, when long."""
    value = mapping.get(key)
    return value[:MAX_FIELD] if isinstance(value, str) else ""


def _dict(mapping: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = mapping.get(key)
    return value if isinstance(value, dict) else {}


def _detail(*parts: object) -> str:
    return one_line(" ".join(str(p) for p in parts if isinstance(p, str | int) and str(p)))


def _json(body: bytes | str, what: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # bad JSON or UTF-8, huge numbers; too deep
        raise HookRefused(400, f"{what} is not JSON") from None


def _json_object(body: bytes | str, what: str) -> dict[str, Any]:
    data = _json(body, what)
    if not isinstance(data, dict):
        raise HookRefused(400, f"{what} is not a JSON object")
    return data


def _fresh(timestamp: str, now: datetime) -> None:
    """A signed timestamp (Unix seconds) within MAX_SKEW of ``now``."""
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise HookRefused(403, "the signature's timestamp is not a time")
    if abs(now.timestamp() - int(timestamp)) > MAX_SKEW:
        raise HookRefused(403, f"stale: signed more than {MAX_SKEW} seconds from now")


class Hooks:
    """The four webhooks of one site. ``env`` holds the credentials' variables (default:
    the process's environment, read at each request); ``fetch`` gets SNS's certificates and
    subscription URLs (tests give their own)."""

    def __init__(
        self, site: Site, env: Mapping[str, str] | None = None, fetch: Fetch = fetch
    ) -> None:
        self.site = site
        self.env = os.environ if env is None else env
        self.fetch = fetch
        self.lock = threading.Lock()
        # SigningCertURL -> its key, for each certificate verified once (SNS uses few).
        self.certificates: dict[str, rsa.RSAPublicKey] = {}
        self.pinned: x509.Certificate | None = None
        self.sendgrid: ec.EllipticCurvePublicKey | None = None  # parsed at its first request

    def configured(self, provider: str) -> bool:
        """Whether ``[hooks]`` sets ``provider``'s endpoint up (else it answers 404)."""
        hooks = self.site.hooks
        return {
            "ses": bool(hooks.ses_topic_arn),
            "postmark": bool(hooks.postmark_username_env and hooks.postmark_password_env),
            "mailgun": bool(hooks.mailgun_key_env),
            "sendgrid": bool(hooks.sendgrid_public_key),
        }.get(provider, False)

    def handle(
        self,
        provider: str,
        headers: Mapping[str, str],
        read: Callable[[], bytes],
        state: Opener,
        now: datetime,
    ) -> Answer:
        """Answer one POST of ``provider`` (configured) with ``headers`` (names lowercase);
        ``read`` gives the body (at most MAX_BODY bytes, else it raises HookRefused 413), read
        only once the headers pass; ``state`` opens the state, only once the request is
        verified. A busy state raises StateError (the caller answers 503)."""
        try:
            if provider == "postmark":
                self._postmark_auth(headers)  # before a byte of the body is read
                batch = self._postmark(read())
            elif provider == "mailgun":
                batch = self._mailgun(read(), now)
            elif provider == "sendgrid":
                batch = self._sendgrid(headers, read(), now)
            else:
                found = self._ses(read(), now)
                if isinstance(found, Answer):
                    return found
                batch = found
            return self._apply(provider, batch, state, now)
        except HookRefused as exc:
            challenge = {"WWW-Authenticate": 'Basic realm="feedpub"'} if exc.status == 401 else {}
            log = str(exc) if exc.status >= 500 else ""
            text = "not ready; try again later" if exc.status >= 500 else str(exc)
            return Answer(exc.status, text, challenge, log)

    def _apply(self, provider: str, batch: _Batch, opener: Opener, now: datetime) -> Answer:
        once = Event("ignored", provider, key=batch.once) if batch.once else None
        with opener() as state:
            if once is not None and batch.exclusive:
                # Mailgun signs only a timestamp and a token, not the body: the token is taken
                # before the events, alone, so that a second body can never come with it.
                (taken,) = apply_many(self.site, [once], now, state)
                if taken.change == "duplicate":
                    raise HookRefused(403, "replayed: this signature was used before")
                once = None
            events = ([once] if once is not None else []) + batch.events
            applied = apply_many(self.site, events, now, state) if events else []
        if once is not None:
            taken, *applied = applied
            if taken.change == "duplicate":
                # The same signed body again, whose events were applied (duplicates now).
                raise HookRefused(403, "replayed: this signature was used before")
        counts = Counter(a.change for a in applied)
        parts = [f"{n} {change}" for change, n in sorted(counts.items())]
        if batch.skipped:
            parts.append(f"{batch.skipped} malformed, skipped")
        text = "ok: " + (", ".join(parts) if parts else "nothing to act on")
        return Answer(200, text, applied=tuple(applied))

    def _secret(self, setting: str) -> str:
        """The value of the variable ``[hooks] setting`` names (a 503 while it is unset)."""
        name = getattr(self.site.hooks, setting)
        value = self.env.get(name, "")
        if not value:
            raise HookRefused(
                503,
                f"[hooks] {setting} names the environment variable {name}, which is not set "
                "in the web app's environment; set it and restart the web app",
            )
        return value

    # -- Amazon SES, through SNS ----------------------------------------------------------------
    def _ses(self, body: bytes, now: datetime) -> _Batch | Answer:
        envelope = _json_object(body, "the SNS message")
        kind = _str(envelope, "Type")
        if kind not in _SNS_SIGNED:
            raise HookRefused(400, "the SNS message's Type is none SNS sends")
        if envelope.get("TopicArn") != self.site.hooks.ses_topic_arn:
            raise HookRefused(403, "not the topic [hooks] ses_topic_arn names")
        self._sns_verify(envelope, kind, now)
        if kind == "SubscriptionConfirmation":
            url = _str(envelope, "SubscribeURL")
            _sns_url(url, "SubscribeURL", self.site.hooks.ses_topic_arn)
            self.fetch(url)
            return Answer(200, "ok: subscription confirmed")
        if kind == "UnsubscribeConfirmation":
            return Answer(200, "ok: nothing to act on")
        message_id = _str(envelope, "MessageId")
        if not message_id:
            raise HookRefused(400, "the SNS message has no MessageId")
        try:
            notification = json.loads(envelope["Message"])
        except (ValueError, RecursionError):
            notification = None
        if not isinstance(notification, dict):
            # Signed by SNS for our topic, but not SES's: a test message from the console.
            return Answer(200, "ok: not an SES notification, nothing to act on")
        return _Batch(_ses_events(self.site, notification, f"ses:{message_id}"))

    def _sns_verify(self, envelope: Mapping[str, Any], kind: str, now: datetime) -> None:
        digest = _SNS_HASHES.get(str(envelope.get("SignatureVersion")))
        if digest is None:
            raise HookRefused(403, "the SNS message's SignatureVersion is neither 1 nor 2")
        url = _str(envelope, "SigningCertURL")
        _sns_url(url, "SigningCertURL", self.site.hooks.ses_topic_arn)
        signed = []
        for name in _SNS_SIGNED[kind]:
            value = envelope.get(name)
            if name == "Subject" and value is None:
                continue
            if not isinstance(value, str):
                raise HookRefused(400, f"the SNS message has no {name}")
            signed.append(f"{name}\n{value}\n")
        try:
            signature = base64.b64decode(str(envelope.get("Signature")), validate=True)
        except (binascii.Error, ValueError):
            raise HookRefused(403, "the SNS message's Signature is not base64") from None
        key = self._sns_key(url, now)
        try:
            key.verify(signature, "".join(signed).encode(), padding.PKCS1v15(), digest())
        except InvalidSignature:
            raise HookRefused(403, "forged: the SNS signature does not verify") from None
        _sns_fresh(str(envelope["Timestamp"]), now)

    def _sns_key(self, url: str, now: datetime) -> rsa.RSAPublicKey:
        """The key of ``[hooks] ses_certificate`` when set, else of the certificate at
        ``url`` (fetched once), valid at ``now``."""
        if self.site.hooks.ses_certificate:
            if self.pinned is None:
                path = self.site.root / self.site.hooks.ses_certificate
                try:
                    self.pinned = x509.load_pem_x509_certificate(path.read_bytes())
                except (OSError, ValueError) as exc:
                    raise HookRefused(
                        503, f"[hooks] ses_certificate {path} cannot be read: {exc}"
                    ) from None
            return _rsa_key(self.pinned, now)
        with self.lock:
            known = self.certificates.get(url)
        if known is not None:
            return known
        try:
            certificate = x509.load_pem_x509_certificate(self.fetch(url))
        except ValueError:
            raise HookRefused(403, "the SigningCertURL holds no PEM certificate") from None
        key = _rsa_key(certificate, now)
        with self.lock:
            if len(self.certificates) >= KEPT_CERTIFICATES:
                self.certificates.clear()
            self.certificates[url] = key
        return key

    # -- Postmark ----------------------------------------------------------------------------
    def _postmark_auth(self, headers: Mapping[str, str]) -> None:
        user = self._secret("postmark_username_env").encode()
        password = self._secret("postmark_password_env").encode()
        given = headers.get("authorization", "")
        scheme, _, credentials = given.partition(" ")
        if scheme.lower() != "basic" or not credentials:
            raise HookRefused(401, "this webhook takes basic-auth credentials")
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise HookRefused(401, "the credentials are not base64") from None
        name, colon, secret = decoded.partition(b":")
        # Both compared whatever the first says, each in constant time.
        same_name = hmac.compare_digest(name, user)
        same_secret = hmac.compare_digest(secret, password)
        if not (colon and same_name and same_secret):
            raise HookRefused(401, "wrong credentials")

    def _postmark(self, body: bytes) -> _Batch:
        record = _json_object(body, "the body")
        kind = _str(record, "RecordType")
        if kind in ("Bounce", "SpamComplaint"):
            number = record.get("ID")
            if not isinstance(number, int | str) or not str(number).isdigit():
                raise HookRefused(400, f"the {kind} has no ID")
            what = "complaint" if kind == "SpamComplaint" else _POSTMARK_BOUNCES.get(
                _str(record, "Type"), ""
            )
            if not what:
                return _Batch([])
            detail = _detail(_str(record, "Type"), _text(record, "Details"))
            event = Event(
                what, "postmark", detail, address=_str(record, "Email"), key=f"postmark:{number}"
            )
            return _Batch([event])
        if kind == "SubscriptionChange":
            if record.get("SuppressSending") is not True:
                return _Batch([])  # a reactivation: the reader comes back through us only
            reason = _str(record, "SuppressionReason")
            what = _POSTMARK_SUPPRESSIONS.get(reason, "")
            if reason == "ManualSuppression" and _str(record, "Origin") == "Recipient":
                what = "unsubscribe"
            address = _str(record, "Recipient")
            if not what:
                return _Batch([])
            message = _str(record, "MessageID") or f"{address}:{_str(record, 'ChangedAt')}"
            detail = _detail(reason, _str(record, "Origin"))
            key = f"postmark:SubscriptionChange:{message}"
            return _Batch([Event(what, "postmark", detail, address=address, key=key)])
        return _Batch([])  # deliveries, opens, clicks: nothing to act on

    # -- Mailgun -----------------------------------------------------------------------------
    def _mailgun(self, body: bytes, now: datetime) -> _Batch:
        key = self._secret("mailgun_key_env").encode()
        payload = _json_object(body, "the body")
        signed = _dict(payload, "signature")
        timestamp = signed.get("timestamp")
        timestamp = str(timestamp) if isinstance(timestamp, int | str) else ""
        token, signature = _str(signed, "token"), _str(signed, "signature")
        if not (timestamp and token and signature):
            raise HookRefused(403, "unsigned: no signature with timestamp and token")
        expected = hmac.new(key, (timestamp + token).encode(), hashlib.sha256).hexdigest()
        if not signature.isascii() or not hmac.compare_digest(expected, signature.lower()):
            raise HookRefused(403, "forged: the signature does not verify")
        _fresh(timestamp, now)
        data = payload.get("event-data")
        if not isinstance(data, dict):
            raise HookRefused(400, "the body has no event-data")
        once = f"mailgun-token:{hashlib.sha256(token.encode()).hexdigest()}"
        name, event_id = _str(data, "event"), _str(data, "id")
        if not event_id:
            raise HookRefused(400, "the event has no id")
        what = ""
        if name == "failed":
            what = {"permanent": "hard", "temporary": "soft"}.get(_str(data, "severity"), "")
        elif name in ("complained", "unsubscribed"):
            what = "complaint" if name == "complained" else "unsubscribe"
        if not what:
            return _Batch([], once, exclusive=True)
        status = _dict(data, "delivery-status")
        detail = _detail(
            status.get("code"),
            _text(status, "message") or _text(status, "description") or _text(data, "reason"),
        )
        sender = _str(_dict(data, "envelope"), "sender")
        event = Event(
            what,
            "mailgun",
            detail,
            token=_token(self.site, sender),
            address=_str(data, "recipient"),
            key=f"mailgun:{event_id}",
        )
        return _Batch([event], once, exclusive=True)

    # -- SendGrid ----------------------------------------------------------------------------
    def _sendgrid(self, headers: Mapping[str, str], body: bytes, now: datetime) -> _Batch:
        given = headers.get(_SENDGRID_SIGNATURE, "")
        timestamp = headers.get(_SENDGRID_TIMESTAMP, "")
        if not given or not timestamp:
            raise HookRefused(403, "unsigned: no X-Twilio-Email-Event-Webhook-Signature")
        try:
            signature = base64.b64decode(given.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise HookRefused(403, "the signature is not base64") from None
        key = self.sendgrid
        if key is None:
            loaded = load_der_public_key(base64.b64decode(self.site.hooks.sendgrid_public_key))
            assert isinstance(loaded, ec.EllipticCurvePublicKey)  # config's check
            key = self.sendgrid = loaded
        try:
            key.verify(signature, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, UnicodeEncodeError):
            raise HookRefused(403, "forged: the signature does not verify") from None
        _fresh(timestamp, now)
        entries = _json(body, "the body")
        if not isinstance(entries, list):
            raise HookRefused(400, "the body is not a JSON array of events")
        events: list[Event] = []
        skipped = 0
        for entry in entries:
            if not isinstance(entry, dict) or not _str(entry, "sg_event_id"):
                skipped += 1
                continue
            found = _sendgrid_event(entry)
            if found is not None:
                events.append(found)
        once = f"sendgrid-signature:{hashlib.sha256(signature).hexdigest()}"
        return _Batch(events, once, skipped=skipped)


def _sendgrid_event(entry: Mapping[str, Any]) -> Event | None:
    name = _str(entry, "event")
    what = ""
    if name == "bounce":
        # "blocked": the receiving server refused the sender, not the address (reputation,
        # content): soft. Payloads older than "type" say it by the status's class.
        kind = _str(entry, "type") or ("bounce" if _str(entry, "status")[:1] == "5" else "")
        what = {"bounce": "hard", "blocked": "soft"}.get(kind, "soft")
    elif name == "dropped":
        what = _SENDGRID_DROPS.get(_str(entry, "reason"), "")
    elif name == "spamreport":
        what = "complaint"
    elif name in ("unsubscribe", "group_unsubscribe"):
        what = "unsubscribe"
    if not what:
        return None
    detail = _detail(_str(entry, "status"), _text(entry, "reason"))
    key = f"sendgrid:{_str(entry, 'sg_event_id')}"
    return Event(what, "sendgrid", detail, address=_str(entry, "email"), key=key)


def _ses_events(site: Site, note: Mapping[str, Any], key: str) -> list[Event]:
    """The events of one SES notification (or event-publishing record), each with ``key``."""
    kind = _str(note, "notificationType") or _str(note, "eventType")
    mail = _dict(note, "mail")
    destination = mail.get("destination")
    # The envelope sender is ours when it is a VERP address: it names the one recipient of
    # that message (feedpub sends each message to one), whatever address bounced.
    single = isinstance(destination, list) and len(destination) == 1
    token = _token(site, _str(mail, "source")) if single else ""
    found: list[tuple[str, str, str]] = []  # (kind, address, detail)
    if kind == "Bounce":
        bounce = _dict(note, "bounce")
        what = "hard" if _str(bounce, "bounceType") == "Permanent" else "soft"
        for recipient in _list(bounce, "bouncedRecipients"):
            detail = _detail(
                _str(recipient, "status"),
                _text(recipient, "diagnosticCode")
                or f"{_str(bounce, 'bounceType')} {_str(bounce, 'bounceSubType')}",
            )
            found.append((what, _str(recipient, "emailAddress"), detail))
    elif kind == "Complaint":
        complaint = _dict(note, "complaint")
        detail = _detail(
            _str(complaint, "complaintFeedbackType") or "complaint", _text(complaint, "userAgent")
        )
        for recipient in _list(complaint, "complainedRecipients"):
            found.append(("complaint", _str(recipient, "emailAddress"), detail))
    elif kind == "Subscription":
        # SES's own list management: the reader left through SES's unsubscribe link.
        preferences = _dict(_dict(note, "subscription"), "newTopicPreferences")
        if preferences.get("unsubscribeAll") is True and isinstance(destination, list):
            for address in destination:
                if isinstance(address, str):
                    found.append(("unsubscribe", address, "unsubscribeAll"))
    one = len(found) == 1
    issue = _feedback_issue(site, mail.get("headers")) if found else None
    return [
        Event(
            what, "ses", detail, token=token if one else "", address=address, issue=issue, key=key
        )
        for what, address, detail in found
    ]


def _feedback_issue(site: Site, headers: object) -> int | None:
    """The issue the message's Feedback-ID names (``N:list:sender``, as feedpub writes it for
    this list), when SES passes the original headers on: what a report without our VERP
    token is about. None when there is none."""
    if not isinstance(headers, list):
        return None
    tail = feedback_id(site, "", list_id(site)).removeprefix("Feedback-ID: ").strip()
    for header in headers:
        if not isinstance(header, dict) or _str(header, "name").lower() != "feedback-id":
            continue
        value = _str(header, "value").strip()
        number = value.removesuffix(tail) if value.endswith(tail) else ""
        if number.isascii() and number.isdigit() and len(number) <= 9:
            return int(number)
    return None


def _list(mapping: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    value = mapping.get(key)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _token(site: Site, address: str) -> str:
    """The bounce token in ``address`` when it is this site's VERP bounce address, else ''."""
    found = verp.address_token(site, address) if address else None
    return found[1] if found is not None and found[0] == verp.BOUNCE else ""


def _sns_url(url: str, what: str, topic: str) -> None:
    """``url`` is https on the SNS host of ``topic``'s region (sns.<region>.amazonaws.com,
    .com.cn in the China regions), with no credentials and no other port, or a 403."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        parts, port = None, None
    region = topic.split(":")[3] if topic.count(":") >= 5 else ""
    host = (parts.hostname or "") if parts is not None else ""
    china = topic.startswith("arn:aws-cn:")
    if (
        parts is None
        or parts.scheme != "https"
        or not _SNS_HOST.fullmatch(host)
        or host.split(".")[1] != region
        or host.endswith(".cn") != china
        or parts.username is not None
        or port not in (None, 443)
        or (what == "SigningCertURL" and not parts.path.endswith(".pem"))
    ):
        raise HookRefused(403, f"the {what} is not an https URL of the topic's Amazon SNS host")


def _sns_fresh(stamp: str, now: datetime) -> None:
    """SNS's signed Timestamp (ISO 8601, UTC) within MAX_SNS_AGE before ``now`` and at most
    MAX_SKEW after it."""
    try:
        signed = datetime.fromisoformat(stamp)
    except ValueError:
        raise HookRefused(400, "the SNS message's Timestamp is not a time") from None
    if signed.tzinfo is None:
        signed = signed.replace(tzinfo=UTC)
    age = now - signed
    if age > MAX_SNS_AGE or age < -timedelta(seconds=MAX_SKEW):
        raise HookRefused(403, f"stale: signed {age.days} days from now")


def _rsa_key(certificate: x509.Certificate, now: datetime) -> rsa.RSAPublicKey:
    moment = now.astimezone(UTC)
    if not certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc:
        raise HookRefused(403, "the SNS signing certificate is not valid now")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise HookRefused(403, "the SNS signing certificate's key is not RSA")
    return key

