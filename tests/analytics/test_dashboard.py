"""`POST /admin/analytics/dashboard`: every part equals the metric endpoint's answer for the same range (and
previous period), parts are cached until the event count moves (then for at most FRESH_FOR_S), and bad
requests are 422 with field reasons."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from huoli.analytics import dashboard, engines
from huoli.runtime import Runtime

from .fixtures import at, ev, table

RANGE = {"start": "2026-03-02", "end": "2026-03-04"}


def _seed(runtime: Runtime, app_id: str) -> None:
    rows = []
    plan = {
        "2026-02-27": ["u1", "u4"],
        "2026-02-28": ["u1"],
        "2026-03-02": ["u1", "u2"],
        "2026-03-03": ["u1"],
        "2026-03-04": ["u1", "u3"],
    }
    for day, users in plan.items():
        for u in users:
            ch = "ads" if u in ("u1", "u3") else "kol"
            rows.append(
                ev("app_show", u, at(day, "10:00"), app_id=app_id, channel=ch, session_id=f"{u}{day}")
            )
            rows.append(
                ev("page_view", u, at(day, "10:01"), app_id=app_id, page="p/home", session_id=f"{u}{day}")
            )
            if u != "u2":
                rows.append(ev("view_item", u, at(day, "10:02"), app_id=app_id, item_id="i1"))
            if u == "u1":
                rows.append(ev("add_to_cart", u, at(day, "10:03"), app_id=app_id, item_id="i1"))
                rows.append(ev("share", u, at(day, "10:04"), app_id=app_id))
    runtime.store.append([table(rows)])


def _post(client: TestClient, key: str, path: str, body: dict[str, Any]) -> Any:
    return client.post(f"/admin/analytics/{path}", json=body, headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
def shop(client: TestClient, runtime: Runtime, make_app: Callable[..., Any], clock: Any) -> str:
    clock.set(dt.datetime(2026, 3, 5, 4, tzinfo=dt.UTC))  # noon on 03-05 in Shanghai: the range is open
    app = make_app()
    _seed(runtime, app.id)
    key: str = app.keys["analyst"]
    return key


def test_parts_equal_the_metrics(client: TestClient, shop: str) -> None:
    r = _post(client, shop, "dashboard", {**RANGE, "compare": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["cached_parts"] == 0 and body["compare"] is True
    parts = body["parts"]
    funnel_steps = [{"event": e} for e in dashboard.DEFAULT_FUNNEL]
    expected = {
        "activity": ("activity", {}),
        "acquisition": ("acquisition", {}),
        "funnel": ("funnel", {"steps": funnel_steps}),
        "lifecycle": ("lifecycle", {}),
        "conversion": ("conversion", {}),
        "interaction": ("interaction", {}),
        "retention": ("retention", {"preset": "wechat_new"}),
    }
    for part, (metric, extra) in expected.items():
        with_previous = any(j.with_previous for j in dashboard.PARTS.values() if j.part == part)
        m = _post(client, shop, metric, {**RANGE, "compare": with_previous, **extra}).json()
        got = parts[part]
        if part == "activity":
            # the dashboard's series is DAU/WAU/MAU only (the metric adds the access columns per day)
            for mine, theirs in (
                (got["result"], m["result"]),
                (got["previous"]["result"], m["previous"]["result"]),
            ):
                assert mine["series"] == [{k: r[k] for k in mine["series"][0]} for r in theirs["series"]]
                # and its totals skip new visitors (not shown)
                assert mine["totals"] == [
                    {k: v for k, v in t.items() if k != "new_visitors"} for t in theirs["totals"]
                ]
        elif part == "acquisition":
            for slot in ("result", "previous"):
                mine = got["result"] if slot == "result" else got["previous"]["result"]
                theirs = m["result"] if slot == "result" else m["previous"]["result"]
                assert mine["new_users"]["by_channel"] == theirs["new_users"]["by_channel"]
                assert mine["new_users"]["total"] == theirs["new_users"]["total"]
        elif part == "funnel":  # without the time to convert (not shown)
            for mine, theirs in (
                (got["result"], m["result"]),
                (got["previous"]["result"], m["previous"]["result"]),
            ):
                assert mine["time_to_convert"] is None and theirs["time_to_convert"] is not None
                assert mine == {**theirs, "time_to_convert": None}
        else:
            assert got["result"] == m["result"], part
            if with_previous:
                assert got["previous"] == m["previous"], part
            else:
                assert "previous" not in got
    # the figures themselves, not only agreement: u2 and u3 are new (u1 and u4 were seen before)
    assert parts["acquisition"]["result"]["new_users"]["total"] == 2
    assert [s["dau"] for s in parts["activity"]["result"]["series"]] == [2, 1, 2]
    assert [s["users"] for s in parts["funnel"]["result"]["steps"]] == [3, 2, 1, 0]
    assert parts["activity"]["previous"]["start"] == "2026-02-27"


def test_cache_until_events_change(
    client: TestClient, runtime: Runtime, shop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _post(client, shop, "dashboard", RANGE).json()
    again = _post(client, shop, "dashboard", RANGE).json()
    assert again["cached_parts"] == len(dashboard.PARTS) and again["parts"] == first["parts"]
    # compare later: the current period is reused, only the previous one is computed
    cmp = _post(client, shop, "dashboard", {**RANGE, "compare": True}).json()
    assert cmp["cached_parts"] == len(dashboard.PARTS)
    assert {k for k in cmp["timings_ms"] if k.endswith(".previous")} == {
        f"{name}.previous" for name, job in dashboard.PARTS.items() if job.with_previous
    }

    app_id = first["app_id"]
    runtime.store.append([table([ev("app_show", "u9", at("2026-03-03", "11:00"), app_id=app_id)])])
    stale = _post(client, shop, "dashboard", RANGE).json()
    assert stale["cached_parts"] == len(dashboard.PARTS)  # within FRESH_FOR_S: a minute-old figure is fine
    assert stale["parts"]["activity"] == first["parts"]["activity"]
    monkeypatch.setattr(dashboard, "FRESH_FOR_S", 0.0)
    fresh = _post(client, shop, "dashboard", RANGE).json()
    assert fresh["cached_parts"] == 0
    assert [s["dau"] for s in fresh["parts"]["activity"]["result"]["series"]] == [2, 2, 2]


def test_bad_requests(client: TestClient, shop: str) -> None:
    r = _post(client, shop, "dashboard", {**RANGE, "funnel": ["app_show", "no_such_event"]})
    assert r.status_code == 422
    assert r.json()["details"][0]["field"] == "funnel.1"
    r = _post(client, shop, "dashboard", {"start": "2026-03-04", "end": "2026-03-01"})
    assert r.status_code == 422
    r = _post(client, shop, "dashboard", {**RANGE, "nope": 1})
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "nope"
    r = _post(client, shop, "dashboard", {**RANGE, "funnel": ["app_show"]})
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "funnel"
    r = client.post("/admin/analytics/dashboard", json=RANGE)
    assert r.status_code == 401


def test_warm_up_prepares_every_query_shape(client: TestClient, shop: str) -> None:
    engines._templates._data.clear()
    dashboard.warm_up("Asia/Shanghai")
    shapes = dict(engines._templates._data)
    assert sum(t is not None for t in shapes.values()) >= len(dashboard.PARTS)
    # a real dashboard, another app, range and clock: every query finds its shape already compiled
    r = _post(client, shop, "dashboard", {**RANGE, "compare": True})
    assert r.status_code == 200
    assert engines._templates._data.keys() == shapes.keys()
