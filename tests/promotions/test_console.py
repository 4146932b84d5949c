"""The promotions console page in headless Chromium against a live huoli (tests/browser/fixtures.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from tests.browser.fixtures import ConsoleSession, LiveServer

from huoli.db import unit_of_work
from huoli.promotions.models import Bargain, FlashItem, FlashReservation, Group


def test_create_pause_and_check_coupons(console: ConsoleSession, live_server: LiveServer) -> None:
    page = console.page
    console.allow_console_error(r"status of 422")  # the threshold coupon without a threshold, on purpose
    console.allow_console_error(r"status of 409")  # the same id twice, on purpose
    owner = live_server.keys["shop"]["owner"]
    page.locator("#nav a[data-page=promotions]").click()
    page.locator("#promo-overview table").wait_for()
    console.wait_ready()
    assert page.locator(".page-title").inner_text() == "营销活动"

    page.locator("#cpn-id").fill("m100")
    page.locator("#cpn-name").fill("满100减20 <b>")
    console.choose("#cpn-kind", "满减券")
    page.locator("#cpn-amount").fill("20")  # 元: the API gets 2000 fen
    page.locator("#cpn-total").fill("500")
    page.locator("#coupon-create button[type=submit]").click()
    error = page.locator(".field-error[data-field=threshold_fen]")  # 满X减Y needs X > Y: refused, shown
    error.wait_for()
    assert "门槛须大于减免金额" in error.inner_text()  # the domain's own validator message, in Chinese
    assert page.locator("#cpn-threshold").get_attribute("aria-invalid") == "true"
    assert live_server.api(owner, "GET", "/admin/promotions/coupon-templates").json()["items"] == []
    console.shot("field-error")

    page.locator("#cpn-threshold").fill("100")
    page.locator("#cpn-preview").click()  # the rule text users will see, before creating
    assert "满100元减20元" in page.locator("#cpn-preview-text").inner_text()
    assert page.locator(".field-error").count() == 0
    page.locator("#coupon-create button[type=submit]").click()
    row = page.locator("#promo-templates tbody tr", has_text="满100减20 <b>")
    row.wait_for()
    assert "满 ¥100.00 减 ¥20.00" in row.inner_text() and "0 / 500" in row.inner_text()
    assert "满100元减20元" in row.inner_text()  # the generated rule text users see
    assert "满减券" in row.inner_text() and "用户领取" in row.inner_text()  # codes as words
    listed = live_server.api(owner, "GET", "/admin/promotions/coupon-templates").json()["items"]
    assert [(t["amount_fen"], t["threshold_fen"], t["total_limit"]) for t in listed] == [(2000, 10000, 500)]
    console.shot("created")

    page.locator("#cpn-id").fill("m100")  # the same id again: said at the id
    page.locator("#cpn-name").fill("again")
    page.locator("#coupon-create button[type=submit]").click()
    page.locator(".field-error[data-field=id]", has_text="已被使用").wait_for()

    row.locator("button.toggle").click()  # pausing a running coupon asks first
    page.locator(".el-message-box", has_text="暂停").wait_for()
    console.confirm()
    page.locator("#promo-templates tbody tr", has_text="已暂停").wait_for()
    listed = live_server.api(owner, "GET", "/admin/promotions/coupon-templates").json()["items"]
    assert [(t["id"], t["active"]) for t in listed] == [("m100", False)]

    page.locator("#check-run").click()  # the prefilled example rewards sharing
    violation = page.locator("#check-violations li[data-field=claim_trigger]")
    violation.wait_for()
    assert "发放方式" in violation.inner_text() and "分享" in violation.inner_text()
    assert "claim_trigger" not in page.locator("#check-result").inner_text()  # field names in words
    assert page.locator("#check-form .field-error[data-field=claim_trigger]").count() == 1
    console.choose("#check-kind", "砍价")
    page.locator("#check-name").fill("邀请3人砍价")
    page.locator("#check-item_id").fill("cup")
    page.locator("#check-price_fen").fill("30")
    page.locator("#check-floor_fen").fill("0")
    page.locator("#check-helpers_needed").fill("3")
    page.locator("#check-run").click()
    page.locator("#check-rules").wait_for()
    assert "原价30元，邀请3位好友助力即可以0元购买" in page.locator("#check-rules").inner_text()
    page.locator("#check-floor_fen").fill("40")  # a floor above the price: refused, in Chinese
    page.locator("#check-run").click()
    page.locator("#check-violations li[data-field=floor_fen]", has_text="底价须低于原价").wait_for()
    assert "底价" in page.locator("#check-form .field-error[data-field=floor_fen]").inner_text()
    console.shot("checked")

    page.locator("#promo-run-jobs").click()
    page.get_by_text("任务已运行").wait_for()


def test_a_percent_coupon_with_a_window_in_the_app_timezone(
    console: ConsoleSession, live_server: LiveServer
) -> None:
    page = console.page
    console.allow_console_error(r"status of 422")  # an id with a space, on purpose
    owner = live_server.keys["shop"]["owner"]
    page.locator("#nav a[data-page=promotions]").click()
    console.wait_ready()
    page.locator("#cpn-id").fill("p 85")
    page.locator("#cpn-name").fill("85折券")
    console.choose("#cpn-kind", "折扣券")
    page.locator("#cpn-percent").fill("15")
    page.locator("#cpn-cap").fill("50")
    page.get_by_text("固定时间段").click()
    for picker, wall in (("#cpn-from", "2026-12-01 00:00"), ("#cpn-until", "2026-12-31 23:59")):
        page.locator(picker).fill(wall)
        page.locator(picker).press("Enter")
        page.keyboard.press("Escape")
    page.locator("#coupon-create button[type=submit]").click()
    error = page.locator(".field-error[data-field=id]")
    error.wait_for()
    assert error.inner_text() == "编号为 1–64 位字母、数字、- 或 _"  # not the API's pattern
    page.locator("#cpn-id").fill("p85")
    page.locator("#coupon-create button[type=submit]").click()
    row = page.locator("#promo-templates tbody tr", has_text="85折券")
    row.wait_for()
    assert "8.5 折（最多优惠 ¥50.00）" in row.inner_text()
    assert "2026-12-01 00:00 至 2026-12-31 23:59" in row.inner_text()  # shown in the app's timezone
    (tpl,) = live_server.api(owner, "GET", "/admin/promotions/coupon-templates").json()["items"]
    # typed as Shanghai wall-clock time: 2026-12-01 00:00 +08:00 is 2026-11-30 16:00 UTC
    assert datetime.fromisoformat(tpl["valid_from"]) == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert (tpl["kind"], tpl["percent_off"], tpl["max_discount_fen"], tpl["valid_days"]) == (
        "percent",
        15,
        5000,
        None,
    )
    page.locator("#lang-toggle").click()
    row = page.locator("#promo-templates tbody tr", has_text="85折券")
    row.get_by_text("15% off (at most ¥50.00)").wait_for()
    assert "2026-12-01 00:00 to 2026-12-31 23:59" in row.inner_text() and "Percent off" in row.inner_text()
    console.shot("percent-window-en")


def test_the_compliance_check_for_each_kind(console: ConsoleSession) -> None:
    """Every kind has real fields; refusals are said in words next to their fields, and again after a
    language switch."""
    page = console.page
    page.locator("#nav a[data-page=promotions]").click()
    console.wait_ready()
    result = page.locator("#check-result")

    console.choose("#check-kind", "分销")
    page.locator("#check-levels").fill("3")
    page.locator("#check-run").click()
    page.locator("#check-violations li[data-field=levels]", has_text="分销最多 2 级").wait_for()
    assert "分销层级" in result.inner_text()
    assert page.locator("#check-form .field-error[data-field=levels]").inner_text() == "分销最多 2 级"
    page.locator("#check-levels").fill("2")
    page.locator("#check-level2_bp").fill("5")
    page.locator("#check-run").click()
    page.locator("#check-rules").wait_for()
    assert "一级佣金10%，二级佣金5%" in page.locator("#check-rules").inner_text()

    console.choose("#check-kind", "拼团")
    page.locator("#check-name").fill("3人团")
    page.locator("#check-item_id").fill("coffee")
    page.locator("#check-original_price_fen").fill("30")
    page.locator("#check-group_price_fen").fill("40")
    page.locator("#check-run").click()
    page.locator("#check-violations li[data-field=group_price_fen]", has_text="拼团价不能高于原价").wait_for()
    page.locator("#check-group_price_fen").fill("19.9")
    page.locator("#check-run").click()
    page.locator("#check-rules").wait_for()
    assert "3人成团，拼团价19.90元（原价30元）" in page.locator("#check-rules").inner_text()

    console.choose("#check-kind", "邀请有礼")
    page.locator("#check-name").fill("邀请有礼")
    console.choose("#check-qualifying_action", "分享（平台禁止）")
    page.locator("#check-run").click()  # no reward coupons yet: said as required, in words
    page.locator("#check-violations li[data-field=referrer_template_id]", has_text="必填").wait_for()
    assert "邀请人奖励券" in result.inner_text() and "referrer_template_id" not in result.inner_text()
    console.shot("check-referral-zh")

    page.locator("#lang-toggle").click()
    page.locator(
        "#check-violations li[data-field=referrer_template_id]", has_text="Field required"
    ).wait_for()
    assert "Referrer's reward coupon" in result.inner_text()
    console.shot("check-referral-en")


def test_running_campaigns_with_live_figures_in_both_languages(
    console: ConsoleSession, live_server: LiveServer
) -> None:
    """Campaigns created through the admin API appear on the page (issue 23 item 9): flash stock sold / left,
    groups formed / failed, bargains in progress, invitees, distribution; amounts in 元 with separators,
    times in the app's timezone (Asia/Shanghai), zh and en."""
    page = console.page
    key = live_server.keys["shop"]["operator"]
    start = datetime(2026, 11, 11, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    calls: list[tuple[str, str, dict[str, Any]]] = [
        (
            "POST",
            "/admin/promotions/flash/sessions",
            {
                "id": "s11",
                "name": "双11 秒杀",
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=2)).isoformat(),
            },
        ),
        (
            "POST",
            "/admin/promotions/flash/items",
            {
                "id": "f1",
                "session_id": "s11",
                "item_id": "tv-65",
                "price_fen": 99900,
                "original_price_fen": 123456,
                "stock": 10,
            },
        ),
        (
            "POST",
            "/admin/promotions/group-campaigns",
            {
                "id": "g3",
                "name": "3人团 咖啡",
                "item_id": "coffee",
                "original_price_fen": 3000,
                "group_price_fen": 1990,
                "size": 3,
            },
        ),
        (
            "POST",
            "/admin/promotions/bargain-campaigns",
            {
                "id": "b5",
                "name": "砍价 杯子",
                "item_id": "cup",
                "price_fen": 5000,
                "floor_fen": 100,
                "helpers_needed": 5,
            },
        ),
        (
            "POST",
            "/admin/promotions/coupon-templates",
            {
                "id": "ra",
                "name": "邀请奖励",
                "kind": "fixed",
                "amount_fen": 500,
                "valid_days": 30,
                "claim_trigger": "reward",
            },
        ),
        (
            "POST",
            "/admin/promotions/referral-programs",
            {"id": "inv", "name": "邀请有礼", "referrer_template_id": "ra", "invitee_template_id": "ra"},
        ),
        (
            "POST",
            "/admin/promotions/gift-packs",
            {"id": "welcome", "name": "新人礼包", "template_ids": ["ra"]},
        ),
        ("PUT", "/admin/promotions/distribution", {"level1_bp": 1000, "freeze_days": 7}),
    ]
    for method, path, body in calls:
        r = live_server.api(key, method, path, json=body)
        assert r.status_code in (200, 201), r.text
    # participation as the flows leave it: 3 units paid, 2 awaiting payment; groups formed / failed / forming
    now = datetime.now(UTC)
    with unit_of_work(live_server.runtime.sessions, app_id="shop") as db:
        db.execute(update(FlashItem).where(FlashItem.id == "f1").values(stock=5))
        for i, status in enumerate(["paid"] * 3 + ["reserved"] * 2):
            db.add(
                FlashReservation(
                    id=f"r{i}",
                    app_id="shop",
                    flash_item_id="f1",
                    user_id=f"u{i}",
                    quantity=1,
                    status=status,
                    reserved_at=now,
                    pay_by=now + timedelta(minutes=15),
                )
            )
        for i, status in enumerate(["succeeded", "succeeded", "failed", "open"]):
            db.add(
                Group(
                    id=f"grp{i}",
                    app_id="shop",
                    campaign_id="g3",
                    leader_user_id=f"u{i}",
                    size=3,
                    member_count=3,
                    status=status,
                    opened_at=now,
                    deadline=now + timedelta(days=1),
                )
            )
        for i, status in enumerate(["active", "active", "completed"]):
            db.add(
                Bargain(
                    id=f"bg{i}",
                    app_id="shop",
                    campaign_id="b5",
                    user_id=f"u{i}",
                    price_fen=5000,
                    floor_fen=100,
                    helpers_needed=5,
                    cuts="[]",
                    current_price_fen=4000,
                    status=status,
                    started_at=now,
                    expires_at=now + timedelta(days=1),
                )
            )

    page.locator("#nav a[data-page=promotions]").click()
    flash = page.locator("#promo-flash tbody tr", has_text="双11 秒杀")
    flash.wait_for()
    text = flash.inner_text()
    assert "2026-11-11 10:00 – 2026-11-11 12:00" in text  # the app's timezone, not UTC
    assert "¥999" in text and "¥1,234.56" in text  # 元 with separators
    cells = {c: flash.locator(f"td.col-{c}").inner_text() for c in ("sold", "reserved", "left", "total")}
    assert cells == {"sold": "3", "reserved": "2", "left": "5", "total": "10"}
    group = page.locator("#promo-groups tbody tr", has_text="3人团 咖啡").inner_text()
    assert "¥19.90 / ¥19.90 / ¥30.00" in group and "3 人" in group and "1 天" in group
    cols = {
        c: page.locator(f"#promo-groups td.col-{c}").inner_text() for c in ("open", "succeeded", "failed")
    }
    assert cols == {"open": "1", "succeeded": "2", "failed": "1"}
    bargain = page.locator("#promo-bargains tbody tr", has_text="砍价 杯子")
    assert "¥50.00 → ¥1.00" in bargain.inner_text()
    assert bargain.locator("td.col-in_progress").inner_text() == "2"
    assert "首单支付" in page.locator("#promo-referrals tbody tr", has_text="邀请有礼").inner_text()
    assert "新人礼包" in page.locator("#promo-gift-packs").inner_text()
    dist = page.locator("#promo-distribution").inner_text()
    assert "10%" in dist and "7 天" in dist and "¥1.00" in dist
    assert page.locator("#promo-distribution dd[data-key=freeze]").inner_text() == "7 天"
    kpis = page.locator("#promo-kpis").inner_text()
    assert "秒杀已支付" in kpis and "已成团" in kpis  # headline figures
    assert page.locator("#promo-kpis [data-stat=flash] .stat-value").inner_text() == "3"
    assert page.locator("#promo-kpis [data-stat=groups] .stat-value").inner_text() == "2"
    assert "Asia/Shanghai" in page.locator("#promo-running").inner_text()
    assert "待支付 2" in page.locator("#promo-overview").inner_text()  # state names translated too
    assert "{n}" not in page.locator("#page-body").inner_text()  # every placeholder filled
    assert page.locator("label[for=cpn-days]").inner_text() == "领取后有效天数"
    console.shot("running-zh")

    page.locator("#lang-toggle").click()
    page.locator("#promo-running h2", has_text="Campaigns").wait_for()
    flash = page.locator("#promo-flash tbody tr", has_text="双11 秒杀")
    assert (
        "Upcoming" in flash.inner_text() or "Ended" in flash.inner_text() or "Running" in flash.inner_text()
    )
    assert "¥1,234.56" in flash.inner_text()
    assert (
        "3 people" in page.locator("#promo-groups").inner_text()
        and "1 day" in page.locator("#promo-groups").inner_text()
    )
    assert "1 days" not in page.locator("#promo-running").inner_text()
    assert "First paid order" in page.locator("#promo-referrals").inner_text()
    assert "7 days" in page.locator("#promo-distribution").inner_text()
    assert "reserved 2" in page.locator("#promo-overview").inner_text()
    assert "{n}" not in page.locator("#page-body").inner_text()
    console.shot("running-en")
    page.locator("#lang-toggle").click()
    page.locator("#promo-running h2", has_text="活动列表").wait_for()
