"""ISO weeks: parsing, the year boundaries, bad input, and the default week in the app timezone."""

from __future__ import annotations

import datetime as dt

import pytest

from huoli.errors import ValidationFailed
from huoli.reports.weeks import IsoWeek, last_complete_week, parse_week, week_bounds_utc


@pytest.mark.parametrize(
    ("text", "monday", "sunday"),
    [
        ("2026-W47", "2026-11-16", "2026-11-22"),
        ("2026W47", "2026-11-16", "2026-11-22"),
        ("2025-W01", "2024-12-30", "2025-01-05"),  # week 1 starts in the previous calendar year
        ("2026-W53", "2026-12-28", "2027-01-03"),  # 2026 has 53 ISO weeks (it starts on a Thursday)
        ("2020-W53", "2020-12-28", "2021-01-03"),
        ("2027-W01", "2027-01-04", "2027-01-10"),
    ],
)
def test_parse(text: str, monday: str, sunday: str) -> None:
    w = parse_week(text)
    assert (w.monday.isoformat(), w.sunday.isoformat()) == (monday, sunday)
    assert w.monday.isoweekday() == 1 and len(w.days()) == 7


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2025-W53", "2025 has ISO weeks 1–52"),
        ("2021-W53", "2021 has ISO weeks 1–52"),
        ("2026-W00", "2026 has ISO weeks 1–53"),
        ("2026-W54", "2026 has ISO weeks 1–53"),
        ("2026-47", "expected an ISO week"),
        ("W47", "expected an ISO week"),
        ("2026-W4", "expected an ISO week"),
        ("2026-11-16", "expected an ISO week"),
        ("", "expected an ISO week"),
    ],
)
def test_bad_weeks_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        parse_week(text)
    assert exc.value.details == [{"field": "week", "message": exc.value.details[0]["message"]}]
    assert reason in exc.value.details[0]["message"]


@pytest.mark.parametrize("text", ["9999-W52", "0001-W01", "1970-W02", "2999-W01"])
def test_weeks_outside_what_analytics_answers_are_refused(text: str) -> None:
    # 9999-W52 has no following Monday and 0001-W01 no previous week: both crashed the report (a 500)
    with pytest.raises(ValidationFailed) as exc:
        parse_week(text)
    assert exc.value.details == [{"field": "week", "message": "a week of the years 1971–2998"}]


def test_previous_crosses_years() -> None:
    assert parse_week("2027-W01").previous() == IsoWeek(2026, 53)
    assert parse_week("2026-W01").previous() == IsoWeek(2025, 52)
    assert parse_week("2026-W53").shift(1).label == "2027-W01"


def test_last_complete_week_is_local() -> None:
    # Sunday 22 Nov 2026 15:59 UTC is 23:59 in Shanghai: W47 is not over, so W46
    assert (
        last_complete_week(dt.datetime(2026, 11, 22, 15, 59, tzinfo=dt.UTC), "Asia/Shanghai").label
        == "2026-W46"
    )
    # 16:00 UTC is Monday 00:00 in Shanghai: W47 just ended — but in UTC it is still Sunday
    now = dt.datetime(2026, 11, 22, 16, 0, tzinfo=dt.UTC)
    assert last_complete_week(now, "Asia/Shanghai").label == "2026-W47"
    assert last_complete_week(now, "UTC").label == "2026-W46"
    # New Year: Friday 1 Jan 2027 is in 2026-W53, so the last complete week is W52
    assert last_complete_week(dt.datetime(2027, 1, 1, tzinfo=dt.UTC), "Asia/Shanghai").label == "2026-W52"


def test_bounds_are_local_midnights() -> None:
    start, end = week_bounds_utc(parse_week("2026-W47"), "Asia/Shanghai")
    assert start == dt.datetime(2026, 11, 15, 16, tzinfo=dt.UTC)
    assert end == dt.datetime(2026, 11, 22, 16, tzinfo=dt.UTC)
    # a DST zone: the week of the spring change is 7 local days but 167 hours long
    s, e = week_bounds_utc(parse_week("2026-W10"), "America/New_York")
    assert (e - s) == dt.timedelta(hours=167)
