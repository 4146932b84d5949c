"""The audit trail's console page in Chromium, in Chinese and English."""

from __future__ import annotations

from collections.abc import Callable

from tests.browser.fixtures import ConsoleSession, LiveServer


def test_audit_page_lists_actions_with_their_changes(
    console: ConsoleSession, live_server: LiveServer
) -> None:
    owner = live_server.keys["shop"]["owner"]
    assert (
        live_server.api(
            owner, "POST", "/admin/keys", json={"name": "运营小王", "role": "operator"}
        ).status_code
        == 201
    )
    adjust = {"points": 20, "key": "k-1", "note": "客诉补偿"}
    assert live_server.api(owner, "POST", "/admin/loyalty/members/u-9/adjust", json=adjust).status_code == 200
    page = console.page
    page.locator("#nav a[data-page=audit]").click()
    console.wait_ready()
    rows = page.locator("#audit-table .el-table__body > tbody > tr")
    rows.first.wait_for()
    assert rows.count() == 2
    first = rows.nth(0)
    text = first.inner_text()
    # the action by name (its route in the tooltip), who by role and key name, the request field by field
    assert "调整会员积分" in text and "/admin/" not in text
    assert first.locator("[title='POST /admin/loyalty/members/{user_id}/adjust']").count() == 1
    assert "所有者 · owner" in text  # the role and the owner key's name (its id in the tooltip)
    assert "note: 客诉补偿" in text and "用户: u-9" in text
    keys_row = rows.nth(1)
    assert "新建 API 密钥" in keys_row.inner_text()
    keys_row.locator(".changes-open").click()
    drawer = page.locator(".audit-drawer")
    changes = drawer.locator("table.audit-changes")
    changes.wait_for()
    assert "新增 · api_keys" in drawer.inner_text() and "运营小王" in changes.inner_text()
    # the key's hash never shows: the server redacts it, the page says so
    assert changes.locator("tr[data-field=secret_hash] td.after").inner_text() == "（已隐藏）"
    assert "POST /admin/keys" in drawer.locator(".facts").inner_text()
    console.shot("audit-changes-zh")
    page.keyboard.press("Escape")
    drawer.wait_for(state="hidden")
    console.shot("audit-zh")

    console.choose("#audit-action", "新建 API 密钥")
    page.locator("#audit-filter button[type=submit]").click()
    rows.nth(1).wait_for(state="detached")  # the CSP allows no eval: wait on the locator, not a JS string
    assert "新建 API 密钥" in rows.first.inner_text()
    assert "action=POST+%2Fadmin%2Fkeys&" in console.api_requests("/admin/audit")[-1].url
    assert "action=" in page.url  # the filter is in the address, for a link or a reload

    page.locator("#audit-action").fill("nothing-like-this")
    page.locator("#audit-action").press("Enter")
    page.locator("#audit-filter button[type=submit]").click()
    page.locator("#audit-table .empty").get_by_text("没有符合条件的操作记录").wait_for()

    page.locator("#lang-toggle").click()
    page.locator("#nav a[data-page=audit]").get_by_text("Audit trail").wait_for()
    assert page.locator(".page-title").inner_text() == "Audit trail"
    page.locator("#audit-filter").get_by_role("button", name="Clear").click()
    page.locator("#audit-table .el-table__body > tbody > tr").nth(1).wait_for()
    assert "Adjust a member's points" in page.locator("#audit-table").inner_text()
    console.shot("audit-en")


def test_audit_page_says_analysts_may_not_read_it(
    live_server: LiveServer, open_console: Callable[..., ConsoleSession]
) -> None:
    keys = live_server.make_app("shop", "小店")
    analyst = open_console(keys["analyst"])
    analyst.page.locator("#nav a[data-page=audit]").click()
    analyst.page.locator("#audit-forbidden").get_by_text("只有运营或所有者").wait_for()
    assert not analyst.api_requests("/admin/audit")


def test_audit_page_fits_a_phone(console: ConsoleSession, live_server: LiveServer) -> None:
    owner = live_server.keys["shop"]["owner"]
    adjust = {"points": 5, "key": "k-2", "note": "生日礼"}
    assert live_server.api(owner, "POST", "/admin/loyalty/members/u-7/adjust", json=adjust).status_code == 200
    page = console.page
    page.set_viewport_size({"width": 390, "height": 844})
    console.goto("#/audit")
    console.wait_ready()
    page.locator("#audit-table .el-table__body tbody tr").first.wait_for()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways: {width}px"
    console.shot("audit-phone")


def test_audit_trail_pages_on_the_server_and_exports_csv(
    console: ConsoleSession, live_server: LiveServer
) -> None:
    owner = live_server.keys["shop"]["owner"]
    for i in range(52):
        body = {"points": 1, "key": f"k-{i}", "note": f"第 {i} 次"}
        assert (
            live_server.api(owner, "POST", "/admin/loyalty/members/u-1/adjust", json=body).status_code == 200
        )
    page = console.page
    console.goto("#/audit")
    console.wait_ready()
    rows = page.locator("#audit-table .el-table__body > tbody > tr")
    rows.nth(49).wait_for()
    assert rows.count() == 50  # a page of 50, newest first
    assert "第 51 次" in rows.first.inner_text()
    page.locator("#audit-table .htable-pager .next").click()
    rows.nth(2).wait_for(state="detached")
    assert rows.count() == 2 and "第 0 次" in rows.last.inner_text()
    assert "cursor=" in console.api_requests("/admin/audit")[-1].url
    page.locator("#audit-table .htable-pager .prev").click()
    rows.nth(49).wait_for()

    with page.expect_download() as download:
        page.locator("#audit-table .csv").click()
    text = open(download.value.path(), encoding="utf-8-sig").read()  # noqa: SIM115
    lines = text.strip().splitlines()
    assert len(lines) == 1 + 52  # every entry, following the cursors
    assert lines[0].startswith("时间,操作者,操作")
    assert "调整会员积分 (POST /admin/loyalty/members/{user_id}/adjust) · 用户: u-1" in lines[1]
