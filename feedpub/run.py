"""``feedpub run``, the cron entry point: build, make the issue that is due, hand it over."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from feedpub.config import Site
from feedpub.delivery.sending import SendReport, send_issue, unfinished
from feedpub.lock import SiteLock
from feedpub.newsletter.issues import create, due, pass_moment, waiting
from feedpub.site.build import BuildReport, publish, read_catalog
from feedpub.store.state import State
from feedpub.text import plural


@dataclass
class RunReport:
    build: BuildReport | None = None
    created: int | None = None
    sends: list[SendReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


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
        loaded = read_catalog(site, state, now)
        catalog = loaded.catalog
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
        report.build = publish(site, state, loaded, now, started)
        for number in unfinished(state):
            report.sends.append(send_issue(site, number, now, progress, begin))
            if report.sends[-1].error:
                break  # the relay (or the outbox) failed: the next issue would fail the same way
    return report
