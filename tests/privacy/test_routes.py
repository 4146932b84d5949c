"""Privacy requests through the admin API on SQLite and PostgreSQL: a user seeded in every domain through the
real routes (WeChat login, events, check-in, points, leaderboard, coupons, an order, flags), exported, erased;
the other user untouched; the event store and the rollups without the user; the requests recorded."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.events.helpers import dumps, event
from tests.flags.helpers import attach_experiment
from tests.loyalty.helpers import mp_headers, signed_post

from huoli.analytics import rollup
from huoli.audit.models import AuditEntry
from huoli.db import unit_of_work
from huoli.events.models import OutboxEvent
from huoli.flags import writer
from huoli.promotions.models import Coupon, PaidOrder
from huoli.runtime import Runtime

WX_APPID = "wx00000000000000aa"
WX_SECRET = "s3cret-for-privacy-0123456789"
TZ = "Asia/Shanghai"


@dataclass
class Member:
    user_id: str
    token: str
    openid: str
    device: str

    def headers(self, app_id: str) -> dict[str, str]:
        return {"X-Huoli-App-Id": app_id, "Authorization": f"Bearer {self.token}"}


@pytest.fixture
def shop(make_app, fake_wechat):  # type: ignore[no-untyped-def]
    fake_wechat.register_app(WX_APPID, WX_SECRET)
    return make_app("shop", wx_appid=WX_APPID, wx_secret=WX_SECRET)


def key(shop: Any, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {shop.keys[role]}"}


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def login(client: TestClient, shop: Any, fake_wechat: Any, openid: str, device: str) -> Member:
    code = fake_wechat.issue_code(openid, f"union-{openid}", appid=WX_APPID)
    r = client.post(
        "/v1/auth/wechat", json={"code": code, "anonymous_id": device}, headers={"X-Huoli-App-Id": shop.id}
    )
    assert r.status_code == 200, r.text
    return Member(user_id=r.json()["user_id"], token=r.json()["token"], openid=openid, device=device)


def seed(
    client: TestClient, runtime: Runtime, shop: Any, fake_wechat: Any, openid: str, score: int
) -> Member:
    """One member in every domain, through the routes a mini-program, the merchant and an operator call."""
    device = f"dev-{openid}"
    # Before logging in, the device's anonymous events.
    before = [event("app_launch", anonymous_id=device, session_id=f"s0-{openid}")]
    r = client.post("/v1/events", content=dumps({"events": before}), headers={"X-Huoli-App-Id": shop.id})
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    m = login(client, shop, fake_wechat, openid, device)
    h = m.headers(shop.id)
    session = f"s1-{openid}"
    after = [
        event("app_show", anonymous_id=device, session_id=session),
        event("page_view", anonymous_id=device, session_id=session),
        event("favorite", anonymous_id=device, session_id=session, properties={"item_id": "sku-1"}),
    ]
    r = client.post("/v1/events", content=dumps({"events": after}), headers=h)
    assert r.status_code == 200 and r.json()["accepted"] == 3, r.text
    assert client.post("/v1/loyalty/checkin", headers=h).json()["checked_in"] is True
    assert client.put("/v1/loyalty/profile", json={"birthday": "05-20"}, headers=h).status_code == 200
    paid = {"openid": openid, "order_id": f"L-{openid}", "amount_fen": 12_300}
    assert signed_post(client, shop, "/v1/server/loyalty/orders/paid", paid).status_code == 200
    scored = {"user_id": m.user_id, "board": "steps", "value": score}
    assert signed_post(client, shop, "/v1/server/loyalty/scores", scored).status_code == 204
    coupons = [
        client.post(
            "/v1/promotions/coupons/claim", json={"template_id": "T1", "request_id": f"r{i}"}, headers=h
        )
        for i in range(2)
    ]
    assert all(c.status_code == 200 for c in coupons), [c.text for c in coupons]
    used = coupons[0].json()["id"]
    order = f"P-{openid}"
    cart = [{"item_id": "sku-1", "price_fen": 10_000, "quantity": 1}]
    lock = client.post(
        "/v1/promotions/coupons/lock", json={"order_id": order, "coupon_ids": [used], "cart": cart}, headers=h
    )
    assert lock.status_code == 200, lock.text
    body = {"order_id": order, "user_id": m.user_id, "paid_fen": 9_000, "coupon_ids": [used]}
    assert signed_post(client, shop, "/v1/server/promotions/orders/paid", body).status_code == 200
    assert client.put("/v1/preferences", json={"theme": "dark"}, headers=h).status_code == 200
    assert client.get("/v1/flags", headers=h).status_code == 200  # first exposure to the running experiment
    adjust = {"points": 20, "key": f"k-{openid}", "note": "客诉补偿"}
    r = client.post(f"/admin/loyalty/members/{m.user_id}/adjust", json=adjust, headers=key(shop, "owner"))
    assert r.status_code == 200, r.text
    return m


def settled(runtime: Runtime, shop: Any) -> None:
    """Every queued write done: flag exposures, the outbox relayed, the journal loaded into the store."""
    writer.writer_for(runtime.sessions).flush()

    def outbox_empty() -> bool:
        with unit_of_work(runtime.sessions, app_id=shop.id) as db:
            return db.scalar(select(func.count()).select_from(OutboxEvent)) == 0

    wait_for(outbox_empty)
    runtime.store.before_read()


def events_of(runtime: Runtime, m: Member) -> int:
    sql = "SELECT count(*) AS n FROM events WHERE user_id = ? OR (user_id IS NULL AND anonymous_id = ?)"
    return int(runtime.store.query(sql, [m.user_id, m.device]).column("n")[0].as_py())


def rollup_rows(runtime: Runtime, m: Member) -> tuple[int, int]:
    days = runtime.store.query(
        "SELECT count(*) AS n FROM user_days WHERE actor IN (?, ?)", [m.user_id, m.device]
    ).column("n")[0]
    sessions = runtime.store.query(
        "SELECT count(*) AS n FROM user_sessions WHERE sess LIKE ?", [f"%-{m.openid}"]
    ).column("n")[0]
    return int(days.as_py()), int(sessions.as_py())


def export(client: TestClient, shop: Any, user_id: str) -> dict[str, Any]:
    r = client.post("/admin/privacy/exports", json={"user_id": user_id}, headers=key(shop, "operator"))
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"].startswith("attachment; filename=")
    return r.json()  # type: ignore[no-any-return]


def nonempty(doc: dict[str, Any]) -> dict[str, int]:
    """Tables of an export that hold rows, as `domain.table` → rows."""
    return {
        f"{d}.{t}": len(rows)
        for d, tables in doc["operational"].items()
        for t, rows in tables.items()
        if rows
    }


def test_export_then_erase_a_user_seeded_in_every_domain(
    client: TestClient,
    runtime: Runtime,
    shop,
    fake_wechat,  # type: ignore[no-untyped-def]
) -> None:
    template = {"id": "T1", "name": "满100减10", "kind": "threshold", "amount_fen": 1_000,
                "threshold_fen": 10_000, "valid_days": 30, "per_user_limit": 2}  # fmt: skip
    r = client.post("/admin/promotions/coupon-templates", json=template, headers=key(shop, "operator"))
    assert r.status_code == 201, r.text
    client.post("/admin/flags", json={"key": "theme", "type": "string", "default_value": "light"},
                headers=key(shop, "operator"))  # fmt: skip
    attach_experiment(runtime, shop.id, flag="theme", key="theme-test", variations=["light", "dark"],
                      meta_keys=["light", "dark"])  # fmt: skip
    alice = seed(client, runtime, shop, fake_wechat, "oALICE", score=900)
    bob = seed(client, runtime, shop, fake_wechat, "oBOB", score=300)
    settled(runtime, shop)
    rollup.refresh_duckdb(runtime.store.cursor(), shop.id, TZ, owner=runtime.store)  # type: ignore[attr-defined]
    assert rollup_rows(runtime, alice)[0] > 0 and rollup_rows(runtime, alice)[1] == 2
    bob_before = export(client, shop, bob.user_id)
    bob_rollups = rollup_rows(runtime, bob)
    assert (
        client.get("/v1/loyalty/leaderboards/steps?period=all", headers=bob.headers(shop.id)).json()["me"][
            "rank"
        ]
        == 2
    )

    doc = export(client, shop, alice.user_id)
    assert doc["format"] == "huoli.privacy.export/1" and doc["user_id"] == alice.user_id
    assert doc["identities"]["anonymous_ids"] == [alice.device]
    ops = doc["operational"]
    assert (
        ops["users"]["users"][0]["openid"] == "oALICE"
        and ops["users"]["users"][0]["unionid"] == "union-oALICE"
    )
    assert ops["users"]["wx_session_keys"][0]["session_key"] == "(held)"  # never the key itself
    assert ops["loyalty"]["loyalty_profiles"][0]["birthday"] == "05-20"
    assert {t["reason"] for t in ops["loyalty"]["loyalty_transfers"]} >= {"checkin", "order", "admin"}
    scores = ops["loyalty"]["loyalty_board_scores"]
    assert (
        len(ops["loyalty"]["loyalty_checkins"]) == 1
        and len([s for s in scores if s["board"] == "steps"]) == 4
    )
    assert len(ops["promotions"]["promo_coupons"]) == 2 and len(ops["promotions"]["promo_paid_orders"]) == 1
    assert ops["flags"]["user_preferences"][0]["theme"] == "dark"
    assert len(ops["flags"]["experiment_exposures"]) == 1
    assert "客诉补偿" in str(ops["audit"]["audit_entries"])
    names = sorted(e["name"] for e in doc["events"])
    assert {"app_launch", "app_show", "page_view", "favorite", "login", "coupon_claimed"} <= set(names)
    assert any(e["user_id"] is None and e["anonymous_id"] == alice.device for e in doc["events"])
    assert all(e["user_id"] in (alice.user_id, None) for e in doc["events"])
    fav = next(e for e in doc["events"] if e["name"] == "favorite")
    assert fav["item_id"] == "sku-1" and isinstance(fav["ts"], str)
    assert bob.user_id not in dumps(doc).decode()

    # Only an owner key erases; the confirmation repeats the id.
    body = {"user_id": alice.user_id, "confirm": alice.user_id}
    for role in ("analyst", "operator"):
        refused = client.post("/admin/privacy/erasures", json=body, headers=key(shop, role))
        assert refused.status_code == 403, refused.text
    wrong = client.post(
        "/admin/privacy/erasures", json=body | {"confirm": "u_other"}, headers=key(shop, "owner")
    )
    assert wrong.status_code == 422 and wrong.json()["details"][0]["field"] == "confirm"
    assert events_of(runtime, alice) == len(doc["events"])

    r = client.post("/admin/privacy/erasures", json=body, headers=key(shop, "owner"))
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["kind"] == "erasure" and done["status"] == "completed" and done["completed_at"]
    res = done["result"]
    assert res["operational"]["users"] == {"users": 1, "wx_session_keys": 1}
    assert res["operational"]["promotions"]["promo_coupons"] == 1  # the unused one
    assert res["operational"]["promotions"]["promo_coupons:anonymised"] == 1  # the one an order used
    assert res["operational"]["promotions"]["promo_paid_orders:anonymised"] == 1
    assert res["operational"]["loyalty"]["loyalty_board_scores"] == len(scores)
    assert res["operational"]["audit"]["audit_entries:anonymised"] >= 1
    assert res["event_store"] == {"events": len(doc["events"])} and res["sessions_revoked"] is True
    assert res["rollups"]["user_days"] > 0 and res["rollups"]["user_sessions"] == 2
    assert "oALICE" not in dumps(done).decode() and "05-20" not in dumps(done).decode()

    # Nothing of her is left but the revocation of her sessions (kept until they expire).
    again = export(client, shop, alice.user_id)
    assert nonempty(again) == {"auth.session_revocations": 1} and again["events"] == []
    assert again["identities"]["anonymous_ids"] == []
    assert events_of(runtime, alice) == 0
    assert rollup_rows(runtime, alice) == (0, 0)
    rollup.refresh_duckdb(runtime.store.cursor(), shop.id, TZ, owner=runtime.store)  # type: ignore[attr-defined]
    assert rollup_rows(runtime, alice) == (0, 0)  # and a refresh does not bring her back
    r = client.get("/v1/loyalty/points", headers=alice.headers(shop.id))
    assert r.status_code == 401 and r.json()["code"] == "revoked_token"
    with unit_of_work(runtime.sessions, app_id=shop.id) as db:
        kept = db.scalars(select(Coupon.user_id).where(Coupon.order_id == f"P-{alice.openid}")).one()
        order = db.scalars(select(PaidOrder).where(PaidOrder.order_id == f"P-{alice.openid}")).one()
        assert kept.startswith("erased_") and order.user_id == kept and order.paid_fen == 9_000
        trail = db.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        erasure_entry = next(e for e in trail if e.action == "POST /admin/privacy/erasures")
        assert erasure_entry.target == {"privacy_request": done["id"]} and erasure_entry.changes == []
        # Up to the erasure, the trail says who did what, not to whom (the export after it names her again).
        upto = [[e.target, e.request, e.changes] for e in trail if e.id <= erasure_entry.id]
        assert alice.user_id not in dumps(upto).decode() and "[erased]" in dumps(upto).decode()

    # Bob is untouched, and ranks first now that her score has left the board.
    bob_after = export(client, shop, bob.user_id)
    trail_before = bob_before["operational"].pop("audit")["audit_entries"]
    trail_after = bob_after["operational"].pop("audit")["audit_entries"]
    assert (
        bob_after["operational"] == bob_before["operational"] and bob_after["events"] == bob_before["events"]
    )
    assert trail_after[: len(trail_before)] == trail_before  # plus the entry of his first export
    assert [e["action"] for e in trail_after[len(trail_before) :]] == ["POST /admin/privacy/exports"]
    assert rollup_rows(runtime, bob) == bob_rollups
    assert (
        client.get("/v1/loyalty/leaderboards/steps?period=all", headers=bob.headers(shop.id)).json()["me"][
            "rank"
        ]
        == 1
    )
    assert client.get("/v1/loyalty/points", headers=bob.headers(shop.id)).status_code == 200

    # The requests are recorded, newest first, with counts only.
    listed = client.get("/admin/privacy/requests", headers=key(shop, "operator")).json()["items"]
    assert [(x["kind"], x["user_id"]) for x in listed] == [
        ("export", bob.user_id),
        ("export", alice.user_id),
        ("erasure", alice.user_id),
        ("export", alice.user_id),
        ("export", bob.user_id),
    ]
    assert listed[3]["result"]["event_store"]["events"] == len(doc["events"])
    assert listed[3]["requested_by"] and listed[3]["requested_by_role"] == "operator"
    assert client.get("/admin/privacy/requests", headers=key(shop, "analyst")).status_code == 403


def test_erasing_an_unknown_user_records_zeros(client: TestClient, runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    nobody = f"u_{uuid.uuid4().hex[:12]}"
    r = client.post(
        "/admin/privacy/erasures", json={"user_id": nobody, "confirm": nobody}, headers=key(shop, "owner")
    )
    assert r.status_code == 200, r.text
    res = r.json()["result"]
    assert r.json()["status"] == "completed" and res["sessions_revoked"] is False
    assert res["event_store"] == {"events": 0}
    counts = [n for tables in res["operational"].values() for n in tables.values()]
    assert counts and not any(counts)
    doc = export(client, shop, nobody)
    assert nonempty(doc) == {} and doc["events"] == []
    assert [
        x["kind"] for x in client.get("/admin/privacy/requests", headers=key(shop, "owner")).json()["items"]
    ] == [
        "export",
        "erasure",
    ]


def test_requests_are_scoped_to_the_operators_app(client: TestClient, runtime: Runtime, make_app) -> None:  # type: ignore[no-untyped-def]
    a, b = make_app("shop-a"), make_app("shop-b")
    assert (
        client.post("/admin/privacy/exports", json={"user_id": "u_1"}, headers=key(a, "owner")).status_code
        == 200
    )
    assert client.get("/admin/privacy/requests", headers=key(b, "owner")).json()["items"] == []
    assert len(client.get("/admin/privacy/requests", headers=key(a, "owner")).json()["items"]) == 1
    bad = client.post("/admin/privacy/exports", json={"user_id": ""}, headers=key(a, "owner"))
    assert bad.status_code == 422


def test_an_erasure_stays_inside_its_app(client: TestClient, runtime: Runtime, make_app) -> None:  # type: ignore[no-untyped-def]
    apps = make_app("shop-a"), make_app("shop-b")
    for app in apps:  # the same user id in two apps: two different people as far as huoli knows
        body = {"points": 10, "key": "k1", "note": "补偿"}
        r = client.post("/admin/loyalty/members/u_same/adjust", json=body, headers=key(app, "owner"))
        assert r.status_code == 200, r.text
        r = client.post(
            "/v1/events",
            content=dumps({"events": [event("favorite")]}),
            headers=mp_headers(runtime, app.id, "u_same"),
        )
        assert r.status_code == 200, r.text
        settled(runtime, app)
    a, b = apps
    body = {"user_id": "u_same", "confirm": "u_same"}
    res = client.post("/admin/privacy/erasures", json=body, headers=key(a, "owner")).json()["result"]
    assert res["operational"]["loyalty"]["loyalty_transfers"] == 1 and res["event_store"]["events"] >= 1
    assert runtime.store.count(app_id=a.id) == 0
    kept = export(client, b, "u_same")
    assert len(kept["operational"]["loyalty"]["loyalty_transfers"]) == 1
    assert "favorite" in {e["name"] for e in kept["events"]} and runtime.store.count(app_id=b.id) >= 1
    assert len(kept["operational"]["audit"]["audit_entries"]) == 1
