"""The golden test: every metric gives identical results on DuckDB, chdb (ClickHouse SQL) and Spark over
the same generated event log (deterministic demo generator: channels, scenes, shares, orders, coupons) — and
over the same log with ties (events sharing an instant), where every "first" must be the same event on
every engine and in whatever order the events are stored."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from huoli.analytics.engines import ChdbEngine, DuckDBEngine, SparkEngine
from huoli.analytics.frame import Frame
from huoli.analytics.registry import METRICS
from huoli.analytics.service import parse
from huoli.demo.generator import DemoSpec, generate
from huoli.events.catalog import CATALOG
from huoli.events.schema import EVENT_SCHEMA

pytestmark = pytest.mark.timeout(1800)  # one fixture runs every case on three engines (Spark is slow to plan)

END = dt.date(2026, 3, 21)
RANGE = {"start": "2026-03-01", "end": "2026-03-21"}
FUNNEL = [{"event": "app_show"}, {"event": "view_item"}, {"event": "add_to_cart"}, {"event": "order_paid"}]
CASES: list[tuple[str, dict[str, Any]]] = [
    ("activity", {}),
    ("activity", {"breakdown": "channel", "filters": [{"field": "scene_group", "op": "ne", "value": "ads"}]}),
    ("activity", {"user_filters": [{"field": "first_channel", "op": "in", "value": ["ads", "share"]}]}),
    ("acquisition", {"key_event": "order_paid", "within_days": 3}),
    ("retention", {"periods": 14}),
    ("retention", {"cohort": "recurring", "period": "week", "periods": 2, "criterion": "on_or_after"}),
    ("retention", {"brackets": [[1, 1], [2, 7], [8, 14]], "breakdown": "user.first_channel"}),
    ("retention", {"day_model": "rolling_24h", "periods": 7, "return_event": {"event": "view_item"}}),
    ("retention", {"preset": "wechat_new"}),
    ("retention", {"preset": "wechat_active", "start": "2026-03-10", "end": "2026-03-12"}),
    ("retention", {"period": "month", "periods": 1, "start": "2026-02-01"}),
    ("funnel", {"steps": FUNNEL, "window_seconds": 86400, "breakdown": "channel", "dropoff_step": 2}),
    ("funnel", {"steps": FUNNEL[:3], "order": "strict", "attribution": "last_touch", "breakdown": "scene"}),
    ("funnel", {"steps": FUNNEL, "order": "any"}),
    ("funnel", {"steps": FUNNEL[1:], "exclusions": [{"event": {"event": "search"}}], "dropoff_step": 1}),
    ("paths", {"anchor": None, "depth": 4, "top": 5}),
    ("paths", {"kind": "events", "anchor": "add_to_cart", "direction": "before", "depth": 3}),
    ("lifecycle", {}),
    ("lifecycle", {"period": "week", "start": "2026-02-02"}),
    ("conversion", {"breakdown": "user.first_scene_group"}),
    ("interaction", {}),
    ("experience", {}),
]


@pytest.fixture(scope="module")
def log() -> pa.Table:
    spec = DemoSpec(users=600, days=60, end_date=END, app_id="app1", seed=7)
    return pa.Table.from_batches(list(generate(spec, batch_users=600)), schema=EVENT_SCHEMA)


# Spark plans each query in seconds even on small data, so it runs one case per metric (the first of
# each); DuckDB and chdb run them all.
SPARK_CASES = sorted({m: i for i, (m, _) in reversed(list(enumerate(CASES)))}.values())


def _results(engine: Any, only: list[int] | None = None) -> list[Any]:
    out: list[Any] = []
    for i, (metric, extra) in enumerate(CASES):
        if only is not None and i not in only:
            out.append(None)
            continue
        req = parse(metric, {**RANGE, **extra})
        frame = Frame(
            engine=engine,
            app_id="app1",
            query=req,
            tz="Asia/Shanghai",
            now=dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
            known_events=frozenset(CATALOG),
        )
        out.append(METRICS[metric].run(frame, req, None))
    return out


@pytest.fixture(scope="module")
def results(log: pa.Table, chdb_engine: ChdbEngine, spark_engine: SparkEngine) -> dict[str, list[Any]]:
    duck = _results(DuckDBEngine.from_arrow(log))
    chdb_engine.session.query("TRUNCATE TABLE events")
    chdb_engine.load_arrow(log)
    ch = _results(chdb_engine)
    spark_engine.spark.createDataFrame(log.to_pandas()).createOrReplaceTempView("events")
    sp = _results(spark_engine, SPARK_CASES)
    return {"duckdb": duck, "chdb": ch, "spark": sp}


def _same(a: Any, b: Any, path: str = "") -> None:
    if isinstance(a, float) or isinstance(b, float):
        assert a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (
            f"{path}: {a} != {b}"
        )
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), f"{path}: keys {a.keys()} != {b.keys()}"
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), (
            f"{path}: {len(a)} items != {len(b) if isinstance(b, list) else b}"
        )
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


@pytest.mark.slow
@pytest.mark.parametrize("case", range(len(CASES)), ids=[f"{m}-{i}" for i, (m, _) in enumerate(CASES)])
def test_same_numbers_on_every_engine(results: dict[str, list[Any]], case: int) -> None:
    duck = results["duckdb"][case]
    assert duck, "the fixture must produce a non-empty result"
    _same(duck, results["chdb"][case], "chdb")
    if case in SPARK_CASES:
        _same(duck, results["spark"][case], "spark")


def test_fixture_exercises_the_metrics(results: dict[str, list[Any]]) -> None:
    """Guard against a vacuous golden test: the generated log yields non-trivial numbers."""
    act = results["duckdb"][0]
    assert max(r["dau"] for r in act["series"]) > 20
    fun = results["duckdb"][11]
    assert fun["steps"][0]["users"] > fun["steps"][3]["users"] > 0
    ret = results["duckdb"][4]
    assert sum(r["size"] for r in ret["rows"]) > 50


# ---- ties: events at the same instant -------------------------------------------------------------------
# Breakdowns that read a "first" event: first touch (user.*, acquisition), a cohort's first start event,
# funnel steps' attribution (first and last touch, strict order), the drop-off's next event, landing loads.
TIE_CASES: list[tuple[str, dict[str, Any]]] = [
    ("acquisition", {"key_event": "order_paid"}),
    ("activity", {"breakdown": "user.first_channel"}),
    ("retention", {"periods": 7, "breakdown": "user.first_scene"}),
    ("retention", {"periods": 7, "breakdown": "channel", "cohort": "recurring"}),
    ("funnel", {"steps": FUNNEL, "breakdown": "channel"}),
    ("funnel", {"steps": FUNNEL, "breakdown": "channel", "attribution": "last_touch", "dropoff_step": 1}),
    ("funnel", {"steps": FUNNEL[:2], "breakdown": "page", "order": "strict"}),
    ("conversion", {"breakdown": "user.first_page"}),
    ("experience", {}),
]
SPARK_TIE_CASES = [0, 2, 5]


def _with_ties(log: pa.Table) -> pa.Table:
    """The log plus a twin at the same instant of every person's first event and of every fourth event:
    another id, channel, scene, page and load time."""
    df = log.to_pandas()
    actor = df.user_id.fillna(df.anonymous_id)
    picked = sorted(set(df.ts.groupby(actor).idxmin()) | set(df.index[::4]))
    twins = df.loc[picked].copy()
    twins["event_id"] = [str(uuid.uuid5(uuid.NAMESPACE_OID, i)) for i in twins.event_id]
    twins["channel"] = "twin"
    twins["scene"] = 1089
    twins["page"] = twins.page.where(twins.page.isna(), "p/twin")
    twins["load_ms"] = twins.load_ms + 1500
    both = pa.Table.from_pandas(pd.concat([df, twins]), schema=EVENT_SCHEMA, preserve_index=False)
    return both.take(pa.array(np.random.default_rng(3).permutation(both.num_rows)))  # twins anywhere


def _tie_results(engine: Any, only: list[int] | None = None) -> list[Any]:
    out: list[Any] = []
    for i, (metric, extra) in enumerate(TIE_CASES):
        if only is not None and i not in only:
            out.append(None)
            continue
        req = parse(metric, {**RANGE, **extra})
        frame = Frame(
            engine=engine,
            app_id="app1",
            query=req,
            tz="Asia/Shanghai",
            now=dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
            known_events=frozenset(CATALOG),
        )
        out.append(METRICS[metric].run(frame, req, None))
    return out


@pytest.fixture(scope="module")
def tie_results(log: pa.Table, chdb_engine: ChdbEngine, spark_engine: SparkEngine) -> dict[str, list[Any]]:
    tied = _with_ties(log)
    duck = _tie_results(DuckDBEngine.from_arrow(tied))
    reversed_order = _tie_results(
        DuckDBEngine.from_arrow(tied.take(pa.array(range(tied.num_rows - 1, -1, -1))))
    )
    chdb_engine.session.query("TRUNCATE TABLE events")
    chdb_engine.load_arrow(tied)
    ch = _tie_results(chdb_engine)
    spark_engine.spark.createDataFrame(tied.to_pandas()).createOrReplaceTempView("events")
    sp = _tie_results(spark_engine, SPARK_TIE_CASES)
    return {"duckdb": duck, "duckdb_reversed": reversed_order, "chdb": ch, "spark": sp}


@pytest.mark.slow
@pytest.mark.parametrize(
    "case", range(len(TIE_CASES)), ids=[f"{m}-{i}" for i, (m, _) in enumerate(TIE_CASES)]
)
def test_ties_give_the_same_numbers_on_every_engine(tie_results: dict[str, list[Any]], case: int) -> None:
    duck = tie_results["duckdb"][case]
    assert duck, "the fixture must produce a non-empty result"
    _same(duck, tie_results["duckdb_reversed"][case], "duckdb, events stored in reverse")
    _same(duck, tie_results["chdb"][case], "chdb")
    if case in SPARK_TIE_CASES:
        _same(duck, tie_results["spark"][case], "spark")


def test_tie_fixture_has_ties_to_break(tie_results: dict[str, list[Any]]) -> None:
    """Guard against a vacuous tie test: first touches fall on both sides of the ties."""
    by_channel = {
        r["value"]: r["users"] for r in tie_results["duckdb"][0]["new_users"]["by_channel"]["totals"]
    }
    assert by_channel.get("twin", 0) > 20 and sum(n for c, n in by_channel.items() if c != "twin") > 20
