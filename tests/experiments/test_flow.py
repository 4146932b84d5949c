"""An experiment from creation to verdict through the API: validation, start, assignment through
GET /v1/flags, exposures in the event log, results from DuckDB, SRM, guardrails, ship (SQLite + PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.experiments.helpers import put_events
from tests.flags.helpers import admin, user_headers, wait_for

from huoli.db import unit_of_work
from huoli.experiments import service
from huoli.runtime import Runtime

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai


@pytest.fixture
def shop(make_app, client: TestClient, clock):  # type: ignore[no-untyped-def]
    clock.set(T0)
    app = make_app("shop")
    r = client.post(
        "/admin/flags",
        json={"key": "coupon_type", "type": "string", "default_value": "none"},
        headers=admin(app.keys["operator"]),
    )
    assert r.status_code == 201
    return app


def spec(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": "coupon-test",
        "name": "新人礼包 vs 首单立减",
        "hypothesis": "A first-order discount converts more new users than a gift pack.",
        "flag": "coupon_type",
        "variants": [
            {"key": "gift", "name": "新人礼包", "value": "gift_pack", "weight": 0.5},
            {"key": "discount", "name": "首单立减", "value": "first_order_off", "weight": 0.5},
        ],
        "metrics": {
            "primary": [{"key": "paid", "kind": "conversion", "event": "order_paid", "window_days": 7}],
            "secondary": [
                {"key": "revenue", "kind": "mean", "event": "order_paid", "property": "amount_fen"},
                {
                    "key": "aov",
                    "kind": "ratio",
                    "event": "order_paid",
                    "property": "amount_fen",
                    "denominator_event": "order_paid",
                },
                {"key": "d1", "kind": "retention", "retention_day": 1},
            ],
            "guardrails": [
                {"key": "refunds", "kind": "conversion", "event": "order_refunded", "direction": "decrease"}
            ],
        },
        "stats": {"method": "frequentist"},
        "expected_daily_users": 1000,
    }
    body.update(over)
    return body


def test_bad_experiments_are_rejected_with_field_reasons(client: TestClient, runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    op = admin(shop.keys["operator"])
    bad = spec(
        variants=[
            {"key": "a", "value": "x", "weight": 0.5},
            {"key": "b", "value": 3, "weight": 0.3},
        ],
        metrics={"primary": [{"key": "m", "kind": "conversion", "event": "never_happened"}]},
    )
    r = client.post("/admin/experiments", json=bad, headers=op)
    assert r.status_code == 422, r.text
    details = {d["field"]: d["message"] for d in r.json()["details"]}
    assert "sum to 1" in details["variants"]
    assert "string" in details["variants[1].value"]
    assert "unknown event 'never_happened'" in details["metrics.primary[0].event"]
    # A custom event becomes known once it is in the log.
    put_events(runtime, shop.id, [("u1", "never_happened", T0 - timedelta(hours=1), {})])
    ok = spec(
        key="ns-a",
        namespace={"name": "home", "start": 0.0, "end": 0.5},
        metrics={"primary": [{"key": "m", "kind": "conversion", "event": "never_happened"}]},
    )
    assert client.post("/admin/experiments", json=ok, headers=op).status_code == 201
    overlap = spec(key="ns-b", namespace={"name": "home", "start": 0.4, "end": 0.8})
    r = client.post("/admin/experiments", json=overlap, headers=op)
    assert r.status_code == 422 and "overlaps experiment 'ns-a'" in r.json()["details"][0]["message"]
    assert (
        client.post(
            "/admin/experiments",
            json=spec(key="ns-c", namespace={"name": "home", "start": 0.5, "end": 1.0}),
            headers=op,
        ).status_code
        == 201
    )
    many = spec(
        key="many",
        variants=[{"key": f"v{i}", "value": f"x{i}", "weight": 0.1} for i in range(10)],
        expected_daily_users=50,
        coverage=0.2,
    )
    r = client.post("/admin/experiments", json=many, headers=op)
    assert r.status_code == 422 and "too many variants for the traffic" in r.json()["details"][0]["message"]
    shape = spec(key="shape", variants=[{"key": "a", "value": "x", "weight": 1.0}])
    assert client.post("/admin/experiments", json=shape, headers=op).status_code == 422
    unknown_flag = client.post("/admin/experiments", json=spec(key="nf", flag="nope"), headers=op)
    assert unknown_flag.json()["details"][0]["field"] == "flag"
    assert client.post("/admin/experiments", json=spec(key="ns-a"), headers=op).status_code == 409
    listed = client.get("/admin/experiments", headers=admin(shop.keys["analyst"])).json()["items"]
    assert {e["key"] for e in listed} == {"ns-a", "ns-c"}


def expose(client: TestClient, runtime: Runtime, app_id: str, users: list[str]) -> dict[str, str]:
    out = {}
    for u in users:
        r = client.get("/v1/flags", headers=user_headers(runtime, app_id, u))
        assert r.status_code == 200
        out[u] = r.json()["experiments"].get("coupon-test")
    return out


def test_experiment_lifecycle_results_and_verdict(client: TestClient, runtime: Runtime, shop, clock) -> None:  # type: ignore[no-untyped-def]
    op = admin(shop.keys["operator"])
    r = client.post("/admin/experiments", json=spec(), headers=op)
    assert r.status_code == 201, r.text
    res = client.get("/admin/experiments/coupon-test/results", headers=op).json()
    assert res["verdict"]["decision"] == "not_started"
    assert (
        client.post("/admin/experiments/coupon-test/start", json={}, headers=op).json()["status"] == "running"
    )
    users = [f"u{i:04d}" for i in range(800)]
    assigned = expose(client, runtime, shop.id, users)
    assert set(assigned.values()) == {"gift", "discount"}
    wait_for(lambda: runtime.store.count(app_id=shop.id, name="experiment_exposure") == 800, timeout=20)
    # The discount converts 30% vs 15%; a few refunds in both; revenue per order equal.
    rows = []
    for i, u in enumerate(users):
        rate = 30 if assigned[u] == "discount" else 15
        if i % 100 < rate:
            rows.append(
                (u, "order_paid", T0 + timedelta(hours=2), {"order_id": f"o{i}", "amount_fen": 1000 + i % 7})
            )
        if i % 50 == 0:
            rows.append(
                (u, "order_refunded", T0 + timedelta(days=2), {"order_id": f"o{i}", "amount_fen": 100})
            )
        if i % 3 == 0:
            rows.append((u, "favorite", T0 + timedelta(hours=20), {}))  # next local day: D1 retained
    put_events(runtime, shop.id, rows)
    clock.set(T0 + timedelta(days=3))
    res = client.get(
        "/admin/experiments/coupon-test/results", params={"timeseries": "true"}, headers=op
    ).json()
    assert res["srm"]["warning"] is False and sum(res["srm"]["users"].values()) == 800
    paid = next(m for m in res["metrics"] if m["key"] == "paid")
    comp = paid["comparisons"][0]
    assert comp["variant"] == "discount" and comp["better"] is True
    assert comp["relative"]["ci"][0] < comp["relative"]["lift"] < comp["relative"]["ci"][1]
    assert 0.6 < comp["relative"]["lift"] < 1.4
    gift_rate = next(v for v in paid["variants"] if v["variant"] == "gift")["value"]
    assert 0.13 < gift_rate < 0.17
    aov = next(m for m in res["metrics"] if m["key"] == "aov")
    assert 1000 <= aov["variants"][0]["value"] <= 1006 and aov["comparisons"][0]["better"] is False
    d1 = next(m for m in res["metrics"] if m["key"] == "d1")
    assert abs(d1["variants"][0]["value"] - 1 / 3) < 0.05
    assert "p_adjusted" in comp
    assert res["verdict"]["decision"] == "ship" and res["verdict"]["variant"] == "discount"
    assert res["verdict"]["text"].startswith("Ship 首单立减")
    assert res["verdict"]["texts"]["en"] == res["verdict"]["text"]
    assert res["verdict"]["texts"]["zh"].startswith("全量发布 首单立减：paid 相对 新人礼包 +")
    assert [p["date"] for p in res["timeseries"]] == ["2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"]
    assert res["timeseries"][0]["users"] == res["srm"]["users"]
    # Ship: the flag serves the winner to everyone, exposures stop.
    shipped = client.post("/admin/experiments/coupon-test/ship", json={"variant": "discount"}, headers=op)
    assert shipped.status_code == 200 and shipped.json()["status"] == "stopped"
    after = client.get("/v1/flags", headers=user_headers(runtime, shop.id, "newcomer")).json()
    assert after["flags"]["coupon_type"] == "first_order_off" and after["experiments"] == {}
    assert client.post("/admin/experiments/coupon-test/start", headers=op).status_code == 409
    wait_for(lambda: runtime.store.count(app_id=shop.id, name="experiment_stopped") == 1)


def test_srm_guardrail_and_keep_running_verdicts(client: TestClient, runtime: Runtime, shop, clock) -> None:  # type: ignore[no-untyped-def]
    op = admin(shop.keys["operator"])
    client.post("/admin/experiments", json=spec(), headers=op)
    client.post("/admin/experiments/coupon-test/start", headers=op)
    with unit_of_work(runtime.sessions, app_id=shop.id) as db:
        exp = service.get(db=db, key="coupon-test")
    # Few users: keep running.
    exposures = [
        (
            f"k{i}",
            "experiment_exposure",
            T0,
            {"experiment": "coupon-test", "variant": "gift" if i % 2 else "discount"},
        )
        for i in range(40)
    ]
    put_events(runtime, shop.id, exposures)
    clock.set(T0 + timedelta(days=1))
    res = client.get("/admin/experiments/coupon-test/results", headers=op).json()
    assert res["verdict"]["decision"] == "keep_running" and res["verdict"]["more_users"] == 160
    assert res["verdict"]["texts"] == {
        "en": "Keep running — about 160 more users needed before a first read (each variant needs 100).",
        "zh": "继续运行——还需要约 160 位用户才能初步判断（每个变体至少 100 位）。",
    }
    # A 1000/1200 split: sample ratio mismatch.
    more = [
        (
            f"s{i}",
            "experiment_exposure",
            T0,
            {"experiment": "coupon-test", "variant": "gift" if i < 980 else "discount"},
        )
        for i in range(2160)
    ]
    put_events(runtime, shop.id, more)
    res = client.get("/admin/experiments/coupon-test/results", headers=op).json()
    assert res["srm"]["warning"] is True and res["verdict"]["decision"] == "investigate"
    assert exp.key == "coupon-test"


def test_guardrail_alarm(client: TestClient, runtime: Runtime, shop, clock) -> None:  # type: ignore[no-untyped-def]
    op = admin(shop.keys["operator"])
    client.post("/admin/experiments", json=spec(), headers=op)
    client.post("/admin/experiments/coupon-test/start", headers=op)
    rows = []
    for i in range(2000):
        v = "gift" if i % 2 else "discount"
        u = f"g{i}"
        rows.append((u, "experiment_exposure", T0, {"experiment": "coupon-test", "variant": v}))
        if i % 10 == 0:
            rows.append((u, "order_paid", T0 + timedelta(hours=1), {"order_id": f"o{i}", "amount_fen": 500}))
        if v == "discount" and i % 4 == 0:
            rows.append(
                (u, "order_refunded", T0 + timedelta(hours=2), {"order_id": f"o{i}", "amount_fen": 500})
            )
    put_events(runtime, shop.id, rows)
    clock.set(T0 + timedelta(days=2))
    res = client.get("/admin/experiments/coupon-test/results", headers=op).json()
    refunds = next(m for m in res["metrics"] if m["key"] == "refunds")
    assert refunds["comparisons"][0]["alarm"] is True
    assert res["verdict"]["decision"] == "guardrail" and "首单立减 hurts refunds" in res["verdict"]["text"]
    assert res["verdict"]["texts"]["zh"] == "护栏指标告警：首单立减 使 refunds 变差。不要发布这些变体。"


def test_holdouts_use_their_own_salt_and_exclude_users_from_experiments(
    client: TestClient, runtime: Runtime, shop
) -> None:  # type: ignore[no-untyped-def]
    op = admin(shop.keys["operator"])
    r = client.post(
        "/admin/holdouts",
        json={"key": "global", "name": "Global 10%", "scope": "global", "percent": 0.1},
        headers=op,
    )
    assert r.status_code == 201
    r = client.post(
        "/admin/holdouts", json={"key": "g2", "name": "x", "scope": "global", "percent": 0.1}, headers=op
    )
    assert r.status_code == 422
    client.post(
        "/admin/holdouts",
        json={"key": "spring-sale", "name": "Spring sale", "scope": "campaign", "percent": 0.2},
        headers=op,
    )
    created = client.post(
        "/admin/experiments", json=spec(namespace={"name": "home", "start": 0.0, "end": 1.0}), headers=op
    )
    assert created.json()["holdout_key"] == "global"
    client.post("/admin/experiments/coupon-test/start", headers=op)
    users = [f"h{i}" for i in range(600)]
    assigned = expose(client, runtime, shop.id, users)
    with unit_of_work(runtime.sessions, app_id=shop.id) as db:
        held = {
            u for u in users if service.in_holdout(db=db, app_id=shop.id, holdout_key="global", user_id=u)
        }
        campaign = {
            u
            for u in users
            if service.in_holdout(db=db, app_id=shop.id, holdout_key="spring-sale", user_id=u)
        }
        assert not service.in_holdout(db=db, app_id=shop.id, holdout_key="nope", user_id="h1")
    assert 30 < len(held) < 90 and 80 < len(campaign) < 160
    assert all(assigned[u] is None for u in held), "held-out users never enter an experiment"
    assert all(assigned[u] is not None for u in users if u not in held)
    assert 0 < len(held & campaign) < len(held), "independent salts: the groups overlap only by chance"
