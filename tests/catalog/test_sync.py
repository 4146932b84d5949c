"""The catalog's signed sync calls and the operators' list: idempotent upserts (the same body twice writes and
logs nothing), stock flips that log once, 422s naming their field with nothing written, apps kept apart."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.catalog.helpers import CATEGORIES, ITEMS, STOCK, admin, signed
from tests.events.helpers import count, logged

from huoli.catalog.models import CatalogCategory, CatalogItem, CatalogSku
from huoli.db import unit_of_work
from huoli.runtime import Runtime

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

BODY: dict[str, Any] = {
    "items": [
        {"id": "tea-1", "title": "明前龙井 250g", "category_id": "food", "price_fen": 12800,
         "original_price_fen": 16800, "stock": 30, "image_url": "https://img.example.com/tea-1.jpg"},
        {"id": "cup-2", "title": "保温杯 500ml", "category_id": "home", "price_fen": 9900,
         "skus": [{"id": "cup-2-red", "title": "红色", "price_fen": 9900, "stock": 4},
                  {"id": "cup-2-blue", "title": "蓝色", "price_fen": 9900, "stock": 0}]},
        {"id": "gone-3", "title": "停产耳机", "price_fen": 19900, "stock": 0},
        {"id": "bag-4", "title": "帆布包", "price_fen": 5900, "status": "off_shelf"},
    ]
}  # fmt: skip


def _rows(runtime: Runtime, app_id: str) -> list[tuple[Any, ...]]:
    with unit_of_work(runtime.sessions, app_id=app_id) as db:
        items = [
            (i.id, i.title, i.price_fen, i.stock, i.status, i.available, i.updated_at)
            for i in db.scalars(select(CatalogItem).order_by(CatalogItem.id))
        ]
        skus = [(s.item_id, s.id, s.stock) for s in db.scalars(select(CatalogSku).order_by(CatalogSku.id))]
    return [*items, *skus]


def test_sync_is_idempotent_and_flips_log_once(client: TestClient, runtime: Runtime, make_app: Any) -> None:
    app = make_app()
    r = signed(client, app, ITEMS, BODY)
    assert r.status_code == 200, r.text
    # new items that arrive unavailable are announced too: activities may name ids before the backend sends them
    assert r.json() == {
        "created": 4, "updated": 0, "unchanged": 0, "unavailable": ["gone-3", "bag-4"], "available": []
    }  # fmt: skip
    first = _rows(runtime, app.id)
    assert [(row[0], row[3], row[5]) for row in first[:4]] == [
        ("bag-4", None, False),  # stock not tracked, but off the shelf
        ("cup-2", 4, True),  # the SKUs' total
        ("gone-3", 0, False),
        ("tea-1", 30, True),
    ]

    again = signed(client, app, ITEMS, BODY)  # a fresh signature, the same body
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 4, "unavailable": [], "available": []}
    assert _rows(runtime, app.id) == first  # not even updated_at moved
    assert logged(runtime, app.id, "catalog_item_unavailable") == 2

    # the red SKU sells out: the item's total reaches 0, once
    out = {"updates": [{"item_id": "cup-2", "sku_id": "cup-2-red", "stock": 0}]}
    assert signed(client, app, STOCK, out).json()["unavailable"] == ["cup-2"]
    assert signed(client, app, STOCK, out).json() == {
        "created": 0, "updated": 0, "unchanged": 1, "unavailable": [], "available": []
    }  # fmt: skip
    back = {"updates": [{"item_id": "cup-2", "sku_id": "cup-2-blue", "stock": 7},
                        {"item_id": "gone-3", "stock": 2}]}  # fmt: skip
    assert signed(client, app, STOCK, back).json()["available"] == ["cup-2", "gone-3"]
    assert logged(runtime, app.id, "catalog_item_unavailable") == 3
    assert logged(runtime, app.id, "catalog_item_available") == 2
    # the sync body again: it says 0 for gone-3 and the old SKU stocks, so those flips happen again
    assert signed(client, app, ITEMS, BODY).json()["unavailable"] == ["gone-3"]
    assert signed(client, app, ITEMS, BODY).json()["updated"] == 0

    cats = {
        "categories": [{"id": "food", "name": "食品", "sort": 1}, {"id": "home", "name": "家居", "sort": 2}]
    }
    assert signed(client, app, CATEGORIES, cats).json()["created"] == 2
    assert signed(client, app, CATEGORIES, cats).json()["unchanged"] == 2
    listed = client.get("/admin/catalog/categories", headers=admin(app, "analyst")).json()["items"]
    assert [(c["id"], c["name"], c["items"]) for c in listed] == [("food", "食品", 1), ("home", "家居", 1)]


def test_bad_input_answers_422_on_its_field_and_writes_nothing(
    client: TestClient, runtime: Runtime, make_app: Any
) -> None:
    app = make_app()
    bad = {"items": [BODY["items"][0], {**BODY["items"][1], "price_fen": -1}, {**BODY["items"][0]}]}
    r = signed(client, app, ITEMS, bad)
    assert r.status_code == 422
    assert [d["field"] for d in r.json()["details"]] == ["items.1.price_fen"]
    r = signed(client, app, ITEMS, {"items": [BODY["items"][0], {**BODY["items"][2], "status": "gone"}]})
    assert [d["field"] for d in r.json()["details"]] == ["items.1.status"]
    # rules across fields and rows are named by path too
    dup = {"items": [BODY["items"][0], BODY["items"][0], {**BODY["items"][1], "stock": 99}]}
    r = signed(client, app, ITEMS, dup)
    assert r.status_code == 422
    assert [d["field"] for d in r.json()["details"]] == ["items.1.id", "items.2.stock"]
    assert count(runtime, app.id, CatalogItem) == 0

    assert signed(client, app, ITEMS, {"items": [BODY["items"][1]]}).status_code == 200
    r = signed(client, app, STOCK, {"updates": [{"item_id": "cup-2", "sku_id": "cup-2-red", "stock": 1},
                                               {"item_id": "nope", "stock": 1},
                                               {"item_id": "cup-2", "stock": 3}]})  # fmt: skip
    assert r.status_code == 422
    assert [d["field"] for d in r.json()["details"]] == ["updates.1.item_id", "updates.2.sku_id"]
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        assert db.get(CatalogSku, (app.id, "cup-2", "cup-2-red")).stock == 4  # the valid row was not applied

    r = client.put("/admin/catalog/items/cup-2", headers=admin(app), json={"stock": 5})
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "stock"
    r = client.put("/admin/catalog/items/cup-2", headers=admin(app), json={"status": "sold"})
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "status"
    assert client.put("/admin/catalog/items/nope", headers=admin(app), json={}).status_code == 404
    # analysts read, never write
    assert client.put("/admin/catalog/items/cup-2", headers=admin(app, "analyst"), json={}).status_code == 403
    assert signed(client, app, CATEGORIES, {"categories": [{"id": "x", "name": ""}]}).status_code == 422
    assert count(runtime, app.id, CatalogCategory) == 0


def test_apps_are_apart(client: TestClient, runtime: Runtime, make_app: Any) -> None:
    a, b = make_app(), make_app()
    assert signed(client, a, ITEMS, BODY).status_code == 200
    other = {"items": [{**BODY["items"][0], "title": "B 店的茶", "stock": 5}]}
    assert signed(client, b, ITEMS, other).json()["created"] == 1  # the same id is B's own item
    before = _rows(runtime, a.id)

    assert signed(client, b, STOCK, {"updates": [{"item_id": "tea-1", "stock": 0}]}).json()[
        "unavailable"
    ] == ["tea-1"]
    r = client.put("/admin/catalog/items/tea-1", headers=admin(b), json={"status": "off_shelf"})
    assert r.json()["status"] == "off_shelf" and r.json()["title"] == "B 店的茶"
    assert _rows(runtime, a.id) == before  # A's tea is untouched

    # B's operators see B's one item; A's others do not exist for them
    listed = client.get("/admin/catalog/items", headers=admin(b)).json()["items"]
    assert [(i["id"], i["title"]) for i in listed] == [("tea-1", "B 店的茶")]
    assert client.get("/admin/catalog/items/cup-2", headers=admin(b)).status_code == 404
    assert client.put("/admin/catalog/items/cup-2", headers=admin(b), json={"stock": 1}).status_code == 404
    # a stock update naming A's item from B's backend is an unknown item
    r = signed(client, b, STOCK, {"updates": [{"item_id": "gone-3", "stock": 9}]})
    assert r.status_code == 422
    assert client.get("/admin/catalog/items/gone-3", headers=admin(a)).json()["stock"] == 0


def test_admin_list_searches_filters_sorts_and_pages(client: TestClient, make_app: Any) -> None:
    app = make_app()
    signed(client, app, ITEMS, BODY)
    signed(client, app, CATEGORIES, {"categories": [{"id": "food", "name": "食品"}]})
    h = admin(app, "analyst")

    def ids(query: str) -> list[str]:
        r = client.get(f"/admin/catalog/items?{query}", headers=h)
        assert r.status_code == 200, r.text
        return [i["id"] for i in r.json()["items"]]

    assert ids("q=龙井") == ["tea-1"]  # part of the title
    assert ids("q=CUP") == ["cup-2"]  # the start of an id, any case
    assert ids("q=%25") == []  # % is a character, not a wildcard
    assert ids("category_id=food") == ["tea-1"]
    assert ids("status=off_shelf") == ["bag-4"]
    assert ids("available=false") == ["bag-4", "gone-3"]
    assert ids("sort=-price_fen") == ["gone-3", "tea-1", "cup-2", "bag-4"]
    first = client.get("/admin/catalog/items?limit=3&sort=title", headers=h).json()
    rest = client.get(
        f"/admin/catalog/items?limit=3&sort=title&cursor={first['next_cursor']}", headers=h
    ).json()
    assert len(first["items"]) == 3 and len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert client.get("/admin/catalog/items?sort=stock", headers=h).status_code == 422
    row = client.get("/admin/catalog/items?q=tea", headers=h).json()["items"][0]
    assert (row["category_name"], row["price_fen"], row["original_price_fen"]) == ("食品", 12800, 16800)
    cup = client.get("/admin/catalog/items/cup-2", headers=h).json()
    assert [(s["id"], s["stock"]) for s in cup["skus"]] == [("cup-2-red", 4), ("cup-2-blue", 0)]
    assert isinstance(cup["references"], list)
    summary = client.get("/admin/catalog/summary", headers=h).json()
    assert {k: summary[k] for k in ("items", "on_sale", "out_of_stock", "off_shelf", "categories")} == {
        "items": 4, "on_sale": 3, "out_of_stock": 1, "off_shelf": 1, "categories": 1
    }  # fmt: skip
