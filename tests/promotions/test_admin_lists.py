"""The admin lists of what promotions run (issue 23 item 9): flash sales, group buys, bargains, referral
programs, gift packs and the distribution settings created through the admin API can be read back, newest
first and cursor-paginated, with live figures (stock sold and left, groups formed and failed, bargains in
progress, invitees rewarded), and only the key's own app's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import Clock
from tests.promotions.test_routes import WX_APPID, WX_SECRET, admin, signed, user

from huoli.runtime import Runtime

LISTS = [
    "/admin/promotions/flash/sessions",
    "/admin/promotions/group-campaigns",
    "/admin/promotions/bargain-campaigns",
    "/admin/promotions/referral-programs",
    "/admin/promotions/gift-packs",
]


@pytest.fixture
def app(make_app, fake_wechat):  # type: ignore[no-untyped-def]
    fake_wechat.register_app(WX_APPID, WX_SECRET)
    return make_app("shop", wx_appid=WX_APPID, wx_secret=WX_SECRET)


def created(client: TestClient, app: Any, path: str, body: dict[str, Any], method: str = "POST") -> None:
    r = client.request(method, path, headers=admin(app), json=body)
    assert r.status_code in (200, 201), r.text


def listed(client: TestClient, key: str, path: str, **query: Any) -> dict[str, Any]:
    r = client.get(path, headers={"Authorization": f"Bearer {key}"}, params=query)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_every_campaign_created_through_the_api_is_listed_with_its_figures(
    client: TestClient, runtime: Runtime, app: Any, make_app: Any, fake_wechat: Any, clock: Clock
) -> None:
    analyst = app.keys["analyst"]  # reading the lists is an analyst's right
    for path in LISTS:
        assert listed(client, analyst, path) == {"items": [], "next_cursor": None}
    assert listed(client, analyst, "/admin/promotions/distribution") == {
        "state": None,
        "config": None,
        "distributors": 0,
        "commissions": {},
    }

    # 秒杀: one session running, one tomorrow; two of three units taken, one of them paid
    now = datetime.now(UTC)
    for sid, start in (("s-now", now - timedelta(minutes=1)), ("s-later", now + timedelta(days=1))):
        window = {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat()}
        created(client, app, "/admin/promotions/flash/sessions", {"id": sid, "name": f"秒杀 {sid}", **window})
    item = {"item_id": "sku", "price_fen": 990, "original_price_fen": 123456}
    created(
        client, app, "/admin/promotions/flash/items", {"id": "f1", "session_id": "s-now", "stock": 3, **item}
    )
    created(
        client, app, "/admin/promotions/flash/items", {"id": "f2", "session_id": "s-now", "stock": 5, **item}
    )
    won = []
    for alias in ("u1", "u2"):
        r = client.post(
            "/v1/promotions/flash/items/f1/attempt",
            headers=user(runtime, app.id, alias, f"o{alias}"),
            json={},
        )
        assert r.status_code == 200, r.text
        won.append(r.json()["id"])
    paid = signed(
        client,
        app,
        "/v1/server/orders/paid",
        {"order_id": "o-1", "openid": "ou1", "paid_fen": 990, "flash_reservation_id": won[0]},
    )
    assert paid.status_code == 200, paid.text

    # 拼团: a 2-person group formed; a 3-person group still forming (it fails at its deadline, below)
    for gid, size in (("g2", 2), ("g3", 3)):
        body = {
            "id": gid,
            "name": f"{size}人团",
            "item_id": "x",
            "original_price_fen": 1000,
            "group_price_fen": 800,
        }
        created(client, app, "/admin/promotions/group-campaigns", {**body, "size": size, "duration_s": 3600})
    for openid in ("oA", "oB", "oC", "oOwner", "oHelper", "oRef", "oNew"):
        fake_wechat.add_user(openid, appid=WX_APPID)
        user(runtime, app.id, openid, openid)

    def join(campaign: str, openid: str, trade: str, group: str | None = None) -> dict[str, Any]:
        body = {"campaign_id": campaign, "openid": openid, "out_trade_no": trade, "paid_fen": 800}
        r = signed(client, app, "/v1/server/promotions/groups/join", {**body, "group_id": group})
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    lead = join("g2", "oA", "T0000001")
    assert join("g2", "oB", "T0000002", lead["group_id"])["group_status"] == "succeeded"
    assert join("g3", "oC", "T0000003")["group_status"] == "open"

    # 砍价: one bargain in progress with one help
    created(
        client,
        app,
        "/admin/promotions/bargain-campaigns",
        {
            "id": "b3",
            "name": "邀请3人砍价",
            "item_id": "cup",
            "price_fen": 3000,
            "floor_fen": 0,
            "helpers_needed": 3,
        },
    )
    owner = user(runtime, app.id, "oOwner", "oOwner")
    bargain = client.post("/v1/promotions/bargains?campaign_id=b3", headers=owner).json()
    helped = client.post(
        f"/v1/promotions/bargains/{bargain['id']}/help", headers=user(runtime, app.id, "oHelper", "oHelper")
    )
    assert helped.status_code == 200, helped.text

    # 邀请有礼: one invite code, one invitee rewarded; a 新人礼包; 分销 settings
    for tid in ("ra", "rb"):
        coupon = {"id": tid, "name": "邀请奖励", "kind": "fixed", "amount_fen": 500, "valid_days": 30}
        created(client, app, "/admin/promotions/coupon-templates", {**coupon, "claim_trigger": "reward"})
    created(
        client,
        app,
        "/admin/promotions/referral-programs",
        {
            "id": "inv",
            "name": "邀请有礼",
            "qualifying_action": "registration",
            "referrer_template_id": "ra",
            "invitee_template_id": "rb",
        },
    )
    code = client.post(
        "/v1/promotions/referrals/inv/code", headers=user(runtime, app.id, "oRef", "oRef")
    ).json()
    newbie = user(runtime, app.id, "oNew", "oNew")
    assert client.post(f"/v1/promotions/referrals/bind?code={code['share_campaign']}", headers=newbie).json()[
        "rewarded"
    ]
    created(
        client,
        app,
        "/admin/promotions/gift-packs",
        {"id": "welcome", "name": "新人礼包", "template_ids": ["ra", "rb"]},
    )
    created(client, app, "/admin/promotions/distribution", {"level1_bp": 1000}, method="PUT")

    sessions = listed(client, analyst, "/admin/promotions/flash/sessions")
    assert [(s["id"], s["state"]) for s in sessions["items"]] == [
        ("s-later", "scheduled"),
        ("s-now", "running"),
    ]
    f1, f2 = sessions["items"][1]["items"]
    assert (f1["id"], f1["total_stock"], f1["sold"], f1["reserved"], f1["stock"]) == ("f1", 3, 1, 1, 1)
    assert f1["reservations"] == {"paid": 1, "reserved": 1}
    assert (f1["price_fen"], f1["original_price_fen"]) == (990, 123456)
    assert (f2["id"], f2["sold"], f2["reserved"], f2["stock"], f2["reservations"]) == ("f2", 0, 0, 5, {})

    groups = {c["id"]: c for c in listed(client, analyst, "/admin/promotions/group-campaigns")["items"]}
    assert (groups["g2"]["groups"], groups["g2"]["members"]) == ({"succeeded": 1}, 2)
    assert (groups["g3"]["groups"], groups["g3"]["members"]) == ({"open": 1}, 1)
    assert "2人成团" in groups["g2"]["rules_text"] and groups["g2"]["active"] is True

    (b3,) = listed(client, analyst, "/admin/promotions/bargain-campaigns")["items"]
    assert (b3["id"], b3["bargains"], b3["helps"], b3["price_fen"], b3["floor_fen"]) == (
        "b3",
        {"active": 1},
        1,
        3000,
        0,
    )

    (inv,) = listed(client, analyst, "/admin/promotions/referral-programs")["items"]
    assert (inv["id"], inv["invite_codes"], inv["bindings"]) == ("inv", 1, {"rewarded": 1})
    assert inv["qualifying_action"] == "registration"

    (pack,) = listed(client, analyst, "/admin/promotions/gift-packs")["items"]
    assert (pack["id"], pack["template_ids"], pack["new_user_days"]) == ("welcome", ["ra", "rb"], 7)

    dist = listed(client, analyst, "/admin/promotions/distribution")
    assert dist["config"]["level1_bp"] == 1000 and dist["config"]["binding_mode"] == "permanent"

    # the 3-person group misses its deadline: failed, its member owed a refund (still counted)
    clock.set(now + timedelta(days=1, minutes=10))  # tomorrow's session has begun
    assert client.post("/admin/promotions/jobs/run", headers=admin(app)).status_code == 200
    groups = {c["id"]: c for c in listed(client, analyst, "/admin/promotions/group-campaigns")["items"]}
    assert (groups["g3"]["groups"], groups["g3"]["members"]) == ({"failed": 1}, 1)
    sessions = listed(client, analyst, "/admin/promotions/flash/sessions")
    assert [s["state"] for s in sessions["items"]] == ["running", "ended"]
    f1 = sessions["items"][1]["items"][0]
    assert (f1["sold"], f1["reserved"], f1["stock"]) == (1, 0, 2)  # the unpaid unit went back to stock

    # another app's key sees none of it
    stranger = make_app("other").keys["analyst"]
    for path in LISTS:
        assert listed(client, stranger, path) == {"items": [], "next_cursor": None}
    assert listed(client, stranger, "/admin/promotions/distribution")["config"] is None


def test_the_lists_page_with_a_cursor_and_refuse_a_bad_one(client: TestClient, app: Any) -> None:
    now = datetime.now(UTC)
    for n in range(5):
        start = now + timedelta(hours=n)
        window = {"starts_at": start.isoformat(), "ends_at": (start + timedelta(minutes=30)).isoformat()}
        created(client, app, "/admin/promotions/flash/sessions", {"id": f"s{n}", "name": "秒杀", **window})
        body = {
            "id": f"g{n}",
            "name": "团",
            "item_id": "x",
            "original_price_fen": 1000,
            "group_price_fen": 800,
        }
        created(client, app, "/admin/promotions/group-campaigns", {**body, "size": 2})
    key = app.keys["analyst"]
    for path, ids in (
        ("/admin/promotions/flash/sessions", ["s4", "s3", "s2", "s1", "s0"]),  # latest start first
        ("/admin/promotions/group-campaigns", ["g4", "g3", "g2", "g1", "g0"]),  # newest first
    ):
        seen, cursor = [], None
        while True:
            page = listed(client, key, path, limit=2, **({"cursor": cursor} if cursor else {}))
            assert len(page["items"]) <= 2
            seen += [row["id"] for row in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == ids
        bad = client.get(path, headers=admin(app), params={"cursor": "bm9wZQ"})
        assert bad.status_code == 422 and bad.json()["details"][0]["field"] == "cursor"
        assert client.get(path, headers=admin(app), params={"limit": 0}).status_code == 422
        assert client.get(path).status_code == 401
