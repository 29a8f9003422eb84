"""The schedule kinds beyond daily and weekly (biweekly, monthly), ``[newsletter] skip``, and the
window in which an issue already made stands in for a moment: with a fixed clock, across both
DST changes of America/Los_Angeles and Europe/Berlin, and as properties over any clock.

Instants are written in UTC so that each case names one unambiguous moment.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedpub import config
from feedpub.config import WEEKDAYS
from feedpub.errors import ConfigError
from feedpub.newsletter.schedule import BIWEEKLY_EPOCH, Schedule, month_day

LOS_ANGELES = ZoneInfo("America/Los_Angeles")
BERLIN = ZoneInfo("Europe/Berlin")
SECOND = timedelta(seconds=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def cron(schedule: Schedule, start: datetime, end: datetime) -> list[datetime]:
    """The moments a cron job 7 minutes past every quarter hour from ``start`` to ``end`` makes
    an issue for, each issue made at the tick that found it due; the moment before ``start``
    had its issue."""
    last = schedule.latest(start - SECOND)
    made: list[datetime] = []
    tick = start + timedelta(minutes=7)
    while tick < end:
        now = tick.astimezone(schedule.tz)
        due, moment = schedule.is_due(now, last)
        if due:
            assert moment is not None
            assert timedelta(0) <= tick - moment < timedelta(minutes=15), (tick, moment)
            made.append(moment.astimezone(UTC))
            last = now
        tick += timedelta(minutes=15)
    return made


# (schedule, first tick, end, the moments made for); US changes: 2026-03-08 and 2026-11-01,
# EU changes: 2026-03-29 and 2026-10-25 (all Sundays; 02:30 is skipped in spring, 01:30 in LA
# and 02:30 in Berlin happen twice in autumn).
RUNS = [
    (
        Schedule("biweekly", "sunday", time(2, 30), LOS_ANGELES, date(2026, 3, 8)),
        utc(2026, 2, 20),
        utc(2026, 3, 30),
        [utc(2026, 2, 22, 10, 30), utc(2026, 3, 8, 10, 30), utc(2026, 3, 22, 9, 30)],
    ),
    (
        Schedule("biweekly", "sunday", time(1, 30), LOS_ANGELES, date(2026, 11, 1)),
        utc(2026, 10, 15),
        utc(2026, 11, 20),
        [utc(2026, 10, 18, 8, 30), utc(2026, 11, 1, 8, 30), utc(2026, 11, 15, 9, 30)],
    ),
    (
        Schedule("biweekly", "sunday", time(2, 30), BERLIN, date(2026, 3, 29)),
        utc(2026, 3, 10),
        utc(2026, 4, 15),
        [utc(2026, 3, 15, 1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 4, 12, 0, 30)],
    ),
    (
        Schedule("biweekly", "sunday", time(2, 30), BERLIN, date(2026, 10, 25)),
        utc(2026, 10, 5),
        utc(2026, 11, 10),
        [utc(2026, 10, 11, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 11, 8, 1, 30)],
    ),
    (
        Schedule("monthly", "second sunday", time(2, 30), LOS_ANGELES),
        utc(2026, 2, 1),
        utc(2026, 4, 20),
        [utc(2026, 2, 8, 10, 30), utc(2026, 3, 8, 10, 30), utc(2026, 4, 12, 9, 30)],
    ),
    (
        Schedule("monthly", "first sunday", time(1, 30), LOS_ANGELES),
        utc(2026, 10, 1),
        utc(2026, 12, 10),
        [utc(2026, 10, 4, 8, 30), utc(2026, 11, 1, 8, 30), utc(2026, 12, 6, 9, 30)],
    ),
    (
        Schedule("monthly", "last sunday", time(2, 30), BERLIN),
        utc(2026, 2, 10),
        utc(2026, 4, 30),
        [utc(2026, 2, 22, 1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 4, 26, 0, 30)],
    ),
    (
        Schedule("monthly", "last sunday", time(2, 30), BERLIN),
        utc(2026, 9, 20),
        utc(2026, 11, 30),
        [utc(2026, 9, 27, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 11, 29, 1, 30)],
    ),
    # The 31st is the month's last day when it has fewer; the change to PDT moves it an hour.
    (
        Schedule("monthly", "31", time(7, 0), LOS_ANGELES),
        utc(2026, 1, 20),
        utc(2026, 5, 5),
        [
            utc(2026, 1, 31, 15),
            utc(2026, 2, 28, 15),
            utc(2026, 3, 31, 14),
            utc(2026, 4, 30, 14),
        ],
    ),
    (
        Schedule("monthly", "25", time(2, 30), BERLIN),
        utc(2026, 9, 20),
        utc(2026, 11, 30),
        [utc(2026, 9, 25, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 11, 25, 1, 30)],
    ),
    (
        Schedule("weekly", "sunday", time(2, 30), LOS_ANGELES),
        utc(2026, 3, 1, 12),
        utc(2026, 3, 16),
        [utc(2026, 3, 8, 10, 30), utc(2026, 3, 15, 9, 30)],
    ),
    (
        Schedule("weekly", "sunday", time(1, 30), LOS_ANGELES),
        utc(2026, 10, 24, 12),
        utc(2026, 11, 9),
        [utc(2026, 10, 25, 8, 30), utc(2026, 11, 1, 8, 30), utc(2026, 11, 8, 9, 30)],
    ),
    (
        Schedule("daily", "sunday", time(2, 30), LOS_ANGELES),
        utc(2026, 3, 7, 12),
        utc(2026, 3, 10),
        [utc(2026, 3, 8, 10, 30), utc(2026, 3, 9, 9, 30)],
    ),
    (
        Schedule("daily", "sunday", time(1, 30), LOS_ANGELES),
        utc(2026, 10, 31, 12),
        utc(2026, 11, 3),
        [utc(2026, 11, 1, 8, 30), utc(2026, 11, 2, 9, 30)],
    ),
]
RUN_IDS = [
    "biweekly-los-angeles-spring",
    "biweekly-los-angeles-autumn",
    "biweekly-berlin-spring",
    "biweekly-berlin-autumn",
    "monthly-second-sunday-los-angeles-spring",
    "monthly-first-sunday-los-angeles-autumn",
    "monthly-last-sunday-berlin-spring",
    "monthly-last-sunday-berlin-autumn",
    "monthly-31st-clamped-los-angeles",
    "monthly-25th-berlin-autumn",
    "weekly-los-angeles-spring",
    "weekly-los-angeles-autumn",
    "daily-los-angeles-spring",
    "daily-los-angeles-autumn",
]


@pytest.mark.parametrize(("schedule", "start", "end", "moments"), RUNS, ids=RUN_IDS)
def test_cron_makes_one_issue_per_moment_across_dst(
    schedule: Schedule, start: datetime, end: datetime, moments: list[datetime]
) -> None:
    assert cron(schedule, start, end) == moments


@pytest.mark.parametrize(
    ("spec", "year", "month", "expected"),
    [
        ("31", 2026, 2, date(2026, 2, 28)),
        ("31", 2028, 2, date(2028, 2, 29)),
        ("30", 2026, 4, date(2026, 4, 30)),
        ("1", 2026, 12, date(2026, 12, 1)),
        ("first friday", 2026, 1, date(2026, 1, 2)),
        ("first thursday", 2026, 1, date(2026, 1, 1)),
        ("second tuesday", 2026, 12, date(2026, 12, 8)),
        ("fourth monday", 2026, 2, date(2026, 2, 23)),
        ("last monday", 2026, 8, date(2026, 8, 31)),
        ("last friday", 2026, 7, date(2026, 7, 31)),
        ("last sunday", 2026, 2, date(2026, 2, 22)),
    ],
)
def test_month_day(spec: str, year: int, month: int, expected: date) -> None:
    assert month_day(spec, year, month) == expected


def test_biweekly_counts_weeks_from_the_start_date() -> None:
    on = Schedule("biweekly", "friday", time(7), LOS_ANGELES, date(2026, 12, 1))
    off = Schedule("biweekly", "friday", time(7), LOS_ANGELES, date(2026, 12, 8))
    now = utc(2026, 12, 4, 16)  # Friday 2026-12-04 08:00 PST
    assert on.latest(now) == datetime(2026, 12, 4, 7, tzinfo=LOS_ANGELES)
    assert off.latest(now) == datetime(2026, 11, 27, 7, tzinfo=LOS_ANGELES)
    assert off.next(now) == datetime(2026, 12, 11, 7, tzinfo=LOS_ANGELES)


def test_biweekly_without_a_start_runs_on_through_a_53_week_year() -> None:
    """2026 has 53 ISO weeks: the count from BIWEEKLY_EPOCH keeps two weeks between issues
    where the week numbers' parity would leave three."""
    schedule = Schedule("biweekly", "friday", time(7), BERLIN)
    assert BIWEEKLY_EPOCH.weekday() == 0
    made = cron(schedule, utc(2026, 12, 1), utc(2027, 1, 31))
    gaps = {b - a for a, b in itertools.pairwise(made)}
    assert gaps == {timedelta(days=14)}
    assert len(made) == 5


def test_skip_passes_the_moments_inside_a_range() -> None:
    schedule = Schedule(
        "weekly",
        "friday",
        time(7),
        LOS_ANGELES,
        skip=((date(2026, 12, 21), date(2027, 1, 3)), (date(2027, 1, 15), date(2027, 1, 15))),
    )
    made = cron(schedule, utc(2026, 12, 10), utc(2027, 1, 25))
    assert made == [utc(2026, 12, 11, 15), utc(2026, 12, 18, 15), utc(2027, 1, 8, 15),
                    utc(2027, 1, 22, 15)]  # fmt: skip
    christmas = utc(2026, 12, 25, 16)
    assert schedule.latest(christmas) == datetime(2026, 12, 18, 7, tzinfo=LOS_ANGELES)
    assert schedule.next(christmas) == datetime(2027, 1, 8, 7, tzinfo=LOS_ANGELES)
    assert schedule.passed_over(christmas) == [
        datetime(2026, 12, 25, 7, tzinfo=LOS_ANGELES),
        datetime(2027, 1, 1, 7, tzinfo=LOS_ANGELES),
    ]
    assert schedule.passed_over(utc(2027, 1, 9)) == [datetime(2027, 1, 15, 7, tzinfo=LOS_ANGELES)]
    assert schedule.passed_over(utc(2027, 1, 23)) == []


@pytest.mark.parametrize(
    ("made", "covers"),
    [
        (utc(2026, 12, 4, 14, 2), True),  # issue new at 06:02 PST, the moment 07:00
        (utc(2026, 12, 4, 15, 0), True),
        (utc(2026, 12, 4, 3, 1), True),  # 11 h 59 before
        (utc(2026, 12, 4, 3, 0), False),  # 12 h before: Thursday evening's issue is its own
        (utc(2026, 12, 3, 18, 0), False),
    ],
)
def test_an_issue_made_shortly_before_a_moment_is_its_issue(made: datetime, covers: bool) -> None:
    schedule = Schedule("weekly", "friday", time(7), LOS_ANGELES)
    moment = utc(2026, 12, 4, 15)
    assert schedule.covers(made, moment) is covers
    assert schedule.is_due(moment + timedelta(minutes=1), made) == (
        not covers,
        moment.astimezone(LOS_ANGELES),
    )


def test_a_daily_window_never_reaches_yesterday() -> None:
    schedule = Schedule("daily", "friday", time(7), BERLIN)
    yesterday_late = utc(2026, 12, 3, 6, 5)  # yesterday's run, five minutes late
    assert schedule.is_due(utc(2026, 12, 4, 6, 0), yesterday_late)[0]
    assert not schedule.is_due(utc(2026, 12, 4, 6, 0), utc(2026, 12, 4, 1, 0))[0]


KINDS = st.sampled_from(["daily", "weekly", "biweekly", "monthly"])
MONTH_DAYS = st.sampled_from(
    [str(n) for n in (1, 15, 28, 29, 30, 31)]
    + [f"{o} {d}" for o in ("first", "second", "last") for d in ("monday", "friday", "sunday")]
)
ZONES = st.sampled_from([LOS_ANGELES, BERLIN, UTC])
CLOCK = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31))


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    kind = draw(KINDS)
    day = draw(MONTH_DAYS) if kind == "monthly" else draw(st.sampled_from(WEEKDAYS))
    at = draw(st.times())
    start = draw(st.none() | st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 1, 1)))
    skips = []
    for first in draw(
        st.lists(st.dates(min_value=date(2019, 6, 1), max_value=date(2036, 1, 1)), max_size=4)
    ):
        skips.append((first, first + timedelta(days=draw(st.integers(0, 120)))))
    return Schedule(kind, day, at.replace(microsecond=0), draw(ZONES), start, tuple(skips))


@given(
    schedule=schedules(),
    naive=CLOCK,
    back=st.none() | st.timedeltas(timedelta(0), timedelta(days=60)),
)
def test_latest_and_next_agree_for_any_clock(
    schedule: Schedule, naive: datetime, back: timedelta | None
) -> None:
    now = naive.replace(tzinfo=UTC).astimezone(schedule.tz)
    latest, upcoming = schedule.latest(now), schedule.next(now)
    assert latest is not None and upcoming is not None
    assert latest <= now < upcoming
    for moment in (latest, upcoming):
        assert not schedule.skipped(moment.date())
        assert moment.tzinfo is schedule.tz
    # Nothing scheduled in between: each is the other's neighbour.
    assert schedule.next(latest) == upcoming
    assert schedule.latest(upcoming) == upcoming
    assert schedule.latest(upcoming - SECOND) == latest
    # An issue made at the latest moment is its issue; the next moment is due after it.
    assert not schedule.is_due(now, latest)[0]
    assert schedule.is_due(upcoming, latest) == (True, upcoming)
    # Due for the latest moment exactly when no issue was made in its window or after it.
    last = None if back is None else now - back
    expected = last is None or last.astimezone(UTC) <= latest.astimezone(UTC) - schedule.window
    assert schedule.is_due(now, last) == (expected, latest)


def settings(tmp_path: Path, lines: str) -> Path:
    root = tmp_path / "site"
    (root / "content").mkdir(parents=True, exist_ok=True)
    (root / "feedpub.toml").write_text(
        '[site]\ntitle = "T"\nurl = "https://news.example.org/"\n\n[newsletter]\n' + lines,
        encoding="utf-8",
    )
    return root


@pytest.mark.parametrize(
    ("lines", "kind", "day", "start", "skip"),
    [
        ('schedule = "biweekly"\nday = "Friday"\nstart = "2027-01-08"\n', "biweekly", "friday",
         "2027-01-08", ()),
        ('schedule = "monthly"\nday = "15"\n', "monthly", "15", "", ()),
        ('schedule = "monthly"\nday = "07"\n', "monthly", "7", "", ()),
        ('schedule = "monthly"\nday = " First  FRIDAY "\n', "monthly", "first friday", "", ()),
        ('skip = ["2026-12-21..2027-01-03", "2027-04-02"]\n', "weekly", "friday", "",
         ("2026-12-21..2027-01-03", "2027-04-02")),
        ('skip = ["2026-12-25..2026-12-25"]\n', "weekly", "friday", "", ("2026-12-25",)),
    ],
    ids=["biweekly", "monthly-15", "monthly-07", "monthly-first-friday", "skip", "skip-one-day"],
)  # fmt: skip
def test_schedule_settings_are_read(
    tmp_path: Path, lines: str, kind: str, day: str, start: str, skip: tuple[str, ...]
) -> None:
    newsletter = config.load(settings(tmp_path, lines), env={}).newsletter
    assert (newsletter.schedule, newsletter.day, newsletter.start, newsletter.skip) == (
        kind,
        day,
        start,
        skip,
    )


@pytest.mark.parametrize(
    ("lines", "line", "words"),
    [
        ('schedule = "fortnightly"\n', 6, "[newsletter] schedule 'fortnightly' is not a schedule; "
         "use one of weekly, daily, biweekly, monthly, manual"),
        ('schedule = "monthly"\n', 5, "[newsletter] day 'friday' is a day of the week, but "
         'schedule = "monthly" needs a day of the month; write day = "1"'),
        ('schedule = "monthly"\nday = "friday"\n', 7, 'or day = "first friday"'),
        ('schedule = "weekly"\nday = "15"\n', 7, "[newsletter] day '15' is a day of the month, "
         "but schedule = 'weekly' needs a day of the week"),
        ('schedule = "biweekly"\nday = "last friday"\n', 7, "schedule = 'biweekly' needs a day "
         "of the week"),
        ('day = "32"\n', 6, "[newsletter] day '32' is not a day: use a day of the week"),
        ('day = "0"\n', 6, "'0' is not a day"),
        ('day = "fifth friday"\n', 6, "'fifth friday' is not a day"),
        ('day = "first fryday"\n', 6, "'first fryday' is not a day"),
        ('day = "\u0661\u0665"\n', 6, "is not a day"),  # Arabic-Indic 15
        ('day = 15\n', 6, "[newsletter] day must be a string in quotes"),
        ('day = "' + "x" * 10_000 + '"\n', 6, "[newsletter] day is 10000 characters"),
        ('start = "2027-13-01"\n', 6, "[newsletter] start '2027-13-01' is not a date; write it "
         "as YYYY-MM-DD"),
        ('start = "next friday"\n', 6, "'next friday' is not a date"),
        ('start = 2027-01-08\n', 6, "[newsletter] start must be a string in quotes"),
        ('skip = "2026-12-25"\n', 6, "[newsletter] skip must be a list of strings"),
        ('skip = ["2027-01-03..2026-12-21"]\n', 6, "'2027-01-03..2026-12-21' ends before it "
         "begins; write the earlier date first"),
        ('skip = ["2026-12-21..2028-01-01"]\n', 6, "is 377 days; a range skips at most 366"),
        ('skip = ["2026-12-21.."]\n', 6, "'' is not a date"),
        ('skip = ["2026-12-21...2027-01-03"]\n', 6, "'.2027-01-03' is not a date"),
        ('skip = ["20261225"]\n', 6, "'20261225' is not a date"),
        ('skip = ["' + "9" * 5000 + '"]\n', 6, "is not a date; write it as YYYY-MM-DD"),
        ("skip = [" + ", ".join(['"2026-12-25"'] * 201) + "]\n", 6, "has 201 entries; keep it "
         "to 200"),
    ],
)  # fmt: skip
def test_bad_schedule_settings_name_the_key_and_the_fix(
    tmp_path: Path, lines: str, line: int, words: str
) -> None:
    with pytest.raises(ConfigError) as info:
        config.load(settings(tmp_path, lines), env={})
    [problem] = info.value.problems
    assert problem.line == line
    assert words in problem.message
    assert len(problem.message) < 400


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("FEEDPUB_NEWSLETTER_SKIP", "2026-12-25, 2026-12-31..2027-01-01", None),
        ("FEEDPUB_NEWSLETTER_SKIP", "2026-12-25,christmas", "'christmas' is not a date"),
        ("FEEDPUB_NEWSLETTER_DAY", "last friday", None),
        ("FEEDPUB_NEWSLETTER_START", "2026-02-30", "'2026-02-30' is not a date"),
    ],
    ids=["skip", "skip-bad", "day", "start-bad"],
)
def test_schedule_settings_from_the_environment(
    tmp_path: Path, variable: str, value: str, words: str | None
) -> None:
    root = settings(tmp_path, 'schedule = "monthly"\nday = "1"\n')
    if words is None:
        newsletter = config.load(root, env={variable: value}).newsletter
        assert (newsletter.skip, newsletter.day) in (
            (("2026-12-25", "2026-12-31..2027-01-01"), "1"),
            ((), "last friday"),
        )
        return
    with pytest.raises(ConfigError) as info:
        config.load(root, env={variable: value})
    [problem] = info.value.problems
    assert variable in problem.path
    assert words in problem.message
