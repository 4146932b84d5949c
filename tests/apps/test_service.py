"""Replacing an app's WeChat AppSecret: validated, stored encrypted, and used by the next login."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import ValidationError

from huoli.apps import service as apps
from huoli.db import unit_of_work
from huoli.runtime import Runtime

WX_APPID = "wx0123456789abcdef"
OLD, NEW = "old-app-secret-0123456789", "new-app-secret-9876543210"


def login(client: TestClient, fake_wechat) -> int:  # type: ignore[no-untyped-def]
    code = fake_wechat.issue_code("o-alice", appid=WX_APPID)
    return client.post("/v1/auth/wechat", json={"code": code}, headers={"X-Huoli-App-Id": "shop"}).status_code


def test_a_replaced_app_secret_is_used_by_the_next_login(
    client: TestClient,
    runtime: Runtime,
    make_app,
    fake_wechat,  # type: ignore[no-untyped-def]
) -> None:
    fake_wechat.register_app(WX_APPID, OLD)
    make_app("shop", wx_appid=WX_APPID, wx_secret=OLD)
    assert login(client, fake_wechat) == 200
    fake_wechat.register_app(WX_APPID, NEW)  # reset on mp.weixin.qq.com: the old secret stops working
    with unit_of_work(runtime.sessions, app_id="shop") as db:
        apps.set_wx_secret(db=db, app_id="shop", wx_secret=NEW)
    with runtime.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT wx_secret FROM apps")).scalar_one()
    assert stored.startswith("enc1:") and NEW not in stored
    runtime.app_cache._items.clear()  # as after the cache's 30 s
    assert login(client, fake_wechat) == 200  # a new WeChat client with the new secret, not the cached one


def test_a_bad_app_secret_is_refused(runtime: Runtime, make_app) -> None:  # type: ignore[no-untyped-def]
    make_app("shop", wx_appid=WX_APPID, wx_secret=OLD)
    with (
        unit_of_work(runtime.sessions, app_id="shop") as db,
        pytest.raises(ValidationError, match="wx_secret"),
    ):
        apps.set_wx_secret(db=db, app_id="shop", wx_secret="short")
    with unit_of_work(runtime.sessions) as db:
        assert apps.get(db=db, app_id="shop").wx_secret == OLD
