"""Each drill-down charts the series its finding is about, fetched the way the console fetches it
(POST /admin/analytics/<metric> with the finding's request bodies)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from huoli.diagnosis.simulate import Scenario, generate
from huoli.runtime import Runtime


def _pick(obj: Any, path: str) -> Any:
    for k in path.split("."):
        obj = obj[int(k)] if isinstance(obj, list) else obj[k]
    return obj


def test_drilldowns_chart_the_finding_series(
    client: TestClient, runtime: Runtime, make_app: Callable[..., Any], clock: Any
) -> None:
    app = make_app("shop")
    sc = Scenario(seed=11, inject=frozenset(["silence", "churn"]), app_id="shop")
    runtime.store.append([generate(sc)])
    clock.set(sc.now.astimezone(dt.UTC))
    auth = {"Authorization": f"Bearer {app.keys['analyst']}"}
    d = client.get("/admin/diagnosis", headers=auth, params={"end": sc.end.isoformat()}).json()
    found = {f["id"]: f for f in d["findings"]}
    assert {"root_cause.silence", "churn.pulse"} <= set(found), set(found)

    def series(f: dict[str, Any]) -> list[Any]:
        dd = f["drilldown"]
        (req,) = dd["requests"]
        r = client.post(f"/admin/analytics/{dd['metric']}", headers=auth, json=req["body"])
        assert r.status_code == 200, r.text
        return [_pick(row, dd["y"]) for row in _pick(r.json(), dd["path"])]

    # "No message sent for 28 days": users sent a message per day — zero every day — not the app's DAU.
    silence = found["root_cause.silence"]
    messaged = series(silence)
    assert len(messaged) == silence["evidence"]["n"] and set(messaged) == {0}
    assert silence["drilldown"]["label"]["zh"] and silence["drilldown"]["label"]["en"]

    # Pulse: the daily Pulse, (new + resurrecting) ÷ newly dormant, whose current window the finding sums.
    pulse = found["churn.pulse"]
    assert pulse["drilldown"]["y"] == "pulse"
    body = pulse["drilldown"]["requests"][0]["body"]
    rows = client.post("/admin/analytics/lifecycle", headers=auth, json=body).json()["result"]["rows"]
    cur = [r for r in rows if r["period"] >= d["current"][0]]
    inflow = sum(r["new"] + r["resurrecting"] for r in cur)
    assert inflow == pulse["detail"]["inflow"]
    assert series(pulse) == [r["pulse"] for r in rows]


def test_one_time_share_drilldown_charts_the_share_per_window() -> None:
    from huoli.analytics.engines import DuckDBEngine
    from huoli.diagnosis.checks.activity_decline import OneTimeShare
    from huoli.diagnosis.checks.base import Context
    from huoli.diagnosis.thresholds import Thresholds
    from huoli.events.catalog import CATALOG

    sc = Scenario(seed=12, inject=frozenset(["retention"]))
    engine = DuckDBEngine.from_arrow(generate(sc))
    ctx = Context(engine, sc.app_id, sc.tz, sc.end, sc.now, Thresholds(), frozenset(CATALOG))
    ctx.trim_to_history()
    (c,) = OneTimeShare().run(ctx)
    dd = c.drilldown
    # One value per window (the four baseline windows and the current one), the last the finding's own.
    assert dd["values"] == [w["value"] for w in c.detail["windows"]] and len(dd["values"]) == 5
    assert dd["values"][-1] == c.current and all(0 < v < 1 for v in dd["values"])
    assert len(dd["requests"]) == 5 and dd["pick"] == ["result.totals.0.active_users"]
    assert dd["label"]["en"] == "Share of users who opened once"
