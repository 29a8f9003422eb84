"""What became of each issue after the relay took it, said for people and for scripts: its
figures (sent, delivered, bounced hard and soft, complaints, unsubscribes) as ``issue show``,
``issue list``, ``status`` and ``status --json`` give them, and the warnings when a recent
issue's complaint rate passes 0.1% or its bounce rate 2%, naming the addresses to look at and
what to do.

The figures themselves are the store's (``Events.figures``, made of the events that bounces,
complaints and unsubscribes record); this module picks the issues that matter now, compares
them with the limits, and remembers which warnings ``feedpub run`` gave, so that a cron job
ticking every few minutes says each one once, and again only when it grows.
"""

from __future__ import annotations

import json
import re
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from feedpub.errors import StateBusy
from feedpub.store.events import IssueFigures, one_line
from feedpub.store.issues import IssueRecord
from feedpub.store.state import State
from feedpub.text import plural

# Gmail's sender guidelines: keep the spam rate Postmaster Tools reports under 0.1% and never
# let it reach 0.3%; Yahoo asks the same. A complaint is a reader pressing "spam".
COMPLAINT_LIMIT = 0.001
# Bounces: the providers' own advice (Amazon SES reviews an account at 5%, and asks senders to
# stay under 2%); a list above that is mailing addresses that no longer exist.
BOUNCE_LIMIT = 0.02
# The providers weigh a sender by its recent mail (Gmail and SES over rolling windows of days
# to weeks): an issue from last month no longer counts against the list, a fresh one does.
RECENT_DAYS = 30
# A warning names this many addresses, then says how many more `feedpub issue show` lists.
MAX_NAMED = 10
# `issue show` gives at most this much of each diagnostic.
MAX_DETAIL_SHOWN = 200
# The meta key where `feedpub run` keeps the warnings it gave: {issue: {kind: count}}.
TOLD_KEY = "figures told"
# A bounce refused for policy (RFC 3463's X.7.X: delivery not authorized, message refused,
# SPF, DKIM or DMARC failures, a block for reputation) says more about the sender than about
# the address.
_POLICY = re.compile(r"\b[45]\.7\.\d{1,3}\b")
_FIELDS = ("sent", "delivered", "hard", "soft", "complaints", "unsubscribes")

Kind = Literal["complaints", "bounces"]


@dataclass(frozen=True)
class IssueReport:
    """One issue's figures, with the issue they are of."""

    number: int
    created: str
    status: str
    figures: IssueFigures


@dataclass(frozen=True)
class RateWarning:
    """An issue whose complaint or bounce rate is over its limit, and who to look at: every
    address that bounced it (or complained about it), sorted, with how many of the bounces
    were refusals for policy."""

    issue: int
    kind: Kind
    count: int
    sent: int
    limit: float
    addresses: tuple[str, ...]
    policy: int = 0

    @property
    def rate(self) -> float:
        return self.count / self.sent if self.sent else 0.0

    @property
    def message(self) -> str:
        named = ", ".join(self.addresses[:MAX_NAMED])
        more = len(self.addresses) - MAX_NAMED
        look = f"look at {named}" + (
            f" and {more} more (`feedpub issue show {self.issue}` lists them all)"
            if more > 0
            else ""
        )
        if self.kind == "complaints":
            return (
                f"issue {self.issue}: {self.count} of {self.sent} readers marked it as spam "
                f"({_percent(self.rate, 2)}, over {_percent(self.limit, 1)}; Gmail and Yahoo "
                "filter a list that reaches 0.3%); they get no more mail. Check that they "
                "signed up themselves (`feedpub subscribers show ADDRESS`: an imported list "
                "without consent, or a sign-up long forgotten, draws complaints) and that the "
                f"unsubscribe link is easy to find; {look}"
            )
        policy = (
            f"; {self.policy} of them were refused for policy (5.7.x): check SPF, DKIM and "
            'DMARC (README "Deliverability")'
            if self.policy
            else ""
        )
        return (
            f"issue {self.issue}: {self.count} of {self.sent} readers bounced it "
            f"({_percent(self.rate, 1)}, over {_percent(self.limit, 0)}){policy}. Hard bounces "
            "get no more issues, nor an address that soft-bounces three issues running; a rate "
            "this high usually means an old list was imported: remove the addresses you "
            f"cannot vouch for; {look}"
        )

    def data(self) -> dict[str, Any]:
        """The warning as `status --json` gives it."""
        return {
            "issue": self.issue,
            "kind": self.kind,
            "count": self.count,
            "sent": self.sent,
            "rate": self.rate,
            "limit": self.limit,
            "addresses": list(self.addresses[:MAX_NAMED]),
            "more": max(0, len(self.addresses) - MAX_NAMED),
            "policy": self.policy,
            "message": self.message,
        }


def _percent(rate: float, digits: int) -> str:
    return f"{rate:.{digits}%}"


def summary(figures: IssueFigures) -> str:
    """The figures as one line: '500 sent, 475 delivered, 20 hard and 5 soft bounces (5.0%),
    0 complaints (0.00%), 1 unsubscribe'."""
    return (
        f"{figures.sent} sent, {figures.delivered} delivered, {figures.hard} hard and "
        f"{figures.soft} soft {'bounce' if figures.hard + figures.soft == 1 else 'bounces'} "
        f"({_percent(figures.bounce_rate, 1)}), {plural(figures.complaints, 'complaint')} "
        f"({_percent(figures.complaint_rate, 2)}), {plural(figures.unsubscribes, 'unsubscribe')}"
    )


def columns(figures: IssueFigures) -> tuple[str, str]:
    """The figures in `issue list`'s two short columns: the readers who bounced the issue and
    those who marked it as spam, each with a "!" when over its limit."""
    return (
        f"{figures.bounced}{'!' if figures.bounce_rate > BOUNCE_LIMIT else ''}",
        f"{figures.complaints}{'!' if figures.complaint_rate > COMPLAINT_LIMIT else ''}",
    )


def data(figures: IssueFigures) -> dict[str, Any]:
    """The figures as `status --json` gives them."""
    return {
        **{name: getattr(figures, name) for name in _FIELDS},
        "bounce_rate": figures.bounce_rate,
        "complaint_rate": figures.complaint_rate,
    }


def from_data(held: dict[str, Any]) -> IssueFigures:
    """The figures again, from what ``data`` gave."""
    return IssueFigures(**{name: int(held[name]) for name in _FIELDS})


def flagged_lines(flagged: list[tuple[str, str, str]]) -> list[str]:
    """`issue show`'s list of the readers who bounced the issue or complained about it, each
    with the kind and what their server said (no lines when nobody did)."""
    if not flagged:
        return []
    return [f"Bounced or complained ({len(flagged)}):"] + [
        # A diagnostic is whatever the bounce said, and a terminal obeys an escape in it.
        f"  {kind:9}  {address}"
        + (f"  {one_line(detail, MAX_DETAIL_SHOWN)}" if detail.strip() else "")
        for address, kind, detail in flagged
    ]


def report(state: State, record: IssueRecord) -> IssueReport:
    """Issue ``record``'s figures."""
    return IssueReport(
        record.number, record.created, record.status, state.events.figures(record.number)
    )


def recent(state: State, records: list[IssueRecord], now: datetime) -> list[IssueReport]:
    """Of ``records`` (the issues, oldest first), those that went to someone and were made in
    the last RECENT_DAYS days, oldest first; when none was, the last that went to someone (a
    monthly list's last issue matters until the next)."""
    since = now - timedelta(days=RECENT_DAYS)
    reports: list[IssueReport] = []
    for record in reversed(records):
        created = datetime.fromisoformat(record.created)
        if created.tzinfo is None:  # not written so by feedpub; read in now's zone, not failed
            created = created.replace(tzinfo=now.tzinfo)
        inside = created >= since
        if not inside and reports:
            break
        found = report(state, record)
        if found.figures.sent:
            reports.append(found)
            if not inside:
                break
    return reports[::-1]


def warnings_of(state: State, issue: IssueReport) -> list[RateWarning]:
    """The warnings one issue's figures call for (its complaints, then its bounces), its
    flagged readers read only when there is one."""
    if not over(issue.figures):
        return []
    return rate_warnings(issue, state.events.flagged(issue.number))


def over(figures: IssueFigures) -> bool:
    """Whether the complaint rate or the bounce rate is over its limit."""
    return figures.complaint_rate > COMPLAINT_LIMIT or figures.bounce_rate > BOUNCE_LIMIT


def rate_warnings(issue: IssueReport, flagged: list[tuple[str, str, str]]) -> list[RateWarning]:
    """The warnings of ``issue``, given who bounced it or complained (``Events.flagged``)."""
    figures = issue.figures
    found: list[RateWarning] = []
    if figures.complaint_rate > COMPLAINT_LIMIT:
        people = sorted({email for email, kind, _ in flagged if kind == "complaint"})
        found.append(
            RateWarning(
                issue.number,
                "complaints",
                figures.complaints,
                figures.sent,
                COMPLAINT_LIMIT,
                tuple(people),
            )
        )
    if figures.bounce_rate > BOUNCE_LIMIT:
        returned = [(email, detail) for email, kind, detail in flagged if kind in ("hard", "soft")]
        found.append(
            RateWarning(
                issue.number,
                "bounces",
                figures.bounced,
                figures.sent,
                BOUNCE_LIMIT,
                tuple(sorted({email for email, _ in returned})),
                policy=len({email for email, detail in returned if _POLICY.search(detail)}),
            )
        )
    return found


def warnings(state: State, reports: list[IssueReport]) -> list[RateWarning]:
    """The warnings ``reports`` (the recent issues) call for: what `feedpub status` says."""
    return [found for issue in reports for found in warnings_of(state, issue)]


def news(state: State, now: datetime) -> list[RateWarning]:
    """The warnings `feedpub run` gives: those not given before, or whose count grew since,
    remembered in the state (in a transaction of their own) so that the next run is quiet."""
    current = warnings(state, recent(state, state.issues.all(), now))
    told = _told(state.meta(TOLD_KEY))
    fresh = [w for w in current if w.count > told.get(str(w.issue), {}).get(w.kind, 0)]
    if fresh:
        remembered: dict[str, dict[str, int]] = {}
        for found in current:
            remembered.setdefault(str(found.issue), {})[found.kind] = found.count
        # Remembering is a courtesy: a state too busy for it only means the warnings are
        # given again next time, and must not fail a run that has sent its issue.
        with suppress(StateBusy), state.transaction():
            state.set_meta(TOLD_KEY, json.dumps(remembered, sort_keys=True))
    return fresh


def _told(raw: str | None) -> dict[str, dict[str, int]]:
    """What the meta key holds; anything unreadable counts as nothing told (a warning given
    again, never one lost)."""
    try:
        loaded = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    if not isinstance(loaded, dict):
        return {}
    return {
        str(issue): {str(kind): n for kind, n in kinds.items() if isinstance(n, int)}
        for issue, kinds in loaded.items()
        if isinstance(kinds, dict)
    }
