"""Email messages: the issue's MIME structure and headers, as RFC 5322 wants them."""

from __future__ import annotations

import email.policy
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from feedpub.config import Site

# Headers may run to RFC 5322's 998 characters: folded at 78, the email package would RFC 2047
# encode a long unbreakable value such as List-Unsubscribe's <https://...?t=token> and break it.
POLICY = email.policy.SMTP.clone(max_line_length=998)
UTF8_POLICY = email.policy.SMTPUTF8.clone(max_line_length=998)


def message(
    site: Site,
    subject: str,
    html: str,
    text: str,
    created: datetime,
    message_id: str,
    to: str | None = None,
) -> EmailMessage:
    """A complete email: multipart/alternative, the text part first, then the HTML."""
    newsletter = site.newsletter
    msg = EmailMessage(policy=POLICY)
    msg["From"] = newsletter.from_ or f"{site.newsletter_name} <newsletter@invalid>"
    msg["To"] = to or msg["From"]
    if newsletter.reply_to:
        msg["Reply-To"] = newsletter.reply_to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(created)
    msg["Message-ID"] = message_id
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg
