"""When a newsletter issue is due: the latest scheduled moment, in the site's timezone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

from feedpub.config import WEEKDAYS


def _at(day: date, at: time, tz: tzinfo) -> datetime:
    # A wall-clock time that a DST change skips (02:30 on a spring-forward night) becomes the
    # same instant's real local time; one that occurs twice is taken the first time.
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC).astimezone(tz)


def _utc(value: datetime) -> datetime:
    # Aware datetimes with the same tzinfo compare by wall clock, ignoring fold: in a repeated
    # hour the second 02:15 would count as earlier than the first 02:30. Instants compare in UTC.
    return value.astimezone(UTC)


def _step(schedule: str) -> int:
    return 7 if schedule == "weekly" else 1


def _anchor(schedule: str, weekday: str, local: date) -> date:
    """The scheduled day on or before ``local``."""
    if schedule == "daily":
        return local
    back = (local.weekday() - WEEKDAYS.index(weekday)) % 7
    return local - timedelta(days=back)


def latest_moment(
    schedule: str, weekday: str, at: time, now: datetime, tz: tzinfo
) -> datetime | None:
    """The last scheduled moment at or before ``now``; None for a manual schedule."""
    if schedule == "manual":
        return None
    day = _anchor(schedule, weekday, now.astimezone(tz).date())
    moment = _at(day, at, tz)
    if _utc(moment) > _utc(now):
        moment = _at(day - timedelta(days=_step(schedule)), at, tz)
    return moment


def next_moment(
    schedule: str, weekday: str, at: time, now: datetime, tz: tzinfo
) -> datetime | None:
    """The first scheduled moment after ``now``; None for a manual schedule."""
    if schedule == "manual":
        return None
    day = _anchor(schedule, weekday, now.astimezone(tz).date())
    moment = _at(day, at, tz)
    while _utc(moment) <= _utc(now):
        day += timedelta(days=_step(schedule))
        moment = _at(day, at, tz)
    return moment


def is_due(
    schedule: str,
    weekday: str,
    at: time,
    now: datetime,
    tz: tzinfo,
    last_issue: datetime | None,
) -> tuple[bool, datetime | None]:
    """(due?, the moment it is due for). Due once the latest scheduled moment has passed and no
    issue was created since it: a machine that was off catches up with one issue, not several."""
    moment = latest_moment(schedule, weekday, at, now, tz)
    if moment is None:
        return False, None
    return (last_issue is None or _utc(last_issue) < _utc(moment)), moment
