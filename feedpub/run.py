"""The orchestration behind the commands: ``feedpub run``, the cron entry point (build, make the
issue that is due, hand it over), ``feedpub issue new``, which makes an issue the same way,
``feedpub issue preview``, and the what-if of the first two (``--dry-run``), which does the same
on throwaway copies."""

from __future__ import annotations

import filecmp
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import NamedTuple

from feedpub.config import CONFIG_NAME, Site
from feedpub.content.bodies import Bodies
from feedpub.dates import for_people
from feedpub.delivery.inbox import InboxReport, read_configured
from feedpub.delivery.mailer import FlushReport, flush
from feedpub.delivery.messages import preview_message
from feedpub.delivery.sending import SendReport, plan, send_issue, send_tests, unfinished
from feedpub.errors import DeliveryError, InboxError, IssueError, IssueRefused, SiteError
from feedpub.lock import LOCK_NAME, SiteLock
from feedpub.newsletter.checks import Finding, LeftOut, check_issue, errors, left_out
from feedpub.newsletter.digest import GMAIL_CLIP_BYTES
from feedpub.newsletter.figures import RateWarning, news
from feedpub.newsletter.issues import (
    Draft,
    attempted,
    compose,
    create,
    due,
    edit,
    pass_moment,
    sendable,
    state_of,
    waiting,
)
from feedpub.newsletter.topics import TopicEditions
from feedpub.private import write_private
from feedpub.site import websub
from feedpub.site.build import BuildReport, load_catalog, publish, read_catalog
from feedpub.site.websub import PingReport
from feedpub.store.events import KEEP_RECEIVED_DAYS
from feedpub.store.issues import IssueRecord
from feedpub.store.state import STATE_NAME, State
from feedpub.store.whatif import copy_state
from feedpub.text import plural


@dataclass
class NewIssue:
    """What making the next issue did: the issue made, or why none was, and the build that put
    it in the site's archive."""

    draft: Draft | None = None
    build: BuildReport | None = None
    last: int | None = None  # the last issue's number, when no issue was made
    notes: list[str] = field(default_factory=list)
    # The pre-send checks' findings on the issue made (issue new), or why the due one was not.
    findings: list[Finding] = field(default_factory=list)
    refused: IssueRefused | None = None


def new_issue(
    site: Site,
    state: State,
    now: datetime,
    note: str = "",
    when_due: bool = False,
    started: float | None = None,
    send_at: datetime | None = None,
) -> NewIssue:
    """Compose the next issue from the articles no earlier issue carried, record it, and publish
    the site so that its archive shows it. With ``when_due`` (the cron tick) only if the schedule
    says one is due and [newsletter] min_items articles wait, and the site is published either
    way; with ``send_at``, the issue is held until then. The caller holds the site lock."""
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
        if when_due:
            # The cron tick refuses an issue with an error before recording it: its articles
            # wait, and the editor fixes them before the next run.
            try:
                # With review on, the reviewers see the findings in the review copy instead.
                screen = None if site.newsletter.review else _screen(site)
                made.draft = create(site, state, catalog, now, note, screen, send_at)
            except IssueRefused as refused:
                made.refused = refused
        else:
            made.draft = create(site, state, catalog, now, note, send_at=send_at)
    if made.draft is None and not when_due:
        last = state.issues.last()
        made.last = last.number if last else None
        return made
    made.build = publish(site, state, loaded, now, started)
    if made.draft is not None and not when_due:
        # Checked once built: its links against the public/ that has its articles' pages.
        record = state.issues.get(made.draft.number)
        made.findings = issue_findings(site, record)
    return made


def issue_findings(site: Site, record: IssueRecord, left: LeftOut | None = None) -> list[Finding]:
    """The pre-send checks' findings on ``record``; for the upcoming issue (not recorded yet)
    with the articles it would leave out (``left``, from next_issue). Gmail's clip is left to
    the digest's own warning when the HTML is over it as stored already, so that it is told
    once."""
    found = check_issue(site, record, left)
    if len(record.html.encode()) > GMAIL_CLIP_BYTES:
        found = [f for f in found if f.code != "gmail-clip"]
    return found


def _screen(site: Site) -> Callable[[IssueRecord], None]:
    def screen(record: IssueRecord) -> None:
        if wrong := errors(check_issue(site, record)):
            raise IssueRefused(record.number, False, [f.explained() for f in wrong])

    return screen


def refusal(site: Site, state: State, number: int) -> IssueRefused | None:
    """Why issue ``number`` may not start going out: its error-level findings. None once a
    message of it was tried (a send under way finishes what it started), and for an issue
    approved after review (the reviewers saw the findings in the review copy)."""
    # Rows only pending or skipped: a start the relay refused at once; nothing went out.
    if attempted(state.issues.counts(number)):
        return None
    record = state.issues.get(number)
    if record.review == "approved":
        return None
    if not (wrong := errors(check_issue(site, record))):
        return None
    return IssueRefused(number, True, [f.explained() for f in wrong])


class Upcoming(NamedTuple):
    """The issue ``issue new`` would make now, as it would be stored, the digest's warnings and
    the articles it would leave out."""

    record: IssueRecord
    warnings: tuple[str, ...]
    left: LeftOut


def next_issue(
    site: Site, state: State, now: datetime, note: str = "", subject: str | None = None
) -> Upcoming | None:
    """The issue ``issue new`` would make now (with ``note`` and, if given, the editor's own
    ``subject``); None if it would be empty. Nothing is recorded. IssueError without a
    [newsletter] section. The catalog is read, and what waits found, once for the issue and
    what it leaves out."""
    need_newsletter(site)
    catalog = load_catalog(site, state, now)
    bodies = Bodies(site)
    draft = compose(site, state, catalog, now, note, bodies, subject)
    if draft is None:
        return None
    left = left_out(site, state, catalog, now, draft.candidates)
    return Upcoming(draft.record(bodies), draft.digest.warnings, left)


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


def need_newsletter(site: Site) -> None:
    """IssueError for a site without a [newsletter] section: no issue is made (nor imagined by
    a dry run) of a newsletter that run and status say there is none of."""
    if not site.has_newsletter:
        raise IssueError(
            f"{CONFIG_NAME} has no [newsletter] section, so there is no newsletter to make an "
            "issue of; add a [newsletter] section (name, from, schedule: see the README's "
            '"The newsletter") first'
        )


def issue_new(
    site: Site, now: datetime, note: str = "", send_at: datetime | None = None
) -> NewIssue:
    """``feedpub issue new``: the next issue, under the site lock (LockBusy if it is held);
    with ``send_at``, held until then. IssueError without a [newsletter] section."""
    need_newsletter(site)
    with SiteLock(site.state_dir, "issue new"), State.open(site.state_dir) as state:
        return new_issue(site, state, now, note, send_at=send_at)


@dataclass
class EditedIssue:
    """An issue changed by ``issue edit``, the digest's warnings, and the build that put it in
    the site's archive."""

    record: IssueRecord
    warnings: tuple[str, ...]
    build: BuildReport
    findings: list[Finding] = field(default_factory=list)  # the pre-send checks', as changed


def issue_edit(
    site: Site, now: datetime, number: int, subject: str | None, note: str | None
) -> EditedIssue:
    """``feedpub issue edit``: change an issue nothing was sent for and publish the site, so
    that its web version is the issue as changed; under the site lock."""
    with SiteLock(site.state_dir, "issue edit"), State.open(site.state_dir) as state:
        record, warnings = edit(site, state, number, now, subject, note)
        build = publish(site, state, read_catalog(site, state, now), now)
        findings = issue_findings(site, record)
    return EditedIssue(record, warnings, build, findings)


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
    review_error: DeliveryError | None = None  # why a review copy did not go (the next run tries)
    # Issues the pre-send checks kept from going out (the due one unmade, or one not started).
    refused: list[IssueRefused] = field(default_factory=list)
    pings: PingReport | None = None  # the WebSub hub told of the feeds that changed


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
        if made.refused is not None:
            report.refused.append(made.refused)
        if made.draft is not None:
            report.created = made.draft.number
            report.warnings.extend(made.draft.digest.warnings)
        # The feeds first: their readers need no issue to be told. A hub that is down holds up
        # nothing (the pings wait in the state for the next run).
        report.pings = websub.ping(site, state)
        report.review_error = review(site, state, now, report.notes)
        for number in unfinished(state):
            record = state.issues.get(number)
            if not sendable(record, now):
                standing = state_of(record, state.issues.counts(number), now, site.tz)
                if standing.word == "scheduled":
                    report.notes.append(f"issue {number} is {standing}")
                continue
            if (refused := refusal(site, state, number)) is not None:
                report.refused.append(refused)
                continue
            editions = TopicEditions(site)
            report.sends.append(send_issue(site, number, now, progress, begin, editions=editions))
            if report.sends[-1].error:
                break  # the relay (or the outbox) failed: the next issue would fail the same way
        report.rate_warnings = news(state, now)
    return report


def review_preface(site: Site, record: IssueRecord) -> list[str]:
    """What a review copy says above the issue: how to approve it (or change it), and what the
    pre-send checks found."""
    findings = check_issue(site, record)
    return [
        f"approve with: feedpub issue approve {record.number}",
        f"This is the review copy of issue {record.number}: readers get nothing until it is "
        f"approved. To change it: feedpub issue edit {record.number} --subject TEXT --note FILE",
        *(
            [f"Pre-send checks: {plural(len(findings), 'finding')}"]
            + [found.explained() for found in findings]
            if findings
            else ["Pre-send checks: nothing found"]
        ),
    ]


def review(site: Site, state: State, now: datetime, notes: list[str]) -> DeliveryError | None:
    """Send each issue waiting for review its review copy, once, to [newsletter] reviewers, and
    say of each that waits for approval; why a copy did not go (the next run sends it)."""
    reviewers = [parseaddr(address)[1] for address in site.newsletter.reviewers]
    for number in unfinished(state):
        record = state.issues.get(number)
        if record.review != "waiting":
            continue
        approve = f"feedpub issue approve {number}"
        if record.reviewed is not None:
            when = for_people(datetime.fromisoformat(record.reviewed), site.tz)
            notes.append(
                f"issue {number} waits for approval (review copy sent {when} to "
                f"{plural(len(reviewers), 'reviewer')}); approve it with: {approve}"
            )
            continue
        if not reviewers:
            # Review was turned off (or its reviewers removed) after the issue was made.
            notes.append(
                f"issue {number} waits for approval, and [newsletter] reviewers is empty: no "
                f"review copy went; approve it with: {approve}"
            )
            continue
        try:
            send_tests(site, record, reviewers, preface=review_preface(site, record))
        except DeliveryError as exc:
            return exc
        with state.transaction():
            state.issues.set_review(number, "waiting", now.isoformat())
        notes.append(
            f"Sent the review copy of issue {number} to {plural(len(reviewers), 'reviewer')}; "
            f"readers get it once it is approved: {approve}"
        )
    return None


@dataclass(frozen=True)
class WouldSend:
    """What a send of one issue would do: its state (state_of) and the readers it would reach."""

    number: int
    state: str
    to_send: int
    done: int
    deferred: int
    skipped: int
    waits: bool = False  # held (in review, or until its send_at): no run would send it yet


@dataclass(frozen=True)
class OutputChanges:
    """How the output folder would change: files added, changed and removed."""

    added: int
    changed: int
    removed: int


@dataclass
class WhatIf:
    """What ``run --dry-run`` (or ``issue new --dry-run``) found a run would do at ``now``; it
    was done on copies, so nothing of the site's was recorded, built or sent."""

    made: NewIssue
    output: OutputChanges | None = None
    sends: list[WouldSend] = field(default_factory=list)
    held: list[str] = field(default_factory=list)  # issues a run would not start, and why
    # Issues the pre-send checks would keep from going out (the due one unmade among them).
    refused: list[IssueRefused] = field(default_factory=list)
    mail_owed: int = 0  # confirmations and welcomes a run would send first
    inbox: bool = False  # whether a run would read the inbox


def what_if(
    site: Site,
    now: datetime,
    whole_run: bool = True,
    note: str = "",
    send_at: datetime | None = None,
) -> WhatIf:
    """What ``run`` (``whole_run``) or ``issue new`` would do at ``now``, found by doing it on
    throwaway copies of the state and the output folder: the site's state database, output and
    outbox are not touched, no mail is sent and the inbox is not read. Takes no lock: it writes
    nothing a running command reads."""
    if not whole_run:
        need_newsletter(site)
    with tempfile.TemporaryDirectory(prefix="feedpub-what-if-") as folder:
        copy = _sandbox(site, Path(folder))
        with State.open(copy.state_dir) as state:
            made = new_issue(copy, state, now, note, when_due=whole_run, send_at=send_at)
            found = WhatIf(made, inbox=whole_run and site.has_inbox)
            if made.refused is not None:
                found.refused.append(made.refused)
            if whole_run:
                found.mail_owed = state.outgoing.due(now.isoformat())
                numbers = unfinished(state)
            else:
                numbers = [made.draft.number] if made.draft is not None else []
            editions = TopicEditions(copy)
            for number in numbers:
                record = state.issues.get(number)
                standing = state_of(record, state.issues.counts(number), now, site.tz)
                if whole_run and not sendable(record, now):
                    found.held.append(f"issue {number} is {standing}")
                    continue
                if whole_run and (refused := refusal(copy, state, number)) is not None:
                    found.refused.append(refused)
                    continue
                counts = plan(state, record, now, editions)
                found.sends.append(
                    WouldSend(
                        number,
                        str(standing),
                        counts["to_send"],
                        counts["done"],
                        counts["waiting"],
                        counts.get("skipped", 0),
                        not sendable(record, now),
                    )
                )
        if made.build is not None:
            found.output = _changes(site.output_dir, copy.output_dir)
    return found


def _sandbox(site: Site, folder: Path) -> Site:
    """The site working on copies in ``folder``: the state database (a consistent copy), the
    state folder's small files (the secret, the list id: links and headers as the site makes
    them) and the output folder (what the build compares against)."""
    copy = replace(site, sandbox=folder)
    state_dir = copy.state_dir
    try:
        if copy_state(site.state_dir, state_dir):
            for entry in os.scandir(site.state_dir):
                name = entry.name
                if name.startswith(STATE_NAME) or name == LOCK_NAME or not entry.is_file(
                    follow_symlinks=False
                ):
                    continue
                shutil.copy2(entry.path, state_dir / name)
        else:
            state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if site.output_dir.is_dir():
            shutil.copytree(site.output_dir, copy.output_dir, symlinks=True)
    except shutil.Error as exc:  # copytree: every file it could not copy, with why
        source, _, why = exc.args[0][0]
        raise _no_copy(site, folder, source, str(why)) from None
    except OSError as exc:
        raise _no_copy(site, folder, exc.filename or folder, exc.strerror or str(exc)) from None
    return copy


def _no_copy(site: Site, folder: Path, source: object, why: str) -> SiteError:
    return SiteError(
        f"the dry run cannot copy {source} into {folder}: {why}; it works on copies of the "
        f"state and of {site.output_dir}: make room in {folder.parent} (or set TMPDIR to a "
        "folder with room), or remove what cannot be copied"
    )


def _files(top: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder, _, names in os.walk(top):
        for name in names:
            path = Path(folder, name)
            found[str(path.relative_to(top))] = path
    return found


def _changes(live: Path, built: Path) -> OutputChanges:
    before, after = _files(live), _files(built)
    changed = sum(
        1
        for name in before.keys() & after.keys()
        if not filecmp.cmp(before[name], after[name], shallow=False)
    )
    return OutputChanges(
        len(after.keys() - before.keys()), changed, len(before.keys() - after.keys())
    )
