"""The API keys page: create with a role (field errors from the API), revoke, and what a non-owner sees."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from tests.browser.fixtures import ConsoleSession, LiveServer

TZ = ZoneInfo("Asia/Shanghai")


def test_create_key_field_error_then_revoke(console: ConsoleSession, live_server: LiveServer) -> None:
    page = console.page
    console.allow_console_error(r"status of 422")  # the empty name, refused by the API on purpose
    page.locator("#nav a[data-page=keys]").click()
    page.locator("#keys-table table").wait_for()
    assert page.locator("#range").count() == 0  # pages that ignore the date range hide it

    page.locator("#key-create button[type=submit]").click()
    error = page.locator(".field-error[data-field=name]")
    error.wait_for()
    assert error.inner_text() == "至少需要 1 个字符"  # the API's message, in the UI language
    # next to its input, linked for screen readers
    assert page.evaluate("document.querySelector('#key-name').nextElementSibling.dataset.field") == "name"
    assert page.locator("#key-name").get_attribute("aria-invalid") == "true"
    assert page.locator("#key-name").get_attribute("aria-describedby") == error.get_attribute("id")
    console.shot("field-error")

    page.locator("#key-name").fill("增长小组 <b>")
    page.locator("#key-role").select_option("operator")
    page.locator("#key-create button[type=submit]").click()
    secret = page.locator("#key-secret")
    secret.wait_for()
    new_key = secret.inner_text()
    assert new_key.startswith("hlk_")
    assert page.locator(".field-error").count() == 0
    assert live_server.api(new_key, "GET", "/admin/app").status_code == 200
    row = page.locator("#keys-table tr", has_text="增长小组 <b>")
    row.wait_for()
    console.shot("created")

    button = row.locator("button.revoke")
    button.click()
    assert button.inner_text() == "确认吊销？"
    button.click()
    page.locator("#keys-table tr", has_text="增长小组 <b>").get_by_text("已吊销于").wait_for()
    assert live_server.api(new_key, "GET", "/admin/app").status_code == 401
    owner = live_server.keys["shop"]["owner"]
    listed = {k["name"]: k for k in live_server.api(owner, "GET", "/admin/keys").json()["items"]}
    assert listed["增长小组 <b>"]["revoked_at"] is not None and listed["增长小组 <b>"]["role"] == "operator"
    console.shot("revoked")


def test_keys_page_for_an_analyst_says_why(live_server: LiveServer, open_console) -> None:  # type: ignore[no-untyped-def]
    keys = live_server.make_app("shop", "小店")
    c = open_console(keys["analyst"])
    c.allow_console_error(r"status of 403")
    c.page.locator("#nav a[data-page=keys]").click()
    c.page.locator("#keys-forbidden").wait_for()
