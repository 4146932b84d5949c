"""The promotions console page in headless Chromium against a live huoli (tests/browser/fixtures.py)."""

from __future__ import annotations

from tests.browser.fixtures import ConsoleSession, LiveServer


def test_create_pause_and_check_coupons(console: ConsoleSession, live_server: LiveServer) -> None:
    page = console.page
    console.allow_console_error(r"status of 422")  # the threshold coupon without a threshold, on purpose
    owner = live_server.keys["shop"]["owner"]
    page.locator("#nav a[data-page=promotions]").click()
    page.locator("#promo-overview table").wait_for()
    assert page.locator(".page-title").inner_text() == "营销活动"

    page.locator("#cpn-id").fill("m100")
    page.locator("#cpn-name").fill("满100减20 <b>")
    page.locator("#cpn-kind").select_option("threshold")
    page.locator("#cpn-amount").fill("2000")
    page.locator("#cpn-total").fill("500")
    page.locator("#coupon-create button[type=submit]").click()
    page.locator(".field-error[data-field=threshold_fen]").wait_for()  # 满X减Y needs X > Y: refused, shown
    assert live_server.api(owner, "GET", "/admin/promotions/coupon-templates").json()["items"] == []
    console.shot("field-error")

    page.locator("#cpn-threshold").fill("10000")
    page.locator("#coupon-create button[type=submit]").click()
    row = page.locator("#promo-templates tr", has_text="满100减20 <b>")
    row.wait_for()
    assert "满 ¥100 减 ¥20" in row.inner_text() and "0 / 500" in row.inner_text()
    assert "满100元减20元" in row.inner_text()  # the generated rule text users see
    console.shot("created")

    row.locator("button.toggle").click()
    page.locator("#promo-templates tr", has_text="已暂停").wait_for()
    listed = live_server.api(owner, "GET", "/admin/promotions/coupon-templates").json()["items"]
    assert [(t["id"], t["active"]) for t in listed] == [("m100", False)]

    page.locator("#check-run").click()  # the prefilled example rewards sharing
    page.locator("#check-violations li").first.wait_for()
    assert "claim_trigger" in page.locator("#check-violations").inner_text()
    page.locator("#check-config").fill(
        '{"id": "b", "name": "邀请3人砍价", "item_id": "cup", "price_fen": 3000, "floor_fen": 0, "helpers_needed": 3}'
    )
    page.locator("#check-kind").select_option("bargain")
    page.locator("#check-run").click()
    page.locator("#check-rules").wait_for()
    assert "邀请3位好友助力" in page.locator("#check-rules").inner_text()

    page.locator("#promo-run-jobs").click()
    page.get_by_text("任务已运行").wait_for()
    console.shot("checked")
