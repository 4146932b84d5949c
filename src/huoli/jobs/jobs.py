"""The job runner's own upkeep."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, or_, select

from huoli.apps.models import App
from huoli.jobs.models import JobRun
from huoli.jobs.registry import Every, JobContext, cron, discover, job


@job("jobs.prune-runs", schedule=cron("30 4 * * *"), scope="global")
def prune_runs(ctx: JobContext) -> dict[str, object]:
    """Delete finished run records older than jobs_run_retention_days, and the successful runs of jobs that
    run more often than hourly after a day (~1,440 rows per app a day each); never a current period's run,
    which the scheduler would otherwise run again."""
    now, db = ctx.now, ctx.session
    old = now - timedelta(days=ctx.rt.settings.jobs_run_retention_days)
    jobs = [j for j in discover().configured(ctx.rt.settings) if j.schedule is not None]
    frequent = [j.name for j in jobs if isinstance(j.schedule, Every) and j.schedule.seconds < 3600]
    zones = {ctx.rt.settings.timezone, *db.execute(select(App.timezone).distinct()).scalars()}
    current = set()
    for j in jobs:
        for z in zones:
            assert j.schedule is not None
            found = j.schedule.current(now, ZoneInfo(z))
            if found is not None:
                current.add(found[0])
    cond = or_(
        JobRun.created_at < old,
        (JobRun.status == "ok") & JobRun.job.in_(frequent) & (JobRun.created_at < now - timedelta(days=1)),
    )
    stmt = delete(JobRun).where(JobRun.status.in_(("ok", "failed")), cond)
    if current:
        stmt = stmt.where(JobRun.period.not_in(current))
    n = db.execute(stmt.execution_options(synchronize_session=False))
    return {"runs_deleted": int(n.rowcount)}  # type: ignore[attr-defined]
