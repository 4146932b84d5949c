"""EventStore: the interface every event log backend implements, and the DuckDB default.

Idempotency: the dedup key is (app_id, event_id). Two witnesses decide whether an event is already stored:
- `RecentKeys` (events/dedup.py), an in-memory index of every stored event with a recent ts, answers "new"
  for the common case without touching the log;
- for the rest (older events, or an index hit to confirm), an anti-join against the log that reads only the
  incoming rows' ts range (a retried event carries the same ts: the SDK and the outbox resend rows verbatim),
  which DuckDB prunes by zone maps. A unique index would cost ~20x per insert (measured: 10M rows with a
  UUID primary key 43 s, without 2.2 s).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from huoli.events.dedup import RecentKeys, key_hashes
from huoli.events.journal import Position
from huoli.events.schema import EVENT_SCHEMA
from huoli.fileperms import FILE_MODE, mkdir_private

_SQL_TYPES: dict[str, str] = {
    "app_id": "VARCHAR NOT NULL",
    "event_id": "UUID NOT NULL",
    "name": "VARCHAR NOT NULL",
    "ts": "TIMESTAMPTZ NOT NULL",
    "user_id": "VARCHAR",
    "anonymous_id": "VARCHAR",
    "session_id": "VARCHAR",
    "page": "VARCHAR",
    "scene": "INTEGER",
    "channel": "VARCHAR",
    "duration_ms": "BIGINT",
    "load_ms": "BIGINT",
    "item_id": "VARCHAR",
    "amount_fen": "BIGINT",
    "order_id": "VARCHAR",
    "coupon_id": "VARCHAR",
    "sharer_id": "VARCHAR",
    "share_id": "VARCHAR",
    "campaign": "VARCHAR",
    "properties": "JSON",
    "source": "VARCHAR NOT NULL",
    "received_at": "TIMESTAMPTZ NOT NULL",
}
assert list(_SQL_TYPES) == EVENT_SCHEMA.names, "DuckDB DDL and the Arrow schema must list the same columns"

_COLUMNS = ", ".join(EVENT_SCHEMA.names)
_SELECT_CAST = ", ".join(
    "event_id::UUID AS event_id"
    if c == "event_id"
    else "properties::JSON AS properties"
    if c == "properties"
    else c
    for c in EVENT_SCHEMA.names
)


@dataclass(frozen=True)
class AppendResult:
    accepted: int
    duplicates: int


class EventStore(Protocol):
    """The one event log, as the ingestion writer, the importer and the admin API use it.

    Appends are idempotent by (app_id, event_id). A backend (DuckDB here; ClickHouse in clickhouse_store.py)
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


def open_store(url: str, *, threads: int | None = None) -> EventStore:
    if url.startswith("duckdb://"):
        return DuckDBEventStore(url.removeprefix("duckdb://"), threads=threads)
    if url.startswith("clickhouse://"):
        from huoli.events.clickhouse_store import ClickHouseEventStore

        return ClickHouseEventStore.from_url(url)
    raise ValueError(
        f"unsupported event store URL {url!r}: use duckdb:///path/events.duckdb or "
        "clickhouse://user:password@host:8123/database"
    )


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


class DuckDBEventStore(IndexedStore):
    """Embedded default. One process owns the file; writes are serialised by a lock (DuckDB is single-writer).

    Reads call `before_read` first: the ingestion writer sets it to load journaled, acknowledged events that
    are not in DuckDB yet, so every read sees every acknowledged event.
    """

    dialect = "duckdb"

    def __init__(
        self, path: str, *, recent_horizon: timedelta = timedelta(minutes=2), threads: int | None = None
    ) -> None:
        path = path.removeprefix("/") if path.startswith("/:memory:") else path
        created = path != ":memory:" and not Path(path).exists()
        if path != ":memory:":
            mkdir_private(Path(path).parent)
        self.path = path
        self._con = duckdb.connect(path)
        # DuckDB refuses an empty file made 0600 beforehand; its .wal relies on the 0700 directory.
        if created:
            Path(path).chmod(FILE_MODE)
        # UTC session time zone: local days are computed explicitly from the app's timezone, never implied.
        self._con.execute("SET GLOBAL TimeZone = 'UTC'")
        # No vacuum of deleted rows: it renumbers rowids, and the analytics rollups resume from a rowid (a DuckDB
        # without the setting does not vacuum deletes either).
        with contextlib.suppress(duckdb.CatalogException):
            self._con.execute("SET GLOBAL max_vacuum_tasks = 0")
        if threads is not None:
            self._con.execute(f"SET threads = {int(threads)}")
        self._init_index(recent_horizon)  # DuckDB work uses per-thread cursors, not the index lock
        self._local = threading.local()
        self._thread_cons: list[duckdb.DuckDBPyConnection] = []
        columns = ",\n  ".join(f"{name} {sql_type}" for name, sql_type in _SQL_TYPES.items())
        self._con.execute(f"CREATE TABLE IF NOT EXISTS events (\n  {columns}\n)")
        self._con.execute(
            "CREATE TABLE IF NOT EXISTS journal_state (id INTEGER PRIMARY KEY, segment BIGINT, byte_offset BIGINT)"
        )
        self._load_recent()

    @property
    def durable(self) -> bool:
        return self.path != ":memory:"

    def journal_dir(self, data_dir: Path) -> Path | None:
        return Path(self.path + ".journal") if self.durable else None

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A read cursor over the same database (safe to use from another thread)."""
        self.before_read()
        return self._con.cursor()

    def _thread_con(self) -> duckdb.DuckDBPyConnection:
        """This thread's own connection to the database: the commit and load threads never share one."""
        con: duckdb.DuckDBPyConnection | None = getattr(self._local, "con", None)
        if con is None:
            con = self._local.con = self._con.cursor()
            self._thread_cons.append(con)
        return con

    # --- writing -------------------------------------------------------------------------------------

    def _missing(self, subset: pa.Table) -> npt.NDArray[np.intp]:
        """An anti-join that reads only the subset's ts range (DuckDB prunes it by zone maps)."""
        lo, hi = pc.min_max(subset.column("ts")).values()
        con = self._thread_con()
        con.register("_check", subset)
        try:
            found = con.execute(
                """
                SELECT c._row FROM _check c
                WHERE NOT EXISTS (
                    SELECT 1 FROM events e
                    WHERE e.ts BETWEEN $lo AND $hi AND e.app_id = c.app_id AND e.event_id = c.event_id::UUID
                )
                """,
                {"lo": lo.as_py(), "hi": hi.as_py()},
            ).fetchnumpy()["_row"]
        finally:
            con.unregister("_check")
        return np.asarray(found, dtype=np.intp)

    def _keys_since(self, floor: datetime) -> tuple[list[str], list[str], npt.NDArray[np.int64]]:
        rows = (
            self._thread_con()
            .execute(
                "SELECT app_id, event_id::VARCHAR AS event_id, epoch_us(ts) AS ts_us FROM events WHERE ts >= ?",
                [floor],
            )
            .fetchnumpy()
        )
        return list(rows["app_id"]), list(rows["event_id"]), np.asarray(rows["ts_us"], dtype=np.int64)

    def insert(self, rows: pa.Table, *, journal_position: Position | None = None) -> None:
        """One transaction: the rows, and how far into the journal the store now is."""
        con = self._thread_con()
        con.execute("BEGIN TRANSACTION")
        try:
            if rows.num_rows:
                con.register("_fresh", rows)
                try:
                    con.execute(f"INSERT INTO events ({_COLUMNS}) SELECT {_SELECT_CAST} FROM _fresh")
                finally:
                    con.unregister("_fresh")
            if journal_position is not None:
                con.execute("INSERT OR REPLACE INTO journal_state VALUES (1, ?, ?)", list(journal_position))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def range_is_empty(self, *, app_id: str, lo: datetime, hi: datetime) -> bool:
        """No stored event of the app has a ts in [lo, hi]: an import there cannot repeat anything stored."""
        self.before_read()
        rows = (
            self._thread_con()
            .execute(
                "SELECT count(*) FROM (SELECT 1 FROM events WHERE app_id = ? AND ts BETWEEN ? AND ? LIMIT 1)",
                [app_id, lo, hi],
            )
            .fetchall()
        )
        return int(rows[0][0]) == 0

    def bulk_insert(self, select_sql: str) -> int:
        """Stream a query's rows (EVENT_SCHEMA columns, event_id as text) straight into the log, in DuckDB.

        For imports into an empty range (see range_is_empty); the caller vouches that event ids are unique.
        """
        con = self._thread_con()
        with self._append_lock:
            # Row order inside one bulk load means nothing to huoli; not keeping it lets DuckDB write in parallel.
            con.execute("SET preserve_insertion_order = false")
            con.execute("BEGIN TRANSACTION")
            try:
                rows = con.execute(
                    f"INSERT INTO events ({_COLUMNS}) SELECT {_SELECT_CAST} FROM ({select_sql})"
                ).fetchall()
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            finally:
                con.execute("RESET preserve_insertion_order")
            self._load_recent()  # imported events may be recent: keep the index's invariant
        return int(rows[0][0])

    def journal_position(self) -> Position:
        rows = self._con.execute("SELECT segment, byte_offset FROM journal_state WHERE id = 1").fetchall()
        return (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)

    # --- reading -------------------------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        return self.cursor().sql(sql, params=list(params or [])).to_arrow_table()

    def delete_events(self, where: str, params: Sequence[Any] | None = None) -> int:
        self.before_read()  # acknowledged events still in the journal are loaded first: none escapes
        rows = self._thread_con().execute(f"DELETE FROM events WHERE {where}", list(params or [])).fetchall()
        return int(rows[0][0])

    def delete_events_before(self, cutoff: datetime, *, app_id: str | None = None) -> int:
        return self.delete_events(*before(cutoff, app_id))

    def count(self, *, app_id: str, name: str | None = None) -> int:
        sql = "SELECT count(*) FROM events WHERE app_id = ?"
        params: list[Any] = [app_id]
        if name is not None:
            sql += " AND name = ?"
            params.append(name)
        return int(self.cursor().execute(sql, params).fetchall()[0][0])

    def summary(self, *, app_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Events, users and first/last time per event name in [start, end): the admin overview."""
        return self.query(
            """
            SELECT name, count(*) AS events, count(DISTINCT coalesce(user_id, anonymous_id)) AS users,
                   min(ts) AS first_ts, max(ts) AS last_ts
            FROM events WHERE app_id = ? AND ts >= ? AND ts < ? GROUP BY name ORDER BY events DESC, name
            """,
            [app_id, start, end],
        ).to_pylist()

    def has_property(self, *, app_id: str, key: str) -> bool:
        sql = "SELECT 1 FROM events WHERE app_id = ? AND json_extract(properties, ?) IS NOT NULL LIMIT 1"
        return self.query(sql, [app_id, f"$.{key}"]).num_rows > 0

    def recent(self, *, app_id: str, limit: int) -> list[dict[str, Any]]:
        # event_id as text: DuckDB's UUID has no Arrow equivalent worth handing to callers.
        cols = _COLUMNS.replace("event_id", "event_id::VARCHAR AS event_id")
        return self.query(
            f"SELECT {cols} FROM events WHERE app_id = ? ORDER BY received_at DESC, ts DESC LIMIT ?",
            [app_id, limit],
        ).to_pylist()

    def close(self) -> None:
        for con in self._thread_cons:
            con.close()
        self._thread_cons.clear()
        self.before_read = _no_op
        self._con.close()
