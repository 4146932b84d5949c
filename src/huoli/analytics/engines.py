"""Where metric expressions run. One code path: an Ibis expression over the unbound `events` table is
compiled to the engine's SQL dialect and executed there; every engine returns an Arrow table.

- DuckDB: the embedded event store (default).
- ClickHouse: a server through clickhouse-connect, or chdb (the ClickHouse engine in-process) — both run
  exactly the SQL Ibis generates for the `clickhouse` dialect.
- Spark: a SparkSession (local or cluster) running the SQL Ibis generates for the `pyspark` dialect.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import ibis
import ibis.expr.operations as ops
import pyarrow as pa

from huoli.events.schema import CLICKHOUSE_SETTINGS, EVENT_SCHEMA, EVENTS_TABLE, clickhouse_events_ddl

if TYPE_CHECKING:
    from huoli.events.stores import EventStore


def events_table() -> ibis.Table:
    """The unbound event log every metric is written against (the physical schema of docs/events.md)."""
    return ibis.table(ibis.Schema.from_pyarrow(EVENT_SCHEMA), name=EVENTS_TABLE)


# Ibis has no portable JSON-to-text extraction, so metrics call this placeholder and each dialect gets
# the native function (all three take a '$.key' path and return text or NULL).
@ibis.udf.scalar.builtin(name="huoli_json_value")
def json_value(doc: str, path: str) -> str:  # type: ignore[empty-body]
    """Text of the JSON value at `path` ('$.key'), NULL when absent."""


_JSON_FUNCTION = {"duckdb": "json_extract_string", "clickhouse": "JSON_VALUE", "pyspark": "get_json_object"}


# Ibis drops a cast to the type its schema already gives a column, but DuckDB's store keeps event_id as a
# UUID (events/stores/duckdb.py): this placeholder makes text of it in every dialect.
@ibis.udf.scalar.builtin(name="huoli_text")
def as_text(value: str) -> str:  # type: ignore[empty-body]
    """`value` as text, whatever the column's type in the store."""


_TEXT_FUNCTION = {"duckdb": "concat", "clickhouse": "toString", "pyspark": "string"}


def _duckdb_fast_paths() -> None:
    """Two of Ibis's DuckDB translations cost ~10x what they need to on the bench's 98.6M events (bench/analytics.py):

    - epoch_seconds() is EPOCH(CAST(ts AS TIMESTAMP)): converting each TIMESTAMPTZ to a local TIMESTAMP goes
      through ICU per row (2.4 s for 50M events); EPOCH of the TIMESTAMPTZ itself is the same instant's
      seconds, independent of the session zone, in 0.24 s. Every local day is computed from it (timebase.py).
    - argmin/argmax are FIRST(x ORDER BY key), which sorts inside every group; ARG_MIN_NULL / ARG_MAX_NULL
      give the value at the extreme key the same way, NULL included (as Ibis's ClickHouse form
      argMin(tuple(x), key).1 does), by hash aggregation: first-touch users 2.3 s → 1.0 s.
    """
    from ibis.backends.sql.compilers.duckdb import DuckDBCompiler

    base_epoch = DuckDBCompiler.visit_ExtractEpochSeconds

    def visit_epoch_seconds(self: Any, op: Any, *, arg: Any) -> Any:
        if op.arg.dtype.is_timestamp() and op.arg.dtype.timezone is not None:
            return self.f.epoch(arg)
        return base_epoch(self, op, arg=arg)

    def visit_arg_min(self: Any, op: Any, *, arg: Any, key: Any, where: Any) -> Any:
        return self.agg.arg_min_null(arg, key, where=where)

    def visit_arg_max(self: Any, op: Any, *, arg: Any, key: Any, where: Any) -> Any:
        return self.agg.arg_max_null(arg, key, where=where)

    # Ibis's compiler dispatches on the method named visit_<Operation> (SQLGlotCompiler.visit_node).
    DuckDBCompiler.visit_ExtractEpochSeconds = visit_epoch_seconds
    DuckDBCompiler.visit_ArgMin = visit_arg_min
    DuckDBCompiler.visit_ArgMax = visit_arg_max


_duckdb_fast_paths()


def compile_sql(expr: ibis.Expr, dialect: str) -> str:
    if dialect == "pyspark" and ibis.options.pyspark is None:
        from ibis.backends.pyspark import (
            Backend,  # its compiler reads these options; a Backend would set them
        )

        ibis.options.pyspark = Backend.Options()
    sql = _templates.compile(expr, dialect) if dialect in TEMPLATE_DIALECTS else None
    if sql is None:
        sql = str(ibis.to_sql(expr, dialect=dialect))
    elif VERIFY_TEMPLATES:
        direct = str(ibis.to_sql(expr, dialect=dialect, pretty=False))
        assert sql == direct, f"SQL template disagrees with Ibis:\n{sql}\n---\n{direct}"
    sql = re.sub(r"\bhuoli_json_value\(", _JSON_FUNCTION[dialect] + "(", str(sql), flags=re.IGNORECASE)
    sql = re.sub(r"\bhuoli_text\(", _TEXT_FUNCTION[dialect] + "(", sql, flags=re.IGNORECASE)
    if dialect == "clickhouse":
        # Ibis compiles nunique() to uniq(), an estimate; every huoli number is exact.
        sql = re.sub(r"\buniq(If)?\(", r"uniqExact\1(", sql)
    return sql


# ---- compiled-SQL templates ------------------------------------------------------------------------------
# Ibis takes 20–400 ms of pure Python to compile one metric query, often more than DuckDB takes to run it,
# and the same metric for another range or app differs only in literal values. So each expression is
# compiled once per *shape*: its range- and app-dependent literals (strings, dates, timestamps, integers
# from 1000 up) are swapped for sentinels, the SQL of that is kept as a template (sentinels as placeholders), and
# an expression of the same shape gets the template with its own literals rendered into the placeholders.
# A shape whose SQL shows a sentinel the compiler transformed (rather than rendered) is never templated.

TEMPLATE_DIALECTS = {"duckdb"}
VERIFY_TEMPLATES = False  # tests: also compile with Ibis and insist on the identical SQL
_INT_BASE = {2: 2003, 4: 2_000_000_011, 8: 7_301_000_000_011}  # by byte width; slots 1009 apart
_INT_STEP = 1009
_STR_MARK = "hl~slot~"
_SLOT = re.compile(r"[:$@]hlslot(\d+)(?!\d)")  # how sqlglot writes Placeholder("hlslot<i>")


class _Templates:
    def __init__(self, size: int = 2048) -> None:
        self._data: OrderedDict[Any, str | None] = OrderedDict()  # (dialect, shape) → template SQL or None
        self._lock = threading.Lock()
        self.size = size

    @staticmethod
    def _collides(lit: ops.Literal) -> bool:
        """A real value that could pass for a sentinel (a 1901 date, the string mark)."""
        v = lit.value
        return (isinstance(v, dt.date) and v.year == 1901) or (isinstance(v, str) and _STR_MARK in v.lower())

    @staticmethod
    def _sentinel(i: int, lit: ops.Literal) -> ops.Literal | None:
        dtype, value = lit.dtype, lit.value
        if dtype.is_string():
            return ops.Literal(f"{_STR_MARK}{i}~", dtype)
        if dtype.is_timestamp() and isinstance(value, dt.datetime):
            tz = dt.UTC if value.tzinfo is not None else None
            return ops.Literal(dt.datetime(1901, 1, 1, tzinfo=tz) + dt.timedelta(seconds=i), dtype)
        if dtype.is_date() and isinstance(value, dt.date):
            return ops.Literal(dt.date(1901, 1, 1) + dt.timedelta(days=i), dtype)
        # Non-negative only: "-" before a rendered "-5" would make "--", a comment.
        if dtype.is_integer() and dtype.is_signed_integer() and isinstance(value, int) and value >= 1000:
            base = _INT_BASE.get(dtype.nbytes)
            if base is None:
                return None
            v = base + _INT_STEP * i
            return ops.Literal(v, dtype) if v <= 2 ** (8 * dtype.nbytes - 1) - 1 else None
        return None

    def compile(self, expr: ibis.Expr, dialect: str) -> str | None:
        """The SQL for `expr` from its shape's template, or None when it has none (compile directly)."""
        import ibis.backends.sql.compilers as sc

        compiler = getattr(sc, dialect).compiler
        op = expr.unbind().op()
        lits = [lit for lit in op.find(ops.Literal) if lit.value is not None]
        mapping: dict[ops.Literal, ops.Literal] = {}
        real: list[ops.Literal] = []
        for lit in lits:
            if self._collides(lit):
                return None
            sent = self._sentinel(len(real), lit)
            if sent is not None:
                mapping[lit] = sent
                real.append(lit)
            elif lit.dtype.is_integer() and isinstance(lit.value, int) and lit.value >= 1000:
                return None  # out of sentinels: it would stay in the SQL next to look-alike placeholders
        if not real:
            return None
        shape = op.replace(mapping)
        key = (dialect, shape)
        with self._lock:
            known = key in self._data
            template = self._data.get(key)
            if known:
                self._data.move_to_end(key)
        if not known:
            template = self._build(compiler, shape, [mapping[lit] for lit in real])
            with self._lock:
                self._data[key] = template
                while len(self._data) > self.size:
                    self._data.popitem(last=False)
        if template is None:
            return None
        rendered = [
            compiler.visit_Literal(lit, value=lit.value, dtype=lit.dtype).sql(dialect=compiler.dialect)
            for lit in real
        ]
        # One pass, so a rendered literal is never scanned again.
        return _SLOT.sub(lambda m: rendered[int(m.group(1))], template)

    @staticmethod
    def _build(compiler: Any, shape: ops.Node, sentinels: list[ops.Literal]) -> str | None:
        import sqlglot.expressions as sge

        try:
            ast = compiler.to_sqlglot(shape.to_expr())
        except Exception:  # a compiler rule that needs the literal's value: no template for this shape
            return None
        asts = [compiler.visit_Literal(s, value=s.value, dtype=s.dtype) for s in sentinels]
        by_type: dict[type, list[tuple[int, Any]]] = {}
        for i, a in enumerate(asts):
            by_type.setdefault(type(a), []).append((i, a))
        seen = [0] * len(sentinels)

        def mark(node: Any) -> Any:
            for i, a in by_type.get(type(node), ()):
                if node == a:
                    seen[i] += 1
                    return sge.Placeholder(this=f"hlslot{i}")
            return node

        ast = ast.transform(mark, copy=False)
        # Not pretty: pretty-printing wraps by text width, which would depend on the literals.
        text = str(ast.sql(dialect=compiler.dialect))
        # Anything left that looks like a sentinel was transformed by the compiler, not rendered: unsafe.
        slots = {int(i) for i in _SLOT.findall(text)}  # the generator may write a node more than once
        # (A sentinel not seen at all sat in a column the query never reads; Ibis pruned it.)
        if _STR_MARK in text.lower() or "1901" in text or slots != {i for i, n in enumerate(seen) if n}:
            return None
        sentinel_ints = [s.value for s in sentinels if s.dtype.is_integer()]
        for m in re.finditer(r"\d{4,}", text):
            n = int(m.group())
            if any(abs(n - v) < _INT_STEP for v in sentinel_ints):
                return None
        return text


_templates = _Templates()


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
        self.store = store  # the user-day rollup lives in the same database (rollup.py)

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
