"""Local days are exact in fixed-offset and DST timezones."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from huoli.analytics.timebase import TimeBase, _transitions, day_number
from huoli.errors import ValidationFailed


def test_transitions_are_found_to_the_second() -> None:
    assert _transitions("Asia/Shanghai", dt.date(2020, 1, 1), dt.date(2030, 1, 1))[1:] == []
    ny = _transitions("America/New_York", dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    # 2026-03-08 07:00 UTC (02:00 EST → EDT) and 2026-11-01 06:00 UTC (02:00 EDT → EST).
    assert [(dt.datetime.fromtimestamp(t, dt.UTC).isoformat(), off) for t, off in ny[1:]] == [
        ("2026-03-08T07:00:00+00:00", -4 * 3600),
        ("2026-11-01T06:00:00+00:00", -5 * 3600),
    ]


@pytest.mark.parametrize("tz", ["Asia/Shanghai", "America/New_York", "Australia/Lord_Howe", "UTC"])
def test_local_day_matches_zoneinfo(tz: str) -> None:
    tb = TimeBase(tz)
    first, last = dt.date(2026, 1, 1), dt.date(2026, 12, 31)
    trans = tb.transitions(first, last)
    t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    while t.date() < last:
        epoch = int(t.timestamp())
        off = [o for start, o in trans if start <= epoch][-1]
        assert (epoch + off) // 86400 == day_number(t.astimezone(ZoneInfo(tz)).date()), t
        t += dt.timedelta(minutes=17, seconds=13)


def test_bad_timezone() -> None:
    with pytest.raises(ValidationFailed, match="unknown timezone"):
        TimeBase("Nowhere/Special")
