"""Exposure dedup under concurrency: threads with their own sessions log one user's exposure at once."""

from __future__ import annotations

import threading

from sqlalchemy import func, select
from tests.flags.helpers import wait_for

from huoli.db import unit_of_work
from huoli.events.models import OutboxEvent
from huoli.flags import exposures
from huoli.flags.models import Exposure
from huoli.runtime import Runtime


def test_concurrent_first_exposures_emit_once(runtime: Runtime, make_app, client) -> None:  # type: ignore[no-untyped-def]
    """(`client` runs the app, whose outbox relay moves the events to the store.)"""
    app = make_app("shop")
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def expose(i: int) -> None:
        try:
            barrier.wait()
            with unit_of_work(runtime.sessions, app_id=app.id) as db:
                exposures.record_exposures_bulk(
                    db=db,
                    app_id=app.id,
                    rows=[
                        {
                            "experiment_key": "exp",
                            "unit_id": f"u{k}",
                            "variant": "b",
                            "user_id": f"u{k}",
                            "anonymous_id": None,
                            "flag": "f",
                        }
                        for k in range(i % 3, 30, 1)
                    ],
                    now=runtime.clock(),
                    settings=runtime.settings,
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=expose, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        assert db.scalar(select(func.count()).select_from(Exposure)) == 30

    def relayed() -> bool:
        with unit_of_work(runtime.sessions, app_id=app.id) as db:
            return not db.scalar(select(func.count()).select_from(OutboxEvent))

    wait_for(relayed)
    # every exposure emitted exactly once
    assert runtime.store.count(app_id=app.id, name="experiment_exposure") == 30
