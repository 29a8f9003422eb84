"""parse_date: ISO 8601 and the human forms editors write, always to an aware datetime."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedpub.dates import FORMS_HELP, looks_like_date, parse_date

BERLIN = ZoneInfo("Europe/Berlin")
# Written out rather than from strftime, which follows the process locale.
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
CHICAGO = ZoneInfo("America/Chicago")


def offset(hours: float) -> timedelta:
    return timedelta(hours=hours)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20", datetime(2026, 11, 20, 0, 0, tzinfo=BERLIN)),
        ("2026-11-20T09:30", datetime(2026, 11, 20, 9, 30, tzinfo=BERLIN)),
        ("2026-11-20 09:30", datetime(2026, 11, 20, 9, 30, tzinfo=BERLIN)),
        ("2026-11-20T09:30:15", datetime(2026, 11, 20, 9, 30, 15, tzinfo=BERLIN)),
        ("2026-11-20T09:30:15.250", datetime(2026, 11, 20, 9, 30, 15, 250_000, tzinfo=BERLIN)),
        ("2026-11-20T09:30:00+01:00", datetime(2026, 11, 20, 8, 30, tzinfo=UTC)),
        ("2026-11-20T09:30:00-05:00", datetime(2026, 11, 20, 14, 30, tzinfo=UTC)),
        ("2026-11-20T09:30:00Z", datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
        ("2026-11-20t09:30:00z", datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
        ("20261120", datetime(2026, 11, 20, tzinfo=BERLIN)),
        ("  2026-11-20  ", datetime(2026, 11, 20, tzinfo=BERLIN)),
        ("2026-11-20\u00a009:30", datetime(2026, 11, 20, 9, 30, tzinfo=BERLIN)),
    ],
    ids=[
        "date",
        "minutes-T",
        "minutes-space",
        "seconds",
        "fraction",
        "plus-one",
        "minus-five",
        "Z",
        "lower-z",
        "basic",
        "padded",
        "nbsp",
    ],
)
def test_iso_forms(text: str, expected: datetime) -> None:
    parsed = parse_date(text, BERLIN)
    assert parsed == expected
    assert parsed.tzinfo is not None


@pytest.mark.parametrize(
    ("text", "utc_offset"),
    [
        ("2026-11-20T09:30:00+05:30", offset(5.5)),
        ("2026-07-01T09:30:00Z", offset(0)),
        ("2026-07-01T09:30:00-07:00", offset(-7)),
    ],
    ids=["india", "utc", "pacific"],
)
def test_written_zone_is_kept_not_replaced(text: str, utc_offset: timedelta) -> None:
    parsed = parse_date(text, BERLIN)
    assert parsed.utcoffset() == utc_offset
    assert parsed.isoformat().startswith(text[:19])


@pytest.mark.parametrize(
    ("text", "utc_offset"),
    [
        ("2026-03-29 01:30", offset(1)),
        ("2026-03-29 03:30", offset(2)),
        ("2026-10-25 01:30", offset(2)),
        ("2026-10-25 03:30", offset(1)),
        ("2026-07-01", offset(2)),
        ("2026-12-01", offset(1)),
    ],
    ids=[
        "before-spring-forward",
        "after-spring-forward",
        "before-fall-back",
        "after-fall-back",
        "summer",
        "winter",
    ],
)
def test_naive_takes_the_site_zone_across_dst(text: str, utc_offset: timedelta) -> None:
    parsed = parse_date(text, BERLIN)
    assert parsed.tzinfo == BERLIN
    assert parsed.utcoffset() == utc_offset


def test_dst_boundary_hours_are_an_hour_apart_in_real_time() -> None:
    before = parse_date("2026-03-29 01:59", BERLIN)
    after = parse_date("2026-03-29 03:00", BERLIN)
    assert after.astimezone(UTC) - before.astimezone(UTC) == timedelta(minutes=1)


def test_same_text_in_different_site_zones() -> None:
    berlin = parse_date("2026-11-20 09:00", BERLIN)
    chicago = parse_date("2026-11-20 09:00", CHICAGO)
    assert chicago.astimezone(UTC) - berlin.astimezone(UTC) == timedelta(hours=7)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("November 20, 2026", datetime(2026, 11, 20, tzinfo=BERLIN)),
        ("Nov 20, 2026", datetime(2026, 11, 20, tzinfo=BERLIN)),
        ("Nov. 20, 2026 3:30 p.m.", datetime(2026, 11, 20, 15, 30, tzinfo=BERLIN)),
        ("Nov 20, 2026 3:30 PM", datetime(2026, 11, 20, 15, 30, tzinfo=BERLIN)),
        ("Nov 20 2026 12:00 am", datetime(2026, 11, 20, 0, 0, tzinfo=BERLIN)),
        ("Nov 20 2026 12:15 pm", datetime(2026, 11, 20, 12, 15, tzinfo=BERLIN)),
        ("Friday, November 20, 2026", datetime(2026, 11, 20, tzinfo=BERLIN)),
        ("Fri. Nov 20, 2026", datetime(2026, 11, 20, tzinfo=BERLIN)),
        ("November 20th, 2026 at 9:15", datetime(2026, 11, 20, 9, 15, tzinfo=BERLIN)),
        ("Sept 1, 2026", datetime(2026, 9, 1, tzinfo=BERLIN)),
        ("20 November 2026 14:30", datetime(2026, 11, 20, 14, 30, tzinfo=BERLIN)),
        ("20 Nov 2026", datetime(2026, 11, 20, tzinfo=BERLIN)),
        ("Friday 20 November 2026 14:30:45", datetime(2026, 11, 20, 14, 30, 45, tzinfo=BERLIN)),
        ("2026/11/20", datetime(2026, 11, 20, tzinfo=BERLIN)),
        ("2026/1/5 7:05", datetime(2026, 1, 5, 7, 5, tzinfo=BERLIN)),
        ("NOVEMBER 20, 2026", datetime(2026, 11, 20, tzinfo=BERLIN)),
        ("November  20,\t2026", datetime(2026, 11, 20, tzinfo=BERLIN)),
        ("November 20, 2026 9:00 UTC", datetime(2026, 11, 20, 9, tzinfo=UTC)),
        ("November 20, 2026 9:00 GMT", datetime(2026, 11, 20, 9, tzinfo=UTC)),
        ("November 20, 2026 9:00 -0500", datetime(2026, 11, 20, 9, tzinfo=timezone(offset(-5)))),
        (
            "20 November 2026 14:30 +05:30",
            datetime(2026, 11, 20, 14, 30, tzinfo=timezone(offset(5.5))),
        ),
    ],
    ids=[
        "month-day-year",
        "abbrev",
        "abbrev-dot-pm-dots",
        "pm-caps",
        "midnight-am",
        "noon-pm",
        "weekday",
        "weekday-abbrev",
        "ordinal-at",
        "sept",
        "day-month-year-time",
        "day-abbrev-year",
        "weekday-day-first-seconds",
        "slashes",
        "slashes-short-time",
        "upper-case",
        "extra-spaces",
        "zone-utc",
        "zone-gmt",
        "zone-compact",
        "zone-colon",
    ],
)
def test_human_forms(text: str, expected: datetime) -> None:
    parsed = parse_date(text, BERLIN)
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


def test_human_form_without_zone_takes_site_zone() -> None:
    parsed = parse_date("November 20, 2026 9:00", CHICAGO)
    assert parsed.tzinfo == CHICAGO
    assert parsed.utcoffset() == offset(-6)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2026, 11, 20), datetime(2026, 11, 20, tzinfo=BERLIN)),
        (datetime(2026, 11, 20, 9, 30), datetime(2026, 11, 20, 9, 30, tzinfo=BERLIN)),
        (datetime(2026, 11, 20, 9, 30, tzinfo=UTC), datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
        (
            datetime(2026, 11, 20, 9, 30, tzinfo=timezone(offset(-5))),
            datetime(2026, 11, 20, 9, 30, tzinfo=timezone(offset(-5))),
        ),
    ],
    ids=["date", "naive-datetime", "utc-datetime", "offset-datetime"],
)
def test_yaml_date_objects(value: date, expected: datetime) -> None:
    parsed = parse_date(value, BERLIN)
    assert isinstance(parsed, datetime)
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


def test_aware_datetime_keeps_its_own_zone() -> None:
    value = datetime(2026, 11, 20, 9, 30, tzinfo=CHICAGO)
    assert parse_date(value, BERLIN).tzinfo is CHICAGO


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("garbage", "'garbage' is not a date"),
        ("Feb 30, 2026", "'Feb 30, 2026' is not a valid date (day is out of range for month)"),
        ("2026-02-30", "is not a"),
        ("2026/13/01", "is not a valid date (month must be in 1..12)"),
        ("Foo 20, 2026", "'Foo 20, 2026' is not a date"),
        ("Nov 20, 2026 13:00 pm", "hour 13 does not fit 'pm'"),
        ("Nov 20, 2026 0:30 am", "hour 0 does not fit 'am'"),
        ("Nov 20, 2026 25:00", "is not a valid date"),
        ("Nov 20, 2026 9:00 +25:00", "zone offset '+25:00' is out of range"),
        ("Nov 20, 2026 9:00 +01:75", "out of range"),
        ("November 20, 0000", "is not a valid date"),
        ("20/11/2026", "is not a date"),
        ("next Friday", "is not a date"),
        ("", "the date is empty"),
        (" \t\n ", "the date is empty"),
        ("2026-11-20 " + "x" * 100, "is too long to be a date"),
        ("9" * 10_000, "is too long to be a date"),
        (20261120, "expected a date, got int"),
        (2026.5, "expected a date, got float"),
        (None, "expected a date, got NoneType"),
        (True, "expected a date, got bool"),
        (["2026-11-20"], "expected a date, got list"),
        ({"date": "2026-11-20"}, "expected a date, got dict"),
        (b"2026-11-20", "expected a date, got bytes"),
    ],
    ids=[
        "garbage",
        "feb-30-human",
        "feb-30-iso",
        "month-13",
        "unknown-month",
        "pm-13",
        "am-0",
        "hour-25",
        "zone-hours",
        "zone-minutes",
        "year-0",
        "day-first-slashes",
        "relative",
        "empty",
        "blank",
        "long",
        "very-long",
        "int",
        "float",
        "none",
        "bool",
        "list",
        "dict",
        "bytes",
    ],
)
def test_not_a_date_is_a_value_error_telling_the_forms(value: object, words: str) -> None:
    with pytest.raises(ValueError, match=r"ISO 8601") as info:
        parse_date(value, BERLIN)
    message = str(info.value)
    assert words in message
    assert message.endswith(FORMS_HELP)
    assert "2026-11-20" in message and "November 20, 2026" in message
    assert len(message) < 300


def test_looks_like_date() -> None:
    assert looks_like_date("Friday, November 20, 2026", BERLIN) == datetime(
        2026, 11, 20, tzinfo=BERLIN
    )
    assert looks_like_date("By Jane Doe", BERLIN) is None
    assert looks_like_date("Feb 30, 2026", BERLIN) is None


@given(st.text())
def test_any_text_is_an_aware_datetime_or_a_value_error(text: str) -> None:
    try:
        parsed = parse_date(text, BERLIN)
    except ValueError as exc:
        assert FORMS_HELP in str(exc)
        return
    assert isinstance(parsed, datetime)
    assert parsed.tzinfo is not None
    assert parsed.utcoffset() is not None


@given(
    st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9998, 12, 31)),
    st.sampled_from(["iso", "human", "day-first", "slashes"]),
)
def test_written_datetimes_parse_back(value: datetime, form: str) -> None:
    value = value.replace(microsecond=0)
    month = MONTHS[value.month - 1]
    clock = f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    text = {
        "iso": value.isoformat(),
        "human": f"{month} {value.day}, {value.year:04d} {clock}",
        "day-first": f"{value.day} {month[:3]} {value.year:04d} {clock}",
        "slashes": f"{value.year:04d}/{value.month}/{value.day} {clock}",
    }[form]
    assert parse_date(text, BERLIN) == value.replace(tzinfo=BERLIN)


def test_local_mean_time_offsets_become_utc() -> None:
    # Berlin kept local mean time (+00:53:28) until 1893: no feed date format can write that.
    parsed = parse_date("1850-01-01", ZoneInfo("Europe/Berlin"))
    assert parsed.utcoffset() == timedelta(0)
    assert parsed == datetime(1849, 12, 31, 23, 6, 32, tzinfo=UTC)


@pytest.mark.parametrize("text", ["0999-01-01", "0001-01-01 10:00"], ids=["999", "year-1"])
def test_years_before_1000_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="four-digit year"):
        parse_date(text, ZoneInfo("Europe/Berlin"))
