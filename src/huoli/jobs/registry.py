"""The job registry: each domain declares its jobs in `<domain>/jobs.py` with `@job(...)`, found like routes.

A job is a plain function of a `JobContext`. Its schedule is a crontab (`cron("0 3 * * *")`, read in the
app's timezone for per-app jobs, in Settings.timezone for global ones) or a fixed period (`every(minutes=5)`).
Each firing has a period key; the runner records one run per (job, app, period) (jobs/runner.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from huoli.domains import domain_modules

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from huoli.runtime import Runtime
    from huoli.settings import Settings

Scope = Literal["app", "global"]
# "primary": the job reads the event store, which only the process that owns it (`huoli serve`) may open.
Queue = Literal["general", "primary"]
QUEUES: tuple[Queue, ...] = ("general", "primary")
_NAME = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$")


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


@dataclass(frozen=True)
class JobContext:
    """What a job gets: the runtime, its app (None for a global job), now, and — for a transactional job —
    the unit of work its effects and its run record commit in together."""

    rt: Runtime
    app_id: str | None
    now: datetime
    period: str
    run_id: int
    db: Session | None = None

    @property
    def session(self) -> Session:
        assert self.db is not None, "a job with transaction=False opens its own units of work"
        return self.db


JobFn = Callable[[JobContext], dict[str, Any]]


@dataclass(frozen=True)
class Job:
    name: str  # "<domain>.<job>", e.g. loyalty.expire
    fn: JobFn
    schedule: Schedule | None  # None: one-off, run by hand or enqueued by code
    scope: Scope
    queue: Queue
    transaction: bool  # the job's effects and its "ok" record commit in one unit of work (exactly once)
    retries: int
    description: str
    timeout_s: float | None = None  # longest a run may take before it counts as stuck (default: the lease)
    # The schedule read from the settings (a deployment's choice, e.g. HUOLI_BACKUP_SCHEDULE); replaces `schedule`.
    schedule_from: Callable[[Settings], Schedule | None] | None = None

    def tz(self, settings_tz: str, app_tz: str | None) -> ZoneInfo:
        return ZoneInfo(app_tz if self.scope == "app" and app_tz else settings_tz)


class Registry:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}

    def add(self, job_: Job) -> Job:
        if job_.name in self._jobs and self._jobs[job_.name].fn is not job_.fn:
            raise ValueError(f"job {job_.name!r} declared twice")
        self._jobs[job_.name] = job_
        return job_

    def get(self, name: str) -> Job | None:
        return self._jobs.get(name)

    def __iter__(self) -> Iterator[Job]:
        return iter(sorted(self._jobs.values(), key=lambda j: j.name))

    def __len__(self) -> int:
        return len(self._jobs)

    def configured(self, settings: Settings) -> Registry:
        """This registry with each settings-driven schedule read from `settings` (a copy when there are any)."""
        if not any(j.schedule_from for j in self._jobs.values()):
            return self
        out = Registry()
        for j in self:
            out.add(replace(j, schedule=j.schedule_from(settings)) if j.schedule_from else j)
        return out


# Declarations land here when a domain's jobs.py is imported; `discover()` imports them all.
DECLARED = Registry()


def job(
    name: str,
    *,
    schedule: Schedule | None,
    scope: Scope = "app",
    queue: Queue = "general",
    transaction: bool = True,
    retries: int = 3,
    description: str = "",
    registry: Registry | None = None,
    schedule_from: Callable[[Settings], Schedule | None] | None = None,
) -> Callable[[JobFn], JobFn]:
    """Declare a job. `scope="app"` runs it once per app (in the app's timezone and unit of work);
    `queue="primary"` for jobs that read the event store; `transaction=False` for jobs that open their own
    units of work (flows calling WeChat, the event store) — those must be idempotent by themselves."""
    if not _NAME.match(name):
        raise ValueError(f"job name {name!r}: <domain>.<name>, lower case")
    if not 0 <= retries <= 20:
        raise ValueError("retries: 0–20")

    def decorate(fn: JobFn) -> JobFn:
        doc = description or (fn.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        (registry if registry is not None else DECLARED).add(
            Job(name, fn, schedule, scope, queue, transaction, retries, doc, schedule_from=schedule_from)
        )
        return fn

    return decorate


def discover() -> Registry:
    """Every domain's jobs (imports `huoli.<domain>.jobs` once; the decorators fill DECLARED)."""
    for _module in domain_modules("jobs"):
        pass
    return DECLARED
