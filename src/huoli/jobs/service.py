"""What the admin API, the console and `huoli jobs list` show: each job with its schedule, last and next run,
and the recent runs. A per-app caller sees its app's runs and the global jobs' runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huoli.jobs.models import GLOBAL, JobRun
from huoli.jobs.registry import Job, Registry
from huoli.pagination import PageParams, paginate


class JobRunOut(BaseModel):
    id: int
    job: str
    app_id: str | None
    period: str
    trigger: str
    status: str
    attempt: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    error: str | None
    result: dict[str, Any] | None
    worker: str | None


class JobOut(BaseModel):
    name: str
    description: str
    scope: str
    queue: str
    schedule: str | None
    timezone: str
    next_run: datetime | None
    last_run: JobRunOut | None
    runnable: bool  # an operator may run it now for their app (global jobs: `huoli jobs run` only)


def run_out(row: JobRun) -> JobRunOut:
    return JobRunOut(
        id=row.id,
        job=row.job,
        app_id=row.app_id or None,
        period=row.period,
        trigger=row.trigger,
        status=row.status,
        attempt=row.attempt,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_ms=row.duration_ms,
        error=row.error,
        result=row.result,
        worker=row.worker,
    )


def _visible(app_id: str | None) -> Any:
    # The jobs' bookkeeping is deployment-wide (not AppScoped): an app's caller sees its own runs and global ones.
    return JobRun.app_id.in_((app_id, GLOBAL)) if app_id is not None else JobRun.app_id == GLOBAL


def overview(
    db: Session, registry: Registry, *, app_id: str | None, app_tz: str | None, default_tz: str, now: datetime
) -> list[JobOut]:
    latest = select(func.max(JobRun.id)).where(_visible(app_id)).group_by(JobRun.job, JobRun.app_id)
    last = {(r.job, r.app_id): r for r in db.execute(select(JobRun).where(JobRun.id.in_(latest))).scalars()}
    out = []
    for job in registry:
        key = GLOBAL if job.scope == "global" else app_id
        tz: ZoneInfo = job.tz(default_tz, app_tz)
        row = last.get((job.name, key)) if key is not None else None
        out.append(
            JobOut(
                name=job.name,
                description=job.description,
                scope=job.scope,
                queue=job.queue,
                schedule=job.schedule.describe() if job.schedule else None,
                timezone=tz.key,
                next_run=job.schedule.next_after(now, tz) if job.schedule else None,
                last_run=run_out(row) if row is not None else None,
                runnable=job.scope == "app" and app_id is not None,
            )
        )
    return out


def runs(
    db: Session, *, app_id: str | None, page: PageParams, job: str | None = None
) -> tuple[list[JobRunOut], str | None]:
    """One page of runs, newest first: the app's and the global jobs'."""
    stmt = select(JobRun).where(_visible(app_id))
    if job is not None:
        stmt = stmt.where(JobRun.job == job)
    rows, cursor = paginate(db, stmt, page, order=[JobRun.id.desc()])
    return [run_out(r) for r in rows], cursor


def describe(job: Job) -> str:
    return job.schedule.describe() if job.schedule else "on demand"
