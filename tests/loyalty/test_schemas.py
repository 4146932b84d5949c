"""Loyalty request shapes: every integer is bounded, so a stored rules document always reads back (SQLite,
PostgreSQL). Unbounded, 2**64 passed validation and every later read of the rules or tasks answered 500."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.loyalty.helpers import admin, mp_headers

from huoli.runtime import Runtime

HUGE = 2**64


@pytest.fixture
def shop(make_app):  # type: ignore[no-untyped-def]
    return make_app("shop")


def _fields(r: Any) -> set[str]:
    return {d["field"] for d in r.json()["details"]}


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("points", "points_per_yuan"),
        ("points", "fen_per_point"),
        ("points", "max_order_points"),
        ("checkin", "makeup_cost"),
        ("tiers", "growth_per_yuan"),
        ("tiers", "window_days"),
    ],
)
def test_rules_refuse_integers_out_of_range_and_keep_reading_back(  # type: ignore[no-untyped-def]
    client: TestClient, runtime: Runtime, shop, section: str, key: str
) -> None:
    rules = client.get("/admin/loyalty/rules", headers=admin(shop)).json()
    rules[section][key] = HUGE
    r = client.put("/admin/loyalty/rules", json=rules, headers=admin(shop))
    assert r.status_code == 422, r.text
    assert f"{section}.{key}" in _fields(r)
    assert client.get("/admin/loyalty/rules", headers=admin(shop)).status_code == 200
    h = mp_headers(runtime, shop.id, "u_1")
    assert client.get("/v1/loyalty/points/quote?order_amount_fen=10000", headers=h).status_code == 200


def test_task_conditions_hold_only_integers_a_client_reads_exactly(
    client: TestClient, runtime: Runtime, shop
) -> None:  # type: ignore[no-untyped-def]
    task = {"code": "t1", "name": "T", "event": "page_view", "where": {"level": HUGE}}
    r = client.post("/admin/loyalty/tasks", json=task, headers=admin(shop))
    assert r.status_code == 422 and "where" in _fields(r), r.text
    assert client.get("/admin/loyalty/tasks", headers=admin(shop)).status_code == 200
    assert client.get("/v1/loyalty/tasks", headers=mp_headers(runtime, shop.id, "u_1")).status_code == 200
    task["where"] = {"level": 3}
    assert client.post("/admin/loyalty/tasks", json=task, headers=admin(shop)).status_code == 200


def test_mall_item_limits_fit_their_columns(client: TestClient, shop) -> None:  # type: ignore[no-untyped-def]
    item = {"id": "mug", "name": "Mug", "kind": "goods", "points": 100, "per_user_limit": 2**63}
    r = client.put("/admin/loyalty/mall/items", json=item, headers=admin(shop))
    assert r.status_code == 422 and "per_user_limit" in _fields(r), r.text
    r = client.put("/admin/loyalty/mall/items", json=item | {"per_user_limit": 2}, headers=admin(shop))
    assert r.status_code == 200, r.text
