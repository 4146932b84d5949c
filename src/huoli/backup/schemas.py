"""Admin API shapes for backups (GET/POST /admin/backups, POST /admin/backups/{name}/verify)."""

from __future__ import annotations

from pydantic import BaseModel

from huoli.jobs.service import JobRunOut


class VerifiedOut(BaseModel):
    ok: bool
    at: str  # UTC, ISO 8601
    problems: list[str]


class BackupOut(BaseModel):
    name: str
    created_at: str | None = None
    bytes: int | None = None
    events: int | None = None
    apps: int | None = None
    mode: str | None = None  # online (inside huoli serve) | offline (huoli backup create)
    seconds: float | None = None
    huoli_version: str | None = None
    verified: VerifiedOut | None = None


class BackupsOut(BaseModel):
    directory: str
    schedule: str | None  # HUOLI_BACKUP_SCHEDULE, a crontab line in timezone; None: no scheduled backups
    timezone: str
    next_run: str | None
    keep: int | None  # HUOLI_BACKUP_KEEP
    can_create: bool  # the caller's key is an owner key
    last_run: JobRunOut | None
    backups: list[BackupOut]
