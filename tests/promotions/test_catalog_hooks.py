"""Promotions' catalog hooks (C3) end to end: the merchant's backend reports an item's stock at 0 through the
catalog's signed call → its 秒杀 item refuses attempts (409 item_unavailable) and leaves coupon scopes at
checkout; stock back → restored, except what an operator paused, which stays paused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.catalog.helpers import ITEMS, STOCK
from tests.catalog.helpers import signed as catalog_signed
from tests.promotions.test_routes import WX_APPID, WX_SECRET, admin, user

from huoli.runtime import Runtime

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the hooks, not SQL races


@pytest.fixture
def app(make_app, fake_wechat):  # type: ignore[no-untyped-def]
    fake_wechat.register_app(WX_APPID, WX_SECRET)
    return make_app("shop", wx_appid=WX_APPID, wx_secret=WX_SECRET)


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def row(client: TestClient, app: Any, path: str, rid: str) -> dict[str, Any]:
    (found,) = [r for r in ok(client.get(path, headers=admin(app)))["items"] if r["id"] == rid]
    return found  # type: ignore[no-any-return]


def test_stock_at_zero_halts_flash_and_shrinks_coupon_scope_then_restores(
    client: TestClient, runtime: Runtime, app: Any
) -> None:
    now = datetime.now(UTC)
    goods = [
        {"id": "tea", "title": "明前龙井", "price_fen": 6000, "stock": 5, "status": "on_sale"},
        {"id": "cup", "title": "青瓷杯", "price_fen": 4000, "stock": 5, "status": "on_sale"},
    ]
    ok(catalog_signed(client, app, ITEMS, {"items": goods}))
    window = {
        "starts_at": (now - timedelta(minutes=5)).isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(),
    }
    ok(
        client.post(
            "/admin/promotions/flash/sessions", headers=admin(app), json={"id": "s", "name": "秒杀", **window}
        ),
        201,
    )
    flash = {"session_id": "s", "price_fen": 990, "original_price_fen": 6000, "stock": 3}
    ok(
        client.post(
            "/admin/promotions/flash/items",
            headers=admin(app),
            json={"id": "f-tea", "item_id": "tea", **flash},
        ),
        201,
    )
    percent = {"kind": "percent", "percent_off": 10, "valid_days": 7, "scope": "items"}
    for tid, scope in (("both", ["tea", "cup"]), ("tea-only", ["tea"])):
        body = {"id": tid, "name": tid, "scope_ids": scope, **percent}
        ok(client.post("/admin/promotions/coupon-templates", headers=admin(app), json=body), 201)
    buyer = user(runtime, app.id, "buyer", "obuyer")
    coupon = {
        tid: ok(
            client.post(
                "/v1/promotions/coupons/claim", headers=buyer, json={"template_id": tid, "request_id": tid}
            )
        )["id"]
        for tid in ("both", "tea-only")
    }
    cart = [
        {"item_id": "tea", "price_fen": 6000, "quantity": 1},
        {"item_id": "cup", "price_fen": 4000, "quantity": 2},
    ]

    def off(tid: str) -> Any:
        r = client.post(
            "/v1/promotions/coupons/quote",
            headers=buyer,
            json={"order_id": "o-1", "coupon_ids": [coupon[tid]], "cart": cart},
        )
        return r.json()["discount_fen"] if r.status_code == 200 else r.json()["code"]

    def in_scope(scope: list[str]) -> int:  # 10% of the cart's lines the coupon covers
        return sum(line["price_fen"] * line["quantity"] for line in cart if line["item_id"] in scope) // 10

    assert (off("both"), off("tea-only")) == (in_scope(["tea", "cup"]), in_scope(["tea"]))
    templates = "/admin/promotions/coupon-templates"
    assert row(client, app, templates, "both")["item_titles"] == {"tea": "明前龙井", "cup": "青瓷杯"}

    ok(catalog_signed(client, app, STOCK, {"updates": [{"item_id": "tea", "stock": 0}]}))
    r = client.post("/v1/promotions/flash/items/f-tea/attempt", headers=buyer, json={})
    assert (r.status_code, r.json()["code"]) == (409, "item_unavailable")
    session = row(client, app, "/admin/promotions/flash/sessions", "s")
    assert (session["halted_reason"], session["items"][0]["halted_reason"]) == (
        "item_unavailable",
        "item_unavailable",
    )
    assert session["state"] == "running"  # halted by the catalog, not paused: the operator did nothing
    assert (off("both"), off("tea-only")) == (in_scope(["cup"]), "coupon_not_applicable")
    assert row(client, app, templates, "tea-only")["halted_reason"] == "item_unavailable"
    assert row(client, app, templates, "both")["halted_reason"] is None  # 青瓷杯 still sells
    refs = ok(client.get("/admin/catalog/items/tea", headers=admin(app)))["references"]
    assert sorted((r["kind"], r["id"]) for r in refs) == [
        ("coupon-templates", "both"),
        ("coupon-templates", "tea-only"),
        ("flash-sessions", "s"),
    ]

    # meanwhile the operator pauses the session: the stock coming back must not resume it
    ok(client.post("/admin/promotions/flash-sessions/s/pause", headers=admin(app)))
    ok(catalog_signed(client, app, STOCK, {"updates": [{"item_id": "tea", "stock": 4}]}))
    r = client.post("/v1/promotions/flash/items/f-tea/attempt", headers=buyer, json={})
    assert (r.status_code, r.json()["code"], r.json()["details"]["state"]) == (
        409,
        "activity_not_running",
        "paused",
    )
    assert (off("both"), off("tea-only")) == (in_scope(["tea", "cup"]), in_scope(["tea"]))
    assert row(client, app, templates, "tea-only")["halted_reason"] is None
    ok(client.post("/admin/promotions/flash-sessions/s/resume", headers=admin(app)))
    won = ok(client.post("/v1/promotions/flash/items/f-tea/attempt", headers=buyer, json={}))
    assert won["flash_item_id"] == "f-tea"
    session = row(client, app, "/admin/promotions/flash/sessions", "s")
    assert session["halted_reason"] is None and session["items"][0]["stock"] == flash["stock"] - 1


def test_an_activity_created_for_an_unavailable_item_starts_halted_and_resumes_with_it(
    client: TestClient, runtime: Runtime, app: Any
) -> None:
    now = datetime.now(UTC)
    goods = [
        {"id": "pot", "title": "紫砂壶", "price_fen": 30000, "stock": 0, "status": "on_sale"},
        {"id": "mug", "title": "马克杯", "price_fen": 3000, "stock": 9, "status": "on_sale"},
    ]
    ok(catalog_signed(client, app, ITEMS, {"items": goods}))
    window = {
        "starts_at": (now - timedelta(minutes=5)).isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(),
    }
    session = {"id": "s2", "name": "秒杀", **window}
    ok(client.post("/admin/promotions/flash/sessions", headers=admin(app), json=session), 201)
    flash = {"session_id": "s2", "price_fen": 9900, "original_price_fen": 30000, "stock": 2}
    for fid, item in (("f-pot", "pot"), ("f-mug", "mug")):
        body = {"id": fid, "item_id": item, **flash}
        ok(client.post("/admin/promotions/flash/items", headers=admin(app), json=body), 201)
    percent = {"kind": "percent", "percent_off": 10, "valid_days": 7, "scope": "items"}
    for tid, scope in (("pot-only", ["pot"]), ("pot-mug", ["pot", "mug"])):
        body = {"id": tid, "name": tid, "scope_ids": scope, **percent}
        ok(client.post("/admin/promotions/coupon-templates", headers=admin(app), json=body), 201)

    buyer = user(runtime, app.id, "buyer2", "obuyer2")
    r = client.post("/v1/promotions/flash/items/f-pot/attempt", headers=buyer, json={})
    assert (r.status_code, r.json()["code"]) == (409, "item_unavailable")
    items = {i["id"]: i for i in row(client, app, "/admin/promotions/flash/sessions", "s2")["items"]}
    assert (items["f-pot"]["halted_reason"], items["f-mug"]["halted_reason"]) == ("item_unavailable", None)
    templates = "/admin/promotions/coupon-templates"
    assert row(client, app, templates, "pot-only")["halted_reason"] == "item_unavailable"
    assert row(client, app, templates, "pot-mug")["halted_reason"] is None  # the mug still sells

    ok(catalog_signed(client, app, STOCK, {"updates": [{"item_id": "pot", "stock": 3}]}))
    won = ok(client.post("/v1/promotions/flash/items/f-pot/attempt", headers=buyer, json={}))
    assert won["flash_item_id"] == "f-pot"
    assert row(client, app, templates, "pot-only")["halted_reason"] is None
