"""The 商品库 page in Chromium, in Chinese then English: the empty state that explains how to sync, then a synced
catalog searched and filtered on the server, an item's "where used" drawer (a real flash sale naming it), and
its stock set to 0 after a confirmation — which stops the flash sale through the promotions hook."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from tests.browser.fixtures import ConsoleSession, LiveServer
from tests.catalog.helpers import member
from tests.events.helpers import signed_headers

from huoli.apps import service as apps
from huoli.db import read_only

CATALOG: dict[str, Any] = {
    "items": [
        {"id": "tea-1", "title": "明前龙井 250g", "category_id": "food", "price_fen": 12800,
         "original_price_fen": 16800, "stock": 30, "image_url": "https://img.example.com/tea-1.jpg"},
        {"id": "cup-2", "title": "保温杯 500ml", "category_id": "home", "price_fen": 9900,
         "skus": [{"id": "cup-2-red", "title": "红色", "price_fen": 9900, "stock": 4},
                  {"id": "cup-2-blue", "title": "蓝色", "price_fen": 9900, "stock": 2}]},
        {"id": "bag-3", "title": "帆布包", "category_id": "home", "price_fen": 5900, "status": "off_shelf"},
        {"id": "nuts-4", "title": "每日坚果 30袋", "category_id": "food", "price_fen": 8990, "stock": 0},
    ]
}  # fmt: skip
CATEGORIES = {
    "categories": [{"id": "food", "name": "食品", "sort": 1}, {"id": "home", "name": "家居", "sort": 2}]
}


def _signed(server: LiveServer, app_id: str, path: str, body: dict[str, Any]) -> httpx.Response:
    with read_only(server.runtime.sessions) as db:
        secret = apps.get(db=db, app_id=app_id).server_secret
    raw = orjson.dumps(body)
    headers = {"Content-Type": "application/json", **signed_headers(app_id, secret, path, raw)}
    return httpx.post(f"{server.url}{path}", content=raw, headers=headers, timeout=30)


def _rows(console: ConsoleSession) -> Any:
    return console.page.locator("#catalog-table .el-table__body > tbody > tr")


def _wait_rows(console: ConsoleSession, n: int) -> None:
    rows = _rows(console)
    rows.nth(n - 1).wait_for()
    rows.nth(n).wait_for(state="detached")
    console.page.locator("#catalog-table[data-loading=false]").wait_for()


def test_catalog_page_walk(console: ConsoleSession, live_server: LiveServer) -> None:
    page = console.page
    owner = live_server.keys["shop"]["owner"]
    page.locator("#nav a[data-page=catalog]").click()
    console.wait_ready()
    empty = page.locator("#catalog-empty")
    empty.get_by_text("商品库还是空的").wait_for()
    assert "/v1/server/catalog/items/batch" in empty.inner_text()
    assert "huoli catalog import items.csv --app shop" in empty.inner_text()
    console.shot("catalog-empty-zh")

    assert _signed(live_server, "shop", "/v1/server/catalog/categories/batch", CATEGORIES).status_code == 200
    assert _signed(live_server, "shop", "/v1/server/catalog/items/batch", CATALOG).status_code == 200
    now = datetime.now(UTC)
    session = {"id": "flash-now", "name": "午间秒杀", "starts_at": (now - timedelta(hours=1)).isoformat(),
               "ends_at": (now + timedelta(hours=2)).isoformat()}  # fmt: skip
    assert live_server.api(owner, "POST", "/admin/promotions/flash/sessions", json=session).status_code == 201
    flash = {"id": "flash-tea", "session_id": "flash-now", "item_id": "tea-1", "price_fen": 9900,
             "original_price_fen": 12800, "stock": 20}  # fmt: skip
    assert live_server.api(owner, "POST", "/admin/promotions/flash/items", json=flash).status_code == 201

    page.reload()
    console.wait_ready()
    _wait_rows(console, 4)
    kpis = page.locator("#catalog-kpis").inner_text()
    assert "商品总数" in kpis and "缺货" in kpis
    tea = _rows(console).filter(has_text="tea-1")
    assert "¥128.00" in tea.inner_text() and "¥168.00" in tea.inner_text() and "在售" in tea.inner_text()
    nuts = _rows(console).filter(has_text="nuts-4")
    assert nuts.locator("td.col-stock .stock-zero").inner_text() == "0"  # red
    assert nuts.locator(".state-tag").inner_text() == "缺货"
    assert "不限" in _rows(console).filter(has_text="bag-3").inner_text()  # stock not tracked
    assert "2 个规格" in _rows(console).filter(has_text="cup-2").inner_text()
    console.shot("catalog-zh")

    # search (title words, then an id's start) and filters, all asked of the server and kept in the address
    page.locator("#catalog-q").fill("龙井")
    page.locator("#catalog-filter button[type=submit]").click()
    _wait_rows(console, 1)
    assert "q=%E9%BE%99%E4%BA%95" in console.api_requests("/admin/catalog/items")[-1].url
    page.locator("#catalog-q").fill("CUP")
    page.locator("#catalog-filter button[type=submit]").click()
    _wait_rows(console, 1)
    assert "cup-2" in _rows(console).first.inner_text()
    page.locator("#catalog-filter .reset").click()
    _wait_rows(console, 4)
    console.choose("#catalog-category", "家居（2）")
    page.locator("#catalog-filter button[type=submit]").click()
    _wait_rows(console, 2)
    console.choose("#catalog-state", "已下架")
    page.locator("#catalog-filter button[type=submit]").click()
    _wait_rows(console, 1)
    assert "bag-3" in _rows(console).first.inner_text() and "category=home" in page.url
    page.locator("#catalog-filter .reset").click()
    _wait_rows(console, 4)

    # where used: the flash sale that sells the tea
    tea.locator(".open-item").click()
    drawer = page.locator(".catalog-drawer")
    refs = drawer.locator("#catalog-refs")
    refs.wait_for()
    assert (
        "限时秒杀" in refs.inner_text() and "午间秒杀" in refs.inner_text() and "进行中" in refs.inner_text()
    )
    page.wait_for_timeout(400)  # the drawer's slide-in, for the picture
    console.shot("catalog-drawer-zh")

    # stock to 0, confirmed: the item is out of stock and the flash sale stops
    drawer.locator("#catalog-edit-stock").fill("0")
    drawer.locator("#catalog-edit-stock").press("Tab")
    drawer.get_by_text("保存后这个商品将不可售").wait_for()
    drawer.locator("#catalog-edit button[type=submit]").click()
    box = page.locator(".el-message-box")
    box.get_by_text("把「明前龙井 250g」的库存改为 0").wait_for()
    console.confirm()
    page.locator(".toast").get_by_text("已保存").wait_for()
    assert drawer.locator(".state-tag").first.inner_text() == "缺货"
    # the flash sale stopped with it, in the same transaction as the edit
    buyer = member(live_server.runtime, "shop", "u-1")
    attempt = httpx.post(f"{live_server.url}/v1/promotions/flash/items/flash-tea/attempt", headers=buyer,
                         json={"quantity": 1}, timeout=30)  # fmt: skip
    assert attempt.status_code == 409 and attempt.json()["code"] == "item_unavailable", attempt.text
    page.keyboard.press("Escape")
    drawer.wait_for(state="hidden")
    tea.locator(".state-tag").get_by_text("缺货").wait_for()

    page.locator("#lang-toggle").click()
    page.locator("#nav a[data-page=catalog]").get_by_text("Product catalog").wait_for()
    assert page.locator(".page-title").inner_text() == "Product catalog"
    _wait_rows(console, 4)
    assert (
        "Out of stock" in tea.inner_text()
        and "Unlimited" in _rows(console).filter(has_text="bag-3").inner_text()
    )
    console.choose("#catalog-state", "Out of stock")
    page.locator("#catalog-filter").get_by_role("button", name="Search").click()
    _wait_rows(console, 2)
    tea.locator(".open-item").click()
    drawer.get_by_text("Where it is used").wait_for()
    drawer.locator("#catalog-refs").get_by_text("Flash sale").wait_for()
    assert "Running · stopped for this item" in drawer.locator("#catalog-refs").inner_text()
    page.wait_for_timeout(400)
    console.shot("catalog-drawer-en")
    page.keyboard.press("Escape")
    drawer.wait_for(state="hidden")
    console.shot("catalog-en")
    # on a phone the price, stock and status read under the title (their columns are a scroll away)
    page.set_viewport_size({"width": 390, "height": 844})
    assert "¥128.00 · 0 · Out of stock" in tea.inner_text()
    console.shot("catalog-phone-en")
