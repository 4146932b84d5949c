"""The availability hooks are found like privacy.py: every domain's catalog_hooks.py, and no other module."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.catalog.helpers import ITEMS, STOCK, admin, member, signed

import huoli
from huoli.catalog import service
from huoli.runtime import Runtime

SRC = Path(huoli.__file__).parent
TEA = {"id": "tea-1", "title": "明前龙井 250g", "price_fen": 12800, "stock": 30}


def test_the_hooks_are_every_domains_catalog_hooks_module() -> None:
    on_disk = sorted(p.parent.name for p in SRC.glob("*/catalog_hooks.py"))
    found = service.hook_modules()
    assert [domain for domain, _ in found] == on_disk
    for domain, module in found:
        assert module.__name__ == f"huoli.{domain}.catalog_hooks"
        # each implements at least one hook of the contract (docs/catalog.md)
        assert {"items_unavailable", "items_available", "references"} & set(vars(module)), domain


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_item_out_of_stock_stops_its_flash_sale_and_coupon_scope(
    client: TestClient, runtime: Runtime, make_app: Any
) -> None:
    """The issue's test, through the real promotions hooks: out of stock → the flash sale refuses attempts and
    the coupon scoped to the item shows halted, in the sync's own transaction; back in stock → both resume."""
    app = make_app()
    h = admin(app)
    assert signed(client, app, ITEMS, {"items": [TEA]}).status_code == 200
    now = datetime.now(UTC)
    session = {"id": "noon", "name": "午间秒杀", "starts_at": (now - timedelta(hours=1)).isoformat(),
               "ends_at": (now + timedelta(hours=2)).isoformat()}  # fmt: skip
    assert client.post("/admin/promotions/flash/sessions", headers=h, json=session).status_code == 201
    flash = {"id": "flash-tea", "session_id": "noon", "item_id": "tea-1", "price_fen": 9900,
             "original_price_fen": 12800, "stock": 20}  # fmt: skip
    assert client.post("/admin/promotions/flash/items", headers=h, json=flash).status_code == 201
    coupon = {"id": "tea-10", "name": "龙井立减10元", "kind": "fixed", "amount_fen": 1000, "valid_days": 7,
              "scope": "items", "scope_ids": ["tea-1"]}  # fmt: skip
    assert client.post("/admin/promotions/coupon-templates", headers=h, json=coupon).status_code == 201
    buyer = member(runtime, app.id, "u-1")
    attempt = "/v1/promotions/flash/items/flash-tea/attempt"

    r = signed(client, app, STOCK, {"updates": [{"item_id": "tea-1", "stock": 0}]})
    assert r.json()["unavailable"] == ["tea-1"]
    refused = client.post(attempt, headers=buyer, json={"quantity": 1})
    assert refused.status_code == 409 and refused.json()["code"] == "item_unavailable", refused.text
    template = _template(client, h, "tea-10")
    assert template["halted_reason"] == "item_unavailable"
    refs = client.get("/admin/catalog/items/tea-1", headers=h).json()["references"]
    # where used: the flash session selling it and the coupon scoped to it, each with its state
    assert {(r["domain"], r["kind"], r["id"], r["item_id"]) for r in refs} == {
        ("promotions", "flash-sessions", "noon", "tea-1"),
        ("promotions", "coupon-templates", "tea-10", "tea-1"),
    }

    r = signed(client, app, STOCK, {"updates": [{"item_id": "tea-1", "stock": 5}]})
    assert r.json()["available"] == ["tea-1"]
    assert _template(client, h, "tea-10")["halted_reason"] is None
    assert client.post(attempt, headers=buyer, json={"quantity": 1}).status_code == 200


def _template(client: TestClient, h: dict[str, str], template_id: str) -> dict[str, Any]:
    rows = client.get("/admin/promotions/coupon-templates?limit=200", headers=h).json()["items"]
    return next(t for t in rows if t["id"] == template_id)
