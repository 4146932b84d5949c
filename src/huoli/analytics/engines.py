"""Where metric expressions run. One code path: an Ibis expression over the unbound `events` table is
compiled to the engine's SQL dialect and executed there; every engine returns an Arrow table.

- DuckDB: the embedded event store (default).
- ClickHouse: a server through clickhouse-connect, or chdb (the ClickHouse engine in-process) — both run
  exactly the SQL Ibis generates for the `clickhouse` dialect.
- Spark: a SparkSession (local or cluster) running the SQL Ibis generates for the `pyspark` dialect.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import ibis
import pyarrow as pa

from huoli.events.schema import EVENT_SCHEMA

if TYPE_CHECKING:
    from huoli.events.store import EventStore

EVENTS_TABLE = "events"


def events_table() -> ibis.Table:
    """The unbound event log every metric is written against (the physical schema of docs/events.md)."""
    return ibis.table(ibis.Schema.from_pyarrow(EVENT_SCHEMA), name=EVENTS_TABLE)


# Ibis has no portable JSON-to-text extraction, so metrics call this placeholder and each dialect gets
# the native function (all three take a '$.key' path and return text or NULL).
@ibis.udf.scalar.builtin(name="huoli_json_value")
def json_value(doc: str, path: str) -> str:  # type: ignore[empty-body]
    """Text of the JSON value at `path` ('$.key'), NULL when absent."""


_JSON_FUNCTION = {"duckdb": "json_extract_string", "clickhouse": "JSON_VALUE", "pyspark": "get_json_object"}


def compile_sql(expr: ibis.Expr, dialect: str) -> str:
    if dialect == "pyspark" and ibis.options.pyspark is None:
        from ibis.backends.pyspark import (
            Backend,  # its compiler reads these options; a Backend would set them
        )

        ibis.options.pyspark = Backend.Options()
    sql = ibis.to_sql(expr, dialect=dialect)
    sql = re.sub(r"\bhuoli_json_value\(", _JSON_FUNCTION[dialect] + "(", str(sql), flags=re.IGNORECASE)
    if dialect == "clickhouse":
        # Ibis compiles nunique() to uniq(), an estimate; every huoli number is exact.
        sql = re.sub(r"\buniq(If)?\(", r"uniqExact\1(", sql)
    return sql


class Engine(Protocol):
    name: str
    dialect: str

    def execute(self, expr: ibis.Expr) -> pa.Table: ...


class SqlEngine:
    """Compiles with Ibis for `dialect` and hands the SQL to `run`."""

    name = "sql"
    dialect = "duckdb"

    def __init__(self, run: Callable[[str], pa.Table]) -> None:
        self._run = run
        self.last_sql: str | None = None

    def execute(self, expr: ibis.Expr) -> pa.Table:
        sql = compile_sql(expr, self.dialect)
        self.last_sql = sql
        return self._run(sql)


class DuckDBEngine(SqlEngine):
    name = "duckdb"
    dialect = "duckdb"

    def __init__(self, store: EventStore) -> None:
        super().__init__(store.query)

    @classmethod
    def from_arrow(cls, table: pa.Table) -> SqlEngine:
        """A private in-memory DuckDB holding `table` as the event log (tests, benchmarks, cross-checks)."""
        import duckdb

        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        data = table.select(EVENT_SCHEMA.names).cast(EVENT_SCHEMA)  # noqa: F841 - scanned by name below
        con.execute(f"CREATE TABLE {EVENTS_TABLE} AS SELECT * FROM data")
        engine = SqlEngine(lambda sql: con.sql(sql).to_arrow_table())
        engine.name, engine.dialect = "duckdb", "duckdb"
        engine.con = con  # type: ignore[attr-defined]
        return engine


# Settings that make ClickHouse behave like the SQL standard where metrics depend on it.
CLICKHOUSE_SETTINGS = {
    "join_use_nulls": 1,  # outer joins yield NULL, not the type's default (0, '')
    "function_json_value_return_type_allow_nullable": 1,  # absent JSON keys are NULL, not ''
    "session_timezone": "UTC",
}


def clickhouse_events_ddl(
    table: str = EVENTS_TABLE,
    engine: str = "MergeTree",
    *,
    partition_by: str | None = None,
    indexes: Sequence[str] = (),
) -> str:
    """The events table on ClickHouse: sorted for per-app, per-user scans (funnels, retention, paths)."""
    types = {
        pa.string(): "String",
        pa.int32(): "Int32",
        pa.int64(): "Int64",
        pa.timestamp("us", tz="UTC"): "DateTime64(6, 'UTC')",
    }
    cols = []
    for f in EVENT_SCHEMA:
        t = types[f.type]
        cols.append(f"`{f.name}` {t if not f.nullable else f'Nullable({t})'}")
    partition = f" PARTITION BY {partition_by}" if partition_by else ""
    return (
        f"CREATE TABLE IF NOT EXISTS {table} ({', '.join([*cols, *indexes])}) ENGINE = {engine}{partition} "
        "ORDER BY (app_id, name, ts)"
    )


class ChdbEngine(SqlEngine):
    """ClickHouse in-process (chdb): the same SQL a ClickHouse server would run."""

    name = "chdb"
    dialect = "clickhouse"

    def __init__(self, path: str | None = None) -> None:
        from chdb import session

        self.session = session.Session(path) if path else session.Session()
        self.session.query("CREATE DATABASE IF NOT EXISTS huoli ENGINE = Atomic")
        self.session.query("USE huoli")
        self.session.query(clickhouse_events_ddl())
        super().__init__(self._query)

    def _query(self, sql: str) -> pa.Table:
        settings = ", ".join(
            f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in CLICKHOUSE_SETTINGS.items()
        )
        result = self.session.query(f"{sql}\nSETTINGS {settings}", "ArrowTable")
        return result if isinstance(result, pa.Table) else pa.table({})

    def load_arrow(self, table: pa.Table) -> None:
        data = table.select(EVENT_SCHEMA.names).cast(EVENT_SCHEMA)  # noqa: F841 - read by the Python() table function
        self.session.query(f"INSERT INTO {EVENTS_TABLE} SELECT * FROM Python(data)")

    def load_parquet(self, files: list[Path]) -> None:
        for f in files:
            self.session.query(f"INSERT INTO {EVENTS_TABLE} SELECT * FROM file('{f}', Parquet)")

    def native(self, sql: str) -> pa.Table:
        """Run hand-written ClickHouse SQL (benchmarks and cross-checks)."""
        return self._query(sql)

    def close(self) -> None:
        self.session.close()


class ClickHouseEngine(SqlEngine):
    """A ClickHouse server through clickhouse-connect (HTTP)."""

    name = "clickhouse"
    dialect = "clickhouse"

    def __init__(self, client: Any, *, before_run: Callable[[], None] | None = None) -> None:
        self.client = client
        self._before_run = before_run
        super().__init__(self._query)

    def _query(self, sql: str) -> pa.Table:
        if self._before_run is not None:
            self._before_run()  # the event store's writer loads acknowledged events first
        result: pa.Table = self.client.query_arrow(sql, settings=CLICKHOUSE_SETTINGS)
        return result


class SparkEngine(SqlEngine):
    """Spark SQL: batch over a lakehouse table registered as the `events` view."""

    name = "spark"
    dialect = "pyspark"

    def __init__(self, spark: Any) -> None:
        self.spark = spark
        super().__init__(self._query)

    @staticmethod
    def local_session(cores: int = 2, shuffle_partitions: int | None = None) -> Any:
        from pyspark.sql import SparkSession

        return (
            SparkSession.builder.master(f"local[{cores}]")
            .appName("huoli")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", str(shuffle_partitions or cores * 2))
            .config("spark.ui.enabled", "false")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .getOrCreate()
        )

    def register_parquet(self, path: str) -> None:
        self.spark.read.parquet(path).createOrReplaceTempView(EVENTS_TABLE)

    def _query(self, sql: str) -> pa.Table:
        result: pa.Table = self.spark.sql(sql).toArrow()
        return result
