"""GET /admin/backups (operator), POST /admin/backups (owner: a backup of the whole deployment, run by the
backup.create job in `huoli serve`), POST /admin/backups/{name}/verify (operator). Restore is CLI-only: it
replaces the stores the server has open. Writes are audited (deps.app_db)."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path
from sqlalchemy import select

from huoli.apps.schemas import Role
from huoli.backup import admin
from huoli.backup.schemas import BackupOut, BackupsOut
from huoli.deps import AppDbDep, OperatorDep, RuntimeDep, role_at_least
from huoli.jobs.models import GLOBAL, JobRun
from huoli.jobs.queue import queue_for
from huoli.jobs.service import JobRunOut, run_out

router = APIRouter(tags=["backups"])
JOB = "backup.create"

BackupName = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[0-9A-Za-z][0-9A-Za-z_-]*$")]


@router.get("/admin/backups", response_model=BackupsOut, dependencies=[role_at_least(Role.operator)])
def list_backups(db: AppDbDep, op: OperatorDep, runtime: RuntimeDep) -> BackupsOut:
    """The deployment's backups, newest first, with the last verification, the schedule and retention."""
    settings = runtime.settings
    items = admin.listing(settings)  # 409 first on PostgreSQL / ClickHouse
    job = queue_for(runtime).job(JOB)
    next_run = None
    if job.schedule is not None:
        at = job.schedule.next_after(runtime.clock(), ZoneInfo(settings.timezone))
        next_run = at.isoformat() if at else None
    last = db.execute(
        select(JobRun).where(JobRun.job == JOB, JobRun.app_id == GLOBAL).order_by(JobRun.id.desc()).limit(1)
    ).scalar_one_or_none()
    return BackupsOut(
        directory=str(admin.root(settings).absolute()),
        schedule=settings.backup_schedule,
        timezone=settings.timezone,
        next_run=next_run,
        keep=settings.backup_keep,
        can_create=op.role == Role.owner,
        last_run=run_out(last) if last else None,
        backups=[BackupOut.model_validate(b) for b in items],
    )


@router.post(
    "/admin/backups", status_code=202, response_model=JobRunOut, dependencies=[role_at_least(Role.owner)]
)
def create_backup(db: AppDbDep, op: OperatorDep, runtime: RuntimeDep) -> JobRunOut:
    """Back up now (立即备份): queues the backup.create job, which `huoli serve` runs on its primary queue while
    it keeps serving. Deployment-wide (every app's data), so an owner key of any app may ask for it."""
    admin.root(runtime.settings)  # 409 on PostgreSQL / ClickHouse before anything is queued
    row = queue_for(runtime).request_run(db, JOB, None, trigger="api")
    return run_out(row)


@router.post(
    "/admin/backups/{name}/verify", response_model=BackupOut, dependencies=[role_at_least(Role.operator)]
)
def verify_backup(name: BackupName, db: AppDbDep, op: OperatorDep, runtime: RuntimeDep) -> BackupOut:
    """Check every file of a backup against its manifest's size and SHA-256; a damaged backup answers 200
    with verified.ok false and the damaged files."""
    return BackupOut.model_validate(admin.verify(runtime.settings, name, now=runtime.clock()))
