"""Compiled-SQL templates (engines.compile_sql): one compile per query shape, the literals of each call put
back; the SQL is exactly what Ibis compiles, and shapes whose literals the compiler transforms are left to
Ibis."""

from __future__ import annotations

import datetime as dt

import ibis

from huoli.analytics import engines
from huoli.analytics.engines import DuckDBEngine, compile_sql, events_table
from huoli.analytics.metrics import activity, retention
from huoli.analytics.metrics import funnel as funnels
from huoli.analytics.metrics.funnel import FunnelSpec
from huoli.analytics.metrics.retention import RetentionSpec

from .conftest import frame
from .fixtures import at, ev, table


def test_same_shape_other_literals_one_template() -> None:
    t = events_table()

    def q(app: str, day: dt.date, name: str) -> ibis.Expr:
        lo = dt.datetime.combine(day, dt.time(), dt.UTC)
        f = t.filter(t.app_id == app, t.ts >= lo, t.ts < lo + dt.timedelta(days=1), t.name == name)
        return f.group_by(d=(f.ts.epoch_seconds() // 86400) - 20000).aggregate(n=f.count())

    engines._templates._data.clear()
    a = compile_sql(q("shop", dt.date(2026, 3, 1), "app_show"), "duckdb")
    b = compile_sql(q("other's", dt.date(2027, 5, 9), "page_view"), "duckdb")
    assert len(engines._templates._data) == 1  # one shape
    for sql, expr in (
        (a, q("shop", dt.date(2026, 3, 1), "app_show")),
        (b, q("other's", dt.date(2027, 5, 9), "page_view")),
    ):
        assert sql == str(ibis.to_sql(expr, dialect="duckdb", pretty=False))
    assert "'other''s'" in b and "2027" in b and "'page_view'" in b and "shop" not in b


def test_metrics_templated_across_ranges_run_the_same() -> None:
    rows = [
        ev("app_show", u, at(day, "10:00"), channel="ads")
        for day, users in (("2026-03-01", ["u1", "u2"]), ("2026-03-02", ["u1"]), ("2026-03-09", ["u2", "u3"]))
        for u in users
    ]
    engine = DuckDBEngine.from_arrow(table(rows))
    spec = FunnelSpec.model_validate({"steps": [{"event": "app_show"}, {"event": "app_show"}]})
    engines._templates._data.clear()
    for start, end in (
        ("2026-03-01", "2026-03-07"),
        ("2026-03-02", "2026-03-10"),
        ("2026-02-01", "2026-03-31"),
    ):
        f = frame(engine, start, end)
        got = (
            activity.active_users(f),
            funnels.compute(f, spec),
            retention.compute(f, RetentionSpec(periods=3)),
        )
        engines.TEMPLATE_DIALECTS.clear()  # the same metrics compiled by Ibis alone
        try:
            f = frame(engine, start, end)
            direct = (
                activity.active_users(f),
                funnels.compute(f, spec),
                retention.compute(f, RetentionSpec(periods=3)),
            )
        finally:
            engines.TEMPLATE_DIALECTS.add("duckdb")
        assert got == direct
    templates = engines._templates._data
    assert templates and any(v is not None for v in templates.values())
    assert [s["dau"] for s in activity.active_users(frame(engine, "2026-03-01", "2026-03-02"))] == [2, 1]


def test_lookalike_literals_are_not_templated_frame_bounds_are() -> None:
    t = events_table()
    engines._templates._data.clear()
    # a string that could pass for a sentinel: compiled by Ibis, never templated
    expr = t.filter(t.app_id == "HL~SLOT~0~").count().as_table()
    assert compile_sql(expr, "duckdb") == str(ibis.to_sql(expr, dialect="duckdb"))
    assert not engines._templates._data
    # a window frame bound is rendered from the literal: templated, and the same SQL as Ibis
    w = ibis.window(order_by=t.ts, rows=(-5000, 0))
    expr = t.select(n=t.duration_ms.sum().over(w))
    assert compile_sql(expr, "duckdb") == str(ibis.to_sql(expr, dialect="duckdb", pretty=False))
