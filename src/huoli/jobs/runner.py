"""Runs one job for one (app, period) and records it: claim → run → ok | retrying | failed.

- **One run per period.** The run row's unique key (job, app, period) is enforced by the database: workers
  that race for the same firing insert one row; the others find it and stand down.
- **No overlap.** A lease row per (job, app) names the run holding it until `lease_until`; the runner renews
  it while the job runs (a heartbeat thread). A worker killed mid-job stops renewing: after the lease runs
  out the scheduler's sweep enqueues the run again and another worker takes it over (attempt + 1).
- **Exactly once for transactional jobs.** The job's effects and its "ok" record commit in one unit of work,
  guarded by the lease token: a run killed before its commit left nothing, so its rerun does the work once;
  a run that lost its lease rolls its work back. Jobs with `transaction=False` open their own units and are
  idempotent by themselves (business keys, out_refund_no, overwritten files).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from huoli.db import insert_or_ignore, transient_failure, unit_of_work
from huoli.jobs.models import GLOBAL, JobLock, JobRun
from huoli.jobs.registry import Job, JobContext
from huoli.runtime import Runtime

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 3600.0
WORKER_ID = f"{socket.gethostname()[:80]}:{os.getpid()}"


class LeaseLost(Exception):
    """Another worker took this run over (our lease ran out): our work must not commit."""


@dataclass(frozen=True)
class Outcome:
    status: str  # ok | retrying | failed | skipped
    run_id: int | None
    result: dict[str, Any] | None = None
    error: str | None = None
    retry_in_s: float | None = None
    reason: str | None = None  # why skipped: done, held, busy


@dataclass(frozen=True)
class _Claim:
    run_id: int
    token: str
    attempt: int
    started: float  # monotonic


def backoff_s(base_s: float, attempt: int) -> float:
    """Exponential: base, 2×base, 4×base … capped at an hour."""
    return float(min(MAX_BACKOFF_S, base_s * 2 ** max(0, attempt - 1)))


def error_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:500]


def _plain(result: Any) -> dict[str, Any]:
    # A JSON column must get JSON: dates and other values become strings, never a failed commit.
    if result is None:
        return {}
    data = json.loads(json.dumps(result, default=str))
    return data if isinstance(data, dict) else {"result": data}


def lease_s(rt: Runtime, job: Job) -> float:
    return job.timeout_s or rt.settings.jobs_lease_s


def _claim(rt: Runtime, job: Job, app_key: str, period: str, trigger: str) -> _Claim | Outcome:
    with unit_of_work(rt.sessions) as db:
        now = rt.clock()
        insert_or_ignore(db, JobLock, {"job": job.name, "app_id": app_key})
        # PostgreSQL: this row lock serialises claims of one (job, app); the wait is bounded by lock_timeout.
        lock = db.execute(
            select(JobLock).where(JobLock.job == job.name, JobLock.app_id == app_key).with_for_update()
        ).scalar_one()
        run = _run_row(db, job.name, app_key, period)
        if run is None:
            insert_or_ignore(
                db,
                JobRun,
                {"job": job.name, "app_id": app_key, "period": period, "trigger": trigger,
                 "status": "queued", "attempt": 0, "created_at": now},
                ["job", "app_id", "period"],
            )  # fmt: skip
            run = _run_row(db, job.name, app_key, period)
            assert run is not None
        if run.status in ("ok", "failed"):
            return Outcome("skipped", run.id, reason="done")
        if run.status in ("running", "retrying") and run.lease_until is not None and run.lease_until > now:
            return Outcome("skipped", run.id, reason="held")
        if lock.run_id not in (None, run.id) and lock.until is not None and lock.until > now:
            return Outcome("skipped", run.id, reason="busy")  # an earlier period's run is still going
        if run.attempt > job.retries:  # each attempt's worker stopped before it could record an outcome
            run.status, run.finished_at = "failed", now
            run.error = f"gave up after {run.attempt} attempts: the worker stopped each time"
            run.lease_token = run.lease_until = None
            lock.run_id = lock.until = None
            return Outcome("failed", run.id, error=run.error)
        token = secrets.token_hex(16)
        run.status, run.attempt, run.lease_token = "running", run.attempt + 1, token
        run.lease_until = now + timedelta(seconds=lease_s(rt, job))
        run.started_at, run.worker, run.finished_at = now, WORKER_ID, None
        lock.run_id, lock.until = run.id, run.lease_until
        return _Claim(run.id, token, run.attempt, time.monotonic())


def _run_row(db: Session, job: str, app_key: str, period: str) -> JobRun | None:
    return db.execute(
        select(JobRun)
        .where(JobRun.job == job, JobRun.app_id == app_key, JobRun.period == period)
        .with_for_update()
    ).scalar_one_or_none()


class _Heartbeat:
    """Renews the lease every third of its length while the job runs, so only a stopped worker loses it."""

    def __init__(self, rt: Runtime, job: Job, app_key: str, claim: _Claim) -> None:
        self._rt, self._job, self._app, self._claim = rt, job, app_key, claim
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"huoli-lease-{claim.run_id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        length = lease_s(self._rt, self._job)
        while not self._stop.wait(length / 3):
            try:
                with unit_of_work(self._rt.sessions) as db:
                    until = self._rt.clock() + timedelta(seconds=length)
                    # lease row before run row: the lock order (see _lock_lease)
                    db.execute(
                        update(JobLock)
                        .where(JobLock.job == self._job.name, JobLock.app_id == self._app)
                        .where(JobLock.run_id == self._claim.run_id)
                        .values(until=until)
                    )
                    db.execute(
                        update(JobRun)
                        .where(JobRun.id == self._claim.run_id, JobRun.lease_token == self._claim.token)
                        .values(lease_until=until)
                    )
            except Exception:  # the job's own transaction may hold SQLite's write lock; try again next beat
                log.debug("lease renewal of run %s failed", self._claim.run_id, exc_info=True)


def _record_ok(
    db: Session, rt: Runtime, job: Job, app_key: str, claim: _Claim, result: dict[str, Any]
) -> None:
    _lock_lease(db, job, app_key)
    done = db.execute(
        update(JobRun)
        .where(JobRun.id == claim.run_id, JobRun.lease_token == claim.token)
        .values(
            status="ok",
            finished_at=rt.clock(),
            duration_ms=int((time.monotonic() - claim.started) * 1000),
            result=result,
            error=None,
            lease_token=None,
            lease_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost(f"run {claim.run_id} was taken over by another worker")
    _release(db, job, app_key, claim.run_id)


def _lock_lease(db: Session, job: Job, app_key: str) -> None:
    """Take the lease row's lock before touching the run row, everywhere: one lock order, so two workers
    (a claim and a finish) never deadlock."""
    db.execute(
        select(JobLock.job).where(JobLock.job == job.name, JobLock.app_id == app_key).with_for_update()
    )


def _release(db: Session, job: Job, app_key: str, run_id: int) -> None:
    db.execute(
        update(JobLock)
        .where(JobLock.job == job.name, JobLock.app_id == app_key, JobLock.run_id == run_id)
        .values(run_id=None, until=None)
        .execution_options(synchronize_session=False)
    )


def _record_failure(
    rt: Runtime, job: Job, app_key: str, claim: _Claim, exc: BaseException, *, retry: bool
) -> Outcome:
    line = error_line(exc)
    with unit_of_work(rt.sessions) as db:
        _lock_lease(db, job, app_key)
        run = db.execute(
            select(JobRun)
            .where(JobRun.id == claim.run_id, JobRun.lease_token == claim.token)
            .with_for_update()
        ).scalar_one_or_none()
        if run is None:
            return Outcome("skipped", claim.run_id, error=line, reason="taken over")
        now = rt.clock()
        run.error, run.duration_ms = line, int((time.monotonic() - claim.started) * 1000)
        _release(db, job, app_key, claim.run_id)
        if retry and claim.attempt <= job.retries:
            delay = backoff_s(rt.settings.jobs_retry_backoff_s, claim.attempt)
            # lease_until is the retry's not-before time: an early duplicate stands down until then.
            run.status, run.lease_token = "retrying", None
            run.lease_until = now + timedelta(seconds=max(0.0, delay - 1))
            return Outcome("retrying", claim.run_id, error=line, retry_in_s=delay)
        run.status, run.finished_at, run.lease_token, run.lease_until = "failed", now, None, None
        return Outcome("failed", claim.run_id, error=line)


def run(
    rt: Runtime,
    job: Job,
    *,
    app_id: str | None,
    period: str,
    trigger: str = "schedule",
    retry: bool = True,
) -> Outcome:
    """Run `job` for `app_id` (None: a global job) and `period` unless that run is done or held elsewhere.

    `retry`: a failure leaves the run `retrying` with a backoff (the queue runs it again); otherwise it is
    recorded `failed` at once (a run by hand reports its error to the person who asked)."""
    if (job.scope == "app") != (app_id is not None):
        raise ValueError(f"job {job.name} is {job.scope}-scoped")
    app_key = app_id or GLOBAL
    try:
        claim = _claim(rt, job, app_key, period, trigger)
    except Exception as exc:
        if not transient_failure(exc):
            raise
        # Another worker was claiming the same (job, app): it runs it, or the next tick enqueues it again.
        return Outcome("skipped", None, error=error_line(exc), reason="contended")
    if isinstance(claim, Outcome):
        return claim
    try:
        with _Heartbeat(rt, job, app_key, claim):
            if job.transaction:
                with unit_of_work(rt.sessions, app_id=app_id) as db:
                    ctx = JobContext(rt, app_id, rt.clock(), period, claim.run_id, db)
                    result = _plain(job.fn(ctx))
                    _record_ok(db, rt, job, app_key, claim, result)
            else:
                ctx = JobContext(rt, app_id, rt.clock(), period, claim.run_id)
                result = _plain(job.fn(ctx))
                with unit_of_work(rt.sessions) as db:
                    _record_ok(db, rt, job, app_key, claim, result)
    except LeaseLost as exc:
        log.warning("%s", exc)
        return Outcome("skipped", claim.run_id, error=error_line(exc), reason="taken over")
    except Exception as exc:
        if not transient_failure(exc):
            log.exception("job %s (app %s, %s) failed", job.name, app_key or "-", period)
        return _record_failure(rt, job, app_key, claim, exc, retry=retry)
    return Outcome("ok", claim.run_id, result=result)
