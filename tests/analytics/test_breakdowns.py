"""Every metric × every kind of breakdown × every engine: it runs, and the per-breakdown figures add up to
the figure without a breakdown wherever they must (a figure over events always; over people when each
person has one value — a user property; metrics that do not break down give the same answer).

The DuckDB engine here is the event store itself (event_id a UUID column, the user-day rollup prepared as
`service.run` does), the engine `huoli metrics` and the API run on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from huoli.analytics import rollup
from huoli.analytics.engines import ChdbEngine, DuckDBEngine, SparkEngine
from huoli.analytics.frame import Frame
from huoli.analytics.registry import METRICS
from huoli.analytics.service import parse
from huoli.demo.generator import DemoSpec, generate
from huoli.events.catalog import CATALOG
from huoli.events.schema import EVENT_SCHEMA
from huoli.events.stores import DuckDBEventStore

pytestmark = pytest.mark.timeout(1800)

APP, TZ = "app1", "Asia/Shanghai"
RANGE = {"start": "2026-03-08", "end": "2026-03-21"}
EXTRA: dict[str, dict[str, Any]] = {
    "acquisition": {"key_event": "order_paid"},
    "retention": {"periods": 7},
    "funnel": {"steps": [{"event": "app_show"}, {"event": "view_item"}, {"event": "order_paid"}]},
}
# Event columns (plain, derived, numeric), a custom property, and each user property (first touch).
EVENT_KINDS = ["channel", "scene", "scene_group", "page", "source", "properties.keyword"]
USER_KINDS = ["user.first_channel", "user.first_scene", "user.first_scene_group", "user.first_page"]
KINDS = EVENT_KINDS + USER_KINDS
# Spark plans every query in seconds: one kind per metric there, taking turns so every kind is covered.
SPARK_KIND = {name: KINDS[(3 * i) % len(KINDS)] for i, name in enumerate(METRICS)}


@pytest.fixture(scope="module")
def log() -> pa.Table:
    spec = DemoSpec(users=200, days=30, end_date=dt.date(2026, 3, 21), app_id=APP, seed=11)
    return pa.Table.from_batches(list(generate(spec, batch_users=200)), schema=EVENT_SCHEMA)


@pytest.fixture(scope="module", params=["duckdb", "chdb", "spark"])
def engine(request: pytest.FixtureRequest, log: pa.Table) -> Iterator[tuple[str, Any, str | None]]:
    """(kind, engine, the timezone whose rollup is current or None)."""
    kind = request.param
    if kind == "duckdb":
        store = DuckDBEventStore(":memory:")
        store.append([log])
        duck = DuckDBEngine(store)
        assert rollup.prepare(duck, APP, TZ)
        yield kind, duck, TZ
        store.close()
    elif kind == "chdb":
        ch: ChdbEngine = request.getfixturevalue("chdb_engine")
        ch.session.query("TRUNCATE TABLE events")
        ch.load_arrow(log)
        yield kind, ch, None
    else:
        spark: SparkEngine = request.getfixturevalue("spark_engine")
        spark.spark.createDataFrame(log.to_pandas()).createOrReplaceTempView("events")
        yield kind, spark, None


def _run(engine: Any, rollup_tz: str | None, metric: str, breakdown: str | None) -> Any:
    body: dict[str, Any] = {**RANGE, **EXTRA.get(metric, {})}
    if breakdown:
        body["breakdown"] = breakdown
    req = parse(metric, body)
    frame = Frame(
        engine=engine,
        app_id=APP,
        query=req,
        tz=TZ,
        now=dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
        known_events=frozenset(CATALOG),
        rollup_tz=rollup_tz if METRICS[metric].rollup else None,  # as service.run binds it
    )
    return METRICS[metric].run(frame, req, None)


def _adds_up(
    rows: list[dict[str, Any]], whole: dict[str, Any], exact: list[str], people: list[str], by_person: bool
) -> None:
    """Over the breakdown rows: `exact` figures (over events) sum to the whole; `people` figures sum to it
    when each person has one value (`by_person`), else to at least it, no row above it."""
    for k in exact:
        assert sum(r[k] or 0 for r in rows) == whole[k], k
    for k in people:
        total = sum(r[k] or 0 for r in rows)
        assert total == whole[k] if by_person else total >= whole[k], k
        assert all((r[k] or 0) <= whole[k] for r in rows), k


def _check(metric: str, kind: str, base: Any, got: Any) -> None:
    by_person = kind.startswith("user.")
    if metric == "activity":
        assert got["series"] == base["series"]  # the per-day series is over everyone
        assert {k: v for k, v in got.items() if k != "totals"} == {
            k: v for k, v in base.items() if k != "totals"
        }
        (whole,) = base["totals"]
        assert whole["breakdown"] == "(all)" and len(got["totals"]) >= 1
        _adds_up(
            got["totals"],
            whole,
            ["page_visits", "stay_ms"],
            ["active_users", "visitors", "new_visitors"],
            by_person,
        )
    elif metric == "retention":
        whole = {r["cohort"]: r for r in base["rows"]}
        parts: dict[str, list[dict[str, Any]]] = {}
        for r in got["rows"]:
            parts.setdefault(r["cohort"], []).append(r)
        assert parts.keys() == whole.keys()
        for cohort, rows in parts.items():  # a cohort member's breakdown value is their first start event's
            assert sum(r["size"] for r in rows) == whole[cohort]["size"], cohort
            for i, v in enumerate(whole[cohort]["retained"]):
                assert sum(r["retained"][i] or 0 for r in rows) == (v or 0), (cohort, i)
    elif metric == "funnel":  # first-touch attribution: one value per person
        assert got["steps"] == base["steps"] and got["time_to_convert"] == base["time_to_convert"]
        for k, step in enumerate(base["steps"]):
            assert sum(b["steps"][k]["users"] for b in got["breakdown"]) == step["users"]
    elif metric == "conversion":
        (whole,) = base
        assert whole["breakdown"] == "(all)"
        _adds_up(got, whole, ["gmv_fen", "refunds_fen"], ["active_users", "order_users"], by_person)
        assert sum(r["orders"] for r in got) >= whole["orders"]
    elif metric == "interaction":
        (whole,) = base
        _adds_up(got, whole, [], ["active_users"], by_person)
        for k in ("share", "favorite", "comment"):
            _adds_up([r[k] for r in got], whole[k], ["events"], ["users"], by_person)
    else:  # acquisition (first touch by channel and scene: its own breakdowns), paths, lifecycle, experience
        assert got == base


@pytest.mark.slow
@pytest.mark.parametrize("metric", list(METRICS))
def test_every_breakdown_runs_and_adds_up(engine: tuple[str, Any, str | None], metric: str) -> None:
    name, eng, rollup_tz = engine
    base = _run(eng, rollup_tz, metric, None)
    kinds = [SPARK_KIND[metric]] if name == "spark" else KINDS
    for kind in kinds:
        got = _run(eng, rollup_tz, metric, kind)
        try:
            _check(metric, kind, base, got)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {metric} by {kind}: {exc}") from exc


def test_the_matrix_is_not_vacuous(log: pa.Table) -> None:
    """Every kind has more than one value in the log (else the sums would hold trivially)."""
    store = DuckDBEventStore(":memory:")
    store.append([log])
    try:
        for kind in KINDS:
            rows = _run(DuckDBEngine(store), None, "activity", kind)["totals"]
            values = [r["breakdown"] for r in rows if r["breakdown"] != "(none)"]
            # (A demo person's first event is an open, which has no page.)
            assert len(values) >= 2 if kind != "user.first_page" else values == [], kind
    finally:
        store.close()
