"""The event log on ClickHouse, through clickhouse-connect (HTTP): the scale-out EventStore.

Same contract as DuckDBEventStore (duckdb.py), same dedup (IndexedStore: in-batch, recent-key index, exact
check), same journal: the writer fsyncs acknowledged events to the local journal first and its load thread
calls `insert` with the journal position. ClickHouse has no multi-table transaction, so `insert` writes the
rows, then the position; a crash between the two replays rows that `prepare` finds stored and drops. An
insert whose answer was lost (timeout, dropped connection) may have landed: the next insert first drops the
rows the log already holds, so a retry never doubles events.

The exact check reads only the candidates' ts range and app ids (the sort key prunes granules) and their
event ids through a bloom-filter skip index, in chunks that keep each statement under ClickHouse's
max_query_size.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlparse

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from huoli.events.journal import Position
from huoli.events.schema import CLICKHOUSE_SETTINGS, EVENT_SCHEMA, clickhouse_events_ddl
from huoli.events.stores.base import IndexedStore, _conform, _no_op, before, key_text

# The exact dedup check looks event ids up inside a ts range: skip granules that cannot hold them.
EVENT_ID_INDEX = "INDEX event_id_bloom event_id TYPE bloom_filter(0.001) GRANULARITY 4"
JOURNAL_DDL = (
    "CREATE TABLE IF NOT EXISTS journal_state (id UInt8, segment Int64, byte_offset Int64) "
    "ENGINE = ReplacingMergeTree ORDER BY id"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CHECK_CHUNK = 2_000  # ids per exact-check statement: ~80 KB of SQL, well under max_query_size (256 KiB)
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STRING_OR_MARK = re.compile(r"('(?:[^'\\]|\\.|'')*')|(\?)")


class ClickHouseURLError(ValueError):
    pass


def _micros(dt: datetime) -> int:
    if dt.tzinfo is None:
        raise ValueError("naive datetime: huoli timestamps are timezone-aware")
    return (dt - _EPOCH) // timedelta(microseconds=1)  # exact, unlike float timestamps


def literal(value: Any) -> str:
    """A Python value as a ClickHouse literal (timestamps keep their microseconds, as UTC)."""
    from clickhouse_connect.driver.binding import format_str

    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return str(format_str(value))
    if isinstance(value, datetime):
        return f"fromUnixTimestamp64Micro({_micros(value)}, 'UTC')"
    raise TypeError(f"cannot bind {type(value).__name__} into ClickHouse SQL")


def bind(sql: str, params: Sequence[Any] | None) -> str:
    """Replace DuckDB-style `?` placeholders (outside string literals) by ClickHouse literals."""
    values = list(params or [])
    if not values:
        return sql
    it = iter(values)

    def sub(m: re.Match[str]) -> str:
        if m[1] is not None:
            return m[1]
        try:
            return literal(next(it))
        except StopIteration:
            raise ValueError("more ? placeholders than parameters") from None

    out = _STRING_OR_MARK.sub(sub, sql)
    if next(it, _END) is not _END:
        raise ValueError("more parameters than ? placeholders")
    return out


_END = object()


def parse_url(url: str) -> dict[str, Any]:
    """clickhouse://user:password@host:port/database?secure=0|1 → get_client arguments (and the database)."""
    parts = urlparse(url)
    if parts.scheme != "clickhouse":
        raise ClickHouseURLError(f"not a ClickHouse URL: {url.split('@')[-1]!r}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ClickHouseURLError(f"bad port in ClickHouse URL: {exc}") from exc
    if not parts.hostname:
        raise ClickHouseURLError("ClickHouse URL has no host: clickhouse://user:password@host:8123/database")
    database = parts.path.strip("/") or "default"
    if not _NAME_RE.match(database):
        raise ClickHouseURLError(f"bad ClickHouse database name {database!r}: letters, digits and _ only")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(query) - {"secure"})
    if unknown:
        raise ClickHouseURLError(f"unknown ClickHouse URL parameter(s) {unknown}: only secure=0|1")
    secure = query.get("secure", "0")
    if secure not in ("0", "1", "true", "false"):
        raise ClickHouseURLError(f"secure must be 0 or 1, not {secure!r}")
    is_secure = secure in ("1", "true")
    return {
        "host": parts.hostname,
        "port": port or (8443 if is_secure else 8123),
        "username": unquote(parts.username or "default"),
        "password": unquote(parts.password or ""),
        "secure": is_secure,
        "database": database,
    }


class ClickHouseEventStore(IndexedStore):
    """The event log in a ClickHouse database; one huoli process writes it (it owns the journal)."""

    dialect = "clickhouse"

    def __init__(
        self, client: Any, *, database: str, recent_horizon: timedelta = timedelta(minutes=2)
    ) -> None:
        self.client = client
        self.database = database
        self.label = f"{client.url.rsplit('//', 1)[-1]}/{database}"  # host:port/database, never the password
        self._init_index(recent_horizon)
        self._uncertain = False  # the last insert failed without an answer: it may have landed
        client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
        client.database = database
        client.command(clickhouse_events_ddl(partition_by="toYYYYMM(ts)", indexes=(EVENT_ID_INDEX,)))
        client.command(JOURNAL_DDL)
        self._load_recent()

    @classmethod
    def from_url(cls, url: str, *, recent_horizon: timedelta = timedelta(minutes=2)) -> ClickHouseEventStore:
        import clickhouse_connect
        from clickhouse_connect.driver.exceptions import ClickHouseError

        args = parse_url(url)
        database = args.pop("database")
        try:
            client = clickhouse_connect.get_client(
                **args,
                compress=False,
                # One client serves the commit, load and request threads: ClickHouse refuses concurrent
                # queries in one HTTP session, so none is opened.
                autogenerate_session_id=False,
                connect_timeout=10,
                settings=CLICKHOUSE_SETTINGS,
            )
            return cls(client, database=database, recent_horizon=recent_horizon)
        except ClickHouseError as exc:
            where = f"{args['host']}:{args['port']}/{database}"
            raise ConnectionError(f"cannot open the ClickHouse event store at {where}: {exc}") from exc

    @property
    def durable(self) -> bool:
        return True

    def journal_dir(self, data_dir: Path) -> Path | None:
        safe = re.sub(r"[^\w.-]+", "_", self.label)
        return data_dir / f"clickhouse-{safe}.journal"

    def _select(self, sql: str) -> pa.Table:
        result: pa.Table = self.client.query_arrow(sql)
        return result

    # --- writing -------------------------------------------------------------------------------------

    def _missing(self, subset: pa.Table) -> npt.NDArray[np.intp]:
        """Candidates whose (app_id, event_id) the log lacks, looked up chunk by chunk in ts order."""
        subset = subset.sort_by("ts")
        apps = subset.column("app_id").to_pylist()
        ids = subset.column("event_id").to_pylist()
        ts = subset.column("ts").cast(pa.int64()).to_numpy()
        found: set[str] = set()
        for i in range(0, len(ids), _CHECK_CHUNK):
            chunk = slice(i, i + _CHECK_CHUNK)
            rows = self._select(
                "SELECT app_id, event_id FROM events "
                f"WHERE ts BETWEEN fromUnixTimestamp64Micro({int(ts[chunk][0])}, 'UTC') "
                f"AND fromUnixTimestamp64Micro({int(ts[chunk][-1])}, 'UTC') "
                f"AND app_id IN ({', '.join(map(literal, sorted(set(apps[chunk]))))}) "
                f"AND event_id IN ({', '.join(map(literal, ids[chunk]))})"
            )
            found.update(
                key_text(a, e)
                for a, e in zip(
                    rows.column("app_id").to_pylist(), rows.column("event_id").to_pylist(), strict=True
                )
            )
        rows_ = subset.column("_row").to_numpy()
        absent = [r for r, a, e in zip(rows_, apps, ids, strict=True) if key_text(a, e) not in found]
        return np.sort(np.asarray(absent, dtype=np.intp))

    def _keys_since(self, floor: datetime) -> tuple[list[str], list[str], npt.NDArray[np.int64]]:
        rows = self._select(
            "SELECT app_id, event_id, toUnixTimestamp64Micro(ts) AS ts_us FROM events "
            f"WHERE ts >= {literal(floor)}"
        )
        return (
            rows.column("app_id").to_pylist(),
            rows.column("event_id").to_pylist(),
            rows.column("ts_us").to_numpy().astype(np.int64),
        )

    def insert(self, rows: pa.Table, *, journal_position: Position | None = None) -> None:
        """The rows (one Arrow INSERT), then how far into the journal the store now is."""
        if rows.num_rows and self._uncertain:
            rows = self._not_stored(rows)
        try:
            if rows.num_rows:
                self.client.insert_arrow("events", _conform(rows))
            if journal_position is not None:
                segment, offset = journal_position
                self.client.command(
                    f"INSERT INTO journal_state (id, segment, byte_offset) VALUES (1, {int(segment)}, {int(offset)})"
                )
        except BaseException:
            self._uncertain = True
            raise
        self._uncertain = False

    def _not_stored(self, rows: pa.Table) -> pa.Table:
        subset = rows.select(["app_id", "event_id", "ts"]).append_column(
            "_row", pa.array(np.arange(rows.num_rows), pa.int64())
        )
        return rows.take(pa.array(self._missing(subset)))

    def range_is_empty(self, *, app_id: str, lo: datetime, hi: datetime) -> bool:
        self.before_read()
        rows = self._select(
            "SELECT count() AS n FROM (SELECT 1 FROM events "
            f"WHERE app_id = {literal(app_id)} AND ts BETWEEN {literal(lo)} AND {literal(hi)} LIMIT 1)"
        )
        return int(rows.column("n")[0].as_py()) == 0

    def bulk_insert(self, select_sql: str) -> int:
        """Stream a DuckDB query's rows (EVENT_SCHEMA columns, over source files) into ClickHouse.

        The importer's fast path: DuckDB reads the files in-process and each Arrow batch is one INSERT here.
        For imports into an empty range (see range_is_empty); the caller vouches that event ids are unique.
        """
        import duckdb

        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        total = 0
        with self._append_lock:
            try:
                reader = con.sql(
                    f"SELECT {', '.join(EVENT_SCHEMA.names)} FROM ({select_sql})"
                ).to_arrow_reader(1_000_000)
                for batch in reader:
                    table = pa.Table.from_batches([batch])
                    table = table.set_column(
                        table.schema.get_field_index("event_id"),
                        "event_id",
                        table.column("event_id").cast(pa.string()),
                    )
                    self.insert(_conform(table))
                    total += table.num_rows
            finally:
                con.close()
            self._load_recent()  # imported events may be recent: keep the index's invariant
        return total

    def journal_position(self) -> Position:
        rows = self._select(
            "SELECT segment, byte_offset FROM journal_state WHERE id = 1 "
            "ORDER BY segment DESC, byte_offset DESC LIMIT 1"
        )
        if not rows.num_rows:
            return (0, 0)
        return (int(rows.column("segment")[0].as_py()), int(rows.column("byte_offset")[0].as_py()))

    # --- reading -------------------------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """ClickHouse SQL; `?` placeholders take `params` as literals (the SQL both dialects share works)."""
        self.before_read()
        return self._select(bind(sql, params))

    def delete_events(self, where: str, params: Sequence[Any] | None = None) -> int:
        self.before_read()  # acknowledged events still in the journal are inserted first: none escapes
        condition = bind(where, params)
        found = self._select(f"SELECT count() AS n FROM events WHERE {condition}")
        n = int(found.column("n")[0].as_py())
        if n:
            # Lightweight DELETE (synchronous by default): the rows leave every query at once; merges drop
            # them from disk later (docs/reliability.md#privacy-requests-pipl).
            self.client.command(f"DELETE FROM events WHERE {condition}")
        return n

    def delete_events_before(self, cutoff: datetime, *, app_id: str | None = None) -> int:
        return self.delete_events(*before(cutoff, app_id))

    def count(self, *, app_id: str, name: str | None = None) -> int:
        where = f"app_id = {literal(app_id)}" + (f" AND name = {literal(name)}" if name is not None else "")
        return int(self.query(f"SELECT count() AS n FROM events WHERE {where}").column("n")[0].as_py())

    def summary(self, *, app_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Events, users and first/last time per event name in [start, end): the admin overview."""
        rows = self.query(
            """
            SELECT name, count() AS events, uniqExact(coalesce(user_id, anonymous_id)) AS users,
                   min(ts) AS first_ts, max(ts) AS last_ts
            FROM events WHERE app_id = ? AND ts >= ? AND ts < ? GROUP BY name ORDER BY events DESC, name
            """,
            [app_id, start, end],
        ).to_pylist()
        return [{**r, "events": int(r["events"]), "users": int(r["users"])} for r in rows]

    def recent(self, *, app_id: str, limit: int) -> list[dict[str, Any]]:
        return self.query(
            f"SELECT {', '.join(EVENT_SCHEMA.names)} FROM events WHERE app_id = ? "
            "ORDER BY received_at DESC, ts DESC LIMIT ?",
            [app_id, int(limit)],
        ).to_pylist()

    def has_property(self, *, app_id: str, key: str) -> bool:
        sql = "SELECT 1 AS x FROM events WHERE app_id = ? AND JSONHas(coalesce(properties, '{}'), ?) LIMIT 1"
        return self.query(sql, [app_id, key]).num_rows > 0

    def close(self) -> None:
        self.before_read = _no_op
        self.client.close()


__all__ = ["ClickHouseEventStore", "ClickHouseURLError", "bind", "literal", "parse_url"]
