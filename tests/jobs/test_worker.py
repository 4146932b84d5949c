"""Real `huoli worker` processes: SIGKILL mid-job → the run is taken over and its effect happens once;
SIGTERM → a clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from tests.jobs.helpers import runs, wait_until
from tests.loyalty.helpers import uow

from huoli.db import unit_of_work
from huoli.jobs.queue import queue_for
from huoli.loyalty import ledger
from huoli.loyalty.models import PointsTransfer
from huoli.runtime import Runtime
from huoli.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def worker_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "HUOLI_DATA_DIR": str(settings.data_dir),
        "HUOLI_DATABASE_URL": settings.database_url,
        "HUOLI_EVENT_STORE_URL": settings.event_store_url,
        "HUOLI_SECRET_KEY": settings.secret_key,
        "HUOLI_JOBS_LEASE_S": str(settings.jobs_lease_s),
        "HUOLI_JOBS_RETRY_BACKOFF_S": "0.5",
        "PYTHONPATH": str(ROOT),
    }


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)


def test_a_worker_killed_mid_job_is_taken_over_and_points_expire_once(
    runtime: Runtime, settings: Settings, make_app: Callable[..., object], tmp_path: Path
) -> None:
    make_app("shop")
    now = runtime.clock()
    for user, points in (("u1", 70), ("u2", 30)):
        with uow(runtime, "shop", now - timedelta(days=40)) as (db, ctx):
            ledger.earn(db, ctx, user_id=user, points=points, reason="admin", key=f"k-{user}",
                        expires_at=now - timedelta(days=1))  # fmt: skip
    with unit_of_work(runtime.sessions, app_id="shop") as db:
        row = queue_for(runtime).request_run(db, "loyalty.expire", "shop", trigger="api")
    env = worker_env(settings)
    marker = tmp_path / "expired-before-kill"
    slow = start([sys.executable, "tests/jobs/slow_worker.py", str(marker)], env, tmp_path / "slow.log")
    try:
        wait_until(marker.exists, 60, "the slow worker to write the expiry")
        assert marker.read_text() == "100"  # both lots expired inside its transaction…
    finally:
        slow.send_signal(signal.SIGKILL)  # …and it dies before the commit
        slow.wait(10)
    (killed,) = [r for r in runs(runtime, "loyalty.expire") if r.id == row.id]
    assert (killed.status, killed.attempt) == ("running", 1)
    # its lease (2 s here) runs out; a new worker's first tick enqueues the run again and takes it over
    wait_until(lambda: runs(runtime, "loyalty.expire")[0].lease_until < runtime.clock(), 10, "the lease")  # type: ignore[operator]
    worker = start([sys.executable, "-m", "huoli.cli", "worker"], env, tmp_path / "worker.log")
    try:
        wait_until(
            lambda: [r.status for r in runs(runtime, "loyalty.expire") if r.id == row.id] == ["ok"],
            60,
            "the takeover",
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(40) == 0, (tmp_path / "worker.log").read_text()
    (done,) = [r for r in runs(runtime, "loyalty.expire") if r.id == row.id]
    assert done.attempt == 2
    # The new worker's first tick may also catch up today's scheduled expiry: between them, 100 points.
    ok = [r for r in runs(runtime, "loyalty.expire") if r.status == "ok"]
    assert sum(r.result["points_expired"] for r in ok) == 100
    with unit_of_work(runtime.sessions, app_id="shop") as db:
        expired = sorted(
            t.points for t in db.scalars(select(PointsTransfer).where(PointsTransfer.kind == "expire"))
        )
    assert expired == [-70, -30]  # once each, though the killed attempt had written them too
    with uow(runtime, "shop") as (db, ctx):
        assert ledger.balance(db, ctx, "u1").available == 0


def test_huoli_worker_runs_queued_jobs_and_stops_on_sigterm(
    runtime: Runtime, settings: Settings, make_app: Callable[..., object], tmp_path: Path
) -> None:
    make_app("shop")
    with unit_of_work(runtime.sessions, app_id="shop") as db:
        row = queue_for(runtime).request_run(db, "loyalty.compact-boards", "shop", trigger="api")
    log = tmp_path / "worker.log"
    worker = start(
        [sys.executable, "-m", "huoli.cli", "worker", "--threads", "1"], env := worker_env(settings), log
    )
    assert env
    try:
        wait_until(lambda: "huoli worker: queues general" in log.read_text(), 60, "the worker to start")
        wait_until(
            lambda: [r.status for r in runs(runtime) if r.id == row.id] == ["ok"], 60, "the queued run"
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(40)
    assert code == 0, log.read_text()
    assert "huoli worker stopped" in log.read_text()
