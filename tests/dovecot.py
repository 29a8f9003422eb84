"""A throwaway Dovecot IMAP server on 127.0.0.1 for the inbox's tests: its own settings in a
temporary folder, one passwd-file user, a self-signed certificate made at test time with
cryptography, a free port, TLS only. Needs Debian's dovecot-imapd (the README's test command
installs it); ``start`` skips, saying so, only when the binary is missing."""

from __future__ import annotations

import contextlib
import datetime
import imaplib
import ipaddress
import os
import pwd
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from helpers import free_port

USER = "bounces"
PASSWORD = "imap-Pa55word"


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or next(
        (p for p in ("/usr/sbin/dovecot",) if Path(p).is_file()), None
    )


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key (P-256: quick)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


@dataclass
class Dovecot:
    """A running server: connect with ``client()``; ``ca_file`` verifies it."""

    root: Path
    port: int
    ca_file: Path
    process: subprocess.Popen[bytes] = field(repr=False)
    user: str = USER
    password: str = PASSWORD

    def client(self) -> imaplib.IMAP4_SSL:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        conn = imaplib.IMAP4_SSL("127.0.0.1", self.port, ssl_context=context, timeout=20)
        conn.login(self.user, self.password)
        return conn

    def append(self, messages: list[bytes], folder: str = "INBOX") -> None:
        conn = self.client()
        try:
            for data in messages:
                kind, reply = conn.append(folder, None, None, data)
                assert kind == "OK", reply
        finally:
            conn.logout()

    def folder(self, name: str) -> list[bytes]:
        """Every message in ``name`` (the server's own name: "feedpub.processed"), in UID
        order; [] when there is no such folder."""
        conn = self.client()
        try:
            kind, _ = conn.select(f'"{name}"', readonly=True)
            if kind != "OK":
                return []
            _, found = conn.uid("SEARCH", "UNDELETED")
            found_uids = found[0].split() if found and found[0] else []
            bodies: list[bytes] = []
            for uid in found_uids:
                _, data = conn.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
                item = data[0]
                assert isinstance(item, tuple)
                bodies.append(item[1])
            return bodies
        finally:
            conn.logout()

    def uidvalidity(self, name: str = "INBOX") -> str:
        conn = self.client()
        try:
            conn.select(f'"{name}"', readonly=True)
            _, found = conn.response("UIDVALIDITY")
            return str(found[-1].decode())
        finally:
            conn.logout()

    def set_uidvalidity(self, value: int, name: str = "INBOX") -> None:
        """Give the folder a new UIDVALIDITY, as a server does when it rebuilds its index."""
        doveadm = shutil.which("doveadm") or "/usr/bin/doveadm"
        command = [doveadm, "-c", str(self.root / "dovecot.conf"), "mailbox", "update"]
        command += ["--uid-validity", str(value), "-u", self.user, name]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def start(capability: str = "") -> Dovecot:
    """A fresh server with an empty mailbox. ``capability``: what it announces after login
    instead of its own list (to leave out MOVE or UIDPLUS)."""
    binary = dovecot_binary()
    if binary is None:
        pytest.skip(
            "dovecot is not installed: the IMAP tests run a real server; install Debian's "
            "dovecot-imapd (apt-get install -y dovecot-imapd)"
        )
    # Not under pytest's tmp_path: as root, Dovecot's own users (its auth process, the mail
    # user) must be able to walk to its files, and tmp_path's parents are private.
    root = Path(tempfile.mkdtemp(prefix="feedpub-dovecot-"))
    root.chmod(0o755)
    cert, key = _certificate(root)
    mail = root / "mail"
    mail.mkdir()
    # A throwaway user of a throwaway server: its password is stored as it is.
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    (root / "passwd").chmod(0o644)
    me = pwd.getpwuid(os.getuid())
    if os.getuid() == 0:
        # Dovecot refuses to run mail processes as root: the mail belongs to nobody.
        nobody = pwd.getpwnam("nobody")
        uid, gid = nobody.pw_uid, nobody.pw_gid
        os.chown(mail, uid, gid)
        users = ""
    else:
        uid, gid = me.pw_uid, me.pw_gid
        users = f"default_internal_user = {me.pw_name}\ndefault_login_user = {me.pw_name}\n"
    port = free_port()
    settings = f"""\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
instance_name = feedpub-test-{port}
{users}protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = yes
auth_mechanisms = plain
first_valid_uid = {min(uid, 100)}
mail_location = maildir:{mail}/%u
{f"imap_capability = {capability}" if capability else ""}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""
    (root / "dovecot.conf").write_text(settings)
    with (root / "dovecot.out").open("wb") as output:
        process = subprocess.Popen(
            [binary, "-F", "-c", str(root / "dovecot.conf")], stdout=output, stderr=output
        )
    server = Dovecot(root, port, cert, process)
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            errors = (root / "dovecot.out").read_text(errors="replace")
            log = server.log()
            shutil.rmtree(root, ignore_errors=True)
            raise AssertionError(f"dovecot did not start: {errors}\n{log}")
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            server.client().logout()
            return server
        if time.monotonic() > deadline:
            server.stop()
            raise AssertionError(f"dovecot did not answer within 30 s:\n{server.log()}")
        time.sleep(0.05)
