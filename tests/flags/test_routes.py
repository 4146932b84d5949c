"""Flags end to end: admin CRUD with field errors, GET /v1/flags evaluation, kill switch, preferences,
exposures logged once per user and experiment (on SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.flags.helpers import admin, attach_experiment, user_headers, wait_for

from huoli.db import unit_of_work
from huoli.flags import service, writer
from huoli.flags.models import Exposure
from huoli.runtime import Runtime


@pytest.fixture
def shop(make_app):  # type: ignore[no-untyped-def]
    return make_app("shop")


def create(client: TestClient, key: str, body: dict[str, Any]) -> Any:
    return client.post("/admin/flags", json=body, headers=admin(key))


def flags_for(client: TestClient, headers: dict[str, str], **params: str) -> dict[str, Any]:
    r = client.get("/v1/flags", headers=headers, params=params)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_typed_flags_targeting_rollout_and_kill_switch(client: TestClient, runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    op = shop.keys["operator"]
    r0 = create(client, op, {"key": "dark_mode", "type": "bool", "default_value": False})
    assert r0.status_code == 201, r0.text
    r = create(
        client,
        op,
        {
            "key": "home_layout",
            "type": "string",
            "default_value": "grid",
            "rules": [
                {"id": "vip", "condition": {"segment": {"$in": ["vip"]}}, "value": "feed"},
                {"id": "half", "condition": {"lifecycle": "new"}, "value": "list", "rollout": 0.5},
            ],
        },
    )
    assert r.status_code == 201, r.text
    assert create(client, op, {"key": "max_items", "type": "number", "default_value": 20}).status_code == 201
    skin = {"name": "spring", "colors": ["#c00", "#fc0"]}
    assert create(client, op, {"key": "skin", "type": "json", "default_value": skin}).status_code == 201
    anon = {"X-Huoli-App-Id": shop.id}

    base = flags_for(client, anon, anonymous_id="dev-1")
    assert base["flags"] == {"dark_mode": False, "home_layout": "grid", "max_items": 20, "skin": skin}
    assert base["preferences"] is None and base["ttl_s"] > 0

    vip = flags_for(client, anon, anonymous_id="dev-1", attributes='{"segment": ["vip", "x"]}')
    assert vip["flags"]["home_layout"] == "feed"
    # A 50% rollout among new users: deterministic per user and close to half of them.
    got = [
        flags_for(client, anon, anonymous_id=f"dev-{i}", attributes='{"lifecycle": "new"}')["flags"][
            "home_layout"
        ]
        for i in range(200)
    ]
    assert 70 < got.count("list") < 130 and set(got) == {"list", "grid"}
    again = flags_for(client, anon, anonymous_id="dev-7", attributes='{"lifecycle": "new"}')
    assert again["flags"]["home_layout"] == got[7]
    # Reserved attributes cannot be spoofed by the caller.
    spoof = flags_for(client, anon, anonymous_id="dev-7", attributes='{"id": "dev-8", "lifecycle": "new"}')
    assert spoof["flags"]["home_layout"] == got[7]

    kill = client.patch("/admin/flags/home_layout", json={"killed": True}, headers=admin(op))
    assert kill.status_code == 200 and kill.json()["killed"] is True
    assert (
        flags_for(client, anon, anonymous_id="dev-1", attributes='{"segment": ["vip"]}')["flags"][
            "home_layout"
        ]
        == "grid"
    )
    client.patch("/admin/flags/home_layout", json={"killed": False}, headers=admin(op))
    assert (
        flags_for(client, anon, anonymous_id="dev-1", attributes='{"segment": ["vip"]}')["flags"][
            "home_layout"
        ]
        == "feed"
    )

    # Hidden flags are evaluated for operators but not sent to the mini-program.
    client.patch("/admin/flags/max_items", json={"client_visible": False}, headers=admin(op))
    assert "max_items" not in flags_for(client, anon, anonymous_id="dev-1")["flags"]
    ev = client.post(
        "/admin/flags/evaluate", json={"anonymous_id": "dev-1"}, headers=admin(shop.keys["analyst"])
    )
    assert ev.status_code == 200 and ev.json()["flags"]["max_items"] == 20
    assert ev.json()["details"]["max_items"]["source"] == "defaultValue"
    # An analyst reads; logging exposures writes experiment data in a user's name (issue 20).
    logged = {"user_id": "u-any", "log_exposures": True}
    refused = client.post("/admin/flags/evaluate", json=logged, headers=admin(shop.keys["analyst"]))
    assert refused.status_code == 403, refused.text
    assert client.post("/admin/flags/evaluate", json=logged, headers=admin(op)).status_code == 200

    listed = client.get("/admin/flags", headers=admin(shop.keys["analyst"])).json()["items"]
    assert [f["key"] for f in listed] == ["dark_mode", "home_layout", "max_items", "skin"]
    assert client.delete("/admin/flags/skin", headers=admin(op)).status_code == 200
    assert client.get("/admin/flags/skin", headers=admin(op)).status_code == 404
    wait_for(lambda: runtime.store.count(app_id=shop.id, name="flag_changed") >= 8)


def test_bad_flags_are_rejected_with_field_errors(client: TestClient, runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    op = shop.keys["operator"]
    r = create(
        client,
        op,
        {
            "key": "btn",
            "type": "bool",
            "default_value": "yes",
            "rules": [
                {"id": "a", "value": 1, "condition": {"age": {"$gtx": 3}}},
                {"id": "a", "value": True, "rollout": 0.5},
            ],
        },
    )
    assert r.status_code == 422
    fields = {d["field"] for d in r.json()["details"]}
    assert fields == {"default_value", "rules[0].value", "rules[0].condition.age.$gtx", "rules[1].id"}
    bad_key = create(client, op, {"key": "Bad Key", "type": "bool", "default_value": True})
    assert bad_key.status_code == 422 and bad_key.json()["details"][0]["field"].endswith("key")
    assert create(client, op, {"key": "btn", "type": "bool", "default_value": True}).status_code == 201
    dup = create(client, op, {"key": "btn", "type": "bool", "default_value": True})
    assert dup.status_code == 409
    assert (
        create(client, shop.keys["analyst"], {"key": "x", "type": "bool", "default_value": True}).status_code
        == 403
    )
    bad_patch = client.patch("/admin/flags/btn", json={"default_value": 3}, headers=admin(op))
    assert bad_patch.status_code == 422 and bad_patch.json()["details"][0]["field"] == "default_value"
    assert client.get("/admin/flags/btn", headers=admin(op)).json()["default_value"] is True
    bad_attrs = client.get("/v1/flags", headers={"X-Huoli-App-Id": shop.id}, params={"attributes": "[1]"})
    assert bad_attrs.status_code == 422


def test_preferences_are_stored_and_returned_with_flags(client: TestClient, runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    op = shop.keys["operator"]
    create(
        client,
        op,
        {
            "key": "big_buttons",
            "type": "bool",
            "default_value": False,
            "rules": [
                {"id": "large", "condition": {"font_size": {"$in": ["large", "xlarge"]}}, "value": True}
            ],
        },
    )
    h = user_headers(runtime, shop.id, "u_alice")
    assert (
        client.put(
            "/v1/preferences", json={"font_size": "large"}, headers={"X-Huoli-App-Id": shop.id}
        ).status_code
        == 401
    )
    r = client.put("/v1/preferences", json={"font_size": "large", "theme": "dark"}, headers=h)
    assert r.status_code == 200 and r.json()["font_size"] == "large"
    r = client.put("/v1/preferences", json={"units": "imperial"}, headers=h)
    assert (r.json()["font_size"], r.json()["units"], r.json()["theme"]) == ("large", "imperial", "dark")
    bad = client.put("/v1/preferences", json={"font_size": "huge", "theme": "Dark Mode!"}, headers=h)
    assert bad.status_code == 422 and {d["field"] for d in bad.json()["details"]} == {"font_size", "theme"}
    got = flags_for(client, h)
    assert got["preferences"]["theme"] == "dark" and got["flags"]["big_buttons"] is True
    other = flags_for(client, user_headers(runtime, shop.id, "u_bob"))
    assert other["preferences"] is None and other["flags"]["big_buttons"] is False
    wait_for(lambda: runtime.store.count(app_id=shop.id, name="preferences_updated") == 2)


def test_exposures_are_logged_once_per_user_and_experiment(
    client: TestClient, runtime: Runtime, shop
) -> None:  # type: ignore[no-untyped-def]
    op = shop.keys["operator"]
    create(client, op, {"key": "coupon_type", "type": "string", "default_value": "none"})
    attach_experiment(
        runtime,
        shop.id,
        flag="coupon_type",
        key="coupon-test",
        variations=["新人礼包", "首单立减"],
        meta_keys=["control", "b"],
    )
    seen = {}
    for i in range(20):
        h = user_headers(runtime, shop.id, f"u_{i}")
        first = flags_for(client, h)
        assert first["experiments"] == {"coupon-test": first["experiments"]["coupon-test"]}
        seen[i] = first["flags"]["coupon_type"]
        for _ in range(2):
            assert flags_for(client, h)["flags"]["coupon_type"] == seen[i]
    assert set(seen.values()) == {"新人礼包", "首单立减"}
    caches = service.cache_for(runtime.sessions)  # a fresh process: the database key still dedups
    caches.seen, caches.state = service._Seen(), service._UserState()
    flags_for(client, user_headers(runtime, shop.id, "u_3"))
    writer.flush_all()
    with unit_of_work(runtime.sessions, app_id=shop.id) as db:
        assert db.scalar(select(func.count()).select_from(Exposure)) == 20
    wait_for(lambda: runtime.store.count(app_id=shop.id, name="experiment_exposure") == 20)
    rows = runtime.store.query(
        "SELECT user_id, properties->>'variant' AS v FROM events WHERE name = 'experiment_exposure' ORDER BY user_id"
    ).to_pylist()
    assert len({r["user_id"] for r in rows}) == 20
    # Delete is refused while an experiment runs on the flag.
    assert client.delete("/admin/flags/coupon_type", headers=admin(op)).status_code == 409


def test_sticky_buckets_keep_users_in_their_variant_when_weights_change(  # type: ignore[no-untyped-def]
    client: TestClient, runtime: Runtime, shop
) -> None:
    op = shop.keys["operator"]
    create(client, op, {"key": "theme", "type": "string", "default_value": "light"})

    def attach(weights: list[float]) -> None:
        attach_experiment(
            runtime,
            shop.id,
            flag="theme",
            key="theme-test",
            variations=["light", "dark"],
            meta_keys=["light", "dark"],
            weights=weights,
        )

    attach([1.0, 0.0])
    early = [f"s{i}" for i in range(10)]
    assert all(
        flags_for(client, user_headers(runtime, shop.id, u))["flags"]["theme"] == "light" for u in early
    )
    writer.flush_all()
    attach([0.0, 1.0])
    service.cache_for(runtime.sessions).state = service._UserState()  # restarted: assignments from the db
    assert all(
        flags_for(client, user_headers(runtime, shop.id, u))["flags"]["theme"] == "light" for u in early
    )
    assert flags_for(client, user_headers(runtime, shop.id, "late"))["flags"]["theme"] == "dark"
