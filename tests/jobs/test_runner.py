"""Runs on SQLite and PostgreSQL: one run per period with two consumers racing, retries with backoff, the
outcome of every run recorded, enqueue only after the unit of work commits, and a scheduled loyalty job."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import redis
from sqlalchemy import select
from tests.jobs.helpers import drain, runs, settled, wait_until
from tests.loyalty.helpers import uow

from huoli.apps import service as apps
from huoli.apps.schemas import AppCreate
from huoli.db import unit_of_work
from huoli.jobs import runner
from huoli.jobs.models import JobRun
from huoli.jobs.queue import Consumers, JobQueue, queue_for
from huoli.jobs.registry import Every, JobContext, Registry, job
from huoli.loyalty import ledger
from huoli.loyalty.models import PointsTransfer
from huoli.runtime import Runtime, build_runtime
from huoli.settings import Settings

REDIS_URL = "redis://127.0.0.1:6379/15"


def counting_registry(sleep_s: float = 0.2) -> tuple[Registry, Counter[tuple[str | None, str]]]:
    reg = Registry()
    seen: Counter[tuple[str | None, str]] = Counter()
    lock = threading.Lock()

    @job("test.count", schedule=Every(60), registry=reg)
    def count(ctx: JobContext) -> dict[str, object]:
        with lock:
            seen[(ctx.app_id, ctx.period)] += 1
        time.sleep(sleep_s)  # long enough for a racing duplicate to arrive while this one runs
        return {"counted": 1}

    @job("test.global", schedule=Every(60), scope="global", registry=reg)
    def global_count(ctx: JobContext) -> dict[str, object]:
        with lock:
            seen[(None, "global:" + ctx.period)] += 1
        return {}

    return reg, seen


def test_two_consumers_racing_run_each_period_once(runtime: Runtime, make_app: Callable[..., object]) -> None:
    for i in range(3):
        make_app(f"shop{i}")
    reg, seen = counting_registry()
    # Two workers: each its own Huey instances and consumer threads on the same queue storage.
    first, second = JobQueue(runtime, reg), JobQueue(runtime, reg)
    workers = [Consumers(q, ["general"], workers=4, periodic=False) for q in (first, second)]
    for w in workers:
        w.start()
    try:
        barrier = threading.Barrier(4)

        def tick(q: JobQueue) -> None:
            barrier.wait()
            for _ in range(3):
                q.tick("general")

        ticks = [threading.Thread(target=tick, args=(q,)) for q in (first, second, first, second)]
        for t in ticks:
            t.start()
        for t in ticks:
            t.join()
        wait_until(lambda: settled(runtime, first), what="every run to finish")
    finally:
        for w in workers:
            w.stop()
    assert seen and set(seen.values()) == {1}, seen  # no period ran twice
    assert {app for app, _ in seen} == {"shop0", "shop1", "shop2", None}
    rows = runs(runtime)
    assert len(rows) == len(seen)
    assert {r.status for r in rows} == {"ok"} and {r.attempt for r in rows} == {1}
    for r in rows:
        assert r.started_at is not None and r.finished_at is not None and r.finished_at.tzinfo is not None
        assert r.duration_ms is not None and r.worker
    assert all(r.result == {"counted": 1} for r in rows if r.job == "test.count")


def test_a_run_held_by_a_live_lease_is_left_alone_and_an_expired_one_taken_over(
    runtime: Runtime, make_app: Callable[..., object]
) -> None:
    make_app("shop")
    reg, seen = counting_registry(sleep_s=0)
    count = reg.get("test.count")
    assert count is not None
    claim = runner._claim(runtime, count, "shop", "p1", "schedule")  # a worker that then dies
    assert isinstance(claim, runner._Claim)
    held = runner.run(runtime, count, app_id="shop", period="p1")
    assert (held.status, held.reason) == ("skipped", "held")
    other = runner.run(runtime, count, app_id="shop", period="p2")  # the next period waits for the lease
    assert (other.status, other.reason) == ("skipped", "busy")
    assert not seen
    time.sleep(2.1)  # jobs_lease_s = 2 in these tests
    taken = runner.run(runtime, count, app_id="shop", period="p1")
    assert taken.status == "ok" and seen == {("shop", "p1"): 1}
    (row,) = [r for r in runs(runtime) if r.period == "p1"]
    assert row.attempt == 2 and row.status == "ok"
    again = runner.run(runtime, count, app_id="shop", period="p1")
    assert (again.status, again.reason) == ("skipped", "done")


def test_a_failing_job_retries_with_backoff_then_succeeds(
    runtime: Runtime, make_app: Callable[..., object]
) -> None:
    make_app("shop")
    reg = Registry()
    attempts: list[float] = []

    @job("test.flaky", schedule=None, retries=3, registry=reg)
    def flaky(ctx: JobContext) -> dict[str, object]:
        attempts.append(time.monotonic())
        if len(attempts) < 3:
            raise RuntimeError(f"upstream timeout #{len(attempts)}\nsecond line")
        return {"done": True}

    queue = JobQueue(runtime, reg)
    with unit_of_work(runtime.sessions, app_id="shop") as db:
        queue.request_run(db, "test.flaky", "shop", trigger="api")
    drain(runtime, queue)
    (row,) = runs(runtime, "test.flaky")
    assert (row.status, row.attempt, row.result, row.error) == ("ok", 3, {"done": True}, None)
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    # backoff 0.5 s then 1 s (jobs_retry_backoff_s = 0.5, doubling); Huey's scheduler looks every second
    assert gaps[0] >= 0.4 and gaps[1] >= 0.9 and gaps[1] > gaps[0] * 1.2, gaps


def test_a_job_that_keeps_failing_is_recorded_failed_with_its_error(
    runtime: Runtime, make_app: Callable[..., object]
) -> None:
    make_app("shop")
    reg = Registry()

    @job("test.broken", schedule=None, retries=1, registry=reg)
    def broken(ctx: JobContext) -> dict[str, object]:
        ctx.session.add(JobRun(job="x", app_id="shop", period="must-roll-back", trigger="t", status="ok",
                               attempt=0, created_at=ctx.now))  # fmt: skip
        raise ValueError("bad rule config\ntraceback noise")

    queue = JobQueue(runtime, reg)
    with unit_of_work(runtime.sessions, app_id="shop") as db:
        queue.request_run(db, "test.broken", "shop", trigger="api")
    drain(runtime, queue)
    (row,) = runs(runtime, "test.broken")
    assert (row.status, row.attempt, row.error) == ("failed", 2, "ValueError: bad rule config")
    assert row.finished_at is not None
    assert not runs(runtime, "x")  # the failed attempt's writes were rolled back


def test_enqueue_happens_only_after_the_unit_of_work_commits(
    runtime: Runtime, make_app: Callable[..., object]
) -> None:
    make_app("shop")
    reg, seen = counting_registry(sleep_s=0)
    queue = JobQueue(runtime, reg)
    with pytest.raises(RuntimeError), unit_of_work(runtime.sessions, app_id="shop") as db:
        queue.request_run(db, "test.count", "shop", trigger="api")
        assert queue.pending("general") == 0  # not before the commit
        raise RuntimeError("the operator's request failed after asking for the run")
    assert queue.pending("general") == 0 and not runs(runtime)
    with unit_of_work(runtime.sessions, app_id="shop") as db:
        row = queue.request_run(db, "test.count", "shop", trigger="api")
        assert queue.pending("general") == 0
    assert queue.pending("general") == 1
    assert [(r.id, r.status) for r in runs(runtime)] == [(row.id, "queued")]
    drain(runtime, queue)
    assert [r.status for r in runs(runtime)] == ["ok"] and sum(seen.values()) == 1


def test_the_scheduler_enqueues_current_periods_and_runs_left_behind(
    runtime: Runtime, make_app: Callable[..., object]
) -> None:
    make_app("shop")
    reg = Registry()
    job("test.daily", schedule=__import__("huoli.jobs.registry", fromlist=["cron"]).cron("0 3 * * *"),
        registry=reg)(lambda ctx: {})  # fmt: skip
    job("test.minute", schedule=Every(60), registry=reg)(lambda ctx: {})
    queue = JobQueue(runtime, reg)
    due = {(d.job, d.app_id) for d in queue.due("general")}
    # A daily job never run before waits for its next time; a current minute period runs now.
    assert ("test.minute", "shop") in due and ("test.daily", "shop") not in due
    daily = reg.get("test.daily")
    assert daily is not None
    runner.run(runtime, daily, app_id="shop", period="manual:x", trigger="cli")
    due = {(d.job, d.app_id) for d in queue.due("general")}
    assert ("test.daily", "shop") in due  # it ran before: today's missed firing is caught up
    # A queued run nobody picked up for a minute is enqueued again.
    with unit_of_work(runtime.sessions) as db:
        db.add(JobRun(job="test.minute", app_id="shop", period="old", trigger="api", status="queued",
                      attempt=0, created_at=runtime.clock() - timedelta(minutes=5)))  # fmt: skip
    assert ("test.minute", "shop", "old") in {(d.job, d.app_id, d.period) for d in queue.due("general")}


def test_the_loyalty_expiry_job_expires_points_once_per_period(
    runtime: Runtime, make_app: Callable[..., object]
) -> None:
    make_app("shop")
    now = runtime.clock()
    with uow(runtime, "shop", now - timedelta(days=40)) as (db, ctx):
        ledger.earn(db, ctx, user_id="u1", points=70, reason="admin", key="k1",
                    expires_at=now - timedelta(days=1))  # fmt: skip
    queue = queue_for(runtime)
    expire = queue.job("loyalty.expire")
    first = runner.run(runtime, expire, app_id="shop", period="c:today")
    second = runner.run(runtime, expire, app_id="shop", period="c:today")
    assert first.status == "ok" and first.result == {"points_expired": 70}
    assert (second.status, second.reason) == ("skipped", "done")
    with read_transfers(runtime) as transfers:
        assert [t.points for t in transfers] == [-70]


def read_transfers(runtime: Runtime):  # type: ignore[no-untyped-def]
    from contextlib import contextmanager

    @contextmanager
    def cm():  # type: ignore[no-untyped-def]
        with unit_of_work(runtime.sessions, app_id="shop") as db:
            yield list(db.scalars(select(PointsTransfer).where(PointsTransfer.kind == "expire")))

    return cm()


def test_times_are_timezone_aware(runtime: Runtime, make_app: Callable[..., object]) -> None:
    make_app("shop")
    reg, _ = counting_registry(sleep_s=0)
    count = reg.get("test.count")
    assert count is not None
    runner.run(runtime, count, app_id="shop", period="p")
    (row,) = runs(runtime)
    assert row.created_at.tzinfo is not None and row.started_at and row.started_at.utcoffset() == timedelta(0)
    assert row.created_at <= datetime.now(UTC)


def test_two_workers_on_redis_storage_run_each_period_once(settings: Settings) -> None:
    """The multi-machine shape: Huey's Redis storage shared by two workers (database 15, emptied first)."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis not reachable at {REDIS_URL}: {exc}")
    rt = build_runtime(settings.model_copy(update={"jobs_url": REDIS_URL}))
    try:
        with unit_of_work(rt.sessions) as db:
            for i in range(2):
                apps.create(db=db, app_in=AppCreate(id=f"r{i}", name=f"r{i}"))
        reg, seen = counting_registry()
        first, second = JobQueue(rt, reg), JobQueue(rt, reg)
        for huey in first.hueys.values():
            huey.flush()
        workers = [Consumers(q, ["general"], workers=3, periodic=False) for q in (first, second)]
        for w in workers:
            w.start()
        try:
            for _ in range(3):
                first.tick("general")
                second.tick("general")
            wait_until(lambda: settled(rt, first), what="every run to finish")
        finally:
            for w in workers:
                w.stop()
        assert seen and set(seen.values()) == {1}, seen
        assert {app for app, _ in seen} == {"r0", "r1", None}
    finally:
        rt.close()
