"""DKIM signing (``[smtp] dkim_key_file``, ``dkim_selector``, ``dkim_domain``): every message
feedpub hands to a transport, through a real relay on loopback (aiosmtpd) or into the outbox, is
signed, and dkimpy's own verifier accepts it against the public key a stub DNS function serves;
a changed byte fails. The settings: all three or none, and a key that can sign, checked as the
settings load, with the file and the fix named."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import dkim
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from helpers import (
    MAIL_ARTICLES,
    MAIL_NEWSLETTER,
    NOW,
    NOW_ARG,
    MakeSite,
    Relay,
    invoke,
    load,
    make_issue,
    parse,
    readers,
    smtp_settings,
    subscribe,
)
from hypothesis import given
from hypothesis import strategies as st

from feedpub import config, dkimkey
from feedpub.delivery import transport
from feedpub.delivery.dkim import Signer
from feedpub.delivery.mailer import flush
from feedpub.delivery.sending import send_issue
from feedpub.delivery.subscribers import normalize
from feedpub.errors import ConfigError, DkimKeyError
from feedpub.store.state import State

SELECTOR = "news2026"
DOMAIN = "news.example.org"  # MAIL_NEWSLETTER's From is news@news.example.org
RECORD_NAME = f"{SELECTOR}._domainkey.{DOMAIN}.".encode()
DKIM_SETTINGS = (
    f'dkim_key_file = "dkim.pem"\ndkim_selector = "{SELECTOR}"\ndkim_domain = "{DOMAIN}"\n'
)
# The headers the brief names, in the order the signature lists them, for an issue.
ISSUE_HEADERS = [
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "mime-version",
    "content-type",
]


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pkcs1(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def dns_for(key: rsa.RSAPrivateKey) -> Callable[..., bytes | None]:
    """A stub of dkimpy's DNS lookup: the TXT record RFC 6376 §3.6.1 has the signer publish at
    SELECTOR._domainkey.DOMAIN, and nothing anywhere else."""
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name == RECORD_NAME else None

    return lookup


def verifies(raw: bytes, key: rsa.RSAPrivateKey) -> bool:
    return bool(dkim.verify(raw, dnsfunc=dns_for(key)))


def signature_tags(raw: bytes) -> dict[str, str]:
    message = parse(raw)
    assert len(message.get_all("DKIM-Signature") or []) == 1
    value = re.sub(r"\s+", "", str(message["DKIM-Signature"]))
    return dict(tag.split("=", 1) for tag in value.split(";") if tag)


def signed_site(
    make_site: MakeSite, key: rsa.RSAPrivateKey, port: int | None, extra: str = ""
) -> Path:
    """A site that signs with ``key``: through the relay on ``port``, or (None) the outbox."""
    smtp = smtp_settings(port, connections=1, extra=DKIM_SETTINGS) if port else ""
    if port is None:
        smtp = "\n[smtp]\n" + DKIM_SETTINGS
    root = make_site(MAIL_ARTICLES, extra=MAIL_NEWSLETTER + extra + smtp)
    (root / "dkim.pem").write_bytes(pkcs1(key))
    return root


@pytest.fixture
def relay(start_relay: Callable[..., Relay]) -> Relay:
    return start_relay()


# -- what is signed, and that it verifies ----------------------------------------------------


def test_each_issue_message_through_the_relay_is_signed_and_verifies(
    relay: Relay, make_site: MakeSite, runner: CliRunner, key: rsa.RSAPrivateKey
) -> None:
    root = signed_site(make_site, key, relay.port)
    subscribe(root, readers(3))
    make_issue(root)

    result = invoke(runner, "--site", root, "send", "--now", NOW_ARG)

    assert result.exit_code == 0, result.output
    received = relay.handler.received()
    assert len(received) == 3
    for _, raw in received:
        assert verifies(raw, key)
        tags = signature_tags(raw)
        assert (tags["a"], tags["c"], tags["d"], tags["s"]) == (
            "rsa-sha256",
            "relaxed/relaxed",
            DOMAIN,
            SELECTOR,
        )
        assert tags["h"].split(":") == [*ISSUE_HEADERS, "feedback-id"]
        assert parse(raw)["Feedback-ID"]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"Alpha", b"Alpho"),  # a byte of the body (the article's title)
        (b"Subject: ", b"Subject: Re: "),
        (b"From: ", b"From: x"),
        (b"List-Unsubscribe: <", b"List-Unsubscribe: <x"),
        (b"\r\n\r\n", b"\r\n\r\nAdded first line.\r\n"),
    ],
    ids=["body", "subject", "from", "list-unsubscribe", "a-line-added-to-the-body"],
)
def test_a_changed_byte_fails_verification(
    relay: Relay,
    make_site: MakeSite,
    runner: CliRunner,
    key: rsa.RSAPrivateKey,
    old: bytes,
    new: bytes,
) -> None:
    root = signed_site(make_site, key, relay.port)
    subscribe(root, readers(1))
    make_issue(root)
    assert invoke(runner, "--site", root, "send", "--now", NOW_ARG).exit_code == 0
    [(_, raw)] = relay.handler.received()
    signature_end = raw.index(b"\r\n", raw.index(b"b=")) + 2
    assert verifies(raw, key)

    head, rest = raw[:signature_end], raw[signature_end:]
    assert old in rest
    assert not verifies(head + rest.replace(old, new, 1), key)


def test_relaxed_canonicalization_survives_a_relay_refolding_headers(
    relay: Relay, make_site: MakeSite, runner: CliRunner, key: rsa.RSAPrivateKey
) -> None:
    # What relaxed/relaxed is for (RFC 6376 §3.4.2): whitespace a relay changes in a header.
    root = signed_site(make_site, key, relay.port)
    subscribe(root, readers(1))
    make_issue(root)
    assert invoke(runner, "--site", root, "send", "--now", NOW_ARG).exit_code == 0
    [(_, raw)] = relay.handler.received()

    assert verifies(raw.replace(b"Subject: ", b"Subject:   ", 1), key)


def test_another_key_under_the_selector_fails(
    relay: Relay, make_site: MakeSite, runner: CliRunner, key: rsa.RSAPrivateKey
) -> None:
    root = signed_site(make_site, key, relay.port)
    subscribe(root, readers(1))
    make_issue(root)
    assert invoke(runner, "--site", root, "send", "--now", NOW_ARG).exit_code == 0
    [(_, raw)] = relay.handler.received()

    other = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    assert not verifies(raw, other)


def queue_mail(root: Path, kind: str, address: str, status: str) -> None:
    """A subscriber of ``status`` and one ``kind`` mail owed to them, as the web app queues it."""
    email_, key_ = normalize(address)
    with State.open(load(root).state_dir) as state, state.transaction():
        who = state.subscribers.insert(email_, key_, "", status, NOW.isoformat(), "form")
        state.outgoing.add(kind, who.id, NOW.isoformat())


def test_confirmations_and_welcomes_are_signed_with_the_headers_they_have(
    relay: Relay, make_site: MakeSite, key: rsa.RSAPrivateKey
) -> None:
    root = signed_site(make_site, key, relay.port)
    queue_mail(root, "confirm", "pending@example.net", "pending")
    queue_mail(root, "welcome", "active@example.net", "active")

    report = flush(load(root), NOW)

    assert (report.sent, report.error) == (2, None)
    by_rcpt = dict(relay.handler.received())
    for rcpt, list_message in (("pending@example.net", False), ("active@example.net", True)):
        raw = by_rcpt[rcpt]
        assert verifies(raw, key)
        signed = signature_tags(raw)["h"].split(":")
        assert ("list-unsubscribe" in signed) is list_message
        assert ("list-id" in signed) is list_message
        assert {"from", "to", "subject", "date", "message-id", "content-type"} <= set(signed)


def test_the_outbox_and_a_test_copy_are_signed_too(
    make_site: MakeSite, runner: CliRunner, key: rsa.RSAPrivateKey
) -> None:
    root = signed_site(make_site, key, None)
    subscribe(root, readers(2))
    make_issue(root)

    test = invoke(runner, "--site", root, "send", "--test", "editor@example.org")
    sent = invoke(runner, "--site", root, "send", "--now", NOW_ARG)

    assert (sent.exit_code, test.exit_code) == (0, 0), sent.output + test.output
    files = sorted((root / ".feedpub" / "outbox").glob("*/*.eml"))
    assert len(files) == 3
    for path in files:
        assert verifies(path.read_bytes(), key), path


def test_a_message_not_ascii_is_signed_and_verifies(key: rsa.RSAPrivateKey) -> None:
    # An SMTPUTF8 message (RFC 6532): the address and the name in UTF-8 as they are.
    raw = (
        "From: Zeitung <news@news.example.org>\r\nTo: Jürgen <jürgen@exämple.de>\r\n"
        "Subject: =?utf-8?q?Caf=C3=A9?=\r\nDate: Fri, 27 Nov 2026 12:00:00 +0100\r\n"
        "Message-ID: <a@news.example.org>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n\r\nGrüße\r\n'
    ).encode()
    signer = Signer(SELECTOR.encode(), DOMAIN.encode(), pkcs1(key))

    assert verifies(signer.sign(raw), key)


def test_a_site_that_does_not_sign_gets_its_transports_unwrapped(
    make_site: MakeSite, key: rsa.RSAPrivateKey
) -> None:
    plain = load(make_site(MAIL_ARTICLES, extra=MAIL_NEWSLETTER, folder="plain"))
    signing = load(signed_site(make_site, key, None))

    assert transport.factory("outbox", plain) is transport.outbox_transports
    [made] = transport.factory("outbox", signing)(signing, "1")
    assert isinstance(made, transport.SignedTransport)


def test_a_key_gone_after_loading_stops_the_send_before_anything_is_recorded(
    relay: Relay, make_site: MakeSite, key: rsa.RSAPrivateKey
) -> None:
    root = signed_site(make_site, key, relay.port)
    subscribe(root, readers(2))
    make_issue(root)
    site = load(root)
    (root / "dkim.pem").unlink()

    with pytest.raises(DkimKeyError, match=r"dkim\.pem does not exist"):
        send_issue(site, 1, NOW)

    with State.open(site.state_dir) as state:
        assert state.issues.counts(1) == {}
    assert relay.handler.count() == 0


# -- the settings -----------------------------------------------------------------------------


def site_with(make_site: MakeSite, smtp: str, key_bytes: bytes | None = None) -> Path:
    root = make_site(MAIL_ARTICLES, extra=MAIL_NEWSLETTER + "\n[smtp]\n" + smtp)
    if key_bytes is not None:
        (root / "dkim.pem").write_bytes(key_bytes)
    return root


def line_of(root: Path, setting: str) -> int:
    lines = (root / "feedpub.toml").read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.startswith(setting + " "))


def errors_of(root: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config.load(root, env={})
    return [f"{p.line}: {p.message}" for p in info.value.problems]


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        (["dkim_key_file"], ["dkim_selector", "dkim_domain"]),
        (["dkim_selector"], ["dkim_key_file", "dkim_domain"]),
        (["dkim_domain"], ["dkim_key_file", "dkim_selector"]),
        (["dkim_key_file", "dkim_selector"], ["dkim_domain"]),
        (["dkim_key_file", "dkim_domain"], ["dkim_selector"]),
        (["dkim_selector", "dkim_domain"], ["dkim_key_file"]),
    ],
    ids=lambda names: "+".join(n.removeprefix("dkim_") for n in names),
)
def test_all_three_settings_or_none(
    make_site: MakeSite, key: rsa.RSAPrivateKey, given: list[str], missing: list[str]
) -> None:
    values = {"dkim_key_file": "dkim.pem", "dkim_selector": SELECTOR, "dkim_domain": DOMAIN}
    smtp = "".join(f'{name} = "{values[name]}"\n' for name in given)
    root = site_with(make_site, smtp, pkcs1(key))

    found = errors_of(root)

    assert len(found) == len(missing)
    for message, name in zip(found, missing, strict=True):
        assert f"[smtp] {name} is missing" in message
        assert "DKIM needs all three (or none); add " + name in message


def openssl_key(bits: int) -> bytes:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: it makes the short key cryptography refuses to")
    made = subprocess.run(
        ["openssl", "genrsa", str(bits)], capture_output=True, check=True, timeout=60
    )
    return made.stdout


def rsa_key(bits: int) -> bytes:
    return pkcs1(rsa.generate_private_key(public_exponent=65537, key_size=bits))


BAD_KEYS: dict[str, tuple[Callable[[], bytes | None], str]] = {
    "missing": (lambda: None, r"dkim\.pem does not exist; give the path"),
    "empty": (lambda: b"", "holds no PEM private key"),
    "garbage": (lambda: b"not a key at all\n" * 10, "holds no PEM private key"),
    "binary": (lambda: bytes(range(256)) * 4, "holds no PEM private key"),
    "truncated": (lambda: rsa_key(2048)[:600], "holds no PEM private key"),
    "public-key": (
        lambda: (
            rsa.generate_private_key(public_exponent=65537, key_size=1024)
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
        ),
        "holds no PEM private key",
    ),
    "huge": (lambda: b"A" * (65 * 1024), "is over 64 KB"),
    "passphrase": (
        lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        ),
        "is protected by a passphrase",
    ),
    "ec-key": (
        lambda: ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        "holds an EC key, and feedpub signs with RSA",
    ),
    "512-bits": (lambda: openssl_key(512), "holds a 512-bit RSA key: receivers ignore"),
    "4104-bits": (lambda: rsa_key(4104), "holds a 4104-bit RSA key: receivers need not"),
}


@pytest.mark.parametrize("case", BAD_KEYS, ids=str)
def test_a_key_that_cannot_sign_is_refused_when_the_settings_load(
    make_site: MakeSite, case: str
) -> None:
    make, expected = BAD_KEYS[case]
    root = site_with(make_site, DKIM_SETTINGS, make())

    [found] = errors_of(root)

    assert re.search(expected, found), found
    assert found.startswith(f"{line_of(root, 'dkim_key_file')}: [smtp] dkim_key_file: ")
    assert str(root / "dkim.pem") in found
    assert "openssl" in found  # the fix


def test_a_folder_or_a_device_is_no_key_file(make_site: MakeSite) -> None:
    root = site_with(make_site, DKIM_SETTINGS)
    (root / "dkim.pem").mkdir()
    assert "is not a file" in errors_of(root)[0]

    device = site_with(make_site, DKIM_SETTINGS.replace("dkim.pem", "/dev/zero"))
    assert "/dev/zero is not a file" in errors_of(device)[0]


@pytest.mark.skipif(
    os.geteuid() == 0, reason="root reads any file: an unreadable key cannot be made"
)
def test_an_unreadable_key_names_the_fix(make_site: MakeSite, key: rsa.RSAPrivateKey) -> None:
    root = site_with(make_site, DKIM_SETTINGS, pkcs1(key))
    (root / "dkim.pem").chmod(0)
    assert "cannot be read by the user feedpub runs as" in errors_of(root)[0]


@pytest.mark.parametrize(
    "form",
    ["pkcs1", "pkcs8", "crlf"],
)
def test_the_usual_key_files_are_read(
    make_site: MakeSite, key: rsa.RSAPrivateKey, form: str
) -> None:
    data = pkcs1(key)
    if form == "pkcs8":
        data = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    elif form == "crlf":  # saved on Windows: dkimpy itself finds no key in it
        data = data.replace(b"\n", b"\r\n")
    root = site_with(make_site, DKIM_SETTINGS, data)

    site = config.load(root, env={})

    assert dkimkey.read_key(root / site.smtp.dkim_key_file) == pkcs1(key)


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("dkim_selector", "two words", "is not a DKIM selector"),
        ("dkim_selector", "-news", "is not a DKIM selector"),
        ("dkim_selector", "news..2026", "is not a DKIM selector"),
        ("dkim_selector", "x" * 64, "is not a DKIM selector"),
        ("dkim_selector", "news\\u0000", "is not a DKIM selector"),
        ("dkim_domain", "localhost", "is not a domain name"),
        ("dkim_domain", "news example.org", "is not a domain name"),
        ("dkim_domain", "news.example.org/dkim", "is not a domain name"),
        ("dkim_domain", "a" * 64 + ".org", "is not a domain name"),
        ("dkim_domain", ("a" * 60 + ".") * 5 + "org", "is not a domain name"),
    ],
    ids=lambda value: str(value)[:20],
)
def test_a_malformed_selector_or_domain_names_the_setting(
    make_site: MakeSite, key: rsa.RSAPrivateKey, setting: str, value: str, expected: str
) -> None:
    smtp = re.sub(rf'{setting} = "[^"]*"', lambda _: f'{setting} = "{value}"', DKIM_SETTINGS)
    root = site_with(make_site, smtp, pkcs1(key))

    found = errors_of(root)

    assert any(f"[smtp] {setting} " in m and expected in m for m in found), found


def test_an_international_domain_is_kept_in_its_idna_form(
    make_site: MakeSite, key: rsa.RSAPrivateKey
) -> None:
    smtp = DKIM_SETTINGS.replace(DOMAIN, "Zeitung.Bücher.example")
    root = site_with(make_site, smtp, pkcs1(key))
    assert config.load(root, env={}).smtp.dkim_domain == "zeitung.xn--bcher-kva.example"


@pytest.mark.parametrize(
    ("domain", "warned"),
    [
        (DOMAIN, False),
        ("example.org", False),  # a parent: relaxed alignment
        ("mail.news.example.org", False),  # a subdomain
        ("ws.example.org", False),  # the same organisational domain, as far as can be told
        ("other.example", True),
        ("news.example.net", True),
    ],
)
def test_a_domain_dmarc_would_not_align_is_warned_about(
    make_site: MakeSite, key: rsa.RSAPrivateKey, domain: str, warned: bool
) -> None:
    root = site_with(make_site, DKIM_SETTINGS.replace(DOMAIN, domain), pkcs1(key))
    site = config.load(root, env={})
    messages = [w.message for w in site.warnings if "dkim_domain" in w.message]
    assert bool(messages) is warned
    if warned:
        assert "DMARC" in messages[0] and "From address's domain" in messages[0]


def test_feedpub_check_reports_a_bad_key_with_its_line(
    make_site: MakeSite, runner: CliRunner
) -> None:
    root = site_with(make_site, DKIM_SETTINGS, b"-----BEGIN RSA PRIVATE KEY-----\nxx\n")

    result = invoke(runner, "--site", root, "check")

    assert result.exit_code == 1
    line = line_of(root, "dkim_key_file")
    assert f"feedpub.toml:{line}: error: [smtp] dkim_key_file: " in result.output
    assert "holds no PEM private key" in result.output
    assert "Traceback" not in result.output


@given(data=st.binary(max_size=4096))
def test_any_bytes_in_the_key_file_are_a_clear_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:  # a fixture's folder is one for every example
        path = Path(folder) / "dkim.pem"
        path.write_bytes(data)
        with pytest.raises(DkimKeyError, match="holds no PEM private key"):
            dkimkey.read_key(path)


def test_a_retried_message_is_signed_again_and_verifies(
    relay: Relay, make_site: MakeSite, key: rsa.RSAPrivateKey
) -> None:
    # Each try signs the bytes it hands over (their Date is when they are handed over).
    root = signed_site(make_site, key, relay.port)
    subscribe(root, readers(1))
    make_issue(root)
    relay.handler.refuse["reader000@example.net"] = ("450 4.2.0 mailbox busy", 1)

    first = send_issue(load(root), 1, NOW)
    second = send_issue(load(root), 1, NOW + timedelta(hours=1))

    assert (first.deferred, second.sent) == (1, 1)
    [(_, raw)] = relay.handler.received()
    assert verifies(raw, key)
