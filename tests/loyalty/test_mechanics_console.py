"""The loyalty mechanics pages in headless Chromium against one live huoli: a mall item refused with a field
error in Chinese then created and paused, a task created, a badge awarded with a reason, the member day set
with double points, check-in rewards edited, a member's tier set by hand; each checked in the database (through
the API) and in the audit trail."""

from __future__ import annotations

import re

from tests.browser.fixtures import ConsoleSession, LiveServer


def _fill_time(c: ConsoleSession, picker: str, wall: str) -> None:
    c.page.locator(picker).fill(wall)
    c.page.locator(picker).press("Enter")
    c.page.keyboard.press("Escape")


def _pick(c: ConsoleSession, picker: str, typed: str, option: str) -> None:
    c.page.locator(picker).fill(typed)
    dropdown = c.page.locator(".el-select-dropdown:visible").last
    dropdown.locator(".el-select-dropdown__item", has_text=re.compile(f"^{re.escape(option)}$")).first.click()


def test_every_mechanic_from_the_console(console: ConsoleSession, live_server: LiveServer) -> None:
    c, page = console, console.page
    owner = live_server.keys["shop"]["owner"]
    template = {"id": "cpn_10", "name": "满99减10", "kind": "threshold", "amount_fen": 1000,
                "threshold_fen": 9900, "valid_days": 7, "per_user_limit": 5}  # fmt: skip
    assert live_server.api(
        owner, "POST", "/admin/promotions/coupon-templates", json=template
    ).status_code in (
        200,
        201,
    )
    c.allow_console_error(r"status of 422")

    # 积分商城: a window that ends before it starts is refused at its field, in Chinese; nothing is written
    c.goto("#/loyalty-mall")
    c.wait_ready()
    page.locator("#mall-new").click()
    page.locator("#mall-name").fill("满99减10券")
    _pick(c, "#mall-ref", "满99", "满99减10（cpn_10）")
    page.locator("#mall-points").fill("200")
    page.locator("#mall-points").blur()
    _fill_time(c, "#mall-starts", "2026-12-20 00:00:00")
    _fill_time(c, "#mall-ends", "2026-12-10 00:00:00")
    assert "200 积分兑换「满99减10券」" in page.locator("#mall-preview").inner_text()
    page.locator("#mall-submit").click()
    error = page.locator("#mall-form .field-error[data-field=ends_at]")
    error.wait_for()
    assert error.inner_text() == "结束时间应晚于开始时间"
    assert live_server.api(owner, "GET", "/admin/loyalty/mall/items").json()["items"] == []
    c.shot("mall-error")
    page.locator("#mall-ends").fill("")
    _fill_time(c, "#mall-ends", "2026-12-31 23:59:59")
    page.locator("#mall-submit").click()
    row = page.locator("#mall-items tbody tr", has_text="满99减10券")
    row.wait_for()
    (item,) = live_server.api(owner, "GET", "/admin/loyalty/mall/items").json()["items"]
    assert (item["kind"], item["ref"], item["points"], item["stock"], item["per_user_limit"]) == (
        "coupon", "cpn_10", 200, 100, 1
    )  # fmt: skip
    assert item["starts_at"] == "2026-12-19T16:00:00Z"  # typed as Shanghai wall-clock time
    row.locator("[data-toggle]").click()
    c.confirm()
    row.locator(".el-tag", has_text="已暂停").wait_for()
    assert live_server.api(owner, "GET", "/admin/loyalty/mall/items").json()["items"][0]["active"] is False
    c.shot("mall")

    # 任务中心: a first-order task with a points reward
    c.goto("#/loyalty-tasks")
    c.wait_ready()
    page.locator("#tasks-new").click()
    page.locator("#task-name").fill("完成首单")
    page.locator("#task-kind [data-kind=newcomer]").click()
    c.choose("#task-event", "支付订单")
    page.locator("[name='rewards.0.amount']").fill("50")
    page.locator("[name='rewards.0.amount']").blur()
    assert "完成奖励：50 积分" in page.locator("#tasks-preview").inner_text()
    page.locator("#task-submit").click()
    page.locator("#tasks-list tbody tr", has_text="完成首单").wait_for()
    (task,) = live_server.api(owner, "GET", "/admin/loyalty/tasks").json()["items"]
    assert (task["kind"], task["event"], task["rewards"], task["state"]) == (
        "newcomer", "order_paid", [{"type": "points", "amount": 50, "ref": None}], "running"
    )  # fmt: skip
    c.shot("tasks")

    # 勋章: define one, award it to a member with a reason; the holder is listed
    c.goto("#/loyalty-badges")
    c.wait_ready()
    page.locator("#badges-new").click()
    page.locator("#badge-name").fill("活动冠军")
    page.locator("#badge-submit").click()
    page.locator("#badges-list tbody tr", has_text="活动冠军").wait_for()
    page.locator("#badge-award button[type=submit]").click()
    page.locator("#badge-award .field-error[data-field=reason]").wait_for()  # a reason is required
    _pick(c, "#award-user", "u_7", "u_7")
    c.choose("#award-badge", "活动冠军")
    page.locator("#award-reason").fill("线下活动冠军")
    page.locator("#badge-award button[type=submit]").click()
    page.locator("#badge-holders tbody tr", has_text="u_7").wait_for()
    (note,) = live_server.api(owner, "GET", "/admin/loyalty/members/u_7/history").json()["items"]
    assert (note["kind"], note["reason"]) == ("badge", "线下活动冠军")
    c.shot("badges")

    # 会员等级与会员日: the 8th, double points, said in the member-facing text
    c.goto("#/loyalty-tiers")
    c.wait_ready()
    c.choose("#rule-tiers-member_day", "每月 8 日")
    c.choose("#rule-tiers-member_day_multiplier", "2 倍积分")
    assert "每月 8 日为会员日，下单积分 2 倍" in page.locator("#tiers-preview").inner_text()
    page.locator("#tiers-save").click()
    page.locator(".toast").get_by_text("规则已保存").wait_for()
    tiers = live_server.api(owner, "GET", "/admin/loyalty/rules").json()["tiers"]
    assert (tiers["member_day"], tiers["member_day_multiplier"]) == (8, 2.0)
    page.locator("#tiers-member-day dd", has_text="2 倍积分").wait_for()
    c.shot("tiers")

    # 签到奖励: a 14-day streak reward added to the ladder
    c.goto("#/loyalty-checkin")
    c.wait_ready()
    page.locator("#rules-streak_rewards .row-add").click()
    page.locator("[name='checkin.streak_rewards.2.day']").fill("14")
    page.locator("[name='checkin.streak_rewards.2.reward.amount']").fill("50")
    page.locator("[name='checkin.streak_rewards.2.reward.amount']").blur()
    assert "连续签到 14 天：50 积分" in page.locator("#checkin-preview").inner_text()
    page.locator("#checkin-save").click()
    page.locator(".toast").get_by_text("规则已保存").wait_for()
    rules = live_server.api(owner, "GET", "/admin/loyalty/rules").json()
    assert rules["checkin"]["streak_rewards"][2] == {
        "day": 14,
        "reward": {"type": "points", "amount": 50, "ref": None},
    }
    assert rules["tiers"]["member_day_multiplier"] == 2.0  # the other page's section kept
    c.shot("checkin")

    # 会员积分: a tier set by hand needs a reason, then shows in the member's history
    c.goto("#/loyalty-member?user=u_7")
    page.locator("#member-tier").wait_for()
    c.choose("#tier-tier", "金卡")
    page.locator("#member-tier button[type=submit]").click()
    page.locator("#member-tier .field-error[data-field=reason]").wait_for()
    page.locator("#tier-reason").fill("大客户专享")
    page.locator("#member-tier button[type=submit]").click()
    page.locator("#member-history tbody tr", has_text="大客户专享").wait_for()
    assert "普通 → 金卡" in page.locator("#member-history").inner_text()
    assert live_server.api(owner, "GET", "/admin/loyalty/members/u_7/tier").json()["tier"] == "gold"
    c.shot("member-tier")

    # every write above is in the audit trail, the reasons with them
    trail = live_server.api(owner, "GET", "/admin/audit", params={"limit": 50}).json()["items"]
    actions = {e["action"] for e in trail}
    assert {
        "PUT /admin/loyalty/mall/items",
        "POST /admin/loyalty/mall/items/{item_id}/pause",
        "POST /admin/loyalty/tasks",
        "POST /admin/loyalty/badges/award",
        "PUT /admin/loyalty/rules",
        "POST /admin/loyalty/members/{user_id}/tier",
    } <= actions
    (tier,) = [e for e in trail if e["action"] == "POST /admin/loyalty/members/{user_id}/tier"]
    assert tier["request"]["reason"] == "大客户专享"
