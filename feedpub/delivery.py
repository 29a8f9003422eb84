"""Handing an issue over for delivery. For now every issue goes to the outbox folder,
``.feedpub/outbox/<n>/``, as a complete email a person or a mail tool can send."""

from __future__ import annotations

import os
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

from .config import Site
from .digest import UNSUBSCRIBE_PLACEHOLDER, message
from .state import IssueRecord, State

OUTBOX = "outbox"


def message_id(site: Site, issue: IssueRecord, recipient: str = "") -> str:
    """The same for an issue and recipient on every try, so a resent copy is a duplicate."""
    host = urlsplit(site.site.url).hostname or "feedpub.invalid"
    who = f".{recipient}" if recipient else ""
    return f"<issue-{issue.number}.{issue.id.rsplit(':', 1)[-1]}{who}@{host}>"


def issue_message(
    site: Site, issue: IssueRecord, to: str | None = None, unsubscribe: str | None = None
) -> EmailMessage:
    link = unsubscribe or site.newsletter.unsubscribe_url or site.site.url
    return message(
        site,
        issue.subject,
        issue.html.replace(UNSUBSCRIBE_PLACEHOLDER, link),
        issue.text.replace(UNSUBSCRIBE_PLACEHOLDER, link),
        datetime.fromisoformat(issue.created),
        message_id(site, issue),
        to,
    )


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_bytes(data)
    os.replace(temp, path)


def to_outbox(site: Site, state: State, issue: IssueRecord, now: datetime) -> Path:
    """Write the issue's email into the outbox and record the issue as sent."""
    path = site.state_dir / OUTBOX / str(issue.number) / f"issue-{issue.number}.eml"
    write_atomically(path, issue_message(site, issue).as_bytes())
    with state.transaction():
        state.issues.mark_sent(issue.number, now.isoformat())
    return path
