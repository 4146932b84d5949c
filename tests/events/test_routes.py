"""POST /v1/events and /v1/server/events over HTTP, on SQLite and PostgreSQL operational stores."""

from __future__ import annotations

import gzip
from datetime import timedelta

import orjson
import pytest
from fastapi.testclient import TestClient
from tests.events.helpers import dumps, event, signed_headers

from huoli.runtime import Runtime


@pytest.fixture
def shop(make_app):  # type: ignore[no-untyped-def]
    return make_app("shop")


def post(client: TestClient, app_id: str, payload: object, **headers: str) -> object:
    return client.post("/v1/events", content=dumps(payload), headers={"X-Huoli-App-Id": app_id, **headers})


def test_batch_is_stored_and_retry_counts_once(client: TestClient, runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    batch = {
        "events": [event("app_launch", scene=1007, channel="share"), event("page_view"), event("page_leave")]
    }
    first = post(client, shop.id, batch)
    assert first.status_code == 200, first.text
    assert first.json() == {"accepted": 3, "duplicates": 0, "rejected": []}
    again = post(client, shop.id, batch)
    assert again.json() == {"accepted": 0, "duplicates": 3, "rejected": []}
    assert runtime.store.count(app_id=shop.id) == 3
    stored = runtime.store.query(
        "SELECT name, scene, channel, duration_ms, page FROM events ORDER BY name"
    ).to_pylist()
    assert {
        "name": "page_leave",
        "scene": None,
        "channel": None,
        "duration_ms": 1200,
        "page": "pages/index/index",
    } in stored
    assert any(r["name"] == "app_launch" and r["scene"] == 1007 and r["channel"] == "share" for r in stored)


def test_duplicates_inside_one_batch_count_once(client: TestClient, runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    e = event("search", properties={"keyword": "茶"})
    r = post(client, shop.id, {"events": [e, e, dict(e)]})
    assert r.json()["accepted"] == 1 and r.json()["duplicates"] == 2
    assert runtime.store.count(app_id=shop.id, name="search") == 1


def test_invalid_events_rejected_one_by_one_valid_kept(client: TestClient, runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    good = event("favorite")
    bad_id = event("favorite", event_id="not-a-uuid")
    bad_name = event("Bad Name!")
    old = event("favorite")
    old["ts"] -= int(timedelta(days=8).total_seconds() * 1000)
    future = event("favorite")
    future["ts"] += int(timedelta(hours=1).total_seconds() * 1000)
    money = event("order_paid", properties={"order_id": "o1", "amount_fen": 100})
    spoof = event("favorite", user_id="someone-else")
    wrong_types = event("page_leave", scene="1001", properties={"duration_ms": -5})
    naive = event("favorite", ts="2026-11-22T10:00:00")
    r = post(
        client,
        shop.id,
        {"events": [good, bad_id, bad_name, old, future, money, spoof, wrong_types, naive, 42]},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["accepted"] == 1
    reasons = {x["index"]: {e["field"] for e in x["errors"]} for x in body["rejected"]}
    assert reasons == {
        1: {"event_id"},
        2: {"name"},
        3: {"ts"},
        4: {"ts"},
        5: {"name"},
        6: {"user_id"},
        7: {"scene", "properties.duration_ms"},
        8: {"ts"},
        9: {""},
    }
    assert runtime.store.count(app_id=shop.id) == 1


def test_all_invalid_is_422_and_writes_nothing(client: TestClient, runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    r = post(client, shop.id, {"events": [event("page_view", page=None), event("perf", properties={})]})
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "all_events_invalid"
    assert {e["field"] for d in body["details"] for e in d["errors"]} == {"page", "properties.load_ms"}
    assert runtime.store.count(app_id=shop.id) == 0


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b"[]", 422, "validation_failed"),
        (b'{"events": {}}', 422, "validation_failed"),
        (b'{"events": []}', 422, "validation_failed"),
    ],
)
def test_malformed_bodies(
    client: TestClient, runtime: Runtime, shop, payload: bytes, status: int, code: str
) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/events", content=payload, headers={"X-Huoli-App-Id": shop.id})
    assert r.status_code == status
    assert r.json()["code"] == code and r.json()["message"]
    assert runtime.store.count(app_id=shop.id) == 0


def test_oversized_batch_and_body(client: TestClient, runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    r = post(client, shop.id, {"events": [event() for _ in range(501)]})
    assert r.status_code == 422 and r.json()["code"] == "batch_too_large"
    huge = {"events": [event(properties={"blob": "x" * 15000}) for _ in range(400)]}
    r = post(client, shop.id, huge)
    assert r.status_code == 413
    assert runtime.store.count(app_id=shop.id) == 0


def test_gzip_body(client: TestClient, runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    body = gzip.compress(dumps({"events": [event("share", properties={"share_id": "sh1"})]}))
    r = client.post(
        "/v1/events", content=body, headers={"X-Huoli-App-Id": shop.id, "Content-Encoding": "gzip"}
    )
    assert r.status_code == 200 and r.json()["accepted"] == 1
    assert runtime.store.query("SELECT share_id FROM events").to_pylist() == [{"share_id": "sh1"}]
    r = client.post(
        "/v1/events", content=b"not gzip", headers={"X-Huoli-App-Id": shop.id, "Content-Encoding": "gzip"}
    )
    assert r.status_code == 400 and r.json()["code"] == "bad_encoding"
    bomb = gzip.compress(b"[" + b" " * (6 * 1024 * 1024) + b"]")
    r = client.post(
        "/v1/events", content=bomb, headers={"X-Huoli-App-Id": shop.id, "Content-Encoding": "gzip"}
    )
    assert r.status_code == 413


def test_unknown_or_missing_app(client: TestClient, runtime: Runtime) -> None:
    r = post(client, "nope", {"events": [event()]})
    assert r.status_code == 404 and r.json()["code"] == "unknown_app"
    r = client.post("/v1/events", content=dumps({"events": [event()]}))
    assert r.status_code == 401 and r.json()["code"] == "missing_app_id"


def test_session_token_sets_user_and_expires(
    client: TestClient, runtime: Runtime, shop, make_app, clock
) -> None:  # type: ignore[no-untyped-def]
    from huoli.auth.service import issue_session_token

    secret = runtime.settings.resolved_secret_key()
    token, _ = issue_session_token(
        secret=secret, app_id=shop.id, user_id="u_1", now=clock(), ttl=timedelta(hours=1)
    )
    e = event("favorite")
    del e["anonymous_id"]
    r = post(client, shop.id, {"events": [e]}, Authorization=f"Bearer {token}")
    assert r.json()["accepted"] == 1
    assert runtime.store.query("SELECT user_id FROM events").to_pylist() == [{"user_id": "u_1"}]
    # A token of another app is refused, not ignored.
    other = make_app("other")
    r = post(client, other.id, {"events": [event()]}, Authorization=f"Bearer {token}")
    assert r.status_code == 401
    # Expired: 401 with a distinct code so the SDK knows to log in again.
    clock.advance(timedelta(hours=2))
    r = post(client, shop.id, {"events": [event()]}, Authorization=f"Bearer {token}")
    assert r.status_code == 401 and r.json()["code"] == "token_expired"
    r = post(client, shop.id, {"events": [event()]}, Authorization="Bearer garbage")
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"
    assert runtime.store.count(app_id=shop.id) == 1


def test_anonymous_event_needs_anonymous_id(client: TestClient, shop) -> None:  # type: ignore[no-untyped-def]
    e = event()
    del e["anonymous_id"]
    r = post(client, shop.id, {"events": [e]})
    assert r.status_code == 422
    assert r.json()["details"][0]["errors"] == [
        {"field": "anonymous_id", "message": "required when the caller is not a logged-in user"}
    ]


def test_server_events_need_a_valid_signature(client: TestClient, runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    path = "/v1/server/events"
    order = event("order_paid", properties={"order_id": "o-1", "amount_fen": 12900}, openid="oOPENID1")
    del order["anonymous_id"]
    body = dumps({"events": [order]})
    headers = signed_headers(shop.id, shop.server_secret, path, body)
    r = client.post(path, content=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1
    row = runtime.store.query("SELECT name, user_id, amount_fen, order_id, source FROM events").to_pylist()[0]
    assert row["name"] == "order_paid" and row["amount_fen"] == 12900 and row["source"] == "server"
    assert row["user_id"].startswith("u_") and "oOPENID1" not in row["user_id"]

    # Replay of the very same request: refused although the signature is valid.
    r = client.post(path, content=body, headers=headers)
    assert r.status_code == 401 and r.json()["code"] == "replayed_request"
    # Tampered body, wrong secret, stale timestamp, missing headers.
    tampered = body.replace(b"12900", b"1")
    r = client.post(path, content=tampered, headers=signed_headers(shop.id, shop.server_secret, path, body))
    assert r.status_code == 401 and r.json()["code"] == "bad_signature"
    r = client.post(path, content=body, headers=signed_headers(shop.id, "wrong-secret", path, body))
    assert r.status_code == 401 and r.json()["code"] == "bad_signature"
    stale = int(runtime.clock().timestamp()) - 3600
    r = client.post(
        path, content=body, headers=signed_headers(shop.id, shop.server_secret, path, body, ts=stale)
    )
    assert r.status_code == 401 and r.json()["code"] == "stale_request"
    r = client.post(path, content=body, headers={"X-Huoli-App-Id": shop.id})
    assert r.status_code == 401 and r.json()["code"] == "missing_signature"
    assert runtime.store.count(app_id=shop.id) == 1


def test_client_cannot_use_server_endpoint_secretless(client: TestClient, shop, make_app) -> None:  # type: ignore[no-untyped-def]
    other = make_app("other")
    path = "/v1/server/events"
    body = dumps({"events": [event("favorite")]})
    # Signed with another app's secret but claiming this app: refused.
    r = client.post(path, content=body, headers=signed_headers(shop.id, other.server_secret, path, body))
    assert r.status_code == 401


def test_admin_summary_is_app_scoped(client: TestClient, runtime: Runtime, make_app) -> None:
    a, b = make_app("alpha"), make_app("beta")
    post(client, a.id, {"events": [event("favorite"), event("favorite", anonymous_id="anon-2")]})
    post(client, b.id, {"events": [event("search")]})
    ra = client.get("/admin/events/summary", headers={"Authorization": f"Bearer {a.keys['analyst']}"})
    rb = client.get("/admin/events/summary", headers={"Authorization": f"Bearer {b.keys['analyst']}"})
    assert [(r["name"], r["events"], r["users"]) for r in ra.json()] == [("favorite", 2, 2)]
    assert [(r["name"], r["events"]) for r in rb.json()] == [("search", 1)]
    recent = client.get(
        "/admin/events/recent", headers={"Authorization": f"Bearer {a.keys['analyst']}"}
    ).json()
    assert {r["app_id"] for r in recent} == {"alpha"} and len(recent) == 2
    bad = client.get(
        "/admin/events/summary",
        params={"start": "2026-11-02T00:00:00"},
        headers={"Authorization": f"Bearer {a.keys['analyst']}"},
    )
    assert bad.status_code == 422 and bad.json()["details"][0]["field"] == "start"
    assert client.get("/admin/events/summary").status_code == 401


def test_openapi_and_health(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/v1/events" in spec["paths"] and "/v1/auth/wechat" in spec["paths"]
    body = spec["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "events" in body["properties"]
    assert client.get("/healthz").json()["status"] == "ok"
    r = client.get("/nope")
    assert r.status_code == 404 and set(r.json()) == {"code", "message", "details"}


def test_response_json_shape(client: TestClient, shop) -> None:  # type: ignore[no-untyped-def]
    r = post(client, shop.id, {"events": [event("app_hide")]})
    assert r.status_code == 422
    parsed = orjson.loads(r.content)
    assert parsed["details"][0]["errors"][0] == {
        "field": "properties.duration_ms",
        "message": "required for app_hide",
    }
