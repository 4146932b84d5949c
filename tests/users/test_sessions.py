"""Revocable sessions over HTTP: POST /v1/auth/logout and POST /admin/users/{id}/revoke-sessions, in the
process that revoked and in another process (a `serve --workers` worker) within the cache's TTL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from huoli.app import create_app
from huoli.audit.models import AuditEntry
from huoli.db import unit_of_work
from huoli.runtime import Runtime, build_worker_runtime
from huoli.settings import Settings

WX_APPID = "wx0123456789abcdef"
WX_SECRET = "s3cret-for-shop-0123456789"
WORKER_TTL_S = 0.5


@pytest.fixture
def shop(make_app, fake_wechat):  # type: ignore[no-untyped-def]
    fake_wechat.register_app(WX_APPID, WX_SECRET)
    return make_app("shop", wx_appid=WX_APPID, wx_secret=WX_SECRET)


@pytest.fixture
def worker(settings: Settings, runtime: Runtime, clock) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """Another process on the same database: its own revocation cache, with a short TTL."""
    rt = build_worker_runtime(
        settings.model_copy(update={"revocation_cache_ttl_s": WORKER_TTL_S}), clock=clock
    )
    try:
        with TestClient(create_app(runtime=rt)) as c:
            yield c
    finally:
        rt.close()


def login(client: TestClient, fake_wechat, openid: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    r = client.post(
        "/v1/auth/wechat",
        json={"code": fake_wechat.issue_code(openid, appid=WX_APPID)},
        headers={"X-Huoli-App-Id": "shop"},
    )
    assert r.status_code == 200, r.text
    return r.json()["token"], r.json()["user_id"]


def call(client: TestClient, token: str) -> tuple[int, str | None]:
    """An authenticated mini-program call: (status, error code)."""
    r = client.get(
        "/v1/loyalty/points", headers={"X-Huoli-App-Id": "shop", "Authorization": f"Bearer {token}"}
    )
    return r.status_code, (r.json().get("code") if r.status_code != 200 else None)


def logout(client: TestClient, token: str) -> int:
    r = client.post("/v1/auth/logout", headers={"X-Huoli-App-Id": "shop", "Authorization": f"Bearer {token}"})
    return r.status_code


def admin(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def refused_within(client: TestClient, token: str, bound_s: float) -> float:
    """Seconds until `client` refuses `token` as revoked; fails past `bound_s`."""
    started = time.monotonic()
    while call(client, token) != (401, "revoked_token"):
        assert time.monotonic() - started < bound_s, "revocation not seen within the cache TTL"
        time.sleep(0.05)
    return time.monotonic() - started


def test_logout_revokes_that_token_only(client: TestClient, shop, fake_wechat) -> None:  # type: ignore[no-untyped-def]
    token, _ = login(client, fake_wechat, "o-alice")
    other_device, _ = login(client, fake_wechat, "o-alice")
    bob, _ = login(client, fake_wechat, "o-bob")
    assert call(client, token) == (200, None)
    assert logout(client, token) == 204
    assert call(client, token) == (401, "revoked_token")  # the process that revoked: at once
    assert call(client, other_device) == (200, None) and call(client, bob) == (200, None)
    assert logout(client, token) == 204  # idempotent: an SDK may retry a logout
    r = client.post("/v1/auth/logout", headers={"X-Huoli-App-Id": "shop"})
    assert r.status_code == 401 and r.json()["code"] == "missing_token"
    r = client.post(
        "/v1/auth/logout", headers={"X-Huoli-App-Id": "shop", "Authorization": "Bearer forged.token.x"}
    )
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"


def test_another_process_refuses_a_logged_out_token_within_the_ttl(
    client: TestClient,
    worker: TestClient,
    shop,  # type: ignore[no-untyped-def]
    fake_wechat,  # type: ignore[no-untyped-def]
) -> None:
    token, _ = login(client, fake_wechat, "o-alice")
    bob, _ = login(client, fake_wechat, "o-bob")
    assert call(worker, token) == (200, None) and call(worker, bob) == (200, None)  # its cache is loaded
    assert logout(client, token) == 204
    refused_within(worker, token, WORKER_TTL_S + 1.0)
    assert call(worker, bob) == (200, None)


def test_operator_revokes_every_session_of_a_user(
    client: TestClient,
    worker: TestClient,
    runtime: Runtime,
    shop,  # type: ignore[no-untyped-def]
    fake_wechat,  # type: ignore[no-untyped-def]
) -> None:
    phone, alice = login(client, fake_wechat, "o-alice")
    laptop, _ = login(client, fake_wechat, "o-alice")
    bob, _ = login(client, fake_wechat, "o-bob")
    assert call(worker, phone) == (200, None)
    r = client.post(f"/admin/users/{alice}/revoke-sessions", headers=admin(shop.keys["operator"]))
    assert r.status_code == 200, r.text
    assert r.json()["user_id"] == alice and r.json()["revoked_before"]
    assert call(client, phone) == (401, "revoked_token") and call(client, laptop) == (401, "revoked_token")
    assert call(client, bob) == (200, None)
    refused_within(worker, laptop, WORKER_TTL_S + 1.0)
    assert call(worker, bob) == (200, None)
    revoked_second = int(datetime.fromisoformat(r.json()["revoked_before"]).timestamp())
    time.sleep(max(0.0, revoked_second + 1 - time.time()))  # it covers tokens issued up to its second
    fresh, same = login(client, fake_wechat, "o-alice")
    assert same == alice and call(client, fresh) == (200, None) and call(worker, fresh) == (200, None)
    with unit_of_work(runtime.sessions, app_id="shop") as db:  # the operator's action is in the audit trail
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action.contains("revoke-sessions"))).one()
        assert entry.target == {"user_id": alice}


def test_revoking_needs_an_operator_and_a_user_of_the_keys_app(
    client: TestClient,
    make_app,
    shop,  # type: ignore[no-untyped-def]
    fake_wechat,  # type: ignore[no-untyped-def]
) -> None:
    token, alice = login(client, fake_wechat, "o-alice")
    other = make_app("other")
    path = f"/admin/users/{alice}/revoke-sessions"
    assert client.post(path, headers=admin(shop.keys["analyst"])).status_code == 403
    r = client.post(path, headers=admin(other.keys["owner"]))  # another app's operator
    assert r.status_code == 404 and r.json()["code"] == "unknown_user"
    r = client.post("/admin/users/u_nobody/revoke-sessions", headers=admin(shop.keys["owner"]))
    assert r.status_code == 404
    assert call(client, token) == (200, None)
