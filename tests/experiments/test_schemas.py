"""Experiment request shapes: a variant's value is served like a flag value, so its integers stay exact, and
every count is bounded (SQLite, PostgreSQL). Before, a variant worth 2**64 made GET /v1/flags answer 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.flags.helpers import admin, user_headers

from huoli.runtime import Runtime


def _experiment(**change: Any) -> dict[str, Any]:
    return {
        "key": "price_test",
        "name": "Price test",
        "flag": "price",
        "variants": [{"key": "a", "value": 1, "weight": 0.5}, {"key": "b", "value": 2, "weight": 0.5}],
        "metrics": {"primary": [{"key": "paid", "kind": "conversion", "event": "order_paid"}]},
        "expected_daily_users": 1000,
    } | change


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {
                "variants": [
                    {"key": "a", "value": 1, "weight": 0.5},
                    {"key": "b", "value": 2**64, "weight": 0.5},
                ]
            },
            "variants.1.value",
        ),
        ({"targeting": {"age": {"$gte": 2**64}}}, "targeting"),
        ({"stats": {"sequential_tuning": 2**64}}, "stats.sequential_tuning"),
        ({"stats": {"min_users_per_variant": 2**64}}, "stats.min_users_per_variant"),
        ({"expected_daily_users": 2**64}, "expected_daily_users"),
    ],
)
def test_out_of_range_numbers_are_refused_and_flags_keep_serving(
    client: TestClient, runtime: Runtime, make_app: Callable[..., Any], change: dict[str, Any], field: str
) -> None:
    app = make_app()
    h = admin(app.keys["owner"])
    flag = {"key": "price", "type": "number", "default_value": 1}
    assert client.post("/admin/flags", json=flag, headers=h).status_code == 201
    r = client.post("/admin/experiments", json=_experiment(**change), headers=h)
    assert r.status_code == 422 and field in {d["field"] for d in r.json()["details"]}, r.text
    client.post("/admin/experiments/price_test/start", headers=h)  # 404: nothing was created
    assert client.get("/v1/flags", headers=user_headers(runtime, app.id, "u1")).status_code == 200
