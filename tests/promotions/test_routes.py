"""The promotion APIs end to end: mini-program calls, signed merchant calls, admin, risk and velocity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.events.helpers import dumps, signed_headers
from tests.promotions.helpers import at, race, wait_for

from huoli.apps.models import App
from huoli.auth.service import issue_session_token
from huoli.db import insert_or_ignore, unit_of_work
from huoli.promotions import risk
from huoli.promotions.models import Coupon
from huoli.runtime import Runtime
from huoli.users.models import User
from huoli.users.service import derive_user_id

IDS: dict[str, str] = {}
WX_APPID, WX_SECRET = "wx00000000000000ee", "promo-secret-0123456789"


@pytest.fixture
def app(make_app, fake_wechat):  # type: ignore[no-untyped-def]
    fake_wechat.register_app(WX_APPID, WX_SECRET)
    return make_app("shop", wx_appid=WX_APPID, wx_secret=WX_SECRET)


def user(
    runtime: Runtime, app_id: str, user_id: str, openid: str, *, created: datetime | None = None
) -> dict[str, str]:
    """A logged-in mini-program user; its id is derived from the openid as login does (IDS maps the alias)."""
    now = datetime.now(UTC)
    with unit_of_work(runtime.sessions, app_id=app_id) as db:
        app_row = db.get(App, app_id)
        assert app_row is not None
        IDS[user_id] = derive_user_id(app_row, openid)
        user_id = IDS[user_id]
        insert_or_ignore(
            db,
            User,
            {
                "id": user_id,
                "app_id": app_id,
                "openid": openid,
                "created_at": created or now,
                "last_login_at": now,
            },
            ["id"],
        )
    token, _ = issue_session_token(
        secret=runtime.secret_key, app_id=app_id, user_id=user_id, now=now, ttl=timedelta(hours=1)
    )
    return {"X-Huoli-App-Id": app_id, "Authorization": f"Bearer {token}"}


def admin(app) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {app.keys['operator']}"}


def signed(client: TestClient, app, path: str, body: dict[str, Any]):  # type: ignore[no-untyped-def]
    raw = dumps(body)
    return client.post(path, content=raw, headers=signed_headers(app.id, app.server_secret, path, raw))


def test_coupon_funnel_through_the_api(client: TestClient, runtime: Runtime, app) -> None:  # type: ignore[no-untyped-def]
    r = client.post(
        "/admin/promotions/coupon-templates",
        headers=admin(app),
        json={
            "id": "m100",
            "name": "满100减20",
            "kind": "threshold",
            "amount_fen": 2000,
            "threshold_fen": 10000,
            "valid_days": 7,
            "total_limit": 100,
        },
    )
    assert r.status_code == 201, r.text
    assert "满100元减20元" in r.json()["rules_text"]
    bad = client.post(
        "/admin/promotions/coupon-templates",
        headers=admin(app),
        json={
            "id": "s",
            "name": "分享得券",
            "kind": "fixed",
            "amount_fen": 100,
            "valid_days": 1,
            "claim_trigger": "share",
        },
    )
    assert bad.status_code == 422 and bad.json()["code"] == "compliance_rejected"
    assert (
        client.post(
            "/admin/promotions/coupon-templates",
            headers={"Authorization": f"Bearer {app.keys['analyst']}"},
            json={},
        ).status_code
        == 403
    )
    u = user(runtime, app.id, "u_a", "oA")
    listed = client.get("/v1/promotions/coupon-templates", headers={"X-Huoli-App-Id": app.id}).json()
    assert [t["id"] for t in listed] == ["m100"]
    assert (
        client.post(
            "/v1/promotions/coupons/claim",
            headers={"X-Huoli-App-Id": app.id},
            json={"template_id": "m100", "request_id": "r1"},
        ).status_code
        == 401
    )
    c1 = client.post(
        "/v1/promotions/coupons/claim", headers=u, json={"template_id": "m100", "request_id": "r1"}
    )
    c2 = client.post(
        "/v1/promotions/coupons/claim", headers=u, json={"template_id": "m100", "request_id": "r1"}
    )
    assert c1.status_code == 200 and c1.json()["id"] == c2.json()["id"]
    again = client.post(
        "/v1/promotions/coupons/claim", headers=u, json={"template_id": "m100", "request_id": "r2"}
    )
    assert again.status_code == 409 and again.json()["code"] == "per_user_limit"
    cid = c1.json()["id"]
    cart = [{"item_id": "sku", "price_fen": 6000, "quantity": 2}]
    q = client.post(
        "/v1/promotions/coupons/lock", headers=u, json={"order_id": "o1", "coupon_ids": [cid], "cart": cart}
    )
    assert q.json() == {
        "subtotal_fen": 12000,
        "discount_fen": 2000,
        "payable_fen": 10000,
        "discounts": {cid: 2000},
    }
    paid = signed(
        client,
        app,
        "/v1/server/promotions/orders/paid",
        {"order_id": "o1", "openid": "oA", "paid_fen": 10000},
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["redeemed_coupons"] == [cid]
    assert (
        signed(
            client,
            app,
            "/v1/server/promotions/orders/paid",
            {"order_id": "o1", "user_id": IDS["u_a"], "paid_fen": 10000},
        ).json()["redeemed_coupons"]
        == []
    )
    unsigned = client.post(
        "/v1/server/promotions/orders/paid",
        headers={"X-Huoli-App-Id": app.id},
        json={"order_id": "o1", "user_id": IDS["u_a"], "paid_fen": 1},
    )
    assert unsigned.status_code == 401
    assert (
        signed(client, app, "/v1/server/promotions/orders/refunded", {"order_id": "o1"}).json()[
            "coupons_returned"
        ]
        == 1
    )
    mine = client.get("/v1/promotions/coupons", headers=u).json()
    assert [c["status"] for c in mine] == ["available"]
    for name in ("coupon_claimed", "coupon_locked", "coupon_redeemed", "coupon_rolled_back"):
        wait_for(lambda name=name: runtime.store.count(app_id=app.id, name=name) == 1)  # type: ignore[misc]


def test_high_risk_users_get_no_fission_reward(
    client: TestClient, runtime: Runtime, app, fake_wechat
) -> None:  # type: ignore[no-untyped-def]
    r = client.post(
        "/admin/promotions/bargain-campaigns",
        headers=admin(app),
        json={
            "id": "b3",
            "name": "邀请3人砍价",
            "item_id": "cup",
            "price_fen": 3000,
            "floor_fen": 0,
            "helpers_needed": 3,
        },
    )
    assert r.status_code == 201 and r.json()["cuts_fen"] == [1500, 1000, 500]
    owner = user(runtime, app.id, "u_owner", "oOwner")
    b = client.post("/v1/promotions/bargains?campaign_id=b3", headers=owner).json()
    assert (b["helpers_needed"], b["cuts_fen"]) == (3, [1500, 1000, 500])
    for openid in ("oOwner", "oGood", "oBad"):
        fake_wechat.add_user(openid, appid=WX_APPID)
    fake_wechat.set_risk_rank("oBad", 4, appid=WX_APPID)
    bad = client.post(
        f"/v1/promotions/bargains/{b['id']}/help", headers=user(runtime, app.id, "u_bad", "oBad")
    )
    assert bad.status_code == 403 and bad.json()["code"] == "risk_refused"
    good = client.post(
        f"/v1/promotions/bargains/{b['id']}/help", headers=user(runtime, app.id, "u_good", "oGood")
    )
    assert good.status_code == 200, good.text
    assert good.json()["cut_fen"] == 1500 and good.json()["bargain"]["helpers_missing"] == 2
    assert fake_wechat.call_count("/wxa/getuserriskrank") == 2
    wait_for(lambda: runtime.store.count(app_id=app.id, name="reward_blocked") == 1)
    fake_wechat.fail_next(1, "busy")
    busy = client.post(
        f"/v1/promotions/bargains/{b['id']}/help", headers=user(runtime, app.id, "u_c", "oGood")
    )
    assert busy.status_code == 503  # WeChat unavailable: fail closed, nothing granted


def test_referral_registration_and_signed_group_join(
    client: TestClient, runtime: Runtime, app, fake_wechat
) -> None:  # type: ignore[no-untyped-def]
    for tid in ("ra", "rb"):
        client.post(
            "/admin/promotions/coupon-templates",
            headers=admin(app),
            json={
                "id": tid,
                "name": "邀请奖励",
                "kind": "fixed",
                "amount_fen": 500,
                "valid_days": 30,
                "per_user_limit": 50,
                "claim_trigger": "reward",
            },
        )
    r = client.post(
        "/admin/promotions/referral-programs",
        headers=admin(app),
        json={
            "id": "inv",
            "name": "邀请有礼",
            "qualifying_action": "registration",
            "referrer_template_id": "ra",
            "invitee_template_id": "rb",
        },
    )
    assert r.status_code == 201, r.text
    for openid in ("oRef", "oNew"):
        fake_wechat.add_user(openid, appid=WX_APPID)
    code = client.post(
        "/v1/promotions/referrals/inv/code", headers=user(runtime, app.id, "u_ref", "oRef")
    ).json()
    assert code["share_campaign"].startswith("ref_") and "邀请" in code["rules_text"]
    newbie = user(runtime, app.id, "u_new", "oNew")
    bound = client.post(f"/v1/promotions/referrals/bind?code={code['share_campaign']}", headers=newbie)
    assert bound.json() == {"referrer_user_id": IDS["u_ref"], "program_id": "inv", "rewarded": True}
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        assert sorted(db.scalars(select(Coupon.user_id)).all()) == sorted([IDS["u_new"], IDS["u_ref"]])
    g = client.post(
        "/admin/promotions/group-campaigns",
        headers=admin(app),
        json={
            "id": "g2",
            "name": "2人团",
            "item_id": "x",
            "original_price_fen": 1000,
            "group_price_fen": 800,
            "size": 2,
        },
    )
    assert "2人成团" in g.json()["rules_text"]
    lead = signed(
        client,
        app,
        "/v1/server/promotions/groups/join",
        {"campaign_id": "g2", "openid": "oRef", "out_trade_no": "T0000001", "paid_fen": 800},
    )
    assert lead.json()["group_status"] == "open", lead.text
    gid = lead.json()["group_id"]
    mem = signed(
        client,
        app,
        "/v1/server/promotions/groups/join",
        {"campaign_id": "g2", "group_id": gid, "openid": "oNew", "out_trade_no": "T0000002", "paid_fen": 800},
    )
    assert (mem.json()["status"], mem.json()["group_status"]) == ("joined", "succeeded")
    status = client.get(f"/v1/promotions/groups/{gid}", headers={"X-Huoli-App-Id": app.id}).json()
    assert (status["status"], status["missing"]) == ("succeeded", 0)
    overview = client.get("/admin/promotions/overview", headers=admin(app)).json()
    assert overview["groups"] == {"succeeded": 1} and overview["referrals"] == {"rewarded": 1}
    check = client.post(
        "/admin/promotions/compliance/check",
        headers=admin(app),
        json={"kind": "distribution", "config": {"levels": 3, "level1_bp": 100}},
    )
    assert check.json()["ok"] is False and check.json()["violations"][0]["field"] == "levels"
    assert client.post("/admin/promotions/jobs/run", headers=admin(app)).status_code == 200


def test_flash_sale_api_and_admin_status(client: TestClient, runtime: Runtime, app) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    client.post(
        "/admin/promotions/flash/sessions",
        headers=admin(app),
        json={
            "id": "s1",
            "name": "秒杀",
            "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(),
        },
    )
    r = client.post(
        "/admin/promotions/flash/items",
        headers=admin(app),
        json={
            "id": "f1",
            "session_id": "s1",
            "item_id": "sku",
            "price_fen": 100,
            "original_price_fen": 1000,
            "stock": 1,
        },
    )
    assert r.status_code == 201, r.text
    win = client.post(
        "/v1/promotions/flash/items/f1/attempt", headers=user(runtime, app.id, "u1", "o1"), json={}
    )
    assert win.status_code == 200 and win.json()["status"] == "reserved"
    lose = client.post(
        "/v1/promotions/flash/items/f1/attempt", headers=user(runtime, app.id, "u2", "o2"), json={}
    )
    assert lose.status_code == 409 and lose.json()["code"] == "sold_out"
    sessions = client.get("/v1/promotions/flash/sessions", headers={"X-Huoli-App-Id": app.id}).json()
    assert sessions[0]["items"][0]["stock"] == 0
    st = client.get("/admin/promotions/flash/items/f1", headers=admin(app)).json()
    assert st["reservations"] == {"reserved": 1}
    cancelled = signed(
        client,
        app,
        "/v1/server/promotions/orders/cancelled",
        {"order_id": "ox", "flash_reservation_id": win.json()["id"]},
    )
    assert cancelled.json()["flash_units_returned"] == 1


def test_velocity_limits_hold_under_concurrency(runtime: Runtime, app) -> None:  # type: ignore[no-untyped-def]
    now = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)

    def go(i: int) -> bool:
        with unit_of_work(runtime.sessions, app_id=app.id) as db:
            risk.hit(
                at(db, runtime, now),
                action="t",
                user_id=f"u{i % 3}",
                ip="1.2.3.4",
                limits={"user": (100, 3600), "ip": (5, 3600)},
            )
        return True

    results = race(12, go)
    assert sum(r is True for r in results) == 5
    assert all(isinstance(r, risk.RateLimited) for r in results if r is not True)
    # the next window starts afresh
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        risk.hit(
            at(db, runtime, now + timedelta(hours=1)), action="t", ip="1.2.3.4", limits={"ip": (5, 3600)}
        )


def test_order_paid_asks_wechat_only_when_a_referral_is_pending(
    client: TestClient, runtime: Runtime, app, fake_wechat
) -> None:  # type: ignore[no-untyped-def]
    fake_wechat.add_user("oBuyer", appid=WX_APPID)
    user(runtime, app.id, "u_buyer", "oBuyer")
    paid = signed(
        client,
        app,
        "/v1/server/promotions/orders/paid",
        {"order_id": "o9", "openid": "oBuyer", "paid_fen": 500},
    )
    assert paid.status_code == 200 and paid.json()["referral_pending"] is False
    assert fake_wechat.call_count("/wxa/getuserriskrank") == 0


def test_flash_items_and_coupons_stay_inside_their_app(
    client: TestClient, runtime: Runtime, app, make_app
) -> None:  # type: ignore[no-untyped-def]
    # The flash attempt and the coupon lock run prebuilt Core statements that write their app filter themselves.
    other = make_app("other")
    now = datetime.now(UTC)
    window = {
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(),
    }
    item = {"item_id": "sku", "price_fen": 100, "original_price_fen": 1000, "stock": 5}
    for a, sid, fid in ((app, "s1", "f1"), (other, "s2", "f2")):
        r = client.post(
            "/admin/promotions/flash/sessions", headers=admin(a), json={"id": sid, "name": "秒杀", **window}
        )
        assert r.status_code == 201, r.text
        r = client.post(
            "/admin/promotions/flash/items", headers=admin(a), json={"id": fid, "session_id": sid, **item}
        )
        assert r.status_code == 201, r.text
    # Names are per app (issue 20: a global key let one app probe and take another's names): the other app
    # may use "s1" too, and sees its own; a name taken twice in one app is the caller's conflict.
    same = client.post(
        "/admin/promotions/flash/sessions", headers=admin(other), json={"id": "s1", "name": "x", **window}
    )
    assert same.status_code == 201, same.text
    again = client.post(
        "/admin/promotions/flash/sessions", headers=admin(other), json={"id": "s1", "name": "y", **window}
    )
    assert again.status_code == 409, again.text
    shop_user, other_user = user(runtime, app.id, "a1", "oA1"), user(runtime, other.id, "b1", "oB1")
    assert client.post("/v1/promotions/flash/items/f2/attempt", headers=shop_user, json={}).status_code == 404
    assert (
        client.post("/v1/promotions/flash/items/f1/attempt", headers=other_user, json={}).status_code == 404
    )
    assert client.post("/v1/promotions/flash/items/f1/attempt", headers=shop_user, json={}).status_code == 200
    assert client.get("/admin/promotions/flash/items/f2", headers=admin(other)).json()["reservations"] == {}
    # A coupon of the shop cannot be locked from the other app, even by id.
    template = {"id": "m1", "name": "无门槛10元", "kind": "fixed", "amount_fen": 1000, "valid_days": 7}
    assert (
        client.post("/admin/promotions/coupon-templates", headers=admin(app), json=template).status_code
        == 201
    )
    theirs_template = {**template, "name": "别家的券", "amount_fen": 500}
    assert (
        client.post(
            "/admin/promotions/coupon-templates", headers=admin(other), json=theirs_template
        ).status_code
        == 201
    )
    mine = user(runtime, app.id, "c1", "oC1")
    claim = {"template_id": "m1", "request_id": "r1"}
    cid = client.post("/v1/promotions/coupons/claim", headers=mine, json=claim).json()["id"]
    their_claim = client.post(
        "/v1/promotions/coupons/claim", headers=user(runtime, other.id, "c9", "oC9"), json=claim
    )
    assert their_claim.status_code == 200 and their_claim.json()["template_id"] == "m1", their_claim.text
    assert their_claim.json()["id"] != cid  # each app issues from its own "m1"
    lock = {
        "order_id": "o1",
        "coupon_ids": [cid],
        "cart": [{"item_id": "sku", "price_fen": 5000, "quantity": 1}],
    }
    theirs = client.post(
        "/v1/promotions/coupons/lock", headers=user(runtime, other.id, "c1", "oC1"), json=lock
    )
    assert 400 <= theirs.status_code < 500 and "discount_fen" not in theirs.json(), theirs.text
    ok = client.post("/v1/promotions/coupons/lock", headers=mine, json=lock)
    assert ok.status_code == 200 and ok.json()["discount_fen"] == 1000, ok.text
