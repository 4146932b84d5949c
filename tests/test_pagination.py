"""Every paginated admin list: paged with small limits it yields every row exactly once, in the list's order,
on SQLite and PostgreSQL; a cursor it did not give, or a limit out of range, is a 422 on that field."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from huoli.pagination import DEFAULT_LIMIT, MAX_LIMIT


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _keys(client: TestClient, app: Any) -> None:
    for i in range(4):
        r = client.post(
            "/admin/keys", json={"name": f"k{i}", "role": "analyst"}, headers=_auth(app.keys["owner"])
        )
        assert r.status_code == 201, r.text


def _templates(client: TestClient, app: Any) -> None:
    for i in range(5):
        body = {
            "id": f"t{i}",
            "name": f"立减{i + 1}元",
            "kind": "fixed",
            "amount_fen": 100 * (i + 1),
            "valid_days": 7,
        }
        r = client.post("/admin/promotions/coupon-templates", json=body, headers=_auth(app.keys["operator"]))
        assert r.status_code == 201, r.text


def _job_runs(client: TestClient, app: Any) -> None:
    for _ in range(5):
        r = client.post("/admin/jobs/loyalty.expire/run", headers=_auth(app.keys["operator"]))
        assert r.status_code == 202, r.text


def _privacy_requests(client: TestClient, app: Any) -> None:
    for i in range(5):
        r = client.post(
            "/admin/privacy/exports", json={"user_id": f"u_{i}"}, headers=_auth(app.keys["owner"])
        )
        assert r.status_code == 200, r.text


def _flags(client: TestClient, app: Any) -> None:
    for i in range(5):
        body = {"key": f"f{i}", "type": "bool", "default_value": False}
        r = client.post("/admin/flags", json=body, headers=_auth(app.keys["operator"]))
        assert r.status_code == 201, r.text


def _holdouts(client: TestClient, app: Any) -> None:
    for i in range(5):
        body = {"key": f"h{i}", "name": f"留存组{i}", "scope": "campaign", "percent": 0.05}
        r = client.post("/admin/holdouts", json=body, headers=_auth(app.keys["operator"]))
        assert r.status_code == 201, r.text


def _experiments(client: TestClient, app: Any) -> None:
    op = _auth(app.keys["operator"])
    for i in range(5):
        flag = {"key": f"ef{i}", "type": "string", "default_value": "a"}
        assert client.post("/admin/flags", json=flag, headers=op).status_code == 201
        body = {
            "key": f"e{i}",
            "name": f"实验{i}",
            "flag": f"ef{i}",
            "variants": [
                {"key": "a", "name": "A", "value": "a", "weight": 0.5},
                {"key": "b", "name": "B", "value": "b", "weight": 0.5},
            ],
            "metrics": {"primary": [{"key": "paid", "kind": "conversion", "event": "order_paid"}]},
        }
        r = client.post("/admin/experiments", json=body, headers=op)
        assert r.status_code == 201, r.text


def _expiring_coupons(client: TestClient, app: Any) -> None:
    body = {"id": "soon", "name": "即将到期", "kind": "fixed", "amount_fen": 100, "valid_days": 1}
    r = client.post("/admin/promotions/coupon-templates", json=body, headers=_auth(app.keys["operator"]))
    assert r.status_code == 201, r.text
    issue = {"template_id": "soon", "user_ids": [f"u{i}" for i in range(5)], "batch_key": "b1"}
    r = client.post("/admin/promotions/coupons/issue", json=issue, headers=_auth(app.keys["operator"]))
    assert r.status_code == 200 and r.json()["issued"] == 5, r.text


# path, the row's identity, the seeding (several writes: the audit trail gets one entry each)
LISTS: list[tuple[str, str, Callable[[TestClient, Any], None]]] = [
    ("/admin/keys", "id", _keys),
    ("/admin/audit", "id", _keys),
    ("/admin/promotions/coupon-templates", "id", _templates),
    ("/admin/jobs/runs", "id", _job_runs),
    ("/admin/privacy/requests", "id", _privacy_requests),
    ("/admin/flags", "key", _flags),
    ("/admin/holdouts", "key", _holdouts),
    ("/admin/experiments", "key", _experiments),  # equal created_at (a fixed clock): the key orders them
    ("/admin/promotions/coupons/expiring", "id", _expiring_coupons),  # equal valid_until: the id orders them
]

# Admin lists that answer a plain array: each is bounded by something other than the app's data.
NOT_PAGED = {
    "/admin/analytics": "the metric catalog",
    "/admin/events/summary": "one row per event name, aggregated",
    "/admin/jobs": "the job registry",
    "/admin/privacy/consents/summary": "one row per consent purpose",
    "/admin/staff/sessions": "the signed-in person's own sessions (12 h each, revoked ones left out)",
}


def test_every_admin_list_is_paged(client: TestClient) -> None:
    """One pagination schema for every admin list: a GET answering a JSON array must say why it is bounded."""
    arrays = {
        path
        for path, item in client.get("/openapi.json").json()["paths"].items()
        if path.startswith("/admin")
        and "get" in item
        and item["get"]["responses"]
        .get("200", {})
        .get("content", {})
        .get("application/json", {})
        .get("schema", {})
        .get("type")
        == "array"
    }
    assert arrays == set(NOT_PAGED)


@pytest.mark.parametrize(("path", "ident", "seed"), LISTS, ids=[p for p, _, _ in LISTS])
def test_pages_hold_every_row_once_in_order(
    client: TestClient,
    make_app: Callable[..., Any],
    path: str,
    ident: str,
    seed: Callable[[TestClient, Any], None],
) -> None:
    app, other = make_app("shop"), make_app("other")
    seed(client, app)
    seed(client, other)  # another app's rows never show up, on any page
    headers = _auth(app.keys["owner"])
    whole = client.get(path, params={"limit": MAX_LIMIT}, headers=headers).json()
    assert whole["next_cursor"] is None and len(whole["items"]) >= 4
    assert client.get(path, headers=headers).json() == whole  # the default limit holds these few rows
    for limit in (1, 2, 3):
        seen, cursor, pages = [], None, 0
        while True:
            params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
            r = client.get(path, params=params, headers=headers)
            assert r.status_code == 200, r.text
            page = r.json()
            assert set(page) == {"items", "next_cursor"} and len(page["items"]) <= limit
            seen += page["items"]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert [row[ident] for row in seen] == [row[ident] for row in whole["items"]]
        assert pages >= 2


BAD_CURSORS = [
    "not base64 !",
    base64.urlsafe_b64encode(b"[1, 2, 3, 4, 5]").decode(),  # another list's key
    base64.urlsafe_b64encode(b'{"id": 1}').decode(),
    base64.urlsafe_b64encode(b'["x", [1]]').decode(),
    base64.urlsafe_b64encode(b"[true]").decode(),
    base64.urlsafe_b64encode(b"[99999999999999999999999]").decode(),
    base64.urlsafe_b64encode(b'["2026-13-01T00:00:00", "a"]').decode(),
]


@pytest.mark.parametrize("path", [p for p, _, _ in LISTS])
def test_bad_cursor_or_limit_is_422_on_that_field(
    client: TestClient, make_app: Callable[..., Any], path: str
) -> None:
    headers = _auth(make_app("shop").keys["owner"])
    for cursor in BAD_CURSORS:
        r = client.get(path, params={"cursor": cursor}, headers=headers)
        assert r.status_code == 422 and r.json()["details"][0]["field"] == "cursor", (cursor, r.text)
    for limit in (0, MAX_LIMIT + 1, "x"):
        r = client.get(path, params={"limit": limit}, headers=headers)
        assert r.status_code == 422 and r.json()["details"][0]["field"] == "limit", (limit, r.text)


# Lists a client may sort (`sort=name` / `sort=-name`), with the seed and the columns to try.
SORTED: list[tuple[str, Callable[[TestClient, Any], None], list[str]]] = [
    ("/admin/keys", _keys, ["name", "role", "created_at"]),
    ("/admin/promotions/coupon-templates", _templates, ["name", "kind", "id"]),
    ("/admin/flags", _flags, ["key", "updated_at"]),
    ("/admin/experiments", _experiments, ["name", "status", "key", "created_at"]),
]


@pytest.mark.parametrize(("path", "seed", "columns"), SORTED, ids=[p for p, _, _ in SORTED])
def test_sorted_pages_hold_every_row_once_in_that_order(
    client: TestClient,
    make_app: Callable[..., Any],
    path: str,
    seed: Callable[[TestClient, Any], None],
    columns: list[str],
) -> None:
    app = make_app("shop")
    seed(client, app)
    headers = _auth(app.keys["owner"])
    default = client.get(path, params={"limit": MAX_LIMIT}, headers=headers).json()["items"]
    for column in columns:
        for sort in (column, f"-{column}"):
            seen, cursor = [], None
            while True:
                params: dict[str, Any] = {"limit": 2, "sort": sort} | ({"cursor": cursor} if cursor else {})
                r = client.get(path, params=params, headers=headers)
                assert r.status_code == 200, (sort, r.text)
                seen += r.json()["items"]
                cursor = r.json()["next_cursor"]
                if cursor is None:
                    break
                # a cursor made for this sort is refused by another (it would skip or repeat rows)
                other = client.get(path, params={"cursor": cursor}, headers=headers)
                assert other.status_code == 422 and other.json()["details"][0]["field"] == "cursor"
            assert sorted(map(str, seen)) == sorted(map(str, default)), sort  # every row, once
            values = [row[column] for row in seen]
            assert values == sorted(values, reverse=sort.startswith("-")), (sort, values)
    for bad in ("nosuch", "-nosuch", "Name", "name;drop"):
        r = client.get(path, params={"sort": bad}, headers=headers)
        assert r.status_code == 422 and r.json()["details"][0]["field"] == "sort", (bad, r.text)


def test_a_list_without_sortable_columns_refuses_sort(
    client: TestClient, make_app: Callable[..., Any]
) -> None:
    headers = _auth(make_app("shop").keys["owner"])
    r = client.get("/admin/audit", params={"sort": "id"}, headers=headers)
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "sort"
    assert "none" in r.json()["details"][0]["message"]


def test_default_limit_is_fifty() -> None:
    assert (DEFAULT_LIMIT, MAX_LIMIT) == (50, 200)
