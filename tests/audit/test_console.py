"""The audit trail's console page in Chromium, in Chinese and English."""

from __future__ import annotations

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
    rows = page.locator("#audit-table table:not(.audit-changes) > tbody > tr")
    rows.first.wait_for()
    assert rows.count() == 2
    first = rows.nth(0)
    assert "/admin/loyalty/members/{user_id}/adjust" in first.inner_text()
    assert "所有者" in first.inner_text() and "客诉补偿" in first.inner_text()
    keys_row = rows.nth(1)
    keys_row.locator("summary").click()
    assert "运营小王" in keys_row.locator("table.audit-changes").inner_text()
    assert '"***"' in keys_row.locator("table.audit-changes").inner_text()  # the key's hash never shows
    console.shot("audit-zh")

    page.locator("#audit-action").fill("/keys")
    page.locator("#audit-filter button[type=submit]").click()
    rows.nth(1).wait_for(state="detached")  # the CSP allows no eval: wait on the locator, not a JS string
    page.locator("#lang-toggle").click()
    page.locator("#nav a[data-page=audit]").get_by_text("Audit trail").wait_for()
    page.locator("#audit-table table:not(.audit-changes) > tbody > tr").first.wait_for()
    assert page.locator(".page-title").inner_text() == "Audit trail"
    console.shot("audit-en")
