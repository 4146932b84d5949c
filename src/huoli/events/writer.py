"""The ingestion writer: group commit into the journal, bulk loads into the event store.

Requests hand validated Arrow tables to the commit thread. It takes everything queued (waiting a couple of
ms for more, like PostgreSQL's commit_delay), decides which rows are new, appends those to the journal with
one fsync, and only then completes the requests: a 200 means the events survive kill -9 or power loss.
A second thread loads the journaled rows into the store several times a second, in one transaction that also
records the journal position, so a crash between the two replays exactly what is missing. Loading on its own
thread keeps acknowledgements flowing while DuckDB inserts (DuckDB releases the GIL while it works).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from huoli.events.journal import Journal, Position
from huoli.events.stores import AppendResult, EventStore, key_text

log = logging.getLogger(__name__)


@dataclass
class _Submit:
    table: pa.Table
    future: Future[AppendResult]


@dataclass
class _Flush:
    future: Future[None] = field(default_factory=Future)


class _Stop:
    pass


class _Unloaded:
    """Events accepted into the journal but not yet visible in the store (pending, or being loaded).

    Membership is asked only for the rare rows the recent-key index can't clear, so the key set is built on
    demand instead of paying for a string per event on the hot path.
    """

    def __init__(self) -> None:
        self.pending: list[pa.Table] = []
        self.loading: list[pa.Table] = []
        self._keys: set[str] | None = None

    def changed(self) -> None:
        self._keys = None

    def __contains__(self, key: object) -> bool:
        if self._keys is None:
            self._keys = {
                key_text(a, e)
                for t in (*self.pending, *self.loading)
                for a, e in zip(t.column("app_id").to_pylist(), t.column("event_id").to_pylist(), strict=True)
            }
        return key in self._keys

    def __bool__(self) -> bool:
        return bool(self.pending or self.loading)


class GroupCommitWriter:
    def __init__(
        self,
        store: EventStore,
        *,
        journal_dir: Path | None = None,
        max_events: int = 20_000,
        linger_s: float = 0.002,
        load_interval_s: float = 0.25,
        load_max_rows: int = 100_000,
    ) -> None:
        self._store = store
        self._max_events = max_events
        self._linger_s = linger_s
        self._load_interval_s = load_interval_s
        self._load_max_rows = load_max_rows
        self._queue: queue.Queue[_Submit | _Flush | _Stop] = queue.Queue()
        self._cond = threading.Condition()
        self._pending_rows = 0
        self._unloaded = _Unloaded()
        self._position: Position | None = None
        self._flush_waiters: list[Future[None]] = []
        self._stopping = False
        self._closed = False
        self._journal = Journal(journal_dir) if journal_dir is not None and store.durable else None
        if self._journal is not None:
            self._recover(self._journal)
            self._journal.start_appending(after=store.journal_position()[0])
        store.before_read = self.flush_if_pending
        self._committer = threading.Thread(target=self._commit_loop, name="huoli-event-commit", daemon=True)
        self._loader = threading.Thread(target=self._load_loop, name="huoli-event-load", daemon=True)
        self._committer.start()
        self._loader.start()

    def _recover(self, journal: Journal) -> None:
        """Load records acknowledged before a crash but not yet in the store."""
        replayed = 0
        for table, position in journal.replay(self._store.journal_position()):
            prepared = self._store.prepare([table])
            self._store.insert(prepared.fresh(), journal_position=position)
            self._store.remember(prepared)
            replayed += table.num_rows
        if replayed:
            log.warning("replayed %d acknowledged events from the journal into the store", replayed)
        segments = journal.segments()
        if segments:
            journal.drop_before(segments[-1] + 1)  # everything is in the store now

    # --- API ------------------------------------------------------------------------------------------

    def submit(self, table: pa.Table) -> Future[AppendResult]:
        future: Future[AppendResult] = Future()
        if self._closed:
            future.set_exception(RuntimeError("event writer is closed"))
            return future
        self._queue.put(_Submit(table, future))
        return future

    def append(self, table: pa.Table) -> AppendResult:
        """Blocking convenience for jobs and tests."""
        return self.submit(table).result()

    def flush(self) -> None:
        """Block until every event acknowledged so far is in the store."""
        if self._closed or threading.current_thread() in (self._committer, self._loader):
            return
        request = _Flush()
        self._queue.put(request)
        request.future.result()

    @property
    def journal(self) -> Journal | None:
        """The journal (None for an in-memory store): an online backup holds and copies its segments."""
        return self._journal

    def acknowledged_position(self) -> Position | None:
        """Where the last acknowledged record ends (None: nothing appended since start, all of it is loaded).
        Set before the requests are answered, so every event acknowledged before this call lies at or before."""
        with self._cond:
            return self._position

    def flush_if_pending(self) -> None:
        if self._pending_rows or self._unloaded or not self._queue.empty():
            self.flush()

    def close(self) -> None:
        """Finish everything queued, load it, then stop."""
        if self._closed:
            return
        self._queue.put(_Stop())
        self._committer.join()
        self._loader.join()
        self._closed = True
        if self._journal is not None:
            self._journal.close()

    # --- commit thread --------------------------------------------------------------------------------

    def _commit_loop(self) -> None:
        while True:
            item = self._queue.get()
            items = [item]
            size = item.table.num_rows if isinstance(item, _Submit) else 0
            deadline = time.monotonic() + self._linger_s
            while size < self._max_events and isinstance(item, _Submit):
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                items.append(item)
                size += item.table.num_rows if isinstance(item, _Submit) else 0
            submits = [i for i in items if isinstance(i, _Submit)]
            if submits:
                self._commit(submits)
            stop = False
            with self._cond:
                for control in items:
                    if isinstance(control, _Flush):
                        self._flush_waiters.append(control.future)
                    elif isinstance(control, _Stop):
                        self._stopping = stop = True
                self._cond.notify_all()
            if stop:
                return

    def _commit(self, submits: list[_Submit]) -> None:
        try:
            prepared = self._store.prepare([s.table for s in submits], self._unloaded)
            fresh = prepared.fresh()
            if fresh.num_rows:
                if self._journal is None:
                    self._store.insert(fresh)  # in-memory store: nothing to make durable
                else:
                    position = self._journal.append(fresh)
                    with self._cond:
                        self._unloaded.pending.append(fresh)
                        self._unloaded.changed()
                        self._pending_rows += fresh.num_rows
                        self._position = position
                        if self._pending_rows >= self._load_max_rows:
                            self._cond.notify_all()
                    self._journal.roll_if_full()
                self._store.remember(prepared)
        except BaseException as exc:  # nothing of this group was acknowledged
            log.exception("event commit failed")
            for s in submits:
                s.future.set_exception(exc)
            return
        for s, result in zip(submits, prepared.results(), strict=True):
            s.future.set_result(result)

    # --- load thread ----------------------------------------------------------------------------------

    def _load_loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(
                    lambda: (
                        self._stopping
                        or bool(self._flush_waiters)
                        or self._pending_rows >= self._load_max_rows
                    ),
                    timeout=self._load_interval_s,
                )
                tables, position = self._unloaded.pending, self._position
                waiters, stopping = self._flush_waiters, self._stopping
                self._pending_rows, self._flush_waiters = 0, []
                self._unloaded.loading, self._unloaded.pending = tables, []
                self._unloaded.changed()
            error: BaseException | None = None
            if tables:
                try:
                    self._store.insert(pa.concat_tables(tables), journal_position=position)
                except BaseException as exc:  # the journal keeps the rows; put them back for the next pass
                    log.exception("loading journaled events into the store failed")
                    error = exc
                    with self._cond:
                        self._unloaded.pending = tables + self._unloaded.pending
                        self._pending_rows += sum(t.num_rows for t in tables)
            with self._cond:
                self._unloaded.loading = []
                self._unloaded.changed()
            if error is None and tables and self._journal is not None and position is not None:
                self._journal.drop_before(position[0])
            for w in waiters:
                if error is None:
                    w.set_result(None)
                else:
                    w.set_exception(error)
            if stopping and (error is not None or not self._unloaded.pending):
                return
