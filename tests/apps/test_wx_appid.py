"""X-Huoli-App-Id accepts the mini-program's WeChat AppID (what its developer has) as well as the huoli app id.

Issue 23: the SDK README asked for the `wx…` AppID while the server wanted the huoli id, so every batch of a
developer who followed the README was refused 404 unknown_app (and the SDK dropped it).
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.events.helpers import dumps, event

from huoli.runtime import Runtime

WX_APPID = "wx0123456789abcdef"
WX_SECRET = "s3cret-for-shop-0123456789"


def post_events(client: TestClient, app_header: str, *events: dict[str, object], **headers: str) -> object:
    return client.post(
        "/v1/events",
        content=dumps({"events": list(events)}),
        headers={"X-Huoli-App-Id": app_header, **headers},
    )


def test_events_sent_with_the_wechat_appid_land_in_the_huoli_app(
    client: TestClient,
    runtime: Runtime,
    make_app,  # type: ignore[no-untyped-def]
) -> None:
    shop = make_app("shop", wx_appid=WX_APPID)
    make_app("other", wx_appid="wxfedcba9876543210")
    r = post_events(client, WX_APPID, event("favorite"), event("page_view"))
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 2
    assert runtime.store.count(app_id=shop.id) == 2
    assert runtime.store.count(app_id="other") == 0
    # Kept in the cache under the value presented, so the next batch costs no database read.
    cached = runtime.app_cache.peek(WX_APPID)
    assert cached is not None and cached.id == shop.id
    # The huoli id still works, for the same app.
    assert post_events(client, shop.id, event("favorite")).status_code == 200
    assert runtime.store.count(app_id=shop.id) == 3


def test_unknown_appid_is_still_404_unknown_app(client: TestClient, make_app) -> None:  # type: ignore[no-untyped-def]
    make_app("shop", wx_appid=WX_APPID)
    for value in ("wx00000000000000ff", "nope", "x" * 300):
        r = post_events(client, value, event("favorite"))
        assert r.status_code == 404 and r.json()["code"] == "unknown_app", (value, r.text)
    # An app with no AppID is reachable only by its id: a null wx_appid matches nothing.
    make_app("plain")
    assert post_events(client, "plain", event("favorite")).status_code == 200


def test_an_app_id_wins_over_another_apps_wechat_appid(
    client: TestClient,
    runtime: Runtime,
    make_app,  # type: ignore[no-untyped-def]
) -> None:
    # App ids are slugs, so an id may spell like an AppID; the id is looked up first.
    make_app(WX_APPID)
    make_app("shop", wx_appid=WX_APPID)
    assert post_events(client, WX_APPID, event("favorite")).status_code == 200
    assert runtime.store.count(app_id=WX_APPID) == 1
    assert runtime.store.count(app_id="shop") == 0


def test_login_and_a_logged_in_call_with_the_wechat_appid(
    client: TestClient,
    runtime: Runtime,
    make_app,  # type: ignore[no-untyped-def]
    fake_wechat,  # type: ignore[no-untyped-def]
) -> None:
    fake_wechat.register_app(WX_APPID, WX_SECRET)
    shop = make_app("shop", wx_appid=WX_APPID, wx_secret=WX_SECRET)
    code = fake_wechat.issue_code("oOPENID-7", appid=WX_APPID)
    r = client.post(
        "/v1/auth/wechat", json={"code": code, "anonymous_id": "anon-7"}, headers={"X-Huoli-App-Id": WX_APPID}
    )
    assert r.status_code == 200, r.text
    bearer = {"Authorization": f"Bearer {r.json()['token']}"}
    # The token names the huoli app, so it is accepted under either header value.
    for header in (WX_APPID, shop.id):
        e = event("favorite")
        del e["anonymous_id"]
        assert post_events(client, header, e, **bearer).status_code == 200
        flags = client.get("/v1/flags", headers={"X-Huoli-App-Id": header, **bearer})
        assert flags.status_code == 200, flags.text
    assert runtime.store.count(app_id=shop.id, name="favorite") == 2
