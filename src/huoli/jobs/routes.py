"""GET /admin/jobs, GET /admin/jobs/runs, POST /admin/jobs/{name}/run (operator; audited)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from huoli.apps.schemas import Role
from huoli.deps import AppDbDep, OperatorDep, PageDep, RuntimeDep, role_at_least
from huoli.errors import Forbidden
from huoli.jobs import service
from huoli.jobs.queue import queue_for
from huoli.jobs.service import JobOut, JobRunOut
from huoli.pagination import Page

router = APIRouter(tags=["jobs"])

JobName = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_.-]*$")]


@router.get("/admin/jobs", response_model=list[JobOut])
def list_jobs(db: AppDbDep, op: OperatorDep, runtime: RuntimeDep) -> list[JobOut]:
    """Every job with its schedule (in the app's timezone), last run and next run."""
    app = runtime.app_cache.get(op.app_id)
    return service.overview(
        db,
        queue_for(runtime).registry,
        app_id=op.app_id,
        app_tz=app.timezone,
        default_tz=runtime.settings.timezone,
        now=runtime.clock(),
    )


@router.get("/admin/jobs/runs", response_model=Page[JobRunOut])
def list_runs(
    db: AppDbDep,
    op: OperatorDep,
    page: PageDep,
    job: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[JobRunOut]:
    """Recent runs, newest first: this app's and the global jobs'."""
    items, cursor = service.runs(db, app_id=op.app_id, page=page, job=job)
    return Page(items=items, next_cursor=cursor)


@router.post(
    "/admin/jobs/{name}/run",
    status_code=202,
    response_model=JobRunOut,
    dependencies=[role_at_least(Role.operator)],
)
def run_now(name: JobName, db: AppDbDep, op: OperatorDep, runtime: RuntimeDep) -> JobRunOut:
    """Queue a run of a per-app job for this app now (立即运行); it starts once this request commits. Global
    jobs serve every app, so they run by `huoli jobs run NAME` only."""
    queue = queue_for(runtime)
    job = queue.job(name)
    if job.scope != "app":
        raise Forbidden(
            f"{name} is a global job: run it with `huoli jobs run {name}`",
            code="global_job",
            details=[{"field": "name", "message": "global job"}],
        )
    row = queue.request_run(db, name, op.app_id, trigger="api")
    return service.run_out(row)
