"""`huoli jobs list|run|runs`: the jobs every domain declares (`huoli worker` runs them from the queue)."""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from huoli.apps import service as apps
from huoli.apps.models import App
from huoli.cli_support import database, fail, guarded, out, runtime
from huoli.db import make_session_factory, read_only
from huoli.errors import HuoliError
from huoli.jobs import runner, service
from huoli.jobs.queue import Consumers, queue_for
from huoli.jobs.registry import QUEUES, Queue, discover
from huoli.runtime import Runtime, build_worker_runtime, system_clock

CLI_NAME = "jobs"
cli = typer.Typer(help="Scheduled jobs: list them, run one now, see recent runs.", no_args_is_help=True)


@cli.command("list")
def list_cmd(
    app_id: Annotated[str | None, typer.Option("--app", help="Last runs and times for this app.")] = None,
) -> None:
    """Every job: scope, queue, schedule, next run (the app's timezone), last run and outcome."""
    from rich.table import Table

    with database() as (settings, engine, _keyring), read_only(make_session_factory(engine)) as db:
        app_tz = None
        if app_id is not None:
            app_tz = guarded(lambda: apps.get(db=db, app_id=app_id)).timezone
        rows = service.overview(
            db,
            discover().configured(settings),
            app_id=app_id,
            app_tz=app_tz,
            default_tz=settings.timezone,
            now=system_clock(),
        )
    table = Table("job", "scope", "queue", "schedule", "next run", "last run", "outcome", "ms")
    for j in rows:
        last = j.last_run
        table.add_row(
            j.name,
            j.scope,
            j.queue,
            j.schedule or "on demand",
            j.next_run.isoformat(timespec="minutes") if j.next_run else "-",
            last.started_at.isoformat(timespec="seconds") if last and last.started_at else "-",
            last.status if last else "-",
            str(last.duration_ms) if last and last.duration_ms is not None else "-",
        )
    out.print(table)


@cli.command("run")
def run_cmd(
    name: Annotated[str, typer.Argument(help="Job name (huoli jobs list).")],
    app_id: Annotated[
        str | None, typer.Option("--app", help="App of a per-app job (default: every app in turn).")
    ] = None,
) -> None:
    """Run a job now, here, and record the run; exits 1 if it failed. Jobs on the primary queue read the event
    store: stop `huoli serve` first, or use the console's 立即运行 / POST /admin/jobs/{name}/run."""
    import secrets

    from sqlalchemy import select

    job = discover().get(name)
    if job is None:
        raise fail(f"no job {name!r}", [{"field": "name", "message": "see `huoli jobs list`"}])
    if job.scope == "global" and app_id is not None:
        raise fail(f"{name} is a global job", [{"field": "--app", "message": "not for a global job"}])
    with job_runtime(with_store=job.queue == "primary") as rt:
        if job.scope == "global":
            targets: list[str | None] = [None]
        elif app_id is not None:
            targets = [app_id]
        else:
            with read_only(rt.sessions) as db:
                targets = list(db.execute(select(App.id).order_by(App.id)).scalars())
        failed = False
        for target in targets:
            if target is not None:
                rt.app_cache.get(target)  # an unknown app: HuoliError → message and exit 1
            outcome = runner.run(
                rt, job, app_id=target, period=f"manual:{secrets.token_hex(8)}", trigger="cli", retry=False
            )
            failed |= outcome.status == "failed"
            shown: dict[str, object] = {"app": target, "status": outcome.status, "run": outcome.run_id}
            shown |= {"result": outcome.result} if outcome.error is None else {"error": outcome.error}
            out.print_json(json.dumps(shown, ensure_ascii=False, default=str))
    if failed:
        raise typer.Exit(code=1)


@contextmanager
def job_runtime(*, with_store: bool) -> Iterator[Runtime]:
    """A runtime for running jobs: with the event store (it must not be open in `huoli serve` elsewhere), or
    the operational database only, which works beside a running server."""

    if with_store:
        with runtime() as rt:
            yield rt
        return
    with database() as (settings, _engine, _keyring):  # migrated, as `huoli serve` would
        pass
    rt = build_worker_runtime(settings)
    try:
        yield rt
    except HuoliError as exc:
        raise fail(exc.message, exc.details) from None
    finally:
        rt.close()


def run_worker(queue: str, workers: int | None) -> None:
    """`huoli worker`: consume the job queue until SIGTERM or SIGINT, then let running jobs finish (≤ 30 s)."""

    chosen: list[Queue] = list(QUEUES) if queue == "all" else [q for q in QUEUES if q == queue]
    if not chosen:
        raise fail(f"unknown queue {queue!r}", [{"field": "--queue", "message": "general, primary or all"}])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with job_runtime(with_store="primary" in chosen) as rt:
        consumers = Consumers(queue_for(rt), chosen, workers)
        consumers.start()
        out.print(
            f"huoli worker: queues {', '.join(chosen)}, {workers or rt.settings.jobs_workers} threads each, "
            f"storage {rt.settings.resolved_jobs_url()}",
            highlight=False,
            soft_wrap=True,
        )
        try:
            while not stop.wait(0.5):
                pass
        finally:
            consumers.stop()
    out.print("huoli worker stopped")
