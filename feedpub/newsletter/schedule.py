"""When a newsletter issue is due: the scheduled moments (daily, weekly, biweekly, monthly) in
the site's timezone, the dates ``[newsletter] skip`` passes over, and which moment an issue
already made stands in for."""

from __future__ import annotations

import calendar
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from feedpub.config import ORDINALS, WEEKDAYS, NewsletterSettings

# Without [newsletter] start and before the first issue, biweekly weeks are counted from the
# week of this Monday (ISO week 1 of 2024): every other week from there, with no break where a
# year has 53 ISO weeks, as counting by the week number's parity would have.
BIWEEKLY_EPOCH = date(2024, 1, 1)

# An issue made at most this long before a scheduled moment (or, with send_at, held until then)
# is that moment's issue: `issue new` at 06:02 and the 07:00 run make one issue, not two. A
# daily schedule's window is a quarter of its day, so yesterday's issue never counts for today.
WINDOW = timedelta(hours=12)
DAILY_WINDOW = timedelta(hours=6)

# How far a search for a moment goes: past the longest skip range (a year) and a month's days.
_SEARCH_DAYS = 800


def _at(day: date, at: time, tz: tzinfo) -> datetime:
    # A wall-clock time that a DST change skips (02:30 on a spring-forward night) becomes the
    # same instant's real local time; one that occurs twice is taken the first time.
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC).astimezone(tz)


def _utc(value: datetime) -> datetime:
    # Aware datetimes with the same tzinfo compare by wall clock, ignoring fold: in a repeated
    # hour the second 02:15 would count as earlier than the first 02:30. Instants compare in UTC.
    return value.astimezone(UTC)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def month_day(spec: str, year: int, month: int) -> date:
    """The day of ``month`` that a monthly ``day`` names: "15" (clamped to the month's last
    day: "31" is the 30th in April), or "first friday", "last monday"..."""
    last = calendar.monthrange(year, month)[1]
    if spec.isdigit():
        return date(year, month, min(int(spec), last))
    ordinal, _, weekday = spec.partition(" ")
    wanted = WEEKDAYS.index(weekday)
    if ordinal == "last":
        end = date(year, month, last)
        return end - timedelta(days=(end.weekday() - wanted) % 7)
    first = date(year, month, 1)
    first_match = first + timedelta(days=(wanted - first.weekday()) % 7)
    return first_match + timedelta(weeks=ORDINALS.index(ordinal))


@dataclass(frozen=True)
class Schedule:
    """A newsletter's schedule: ``kind`` is daily, weekly, biweekly, monthly or manual; ``day``
    a weekday (weekly, biweekly) or a day of the month (monthly, see month_day); ``start`` the
    date whose week is an "on" week of a biweekly schedule; ``skip`` inclusive date ranges whose
    moments are passed."""

    kind: str
    day: str
    at: time
    tz: tzinfo
    start: date | None = None
    skip: Sequence[tuple[date, date]] = ()

    @classmethod
    def of(cls, newsletter: NewsletterSettings, tz: tzinfo, first: date | None) -> Schedule:
        """The site's schedule; ``first``: the first issue's day, the biweekly count's start
        when [newsletter] start is not set."""
        return cls(
            newsletter.schedule,
            newsletter.day,
            newsletter.at,
            tz,
            newsletter.start_date or first,
            newsletter.skip_ranges,
        )

    @property
    def window(self) -> timedelta:
        return DAILY_WINDOW if self.kind == "daily" else WINDOW

    def _on(self, day: date) -> bool:
        """Whether ``day`` has a moment, skipped or not."""
        if self.kind == "daily":
            return True
        if self.kind == "monthly":
            return day == month_day(self.day, day.year, day.month)
        if day.weekday() != WEEKDAYS.index(self.day):
            return False
        if self.kind == "weekly":
            return True
        weeks = (_monday(day) - _monday(self.start or BIWEEKLY_EPOCH)).days // 7
        return weeks % 2 == 0

    def skipped(self, day: date) -> bool:
        return any(first <= day <= last for first, last in self.skip)

    def _days(self, start: date, step: int) -> Iterator[date]:
        if self.kind == "monthly":
            yield from self._month_days(start, step)
            return
        day = start
        for _ in range(_SEARCH_DAYS):
            if self._on(day):
                yield day
            try:
                day += timedelta(days=step)
            except OverflowError:  # the calendar's ends: no moment beyond them
                return

    def _month_days(self, start: date, step: int) -> Iterator[date]:
        """A monthly schedule's days from ``start`` on, month by month."""
        year, month = start.year, start.month
        for _ in range(_SEARCH_DAYS // 28 + 2):
            if not 1 <= year <= 9999:
                return
            day = month_day(self.day, year, month)
            if (day >= start) if step > 0 else (day <= start):
                yield day
            year, month = divmod(year * 12 + month - 1 + step, 12)
            month += 1

    def _moments(self, now: datetime, step: int) -> Iterator[datetime]:
        """Every moment (skipped ones too) from the day of ``now`` on, backwards (step -1) or
        forwards (step 1)."""
        if self.kind == "manual":
            return
        for day in self._days(now.astimezone(self.tz).date(), step):
            try:
                yield _at(day, self.at, self.tz)
            except OverflowError:
                return

    def latest(self, now: datetime) -> datetime | None:
        """The last moment at or before ``now`` that is not skipped; None for a manual schedule
        (or before the calendar began)."""
        for moment in self._moments(now, -1):
            if _utc(moment) <= _utc(now) and not self.skipped(moment.date()):
                return moment
        return None

    def next(self, now: datetime) -> datetime | None:
        """The first moment after ``now`` that is not skipped; None for a manual schedule."""
        for moment in self._moments(now, 1):
            if _utc(moment) > _utc(now) and not self.skipped(moment.date()):
                return moment
        return None

    def passed_over(self, now: datetime) -> list[datetime]:
        """The skipped moments between the latest moment and the next one: what status names."""
        latest, upcoming = self.latest(now), self.next(now)
        found: list[datetime] = []
        for moment in self._moments(now, -1):
            if latest is not None and _utc(moment) <= _utc(latest):
                break
            if _utc(moment) <= _utc(now) and self.skipped(moment.date()):
                found.insert(0, moment)
        for moment in self._moments(now, 1):
            if upcoming is None or _utc(moment) >= _utc(upcoming):
                break
            if _utc(moment) > _utc(now) and self.skipped(moment.date()):
                found.append(moment)
        return found

    def covers(self, made: datetime, moment: datetime) -> bool:
        """Whether an issue made (or held until) ``made`` is the issue of ``moment``: made after
        it, or at most the window before it."""
        return _utc(made) > _utc(moment) - self.window

    def is_due(self, now: datetime, last: datetime | None) -> tuple[bool, datetime | None]:
        """(due?, the moment it is due for). Due once the latest moment has passed and no issue
        covers it (``last``: the latest an issue was made or is held until): a machine that was
        off catches up with one issue, not several."""
        moment = self.latest(now)
        if moment is None:
            return False, None
        return (last is None or not self.covers(last, moment)), moment
