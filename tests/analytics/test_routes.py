"""`/admin/analytics/*` on a real runtime: results, compare-to-previous, caching, and clear 422s."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from huoli.runtime import Runtime

from .fixtures import at, ev, table


def _seed(runtime: Runtime, app_id: str) -> None:
    rows = []
    for day, users in (("2026-03-01", ["u1", "u2"]), ("2026-03-02", ["u1"]), ("2026-03-03", ["u1", "u3"])):
        for u in users:
            rows.append(
                ev("app_show", u, at(day, "10:00"), app_id=app_id, channel="ads" if u != "u3" else "kol")
            )
            rows.append(
                ev("page_view", u, at(day, "10:01"), app_id=app_id, page="p/home", properties='{"ab": "x"}')
            )
    runtime.store.append([table(rows)])


def _post(client: TestClient, key: str, metric: str, body: dict[str, Any]) -> Any:
    return client.post(f"/admin/analytics/{metric}", json=body, headers={"Authorization": f"Bearer {key}"})


def test_metrics_over_http(
    client: TestClient, runtime: Runtime, make_app: Callable[..., Any], clock: Any
) -> None:
    clock.set(dt.datetime(2026, 3, 20, tzinfo=dt.UTC))
    app = make_app()
    _seed(runtime, app.id)
    key = app.keys["analyst"]
    r = _post(client, key, "activity", {"start": "2026-03-02", "end": "2026-03-03", "compare": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [d["dau"] for d in body["result"]["series"]] == [1, 2]
    assert body["previous"]["start"] == "2026-02-28" and body["previous"]["result"]["series"][1]["dau"] == 2
    assert body["tz"] == "Asia/Shanghai" and body["cached"] is False
    again = _post(
        client, key, "activity", {"start": "2026-03-02", "end": "2026-03-03", "compare": True}
    ).json()
    assert (
        again["cached"] is True and again["result"] == body["result"]
    )  # a closed period is served from cache
    r = _post(client, key, "retention", {"start": "2026-03-01", "end": "2026-03-01", "periods": 2})
    assert r.json()["result"]["rows"][0]["retained"] == [2, 1, 1]
    r = _post(
        client,
        key,
        "funnel",
        {
            "start": "2026-03-01",
            "end": "2026-03-03",
            "steps": [
                {"event": "app_show"},
                {"event": "page_view", "filters": [{"field": "properties.ab", "value": "x"}]},
            ],
        },
    )
    assert [s["users"] for s in r.json()["result"]["steps"]] == [3, 3]
    r = _post(
        client,
        key,
        "acquisition",
        {"start": "2026-03-01", "end": "2026-03-03", "breakdown": "user.first_channel"},
    )
    assert r.status_code == 200
    # Costs: operators upload, analysts may not.
    costs = [{"day": "2026-03-01", "channel": "ads", "cost_fen": 1000}]
    assert (
        client.put(
            "/admin/analytics/channel-costs", json=costs, headers={"Authorization": f"Bearer {key}"}
        ).status_code
        == 403
    )
    op = {"Authorization": f"Bearer {app.keys['operator']}"}
    assert client.put("/admin/analytics/channel-costs", json=costs, headers=op).json() == {"written": 1}
    r = _post(client, key, "acquisition", {"start": "2026-03-01", "end": "2026-03-03"})
    assert {c["channel"]: c["cost_per_user_fen"] for c in r.json()["result"]["cost_per_user"]}["ads"] == 500
    assert client.get("/admin/analytics", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_bad_requests_name_the_problem(
    client: TestClient, runtime: Runtime, make_app: Callable[..., Any]
) -> None:
    app = make_app()
    _seed(runtime, app.id)
    key = app.keys["analyst"]
    base = {"start": "2026-03-01", "end": "2026-03-03"}
    cases: list[tuple[str, dict[str, Any], str, str]] = [
        ("activity", {"start": "2026-03-03", "end": "2026-03-01"}, "(body)", "before start"),
        ("activity", {**base, "tz": "Mars/Olympus"}, "tz", "not an IANA timezone"),
        (
            "activity",
            {**base, "filters": [{"field": "properties.nope", "value": 1}]},
            "filters[0].field",
            "unknown property",
        ),
        ("activity", {**base, "breakdown": "user.shoe_size"}, "breakdown", "unknown user property"),
        (
            "funnel",
            {**base, "steps": [{"event": "app_show"}, {"event": "teleport"}]},
            "steps[1].event",
            "unknown event 'teleport'",
        ),
        ("funnel", {**base, "steps": [{"event": "a"}] * 40}, "(body)", "at most 32"),
        ("retention", {**base, "periods": 100000}, "periods", "less than or equal"),
        ("activity", {**base, "bogus": 1}, "bogus", "Extra inputs"),
        ("sales", base, "metric", "one of"),
    ]
    for metric, body, field, message in cases:
        r = _post(client, key, metric, body)
        assert r.status_code == 422, (metric, body, r.text)
        details = r.json()["details"]
        assert any(d["field"] == field and message in d["message"] for d in details), (
            field,
            message,
            details,
        )
    assert _post(client, "hlk_bad.key", "activity", base).status_code == 401


def test_channel_costs_are_bounded_like_every_amount(
    client: TestClient, make_app: Callable[..., Any]
) -> None:
    op = {"Authorization": f"Bearer {make_app().keys['operator']}"}
    rows = [{"day": "2026-03-01", "channel": "ads", "cost_fen": 2**63}]  # no database column holds it
    r = client.put("/admin/analytics/channel-costs", json=rows, headers=op)
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "0.cost_fen", r.text
    rows[0]["cost_fen"] = 10**12
    assert client.put("/admin/analytics/channel-costs", json=rows, headers=op).json() == {"written": 1}
