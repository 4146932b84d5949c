"""Schedules: a crontab line read in local time, or a fixed period counted from the epoch. Jobs run on them
(jobs/registry.py re-exports `cron` and `every` for `@job`); settings validate configured schedules with them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


class ScheduleError(ValueError):
    pass


@dataclass(frozen=True)
class Every:
    """Once per fixed period of `seconds`, counted from the Unix epoch (so every process agrees on it)."""

    seconds: int

    def describe(self) -> str:
        s = self.seconds
        if s % 86400 == 0:
            return f"every {s // 86400} d"
        if s % 3600 == 0:
            return f"every {s // 3600} h"
        return f"every {s // 60} min" if s % 60 == 0 else f"every {s} s"

    def current(self, now: datetime, tz: ZoneInfo) -> tuple[str, datetime] | None:
        n = int(now.timestamp()) // self.seconds
        return f"e{self.seconds}:{n}", datetime.fromtimestamp(n * self.seconds, UTC)

    def next_after(self, now: datetime, tz: ZoneInfo) -> datetime | None:
        n = int(now.timestamp()) // self.seconds + 1
        return datetime.fromtimestamp(n * self.seconds, UTC)


def every(*, seconds: int = 0, minutes: int = 0, hours: int = 0) -> Every:
    total = seconds + 60 * minutes + 3600 * hours
    # The scheduler looks once a minute: a shorter period could pass unseen.
    if total < 60:
        raise ScheduleError("a job period is at least 60 seconds")
    return Every(total)


_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12), ("day_of_week", 0, 7))


def _parse_field(text: str, name: str, lo: int, hi: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ScheduleError(f"{name}: step must be positive")
        if base == "*":
            start, end = lo, hi
        elif "-" in base:
            a, b = base.split("-", 1)
            start, end = int(a), int(b)
        else:
            start = int(base)
            end = hi if step_text else start
        if not lo <= start <= end <= hi:
            raise ScheduleError(f"{name}: {part!r} outside {lo}-{hi}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    """A crontab line: minute hour day-of-month month day-of-week (0 or 7 = Sunday), in local time."""

    expr: str
    minutes: frozenset[int] = field(compare=False)
    hours: frozenset[int] = field(compare=False)
    days: frozenset[int] = field(compare=False)
    months: frozenset[int] = field(compare=False)
    weekdays: frozenset[int] = field(compare=False)  # Monday 0 … Sunday 6 (Python's weekday())
    any_day: bool = field(compare=False)
    any_weekday: bool = field(compare=False)

    def describe(self) -> str:
        return f"cron {self.expr}"

    def _day_matches(self, d: date) -> bool:
        if d.month not in self.months:
            return False
        by_day, by_weekday = d.day in self.days, d.weekday() in self.weekdays
        # Cron's rule: when both fields are restricted, either one matching is enough.
        if not self.any_day and not self.any_weekday:
            return by_day or by_weekday
        return by_day and by_weekday

    def _fires(self, days: Iterable[date], tz: ZoneInfo, *, backwards: bool) -> Iterator[datetime]:
        for d in days:
            if self._day_matches(d):
                for h in sorted(self.hours, reverse=backwards):
                    for m in sorted(self.minutes, reverse=backwards):
                        yield datetime.combine(d, time(h, m), tzinfo=tz)

    def current(self, now: datetime, tz: ZoneInfo) -> tuple[str, datetime] | None:
        """The latest firing at or before `now` (within a year) and its period key (the local minute)."""
        today = now.astimezone(tz).date()
        days = (today - timedelta(days=i) for i in range(367))
        for at in self._fires(days, tz, backwards=True):
            if at <= now:
                return f"c:{at:%Y-%m-%dT%H:%M}", at
        return None

    def next_after(self, now: datetime, tz: ZoneInfo) -> datetime | None:
        today = now.astimezone(tz).date()
        days = (today + timedelta(days=i) for i in range(367))
        for at in self._fires(days, tz, backwards=False):
            if at > now:
                return at
        return None


def cron(expr: str) -> Cron:
    parts = expr.split()
    if len(parts) != 5:
        raise ScheduleError(f"crontab {expr!r}: five fields (minute hour day month day-of-week)")
    try:
        sets = [_parse_field(p, n, lo, hi) for p, (n, lo, hi) in zip(parts, _FIELDS, strict=True)]
    except ValueError as exc:
        raise ScheduleError(f"crontab {expr!r}: {exc}") from None
    weekdays = frozenset((d - 1) % 7 for d in sets[4])  # cron 1 = Monday, 0 and 7 = Sunday
    return Cron(expr, sets[0], sets[1], sets[2], sets[3], weekdays, parts[2] == "*", parts[4] == "*")


Schedule = Every | Cron
