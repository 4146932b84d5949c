"""The flags page's rule builder in headless Chromium: rules made of condition rows (no JSON typed), stored
as GrowthBook conditions; a stored flag reads back into the same rows; the API's errors land on the rule
or condition field they name."""

from __future__ import annotations

from tests.browser.fixtures import ConsoleSession, LiveServer


def test_a_rule_built_in_the_form_is_the_condition_stored(
    console: ConsoleSession, live_server: LiveServer
) -> None:
    c, page = console, console.page
    c.allow_console_error(r"status of 422")
    key = live_server.keys["shop"]["owner"]
    c.goto("#/flags")
    c.wait_ready()
    page.locator("#flags-table").get_by_text("还没有功能开关").wait_for()
    page.locator("#flag-key").fill("max_columns")
    c.choose("#flag-type", "数字")
    page.locator("#flag-default").fill("2")

    # Rule 1: VIPs on version 2.3.0 or later, half of them, get 4 columns.
    page.locator("#flag-add-rule").click()
    page.locator("#rule-0-id").fill("vip")
    page.locator("#rule-0-c0-attr").fill("segment")
    c.choose("#rule-0-c0-op", "是其中之一")
    page.locator("#rule-0-c0-value").fill("vip, svip")
    page.locator(".rule[data-index='0'] .cond-add").click()
    page.locator("#rule-0-c1-attr").fill("app_version")
    c.choose("#rule-0-c1-op", "版本不低于")
    page.locator("#rule-0-c1-value").fill("2.3.0")
    page.locator("#rule-0-value").fill("4")
    page.locator("#rule-0-rollout").fill("50")
    # Rule 2: logged-in users or Beijing, 3 columns; its id repeats rule 1's (the API refuses it).
    page.locator("#flag-add-rule").click()
    page.locator("#rule-1-id").fill("vip")
    page.locator("#rule-1-c0-attr").fill("logged_in")
    c.choose("#rule-1-c0-type", "是 / 否")
    page.locator(".el-switch:has(#rule-1-c0-value)").click()  # the switch: yes
    page.locator(".rule[data-index='1'] .cond-add").click()
    page.locator("#rule-1-c1-attr").fill("city")
    page.locator("#rule-1-c1-value").fill("北京")
    page.locator(".rule[data-index='1'] .mode-any").click()
    page.locator("#rule-1-value").fill("3")
    page.locator("#flag-save").click()
    err = page.locator(".field-error[data-field='rules[1].id']")
    err.wait_for()
    assert "重复" in err.inner_text(), err.inner_text()
    assert page.locator("#rule-1-id").get_attribute("aria-invalid") == "true"
    assert page.locator("#rule-0-id").get_attribute("aria-invalid") is None
    assert live_server.api(key, "GET", "/admin/flags/max_columns").status_code == 404
    c.shot("rule-error")

    # A condition value no JavaScript client can read exactly: the API's error sits under rule 2's conditions.
    page.locator("#rule-1-id").fill("members")
    c.choose("#rule-1-c1-type", "数字")
    page.locator("#rule-1-c1-value").fill("99999999999999999999")
    page.locator("#flag-save").click()
    cond_err = page.locator(".field-error[data-field='rules[1].condition']")
    cond_err.wait_for()
    assert "超出范围" in cond_err.inner_text(), cond_err.inner_text()
    c.choose("#rule-1-c1-type", "文本")
    page.locator("#rule-1-c1-value").fill("北京")

    # The second rule goes first.
    page.locator(".rule[data-index='1'] .rule-up").click()
    assert page.locator("#rule-0-id").input_value() == "members"
    page.locator("#flag-save").click()
    page.locator("button.flag-edit[data-flag=max_columns]").wait_for()
    flag = live_server.api(key, "GET", "/admin/flags/max_columns").json()
    assert flag["type"] == "number" and flag["default_value"] == 2
    assert flag["rules"] == [
        {
            "id": "members",
            "description": "",
            "condition": {"$or": [{"logged_in": True}, {"city": "北京"}]},
            "value": 3,
            "rollout": 1.0,
        },
        {
            "id": "vip",
            "description": "",
            "condition": {"segment": {"$in": ["vip", "svip"]}, "app_version": {"$vgte": "2.3.0"}},
            "value": 4,
            "rollout": 0.5,
        },
    ]

    # Editing reads the stored rules back into rows; a change is saved as a PATCH of the same flag.
    page.locator("button.flag-edit[data-flag=max_columns]").click()
    assert page.locator("#flag-form-title").inner_text() == "编辑开关 max_columns"
    assert page.locator("#rule-1-c0-attr").input_value() == "segment"
    assert page.locator("#rule-1-c0-value").input_value() == "vip, svip"
    assert page.locator("#rule-1-c1-value").input_value() == "2.3.0"
    assert page.locator("#rule-1-rollout").input_value() == "50.0"
    assert page.locator(".rule[data-index='0'] .mode-any.is-active").count() == 1
    page.locator(".rule[data-index='0'] .rule-remove").click()
    page.locator("#rule-0-rollout").fill("10")
    page.locator("#flag-save").click()
    page.locator("#flag-form-title", has_text="新建开关").wait_for()
    flag = live_server.api(key, "GET", "/admin/flags/max_columns").json()
    assert [(r["id"], r["rollout"]) for r in flag["rules"]] == [("vip", 0.1)]
    assert flag["rules"][0]["condition"] == {
        "segment": {"$in": ["vip", "svip"]},
        "app_version": {"$vgte": "2.3.0"},
    }
    text = page.locator("#page-root").inner_text()
    for code in ("$in", "$vgte", "number", "[{"):
        assert code not in text, code
    c.shot("flags-list")


def test_a_condition_the_rows_cannot_say_is_edited_as_checked_json(
    console: ConsoleSession, live_server: LiveServer
) -> None:
    c, page = console, console.page
    key = live_server.keys["shop"]["owner"]
    nested = {
        "$or": [{"$and": [{"city": "上海"}, {"logged_in": True}]}, {"tags": {"$elemMatch": {"$eq": "vip"}}}]
    }
    flag = {
        "key": "dark_mode",
        "type": "bool",
        "default_value": False,
        "rules": [{"id": "mixed", "condition": nested, "value": True}],
    }
    assert live_server.api(key, "POST", "/admin/flags", json=flag).status_code == 201
    c.goto("#/flags")
    page.locator("button.flag-edit[data-flag=dark_mode]").click()
    box = page.locator(".rule[data-index='0'] textarea[name='rules[0].condition']")
    box.wait_for()
    assert "$elemMatch" in box.input_value()
    box.fill('{"city": "上海",')  # not JSON: refused before it is sent, under the rule's conditions
    page.locator("#flag-save").click()
    err = page.locator(".field-error[data-field='rules[0].condition']")
    err.wait_for()
    assert "JSON" in err.inner_text() and box.get_attribute("aria-invalid") == "true"
    box.fill('{"city": {"$in": ["上海", "杭州"]}, "tags": {"$size": 2}}')
    page.locator("#flag-save").click()
    page.locator("#flag-form-title", has_text="新建开关").wait_for()
    stored = live_server.api(key, "GET", "/admin/flags/dark_mode").json()["rules"][0]
    assert stored["condition"] == {"city": {"$in": ["上海", "杭州"]}, "tags": {"$size": 2}}
    assert stored["value"] is True
    # "Clear and use rows" drops the JSON for condition rows.
    page.locator("button.flag-edit[data-flag=dark_mode]").click()
    page.locator(".rule[data-index='0'] .cond-rows").click()
    page.locator(".rule[data-index='0'] .cond-add").click()
    page.locator("#rule-0-c0-attr").fill("city")
    page.locator("#rule-0-c0-value").fill("上海")
    page.locator("#flag-save").click()
    page.locator("#flag-form-title", has_text="新建开关").wait_for()
    stored = live_server.api(key, "GET", "/admin/flags/dark_mode").json()["rules"][0]
    assert stored["condition"] == {"city": "上海"}
