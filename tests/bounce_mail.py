"""Messages that come back, built in the shapes real servers send, addressed to our VERP
addresses: a Postfix DSN (RFC 3464), an ARF complaint (RFC 5965), a mail to the unsubscribe
address, an out-of-office reply (RFC 3834), and a site whose sent issue they are about. The
inbox's tests (Maildir, mbox, the pipe, IMAP) share them."""

from __future__ import annotations

from pathlib import Path

from helpers import NEWSLETTER, NOW, load, make_issue, subscribe

from feedpub.config import Site
from feedpub.delivery import verp
from feedpub.delivery.identity import list_id
from feedpub.delivery.sending import send_issue
from feedpub.delivery.tokens import load_secret
from feedpub.store.state import State
from feedpub.store.subscribers import Subscriber

BOUNCE_ADDRESS = "bounces@news.example.org"
BOUNCES = f'\n[smtp]\nbounce_address = "{BOUNCE_ADDRESS}"\n'
SETTINGS_EXTRA = NEWSLETTER + BOUNCES


def people(count: int) -> list[tuple[str, str]]:
    return [(f"reader{i:04}@example.net", f"Reader {i}") for i in range(count)]


def sent_site(root: Path, count: int) -> Site:
    """``root`` (made with SETTINGS_EXTRA) with ``count`` subscribers and issue 1 sent to
    them all (into the outbox)."""
    subscribe(root, people(count))
    make_issue(root)
    site = load(root)
    report = send_issue(site, 1, NOW)
    assert report.sent == count, report
    return site


def subscribers(site: Site) -> dict[str, Subscriber]:
    with State.open(site.state_dir) as state:
        return {s.email: s for s in state.subscribers.iter()}


def address(site: Site, who: Subscriber, purpose: str = "b", issue: int | None = 1) -> str:
    """Our VERP address for ``who``: bounces+TOKEN@ (purpose b) or unsubscribe+TOKEN@ (u)."""
    token = verp.make(load_secret(site.state_dir), list_id(site), purpose, who.token_key, issue)
    local = "bounces" if purpose == "b" else "unsubscribe"
    return f"{local}+{token}@news.example.org"


def original(recipient: str) -> str:
    return (
        "From: Test Weekly <news@news.example.org>\r\n"
        f"To: {recipient}\r\n"
        "Subject: Test Weekly #1: Bravo\r\n"
        "Message-ID: <issue-1.abc@news.example.org>\r\n"
        "List-Id: Test Weekly <test-weekly.news.example.org>\r\n"
        "\r\n"
    )


def dsn(
    to: str,
    recipient: str,
    status: str = "5.1.1",
    serial: int = 0,
    padding: str = "",
    returned: str = "",
) -> bytes:
    """A Postfix bounce: multipart/report with a delivery-status part about ``recipient``,
    given up on ("failed") with ``status`` (a 4.x.x one too: Postfix's after the queue's
    lifetime); ``padding`` lengthens its notification, ``returned`` is the body of the
    original message returned whole (else only its headers are)."""
    action = "failed"
    boundary = f"B{serial:06}.1764580000/mx.example.net"
    text = (
        f"Return-Path: <>\r\n"
        f"Delivered-To: {to}\r\n"
        f"Received: by mx.example.net (Postfix) id 4F{serial:06};\r\n"
        "\tFri, 27 Nov 2026 12:00:00 +0100\r\n"
        f"Date: Fri, 27 Nov 2026 12:00:{serial % 60:02} +0100 (CET)\r\n"
        "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"To: {to}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        f"Message-Id: <20261127110000.4F{serial:06}@mx.example.net>\r\n"
        "\r\n"
        "This is a MIME-encapsulated message.\r\n"
        "\r\n"
        f"--{boundary}\r\n"
        "Content-Description: Notification\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "This is the mail system at host mx.example.net.\r\n"
        "\r\n"
        "I'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients.\r\n"
        "\r\n"
        f"<{recipient}>: host mail.example.net said: 550 {status} <{recipient}>: Recipient\r\n"
        "    address rejected: User unknown in virtual mailbox table\r\n"
        f"{padding}"
        "\r\n"
        f"--{boundary}\r\n"
        "Content-Description: Delivery report\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n"
        f"X-Postfix-Queue-ID: 4F{serial:06}\r\n"
        f"X-Postfix-Sender: rfc822; {to}\r\n"
        "Arrival-Date: Fri, 27 Nov 2026 11:59:58 +0100 (CET)\r\n"
        "\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822;{recipient}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        "Remote-MTA: dns; mail.example.net\r\n"
        f"Diagnostic-Code: smtp; 550 {status} <{recipient}>: Recipient address rejected\r\n"
        "\r\n"
        f"--{boundary}\r\n"
        + (
            "Content-Description: Undelivered Message\r\nContent-Type: message/rfc822\r\n"
            if returned
            else "Content-Description: Undelivered Message Headers\r\n"
            "Content-Type: text/rfc822-headers\r\n"
        )
        + "\r\n"
        f"Return-Path: <{to}>\r\n"
        f"{original(recipient)}"
        f"{returned}"
        f"--{boundary}--\r\n"
    )
    return text.encode()


def arf(to: str, recipient: str) -> bytes:
    """A complaint in ARF (RFC 5965), as a mailbox provider's feedback loop sends it."""
    boundary = "----=_Part_ARF_1"
    return (
        "From: feedback@arf.mail.example.com\r\n"
        f"To: {to}\r\n"
        "Subject: Abuse report\r\n"
        "Date: Fri, 27 Nov 2026 13:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=feedback-report; boundary="{boundary}"\r\n'
        "\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/plain\r\n"
        "\r\n"
        "This is an email abuse report for an email message received from IP 192.0.2.1\r\n"
        "\r\n"
        f"--{boundary}\r\n"
        "Content-Type: message/feedback-report\r\n"
        "\r\n"
        "Feedback-Type: abuse\r\n"
        "User-Agent: ExampleFBL/1.0\r\n"
        "Version: 1\r\n"
        f"Original-Mail-From: <{to}>\r\n"
        f"Original-Rcpt-To: <{recipient}>\r\n"
        "\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/rfc822-headers\r\n"
        "\r\n"
        f"Return-Path: <{to}>\r\n"
        f"{original(recipient)}"
        f"--{boundary}--\r\n"
    ).encode()


def unsubscribe_mail(to: str, sender: str) -> bytes:
    """What a mail client sends for List-Unsubscribe's mailto."""
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: unsubscribe\r\n"
        "Date: Fri, 27 Nov 2026 14:00:00 +0100\r\nMessage-ID: <u1@example.net>\r\n\r\n"
        "unsubscribe\r\n"
    ).encode()


def out_of_office(to: str, sender: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: Out of office: Test Weekly #1\r\n"
        "Auto-Submitted: auto-replied\r\nDate: Fri, 27 Nov 2026 12:05:00 +0100\r\n\r\n"
        "I am away until Monday.\r\n"
    ).encode()
