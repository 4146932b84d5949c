"""Helpers shared by the promotion tests: a thread race, a wait, a Work on a test's session."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from huoli.runtime import Runtime
from huoli.work import Caller, Work, work_in


def race(n: int, fn: Callable[[int], Any], *, threads: int | None = None) -> list[Any]:
    """Run fn(i) for i in range(n) on `threads` threads released together; each result or its exception."""
    workers = threads or n
    barrier = threading.Barrier(workers)
    results: list[Any] = [None] * n

    def run(w: int) -> None:
        barrier.wait()
        for i in range(w, n, workers):
            try:
                results[i] = fn(i)
            except Exception as exc:
                results[i] = exc

    pool = [threading.Thread(target=run, args=(w,)) for w in range(workers)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return results


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll until the outbox relay (a background loop) has moved what the test waits for."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def at(db: Session, runtime: Runtime, now: datetime | None) -> Work:
    """A Work on a test's own session, for the app the session is scoped to, at `now`."""
    return work_in(db, runtime, runtime.app_cache.get(db.info["app_id"]), Caller("job"), now)
