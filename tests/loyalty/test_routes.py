"""The loyalty HTTP surface: mini-program calls, signed merchant calls, the admin API (SQLite, PostgreSQL)."""

from __future__ import annotations

import orjson
import pytest
from fastapi.testclient import TestClient
from tests.events.helpers import signed_headers
from tests.loyalty.helpers import admin, mp_headers, signed_post, stored

from huoli.runtime import Runtime
from huoli.users.service import derive_user_id


@pytest.fixture
def shop(make_app):  # type: ignore[no-untyped-def]
    return make_app("shop")


def test_checkin_points_calendar_for_a_logged_in_member(client: TestClient, runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    h = mp_headers(runtime, shop.id, "u_1")
    r = client.post("/v1/loyalty/checkin", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["checked_in"] is True and r.json()["streak"] == 1 and r.json()["points"] == 5
    again = client.post("/v1/loyalty/checkin", headers=h).json()
    assert again["checked_in"] is False and again["points"] == 0
    pts = client.get("/v1/loyalty/points", headers=h).json()
    assert pts["available"] == 5 and pts["user_id"] == "u_1"
    cal = client.get("/v1/loyalty/checkin/calendar", headers=h).json()
    assert cal["checked_in_today"] is True and cal["streak"] == 1 and len(cal["days"]) == 1
    hist = client.get("/v1/loyalty/points/history", headers=h).json()
    assert [(t["kind"], t["reason"], t["points"]) for t in hist] == [("earn", "checkin", 5)]
    assert client.get("/v1/loyalty/checkin/calendar?month=2026-13", headers=h).status_code == 422


def test_member_calls_need_a_session(client: TestClient, shop) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/loyalty/checkin", headers={"X-Huoli-App-Id": shop.id})
    assert r.status_code == 401 and r.json()["code"] == "login_required"
    assert client.get("/v1/loyalty/points").status_code == 401


def test_order_points_only_from_signed_server_calls(client: TestClient, runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    body = {"openid": "oBUYER", "order_id": "A1", "amount_fen": 25_999}
    r = signed_post(client, shop, "/v1/server/loyalty/orders/paid", body)
    assert r.status_code == 200, r.text
    assert r.json()["points"] == 259 and r.json()["applied"] is True
    assert signed_post(client, shop, "/v1/server/loyalty/orders/paid", body).json()["applied"] is False
    # Unsigned or wrongly signed: refused, nothing earned.
    r = client.post(
        "/v1/server/loyalty/orders/paid", json=body | {"order_id": "A2"}, headers={"X-Huoli-App-Id": shop.id}
    )
    assert r.status_code == 401
    user = derive_user_id(type("A", (), {"id_salt": _salt(runtime, shop.id)})(), "oBUYER")  # type: ignore[arg-type]
    ledger = client.get(f"/admin/loyalty/members/{user}/ledger", headers=admin(shop, "analyst")).json()
    assert (
        ledger["balance"]["available"] == 259 and len(ledger["transfers"]) == 1 and len(ledger["lots"]) == 1
    )
    # Refund half: half the points come back out.
    r = signed_post(
        client,
        shop,
        "/v1/server/loyalty/orders/refunded",
        {"openid": "oBUYER", "order_id": "A1", "refund_id": "R1", "amount_fen": 13_000},
    )
    assert r.status_code == 200 and r.json()["clawed_back"] == 129
    # Spend on a new order within the cap (50% of 100 yuan = 500 points max) …
    r = signed_post(
        client,
        shop,
        "/v1/server/loyalty/orders/spend",
        {"user_id": user, "order_id": "B1", "order_amount_fen": 10_000, "points": 100},
    )
    assert r.status_code == 200 and r.json()["discount_fen"] == 1_000
    r = signed_post(
        client,
        shop,
        "/v1/server/loyalty/orders/spend",
        {"user_id": user, "order_id": "B2", "order_amount_fen": 10_000, "points": 100},
    )
    assert r.status_code == 409 and r.json()["code"] == "insufficient_points"
    r = signed_post(
        client,
        shop,
        "/v1/server/loyalty/orders/paid",
        {"openid": "x", "user_id": "y", "order_id": "C", "amount_fen": 1},
    )
    assert r.status_code == 422
    assert stored(runtime, shop.id, "points_reversed", 1) == 1


def _salt(runtime: Runtime, app_id: str) -> str:
    from huoli.apps.models import App
    from huoli.db import unit_of_work

    with unit_of_work(runtime.sessions) as db:
        app = db.get(App, app_id)
        assert app is not None
        return app.id_salt


def test_actions_with_daily_cap_via_server(client: TestClient, shop) -> None:  # type: ignore[no-untyped-def]
    got = [
        signed_post(
            client, shop, "/v1/server/loyalty/actions", {"user_id": "u9", "action": "review", "key": f"rv{i}"}
        ).json()["points"]
        for i in range(4)
    ]
    assert got == [10, 10, 10, 0]
    r = signed_post(
        client, shop, "/v1/server/loyalty/actions", {"user_id": "u9", "action": "nope", "key": "k"}
    )
    assert r.status_code == 404 and r.json()["code"] == "action_not_configured"


def test_rules_admin_validates_and_refuses_share_rewards(client: TestClient, shop) -> None:  # type: ignore[no-untyped-def]
    rules = client.get("/admin/loyalty/rules", headers=admin(shop, "analyst")).json()
    assert rules["points"]["fen_per_point"] == 10 and rules["checkin"]["reset"] == "never"
    rules["points"]["points_per_yuan"] = 2
    rules["checkin"]["reset"] = "weekly"
    assert client.put("/admin/loyalty/rules", json=rules, headers=admin(shop, "analyst")).status_code == 403
    r = client.put("/admin/loyalty/rules", json=rules, headers=admin(shop, "operator"))
    assert r.status_code == 200, r.text
    assert client.get("/admin/loyalty/rules", headers=admin(shop)).json()["points"]["points_per_yuan"] == 2
    bad = rules | {"points": rules["points"] | {"actions": {"share": {"points": 5}}}}
    r = client.put("/admin/loyalty/rules", json=bad, headers=admin(shop))
    assert r.status_code == 422
    levels = rules["tiers"]["levels"]
    bad = rules | {"tiers": rules["tiers"] | {"levels": [levels[1], levels[0]]}}
    assert client.put("/admin/loyalty/rules", json=bad, headers=admin(shop)).status_code == 422
    r = client.post(
        "/admin/loyalty/tasks",
        headers=admin(shop),
        json={"code": "share3", "name": "Share 3 times", "event": "share", "target": 3},
    )
    assert r.status_code == 422 and "never rewarded" in r.text


def test_admin_adjust_and_jobs(client: TestClient, runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    r = client.post(
        "/admin/loyalty/members/u5/adjust",
        headers=admin(shop, "operator"),
        json={"points": 50, "key": "goodwill-1", "note": "sorry"},
    )
    assert r.status_code == 200 and r.json()["available"] == 50
    r = client.post(
        "/admin/loyalty/members/u5/adjust", headers=admin(shop, "operator"), json={"points": -60, "key": "x"}
    )
    assert r.status_code == 409
    for job in ("expire", "warn-expiring", "tiers", "scan-tasks"):
        r = client.post(f"/admin/loyalty/jobs/{job}", headers=admin(shop, "operator"))
        assert r.status_code == 200, (job, r.text)
    assert client.post("/admin/loyalty/jobs/nope", headers=admin(shop, "operator")).status_code == 404


def test_mall_over_http(client: TestClient, runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    item = {"id": "tea", "name": "Tea", "kind": "goods", "points": 30, "stock": 1, "per_user_limit": 1}
    assert (
        client.put("/admin/loyalty/mall/items", json=item, headers=admin(shop, "operator")).status_code == 200
    )
    client.post("/admin/loyalty/members/u_1/adjust", headers=admin(shop), json={"points": 100, "key": "g"})
    h = mp_headers(runtime, shop.id, "u_1")
    assert [i["id"] for i in client.get("/v1/loyalty/mall/items", headers=h).json()] == ["tea"]
    r = client.post("/v1/loyalty/mall/items/tea/redeem", json={"key": "t1"}, headers=h)
    assert r.status_code == 200 and r.json()["applied"] is True
    assert (
        client.post("/v1/loyalty/mall/items/tea/redeem", json={"key": "t1"}, headers=h).json()["applied"]
        is False
    )
    r = client.post("/v1/loyalty/mall/items/tea/redeem", json={"key": "t2"}, headers=h)
    assert r.status_code == 409 and r.json()["code"] in ("per_user_limit", "out_of_stock")
    assert client.get("/v1/loyalty/points", headers=h).json()["available"] == 70
    assert stored(runtime, shop.id, "mall_redeemed", 1) == 1


def test_signed_calls_record_their_nonce_with_the_work(client: TestClient, shop) -> None:  # type: ignore[no-untyped-def]
    """The nonce commits in the route's own transaction: a replay of a done call is refused and changes
    nothing; a refused call (rolled back) leaves its nonce unused, so the same signed bytes may come again."""
    path = "/v1/server/loyalty/orders/spend"
    spend = orjson.dumps({"user_id": "u9", "order_id": "S1", "order_amount_fen": 10_000, "points": 10})
    headers = signed_headers(shop.id, shop.server_secret, path, spend)
    assert client.post(path, content=spend, headers=headers).json()["code"] == "insufficient_points"
    again = client.post(path, content=spend, headers=headers)
    assert again.status_code == 409 and again.json()["code"] == "insufficient_points"

    path = "/v1/server/loyalty/orders/paid"
    paid = orjson.dumps({"user_id": "u9", "order_id": "P1", "amount_fen": 5_000})
    headers = signed_headers(shop.id, shop.server_secret, path, paid)
    assert client.post(path, content=paid, headers=headers).json()["points"] == 50
    replay = client.post(path, content=paid, headers=headers)
    assert replay.status_code == 401 and replay.json()["code"] == "replayed_request"
    ledger = client.get("/admin/loyalty/members/u9/ledger", headers=admin(shop, "analyst")).json()
    assert ledger["balance"]["available"] == 50 and len(ledger["transfers"]) == 1


def test_the_same_user_in_two_apps_has_two_separate_loyalty_records(  # type: ignore[no-untyped-def]
    client: TestClient, runtime: Runtime, shop, make_app
) -> None:
    # Check-in and earn run prebuilt Core statements that write their app filter themselves.
    other = make_app("other")
    for _ in range(2):
        assert (
            client.post("/v1/loyalty/checkin", headers=mp_headers(runtime, shop.id, "u_1")).status_code == 200
        )
    body = {"openid": "oSAME", "order_id": "A1", "amount_fen": 10_000}
    assert signed_post(client, shop, "/v1/server/loyalty/orders/paid", body).json()["points"] == 100
    theirs = client.post("/v1/loyalty/checkin", headers=mp_headers(runtime, other.id, "u_1")).json()
    assert theirs["checked_in"] is True and theirs["streak"] == 1  # not "already checked in" from the shop
    again = signed_post(client, other, "/v1/server/loyalty/orders/paid", body).json()
    assert again["applied"] is True and again["points"] == 100  # the shop's order key does not count here
    mine = client.get("/v1/loyalty/points", headers=mp_headers(runtime, shop.id, "u_1")).json()
    other_pts = client.get("/v1/loyalty/points", headers=mp_headers(runtime, other.id, "u_1")).json()
    assert mine["available"] == 5 and other_pts["available"] == 5


def test_member_birthday_is_set_once_and_corrected_by_an_operator(
    client: TestClient, runtime: Runtime, shop
) -> None:  # type: ignore[no-untyped-def]
    h = mp_headers(runtime, shop.id, "u_1")
    assert client.get("/v1/loyalty/profile", headers={"X-Huoli-App-Id": shop.id}).status_code == 401
    assert client.get("/v1/loyalty/profile", headers=h).json() == {
        "user_id": "u_1", "birthday": None, "birthday_locked": False,
    }  # fmt: skip
    for bad in ("02-30", "13-01", "8-15", "2026-08-15"):
        r = client.put("/v1/loyalty/profile", json={"birthday": bad}, headers=h)
        assert r.status_code == 422 and r.json()["details"][0]["field"] == "birthday", (bad, r.text)
    assert client.put("/v1/loyalty/profile", json={"birthday": "02-29"}, headers=h).json()["birthday_locked"]
    assert (
        client.put("/v1/loyalty/profile", json={"birthday": "02-29"}, headers=h).status_code == 200
    )  # a retry
    r = client.put("/v1/loyalty/profile", json={"birthday": "09-01"}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "birthday_locked"
    fixed = client.put(
        "/admin/loyalty/members/u_1/profile", json={"birthday": "09-01"}, headers=admin(shop, "operator")
    )
    assert fixed.status_code == 200 and fixed.json()["birthday"] == "09-01"
    assert client.get("/v1/loyalty/profile", headers=h).json()["birthday"] == "09-01"
    assert client.put("/admin/loyalty/members/u_1/profile", headers=admin(shop, "analyst")).status_code == 403


def test_member_query_numbers_are_bounded(client: TestClient, runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    h = mp_headers(runtime, shop.id, "u_1")
    for path, field in (
        (f"/v1/loyalty/points/history?before_id={-(2**90)}", "before_id"),
        (f"/v1/loyalty/points/quote?order_amount_fen={2**1100}", "order_amount_fen"),  # past a float
    ):
        r = client.get(path, headers=h)
        assert r.status_code == 422 and r.json()["details"][0]["field"] == field, (path, r.text)
    assert (
        client.get("/v1/loyalty/points/quote?order_amount_fen=10000", headers=h).json()["max_points"] == 500
    )
