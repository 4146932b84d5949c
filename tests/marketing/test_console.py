"""The marketing calendar and activity results in headless Chromium against a live huoli, in Chinese and
English: month and week views, a clash warned about, a festival plan refused at its field then created, and
an activity's results (tests/browser/fixtures.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.browser.fixtures import ConsoleSession, LiveServer

from huoli.promotions import service as promotions
from huoli.work import Caller, open_work


def _seed(live: LiveServer, key: str) -> None:
    """A group buy of the tea from yesterday for five days, a flash sale of the same tea the day after tomorrow
    (the clash), and a coupon two shoppers claimed, one of whom paid with it."""
    now = datetime.now(UTC)
    day = timedelta(days=1)

    def ok(path: str, body: dict[str, Any]) -> None:
        r = live.api(key, "POST", path, json=body)
        assert r.status_code == 201, r.text

    ok(
        "/admin/promotions/group-campaigns",
        {
            "id": "g-tea",
            "name": "三人团·龙井",
            "item_id": "sku-tea",
            "original_price_fen": 12800,
            "group_price_fen": 8800,
            "size": 3,
            "starts_at": (now - day).isoformat(),
            "ends_at": (now + 4 * day).isoformat(),
        },
    )
    start = now + 2 * day
    ok(
        "/admin/promotions/flash/sessions",
        {
            "id": "s-tea",
            "name": "龙井秒杀",
            "starts_at": start.isoformat(),
            "ends_at": (start + day / 24).isoformat(),
        },
    )
    ok(
        "/admin/promotions/flash/items",
        {
            "id": "fi-tea",
            "session_id": "s-tea",
            "item_id": "sku-tea",
            "price_fen": 5900,
            "original_price_fen": 12800,
            "stock": 10,
        },
    )
    window = {"valid_from": (now - day).isoformat(), "valid_until": (now + 3 * day).isoformat()}
    ok(
        "/admin/promotions/coupon-templates",
        {
            "id": "m100",
            "name": "满100减20",
            "kind": "threshold",
            "threshold_fen": 10000,
            "amount_fen": 2000,
            **window,
        },
    )
    with open_work(live.runtime, "shop", Caller("cli", "test"), now=now - day / 2) as work:
        ids = {
            u: promotions.claim_coupon(
                work, template_id="m100", user_id=u, claim_key=f"k-{u}", source="claim"
            )[0]
            for u in ("u1", "u2")
        }
        promotions.order_paid(
            work,
            order_id="o-1",
            user_id="u1",
            paid_fen=15000,
            coupon_ids=[ids["u1"]],
            flash_reservation_id=None,
        )


def test_calendar_plan_and_results(console: ConsoleSession, live_server: LiveServer) -> None:
    page = console.page
    console.allow_console_error(r"status of 422")  # the plan with a bad amount, on purpose
    owner = live_server.keys["shop"]["owner"]
    _seed(live_server, owner)

    # month view: the clash listed above the calendar and marked on its day, the bars per kind
    page.locator("#nav a[data-page=marketing-calendar]").click()
    page.locator("#cal-grid").wait_for()
    console.wait_ready()
    warning = page.locator("#cal-warnings li[data-code=same_item_discounts]")
    assert "「三人团·龙井」" in warning.inner_text() and "sku-tea" in warning.inner_text()
    assert page.locator("#cal-grid .bar[data-id=g-tea]").count() >= 1
    assert page.locator("#cal-grid .cal-day.warned").count() >= 1
    console.shot("month-zh")

    # week view: seven days, the bars with their start time
    page.locator("#cal-view label", has_text="周").click()
    page.locator("#cal-grid.cal-view-week").wait_for()
    assert page.locator("#cal-grid .cal-day").count() == 7
    console.shot("week-zh")
    page.locator("#cal-grid .bar[data-id=g-tea]").first.click()
    dialog = page.locator(".activity-dialog")
    dialog.locator("#act-results").wait_for()
    assert "拼团" in dialog.inner_text()
    dialog.locator(".el-dialog__headerbtn").click()

    # a festival plan: next year's 618 (always ahead), a bad amount refused at its row and field, then created
    page.locator("#cal-plan").click()
    drawer = page.locator(".plan-drawer")
    console.choose("#plan-year", str(datetime.now(UTC).year + 1) + " 年")
    console.choose("#plan-festival", next(t for t in _labels(page, "#plan-festival") if t.startswith("618")))
    drawer.locator(".draft").first.wait_for()
    group = drawer.locator(".draft[data-kind=group-campaigns]")
    group.locator(".draft-head .el-checkbox").click()  # leave the group buy out: no item chosen
    first = drawer.locator(".draft").first
    first.locator("input[name='drafts.0.body.threshold_fen']").fill("10")  # 满10减30: refused
    drawer.locator("button[type=submit]").click()
    error = drawer.locator(".field-error[data-field='drafts.0.body.threshold_fen']")
    error.wait_for()
    assert (
        live_server.api(owner, "GET", "/admin/promotions/coupon-templates").json()["items"][0]["id"] == "m100"
    )
    assert len(live_server.api(owner, "GET", "/admin/promotions/coupon-templates").json()["items"]) == 1
    console.shot("plan-error-zh")
    first.locator("input[name='drafts.0.body.threshold_fen']").fill("199")
    drawer.locator("button[type=submit]").click()
    page.locator(".toast", has_text="已创建").wait_for()
    ids = {
        t["id"] for t in live_server.api(owner, "GET", "/admin/promotions/coupon-templates").json()["items"]
    }
    assert len(ids) == 4  # m100, the two 618 tiers and the invitation reward
    assert not live_server.api(owner, "GET", "/admin/promotions/group-campaigns").json()["items"][1:]

    # results of the coupon: the funnel, cost, sharing; then the list when opened bare
    console.goto("#/activity-results?kind=coupon-templates&id=m100")
    page.locator("#res-funnel").wait_for()
    console.wait_ready()
    funnel = page.locator("#res-funnel").inner_text()
    assert "参与人数" in funnel and "¥150.00" in funnel
    assert page.locator("#res-cost").inner_text().count("¥") >= 2
    console.shot("results-zh")
    console.goto("#/activity-results?kind=flash-sessions&id=s-tea")
    page.locator("#res-nodata").wait_for()  # nobody took part yet
    console.goto("#/activity-results")
    page.locator("#res-picks tbody tr").first.wait_for()
    page.locator("#res-picks tbody tr", has_text="满100减20").locator(".pick-link").click()
    page.locator("#res-funnel").wait_for()

    # English: the same pages in the other language
    page.locator("#lang-toggle").click()
    page.locator("#res-funnel", has_text="Participants").wait_for()
    assert "Cost" in page.locator(".mkt-page").inner_text()
    console.shot("results-en")
    console.goto("#/marketing-calendar?view=month")
    page.locator("#cal-warnings li[data-code=same_item_discounts]", has_text="both discount").wait_for()
    console.shot("month-en")


def _labels(page: Any, select: str) -> list[str]:
    """The options of an Element Plus select (opened once to render them)."""
    root = page.locator(select).locator(
        "xpath=ancestor-or-self::div[contains(concat(' ', normalize-space(@class), ' '), ' el-select ')][1]"
    )
    root.locator(".el-select__wrapper").first.click()
    # this select's own list (its input names it in aria-controls): another list still closing (the year's)
    # may be visible too, and which popper comes last in <body> depends on when each was first opened
    listbox = root.locator("input").first.get_attribute("aria-controls")
    items = page.locator(f"[id='{listbox}'] .el-select-dropdown__item")
    items.first.wait_for(state="attached")
    out: list[str] = items.all_text_contents()
    page.keyboard.press("Escape")
    return out
