"""Operator keys over HTTP: hashed at rest, roles enforced, revocation immediate, one app per key."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from huoli.apps.models import ApiKey
from huoli.db import unit_of_work
from huoli.runtime import Runtime


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_keys_are_stored_hashed(runtime: Runtime, make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app("alpha")
    with unit_of_work(runtime.sessions) as db:
        stored = {k.secret_hash for k in db.scalars(select(ApiKey))}
    for key in app.keys.values():
        secret = key.split(".", 1)[1]
        assert secret not in stored and all(secret not in h for h in stored)


def test_roles(client: TestClient, make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app("alpha")
    assert client.get("/admin/app", headers=auth(app.keys["analyst"])).json()["id"] == "alpha"
    r = client.get("/admin/keys", headers=auth(app.keys["analyst"]))
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert client.get("/admin/keys", headers=auth(app.keys["operator"])).status_code == 403
    listed = client.get("/admin/keys", headers=auth(app.keys["owner"])).json()["items"]
    assert sorted(k["role"] for k in listed) == ["analyst", "operator", "owner"]
    assert all("secret" not in str(k).lower() and "key" not in k for k in listed)
    assert "server_secret" not in client.get("/admin/app", headers=auth(app.keys["owner"])).json()


def test_issue_use_and_revoke(client: TestClient, make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app("alpha")
    r = client.post(
        "/admin/keys", json={"name": "bi-tool", "role": "analyst"}, headers=auth(app.keys["owner"])
    )
    assert r.status_code == 201
    new_key, key_id = r.json()["key"], r.json()["id"]
    assert client.get("/admin/app", headers=auth(new_key)).status_code == 200
    assert client.delete(f"/admin/keys/{key_id}", headers=auth(app.keys["owner"])).json()["revoked_at"]
    r = client.get("/admin/app", headers=auth(new_key))
    assert r.status_code == 401 and r.json()["code"] == "revoked_api_key"


def test_bad_key_input(client: TestClient, make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app("alpha")
    r = client.post("/admin/keys", json={"name": "", "role": "god"}, headers=auth(app.keys["owner"]))
    assert r.status_code == 422
    assert {d["field"] for d in r.json()["details"]} == {"name", "role"}
    for bad in ("nope", "hlk_abc", "hlk_abc.def", app.keys["owner"] + "x"):
        r = client.get("/admin/app", headers=auth(bad))
        assert r.status_code == 401, bad
    assert client.get("/admin/app", headers={"Authorization": "Basic abc"}).status_code == 401


def test_app_a_key_never_reaches_app_b(client: TestClient, make_app) -> None:  # type: ignore[no-untyped-def]
    a, b = make_app("alpha"), make_app("beta")
    b_keys = client.get("/admin/keys", headers=auth(b.keys["owner"])).json()["items"]
    # A's owner cannot see, revoke or read B's keys or app.
    assert {
        k["id"] for k in client.get("/admin/keys", headers=auth(a.keys["owner"])).json()["items"]
    }.isdisjoint({k["id"] for k in b_keys})
    r = client.delete(f"/admin/keys/{b_keys[0]['id']}", headers=auth(a.keys["owner"]))
    assert r.status_code == 404
    assert client.get("/admin/app", headers=auth(b.keys["owner"])).status_code == 200
    assert client.get("/admin/app", headers=auth(a.keys["owner"])).json()["id"] == "alpha"
