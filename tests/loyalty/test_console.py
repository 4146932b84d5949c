"""The loyalty console pages in headless Chromium against a live huoli: member ledger lookup and adjustment,
rules configuration with field-level errors."""

from __future__ import annotations

from tests.browser.fixtures import ConsoleSession, LiveServer


def test_member_ledger_lookup_and_adjust(console: ConsoleSession, live_server: LiveServer) -> None:
    c, page = console, console.page
    owner = live_server.keys["shop"]["owner"]
    r = live_server.api(
        owner, "POST", "/admin/loyalty/members/u_42/adjust", json={"points": 50, "key": "gift"}
    )
    assert r.status_code == 200, r.text
    page.locator("#nav a[data-page=loyalty-member]").click()
    c.wait_ready()
    page.locator("#member-user").fill("u_42")
    page.locator("#member-lookup button[type=submit]").click()
    page.locator("#member-available").wait_for()
    assert page.locator("#member-available").inner_text() == "50"
    assert page.locator("#member-tier").inner_text() == "普通"
    assert "admin:gift" in page.locator("#member-result").inner_text()
    assert "u_42" in page.url  # a link or a reload shows the same member
    c.shot("member")

    page.locator("#adjust-points").fill("-10")
    page.locator("#member-adjust button[type=submit]").click()
    page.locator("#member-available").get_by_text("40").wait_for()

    c.allow_console_error(r"status of 409")
    page.locator("#adjust-points").fill("-999")
    page.locator("#adjust-key").fill("too-much")
    page.locator("#member-adjust button[type=submit]").click()
    page.locator("#member-adjust .field-error").first.wait_for()
    assert "40" in page.locator("#member-adjust").inner_text()  # the refusal says what is available
    assert page.locator("#member-available").inner_text() == "40"

    # A user id nobody has seen: said so, and no zero balance with an adjust form for a phantom member.
    page.locator("#member-user").fill("u_typo")
    page.locator("#member-lookup button[type=submit]").click()
    page.locator("#member-unknown").wait_for()
    assert page.locator("#member-adjust").count() == 0 and page.locator("#member-available").count() == 0
    c.shot("member-unknown")


def test_rules_form_saves_and_shows_field_errors(console: ConsoleSession, live_server: LiveServer) -> None:
    c, page = console, console.page
    owner = live_server.keys["shop"]["owner"]
    c.goto("#/loyalty-rules")
    c.wait_ready()
    field = page.locator("[name='points.points_per_yuan']")
    assert field.input_value() == "1"
    field.fill("3")
    page.locator("[name='checkin.reset']").select_option("weekly")
    page.locator("#rules-save").click()
    page.locator(".toast").get_by_text("规则已保存").wait_for()
    rules = live_server.api(owner, "GET", "/admin/loyalty/rules").json()
    assert rules["points"]["points_per_yuan"] == 3 and rules["checkin"]["reset"] == "weekly"
    c.shot("rules")

    c.allow_console_error(r"status of 422")
    page.locator("[name='points.expiry_days']").fill("0")
    page.locator("#rules-save").click()
    error = page.locator("[name='points.expiry_days'] ~ .field-error, #rules-form .field-error").first
    error.wait_for()
    assert page.locator("[name='points.expiry_days']").get_attribute("aria-invalid") == "true"
    assert live_server.api(owner, "GET", "/admin/loyalty/rules").json()["points"]["expiry_days"] == 365


def test_member_birthday_shown_and_corrected(console: ConsoleSession, live_server: LiveServer) -> None:
    c, page = console, console.page
    owner = live_server.keys["shop"]["owner"]
    r = live_server.api(owner, "PUT", "/admin/loyalty/members/u_bd/profile", json={"birthday": "03-15"})
    assert r.status_code == 200, r.text
    c.goto("#/loyalty-member?user=u_bd")
    page.locator("#member-birthday").wait_for()
    assert page.locator("#member-birthday").inner_text() == "03-15"
    assert page.locator("#profile-birthday").input_value() == "03-15"

    c.allow_console_error(r"status of 422")
    page.locator("#profile-birthday").fill("13-40")
    page.locator("#member-profile button[type=submit]").click()
    page.locator("#member-profile .field-error").first.wait_for()
    assert page.locator("#member-birthday").inner_text() == "03-15"  # refused: nothing changed

    page.locator("#profile-birthday").fill("02-29")
    page.locator("#member-profile button[type=submit]").click()
    page.locator("#member-birthday").get_by_text("02-29").wait_for()
    got = live_server.api(owner, "GET", "/admin/loyalty/members/u_bd/profile").json()
    assert got == {"user_id": "u_bd", "birthday": "02-29", "birthday_locked": True}


def test_rules_page_runs_a_job(console: ConsoleSession, live_server: LiveServer) -> None:
    c, page = console, console.page
    c.goto("#/loyalty-rules")
    c.wait_ready()
    page.locator("#rules-jobs [data-job=tier-benefits]").click()
    page.locator(".toast").get_by_text("tier_benefits").wait_for()
    page.locator("#rules-jobs [data-job=expire]").click()
    page.locator(".toast").get_by_text("points_expired: 0").wait_for()
