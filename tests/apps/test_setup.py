"""Setting an app up over the admin API (issue 23): a new app by an owner or on a fresh local server's first
run, the WeChat credentials (AppSecret write-only), the HMAC signing secret, keys, and the setup checklist."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.events.helpers import dumps, event, signed_headers

from huoli.app import create_app
from huoli.apps import service
from huoli.apps.models import App
from huoli.audit.models import AuditEntry
from huoli.auth.service import prune_nonces
from huoli.db import unit_of_work
from huoli.runtime import Runtime

WX_APPID = "wx0123456789abcdef"
WX_SECRET = "0123456789abcdef0123456789abcdef"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def fields(r: Any) -> dict[str, str]:
    return {d["field"]: d["message"] for d in r.json()["details"] or []}


@pytest.fixture
def local(runtime: Runtime) -> Iterator[TestClient]:
    """A browser on the server's own machine: loopback peer, socket and Host."""
    with TestClient(
        create_app(runtime=runtime), base_url="http://127.0.0.1:8000", client=("127.0.0.1", 50123)
    ) as c:
        yield c


def test_first_run_creates_the_first_app_once_from_this_machine(
    local: TestClient, client: TestClient, runtime: Runtime
) -> None:
    assert local.get("/admin/setup/first-run").json() == {"available": True, "reason": None}
    # Another machine learns nothing and creates nothing, even while no app exists.
    assert client.get("/admin/setup/first-run").json() == {"available": False, "reason": "not_local"}
    r = client.post("/admin/setup/first-run", json={"id": "shop", "name": "小店"})
    assert r.status_code == 403 and r.json()["code"] == "first_run_not_local"

    r = local.post("/admin/setup/first-run", json={"id": "Shop!", "name": " ", "timezone": "Mars/Olympus"})
    assert r.status_code == 422 and set(fields(r)) == {"id", "name", "timezone"}

    r = local.post("/admin/setup/first-run", json={"id": "shop", "name": "小店"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["app"] == {**created["app"], "id": "shop", "timezone": "Asia/Shanghai", "wx_appid": None}
    assert created["key"]["role"] == "owner" and created["key"]["key"].startswith("hlk_")
    assert local.get("/admin/app", headers=auth(created["key"]["key"])).json()["name"] == "小店"

    assert local.get("/admin/setup/first-run").json() == {"available": False, "reason": "apps_exist"}
    r = local.post("/admin/setup/first-run", json={"id": "second", "name": "second"})
    assert r.status_code == 409 and r.json()["code"] == "first_run_done"
    with unit_of_work(runtime.sessions, app_id="shop") as db:
        (entry,) = db.scalars(select(AuditEntry)).all()
        assert (entry.actor_kind, entry.action, entry.ip) == ("first_run", "create app", "127.0.0.1")
        assert {c["table"] for c in entry.changes} == {"apps", "api_keys"}
        assert "server_secret" not in str(entry.request)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-For": "203.0.113.9"},
        {"Forwarded": "for=203.0.113.9"},
        {"X-Real-IP": "203.0.113.9"},
        {"Host": "shop.example.com"},
    ],
)
def test_first_run_refuses_a_request_through_a_proxy(local: TestClient, headers: dict[str, str]) -> None:
    # A reverse proxy on the same machine would make a remote browser look local: its headers give it away.
    assert local.get("/admin/setup/first-run", headers=headers).json()["reason"] == "not_local"
    assert (
        local.post("/admin/setup/first-run", json={"id": "shop", "name": "s"}, headers=headers).status_code
        == 403
    )


def test_first_run_refused_when_the_server_listens_beyond_loopback(runtime: Runtime) -> None:
    runtime.settings.host = "0.0.0.0"
    with TestClient(
        create_app(runtime=runtime), base_url="http://127.0.0.1:8000", client=("127.0.0.1", 50123)
    ) as c:
        assert c.get("/admin/setup/first-run").json()["reason"] == "not_local"
        assert c.post("/admin/setup/first-run", json={"id": "shop", "name": "s"}).status_code == 403


@pytest.mark.parametrize(
    ("host", "local"),
    [("127.0.0.1", True), ("127.0.0.1:8000", True), ("localhost:80", True), ("[::1]:8000", True),
     ("::1", True), ("10.0.0.2", False), ("example.com", False), ("", False), (None, False)],
)  # fmt: skip
def test_loopback_hosts(host: str | None, local: bool) -> None:
    kw = {"bind_host": "127.0.0.1", "server_host": "127.0.0.1", "client_host": "127.0.0.1"}
    headers = {"host": host} if host is not None else {}
    assert service.is_local_request(**kw, headers=headers) is local


def test_an_owner_creates_another_app_and_gets_its_owner_key(
    client: TestClient, make_app, runtime: Runtime
) -> None:  # type: ignore[no-untyped-def]
    shop = make_app("shop")
    r = client.post(
        "/admin/apps", json={"id": "outlet", "name": "奥莱店"}, headers=auth(shop.keys["operator"])
    )
    assert r.status_code == 403
    r = client.post("/admin/apps", json={"id": "shop", "name": "again"}, headers=auth(shop.keys["owner"]))
    assert r.status_code == 409 and "id" in fields(r)
    r = client.post(
        "/admin/apps",
        json={"id": "o", "name": "", "timezone": "Asia/Nowhere"},
        headers=auth(shop.keys["owner"]),
    )
    assert r.status_code == 422 and set(fields(r)) == {"id", "name", "timezone"}

    r = client.post(
        "/admin/apps",
        json={"id": "outlet", "name": "奥莱店", "timezone": "Europe/Paris"},
        headers=auth(shop.keys["owner"]),
    )
    assert r.status_code == 201, r.text
    outlet_key = r.json()["key"]["key"]
    app = client.get("/admin/app", headers=auth(outlet_key)).json()
    assert (app["id"], app["timezone"], app["wx_secret_set"], app["role"]) == (
        "outlet",
        "Europe/Paris",
        False,
        "owner",
    )
    # The new key reaches the new app only; the creator's key still only its own.
    listed = client.get("/admin/keys", headers=auth(outlet_key)).json()["items"]
    assert [k["role"] for k in listed] == ["owner"]
    assert client.get("/admin/app", headers=auth(shop.keys["owner"])).json()["id"] == "shop"
    # Both trails: the creator's records the request, the new app's starts with its creation.
    shop_owner_id = shop.keys["owner"].removeprefix("hlk_").split(".")[0]
    with unit_of_work(runtime.sessions, app_id="shop") as db:
        actions = [e.action for e in db.scalars(select(AuditEntry))]
        assert actions == ["POST /admin/apps"]
    with unit_of_work(runtime.sessions, app_id="outlet") as db:
        (entry,) = db.scalars(select(AuditEntry)).all()
        assert (entry.actor_kind, entry.actor_id, entry.action) == ("api_key", shop_owner_id, "create app")


def test_wechat_credentials_validated_and_the_secret_never_returned(
    client: TestClient, make_app, runtime: Runtime
) -> None:  # type: ignore[no-untyped-def]
    shop, other = make_app("shop"), make_app("other", wx_appid="wxfedcba9876543210")
    owner = auth(shop.keys["owner"])
    assert (
        client.patch(
            "/admin/app", json={"wx_appid": WX_APPID}, headers=auth(shop.keys["operator"])
        ).status_code
        == 403
    )
    for bad in (
        "wx123",
        "WX0123456789ABCDEF",
        "wx0123456789abcdeg",
        "0123456789abcdef01",
        "wx0123456789abcdef0",
    ):
        r = client.patch("/admin/app", json={"wx_appid": bad}, headers=owner)
        assert r.status_code == 422 and "16 hex" in fields(r)["wx_appid"], bad
    r = client.patch("/admin/app", json={"wx_secret": "short"}, headers=owner)
    assert r.status_code == 422 and set(fields(r)) == {"wx_secret"}
    r = client.patch("/admin/app", json={"wx_appid": other.wx_appid}, headers=owner)
    assert r.status_code == 409 and set(fields(r)) == {"wx_appid"}
    r = client.patch("/admin/app", json={"server_secret": "mine"}, headers=owner)
    assert r.status_code == 422 and set(fields(r)) == {"server_secret"}

    r = client.patch("/admin/app", json={"wx_appid": WX_APPID, "wx_secret": WX_SECRET}, headers=owner)
    assert r.status_code == 200, r.text
    assert r.json()["wx_appid"] == WX_APPID and r.json()["wx_secret_set"] is True
    for read in (r, client.get("/admin/app", headers=owner)):
        assert WX_SECRET not in read.text and 'wx_secret"' not in read.text
    with unit_of_work(runtime.sessions) as db:
        app = db.get(App, "shop")
        assert app is not None and app.wx_secret == WX_SECRET and app.name == "shop"  # name left as it was
    # The mini-program's AppID now routes its events to the app, in this process at once (no stale cache).
    r = client.post(
        "/v1/events", content=dumps({"events": [event("favorite")]}), headers={"X-Huoli-App-Id": WX_APPID}
    )
    assert r.status_code == 200 and runtime.store.count(app_id="shop") == 1
    # The audit trail has the change, the secret redacted in both the request and the row.
    with unit_of_work(runtime.sessions, app_id="shop") as db:
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "PATCH /admin/app")).one()
        assert WX_SECRET not in str(entry.request) + str(entry.changes)
        assert any(c["after"].get("wx_appid") == WX_APPID for c in entry.changes)


def test_server_secret_revealed_to_owners_and_rotated_with_confirmation(
    client: TestClient, make_app, runtime: Runtime
) -> None:  # type: ignore[no-untyped-def]
    shop = make_app("shop")
    owner = auth(shop.keys["owner"])
    assert (
        client.post("/admin/app/server-secret/reveal", headers=auth(shop.keys["operator"])).status_code == 403
    )
    assert client.post("/admin/app/server-secret/reveal", headers=owner).json() == {
        "server_secret": shop.server_secret
    }

    path = "/v1/server/events"
    body = dumps(
        {"events": [event("order_paid", user_id="u1", properties={"order_id": "o1", "amount_fen": 100})]}
    )

    def post_signed(secret: str) -> Any:
        return client.post(path, content=body, headers=signed_headers("shop", secret, path, body))

    assert post_signed(shop.server_secret).status_code == 200
    r = client.post("/admin/app/server-secret/rotate", json={"confirm": "shop2"}, headers=owner)
    assert r.status_code == 422 and set(fields(r)) == {"confirm"}
    assert client.post("/admin/app/server-secret/rotate", json={}, headers=owner).status_code == 422
    r = client.post("/admin/app/server-secret/rotate", json={"confirm": "shop"}, headers=owner)
    assert r.status_code == 200
    new = r.json()["server_secret"]
    assert new != shop.server_secret and len(new) >= 40
    # The old secret stops at once in this process; the new one signs.
    assert post_signed(shop.server_secret).status_code == 401
    assert post_signed(new).status_code == 200
    assert client.post("/admin/app/server-secret/reveal", headers=owner).json()["server_secret"] == new
    with unit_of_work(runtime.sessions, app_id="shop") as db:
        actions = [e.action for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert actions == ["POST /admin/app/server-secret/reveal", "POST /admin/app/server-secret/rotate",
                           "POST /admin/app/server-secret/reveal"]  # fmt: skip
        rotated = db.scalars(select(AuditEntry).where(AuditEntry.action.endswith("/rotate"))).one()
        assert new not in str(rotated.changes) and shop.server_secret not in str(rotated.changes)


def test_the_last_owner_key_cannot_be_revoked_over_the_api(client: TestClient, make_app) -> None:  # type: ignore[no-untyped-def]
    shop = make_app("shop")
    owner = auth(shop.keys["owner"])
    keys = {k["role"]: k["id"] for k in client.get("/admin/keys", headers=owner).json()["items"]}
    r = client.delete(f"/admin/keys/{keys['owner']}", headers=owner)
    assert r.status_code == 409 and r.json()["code"] == "last_owner_key"
    second = client.post("/admin/keys", json={"name": "backup owner", "role": "owner"}, headers=owner).json()
    assert client.delete(f"/admin/keys/{keys['owner']}", headers=auth(second["key"])).status_code == 200
    assert client.delete(f"/admin/keys/{keys['analyst']}", headers=auth(second["key"])).status_code == 200
    r = client.delete(f"/admin/keys/{second['id']}", headers=auth(second["key"]))
    assert r.status_code == 409


def test_checklist_follows_the_setup(client: TestClient, make_app, runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    shop, other = make_app("shop"), make_app("other")

    def checklist(app: Any = shop) -> dict[str, bool]:
        r = client.get("/admin/setup/checklist", headers=auth(app.keys["analyst"]))
        assert r.status_code == 200, r.text
        return {i["id"]: i["done"] for i in r.json()["items"]}

    assert checklist() == {"app": True, "wx_appid": False, "wx_secret": False, "sdk_events": False,
                           "signed_calls": False, "first_checkin": False}  # fmt: skip
    client.patch(
        "/admin/app", json={"wx_appid": WX_APPID, "wx_secret": WX_SECRET}, headers=auth(shop.keys["owner"])
    )
    assert (
        client.post(
            "/v1/events", content=dumps({"events": [event("page_view")]}), headers={"X-Huoli-App-Id": "shop"}
        ).status_code
        == 200
    )
    after = checklist()
    assert after["wx_appid"] and after["wx_secret"] and after["sdk_events"] and not after["signed_calls"]

    # A signed call that carries nothing still counts (its nonce), while nonces last.
    path = "/v1/server/events"
    body = dumps({"events": []})
    r = client.post(path, content=body, headers=signed_headers("shop", shop.server_secret, path, body))
    assert r.status_code in (200, 422), r.text
    assert checklist()["signed_calls"]
    with unit_of_work(runtime.sessions) as db:
        prune_nonces(db=db, older_than=runtime.clock() + timedelta(days=1))
    assert not checklist()["signed_calls"]
    # After the nonces are gone, the events the backend sent still say it signs.
    body = dumps({"events": [event("checkin", user_id="u1")]})
    r = client.post(path, content=body, headers=signed_headers("shop", shop.server_secret, path, body))
    assert r.status_code == 200, r.text
    with unit_of_work(runtime.sessions) as db:
        prune_nonces(db=db, older_than=runtime.clock() + timedelta(days=1))
    assert checklist()["signed_calls"] and checklist()["first_checkin"]
    # Nothing of it leaks to another app.
    assert not any(v for k, v in checklist(other).items() if k != "app")
