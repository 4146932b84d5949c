"""Flag request shapes: values and conditions hold only integers a JavaScript client reads exactly (SQLite,
PostgreSQL). Before, a flag whose value held 2**64 was stored, and then every GET /v1/flags answered 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.flags.helpers import admin, user_headers

from huoli.runtime import Runtime

HUGE = 2**64


@pytest.mark.parametrize(
    ("flag", "field"),
    [
        ({"key": "limits", "type": "json", "default_value": {"max": HUGE}}, "default_value"),
        ({"key": "big", "type": "number", "default_value": 2**53}, "default_value"),
        (
            {
                "key": "gate",
                "type": "bool",
                "default_value": False,
                "rules": [{"id": "r1", "condition": {"age": {"$gt": HUGE}}, "value": True}],
            },
            "rules.0.condition",
        ),
        (
            {"key": "tiers", "type": "json", "default_value": {}, "rules": [{"id": "r1", "value": [HUGE]}]},
            "rules.0.value",
        ),
    ],
)
def test_flag_values_hold_exact_integers_and_flags_keep_serving(
    client: TestClient, runtime: Runtime, make_app: Callable[..., Any], flag: dict[str, Any], field: str
) -> None:
    app = make_app()
    r = client.post("/admin/flags", json=flag, headers=admin(app.keys["owner"]))
    assert r.status_code == 422 and r.json()["details"][0]["field"] == field, r.text
    patch = client.patch(
        f"/admin/flags/{flag['key']}", json={"default_value": HUGE}, headers=admin(app.keys["owner"])
    )
    assert patch.status_code in (404, 422)  # never stored either way
    r = client.get("/v1/flags", headers=user_headers(runtime, app.id, "u1"))
    assert r.status_code == 200 and flag["key"] not in r.json()["flags"], r.text


def test_evaluation_attributes_hold_exact_integers(client: TestClient, make_app: Callable[..., Any]) -> None:
    h = admin(make_app().keys["owner"])
    r = client.post("/admin/flags/evaluate", json={"user_id": "u1", "attributes": {"age": HUGE}}, headers=h)
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "attributes", r.text


def test_flag_values_are_numbers_json_can_carry(client: TestClient, make_app: Callable[..., Any]) -> None:
    h = admin(make_app().keys["owner"]) | {"Content-Type": "application/json"}
    for raw in ("NaN", "Infinity", "[-Infinity]"):  # Python's JSON parser accepts them; JSON has none
        body = f'{{"key": "ratio", "type": "json", "default_value": {raw}}}'
        r = client.post("/admin/flags", content=body, headers=h)
        assert r.status_code == 422 and r.json()["details"][0]["field"] == "default_value", (raw, r.text)
