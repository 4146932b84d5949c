"""Member lookup tells a member from a user id nobody has ever seen (issue 23: a typo showed a zero balance
with a points-adjust form, for a phantom user)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.loyalty.helpers import admin, signed_post

from huoli.db import unit_of_work
from huoli.runtime import Runtime
from huoli.users.models import User


@pytest.fixture
def shop(make_app: Any) -> Any:
    return make_app("shop")


def _known(client: TestClient, shop: Any, user_id: str) -> bool:
    r = client.get(f"/admin/loyalty/members/{user_id}/ledger", headers=admin(shop, "analyst"))
    assert r.status_code == 200, r.text
    return bool(r.json()["known"])


def test_a_user_id_nobody_has_seen_is_not_a_member(client: TestClient, runtime: Runtime, shop: Any) -> None:
    assert _known(client, shop, "u_typo") is False
    # A member with a points history (the merchant's backend credited an action) is known.
    r = signed_post(
        client, shop, "/v1/server/loyalty/actions", {"user_id": "u_buyer", "action": "review", "key": "r1"}
    )
    assert r.status_code == 200, r.text
    assert _known(client, shop, "u_buyer") is True
    # So is a mini-program user who logged in but never earned anything.
    with unit_of_work(runtime.sessions, app_id=shop.id) as db:
        db.add(User(id="u_login", app_id=shop.id, openid="o_login"))
    assert _known(client, shop, "u_login") is True


def test_another_apps_member_is_unknown_here(client: TestClient, make_app: Any, shop: Any) -> None:
    other = make_app("other")
    r = signed_post(
        client, other, "/v1/server/loyalty/actions", {"user_id": "u_x", "action": "review", "key": "r1"}
    )
    assert r.status_code == 200, r.text
    assert _known(client, other, "u_x") is True
    assert _known(client, shop, "u_x") is False
