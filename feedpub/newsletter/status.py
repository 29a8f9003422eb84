"""``feedpub status``: what is published, what waits, when the next issue is due, and what
became of the recent issues (their figures, and the warnings they call for)."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from feedpub.config import Site
from feedpub.content.catalog import Catalog
from feedpub.dates import for_people
from feedpub.newsletter import figures
from feedpub.newsletter.issues import due, waiting
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
        "waiting": len(waiting(site, state, catalog, now)) if site.has_newsletter else 0,
        "last_issue": None
        if last is None
        else {
            "number": last.number,
            "created": last.created,
            "status": last.status,
            "articles": len(last.items),
        },
        "issue_due": when.due,
        "next_issue_due": when.next.isoformat() if when.next else None,
        "reason": when.reason,
        "unfinished_issues": [r.number for r in records if r.status != "sent"],
        "recent_issues": [
            {"number": r.number, "created": r.created, "figures": figures.data(r.figures)}
            for r in recent
        ],
        "warnings": [found.data() for found in figures.warnings(state, recent)],
    }


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
    last = info["last_issue"]
    out.append(
        "Last issue: none yet"
        if last is None
        else f"Last issue: #{last['number']}, {last['created']}, {last['status']}, "
        f"{plural(last['articles'], 'article')}"
    )
    if info["issue_due"]:
        out.append(f"Next issue: due now ({info['reason']})")
    elif info["next_issue_due"]:
        out.append(f"Next issue due: {info['next_issue_due']}")
    else:
        out.append(f"Next issue: {info['reason']}")
    unfinished = info["unfinished_issues"]
    out.append("Unfinished deliveries: " + (", ".join(f"#{n}" for n in unfinished) or "none"))
    for issue in info["recent_issues"]:
        said = figures.summary(figures.from_data(issue["figures"]))
        out.append(f"Issue #{issue['number']}: {said}")
    return out
