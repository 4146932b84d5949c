"""The Huey queues behind the jobs, built from settings, and their consumers.

Two queues on one storage: `general` (any process with the operational database: `huoli serve`'s embedded
consumer or `huoli worker`) and `primary` (jobs that read the event store, which only `huoli serve` holds).
Each queue's consumer also runs a once-a-minute Huey periodic task, `tick`, that enqueues the runs due now
and re-enqueues runs left behind (a queued run never picked up, a worker that died holding a lease). Every
consumer ticks — the run table's unique key makes the duplicates harmless — so no process is special.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer
from huey.exceptions import RetryTask
from sqlalchemy import and_, event, or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from huoli.apps.models import App
from huoli.db import read_only
from huoli.errors import HuoliError, ValidationFailed
from huoli.fileperms import create_private
from huoli.jobs import runner
from huoli.jobs.models import GLOBAL, JobRun
from huoli.jobs.registry import QUEUES, Job, Queue, Registry, discover
from huoli.runtime import Runtime
from huoli.settings import Settings

log = logging.getLogger(__name__)

BUSY_RETRY_S = 2.0
STALE_QUEUED_S = 60  # a queued run nobody started this long after it was made is enqueued again
CATCH_UP_FRESH = timedelta(minutes=2)  # a firing this recent runs even for a job that never ran before


class JobNotFound(HuoliError):
    status_code = 404
    code = "job_not_found"


def build_huey(settings: Settings, queue: Queue) -> Huey:
    """SqliteHuey in <data_dir>/jobs.db (or the sqlite:/// path given), RedisHuey for a redis:// URL."""
    url = settings.resolved_jobs_url()
    name = f"huoli-{queue}"
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(name, url=url, results=False, utc=True)
    parsed = make_url(url)
    if parsed.drivername != "sqlite" or not parsed.database:
        raise HuoliError(f"jobs_url {url!r}: sqlite:///<file> or redis://…", code="invalid_settings")
    path = Path(parsed.database)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():  # 0600 like every data file; SQLite's -wal and -shm copy its mode
        create_private(path, b"")
    # timeout: the busy wait on the queue file is bounded like every other database wait.
    return SqliteHuey(name, filename=parsed.database, results=False, utc=True, timeout=10)


class _EmbeddedConsumer(Consumer):
    """Huey's consumer without its signal handlers: `huoli serve` and `huoli worker` own the signals (a stop
    lets running jobs finish within a bound), and they can only be set from the main thread."""

    def _set_signal_handlers(self) -> None:
        return None


@dataclass(frozen=True)
class Enqueued:
    job: str
    app_id: str
    period: str


class JobQueue:
    """The runtime's job queues: enqueue runs, tick, and make consumers."""

    def __init__(self, rt: Runtime, registry: Registry | None = None) -> None:
        self.rt = rt
        self.registry = (registry if registry is not None else discover()).configured(rt.settings)
        self.hueys: dict[Queue, Huey] = {}
        self._execute: dict[Queue, Any] = {}
        self._tick: dict[Queue, Any] = {}
        for queue in QUEUES:
            huey = build_huey(rt.settings, queue)
            self.hueys[queue] = huey
            self._execute[queue] = huey.task(name="huoli.jobs.execute")(self._run_task)
            self._tick[queue] = huey.periodic_task(crontab(), name="huoli.jobs.tick")(
                lambda q=queue: self.tick(q)
            )

    def job(self, name: str) -> Job:
        found = self.registry.get(name)
        if found is None:
            raise JobNotFound(
                f"no job {name!r} (huoli jobs list)", details=[{"field": "name", "message": "unknown job"}]
            )
        return found

    def _run_task(self, name: str, app_key: str, period: str, trigger: str) -> None:
        job = self.registry.get(name)
        if job is None:  # enqueued by a newer or older huoli: nothing here can run it
            log.error("job %s is not known to this process; dropped", name)
            return
        outcome = runner.run(self.rt, job, app_id=app_key or None, period=period, trigger=trigger, retry=True)
        if outcome.status == "retrying":
            raise RetryTask(delay=outcome.retry_in_s)
        if outcome.reason == "busy" and period.startswith("manual:"):
            # Asked for by hand while a scheduled run holds the lease: start as soon as it ends.
            raise RetryTask(delay=BUSY_RETRY_S)

    def enqueue(self, name: str, app_id: str | None, period: str, trigger: str = "schedule") -> None:
        job = self.job(name)
        self._execute[job.queue](name, app_id or GLOBAL, period, trigger)

    def enqueue_after_commit(
        self, db: Session, name: str, app_id: str | None, period: str, trigger: str
    ) -> None:
        """Enqueue once `db`'s transaction commits; a rollback enqueues nothing. Should the enqueue itself fail
        after the commit, the run row stays `queued` and the next tick enqueues it again."""
        self.job(name)  # refuse an unknown name before the commit, not in the listener

        def after_commit(_session: Session) -> None:
            try:
                self.enqueue(name, app_id, period, trigger)
            except Exception:
                log.exception("enqueue of %s failed after commit; the next tick retries it", name)

        event.listen(db, "after_commit", after_commit, once=True)

    def request_run(self, db: Session, name: str, app_id: str | None, trigger: str) -> JobRun:
        """A run by hand: its row (queued) is written in `db`'s unit of work and the task is enqueued after it
        commits."""
        job = self.job(name)
        if (job.scope == "app") != (app_id is not None):
            raise ValidationFailed(
                f"job {name} is {job.scope}-scoped" + (": name an app" if job.scope == "app" else ""),
                code="job_scope",
                details=[{"field": "app", "message": f"{job.scope}-scoped job"}],
            )
        row = JobRun(
            job=name,
            app_id=app_id or GLOBAL,
            period=f"manual:{secrets.token_hex(8)}",
            trigger=trigger,
            status="queued",
            attempt=0,
            created_at=self.rt.clock(),
        )
        db.add(row)
        db.flush()
        self.enqueue_after_commit(db, name, app_id, row.period, trigger)
        return row

    def due(self, queue: Queue | None = None) -> list[Enqueued]:
        """The runs to enqueue now: each scheduled job's current period (per app, in the app's timezone)
        with no run yet, plus runs left behind (queued too long, or a lease that ran out)."""
        now = self.rt.clock()
        jobs = [j for j in self.registry if j.schedule is not None and (queue is None or j.queue == queue)]
        if not jobs:
            return []
        with read_only(self.rt.sessions) as db:
            apps = db.execute(select(App.id, App.timezone)).all()
            names = {j.name for j in jobs}
            ran_before = {
                (r.job, r.app_id)
                for r in db.execute(select(JobRun.job, JobRun.app_id).where(JobRun.job.in_(names)).distinct())
            }
            wanted: dict[tuple[str, str, str], None] = {}
            for job in jobs:
                assert job.schedule is not None
                targets = [(a.id, a.timezone) for a in apps] if job.scope == "app" else [(GLOBAL, None)]
                by_tz: dict[str, tuple[str, bool] | None] = {}
                for app_key, app_tz in targets:
                    tz = job.tz(self.rt.settings.timezone, app_tz)
                    if tz.key not in by_tz:
                        current = job.schedule.current(now, tz)
                        by_tz[tz.key] = (
                            None if current is None else (current[0], now - current[1] <= CATCH_UP_FRESH)
                        )
                    found = by_tz[tz.key]
                    # A firing missed while nothing ran (downtime) is caught up, but not on a job's first
                    # sight: a new install or app runs its daily jobs at their next time, not all at start.
                    if found is not None and (found[1] or (job.name, app_key) in ran_before):
                        wanted[(job.name, app_key, found[0])] = None
            periods = {k[2] for k in wanted}
            have = set()
            if wanted:
                have = {
                    (r.job, r.app_id, r.period)
                    for r in db.execute(
                        select(JobRun.job, JobRun.app_id, JobRun.period).where(
                            JobRun.job.in_(names), JobRun.period.in_(periods)
                        )
                    )
                }
            left_behind = db.execute(
                select(JobRun.job, JobRun.app_id, JobRun.period)
                .where(
                    JobRun.job.in_(names),
                    or_(
                        and_(
                            JobRun.status == "queued",
                            JobRun.created_at < now - timedelta(seconds=STALE_QUEUED_S),
                        ),
                        and_(JobRun.status.in_(("running", "retrying")), JobRun.lease_until < now),
                    ),
                )
                .limit(1000)
            ).all()
        out = [Enqueued(*k) for k in wanted if k not in have]
        out += [Enqueued(r.job, r.app_id, r.period) for r in left_behind]
        return out

    def tick(self, queue: Queue) -> int:
        """Huey's periodic task (every minute on every consumer): enqueue what `due` finds."""
        todo = self.due(queue)
        for item in todo:
            self._execute[queue](item.job, item.app_id, item.period, "schedule")
        return len(todo)

    def consumer(self, queue: Queue, *, workers: int | None = None, periodic: bool = True) -> Consumer:
        return _EmbeddedConsumer(
            self.hueys[queue],
            workers=workers or self.rt.settings.jobs_workers,
            worker_type="thread",
            periodic=periodic,
            max_delay=1.0,  # an idle worker looks at the queue at least every second
            check_worker_health=True,
        )

    def pending(self, queue: Queue) -> int:
        return int(self.hueys[queue].pending_count())


_queues_lock = threading.Lock()


def queue_for(rt: Runtime) -> JobQueue:
    """The runtime's JobQueue, made on first use."""
    with _queues_lock:
        if rt.job_queue is None:
            rt.job_queue = JobQueue(rt)
        queue: JobQueue = rt.job_queue
        return queue


def serve_queues(settings: Settings) -> list[Queue]:
    """`huoli serve`'s consumers: the primary queue always (the event store lives there), the general queue
    unless jobs_embedded is off (dedicated `huoli worker` processes run it)."""
    return ["primary", "general"] if settings.jobs_embedded else ["primary"]


class Consumers:
    """Huey consumers (thread workers) for some queues, started and stopped together."""

    def __init__(
        self, queue: JobQueue, queues: list[Queue], workers: int | None = None, *, periodic: bool = True
    ) -> None:
        self.queue = queue
        self.queues = queues
        self.consumers = [queue.consumer(q, workers=workers, periodic=periodic) for q in queues]

    def start(self) -> None:
        for c in self.consumers:
            c.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Let running jobs finish, within `timeout_s`: a job still running then is abandoned with the process;
        its lease runs out and another consumer reruns it."""
        for c in self.consumers:
            c.stop_flag.set()
        deadline = time.monotonic() + timeout_s
        for c in self.consumers:
            for _, thread in [*c.worker_threads, (None, c.scheduler)]:
                thread.join(max(0.0, deadline - time.monotonic()))
