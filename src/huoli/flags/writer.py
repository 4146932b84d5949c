"""Exposure and sticky-bucket writes, off the request path, grouped into one transaction per flush.

GET /v1/flags only enqueues; a background thread (one per session factory, started on demand, gone after
a few idle seconds) writes each batch in one unit of work: the exposure ledger's unique key decides which
exposures are new, and only those emit `experiment_exposure` (same transaction, through the outbox).
If the process dies before a flush, nothing is recorded for those users; their next request (assignment is
deterministic) records it then — the ledger, not this queue, is the guarantee of "once per user".
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from huoli.db import unit_of_work
from huoli.flags.exposures import record_exposures_bulk, save_sticky
from huoli.settings import Settings

log = logging.getLogger(__name__)
IDLE_EXIT_S = 5.0
FLUSH_EVERY_S = 0.05


@dataclass
class Pending:
    app_id: str
    user_id: str | None
    anonymous_id: str | None
    exposures: dict[str, str]
    flags: dict[str, str]
    sticky: dict[str, dict[str, Any]] | None
    now: datetime
    settings: Settings


class ExposureWriter:
    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory
        self._queue: list[Pending] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._busy = False

    def submit(self, item: Pending) -> None:
        with self._cond:
            self._queue.append(item)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="huoli-exposures", daemon=True)
                self._thread.start()
            self._cond.notify()

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything submitted so far is written (tests, shutdown)."""
        with self._cond:
            self._cond.wait_for(lambda: not self._queue and not self._busy, timeout=timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._queue:
                    self._cond.wait(timeout=IDLE_EXIT_S)
                if not self._queue:
                    self._thread = None
                    self._cond.notify_all()
                    return
                batch, self._queue = self._queue, []
                self._busy = True
            try:
                self._write(batch)
            except Exception:  # the thread must survive a bad batch; the users' next requests retry
                log.exception("writing %d exposure batch(es) failed", len(batch))
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
            threading.Event().wait(FLUSH_EVERY_S)  # let a group of requests accumulate

    def _write(self, batch: list[Pending]) -> None:
        by_app: dict[str, list[Pending]] = {}
        for item in batch:
            by_app.setdefault(item.app_id, []).append(item)
        for app_id, items in by_app.items():
            with unit_of_work(self._factory, app_id=app_id) as db:
                rows: list[dict[str, Any]] = []
                for item in items:
                    unit = item.user_id or item.anonymous_id
                    if unit is None:
                        continue
                    if item.sticky is not None:
                        save_sticky(db, app_id, unit, item.sticky, item.now)
                    rows += [
                        {
                            "experiment_key": k,
                            "unit_id": unit,
                            "variant": v,
                            "user_id": item.user_id,
                            "anonymous_id": item.anonymous_id,
                            "flag": item.flags.get(k, ""),
                        }
                        for k, v in item.exposures.items()
                    ]
                # One exposure time per flush: the batch is at most FLUSH_EVERY_S plus a write old.
                for start in range(0, len(rows), 500):
                    record_exposures_bulk(
                        db=db,
                        app_id=app_id,
                        rows=rows[start : start + 500],
                        now=items[0].now,
                        settings=items[0].settings,
                    )


_writers: weakref.WeakKeyDictionary[sessionmaker[Session], ExposureWriter] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def writer_for(factory: sessionmaker[Session]) -> ExposureWriter:
    with _lock:
        w = _writers.get(factory)
        if w is None:
            w = _writers[factory] = ExposureWriter(factory)
        return w


def flush_all(timeout: float = 10.0) -> None:
    for w in list(_writers.values()):
        w.flush(timeout)


atexit.register(flush_all, 5.0)
