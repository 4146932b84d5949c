"""The report on `huoli demo` data (a small demo: 600 users over the 28 days ending Sunday 15 November
2026): every section fills, KPIs agree with the analytics metrics, the HTML stays self-contained."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import statistics
from collections.abc import Iterator
from pathlib import Path

import pytest

from huoli.analytics import service as analytics
from huoli.demo import service as demo
from huoli.reports import render, service
from huoli.reports.weeks import parse_week
from huoli.runtime import Runtime, build_runtime
from huoli.settings import Settings


@pytest.fixture(scope="module")
def demo_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    tmp = tmp_path_factory.mktemp("demo")
    settings = Settings(
        data_dir=tmp / "var",
        database_url=f"sqlite:///{tmp / 'huoli.db'}",
        event_store_url=f"duckdb:///{tmp / 'events.duckdb'}",
        secret_key="report-demo-" + secrets.token_hex(8),
    )
    rt = build_runtime(settings, clock=lambda: dt.datetime(2026, 11, 24, 2, tzinfo=dt.UTC))
    state = demo.ensure_demo(rt, users=600, days=28, seed=7)
    assert state.events > 10_000
    yield rt
    rt.close()


def test_report_on_demo_data(demo_runtime: Runtime, tmp_path: Path) -> None:
    rt = demo_runtime
    app = rt.app_cache.get(demo.DEMO_APP_ID)
    report = service.build(rt, app, parse_week("2026-W46"))
    k = {x.key: x for x in report.kpis}
    for key in ("dau_avg", "wau", "new_users", "opens", "d1_retention", "d7_retention", "orders", "gmv_fen"):
        assert k[key].current is not None and k[key].previous is not None, key
        assert k[key].current > 0, key
    act = analytics.run(rt, app, "activity", {"start": "2026-11-09", "end": "2026-11-15"})["result"]
    assert k["wau"].current == act["totals"][0]["active_users"] == act["series"][-1]["wau"]
    assert k["dau_avg"].current == statistics.fmean(d["dau"] for d in act["series"])
    conv = analytics.run(rt, app, "conversion", {"start": "2026-11-02", "end": "2026-11-08"})["result"][0]
    assert k["gmv_fen"].previous == conv["gmv_fen"] and isinstance(conv["gmv_fen"], int)
    assert any(g.rows for g in report.movers)
    for g in report.movers:
        assert all(max(m.current, m.previous) >= g.min_volume for m in g.rows)
        assert [abs(m.change) for m in g.rows] == sorted((abs(m.change) for m in g.rows), reverse=True)
    mech = {m["key"]: m for m in report.promotions["mechanics"]}
    assert mech["coupons"]["users"] > 0
    assert report.findings["current"] == ["2026-11-09", "2026-11-15"] and report.findings["checked"]
    html_path, md_path = render.write(report, tmp_path, "zh")
    html = html_path.read_text("utf-8")
    assert "<script" not in html and not re.search(r"\s(src|href)=\"(?!data:)", html)
    assert html.count("<svg") >= 4
    assert md_path.read_text("utf-8").startswith("# Demo shop 活力小铺 · 周报 2026-W46")
