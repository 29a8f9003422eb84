"""``feedpub status``: what is published, what waits, when the next issue is due, and what
became of the recent issues (their figures, and the warnings they call for)."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from feedpub.config import Site
from feedpub.content.catalog import Catalog
from feedpub.dates import for_people
from feedpub.model import Article
from feedpub.newsletter import figures
from feedpub.newsletter.checks import left_out
from feedpub.newsletter.issues import due, state_of, waiting
from feedpub.store.state import State
from feedpub.text import plural


def in_zone(info: dict[str, Any], tz: tzinfo) -> dict[str, Any]:
    """``info`` with its moments as people read them (dates.for_people in ``tz``, the site's
    zone), for ``lines``; the JSON keeps them as stored."""

    def said(stamp: str | None) -> str | None:
        return for_people(datetime.fromisoformat(stamp), tz) if stamp else stamp

    shown = dict(info)
    shown["next_scheduled_article"] = said(info["next_scheduled_article"])
    shown["next_issue_due"] = said(info["next_issue_due"])
    if info["last_issue"] is not None:
        shown["last_issue"] = {**info["last_issue"], "created": said(info["last_issue"]["created"])}
    return shown


def status(site: Site, state: State, catalog: Catalog, now: datetime) -> dict[str, Any]:
    """The site's status as plain data (what ``--json`` prints)."""
    records = state.issues.all()
    last = records[-1] if records else None
    when = due(site, state, now)
    recent = figures.recent(state, records, now)
    standing = {r.number: state_of(r, state.issues.counts(r.number), now, site.tz) for r in records}
    chosen = waiting(site, state, catalog, now) if site.has_newsletter else []
    return {
        "now": now.isoformat(),
        "articles": {
            "published": len(catalog.articles),
            "scheduled": len(catalog.scheduled),
            "drafts": len(catalog.drafts),
            "errors": sum(p.severity == "error" for p in catalog.problems),
        },
        "next_scheduled_article": catalog.scheduled[0].date.isoformat()
        if catalog.scheduled
        else None,
        "newsletter": site.has_newsletter,
        "waiting": len(chosen),
        "left_out": _left_out(site, state, catalog, now, chosen),
        "last_issue": None
        if last is None
        else {
            "number": last.number,
            "created": last.created,
            "status": last.status,
            # The one vocabulary of every command (newsletter.issues.state_of).
            "state": standing[last.number].word,
            "state_detail": standing[last.number].detail,
            "articles": len(last.items),
        },
        "issue_due": when.due,
        "next_issue_due": when.next.isoformat() if when.next else None,
        # The scheduled moments [newsletter] skip passes over, around now: as data and as said.
        "skipped_moments": [moment.isoformat() for moment in when.skipped],
        "skipped": [for_people(moment, site.tz) for moment in when.skipped],
        "reason": when.reason,
        "unfinished_issues": [r.number for r in records if r.status != "sent"],
        "unfinished": [
            {"number": n, "state": standing[n].word, "detail": standing[n].detail}
            for n in (r.number for r in records if r.status != "sent")
        ],
        "recent_issues": [
            {"number": r.number, "created": r.created, "figures": figures.data(r.figures)}
            for r in recent
        ],
        "warnings": [found.data() for found in figures.warnings(state, recent)],
    }


def _left_out(
    site: Site, state: State, catalog: Catalog, now: datetime, chosen: list[Article]
) -> dict[str, dict[str, int]]:
    """How many articles the next issue would leave out, under each setting that leaves them
    (``chosen``: what waits for it)."""
    found = left_out(site, state, catalog, now, chosen) if site.has_newsletter else None
    return {
        "lookback_days": {
            "setting": site.newsletter.lookback_days,
            "articles": found.by_lookback if found else 0,
        },
        "max_items": {
            "setting": site.newsletter.max_items,
            "articles": found.by_max_items if found else 0,
        },
    }


def _left_out_line(left: dict[str, dict[str, int]]) -> str | None:
    old, over = left["lookback_days"], left["max_items"]
    parts = []
    if old["articles"]:
        parts.append(f"{old['articles']} older than lookback_days ({old['setting']})")
    if over["articles"]:
        parts.append(f"{over['articles']} over max_items ({over['setting']}), for a later issue")
    if not parts:
        return None
    total = old["articles"] + over["articles"]
    return f"The next issue would leave out {plural(total, 'article')}: " + ", ".join(parts)


def lines(info: dict[str, Any]) -> list[str]:
    """The status for people."""
    articles = info["articles"]
    out = [
        f"Articles: {articles['published']} published, {articles['scheduled']} scheduled, "
        f"{plural(articles['drafts'], 'draft')}"
        + (f", {articles['errors']} with errors" if articles["errors"] else "")
    ]
    if info["next_scheduled_article"]:
        out.append(f"Next scheduled article: {info['next_scheduled_article']}")
    if not info["newsletter"]:
        out.append("Newsletter: none (add a [newsletter] section to feedpub.toml)")
        return out
    out.append(f"Waiting for the next issue: {plural(info['waiting'], 'article')}")
    if said := _left_out_line(info["left_out"]):
        out.append(said)
    last = info["last_issue"]
    out.append(
        "Last issue: none yet"
        if last is None
        else f"Last issue: #{last['number']}, {last['created']}, "
        f"{_state(last['state'], last['state_detail'])}, {plural(last['articles'], 'article')}"
    )
    if info["issue_due"]:
        out.append(f"Next issue: due now ({info['reason']})")
    elif info["next_issue_due"]:
        out.append(f"Next issue due: {info['next_issue_due']}")
    else:
        out.append(f"Next issue: {info['reason']}")
    if info["skipped"]:
        out.append("Skipped ([newsletter] skip): " + ", ".join(info["skipped"]))
    unfinished = [f"#{u['number']} {_state(u['state'], u['detail'])}" for u in info["unfinished"]]
    out.append("Unfinished issues: " + (", ".join(unfinished) or "none"))
    for issue in info["recent_issues"]:
        said = figures.summary(figures.from_data(issue["figures"]))
        out.append(f"Issue #{issue['number']}: {said}")
    return out


def _state(word: str, detail: str) -> str:
    """An issue's state as ``IssueState`` says it, from its JSON."""
    return f"{word} ({detail})" if detail else word
