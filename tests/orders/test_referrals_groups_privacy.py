"""The paid call's WeChat risk check (outside the transaction), group-buy joins through an order, and the
orders privacy hook (export; erasure keeps the money rows, anonymised)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.orders.test_orders import PAID, REFUNDED, admin, logged, member, signed

from huoli.audit.service import Actor
from huoli.db import unit_of_work
from huoli.orders.models import Order, OrderRefund
from huoli.privacy import flows as privacy
from huoli.promotions.models import Coupon, ReferralBinding
from huoli.runtime import Runtime

WX_APPID, WX_SECRET = "wx000000000000a0d0", "orders-secret-0123456789"


@pytest.fixture
def shop(make_app, fake_wechat):  # type: ignore[no-untyped-def]
    fake_wechat.register_app(WX_APPID, WX_SECRET)
    return make_app("shop", wx_appid=WX_APPID, wx_secret=WX_SECRET)


def referral(client: TestClient, runtime: Runtime, app: Any, fake_wechat: Any, invitee: str) -> None:
    """A first-order referral program; `ref` invites `invitee`, whose binding waits for a first order."""
    for tid in ("ra", "rb"):
        client.post(
            "/admin/promotions/coupon-templates",
            headers=admin(app),
            json={"id": tid, "name": "邀请奖励", "kind": "fixed", "amount_fen": 500, "valid_days": 30,
                  "per_user_limit": 50, "claim_trigger": "reward"},
        )  # fmt: skip
    r = client.post(
        "/admin/promotions/referral-programs",
        headers=admin(app),
        json={"id": "inv", "name": "邀请有礼", "qualifying_action": "first_order",
              "referrer_template_id": "ra", "invitee_template_id": "rb"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    for uid in ("ref", invitee):
        fake_wechat.add_user(f"o_{uid}", appid=WX_APPID)
    code = client.post("/v1/promotions/referrals/inv/code", headers=member(runtime, app.id, "ref")).json()
    bound = client.post(
        f"/v1/promotions/referrals/bind?code={code['share_campaign']}",
        headers=member(runtime, app.id, invitee),
    )
    assert bound.status_code == 200 and bound.json()["rewarded"] is False, bound.text


def rewards(runtime: Runtime, app_id: str) -> list[str]:
    with unit_of_work(runtime.sessions, app_id=app_id) as db:
        return sorted(db.scalars(select(Coupon.user_id)))


def test_wechat_unavailable_settles_now_and_rewards_on_retry(
    client: TestClient, runtime: Runtime, shop: Any, fake_wechat: Any
) -> None:
    referral(client, runtime, shop, fake_wechat, "newbie")
    before = fake_wechat.call_count("/wxa/getuserriskrank")
    fake_wechat.fail_next(1, "busy")
    body = {"order_id": "o1", "user_id": "newbie", "paid_fen": 3000}
    first = signed(client, shop, PAID, body)
    assert first.status_code == 200, first.text
    assert first.json()["promotions"]["referral_pending"] is True
    assert first.json()["loyalty"]["points"] == 30 and rewards(runtime, shop.id) == []
    again = signed(client, shop, PAID, body)
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["promotions"]["referral_pending"] is False
    assert again.json()["promotions"]["referrals_rewarded"] == 1
    assert again.json()["loyalty"] == first.json()["loyalty"]  # points were not earned twice
    assert rewards(runtime, shop.id) == ["newbie", "ref"]
    asked = fake_wechat.call_count("/wxa/getuserriskrank")
    assert asked > before
    third = signed(client, shop, PAID, body)
    assert third.json() == again.json()
    assert fake_wechat.call_count("/wxa/getuserriskrank") == asked  # nothing pending: no WeChat call


def test_a_high_risk_buyer_pays_but_rewards_nobody(
    client: TestClient, runtime: Runtime, shop: Any, fake_wechat: Any
) -> None:
    referral(client, runtime, shop, fake_wechat, "risky")
    fake_wechat.set_risk_rank("o_risky", 4, appid=WX_APPID)
    r = signed(client, shop, PAID, {"order_id": "o1", "user_id": "risky", "paid_fen": 3000})
    assert r.status_code == 200, r.text
    assert (
        r.json()["promotions"]["referrals_rewarded"] == 0
        and r.json()["promotions"]["referral_pending"] is False
    )
    assert r.json()["loyalty"]["points"] == 30
    with unit_of_work(runtime.sessions, app_id=shop.id) as db:
        assert db.scalars(select(ReferralBinding.status)).one() == "blocked"
    assert rewards(runtime, shop.id) == [] and logged(runtime, shop.id, "reward_blocked") == 1


def test_an_order_can_be_a_group_buy_join(client: TestClient, runtime: Runtime, make_app: Any) -> None:
    app = make_app("shop")
    g = client.post(
        "/admin/promotions/group-campaigns",
        headers=admin(app),
        json={"id": "g2", "name": "2人团", "item_id": "x", "original_price_fen": 1000, "group_price_fen": 800,
              "size": 2},
    )  # fmt: skip
    assert g.status_code == 201, g.text
    lead = signed(client, app, PAID, {"order_id": "T1", "user_id": "a", "paid_fen": 800,
                                      "group_buy": {"campaign_id": "g2"}})  # fmt: skip
    assert lead.status_code == 200, lead.text
    group = lead.json()["promotions"]["group_buy"]
    assert group["status"] == "joined" and group["group_status"] == "open"
    mem = signed(client, app, PAID, {"order_id": "T2", "user_id": "b", "paid_fen": 800,
                                     "group_buy": {"campaign_id": "g2", "group_id": group["group_id"]}})  # fmt: skip
    assert mem.json()["promotions"]["group_buy"]["group_status"] == "succeeded"
    missing = signed(client, app, PAID, {"order_id": "T3", "user_id": "c", "paid_fen": 800,
                                         "group_buy": {"campaign_id": "nope"}})  # fmt: skip
    assert missing.status_code == 404
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        assert db.scalars(select(Order.order_id).order_by(Order.order_id)).all() == ["T1", "T2"]


def test_export_and_erasure_keep_the_money_anonymised(
    client: TestClient, runtime: Runtime, make_app: Any
) -> None:
    app = make_app("shop")
    items = [{"sku": "a", "qty": 1, "price_fen": 5000}]
    paid = signed(client, app, PAID, {"order_id": "o1", "user_id": "u1", "paid_fen": 5000, "items": items})
    assert paid.status_code == 200
    assert (
        signed(client, app, REFUNDED, {"order_id": "o1", "refund_id": "r1", "amount_fen": 1000}).status_code
        == 200
    )
    assert signed(client, app, PAID, {"order_id": "o2", "user_id": "u2", "paid_fen": 100}).status_code == 200
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        from huoli.orders import privacy as hook

        exported = hook.export_user(db, app_id=app.id, user_id="u1")
    assert [o["order_id"] for o in exported["orders"]] == ["o1"]
    assert exported["orders"][0]["items"] == [{"sku": "a", "qty": 1, "price_fen": 5000}]
    assert [r["refund_id"] for r in exported["order_refunds"]] == ["r1"]
    row = privacy.erase(runtime, app_id=app.id, user_id="u1", actor=Actor.cli(), action="test erase")
    assert row.status == "completed" and row.result is not None
    assert row.result["operational"]["orders"] == {"orders:anonymised": 1, "order_refunds:kept": 1}
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        orders = {o.order_id: o for o in db.scalars(select(Order))}
        assert orders["o1"].user_id is not None and orders["o1"].user_id.startswith("erased_")
        assert orders["o1"].result is not None and orders["o1"].result["user_id"] == orders["o1"].user_id
        assert (orders["o1"].paid_fen, orders["o1"].refunded_fen) == (5000, 1000)
        assert orders["o2"].user_id == "u2"
        assert len(db.scalars(select(OrderRefund)).all()) == 1
