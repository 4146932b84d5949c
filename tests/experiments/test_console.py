"""Experiment and flag console pages in headless Chromium against a live huoli (see tests/browser/fixtures.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.browser.fixtures import ConsoleSession, LiveServer
from tests.experiments.helpers import put_events


def test_flags_page_creates_edits_and_kills(console: ConsoleSession, live_server: LiveServer) -> None:
    c, page = console, console.page
    c.allow_console_error(r"status of 422")
    c.goto("#/flags")
    c.wait_ready()
    assert page.locator(".page-title").inner_text() == "功能开关"
    page.locator("#flag-key").fill("home_layout")
    c.choose("#flag-type", "文本")
    page.locator("#flag-default").fill("grid")
    page.locator("#flag-add-rule").click()
    page.locator("#rule-0-id").fill("vip users")  # a space: the API refuses the rule id
    page.locator("#rule-0-c0-attr").fill("segment")
    page.locator("#rule-0-c0-value").fill("vip")
    page.locator("#rule-0-value").fill("feed")
    page.locator("#flag-save").click()
    # the API's field error for the rule id lands under it, in Chinese
    err = page.locator(".field-error[data-field='rules[0].id']")
    err.wait_for()
    assert "字母、数字" in err.inner_text() and "pattern" not in err.inner_text(), err.inner_text()
    assert page.locator("#rule-0-id").get_attribute("aria-invalid") == "true"
    page.locator("#rule-0-id").fill("vip")
    page.locator("#flag-save").click()
    page.locator("button.flag-kill[data-flag=home_layout]").wait_for()
    key = live_server.keys["shop"]["owner"]
    flag = live_server.api(key, "GET", "/admin/flags/home_layout").json()
    assert flag["default_value"] == "grid" and flag["killed"] is False
    assert flag["rules"][0]["value"] == "feed" and flag["rules"][0]["condition"] == {"segment": "vip"}
    # The kill switch asks first; cancelling keeps the flag live.
    page.locator("button.flag-kill[data-flag=home_layout]").click()
    page.locator(".el-message-box", has_text="紧急关闭开关 home_layout").wait_for()
    page.locator(".el-message-box button", has_text="取消").click()
    assert live_server.api(key, "GET", "/admin/flags/home_layout").json()["killed"] is False
    page.locator("button.flag-kill[data-flag=home_layout]").click()
    c.confirm()
    page.locator(".flag-state[data-flag=home_layout]", has_text="已关闭").wait_for()
    assert live_server.api(key, "GET", "/admin/flags/home_layout").json()["killed"] is True
    c.shot("flags")
    page.locator("#lang-toggle").click()
    page.locator(".flag-state[data-flag=home_layout]", has_text="Killed").wait_for()
    assert page.locator("button.flag-kill[data-flag=home_layout]").inner_text() == "Revive"
    c.shot("flags-en")


def test_experiment_setup_errors_then_results_with_verdict(
    console: ConsoleSession, live_server: LiveServer
) -> None:
    c, page = console, console.page
    c.allow_console_error(r"status of 422")
    key = live_server.keys["shop"]["owner"]
    r = live_server.api(
        key, "POST", "/admin/flags", json={"key": "coupon_type", "type": "string", "default_value": "none"}
    )
    assert r.status_code == 201
    c.goto("#/experiments")
    c.wait_ready()
    assert page.locator(".page-title").inner_text() == "实验"
    page.locator("#exp-key").fill("coupon-test")
    page.locator("#exp-name").fill("新人礼包 vs 首单立减")
    page.locator("[name='variants[0].value']").fill("gift_pack")
    page.locator("[name='variants[1].value']").fill("first_order_off")
    page.locator("[name='variants[1].weight']").fill("60")  # a share of traffic in %
    page.locator("[name='metrics.primary[0].key']").fill("paid")
    page.locator("[name='metrics.primary[0].event']").fill("never_seen_event")
    page.locator("#exp-create").click()
    # The API's errors, in Chinese, under the fields they name (the weights under the variants).
    weights = page.locator(".field-error[data-field='variants']")
    weights.wait_for()
    assert "权重之和应为 100%（现在是 110%）" in weights.inner_text(), weights.inner_text()
    event = page.locator(".field-error[data-field='metrics.primary[0].event']")
    assert "未知事件 never_seen_event" in event.inner_text(), event.inner_text()
    assert page.locator("[name='metrics.primary[0].event']").get_attribute("aria-invalid") == "true"
    assert "weights must" not in page.locator("#experiment-form").inner_text()
    c.shot("experiment-form-errors")
    page.locator("[name='variants[1].weight']").fill("50")
    page.locator("[name='metrics.primary[0].event']").fill("order_paid")
    page.locator("#exp-create").click()
    page.locator("#exp-verdict").wait_for()
    assert "尚未开始" in page.locator("#exp-verdict").inner_text()  # the verdict in the console's language
    page.locator("#exp-start").click()
    page.locator("#exp-stop").wait_for()

    # Users exposed with a 1000/1300 split and a clear winner: SRM warning wins over the verdict.
    t0 = datetime.now(UTC) - timedelta(hours=3)
    rows = []
    for i in range(2300):
        v = "a" if i < 1000 else "b"
        u = f"u{i}"
        rows.append((u, "experiment_exposure", t0, {"experiment": "coupon-test", "variant": v}))
        if i % 10 == 0 or (v == "b" and i % 4 == 0):
            rows.append((u, "order_paid", t0 + timedelta(hours=1), {"order_id": f"o{i}", "amount_fen": 990}))
    put_events(live_server.runtime, "shop", rows)
    page.reload()
    c.wait_ready()
    page.locator("#exp-srm").wait_for()
    assert "样本比例不匹配" in page.locator("#exp-srm").inner_text()
    assert "样本比例不匹配（p = " in page.locator("#exp-verdict").inner_text()
    results = page.locator("#exp-metrics").inner_text()
    assert "paid" in results and "%" in results and "[" in results  # the lift and its interval are shown
    assert page.locator(".over-time-later").count() == 1  # one day of data: no chart yet, and it says when
    c.shot("experiment-results")
    page.locator("#lang-toggle").click()
    page.locator("#exp-verdict", has_text="Sample ratio mismatch (p = ").wait_for()
    assert "样本" not in page.locator("#exp-verdict").inner_text()
    c.shot("experiment-results-en")
    page.locator("#lang-toggle").click()
    page.locator("#exp-verdict", has_text="样本比例不匹配").wait_for()
    page.locator("button.ship[data-variant=b]").click()
    c.confirm()  # shipping sets the flag's default for everyone: it asks first
    page.locator("#exp-status", has_text="已全量发布 b").wait_for()
    exp = live_server.api(key, "GET", "/admin/experiments/coupon-test").json()
    assert exp["shipped_variant"] == "b" and exp["status"] == "stopped"


def test_holdouts_are_listed_and_created_with_field_errors(
    console: ConsoleSession, live_server: LiveServer
) -> None:
    c, page = console, console.page
    c.allow_console_error(r"status of 422")
    c.goto("#/experiments")
    c.wait_ready()
    page.get_by_text("还没有保留组").wait_for()
    page.locator("#holdout-key").fill("q4")
    page.locator("#holdout-name").fill("Q4 campaigns")
    page.locator("#holdout-percent").fill("80")  # above the 50% cap: refused before it is sent
    page.locator("#holdout-create").click()
    page.locator("#holdout-form .field-error[data-field=percent]", has_text="最多 50%").wait_for()
    key = live_server.keys["shop"]["owner"]
    assert live_server.api(key, "GET", "/admin/holdouts").json()["items"] == []
    page.locator("#holdout-percent").fill("10")
    page.locator("#holdout-create").click()
    page.locator("#holdout-table tr", has_text="Q4 campaigns").wait_for()
    assert "10.0%" in page.locator("#holdout-table tr", has_text="Q4 campaigns").inner_text()
    assert "单个活动" in page.locator("#holdout-table tr", has_text="Q4 campaigns").inner_text()
    created = live_server.api(key, "GET", "/admin/holdouts").json()["items"]
    assert [(h["key"], h["scope"], h["percent"]) for h in created] == [("q4", "campaign", 0.1)]
    c.shot("experiment-holdouts")


def test_a_past_start_and_the_exposures_left_out_in_both_languages(
    console: ConsoleSession, live_server: LiveServer
) -> None:
    c, page = console, console.page
    c.allow_console_error(r"status of 422")
    key = live_server.keys["shop"]["owner"]
    live_server.api(
        key, "POST", "/admin/flags", json={"key": "coupon", "type": "string", "default_value": "x"}
    )
    spec = {
        "key": "backfill",
        "name": "导入的历史实验",
        "flag": "coupon",
        "variants": [{"key": "a", "value": "a", "weight": 0.5}, {"key": "b", "value": "b", "weight": 0.5}],
        "metrics": {"primary": [{"key": "paid", "kind": "conversion", "event": "order_paid"}]},
    }
    assert live_server.api(key, "POST", "/admin/experiments", json=spec).status_code == 201
    # History from two months ago: 600 users, 12 of them later seen in the other variant, 5 anonymous visitors.
    t0 = datetime.now(UTC) - timedelta(days=60)
    rows = []
    for i in range(600):
        u, first = f"u{i}", {"experiment": "backfill", "variant": "ab"[i % 2]}
        rows.append((u, "experiment_exposure", t0 + timedelta(minutes=i), first))
        if i % 50 == 0:
            other = {"experiment": "backfill", "variant": "ba"[i % 2]}
            rows.append((u, "experiment_exposure", t0 + timedelta(days=1), other))
        if i % 5 == 0:
            rows.append(
                (u, "order_paid", t0 + timedelta(minutes=i + 30), {"order_id": f"o{i}", "amount_fen": 1})
            )
    rows += [
        (f"anon:g{i}", "experiment_exposure", t0, {"experiment": "backfill", "variant": "a"})
        for i in range(5)
    ]
    put_events(live_server.runtime, "shop", rows)
    c.goto("#/experiments?key=backfill")
    c.wait_ready()
    # The start is typed as wall-clock time in the app's timezone (Asia/Shanghai), whatever the browser's.
    page.locator("#exp-started-at").fill("2999-01-01 00:00")
    page.locator("#exp-started-at").press("Enter")
    page.locator("#exp-start").click()
    future = page.locator("#exp-start-form .field-error[data-field=started_at]")
    future.wait_for()
    assert "2999-01-01 00:00 晚于现在" in future.inner_text(), future.inner_text()
    assert page.locator("#exp-started-at").get_attribute("aria-invalid") == "true"
    since = (t0 - timedelta(days=1)).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    page.locator("#exp-started-at").fill(since)
    page.locator("#exp-started-at").press("Enter")
    page.locator("#exp-start").click()
    page.locator("#exp-stop").wait_for()
    exp = live_server.api(key, "GET", "/admin/experiments/backfill").json()
    local = datetime.fromisoformat(exp["started_at"]).astimezone(ZoneInfo("Asia/Shanghai"))
    assert exp["status"] == "running" and local.strftime("%Y-%m-%d %H:%M") == since
    multiple = page.locator("#exp-multiple").inner_text()
    assert "12 位用户曾进入多个变体" in multiple and "已从所有指标" in multiple and "比例过高" in multiple
    assert "5 次曝光没有用户 ID" in page.locator("#exp-anonymous").inner_text()
    # Every 5th user paid, half an hour after exposure: non-zero over the imported history, as counted here.
    single = [i for i in range(600) if i % 50]  # users seen in one variant only
    users = re.sub(r"\s+", " ", page.locator("#exp-users").inner_text().replace(",", ""))
    assert all(f"{v} {sum(i % 2 == k for i in single)}" in users for k, v in enumerate("ab")), users
    rate = [sum(i % 5 == 0 for i in single if i % 2 == k) / sum(i % 2 == k for i in single) for k in (0, 1)]
    table = page.locator("#exp-metrics").inner_text()
    assert all(x > 0 and f"{x * 100:.2f}%" in table for x in rate), (rate, table)
    page.locator("#exp-chart canvas").first.wait_for()  # two months of history: the lift per day, charted
    c.shot("experiment-backfill-zh")
    page.locator("#lang-toggle").click()
    c.wait_ready()
    page.locator("#exp-multiple").get_by_text("12 users were exposed to more than one variant").wait_for()
    assert "are excluded from every metric" in page.locator("#exp-multiple").inner_text()
    assert "5 exposures without a user id" in page.locator("#exp-anonymous").inner_text()
    c.shot("experiment-backfill-en")
