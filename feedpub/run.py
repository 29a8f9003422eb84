"""``feedpub run``, the cron entry point: build, make the issue that is due, hand it over."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .build import BuildReport, load_catalog, publish
from .config import Site
from .delivery import to_outbox
from .issues import create, due, pass_moment, waiting
from .lock import SiteLock
from .state import State
from .text import plural


@dataclass
class RunReport:
    build: BuildReport | None = None
    created: int | None = None
    delivered: list[tuple[int, Path]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def run(site: Site, now: datetime) -> RunReport:
    """One cron tick. Holds the site lock throughout (LockBusy if another command has it)."""
    started = time.perf_counter()
    report = RunReport()
    with SiteLock(site.state_dir, "run"), State.open(site.state_dir) as state:
        catalog = load_catalog(site, state, now)
        when = due(site, state, now)
        if not when.due:
            report.notes.append(f"no new issue: {when.reason}")
        else:
            count = len(waiting(site, state, catalog, now))
            wanted = site.newsletter.min_items
            if count < wanted:
                assert when.moment is not None
                pass_moment(state, when.moment)
                report.notes.append(
                    f"no new issue: {when.reason}, but {plural(count, 'article')} waiting "
                    f"and [newsletter] min_items is {wanted}"
                )
            else:
                draft = create(site, state, catalog, now)
                if draft is not None:
                    report.created = draft.number
                    report.warnings.extend(draft.digest.warnings)
        report.build = publish(site, state, catalog, now, started)
        for issue in state.issues.all():
            if issue.status == "ready":
                report.delivered.append((issue.number, to_outbox(site, state, issue, now)))
    return report
