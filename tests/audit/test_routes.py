"""The audit trail: every operator write recorded with actor, time, request and before/after — in the same
transaction as the change, so a refused or failed write leaves no entry."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_operator_actions_are_recorded_with_actor_request_and_changes(
    client: TestClient, make_app: Any
) -> None:
    shop, other = make_app(), make_app()
    owner, op = bearer(shop.keys["owner"]), bearer(shop.keys["operator"])
    created = client.post("/admin/keys", json={"name": "小王", "role": "analyst"}, headers=owner)
    assert created.status_code == 201, created.text
    adjusted = client.post(
        "/admin/loyalty/members/m1/adjust", json={"points": 50, "key": "k1", "note": "客诉补偿"}, headers=op
    )
    assert adjusted.status_code == 200, adjusted.text
    rules = client.get("/admin/loyalty/rules", headers=op).json()
    for reset in ("weekly", "monthly"):  # the first save stores the defaults' row, the second updates it
        rules["checkin"]["reset"] = reset
        assert client.put("/admin/loyalty/rules", json=rules, headers=op).status_code == 200
    # refused writes leave nothing behind: a validation error, and a role that may not write
    assert (
        client.post("/admin/loyalty/members/m1/adjust", json={"points": "x"}, headers=op).status_code == 422
    )
    assert client.post("/admin/keys", json={"name": "x", "role": "owner"}, headers=op).status_code == 403
    client.post(
        "/admin/keys", json={"name": "elsewhere", "role": "analyst"}, headers=bearer(other.keys["owner"])
    )

    trail = client.get("/admin/audit", headers=op)
    assert trail.status_code == 200, trail.text
    entries = trail.json()["items"]
    assert [e["action"] for e in entries] == [
        "PUT /admin/loyalty/rules",
        "PUT /admin/loyalty/rules",
        "POST /admin/loyalty/members/{user_id}/adjust",
        "POST /admin/keys",
    ]
    put, _first_put, adjust, key = entries
    assert adjust["target"] == {"user_id": "m1"} and adjust["request"]["note"] == "客诉补偿"
    assert adjust["actor_kind"] == "api_key" and adjust["actor_role"] == "operator"
    assert key["actor_role"] == "owner" and key["actor_id"] != adjust["actor_id"]
    # the key row is in the changes, its hash is not
    (row,) = [c for c in key["changes"] if c["table"] == "api_keys"]
    assert row["op"] == "insert" and row["after"]["name"] == "小王" and row["after"]["secret_hash"] == "***"
    # an update shows what it was and what it became
    (rule_row,) = [c for c in put["changes"] if c["op"] == "update"]
    assert '"weekly"' in rule_row["before"]["rules"] and '"monthly"' in rule_row["after"]["rules"]
    assert client.get("/admin/audit", headers=bearer(shop.keys["analyst"])).status_code == 403
    first = client.get("/admin/audit", params={"limit": 2}, headers=op).json()
    assert [e["id"] for e in first["items"]] == [put["id"], _first_put["id"]] and first["next_cursor"]
    page = client.get("/admin/audit", params={"limit": 1, "cursor": first["next_cursor"]}, headers=op).json()
    assert [e["id"] for e in page["items"]] == [adjust["id"]]
    assert [
        e["action"]
        for e in client.get("/admin/audit", params={"action": "/keys"}, headers=op).json()["items"]
    ] == ["POST /admin/keys"]
