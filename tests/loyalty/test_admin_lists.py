"""The operators' loyalty lists (badges, tasks, mall items) answer `Page`: paged with small limits they yield
every row once in key order, only this app's rows; a cursor they did not give or a limit out of range is a 422
on that field (SQLite, PostgreSQL). The mini-program lists stay plain arrays."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.loyalty.helpers import admin, mp_headers

from huoli.pagination import DEFAULT_LIMIT, MAX_LIMIT
from huoli.runtime import Runtime

BADGES, TASKS, ITEMS = "/admin/loyalty/badges", "/admin/loyalty/tasks", "/admin/loyalty/mall/items"


def _badge(client: TestClient, app: Any, code: str) -> None:
    r = client.post(BADGES, json={"code": code, "name": f"勋章{code}"}, headers=admin(app, "operator"))
    assert r.status_code == 200, r.text


def _task(client: TestClient, app: Any, code: str) -> None:
    body = {"code": code, "name": f"任务{code}", "event": "page_view", "target": 2}
    r = client.post(TASKS, json=body, headers=admin(app, "operator"))
    assert r.status_code == 200, r.text


def _item(client: TestClient, app: Any, item_id: str, points: int, *, active: bool = True) -> None:
    body = {"id": item_id, "name": f"商品{item_id}", "kind": "goods", "points": points, "active": active}
    r = client.put(ITEMS, json=body, headers=admin(app, "operator"))
    assert r.status_code == 200, r.text


def _seed_badges(client: TestClient, app: Any) -> None:
    for code in ("b3", "b1", "b5", "b0", "b4", "b2"):  # defined out of order: the list sorts by code
        _badge(client, app, code)


def _seed_tasks(client: TestClient, app: Any) -> None:
    for code in ("t3", "t1", "t5", "t0", "t4", "t2", "t9"):
        _task(client, app, code)
    assert client.delete(f"{TASKS}/t9", headers=admin(app, "operator")).status_code == 204


def _seed_items(client: TestClient, app: Any) -> None:
    # points descending against ids: the admin list follows ids, not the members' points order
    for i, item_id in enumerate(("m3", "m1", "m5", "m0", "m4", "m2")):
        _item(client, app, item_id, 100 - i, active=item_id != "m4")


LISTS: list[tuple[str, str, Callable[[TestClient, Any], None], list[str]]] = [
    (BADGES, "code", _seed_badges, ["b0", "b1", "b2", "b3", "b4", "b5"]),
    (TASKS, "code", _seed_tasks, ["t0", "t1", "t2", "t3", "t4", "t5"]),  # t9 deactivated: not listed
    (ITEMS, "id", _seed_items, ["m0", "m1", "m2", "m3", "m4", "m5"]),  # m4 inactive: listed for operators
]


def _walk(client: TestClient, path: str, headers: dict[str, str], limit: int) -> tuple[list[Any], int]:
    seen: list[Any] = []
    cursor, pages = None, 0
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
            return seen, pages


@pytest.mark.parametrize(("path", "ident", "seed", "order"), LISTS, ids=[p for p, *_ in LISTS])
def test_pages_chain_to_the_whole_list_once_in_key_order(
    client: TestClient,
    make_app: Callable[..., Any],
    path: str,
    ident: str,
    seed: Callable[[TestClient, Any], None],
    order: list[str],
) -> None:
    shop, other = make_app("shop"), make_app("other")
    seed(client, shop)
    seed(client, other)  # the other app's rows share the keys: still never on shop's pages
    headers = admin(shop, "analyst")
    whole = client.get(path, params={"limit": MAX_LIMIT}, headers=headers).json()
    assert [row[ident] for row in whole["items"]] == order and whole["next_cursor"] is None
    assert client.get(path, headers=headers).json() == whole
    for limit in (1, 2, 4, 5):
        seen, pages = _walk(client, path, headers, limit)
        assert seen == whole["items"]
        assert pages == -(-len(order) // limit)


def test_items_a_page_showed_never_come_back_when_repriced_or_added_before(
    client: TestClient, make_app: Callable[..., Any]
) -> None:
    shop = make_app("shop")
    _seed_items(client, shop)
    headers = admin(shop, "analyst")
    first = client.get(ITEMS, params={"limit": 2}, headers=headers).json()
    assert [i["id"] for i in first["items"]] == ["m0", "m1"]
    # meanwhile an operator reprices a shown item to the top and adds one that sorts before the cursor
    _item(client, shop, "m0", 99_999)
    _item(client, shop, "a0", 1)
    rest: list[str] = []
    cursor = first["next_cursor"]
    while cursor:
        page = client.get(ITEMS, params={"limit": 2, "cursor": cursor}, headers=headers).json()
        rest += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
    assert rest == ["m2", "m3", "m4", "m5"]


def test_default_page_is_fifty_and_max_limit_takes_the_rest(
    client: TestClient, make_app: Callable[..., Any]
) -> None:
    shop = make_app("shop")
    codes = [f"b{i:03d}" for i in range(DEFAULT_LIMIT + 1)]
    for code in codes:
        _badge(client, shop, code)
    first = client.get(BADGES, headers=admin(shop)).json()
    assert [b["code"] for b in first["items"]] == codes[:DEFAULT_LIMIT] and first["next_cursor"]
    last = client.get(BADGES, params={"cursor": first["next_cursor"]}, headers=admin(shop)).json()
    assert [b["code"] for b in last["items"]] == codes[DEFAULT_LIMIT:] and last["next_cursor"] is None
    whole = client.get(BADGES, params={"limit": MAX_LIMIT}, headers=admin(shop)).json()
    assert len(whole["items"]) == DEFAULT_LIMIT + 1 and whole["next_cursor"] is None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


BAD_CURSORS = [
    "not base64 !",
    _b64(b"[1]"),  # an id-keyed list's cursor: these lists key on text
    _b64(b'["b1", 2]'),  # two keys for a one-key order
    _b64(b'{"code": "b1"}'),
    _b64(b"[null]"),
    _b64(b"[true]"),
    "x" * 513,  # longer than any cursor the API gives
]


@pytest.mark.parametrize("path", [BADGES, TASKS, ITEMS])
def test_bad_cursor_or_limit_is_422_on_that_field(
    client: TestClient, make_app: Callable[..., Any], path: str
) -> None:
    headers = admin(make_app("shop"), "analyst")
    for cursor in BAD_CURSORS:
        r = client.get(path, params={"cursor": cursor}, headers=headers)
        assert r.status_code == 422, (cursor, r.text)
        assert [d["field"] for d in r.json()["details"]] == ["cursor"], (cursor, r.text)
    for limit in (0, -1, MAX_LIMIT + 1, "x"):
        r = client.get(path, params={"limit": limit}, headers=headers)
        assert r.status_code == 422, (limit, r.text)
        assert [d["field"] for d in r.json()["details"]] == ["limit"], (limit, r.text)
    assert client.get(path, params={"limit": 1}, headers=headers).status_code == 200
    assert client.get(path, params={"limit": MAX_LIMIT}, headers=headers).status_code == 200


def test_member_lists_stay_plain_arrays(
    client: TestClient, runtime: Runtime, make_app: Callable[..., Any]
) -> None:
    shop = make_app("shop")
    _seed_badges(client, shop)
    _seed_tasks(client, shop)
    _seed_items(client, shop)
    h = mp_headers(runtime, shop.id, "u_1")
    assert [b["code"] for b in client.get("/v1/loyalty/badges", headers=h).json()] == [
        "b3",
        "b1",
        "b5",
        "b0",
        "b4",
        "b2",
    ]  # the showcase keeps its definition order
    assert [t["code"] for t in client.get("/v1/loyalty/tasks", headers=h).json()] == [
        "t0",
        "t1",
        "t2",
        "t3",
        "t4",
        "t5",
    ]
    # active only, cheapest first
    assert [i["id"] for i in client.get("/v1/loyalty/mall/items", headers=h).json()] == [
        "m2",
        "m0",
        "m5",
        "m1",
        "m3",
    ]
