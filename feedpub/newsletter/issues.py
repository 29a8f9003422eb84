"""Newsletter issues: compose each from exactly the published articles no earlier issue carried.

Tracking is by feed id, never by date: an article backdated or added late still goes into the
next issue, and an article that went out once never goes out again (the state refuses it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo

from feedpub.config import Site
from feedpub.content.bodies import Bodies, image_url
from feedpub.content.catalog import Catalog
from feedpub.dates import for_people
from feedpub.errors import IssueError
from feedpub.model import Article
from feedpub.newsletter.digest import Digest, IssueView, issue_id, render
from feedpub.newsletter.schedule import Schedule
from feedpub.newsletter.topics import StoredBodies, as_article
from feedpub.store.issues import IssueItem, IssueRecord
from feedpub.store.state import State
from feedpub.text import name_key, plural


@dataclass(frozen=True)
class Draft:
    """A composed issue before (or without) being recorded."""

    number: int
    created: datetime
    articles: tuple[Article, ...]
    note: str
    digest: Digest
    # Every article that waited when it was composed, oldest first: its own and those over
    # max_items, left for later issues.
    candidates: tuple[Article, ...]

    @property
    def waiting(self) -> int:
        """How many articles it leaves for later issues (over max_items)."""
        return len(self.candidates) - len(self.articles)

    def record(self, bodies: Bodies) -> IssueRecord:
        items = tuple(
            IssueItem(
                article_id=a.feed_id,
                title=a.title,
                link=a.link,
                date=a.date.isoformat(),
                authors=a.authors,
                summary=bodies.summary(a),
                # Kept with the issue: each reader's copy is cut by the tags (topics), and
                # made from the issue, with the picture the digest showed.
                tags=a.tags,
                image=image_url(a, bodies.site.site.url) or "",
            )
            for a in self.articles
        )
        return IssueRecord(
            number=self.number,
            id=issue_id(self.number, self.articles),
            created=self.created.isoformat(),
            status="ready",
            subject=self.digest.subject,
            note=self.note,
            html=self.digest.html,
            text=self.digest.text,
            sent=None,
            items=items,
        )


def _wanted(site: Site, article: Article) -> bool:
    # A tag is named as the catalog groups it: "C++" is not "c", "School Board" is "school board".
    tags = {name_key(t) for t in article.tags}
    only = {name_key(t) for t in site.newsletter.tags}
    never = {name_key(t) for t in site.newsletter.exclude_tags}
    return (not only or bool(tags & only)) and not tags & never


def waiting(site: Site, state: State, catalog: Catalog, now: datetime) -> list[Article]:
    """Published articles no issue carried yet, oldest first, that the newsletter wants.

    The archive never floods the newsletter: before the first issue only articles dated within
    the last ``lookback_days`` count; after it, an article dated before the first issue's window
    goes out only if feedpub first published it after the first issue (it was added late or
    backdated).
    """
    carried = state.issues.carried_ids()
    first = state.issues.first()
    started = datetime.fromisoformat(first.created) if first else None
    window = (started or now) - timedelta(days=site.newsletter.lookback_days)
    first_seen = state.first_published() if started else {}

    def recent(article: Article) -> bool:
        if article.date >= window:
            return True
        if started is None:
            return False
        seen = first_seen.get(article.feed_id)
        return seen is None or seen > started

    chosen = [
        a for a in catalog.articles if a.feed_id not in carried and _wanted(site, a) and recent(a)
    ]
    chosen.sort(key=lambda a: (a.date, a.feed_id))
    return chosen


def _newest_first(article: Article) -> tuple[float, str]:
    return (-article.date.timestamp(), article.feed_id)


def compose(
    site: Site,
    state: State,
    catalog: Catalog,
    now: datetime,
    note: str = "",
    bodies: Bodies | None = None,
    subject: str | None = None,
) -> Draft | None:
    """The next issue from what waits (at most ``max_items``, oldest first); None if nothing.
    ``subject``: the editor's own instead of [newsletter] subject's."""
    check_subject(subject)
    bodies = bodies or Bodies(site)
    candidates = waiting(site, state, catalog, now)
    if not candidates:
        return None
    # The oldest are chosen first (the rest wait); the digest shows them newest first.
    articles = tuple(sorted(candidates[: site.newsletter.max_items], key=_newest_first))
    number = state.issues.next_number()
    created = now.astimezone(site.tz)
    digest = render(site, IssueView(number, created, articles), note, bodies, subject)
    return Draft(number, created, articles, note, digest, tuple(candidates))


def create(
    site: Site,
    state: State,
    catalog: Catalog,
    now: datetime,
    note: str = "",
    screen: Callable[[IssueRecord], None] | None = None,
    send_at: datetime | None = None,
) -> Draft | None:
    """Compose the next issue and record it, with its articles, in one transaction. With
    [newsletter] review on, it waits for its review copy and an approval; with ``send_at``,
    it is held until then (no run starts it before).

    ``screen`` sees the issue as it would be stored first; what it raises records nothing.
    """
    bodies = Bodies(site)
    with state.transaction():
        draft = compose(site, state, catalog, now, note, bodies)
        if draft is not None:
            record = draft.record(bodies)
            if site.newsletter.review:
                record = replace(record, review="waiting")
            if send_at is not None:
                record = replace(record, send_at=send_at.astimezone(site.tz).isoformat())
            if screen is not None:
                screen(record)
            # The ids the issue carries must be the ones the state keeps for these articles,
            # even if no build follows before a file is renamed.
            state.remember_articles(catalog.known(), now.isoformat())
            state.issues.add(record)
    return draft


def attempted(counts: Mapping[str, int]) -> int:
    """How many of an issue's deliveries (its counts by status) were tried: pending ones were
    not yet, and a skipped reader (paused, nothing of their topics, gone) was sent nothing."""
    return sum(counts.values()) - counts.get("pending", 0) - counts.get("skipped", 0)


def discard(state: State, number: int) -> IssueRecord:
    """Forget an issue nothing was sent for; its articles wait for the next issue again."""
    with state.transaction():
        issue = state.issues.get(number)
        counts = state.issues.counts(number)
        if issue.status != "ready":
            # Where a sent issue stands depends on no clock: its own moment will do.
            standing = state_of(issue, counts, datetime.fromisoformat(issue.created))
            raise IssueError(
                f"issue {number} cannot be discarded: it is {standing}, and a finished issue "
                "stays (its articles went out with it)"
            )
        if tried := attempted(counts):
            raise IssueError(
                f"issue {number} is being sent (tried for {plural(tried, 'recipient')}); "
                "finish it with 'feedpub send' instead"
            )
        state.issues.discard(number)
    return issue


@dataclass(frozen=True)
class IssueState:
    """Where an issue stands, in the one vocabulary every command uses: ``word`` is one of
    STATE_WORDS, ``detail`` what goes with it ("1/2 sent", "until 2026-12-04 07:00 PST")."""

    word: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.word} ({self.detail})" if self.detail else self.word


STATE_WORDS = ("in review", "scheduled", "ready", "sending", "sent", "unsent")


def state_of(
    record: IssueRecord, counts: Mapping[str, int], now: datetime, tz: tzinfo | None = None
) -> IssueState:
    """Where issue ``record`` stands at ``now``, given its deliveries ``counts`` by status
    (``Issues.counts``); moments are said in ``tz`` (default: ``now``'s zone).

    sent: it reached at least one reader; unsent: it was finished without reaching anyone (no
    one to send to); sending: deliveries started and are not all done; in review: a review
    copy went (or is due to go) and no one approved it; scheduled: held until its send_at;
    ready: a run or ``send`` starts it.
    """
    zone = tz or now.tzinfo
    assert zone is not None, "now must carry its zone"
    total, sent = sum(counts.values()), counts.get("sent", 0)
    if record.status == "sent":
        if not total:
            return IssueState("unsent", "no one to send it to")
        return IssueState("sent" if sent else "unsent", f"{sent}/{total} sent")
    if total:
        return IssueState("sending", f"{sent}/{total} sent")
    if record.review == "waiting":
        if record.reviewed is None:
            return IssueState("in review", "the review copy goes at the next run")
        moment = for_people(datetime.fromisoformat(record.reviewed), zone)
        return IssueState("in review", f"review copy sent {moment}")
    if record.send_at is not None and datetime.fromisoformat(record.send_at) > now:
        return IssueState(
            "scheduled", f"until {for_people(datetime.fromisoformat(record.send_at), zone)}"
        )
    if record.review == "approved" and record.approved is not None:
        return IssueState(
            "ready", f"approved {for_people(datetime.fromisoformat(record.approved), zone)}"
        )
    return IssueState("ready")


def sendable(record: IssueRecord, now: datetime) -> bool:
    """Whether a run (or ``send`` without a number) may start or go on with issue ``record``
    at ``now``: not waiting for its review, and not held until a later moment."""
    if record.status == "sent" or record.review == "waiting":
        return False
    return record.send_at is None or datetime.fromisoformat(record.send_at) <= now


# An editor's subject: a line of a message list, far under a header line's 998 octets.
MAX_SUBJECT = 300


def check_subject(subject: str | None) -> None:
    """Refuse an editor's subject (``--subject``) that is empty or far too long."""
    if subject is None:
        return
    if not subject.strip():
        raise IssueError("--subject is empty; give the issue a subject line")
    if len(subject) > MAX_SUBJECT:
        raise IssueError(
            f"--subject is {len(subject)} characters; a subject line fits in {MAX_SUBJECT} "
            "(70 or fewer show whole in most mail clients)"
        )


def rerender(
    site: Site, record: IssueRecord, subject: str | None = None, note: str | None = None
) -> tuple[IssueRecord, tuple[str, ...]]:
    """Issue ``record`` rendered again from the articles it stored, with ``subject`` and
    ``note`` instead of its own (None: its own), and the digest's warnings; records nothing."""
    check_subject(subject)
    articles = tuple(as_article(item) for item in record.items)
    view = IssueView(record.number, datetime.fromisoformat(record.created), articles)
    kept_note = record.note if note is None else note
    digest = render(
        site, view, kept_note, StoredBodies(site), record.subject if subject is None else subject
    )
    edited = replace(
        record, subject=digest.subject, note=kept_note, html=digest.html, text=digest.text
    )
    return edited, digest.warnings


def edit(
    site: Site,
    state: State,
    number: int,
    now: datetime,
    subject: str | None = None,
    note: str | None = None,
) -> tuple[IssueRecord, tuple[str, ...]]:
    """Change issue ``number``'s subject and note, if nothing was sent for it (IssueError
    otherwise), rendering it again; with [newsletter] review on it waits for a new review copy
    and approval. The issue as changed, and the digest's warnings."""
    with state.transaction():
        record = state.issues.get(number)
        counts = state.issues.counts(number)
        if record.status == "sent" or sum(counts.values()) > 0:
            standing = state_of(record, counts, now, site.tz)
            raise IssueError(
                f"issue {number} cannot be changed: it is {standing}, and readers' copies must "
                "match the issue kept; put the change in the next issue"
            )
        edited, warnings = rerender(site, record, subject, note)
        state.issues.edit(number, edited.subject, edited.note, edited.html, edited.text)
        if site.newsletter.review or record.review:
            state.issues.set_review(number, "waiting", None)
        return state.issues.get(number), warnings


def approve(state: State, number: int, now: datetime) -> tuple[IssueRecord, str]:
    """Approve issue ``number`` for readers at ``now`` (IssueError if it was sent already):
    the issue as approved, and its review state before ('approved': it was already, and stays
    as it was)."""
    with state.transaction():
        record = state.issues.get(number)
        if record.status == "sent":
            raise IssueError(f"issue {number} was sent already; there is nothing to approve")
        if record.review == "approved":
            return record, record.review
        state.issues.set_review(number, "approved", now.isoformat())
        return state.issues.get(number), record.review


# The scheduled moment a run found too little waiting for: that period passes without an issue,
# rather than sending one mid-week as soon as an article arrives.
PASSED_KEY = "newsletter_passed_moment"


def pass_moment(state: State, moment: datetime) -> None:
    with state.transaction():
        state.set_meta(PASSED_KEY, moment.isoformat())


@dataclass(frozen=True)
class Due:
    due: bool
    moment: datetime | None  # the scheduled moment it is (or was last) due for
    next: datetime | None
    reason: str
    # Scheduled moments [newsletter] skip passes over, between ``moment`` and ``next``.
    skipped: tuple[datetime, ...] = ()


def made_for(record: IssueRecord) -> datetime:
    """The moment an issue stands for in the schedule: the one it is held until (send_at), else
    when it was made."""
    return datetime.fromisoformat(record.send_at or record.created)


def schedule_of(site: Site, state: State) -> Schedule:
    """The site's schedule; a biweekly one counts its weeks from [newsletter] start, else from
    the first issue's week."""
    first = state.issues.first()
    first_day = made_for(first).astimezone(site.tz).date() if first else None
    return Schedule.of(site.newsletter, site.tz, first_day)


def due(site: Site, state: State, now: datetime) -> Due:
    """Whether the schedule calls for an issue now, and why (not)."""
    if not site.has_newsletter:
        return Due(False, None, None, "no [newsletter] in feedpub.toml")
    if site.newsletter.schedule == "manual":
        return Due(False, None, None, "the schedule is manual: run 'feedpub issue new'")
    schedule = schedule_of(site, state)
    records = state.issues.all()
    # The issue made (or held) latest: an issue made shortly before a moment is its issue.
    latest = max(records, key=lambda r: made_for(r).astimezone(UTC), default=None)
    last_made = made_for(latest) if latest else None
    is_it, moment = schedule.is_due(now, last_made)
    upcoming = schedule.next(now)
    skipped = tuple(schedule.passed_over(now))

    def said(moment: datetime | None) -> str:
        return for_people(moment, site.tz) if moment else "never"

    passed_by = (
        # Past or to come: the skipped moments between the latest moment and the next.
        "; [newsletter] skip passes over " + ", ".join(for_people(m, site.tz) for m in skipped)
        if skipped
        else ""
    )
    passed = state.meta(PASSED_KEY)
    if is_it and moment is not None and passed and datetime.fromisoformat(passed) >= moment:
        return Due(
            False,
            moment,
            upcoming,
            f"too little was waiting at {said(moment)}; next due {said(upcoming)}{passed_by}",
            skipped,
        )
    if is_it:
        return Due(True, moment, upcoming, f"due since {said(moment)}{passed_by}", skipped)
    if latest is None:  # before the schedule's first moment (or the calendar's)
        return Due(False, moment, upcoming, f"next due {said(upcoming)}{passed_by}", skipped)
    if latest.send_at is not None and last_made is not None and last_made > now:
        # While an issue is held, the schedule makes no other: it would go out first.
        return Due(
            False,
            moment,
            upcoming,
            f"issue {latest.number} is scheduled for {said(last_made)}; the schedule makes "
            f"no other before it{passed_by}",
            skipped,
        )
    return Due(
        False,
        moment,
        upcoming,
        f"issue {latest.number} was made for this period; next due {said(upcoming)}{passed_by}",
        skipped,
    )
