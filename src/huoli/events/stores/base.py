"""EventStore: the interface every event log backend implements, and the dedup every backend shares.

Backends: DuckDB (duckdb.py, the embedded default) and ClickHouse (clickhouse.py); `open_store` in
`huoli.events.stores` picks one by URL.

Idempotency: the dedup key is (app_id, event_id). Two witnesses decide whether an event is already stored:
- `RecentKeys` (events/dedup.py), an in-memory index of every stored event with a recent ts, answers "new"
  for the common case without touching the log;
- for the rest (older events, or an index hit to confirm), an anti-join against the log that reads only the
  incoming rows' ts range (a retried event carries the same ts: the SDK and the outbox resend rows verbatim),
  which DuckDB prunes by zone maps. A unique index would cost ~20x per insert (measured: 10M rows with a
  UUID primary key 43 s, without 2.2 s).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from huoli.events.dedup import RecentKeys, key_hashes
from huoli.events.journal import Position
from huoli.events.schema import EVENT_SCHEMA


@dataclass(frozen=True)
class AppendResult:
    accepted: int
    duplicates: int


class EventStore(Protocol):
    """The one event log, as the ingestion writer, the importer and the admin API use it.

    Appends are idempotent by (app_id, event_id). A backend (DuckDB in duckdb.py, ClickHouse in clickhouse.py)
    implements these; `durable` False means the writer skips the journal (in-memory stores). `query` takes
    `?` placeholders on every backend; SQL outside the subset both dialects share belongs in a method here.
    """

    before_read: Callable[[], None]
    dialect: str  # what `query` speaks beyond the SQL both dialects share: "duckdb" or "clickhouse"

    @property
    def durable(self) -> bool: ...

    def prepare(self, batches: Sequence[pa.Table], pending: Container[str] = ...) -> Prepared:
        """Decide which rows are new (in-batch repeats, the recent-key index, the log)."""
        ...

    def insert(self, rows: pa.Table, *, journal_position: Position | None = None) -> None:
        """Store rows and the journal position in one transaction."""
        ...

    def remember(self, prepared: Prepared) -> None: ...

    def journal_position(self) -> Position: ...

    def append(self, batches: Sequence[pa.Table]) -> list[AppendResult]:
        """prepare + insert + remember, for direct callers (imports, tests)."""
        ...

    def range_is_empty(self, *, app_id: str, lo: datetime, hi: datetime) -> bool: ...

    def bulk_insert(self, select_sql: str) -> int: ...

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table: ...

    def delete_events(self, where: str, params: Sequence[Any] | None = None) -> int:
        """Delete the events matching `where` (SQL both dialects share, `?` placeholders); returns how many.
        Only privacy erasure and retention delete events (events/privacy.py, privacy/retention.py);
        acknowledged events still in the journal are loaded first, so none escapes."""
        ...

    def delete_events_before(self, cutoff: datetime, *, app_id: str | None = None) -> int:
        """Delete the events whose ts is before `cutoff` (of one app, or of every app); returns how many."""
        ...

    def count(self, *, app_id: str, name: str | None = None) -> int: ...

    def summary(self, *, app_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]: ...

    def recent(self, *, app_id: str, limit: int) -> list[dict[str, Any]]: ...

    def has_property(self, *, app_id: str, key: str) -> bool: ...

    def journal_dir(self, data_dir: Path) -> Path | None:
        """Where the writer journals acknowledged events before they reach this store."""
        ...

    def close(self) -> None: ...


@dataclass
class Prepared:
    """Incoming rows after in-batch dedup, with what the dedup decided for each."""

    rows: pa.Table
    batch_of: npt.NDArray[np.int32]
    sizes: list[int]
    ts_us: npt.NDArray[np.int64]
    keys: npt.NDArray[np.int64]
    recent: npt.NDArray[np.bool_]
    keep: npt.NDArray[np.bool_]

    def fresh(self) -> pa.Table:
        return self.rows if self.keep.all() else self.rows.filter(pa.array(self.keep))

    def results(self) -> list[AppendResult]:
        accepted = np.bincount(self.batch_of[self.keep], minlength=len(self.sizes)).tolist()
        return [AppendResult(accepted=a, duplicates=s - a) for a, s in zip(accepted, self.sizes, strict=True)]


def _no_op() -> None:
    return None


def _now_us() -> int:
    return time.time_ns() // 1000


def _conform(table: pa.Table) -> pa.Table:
    return table if table.schema == EVENT_SCHEMA else table.select(EVENT_SCHEMA.names).cast(EVENT_SCHEMA)


def key_text(app_id: str, event_id: str) -> str:
    return f"{app_id}\x1f{event_id}"


def _first_copies(table: pa.Table, batch_of: npt.NDArray[np.int32]) -> tuple[pa.Table, npt.NDArray[np.int32]]:
    """Drop repeated (app_id, event_id) pairs inside one append, keeping the first copy."""
    keys = pc.binary_join_element_wise(table.column("app_id"), table.column("event_id"), "\x1f")
    if pc.count_distinct(keys).as_py() == table.num_rows:
        return table, batch_of
    _, first = np.unique(keys.to_numpy(zero_copy_only=False), return_index=True)
    first.sort()
    return table.take(pa.array(first)), batch_of[first]


def before(cutoff: datetime, app_id: str | None = None) -> tuple[str, list[Any]]:
    """The events older than `cutoff` (of one app, or every app), as SQL both dialects share."""
    if cutoff.tzinfo is None:
        raise ValueError("naive cutoff refused: events are kept by aware instants")
    if app_id is None:
        return "ts < ?", [cutoff]
    return "app_id = ? AND ts < ?", [app_id, cutoff]


class IndexedStore:
    """What every backend shares: in-batch dedup, the recent-key index, the pending set, direct appends.

    A backend answers two questions about its own log: which candidate keys it lacks (`_missing`), and which
    keys have a ts at or after a floor (`_keys_since`, to rebuild the index at start).
    """

    def _init_index(self, recent_horizon: timedelta) -> None:
        self._index_lock = threading.Lock()  # guards the in-memory index only
        self._append_lock = threading.Lock()
        # Short buckets: forgetting one expired bucket is a small set difference, not a pause.
        self._recent = RecentKeys(
            horizon_us=int(recent_horizon / timedelta(microseconds=1)), bucket_us=2_000_000
        )
        self.before_read: Callable[[], None] = _no_op

    def _missing(self, subset: pa.Table) -> npt.NDArray[np.intp]:
        """`_row` of the subset rows (app_id, event_id, ts, _row) whose key the log does not hold."""
        raise NotImplementedError

    def _keys_since(self, floor: datetime) -> tuple[list[str], list[str], npt.NDArray[np.int64]]:
        """(app_ids, event_ids, ts in µs) of every stored event with ts >= floor."""
        raise NotImplementedError

    def insert(self, rows: pa.Table, *, journal_position: Position | None = None) -> None:
        raise NotImplementedError

    def prepare(self, batches: Sequence[pa.Table], pending: Container[str] = frozenset()) -> Prepared:
        """Decide which rows are new. `pending` holds keys accepted but not yet loaded (see writer.py)."""
        sizes = [b.num_rows for b in batches]
        tables = [_conform(b) for b in batches if b.num_rows] or [EVENT_SCHEMA.empty_table()]
        rows = pa.concat_tables(tables).combine_chunks()
        batch_of = np.repeat(np.arange(len(batches), dtype=np.int32), sizes)
        rows, batch_of = _first_copies(rows, batch_of)
        ts_us = rows.column("ts").cast(pa.int64()).to_numpy()
        with self._index_lock:
            self._recent.advance(_now_us())
            floor = self._recent.floor_us
        recent = ts_us >= floor
        keys = np.zeros(len(ts_us), dtype=np.int64)
        if recent.any():
            ids = rows.column("event_id").to_pylist()
            apps = rows.column("app_id").to_pylist()
            sel = np.flatnonzero(recent)
            keys[sel] = key_hashes([apps[i] for i in sel], [ids[i] for i in sel])
        with self._index_lock:
            maybe_seen = self._recent.maybe_contains(keys)
        # Rows the index can't vouch for (older than its floor, or a possible repeat) are looked up.
        check = ~recent | maybe_seen
        keep = ~check
        if check.any():
            keep[self._absent(rows, np.flatnonzero(check), pending)] = True
        return Prepared(rows, batch_of, sizes, ts_us, keys, recent, keep)

    def _absent(
        self, rows: pa.Table, candidates: npt.NDArray[np.intp], pending: Container[str]
    ) -> npt.NDArray[np.intp]:
        """Which candidates are neither pending nor in the log."""
        if pending:
            apps = rows.column("app_id").take(pa.array(candidates)).to_pylist()
            ids = rows.column("event_id").take(pa.array(candidates)).to_pylist()
            candidates = candidates[[key_text(a, e) not in pending for a, e in zip(apps, ids, strict=True)]]
            if not len(candidates):
                return candidates
        subset = rows.take(pa.array(candidates)).select(["app_id", "event_id", "ts"])
        subset = subset.append_column("_row", pa.array(candidates, pa.int64()))
        return self._missing(subset)

    def remember(self, prepared: Prepared) -> None:
        """Index the kept rows (call once they are accepted: journaled or inserted)."""
        mask = prepared.keep & prepared.recent
        with self._index_lock:
            self._recent.add(prepared.keys[mask], prepared.ts_us[mask])

    def append(self, batches: Sequence[pa.Table]) -> list[AppendResult]:
        """Direct append (imports, tests): dedup, insert, index, in one go under the store lock."""
        with self._append_lock:
            prepared = self.prepare(batches)
            self.insert(prepared.fresh())
            self.remember(prepared)
        return prepared.results()

    def _load_recent(self) -> None:
        now = _now_us()
        floor = datetime.fromtimestamp(self._recent.floor_for(now) / 1e6, UTC)
        apps, ids, ts_us = self._keys_since(floor)
        keys = key_hashes(apps, ids)
        with self._index_lock:
            self._recent.reset(now_us=now, keys=keys, ts_us=ts_us)
