"""GET /admin/users: the app's members for the console's user picker — newest first, cursor pages, a user id
or openid prefix (taken literally), never another app's members, never a secret, analyst role and up."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from huoli.db import unit_of_work
from huoli.runtime import Runtime
from huoli.users.models import User, WxSessionKey

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _members(runtime: Runtime, app_id: str, ids: list[str], *, openid_prefix: str = "o_") -> None:
    """Members who logged in one after another (a minute apart, in the order given), with session keys."""
    with unit_of_work(runtime.sessions, app_id=app_id) as db:
        for i, uid in enumerate(ids):
            at = T0 + timedelta(minutes=i)
            db.add(
                User(
                    id=uid,
                    app_id=app_id,
                    openid=f"{openid_prefix}{uid}",
                    unionid=f"union_{uid}",
                    created_at=at,
                    last_login_at=at + timedelta(days=1),
                )
            )
            db.add(WxSessionKey(user_id=uid, app_id=app_id, session_key="sk-secret", updated_at=at))


def _all(client: TestClient, key: str, **params: Any) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        r = client.get(
            "/admin/users", params=params | ({"cursor": cursor} if cursor else {}), headers=_auth(key)
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"items", "next_cursor"}
        seen += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen


def test_members_newest_first_in_cursor_pages(
    client: TestClient, runtime: Runtime, make_app: Callable[..., Any]
) -> None:
    shop = make_app("shop")
    ids = [f"u_{i:02d}" for i in range(7)]
    _members(runtime, "shop", ids)
    whole = client.get("/admin/users", headers=_auth(shop.keys["analyst"])).json()
    assert [u["id"] for u in whole["items"]] == ids[::-1] and whole["next_cursor"] is None
    first = whole["items"][-1]
    assert first == {
        "id": "u_00",
        "openid": "o_u_00",
        "created_at": "2026-03-01T08:00:00Z",
        "last_login_at": "2026-03-02T08:00:00Z",
    }  # no session key, no unionid, no anonymous id
    for limit in (1, 2, 3):
        paged = _all(client, shop.keys["analyst"], limit=limit)
        assert [u["id"] for u in paged] == ids[::-1]
    r = client.get("/admin/users", params={"limit": 2}, headers=_auth(shop.keys["analyst"]))
    assert len(r.json()["items"]) == 2 and r.json()["next_cursor"]


def test_prefix_of_user_id_or_openid_taken_literally(
    client: TestClient, runtime: Runtime, make_app: Callable[..., Any]
) -> None:
    shop = make_app("shop")
    _members(runtime, "shop", ["u_abc1", "u_abc2", "u_abd", "uxabc"])
    _members(runtime, "shop", ["u_zzz"], openid_prefix="oWx")
    key = shop.keys["analyst"]
    assert [u["id"] for u in _all(client, key, q="u_abc")] == ["u_abc2", "u_abc1"]
    assert [u["id"] for u in _all(client, key, q="u_ab", limit=1)] == ["u_abd", "u_abc2", "u_abc1"]
    # "_" is a LIKE wildcard: "u_" must not match "uxabc"
    assert "uxabc" not in {u["id"] for u in _all(client, key, q="u_")}
    assert [u["id"] for u in _all(client, key, q="%")] == []
    assert [u["id"] for u in _all(client, key, q="oWx")] == ["u_zzz"]  # by openid
    assert [u["id"] for u in _all(client, key, q="abc")] == []  # a prefix, not a substring
    assert len(_all(client, key, q="")) == 5  # an empty search lists everyone


def test_another_apps_members_never_listed(
    client: TestClient, runtime: Runtime, make_app: Callable[..., Any]
) -> None:
    shop, other = make_app("shop"), make_app("other")
    _members(runtime, "shop", ["u_shop1", "u_shop2"])
    _members(runtime, "other", ["u_other1", "u_shop3"])
    assert {u["id"] for u in _all(client, shop.keys["owner"])} == {"u_shop1", "u_shop2"}
    assert {u["id"] for u in _all(client, shop.keys["owner"], q="u_shop")} == {"u_shop1", "u_shop2"}
    assert {u["id"] for u in _all(client, other.keys["owner"], limit=1)} == {"u_other1", "u_shop3"}


def test_role_and_parameters_checked(client: TestClient, make_app: Callable[..., Any]) -> None:
    shop = make_app("shop")
    for role in ("analyst", "operator", "owner"):
        assert client.get("/admin/users", headers=_auth(shop.keys[role])).status_code == 200
    assert client.get("/admin/users").status_code == 401
    key = shop.keys["analyst"]
    r = client.get("/admin/users", params={"q": "x" * 129}, headers=_auth(key))
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "q"
    r = client.get("/admin/users", params={"cursor": "not base64 !"}, headers=_auth(key))
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "cursor"
    r = client.get("/admin/users", params={"limit": 201}, headers=_auth(key))
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "limit"
