"""ISO weeks (Monday–Sunday) as local calendar days in an app's timezone."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from huoli.analytics.frame import MAX_DAY, MIN_DAY
from huoli.errors import ValidationFailed

_WEEK = re.compile(r"^(\d{4})-?W(\d{2})$")


@dataclass(frozen=True, order=True)
class IsoWeek:
    year: int
    week: int

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def monday(self) -> dt.date:
        return dt.date.fromisocalendar(self.year, self.week, 1)

    @property
    def sunday(self) -> dt.date:
        return dt.date.fromisocalendar(self.year, self.week, 7)

    def days(self) -> list[dt.date]:
        return [self.monday + dt.timedelta(days=i) for i in range(7)]

    def shift(self, weeks: int) -> IsoWeek:
        return IsoWeek.of(self.monday + dt.timedelta(weeks=weeks))

    def previous(self) -> IsoWeek:
        return self.shift(-1)

    @staticmethod
    def of(day: dt.date) -> IsoWeek:
        y, w, _ = day.isocalendar()
        return IsoWeek(y, w)

    def __str__(self) -> str:
        return self.label


def parse_week(text: str, field: str = "week") -> IsoWeek:
    """'2026-W47' (or '2026W47') → IsoWeek; anything else, or a week the year does not have, is refused."""
    m = _WEEK.match(text.strip())
    if not m:
        raise ValidationFailed(
            f"bad week {text!r}", details=[{"field": field, "message": "expected an ISO week like 2026-W47"}]
        )
    year, week = int(m.group(1)), int(m.group(2))
    if (
        not MIN_DAY.year < year < MAX_DAY.year
    ):  # the report reads the week before too: both need analytics' days
        raise ValidationFailed(
            f"bad week {text!r}",
            details=[
                {"field": field, "message": f"a week of the years {MIN_DAY.year + 1}–{MAX_DAY.year - 1}"}
            ],
        )
    try:
        dt.date.fromisocalendar(year, week, 1)
    except ValueError:
        last = dt.date(year, 12, 28).isocalendar()[1]  # 28 December is always in the year's last week
        raise ValidationFailed(
            f"bad week {text!r}",
            details=[{"field": field, "message": f"{year} has ISO weeks 1–{last}"}],
        ) from None
    return IsoWeek(year, week)


def last_complete_week(now: dt.datetime, tz: str) -> IsoWeek:
    """The latest ISO week whose Sunday has ended in `tz` at `now`."""
    today = now.astimezone(ZoneInfo(tz)).date()
    return IsoWeek.of(today).previous()


def week_bounds_utc(week: IsoWeek, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """[Monday 00:00, next Monday 00:00) local, in UTC (same-zone aware arithmetic would ignore DST)."""
    zone = ZoneInfo(tz)
    start = dt.datetime.combine(week.monday, dt.time(), zone).astimezone(dt.UTC)
    end = dt.datetime.combine(week.sunday + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
    return start, end
