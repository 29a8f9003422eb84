"""The orchestration behind the commands: ``feedpub run``, the cron entry point (build, make the
issue that is due, hand it over), ``feedpub issue new``, which makes an issue the same way, and
``feedpub issue preview``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from feedpub.config import CONFIG_NAME, Site
from feedpub.content.bodies import Bodies
from feedpub.delivery.inbox import InboxReport, read_configured
from feedpub.delivery.mailer import FlushReport, flush
from feedpub.delivery.messages import preview_message
from feedpub.delivery.sending import SendReport, send_issue, unfinished
from feedpub.errors import InboxError, IssueError
from feedpub.lock import SiteLock
from feedpub.newsletter.figures import RateWarning, news
from feedpub.newsletter.issues import Draft, compose, create, due, pass_moment, waiting
from feedpub.newsletter.topics import TopicEditions
from feedpub.private import write_private
from feedpub.site.build import BuildReport, load_catalog, publish, read_catalog
from feedpub.store.events import KEEP_RECEIVED_DAYS
from feedpub.store.issues import IssueRecord
from feedpub.store.state import State
from feedpub.text import plural


@dataclass
class NewIssue:
    """What making the next issue did: the issue made, or why none was, and the build that put
    it in the site's archive."""

    draft: Draft | None = None
    build: BuildReport | None = None
    last: int | None = None  # the last issue's number, when no issue was made
    notes: list[str] = field(default_factory=list)


def new_issue(
    site: Site,
    state: State,
    now: datetime,
    note: str = "",
    when_due: bool = False,
    started: float | None = None,
) -> NewIssue:
    """Compose the next issue from the articles no earlier issue carried, record it, and publish
    the site so that its archive shows it. With ``when_due`` (the cron tick) only if the schedule
    says one is due and [newsletter] min_items articles wait, and the site is published either
    way. The caller holds the site lock."""
    made = NewIssue()
    loaded = read_catalog(site, state, now)
    catalog = loaded.catalog
    wanted = True
    if when_due:
        when = due(site, state, now)
        if not when.due:
            made.notes.append(f"no new issue: {when.reason}")
            wanted = False
        else:
            count = len(waiting(site, state, catalog, now))
            least = site.newsletter.min_items
            if count < least:
                assert when.moment is not None
                pass_moment(state, when.moment)
                made.notes.append(
                    f"no new issue: {when.reason}, but {plural(count, 'article')} waiting "
                    f"and [newsletter] min_items is {least}"
                )
                wanted = False
    if wanted:
        made.draft = create(site, state, catalog, now, note)
    if made.draft is None and not when_due:
        last = state.issues.last()
        made.last = last.number if last else None
        return made
    made.build = publish(site, state, loaded, now, started)
    return made


def next_issue(
    site: Site, state: State, now: datetime
) -> tuple[IssueRecord, tuple[str, ...]] | None:
    """The issue ``issue new`` would make now, as it would be stored, and the digest's warnings;
    None if it would be empty. Nothing is recorded."""
    catalog = load_catalog(site, state, now)
    bodies = Bodies(site)
    draft = compose(site, state, catalog, now, "", bodies)
    if draft is None:
        return None
    return draft.record(bodies), draft.digest.warnings


def write_preview(site: Site, record: IssueRecord, now: datetime) -> list[Path]:
    """The issue as HTML, text and the email itself in .feedpub/preview/, for ``issue preview``:
    the email is the message a subscriber gets (a sample one, messages.SAMPLE), dated ``now``."""
    folder = site.state_dir / "preview"
    stem = folder / f"issue-{record.number}"
    files = {
        stem.with_suffix(".html"): record.html.encode(),
        stem.with_suffix(".txt"): record.text.encode(),
        stem.with_suffix(".eml"): preview_message(site, record, now),
    }
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for path, data in files.items():
        write_private(path, data)
    return list(files)


def issue_new(site: Site, now: datetime, note: str = "") -> NewIssue:
    """``feedpub issue new``: the next issue, under the site lock (LockBusy if it is held);
    IssueError without a [newsletter] section, as run and status have no newsletter then."""
    if not site.has_newsletter:
        raise IssueError(
            f"{CONFIG_NAME} has no [newsletter] section, so there is no newsletter to make an "
            "issue of; add a [newsletter] section (name, from, schedule: see the README's "
            '"The newsletter") first'
        )
    with SiteLock(site.state_dir, "issue new"), State.open(site.state_dir) as state:
        return new_issue(site, state, now, note)


@dataclass
class RunReport:
    build: BuildReport | None = None
    created: int | None = None
    sends: list[SendReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    mail: FlushReport | None = None  # the confirmations and welcomes still owed, sent
    inbox: InboxReport | None = None  # the bounces, complaints and unsubscribes read
    inbox_error: InboxError | None = None  # why the inbox could not be read (the rest went on)
    # Recent issues whose complaint or bounce rate is over its limit, not told before.
    rate_warnings: list[RateWarning] = field(default_factory=list)


def run(
    site: Site,
    now: datetime,
    progress: Callable[[int], None] | None = None,
    begin: Callable[[int], None] | None = None,
) -> RunReport:
    """One cron tick. Holds the site lock throughout (LockBusy if another command has it)."""
    started = time.perf_counter()
    report = RunReport()
    with SiteLock(site.state_dir, "run"), State.open(site.state_dir) as state:
        # Before the issue: a reader who signed up waits for this mail, and an issue to a long
        # list takes a while. What the web process's sender has not sent yet goes now.
        report.mail = flush(site, now)
        # Before the issue, so that it skips whoever bounced or complained since the last one.
        # An inbox that cannot be read (the IMAP server down) holds up nothing else.
        if site.has_inbox:
            try:
                report.inbox = read_configured(site, now, state)
            except InboxError as exc:
                report.inbox_error = exc
        with state.transaction():
            state.events.prune((now - timedelta(days=KEEP_RECEIVED_DAYS)).isoformat())
        made = new_issue(site, state, now, when_due=True, started=started)
        report.build, report.notes = made.build, made.notes
        if made.draft is not None:
            report.created = made.draft.number
            report.warnings.extend(made.draft.digest.warnings)
        for number in unfinished(state):
            editions = TopicEditions(site)
            report.sends.append(send_issue(site, number, now, progress, begin, editions=editions))
            if report.sends[-1].error:
                break  # the relay (or the outbox) failed: the next issue would fail the same way
        report.rate_warnings = news(state, now)
    return report
