"""Shared by the job tests: wait for a condition, drain queues with real consumers, read run rows."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import select

from huoli.db import read_only
from huoli.jobs.models import JobRun
from huoli.jobs.queue import Consumers, JobQueue
from huoli.jobs.registry import QUEUES
from huoli.runtime import Runtime


def wait_until(check: Callable[[], bool], timeout_s: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def runs(rt: Runtime, job: str | None = None) -> list[JobRun]:
    with read_only(rt.sessions) as db:
        stmt = select(JobRun).order_by(JobRun.id)
        if job is not None:
            stmt = stmt.where(JobRun.job == job)
        rows = list(db.execute(stmt).scalars())
        db.expunge_all()  # keep the loaded values readable after the read-only session rolls back
        return rows


def settled(rt: Runtime, queue: JobQueue) -> bool:
    """Nothing left in the queues and no run in flight."""
    if any(queue.pending(q) for q in QUEUES):
        return False
    return all(r.status in ("ok", "failed") for r in runs(rt))


def drain(rt: Runtime, queue: JobQueue, timeout_s: float = 30.0) -> None:
    consumers = Consumers(queue, list(QUEUES), workers=2, periodic=False)  # only what the test queued
    consumers.start()
    try:
        wait_until(lambda: settled(rt, queue), timeout_s, "the queues to drain")
    finally:
        consumers.stop()
