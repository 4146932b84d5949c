"""Group commit: many concurrent requests, one DuckDB transaction per drain of the queue.

A request's events are acknowledged only after the transaction holding them committed, so a 200 means
durable; batching the commits is what makes that affordable at tens of thousands of events per second.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future

import pyarrow as pa

from huoli.events.store import AppendResult, EventStore

log = logging.getLogger(__name__)
_STOP = object()


class GroupCommitWriter:
    def __init__(self, store: EventStore, *, max_events: int = 20_000, linger_s: float = 0.004) -> None:
        self._store = store
        self._max_events = max_events
        # Like PostgreSQL's commit_delay: a few ms of waiting lets concurrent requests share one commit,
        # whose fixed cost (~10 ms in DuckDB) otherwise dominates small batches.
        self._linger_s = linger_s
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="huoli-event-writer", daemon=True)
        self._closed = False
        self._thread.start()

    def submit(self, table: pa.Table) -> Future[AppendResult]:
        future: Future[AppendResult] = Future()
        if self._closed:
            future.set_exception(RuntimeError("event writer is closed"))
            return future
        self._queue.put((table, future))
        return future

    def append(self, table: pa.Table) -> AppendResult:
        """Blocking convenience for jobs and tests."""
        return self.submit(table).result()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            pending = [item]
            size = item[0].num_rows  # type: ignore[index]
            deadline = time.monotonic() + self._linger_s
            while size < self._max_events:
                try:
                    nxt = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if nxt is _STOP:
                    self._queue.put(_STOP)
                    break
                pending.append(nxt)
                size += nxt[0].num_rows  # type: ignore[index]
            tables = [p[0] for p in pending]  # type: ignore[index]
            futures: list[Future[AppendResult]] = [p[1] for p in pending]  # type: ignore[index]
            try:
                results = self._store.append(tables)
            except BaseException as exc:  # a failed commit fails every request in it: none was acknowledged
                log.exception("event append failed")
                for f in futures:
                    f.set_exception(exc)
                continue
            for f, r in zip(futures, results, strict=True):
                f.set_result(r)

    def close(self) -> None:
        """Finish everything queued, then stop."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join()
