"""POST /v1/auth/wechat through our real WeChat client against the fake WeChat server."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.events.helpers import dumps, event

from huoli.db import unit_of_work
from huoli.events.models import OutboxEvent
from huoli.runtime import Runtime
from huoli.users.models import User, WxSessionKey

WX_APPID = "wx0123456789abcdef"
WX_SECRET = "s3cret-for-shop-0123456789"


@pytest.fixture
def shop(make_app, fake_wechat):  # type: ignore[no-untyped-def]
    fake_wechat.register_app(WX_APPID, WX_SECRET)
    return make_app("shop", wx_appid=WX_APPID, wx_secret=WX_SECRET)


def login(client: TestClient, app_id: str, code: str, anonymous_id: str | None = "anon-9") -> object:
    body = {"code": code} | ({"anonymous_id": anonymous_id} if anonymous_id else {})
    return client.post("/v1/auth/wechat", json=body, headers={"X-Huoli-App-Id": app_id})


def wait_for(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_login_issues_token_and_keeps_session_key_server_side(
    client: TestClient,
    runtime: Runtime,
    shop,
    fake_wechat,  # type: ignore[no-untyped-def]
) -> None:
    code = fake_wechat.issue_code("oOPENID-1", "uUNION-1", appid=WX_APPID)
    r = login(client, shop.id, code)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"token", "user_id", "expires_at", "is_new"} and body["is_new"] is True
    assert "oOPENID-1" not in r.text and "session_key" not in r.text
    with unit_of_work(runtime.sessions, app_id=shop.id) as db:
        user = db.scalars(select(User)).one()
        assert (user.id, user.openid, user.unionid) == (body["user_id"], "oOPENID-1", "uUNION-1")
        assert db.get(WxSessionKey, user.id) is not None
    # The session token identifies the user on events.
    e = event("favorite")
    del e["anonymous_id"]
    r2 = client.post(
        "/v1/events",
        content=dumps({"events": [e]}),
        headers={"X-Huoli-App-Id": shop.id, "Authorization": f"Bearer {body['token']}"},
    )
    assert r2.json()["accepted"] == 1
    # The login event reaches the log through the outbox, linking device and user.
    wait_for(lambda: runtime.store.count(app_id=shop.id, name="login") == 1)
    row = runtime.store.query(
        "SELECT user_id, anonymous_id, source FROM events WHERE name = 'login'"
    ).to_pylist()[0]
    assert row == {"user_id": body["user_id"], "anonymous_id": "anon-9", "source": "server"}
    # Second login: same user id, not new.
    again = login(client, shop.id, fake_wechat.issue_code("oOPENID-1", appid=WX_APPID)).json()
    assert again["user_id"] == body["user_id"] and again["is_new"] is False


def test_login_errors(client: TestClient, runtime: Runtime, shop, fake_wechat, make_app) -> None:  # type: ignore[no-untyped-def]
    code = fake_wechat.issue_code("oOPENID-2", appid=WX_APPID)
    assert login(client, shop.id, code).status_code == 200
    used = login(client, shop.id, code)
    assert used.status_code == 401 and used.json()["code"] == "invalid_code"
    fake_wechat.fail_next(1, "busy")
    busy = login(client, shop.id, fake_wechat.issue_code("oOPENID-3", appid=WX_APPID))
    assert busy.status_code == 503
    bad = client.post("/v1/auth/wechat", json={"code": ""}, headers={"X-Huoli-App-Id": shop.id})
    assert bad.status_code == 422 and bad.json()["details"][0]["field"] == "code"
    extra = client.post(
        "/v1/auth/wechat", json={"code": "x", "openid": "o"}, headers={"X-Huoli-App-Id": shop.id}
    )
    assert extra.status_code == 422
    assert login(client, "nope", "c").status_code == 404
    unconfigured = make_app("plain")
    r = login(client, unconfigured.id, "c")
    assert r.status_code == 400 and r.json()["code"] == "wechat_not_configured"
    with unit_of_work(runtime.sessions) as db:
        assert len(db.scalars(select(User)).all()) == 1
        # Only the one successful login's event was ever written.
        assert (
            len(db.scalars(select(OutboxEvent)).all()) + runtime.store.count(app_id=shop.id, name="login")
            == 1
        )
