"""The API keys page: create with a role (field errors from the API), revoke after a confirmation, and what a
non-owner sees."""

from __future__ import annotations

from tests.browser.fixtures import ConsoleSession, LiveServer


def test_create_key_field_error_then_revoke(console: ConsoleSession, live_server: LiveServer) -> None:
    page = console.page
    console.allow_console_error(r"status of 422")  # the empty name, refused by the API on purpose
    page.locator("#nav a[data-page=keys]").click()
    console.wait_ready()
    page.locator("#keys-table table").first.wait_for()
    assert page.locator("#range").count() == 0  # pages that ignore the date range hide it
    # the key this browser signed in with is marked, with its role translated
    mine = page.locator("#keys-table tbody tr", has_text="本浏览器正在使用")
    assert mine.count() == 1 and "所有者" in mine.inner_text()

    # an empty name goes to the API (no local check): its 422 lands under the field, in Chinese
    page.locator("#key-create button[type=submit]").click()
    error = page.locator(".field-error[data-field=name]")
    error.wait_for()
    assert error.inner_text() == "至少需要 1 个字符"  # the API's message, in the UI language
    # under its own input, linked for screen readers
    field = page.locator(".hfield", has=page.locator("#key-name"))
    assert field.locator(".field-error[data-field=name]").count() == 1
    assert page.locator("#key-name").get_attribute("aria-invalid") == "true"
    assert page.locator("#key-name").get_attribute("aria-describedby") == error.get_attribute("id")
    console.shot("field-error")

    page.locator("#key-name").fill("增长小组 <b>")
    console.choose("#key-role", "运营（可配置活动）")
    page.locator("#key-create button[type=submit]").click()
    secret = page.locator("#key-secret")
    secret.wait_for()
    new_key = secret.inner_text()
    assert new_key.startswith("hlk_")
    assert page.locator(".field-error").count() == 0
    assert live_server.api(new_key, "GET", "/admin/app").status_code == 200
    row = page.locator("#keys-table tbody tr", has_text="增长小组 <b>")
    row.wait_for()
    assert "运营" in row.inner_text() and "operator" not in row.inner_text()
    console.shot("created")

    # revoking asks first; cancelling keeps the key
    row.locator("button.revoke").click()
    box = page.locator(".el-message-box")
    box.get_by_text("吊销密钥「增长小组 <b>」？").wait_for()
    console.shot("revoke-confirm")
    box.locator("button", has_text="取消").click()
    box.wait_for(state="hidden")
    assert live_server.api(new_key, "GET", "/admin/app").status_code == 200
    row.locator("button.revoke").click()
    console.confirm()
    page.locator("#keys-table tbody tr", has_text="增长小组 <b>").get_by_text("已吊销于").wait_for()
    assert row.locator("button.revoke").count() == 0
    assert live_server.api(new_key, "GET", "/admin/app").status_code == 401
    owner = live_server.keys["shop"]["owner"]
    listed = {k["name"]: k for k in live_server.api(owner, "GET", "/admin/keys").json()["items"]}
    assert listed["增长小组 <b>"]["revoked_at"] is not None and listed["增长小组 <b>"]["role"] == "operator"
    console.shot("revoked")


def test_keys_page_in_english_at_phone_width(console: ConsoleSession) -> None:
    page = console.page
    page.locator("#lang-toggle").click()
    page.set_viewport_size({"width": 390, "height": 844})
    console.goto("#/keys")
    console.wait_ready()
    page.locator("#keys-table tbody tr").first.wait_for()
    body = page.locator("#page-body").inner_text()
    assert "used by this browser" in body and "Owner" in body
    # nothing wider than the phone: the table scrolls inside itself
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    console.shot("keys-en-390")


def test_keys_page_for_an_analyst_says_why(live_server: LiveServer, open_console) -> None:  # type: ignore[no-untyped-def]
    keys = live_server.make_app("shop", "小店")
    c = open_console(keys["analyst"])
    c.page.locator("#nav a[data-page=keys]").click()
    c.page.locator("#keys-forbidden").get_by_text("只有所有者可以管理 API 密钥").wait_for()
    assert c.page.locator("#key-create").count() == 0
