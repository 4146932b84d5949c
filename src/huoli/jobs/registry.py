"""The job registry: each domain declares its jobs in `<domain>/jobs.py` with `@job(...)`, found like routes.

A job is a plain function of a `JobContext`. Its schedule is a crontab (`cron("0 3 * * *")`, read in the
app's timezone for per-app jobs, in Settings.timezone for global ones) or a fixed period (`every(minutes=5)`).
Each firing has a period key; the runner records one run per (job, app, period) (jobs/runner.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from huoli.domains import domain_modules
from huoli.schedules import Cron, Every, Schedule, ScheduleError, cron, every

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from huoli.runtime import Runtime
    from huoli.settings import Settings
    from huoli.work import Work

Scope = Literal["app", "global"]
# "primary": the job reads the event store, which only the process that owns it (`huoli serve`) may open.
Queue = Literal["general", "primary"]
QUEUES: tuple[Queue, ...] = ("general", "primary")
# Public names; the schedule kinds `@job` takes come from huoli.schedules, re-exported for each domain's jobs.py.
__all__ = [
    "QUEUES",
    "Cron",
    "Every",
    "Job",
    "JobContext",
    "Queue",
    "Registry",
    "Schedule",
    "ScheduleError",
    "Scope",
    "cron",
    "discover",
    "every",
    "job",
]
_NAME = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$")


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

    def work(self) -> Work:
        """An app job's unit of work as the Work its domain's services take (caller: this job)."""
        from huoli.work import (  # the registry is imported by every command's start: kept light
            Caller,
            work_in,
        )

        assert self.app_id is not None, "a global job has no app: open a Work per app with work.open_work"
        return work_in(self.session, self.rt, self.rt.app_cache.get(self.app_id), Caller("job"), self.now)


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
