"""The event log in an embedded DuckDB file: the default EventStore (one process owns the file)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from huoli.events.journal import Position
from huoli.events.schema import DUCKDB_TYPES, EVENT_SCHEMA
from huoli.events.stores.base import IndexedStore, _no_op, before
from huoli.fileperms import FILE_MODE, mkdir_private

_COLUMNS = ", ".join(EVENT_SCHEMA.names)
_SELECT_CAST = ", ".join(
    "event_id::UUID AS event_id"
    if c == "event_id"
    else "properties::JSON AS properties"
    if c == "properties"
    else c
    for c in EVENT_SCHEMA.names
)


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
        columns = ",\n  ".join(f"{name} {sql_type}" for name, sql_type in DUCKDB_TYPES.items())
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
