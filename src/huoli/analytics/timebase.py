"""Local calendar days, exactly, on every engine.

A timestamp's local day is floor((epoch_seconds + utc_offset) / 86400), with the UTC offset of the app
timezone at that instant. Offsets come from zoneinfo for the span being queried and are inlined as a CASE
over the transitions (none for Asia/Shanghai), so DST zones are exact too and no engine needs tz data.
Day numbers are days since 1970-01-01 in local time; weeks start on Monday; months are calendar months.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import ibis

from huoli.errors import ValidationFailed

EPOCH = dt.date(1970, 1, 1)


def day_number(d: dt.date) -> int:
    return (d - EPOCH).days


def day_date(n: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(n))


def week_number(day: int) -> int:
    """Monday-based week containing `day` (1970-01-01 was a Thursday, so shift by 3)."""
    return (day + 3) // 7


def week_start(week: int) -> dt.date:
    return day_date(week * 7 - 3)


def month_number(d: dt.date) -> int:
    return d.year * 12 + d.month - 1


def month_start(m: int) -> dt.date:
    return dt.date(m // 12, m % 12 + 1, 1)


def epoch_s(ts: ibis.TimestampValue) -> ibis.IntegerValue:
    """Whole seconds since the epoch (floored): DuckDB's epoch is fractional, ClickHouse's and Spark's are
    not, so every second-level comparison uses this to give the same answer on every engine."""
    return ts.epoch_seconds().floor().cast("int64")


@dataclass(frozen=True)
class TimeBase:
    tz: str

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.tz)
        except Exception as exc:  # zoneinfo raises several types for bad keys
            raise ValidationFailed(
                "unknown timezone",
                details=[{"field": "tz", "message": f"{self.tz!r} is not an IANA timezone"}],
            ) from exc

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def utc_start(self, d: dt.date) -> dt.datetime:
        """The instant local day `d` begins."""
        return dt.datetime.combine(d, dt.time(), tzinfo=self.zone).astimezone(dt.UTC)

    def epoch(self, d: dt.date) -> int:
        return int(self.utc_start(d).timestamp())

    def transitions(self, first: dt.date, last: dt.date) -> list[tuple[int, int]]:
        """[(from_epoch, offset_seconds)] covering local days first..last (two days of margin each side)."""
        return _transitions(self.tz, first - dt.timedelta(days=2), last + dt.timedelta(days=2))

    def local_seconds(self, ts: ibis.TimestampValue, first: dt.date, last: dt.date) -> ibis.IntegerValue:
        epoch = epoch_s(ts)
        trans = self.transitions(first, last)
        if len(trans) == 1:
            return epoch + trans[0][1]
        offset: ibis.IntegerValue = ibis.literal(trans[0][1])
        for start, off in trans[1:]:
            offset = ibis.ifelse(epoch >= start, off, offset)
        return epoch + offset

    def day(self, ts: ibis.TimestampValue, first: dt.date, last: dt.date) -> ibis.IntegerValue:
        return (self.local_seconds(ts, first, last) // 86400).cast("int64")


@functools.lru_cache(maxsize=256)
def _transitions(tz: str, first: dt.date, last: dt.date) -> list[tuple[int, int]]:
    zone = ZoneInfo(tz)

    def offset(epoch: int) -> int:
        return int(dt.datetime.fromtimestamp(epoch, dt.UTC).astimezone(zone).utcoffset().total_seconds())  # type: ignore[union-attr]

    t = int(dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC).timestamp())
    end = int(dt.datetime.combine(last, dt.time(), tzinfo=dt.UTC).timestamp())
    out = [(t, offset(t))]
    while t < end:  # daily steps; a change inside a day is located to the second by bisection
        nxt = min(t + 86400, end)
        if offset(nxt) != out[-1][1]:
            lo, hi = t, nxt
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(mid) == out[-1][1]:
                    lo = mid
                else:
                    hi = mid
            out.append((hi, offset(hi)))
        t = nxt
    return out
