"""Engines for the metric tests: every metric test runs on DuckDB, chdb (ClickHouse SQL) and Spark."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pytest

from huoli.analytics import engines
from huoli.analytics.engines import ChdbEngine, DuckDBEngine, SparkEngine
from huoli.analytics.frame import Frame, MetricQuery
from huoli.events.schema import EVENT_SCHEMA

from .fixtures import APP

ENGINES = ["duckdb", "chdb", "spark"]


@pytest.fixture(autouse=True)
def _verify_sql_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every templated query of these tests is also compiled by Ibis directly and must be the same SQL."""
    monkeypatch.setattr(engines, "VERIFY_TEMPLATES", True)


@pytest.fixture(scope="module")
def chdb_engine() -> Iterator[ChdbEngine]:
    # Per module: chdb runs one embedded server per process, so it must be closed before a module whose
    # fake ClickHouse server (tests/fakes/clickhouse_server.py) opens its own on disk.
    engine = ChdbEngine()
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def spark_engine() -> Iterator[SparkEngine]:
    spark = SparkEngine.local_session(2, shuffle_partitions=1)  # tiny fixtures: one task per stage
    spark.sparkContext.setLogLevel("ERROR")
    yield SparkEngine(spark)
    spark.stop()


Loader = Callable[[pa.Table], Any]


@pytest.fixture(params=ENGINES)
def load(request: pytest.FixtureRequest) -> Loader:
    """load(arrow_table) -> an engine whose `events` table holds exactly those rows."""
    kind = request.param

    def _load(table: pa.Table) -> Any:
        table = table.select(EVENT_SCHEMA.names).cast(EVENT_SCHEMA)
        if kind == "duckdb":
            return DuckDBEngine.from_arrow(table)
        if kind == "chdb":
            engine: ChdbEngine = request.getfixturevalue("chdb_engine")
            engine.session.query("TRUNCATE TABLE events")
            engine.load_arrow(table)
            return engine
        engine_s: SparkEngine = request.getfixturevalue("spark_engine")
        spark = engine_s.spark
        spark.createDataFrame(table.to_pandas()).createOrReplaceTempView("events")
        return engine_s

    _load.engine_kind = kind  # type: ignore[attr-defined]
    return _load


def frame(
    engine: Any, start: str, end: str, *, tz: str = "Asia/Shanghai", now: dt.datetime | None = None, **q: Any
) -> Frame:
    query = MetricQuery(start=dt.date.fromisoformat(start), end=dt.date.fromisoformat(end), tz=tz, **q)
    return Frame(
        engine=engine,
        app_id=APP,
        query=query,
        tz=tz,
        now=now or dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
        known_events=frozenset(__import__("huoli.events.catalog", fromlist=["CATALOG"]).CATALOG)
        | {"a", "b", "c", "d", "e", "x"},
    )
