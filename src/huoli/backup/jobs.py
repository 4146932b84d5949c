"""backup.create: an online backup of the embedded stores from inside `huoli serve`, on HUOLI_BACKUP_SCHEDULE
(off by default) or on demand (POST /admin/backups, `huoli jobs run backup.create`), keeping
HUOLI_BACKUP_KEEP backups."""

from __future__ import annotations

from huoli.backup import admin
from huoli.jobs.registry import JobContext, Schedule, cron, job
from huoli.settings import Settings


def _schedule(settings: Settings) -> Schedule | None:
    return cron(settings.backup_schedule) if settings.backup_schedule else None


# transaction=False: it opens no unit of work; a rerun after a crash makes one more backup, never a wrong one.
# primary: it reads the event store through the server's own connection.
@job(
    "backup.create",
    schedule=None,
    schedule_from=_schedule,
    scope="global",
    queue="primary",
    transaction=False,
    retries=1,
)
def create_backup(ctx: JobContext) -> dict[str, object]:
    """Back up the embedded stores while the server runs, verify the copy, keep the newest HUOLI_BACKUP_KEEP."""
    return admin.create_and_prune(ctx.rt, now=ctx.now)
