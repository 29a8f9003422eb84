"""When an issue is due: scheduled moments in the site's timezone, across DST changes.

Instants are written in UTC so that every case names one unambiguous moment; each is then
handed to the schedule both as the site's local time and as UTC, as either reaches it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest

from feedpub.newsletter.schedule import Schedule

BERLIN = ZoneInfo("Europe/Berlin")
CHICAGO = ZoneInfo("America/Chicago")
SECOND = timedelta(seconds=1)

Clock = Callable[[datetime, tzinfo], datetime]


def latest_moment(kind: str, day: str, at: time, now: datetime, tz: tzinfo) -> datetime | None:
    return Schedule(kind, day, at, tz).latest(now)


def next_moment(kind: str, day: str, at: time, now: datetime, tz: tzinfo) -> datetime | None:
    return Schedule(kind, day, at, tz).next(now)


def is_due(
    kind: str, day: str, at: time, now: datetime, tz: tzinfo, last: datetime | None
) -> tuple[bool, datetime | None]:
    return Schedule(kind, day, at, tz).is_due(now, last)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def site_time(instant: datetime, tz: tzinfo) -> datetime:
    # fromutc sets fold=1 on the second pass of a repeated hour, as datetime.now(tz) does.
    return instant.astimezone(tz)


def utc_time(instant: datetime, tz: tzinfo) -> datetime:
    return instant.astimezone(UTC)


@pytest.fixture(params=[site_time, utc_time], ids=["site-time", "utc"])
def clock(request: pytest.FixtureRequest) -> Clock:
    """How ``now`` reaches the schedule: as the site's local time, or as UTC."""
    return request.param  # type: ignore[no-any-return]


# (schedule, day, time, zone, now, latest moment, next moment); instants in UTC.
MOMENTS = [
    # Berlin, weekly on Friday at 08:00 (CET, UTC+1).
    (
        "weekly",
        "friday",
        "08:00",
        BERLIN,
        utc(2026, 11, 27, 7, 0),
        utc(2026, 11, 27, 7, 0),
        utc(2026, 12, 4, 7, 0),
    ),
    (
        "weekly",
        "friday",
        "08:00",
        BERLIN,
        utc(2026, 11, 27, 7, 0) - SECOND,
        utc(2026, 11, 20, 7, 0),
        utc(2026, 11, 27, 7, 0),
    ),
    (
        "weekly",
        "friday",
        "08:00",
        BERLIN,
        utc(2026, 11, 30, 9, 0),
        utc(2026, 11, 27, 7, 0),
        utc(2026, 12, 4, 7, 0),
    ),
    (
        "weekly",
        "friday",
        "08:00",
        BERLIN,
        utc(2026, 11, 27, 22, 59, 59),
        utc(2026, 11, 27, 7, 0),
        utc(2026, 12, 4, 7, 0),
    ),
    # Berlin, daily at 07:00.
    (
        "daily",
        "friday",
        "07:00",
        BERLIN,
        utc(2026, 11, 27, 6, 0),
        utc(2026, 11, 27, 6, 0),
        utc(2026, 11, 28, 6, 0),
    ),
    (
        "daily",
        "friday",
        "07:00",
        BERLIN,
        utc(2026, 11, 27, 6, 0) - SECOND,
        utc(2026, 11, 26, 6, 0),
        utc(2026, 11, 27, 6, 0),
    ),
    # Chicago, weekly on Friday at 08:00 (CST, UTC-6): late Friday in Chicago is Saturday in UTC.
    (
        "weekly",
        "friday",
        "08:00",
        CHICAGO,
        utc(2026, 11, 27, 14, 0),
        utc(2026, 11, 27, 14, 0),
        utc(2026, 12, 4, 14, 0),
    ),
    (
        "weekly",
        "friday",
        "08:00",
        CHICAGO,
        utc(2026, 11, 27, 14, 0) - SECOND,
        utc(2026, 11, 20, 14, 0),
        utc(2026, 11, 27, 14, 0),
    ),
    (
        "weekly",
        "friday",
        "08:00",
        CHICAGO,
        utc(2026, 11, 28, 5, 59),
        utc(2026, 11, 27, 14, 0),
        utc(2026, 12, 4, 14, 0),
    ),
    (
        "weekly",
        "friday",
        "08:00",
        CHICAGO,
        utc(2026, 11, 28, 6, 0),
        utc(2026, 11, 27, 14, 0),
        utc(2026, 12, 4, 14, 0),
    ),
    # Chicago, daily at 07:00.
    (
        "daily",
        "friday",
        "07:00",
        CHICAGO,
        utc(2026, 11, 27, 13, 0),
        utc(2026, 11, 27, 13, 0),
        utc(2026, 11, 28, 13, 0),
    ),
    (
        "daily",
        "friday",
        "07:00",
        CHICAGO,
        utc(2026, 11, 27, 13, 0) - SECOND,
        utc(2026, 11, 26, 13, 0),
        utc(2026, 11, 27, 13, 0),
    ),
    # Berlin springs forward on 2026-03-29: 02:30 does not exist; it is taken as 03:30 CEST.
    (
        "weekly",
        "sunday",
        "02:30",
        BERLIN,
        utc(2026, 3, 29, 1, 30),
        utc(2026, 3, 29, 1, 30),
        utc(2026, 4, 5, 0, 30),
    ),
    (
        "weekly",
        "sunday",
        "02:30",
        BERLIN,
        utc(2026, 3, 29, 1, 30) - SECOND,
        utc(2026, 3, 22, 1, 30),
        utc(2026, 3, 29, 1, 30),
    ),
    # Berlin falls back on 2026-10-25: 02:30 happens twice; the first is the moment.
    (
        "weekly",
        "sunday",
        "02:30",
        BERLIN,
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 25, 0, 30),
        utc(2026, 11, 1, 1, 30),
    ),
    (
        "weekly",
        "sunday",
        "02:30",
        BERLIN,
        utc(2026, 10, 25, 0, 30) - SECOND,
        utc(2026, 10, 18, 0, 30),
        utc(2026, 10, 25, 0, 30),
    ),
    (
        "weekly",
        "sunday",
        "02:30",
        BERLIN,
        utc(2026, 10, 25, 1, 15),
        utc(2026, 10, 25, 0, 30),
        utc(2026, 11, 1, 1, 30),
    ),
    (
        "weekly",
        "sunday",
        "02:30",
        BERLIN,
        utc(2026, 10, 25, 1, 30),
        utc(2026, 10, 25, 0, 30),
        utc(2026, 11, 1, 1, 30),
    ),
    (
        "daily",
        "sunday",
        "02:30",
        BERLIN,
        utc(2026, 10, 25, 1, 15),
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 26, 1, 30),
    ),
    # Chicago springs forward on 2026-03-08 (02:30 does not exist: 03:30 CDT) ...
    (
        "weekly",
        "sunday",
        "02:30",
        CHICAGO,
        utc(2026, 3, 8, 8, 30),
        utc(2026, 3, 8, 8, 30),
        utc(2026, 3, 15, 7, 30),
    ),
    (
        "weekly",
        "sunday",
        "02:30",
        CHICAGO,
        utc(2026, 3, 8, 8, 30) - SECOND,
        utc(2026, 3, 1, 8, 30),
        utc(2026, 3, 8, 8, 30),
    ),
    # ... and falls back on 2026-11-01, when 01:30 happens twice.
    (
        "weekly",
        "sunday",
        "01:30",
        CHICAGO,
        utc(2026, 11, 1, 6, 30),
        utc(2026, 11, 1, 6, 30),
        utc(2026, 11, 8, 7, 30),
    ),
    (
        "weekly",
        "sunday",
        "01:30",
        CHICAGO,
        utc(2026, 11, 1, 7, 15),
        utc(2026, 11, 1, 6, 30),
        utc(2026, 11, 8, 7, 30),
    ),
    (
        "daily",
        "sunday",
        "01:30",
        CHICAGO,
        utc(2026, 11, 1, 7, 15),
        utc(2026, 11, 1, 6, 30),
        utc(2026, 11, 2, 7, 30),
    ),
]
MOMENT_IDS = [
    "berlin-weekly-at-the-moment",
    "berlin-weekly-a-second-before",
    "berlin-weekly-monday-after",
    "berlin-weekly-friday-night",
    "berlin-daily-at-the-moment",
    "berlin-daily-a-second-before",
    "chicago-weekly-at-the-moment",
    "chicago-weekly-a-second-before",
    "chicago-weekly-friday-night-saturday-utc",
    "chicago-weekly-saturday-midnight",
    "chicago-daily-at-the-moment",
    "chicago-daily-a-second-before",
    "berlin-spring-forward-at-the-moment",
    "berlin-spring-forward-a-second-before",
    "berlin-fall-back-first-0230",
    "berlin-fall-back-a-second-before",
    "berlin-fall-back-repeated-0215",
    "berlin-fall-back-second-0230",
    "berlin-fall-back-daily-repeated-0215",
    "chicago-spring-forward-at-the-moment",
    "chicago-spring-forward-a-second-before",
    "chicago-fall-back-first-0130",
    "chicago-fall-back-repeated-0115",
    "chicago-fall-back-daily-repeated-0115",
]


@pytest.mark.parametrize(
    ("schedule", "day", "at", "tz", "now", "latest", "upcoming"), MOMENTS, ids=MOMENT_IDS
)
def test_latest_and_next_moment(
    clock: Clock,
    schedule: str,
    day: str,
    at: str,
    tz: ZoneInfo,
    now: datetime,
    latest: datetime,
    upcoming: datetime,
) -> None:
    local_now = clock(now, tz)
    found = latest_moment(schedule, day, time.fromisoformat(at), local_now, tz)
    following = next_moment(schedule, day, time.fromisoformat(at), local_now, tz)
    assert found is not None and following is not None
    assert found.astimezone(UTC) == latest
    assert following.astimezone(UTC) == upcoming
    # Moments are given in the site's zone.
    assert found.tzinfo is tz and following.tzinfo is tz
    assert found <= now < following


@pytest.mark.parametrize(
    ("tz", "day", "at", "expected"),
    [
        (BERLIN, date(2026, 3, 29), "02:30", "2026-03-29T03:30:00+02:00"),
        (BERLIN, date(2026, 10, 25), "02:30", "2026-10-25T02:30:00+02:00"),
        (CHICAGO, date(2026, 3, 8), "02:30", "2026-03-08T03:30:00-05:00"),
        (CHICAGO, date(2026, 11, 1), "01:30", "2026-11-01T01:30:00-05:00"),
    ],
    ids=["berlin-skipped", "berlin-repeated", "chicago-skipped", "chicago-repeated"],
)
def test_a_dst_night_moment_is_well_defined(
    tz: ZoneInfo, day: date, at: str, expected: str
) -> None:
    """A skipped wall-clock time is the real time an hour on; a repeated one is the first."""
    end_of_day = datetime.combine(day, time(23, 59), tzinfo=tz)
    moment = latest_moment("daily", "sunday", time.fromisoformat(at), end_of_day, tz)
    assert moment is not None
    assert moment.isoformat() == expected


# (zone, now, last issue created, due?, the moment it is due for); instants in UTC.
FRIDAY_BERLIN = utc(2026, 11, 27, 7, 0)  # Friday 2026-11-27 08:00 CET
FRIDAY_CHICAGO = utc(2026, 11, 27, 14, 0)  # Friday 2026-11-27 08:00 CST
DUE = [
    (BERLIN, FRIDAY_BERLIN, None, True, FRIDAY_BERLIN),
    (BERLIN, FRIDAY_BERLIN, FRIDAY_BERLIN, False, FRIDAY_BERLIN),
    (BERLIN, FRIDAY_BERLIN, FRIDAY_BERLIN - timedelta(days=7), True, FRIDAY_BERLIN),
    (
        BERLIN,
        FRIDAY_BERLIN - SECOND,
        FRIDAY_BERLIN - timedelta(days=7),
        False,
        FRIDAY_BERLIN - timedelta(days=7),
    ),
    # Off all Friday, on again Monday: due for Friday's moment, once.
    (BERLIN, utc(2026, 11, 30, 8, 0), FRIDAY_BERLIN - timedelta(days=7), True, FRIDAY_BERLIN),
    (BERLIN, utc(2026, 11, 30, 8, 15), utc(2026, 11, 30, 8, 0), False, FRIDAY_BERLIN),
    (
        BERLIN,
        FRIDAY_BERLIN + timedelta(days=7) - SECOND,
        utc(2026, 11, 30, 8, 0),
        False,
        FRIDAY_BERLIN,
    ),
    (
        BERLIN,
        FRIDAY_BERLIN + timedelta(days=7),
        utc(2026, 11, 30, 8, 0),
        True,
        FRIDAY_BERLIN + timedelta(days=7),
    ),
    # An issue made by hand on Thursday does not stand in for Friday's.
    (
        BERLIN,
        utc(2026, 11, 26, 22, 0),
        utc(2026, 11, 26, 9, 0),
        False,
        FRIDAY_BERLIN - timedelta(days=7),
    ),
    (BERLIN, FRIDAY_BERLIN, utc(2026, 11, 26, 9, 0), True, FRIDAY_BERLIN),
    (CHICAGO, FRIDAY_CHICAGO, None, True, FRIDAY_CHICAGO),
    (CHICAGO, FRIDAY_CHICAGO, FRIDAY_CHICAGO, False, FRIDAY_CHICAGO),
    (
        CHICAGO,
        FRIDAY_CHICAGO - SECOND,
        FRIDAY_CHICAGO - timedelta(days=7),
        False,
        FRIDAY_CHICAGO - timedelta(days=7),
    ),
    (CHICAGO, utc(2026, 11, 30, 15, 0), FRIDAY_CHICAGO - timedelta(days=7), True, FRIDAY_CHICAGO),
    (CHICAGO, utc(2026, 11, 30, 15, 15), utc(2026, 11, 30, 15, 0), False, FRIDAY_CHICAGO),
    (CHICAGO, FRIDAY_CHICAGO, utc(2026, 11, 26, 18, 0), True, FRIDAY_CHICAGO),
]
DUE_IDS = [
    "berlin-first-ever",
    "berlin-issue-made-at-the-moment",
    "berlin-at-the-moment",
    "berlin-a-second-before",
    "berlin-missed-friday-monday",
    "berlin-monday-after-catching-up",
    "berlin-catching-up-until-next-friday",
    "berlin-next-friday",
    "berlin-thursday-after-a-thursday-issue",
    "berlin-friday-after-a-thursday-issue",
    "chicago-first-ever",
    "chicago-issue-made-at-the-moment",
    "chicago-a-second-before",
    "chicago-missed-friday-monday",
    "chicago-monday-after-catching-up",
    "chicago-friday-after-a-thursday-issue",
]


@pytest.mark.parametrize(("tz", "now", "last", "due", "moment"), DUE, ids=DUE_IDS)
def test_is_due_weekly(
    clock: Clock,
    tz: ZoneInfo,
    now: datetime,
    last: datetime | None,
    due: bool,
    moment: datetime,
) -> None:
    last_issue = None if last is None else clock(last, tz)
    found = is_due("weekly", "friday", time(8, 0), clock(now, tz), tz, last_issue)
    assert found[0] is due
    assert found[1] is not None and found[1].astimezone(UTC) == moment


DAILY_DUE = [
    (BERLIN, "07:00", utc(2026, 11, 27, 6, 0), utc(2026, 11, 26, 6, 0), True),
    (BERLIN, "07:00", utc(2026, 11, 27, 6, 0) - SECOND, utc(2026, 11, 26, 6, 0), False),
    (BERLIN, "07:00", utc(2026, 11, 27, 6, 0), utc(2026, 11, 27, 6, 0), False),
    (BERLIN, "07:00", utc(2026, 11, 30, 5, 0), utc(2026, 11, 26, 6, 0), True),
    (CHICAGO, "07:00", utc(2026, 11, 27, 13, 0), utc(2026, 11, 26, 13, 0), True),
    (CHICAGO, "07:00", utc(2026, 11, 27, 13, 0) - SECOND, utc(2026, 11, 26, 13, 0), False),
    # 02:15 on the second pass of Berlin's repeated hour: today's 02:30 (the first) has passed.
    (BERLIN, "02:30", utc(2026, 10, 25, 1, 15), utc(2026, 10, 24, 0, 30), True),
    (BERLIN, "02:30", utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 0, 30), False),
    (CHICAGO, "01:30", utc(2026, 11, 1, 7, 15), utc(2026, 10, 31, 6, 30), True),
]
DAILY_DUE_IDS = [
    "berlin-at-the-moment",
    "berlin-a-second-before",
    "berlin-issue-made-at-the-moment",
    "berlin-off-for-days",
    "chicago-at-the-moment",
    "chicago-a-second-before",
    "berlin-repeated-hour-second-pass",
    "berlin-second-0230-after-the-first",
    "chicago-repeated-hour-second-pass",
]


@pytest.mark.parametrize(("tz", "at", "now", "last", "due"), DAILY_DUE, ids=DAILY_DUE_IDS)
def test_is_due_daily(
    clock: Clock, tz: ZoneInfo, at: str, now: datetime, last: datetime, due: bool
) -> None:
    when = time.fromisoformat(at)
    found, _ = is_due("daily", "monday", when, clock(now, tz), tz, clock(last, tz))
    assert found is due


@pytest.mark.parametrize("tz", [BERLIN, CHICAGO], ids=["berlin", "chicago"])
@pytest.mark.parametrize(
    "now",
    [utc(2026, 11, 27, 7, 0), utc(2026, 3, 29, 1, 30), utc(2026, 10, 25, 0, 30)],
    ids=["friday", "spring-forward", "fall-back"],
)
def test_manual_is_never_due(tz: ZoneInfo, now: datetime) -> None:
    at = time(8, 0)
    assert latest_moment("manual", "friday", at, now, tz) is None
    assert next_moment("manual", "friday", at, now, tz) is None
    assert is_due("manual", "friday", at, now, tz, None) == (False, None)
    assert is_due("manual", "friday", at, now, tz, now - timedelta(days=30)) == (False, None)


# A cron job every 15 minutes (or at 7 past each quarter) through the weeks around DST
# changes: one issue per scheduled moment, made at the first tick on or after it.
RUNS = [
    (
        BERLIN,
        "weekly",
        "02:30",
        utc(2026, 3, 21),
        utc(2026, 4, 6),
        [utc(2026, 3, 22, 1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 4, 5, 0, 30)],
    ),
    (
        BERLIN,
        "weekly",
        "02:30",
        utc(2026, 10, 17),
        utc(2026, 11, 2),
        [utc(2026, 10, 18, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 11, 1, 1, 30)],
    ),
    (
        BERLIN,
        "daily",
        "02:30",
        utc(2026, 10, 24),
        utc(2026, 10, 27),
        [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)],
    ),
    (
        BERLIN,
        "daily",
        "02:30",
        utc(2026, 3, 28),
        utc(2026, 3, 31),
        [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)],
    ),
    (
        CHICAGO,
        "weekly",
        "02:30",
        utc(2026, 2, 28),
        utc(2026, 3, 16),
        [utc(2026, 3, 1, 8, 30), utc(2026, 3, 8, 8, 30), utc(2026, 3, 15, 7, 30)],
    ),
    (
        CHICAGO,
        "weekly",
        "01:30",
        utc(2026, 10, 24),
        utc(2026, 11, 9),
        [utc(2026, 10, 25, 6, 30), utc(2026, 11, 1, 6, 30), utc(2026, 11, 8, 7, 30)],
    ),
    (
        CHICAGO,
        "daily",
        "01:30",
        utc(2026, 10, 31),
        utc(2026, 11, 3),
        [utc(2026, 10, 31, 6, 30), utc(2026, 11, 1, 6, 30), utc(2026, 11, 2, 7, 30)],
    ),
]
RUN_IDS = [
    "berlin-weekly-spring-forward",
    "berlin-weekly-fall-back",
    "berlin-daily-fall-back",
    "berlin-daily-spring-forward",
    "chicago-weekly-spring-forward",
    "chicago-weekly-fall-back",
    "chicago-daily-fall-back",
]


@pytest.mark.parametrize("offset", [0, 7], ids=["on-the-quarter", "seven-past"])
@pytest.mark.parametrize(("tz", "schedule", "at", "start", "end", "moments"), RUNS, ids=RUN_IDS)
def test_cron_every_quarter_hour_makes_one_issue_per_moment(
    clock: Clock,
    offset: int,
    tz: ZoneInfo,
    schedule: str,
    at: str,
    start: datetime,
    end: datetime,
    moments: list[datetime],
) -> None:
    when = time.fromisoformat(at)
    # The issue of the last moment before the weeks begin, made at that moment.
    last = latest_moment(schedule, "sunday", when, start - SECOND, tz)
    made: list[tuple[datetime, datetime]] = []
    tick = start + timedelta(minutes=offset)
    while tick < end:
        now = clock(tick, tz)
        latest = latest_moment(schedule, "sunday", when, now, tz)
        upcoming = next_moment(schedule, "sunday", when, now, tz)
        assert latest is not None and upcoming is not None
        assert latest <= tick < upcoming, tick
        due, moment = is_due(schedule, "sunday", when, now, tz, last)
        if due:
            assert moment is not None
            made.append((tick, moment.astimezone(UTC)))
            last = now
        tick += timedelta(minutes=15)
    assert [moment for _, moment in made] == moments
    assert [tick for tick, _ in made] == [m + timedelta(minutes=offset) for m in moments]
