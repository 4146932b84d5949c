"""The console's loyalty mechanics over the admin API (SQLite): mall items with windows, pause / resume and
live figures; tasks paused, windowed and counted; badges with holders and a reason; the manual tier (reason
required, expiry, shown in the member's history and the audit trail); a coupon issued with a reason; the
check-in and tier summaries; the marketing calendar's member days and activities (contract C4). Bad input is a
422 on its field and writes nothing; one app never sees another's rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import Clock
from tests.loyalty.helpers import admin, mp_headers, set_rules, uow

from huoli.apps.models import App
from huoli.catalog import service as catalog
from huoli.catalog.schemas import ItemIn, ItemsBatchIn
from huoli.db import unit_of_work
from huoli.loyalty import service
from huoli.loyalty.schemas import Milestone, Reward
from huoli.runtime import Runtime
from huoli.work import Caller, work_in

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

ITEMS = "/admin/loyalty/mall/items"
NOW = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai, a Monday


def _fields(r: Any) -> dict[str, str]:
    assert r.status_code == 422, r.text
    return {d["field"]: d["message"] for d in r.json()["details"]}


def _template(client: TestClient, app: Any, tid: str = "cpn_10") -> None:
    body = {"id": tid, "name": "满99减10", "kind": "threshold", "amount_fen": 1000, "threshold_fen": 9900,
            "valid_days": 7, "per_user_limit": 5}  # fmt: skip
    r = client.post("/admin/promotions/coupon-templates", json=body, headers=admin(app, "operator"))
    assert r.status_code in (200, 201), r.text


def _item(app: Any, client: TestClient, **more: Any) -> Any:
    body = {
        "id": "tote",
        "name": "帆布袋",
        "kind": "goods",
        "points": 100,
        "stock": 3,
        "per_user_limit": 1,
    } | more
    return client.put(ITEMS, json=body, headers=admin(app, "operator"))


def _earn(client: TestClient, app: Any, user: str, points: int) -> None:
    r = client.post(
        f"/admin/loyalty/members/{user}/adjust",
        json={"points": points, "key": f"seed-{user}"},
        headers=admin(app),
    )
    assert r.status_code == 200, r.text


def test_mall_items_windows_pause_and_figures(
    client: TestClient, make_app: Callable[..., Any], runtime: Runtime, clock: Clock
) -> None:
    clock.set(NOW)
    shop, other = make_app("shop"), make_app("other")
    # bad input: field reasons, nothing written
    bad = _item(
        shop, client, points=0, ends_at="2026-12-01T00:00:00+08:00", starts_at="2026-12-02T00:00:00+08:00"
    )
    assert set(_fields(bad)) == {"points", "ends_at"}
    assert "after" in _fields(bad)["ends_at"]
    assert _fields(_item(shop, client, kind="coupon", ref="nope")) == {
        "ref": "no coupon template 'nope' in this app"
    }
    assert client.get(ITEMS, headers=admin(shop)).json()["items"] == []

    assert _item(shop, client).status_code == 200
    soon = (NOW + timedelta(days=2)).isoformat()
    assert _item(shop, client, id="later", name="双12券", starts_at=soon).status_code == 200
    _item(other, client, id="tote", name="别家", points=1)
    for user in ("u1", "u2"):
        _earn(client, shop, user, 500)
        r = client.post(
            "/v1/loyalty/mall/items/tote/redeem", json={"key": "k"}, headers=mp_headers(runtime, "shop", user)
        )
        assert r.status_code == 200, r.text
    # a scheduled item is neither listed to members nor redeemable yet
    mp = mp_headers(runtime, "shop", "u1")
    assert [i["id"] for i in client.get("/v1/loyalty/mall/items", headers=mp).json()] == ["tote"]
    assert (
        client.post("/v1/loyalty/mall/items/later/redeem", json={"key": "x"}, headers=mp).status_code == 404
    )

    rows = {i["id"]: i for i in client.get(ITEMS, headers=admin(shop, "analyst")).json()["items"]}
    tote = rows["tote"]
    assert (tote["state"], tote["stock"], tote["redemptions"], tote["redeemers"], tote["points_spent"]) == (
        "running",
        1,
        2,
        2,
        200,
    )
    assert rows["later"]["state"] == "scheduled" and rows["later"]["redemptions"] == 0
    other_rows = client.get(ITEMS, headers=admin(other)).json()["items"]
    assert [(i["name"], i["redemptions"]) for i in other_rows] == [("别家", 0)]

    assert client.post(f"{ITEMS}/tote/pause", headers=admin(shop, "operator")).json()["active"] is False
    assert client.get("/v1/loyalty/mall/items", headers=mp).json() == []
    assert client.post(f"{ITEMS}/tote/redeem", headers=admin(shop)).status_code in (404, 405)
    assert client.post(f"{ITEMS}/tote/pause", headers=admin(shop, "analyst")).status_code == 403
    assert client.post(f"{ITEMS}/nope/pause", headers=admin(shop, "operator")).status_code == 404
    assert client.post(f"{ITEMS}/tote/pause", headers=admin(other, "operator")).json()["name"] == "别家"
    listed = {i["id"]: i["state"] for i in client.get(ITEMS, headers=admin(shop)).json()["items"]}
    assert listed == {"tote": "paused", "later": "scheduled"}
    client.post(f"{ITEMS}/tote/resume", headers=admin(shop, "operator"))
    assert [i["id"] for i in client.get("/v1/loyalty/mall/items", headers=mp).json()] == ["tote"]


def test_tasks_pause_windows_and_figures(
    client: TestClient, make_app: Callable[..., Any], runtime: Runtime, clock: Clock
) -> None:
    clock.set(
        NOW - timedelta(days=2)
    )  # session tokens are checked against the real clock too: stay behind it
    shop, other = make_app("shop"), make_app("other")
    op = admin(shop, "operator")
    task = {"code": "daily_checkin", "name": "每日签到", "kind": "daily", "event": "checkin",
            "rewards": [{"type": "points", "amount": 2}]}  # fmt: skip
    late = {"starts_at": "2026-12-08T00:00:00+08:00", "ends_at": "2026-12-07T00:00:00+08:00"}
    assert set(_fields(client.post("/admin/loyalty/tasks", json=task | late, headers=op))) == {"ends_at"}
    assert client.get("/admin/loyalty/tasks", headers=op).json()["items"] == []
    assert client.post("/admin/loyalty/tasks", json=task, headers=op).status_code == 200
    ended = task | {"code": "old", "name": "上月任务", "ends_at": "2026-12-01T00:00:00+08:00"}
    assert client.post("/admin/loyalty/tasks", json=ended, headers=op).status_code == 200
    client.post("/admin/loyalty/tasks", json=task | {"name": "别家"}, headers=admin(other, "operator"))

    for user in ("u1", "u2"):
        assert (
            client.post("/v1/loyalty/checkin", headers=mp_headers(runtime, "shop", user)).status_code == 200
        )
    mine = [
        t["code"] for t in client.get("/v1/loyalty/tasks", headers=mp_headers(runtime, "shop", "u1")).json()
    ]
    assert mine == ["daily_checkin"]  # the ended task is not shown to members
    rows = {t["code"]: t for t in client.get("/admin/loyalty/tasks", headers=op).json()["items"]}
    assert (rows["daily_checkin"]["state"], rows["daily_checkin"]["completed_users"]) == ("running", 2)
    assert rows["daily_checkin"]["rewards_granted"] == 2 and rows["old"]["state"] == "ended"
    assert rows["old"]["completed_users"] == 0  # after its end nothing counted
    theirs = client.get("/admin/loyalty/tasks", headers=admin(other)).json()["items"]
    assert [(t["name"], t["completed_users"]) for t in theirs] == [("别家", 0)]

    assert client.post("/admin/loyalty/tasks/daily_checkin/pause", headers=op).status_code == 204
    clock.advance(timedelta(days=1))
    u1 = mp_headers(runtime, "shop", "u1")
    assert client.post("/v1/loyalty/checkin", headers=u1).status_code == 200
    row = next(
        t
        for t in client.get("/admin/loyalty/tasks", headers=op).json()["items"]
        if t["code"] == "daily_checkin"
    )
    assert (row["state"], row["rewards_granted"], row["in_progress"]) == (
        "paused",
        2,
        0,
    )  # nothing counted paused
    assert client.get("/v1/loyalty/tasks", headers=u1).json() == []
    assert client.post("/admin/loyalty/tasks/daily_checkin/resume", headers=op).status_code == 204
    assert client.post("/admin/loyalty/tasks/nope/resume", headers=op).status_code == 404
    assert client.delete("/admin/loyalty/tasks/old", headers=op).status_code == 204
    assert [t["code"] for t in client.get("/admin/loyalty/tasks", headers=op).json()["items"]] == [
        "daily_checkin"
    ]


def test_badges_with_holders_and_a_reason(client: TestClient, make_app: Callable[..., Any]) -> None:
    shop, other = make_app("shop"), make_app("other")
    op = admin(shop, "operator")
    assert (
        client.post("/admin/loyalty/badges", json={"code": "vip", "name": "贵宾"}, headers=op).status_code
        == 200
    )
    client.post(
        "/admin/loyalty/badges", json={"code": "vip", "name": "别家"}, headers=admin(other, "operator")
    )
    bad = client.post(
        "/admin/loyalty/badges/award", json={"user_id": "", "badge": "vip", "key": "k"}, headers=op
    )
    assert set(_fields(bad)) == {"user_id"}
    award = {"user_id": "u1", "badge": "vip", "key": "k1", "reason": "线下活动冠军"}
    assert client.post("/admin/loyalty/badges/award", json=award, headers=op).json() == {"awarded": True}
    assert client.post("/admin/loyalty/badges/award", json=award | {"key": "k2"}, headers=op).json() == {
        "awarded": False
    }
    assert [
        (b["code"], b["holders"]) for b in client.get("/admin/loyalty/badges", headers=op).json()["items"]
    ] == [("vip", 1)]
    holders = client.get("/admin/loyalty/badges/vip/holders", headers=admin(shop, "analyst")).json()["items"]
    assert [(h["user_id"], h["source"]) for h in holders] == [("u1", "admin:k1")]
    assert client.get("/admin/loyalty/badges/vip/holders", headers=admin(other)).json()["items"] == []
    (note,) = client.get("/admin/loyalty/members/u1/history", headers=op).json()["items"]
    assert (note["kind"], note["ref"], note["reason"]) == ("badge", "vip", "线下活动冠军")


def test_manual_tier_needs_a_reason_holds_until_expiry_and_is_audited(
    client: TestClient, make_app: Callable[..., Any], runtime: Runtime, clock: Clock
) -> None:
    clock.set(NOW)
    shop, other = make_app("shop"), make_app("other")
    op = admin(shop, "operator")
    path = "/admin/loyalty/members/u1/tier"
    assert set(_fields(client.post(path, json={"tier": "gold"}, headers=op))) == {"reason"}
    assert set(_fields(client.post(path, json={"tier": "gold", "reason": "   "}, headers=op))) == {"reason"}
    assert set(_fields(client.post(path, json={"tier": "diamond", "reason": "x"}, headers=op))) == {"tier"}
    past = (NOW - timedelta(days=1)).isoformat()
    assert set(
        _fields(client.post(path, json={"tier": "gold", "reason": "x", "expires_at": past}, headers=op))
    ) == {"expires_at"}
    assert client.get("/admin/loyalty/members/u1/history", headers=op).json()["items"] == []
    assert client.get(path, headers=op).json()["tier"] == "normal"

    until = (NOW + timedelta(days=30)).isoformat()
    r = client.post(path, json={"tier": "gold", "reason": "大客户专享", "expires_at": until}, headers=op)
    assert r.status_code == 200, r.text
    assert (r.json()["tier"], r.json()["manual"]) == ("gold", True)
    (note,) = client.get("/admin/loyalty/members/u1/history", headers=op).json()["items"]
    assert (note["kind"], note["ref"], note["reason"], note["detail"]["from_tier"]) == (
        "tier",
        "gold",
        "大客户专享",
        "normal",
    )
    assert client.get("/admin/loyalty/members/u1/history", headers=admin(other)).json()["items"] == []
    assert client.get("/admin/loyalty/members/u1/tier", headers=admin(other)).json()["tier"] == "normal"
    trail = client.get("/admin/audit", headers=admin(shop)).json()["items"]
    (entry,) = [e for e in trail if e["action"] == "POST /admin/loyalty/members/{user_id}/tier"]
    assert entry["request"]["reason"] == "大客户专享" and entry["target"] == {"user_id": "u1"}
    assert any(c["table"] == "loyalty_member_notes" for c in entry["changes"])

    # the job never downgrades it before the expiry, even with a periodic policy; after it, growth decides
    set_rules(runtime, "shop", lambda rules: setattr(rules.tiers, "downgrade", "periodic"))
    assert client.post("/admin/loyalty/jobs/tiers", headers=op).status_code == 200
    assert client.get(path, headers=op).json()["tier"] == "gold"
    clock.advance(timedelta(days=31))
    client.post("/admin/loyalty/jobs/tiers", headers=op)
    status = client.get(path, headers=op).json()
    assert (status["tier"], status["manual"]) == ("normal", False)
    summary = client.get("/admin/loyalty/tiers/summary", headers=admin(shop, "analyst")).json()
    assert [(lv["code"], lv["members"]) for lv in summary["levels"]][:2] == [("normal", 1), ("silver", 0)]


def test_coupon_issued_to_a_member_with_a_reason(client: TestClient, make_app: Callable[..., Any]) -> None:
    shop, other = make_app("shop"), make_app("other")
    op = admin(shop, "operator")
    _template(client, shop)
    path = "/admin/loyalty/members/u1/coupons"
    assert set(_fields(client.post(path, json={"template_id": "cpn_10", "key": "k"}, headers=op))) == {
        "reason"
    }
    assert set(
        _fields(client.post(path, json={"template_id": "nope", "reason": "补偿", "key": "k"}, headers=op))
    ) == {"template_id"}
    # another app's template is not this app's
    assert (
        client.post(
            path, json={"template_id": "cpn_10", "reason": "x", "key": "k"}, headers=admin(other)
        ).status_code
        == 422
    )
    body = {"template_id": "cpn_10", "reason": "客诉补偿", "key": "k1"}
    first = client.post(path, json=body, headers=op).json()
    again = client.post(path, json=body, headers=op).json()
    assert first["issued"] is True and again == first | {"issued": False}
    (note,) = client.get("/admin/loyalty/members/u1/history", headers=op).json()["items"]
    assert (note["kind"], note["reason"], note["detail"]["coupon_id"]) == (
        "coupon",
        "客诉补偿",
        first["coupon_id"],
    )


def test_checkin_summary_counts_today_streaks_and_rewards(
    client: TestClient, make_app: Callable[..., Any], runtime: Runtime, clock: Clock
) -> None:
    clock.set(NOW - timedelta(days=6))
    shop, other = make_app("shop"), make_app("other")
    ladder = [Milestone(day=7, reward=Reward(type="points", amount=30))]
    set_rules(runtime, "shop", lambda rules: setattr(rules.checkin, "streak_rewards", ladder))
    for _ in range(7):
        client.post("/v1/loyalty/checkin", headers=mp_headers(runtime, "shop", "u1"))
        clock.advance(timedelta(days=1))
    clock.set(NOW)
    client.post("/v1/loyalty/checkin", headers=mp_headers(runtime, "other", "u9"))
    clock.set(NOW - timedelta(days=1))
    client.post("/v1/loyalty/checkin", headers=mp_headers(runtime, "shop", "u2"))
    clock.set(NOW)
    s = client.get("/admin/loyalty/checkin/summary", headers=admin(shop, "analyst")).json()
    assert s["today"] == "2026-12-07" and s["checked_in_today"] == 1
    assert [d["checkins"] for d in s["days"]] == [1, 1, 1, 1, 1, 2, 1]
    # u1 is on a 7-day run, u2 checked in yesterday only (a 1-day run, still alive)
    assert [(b["min_days"], b["max_days"], b["members"]) for b in s["streaks"]] == [
        (1, 1, 1), (2, 6, 0), (7, 29, 1), (30, None, 0)
    ]  # fmt: skip
    assert [(r["source"], r["reward_type"], r["amount"], r["grants"]) for r in s["rewards"]] == [
        ("checkin_streak", "points", 30, 1)
    ]
    assert client.get("/admin/loyalty/checkin/summary", headers=admin(other)).json()["checked_in_today"] == 1


def test_member_days_and_scheduled_activities(
    client: TestClient, make_app: Callable[..., Any], runtime: Runtime, clock: Clock
) -> None:
    clock.set(NOW)
    shop = make_app("shop")
    set_rules(runtime, "shop", lambda rules: setattr(rules.tiers, "member_day_multiplier", 2.0))
    assert _item(shop, client, id="tote", starts_at="2026-12-10T00:00:00+08:00",
                 ends_at="2026-12-12T00:00:00+08:00", ref="sku_1").status_code == 200  # fmt: skip
    assert _item(shop, client, id="old", ends_at="2026-11-01T00:00:00+08:00").status_code == 200
    with unit_of_work(runtime.sessions, app_id="shop") as db:
        app = db.get(App, "shop")
        assert app is not None
        work = work_in(db, runtime, app, Caller("job"), NOW)
        assert service.member_days(work, date(2026, 11, 20), date(2027, 1, 8)) == [
            date(2026, 12, 8),
            date(2027, 1, 8),
        ]
        got = service.scheduled_activities(work, date(2026, 12, 1), date(2026, 12, 31))
    kinds = [(a["kind"], a["id"], a["state"]) for a in got]
    assert kinds == [
        ("member-day", "member-day:2026-12-08", "scheduled"),
        ("points-mall", "tote", "scheduled"),
        ("checkin", "checkin", "running"),
    ]
    day, tote = got[0], got[1]
    assert day["name"] == "会员日 · 2 倍积分" and day["starts_at"] == datetime(2026, 12, 7, 16, tzinfo=UTC)
    assert tote["item_ids"] == ["sku_1"]


def test_member_day_doubles_order_points(
    client: TestClient, make_app: Callable[..., Any], runtime: Runtime, clock: Clock
) -> None:
    make_app("shop")
    set_rules(runtime, "shop", lambda rules: setattr(rules.tiers, "member_day_multiplier", 2.0))
    for day, expected in ((8, 200), (9, 100)):
        clock.set(datetime(2026, 12, day, 4, tzinfo=UTC))
        with uow(runtime, "shop") as (db, ctx):
            earned = service.order_paid(db, ctx, user_id="u1", order_id=f"o{day}", amount_fen=10_000)
        assert earned.points == expected


def test_goods_follow_their_catalog_item(
    client: TestClient, make_app: Callable[..., Any], runtime: Runtime, clock: Clock
) -> None:
    clock.set(NOW)
    shop = make_app("shop")

    def sync(stock: int) -> None:
        with unit_of_work(runtime.sessions, app_id="shop") as db:
            app = db.get(App, "shop")
            assert app is not None
            body = ItemsBatchIn(items=[ItemIn(id="sku_1", title="帆布袋", price_fen=3900, stock=stock)])
            catalog.sync_items(work_in(db, runtime, app, Caller("server"), NOW), body)

    sync(5)
    assert _item(shop, client, ref="sku_1").status_code == 200
    _earn(client, shop, "u1", 500)
    mp = mp_headers(runtime, "shop", "u1")
    sync(0)  # sold out in the catalog: not listed, not redeemable, the points kept
    assert client.get("/v1/loyalty/mall/items", headers=mp).json() == []
    r = client.post("/v1/loyalty/mall/items/tote/redeem", json={"key": "k"}, headers=mp)
    assert (r.status_code, r.json()["code"]) == (409, "unavailable")
    assert client.get(ITEMS, headers=admin(shop)).json()["items"][0]["catalog_unavailable"] is True
    detail = client.get("/admin/catalog/items/sku_1", headers=admin(shop)).json()
    assert [(x["domain"], x["kind"], x["id"], x["state"]) for x in detail["references"]] == [
        ("loyalty", "points-mall", "tote", "running")
    ]
    sync(5)
    assert client.post("/v1/loyalty/mall/items/tote/redeem", json={"key": "k"}, headers=mp).status_code == 200
