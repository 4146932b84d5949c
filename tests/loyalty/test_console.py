"""The loyalty console pages in headless Chromium against a live huoli: finding a member (the user picker over
GET /admin/users), ledger and adjustment (reason required, deductions confirmed, refusals at the field),
birthday correction, the points leaderboard; the rules document as forms (one field per section saved and
read back, API errors beside their field, nothing saved on a refusal) and the jobs."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from tests.browser.fixtures import ConsoleSession, LiveServer

from huoli.db import unit_of_work
from huoli.users.models import User


def _pick(c: ConsoleSession, typed: str, option: str) -> None:
    """Types into the member picker and clicks the option (a found member, or the typed id itself)."""
    c.page.locator("#member-user").fill(typed)
    dropdown = c.page.locator(".el-select-dropdown:visible").last
    dropdown.locator(".el-select-dropdown__item", has_text=re.compile(f"^{re.escape(option)}$")).first.click()


def _stat(c: ConsoleSession, key: str) -> str:
    return str(c.page.locator(f"#member-kpis [data-stat={key}] .stat-value").inner_text())


def test_member_ledger_lookup_and_adjust(console: ConsoleSession, live_server: LiveServer) -> None:
    c, page = console, console.page
    owner = live_server.keys["shop"]["owner"]
    r = live_server.api(
        owner, "POST", "/admin/loyalty/members/u_42/adjust", json={"points": 50, "key": "gift"}
    )
    assert r.status_code == 200, r.text
    page.locator("#nav a[data-page=loyalty-member]").click()
    c.wait_ready()
    _pick(c, "u_42", "u_42")
    page.locator("#member-kpis [data-stat=available]").wait_for()
    assert _stat(c, "available") == "50"
    assert _stat(c, "tier") == "普通"
    assert "admin:gift" in page.locator("#member-transfers").inner_text()
    assert "人工调整" in page.locator("#member-transfers").inner_text()  # the reason code, translated
    assert "admin" not in page.locator("#member-transfers .col-reason").first.inner_text()
    assert "u_42" in page.url  # a link or a reload shows the same member
    c.shot("member")

    # The reason is required: nothing is sent without it.
    page.locator("#adjust-points").fill("-10")
    page.locator("#member-adjust button[type=submit]").click()
    page.locator("#member-adjust .field-error[data-field=note]").wait_for()
    assert page.locator("#adjust-note").get_attribute("aria-invalid") == "true"
    assert _stat(c, "available") == "50"

    # A deduction asks first.
    page.locator("#adjust-note").fill("客诉补偿撤回")
    page.locator("#member-adjust button[type=submit]").click()
    c.confirm()
    page.locator("#member-kpis [data-stat=available] .stat-value").get_by_text("40", exact=True).wait_for()
    ledger = live_server.api(owner, "GET", "/admin/loyalty/members/u_42/ledger").json()
    assert [t["points"] for t in ledger["transfers"]][:1] == [-10]
    assert ledger["transfers"][0]["note"] == "客诉补偿撤回"  # the reason is kept with the transfer
    # and shown in the member's history beside it
    page.locator("#member-transfers td.col-note", has_text="客诉补偿撤回").wait_for()

    c.allow_console_error(r"status of 409")
    page.locator("#adjust-points").fill("-999")
    page.locator("#adjust-note").fill("试试")
    page.locator("#adjust-key").fill("too-much")
    page.locator("#member-adjust button[type=submit]").click()
    c.confirm()
    error = page.locator("#member-adjust .field-error[data-field=points]")
    error.wait_for()
    assert "可用 40" in error.inner_text()  # the refusal says what is available, in Chinese
    assert page.locator("#adjust-points").get_attribute("aria-invalid") == "true"
    assert _stat(c, "available") == "40"

    # A user id nobody has seen: said so, and no zero balance with an adjust form for a phantom member.
    _pick(c, "u_typo", "u_typo")
    page.locator("#member-unknown").wait_for()
    assert page.locator("#member-adjust").count() == 0 and page.locator("#member-kpis").count() == 0
    assert "u_typo" in page.locator("#member-unknown").inner_text()
    c.shot("member-unknown")


def test_member_picker_searches_users_and_leaderboard_links(
    console: ConsoleSession, live_server: LiveServer
) -> None:
    c, page = console, console.page
    owner = live_server.keys["shop"]["owner"]
    at = datetime(2026, 3, 1, 2, 30, tzinfo=UTC)
    with unit_of_work(live_server.runtime.sessions, app_id="shop") as db:
        for uid in ("u_alice1", "u_alice2", "u_bob"):
            db.add(User(id=uid, app_id="shop", openid=f"o_{uid}", created_at=at, last_login_at=at))
    for uid, points in (("u_alice1", 30), ("u_bob", 80)):
        r = live_server.api(
            owner, "POST", f"/admin/loyalty/members/{uid}/adjust", json={"points": points, "key": uid}
        )
        assert r.status_code == 200, r.text
    c.goto("#/loyalty-member")
    c.wait_ready()
    # the leaderboard, most points first, each a link to the member
    links = page.locator("#member-top a[data-user]")
    assert links.all_inner_texts() == ["u_bob", "u_alice1"]
    c.shot("member-top")

    page.locator("#member-user").fill("u_ali")
    dropdown = page.locator(".el-select-dropdown:visible").last
    dropdown.locator(".el-select-dropdown__item", has_text="u_alice2").wait_for()
    assert "u_bob" not in dropdown.inner_text()  # a prefix search
    dropdown.locator(".el-select-dropdown__item", has_text=re.compile("^u_alice1$")).click()
    page.locator("#member-kpis [data-stat=available]").wait_for()
    assert _stat(c, "available") == "30"
    facts = page.locator(".facts").inner_text()
    assert "o_u_alice1" in facts and "2026-03-01 10:30" in facts  # first login in the app's timezone

    page.locator("#member-top a[data-user=u_bob]").click()
    page.locator("#member-kpis [data-stat=available] .stat-value").get_by_text("80", exact=True).wait_for()
    assert "user=u_bob" in page.url


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
    error = page.locator("#member-profile .field-error[data-field=birthday]")
    error.wait_for()
    assert "月-日" in error.inner_text()  # the API's English message, in Chinese
    assert page.locator("#member-birthday").inner_text() == "03-15"  # refused: nothing changed

    page.locator("#profile-birthday").fill("02-29")
    page.locator("#member-profile button[type=submit]").click()
    page.locator("#member-birthday").get_by_text("02-29").wait_for()
    got = live_server.api(owner, "GET", "/admin/loyalty/members/u_bd/profile").json()
    assert got == {"user_id": "u_bd", "birthday": "02-29", "birthday_locked": True}


def _tab(c: ConsoleSession, section: str) -> None:
    c.page.locator(f"#rules-form .el-tabs__item [data-tab={section}]").click()


def _number(c: ConsoleSession, name: str, value: str) -> None:
    field = c.page.locator(f"[name='{name}']")
    field.fill(value)
    field.blur()


def test_rules_form_edits_every_section(console: ConsoleSession, live_server: LiveServer) -> None:
    """One field in each section of the document, through the form; GET /admin/loyalty/rules has them all."""
    c, page = console, console.page
    owner = live_server.keys["shop"]["owner"]
    before = live_server.api(owner, "GET", "/admin/loyalty/rules").json()
    c.goto("#/loyalty-rules")
    c.wait_ready()
    assert page.locator("textarea").count() == 0  # no JSON typed by hand
    # check-in and tiers have their own pages: one place per setting
    assert page.locator("#rules-form .el-tabs__item [data-tab]").all_inner_texts() == ["积分", "排行榜"]
    field = page.locator("[name='points.points_per_yuan']")
    assert field.input_value() == "1"
    _number(c, "points.points_per_yuan", "3")
    c.choose("#rule-points-expiry", "次年年底")
    page.locator("[name='points.fen_per_point']").fill("0.05")
    _number(c, "points.max_order_ratio", "30")
    page.locator("#rules-actions .row-add").click()
    page.locator("[name='points.actions.3.name']").fill("photo_review")
    _number(c, "points.actions.3.points", "15")
    c.shot("rules-points")

    _tab(c, "leaderboards")
    page.locator("[name='leaderboards.key_prefix']").fill("shop:")
    c.shot("rules-leaderboards")

    page.locator("#rules-save").click()
    page.locator(".toast").get_by_text("规则已保存").wait_for()
    rules = live_server.api(owner, "GET", "/admin/loyalty/rules").json()
    points = rules["points"]
    assert (points["points_per_yuan"], points["expiry"], points["fen_per_point"]) == (3, "year_end", 5)
    assert points["max_order_ratio"] == 0.3
    assert points["actions"]["photo_review"] == {"points": 15, "daily_cap": None}
    assert points["actions"]["review"] == {"points": 10, "daily_cap": 30}  # untouched rows kept
    assert rules["leaderboards"]["key_prefix"] == "shop:"
    assert (
        rules["checkin"] == before["checkin"] and rules["tiers"] == before["tiers"]
    )  # edited on their pages

    # A reload shows what was saved, in the same units (元, %, 折).
    page.reload()
    c.wait_ready()
    assert page.locator("[name='points.fen_per_point']").input_value() == "0.05"
    assert page.locator("[name='points.max_order_ratio']").input_value() == "30"


def test_rules_form_shows_field_errors(console: ConsoleSession, live_server: LiveServer) -> None:
    c, page = console, console.page
    owner = live_server.keys["shop"]["owner"]
    c.goto("#/loyalty-rules")
    c.wait_ready()
    before = live_server.api(owner, "GET", "/admin/loyalty/rules").json()

    # A number out of range cannot be typed: the field keeps to the schema's bounds.
    _number(c, "points.expiry_days", "0")
    assert page.locator("[name='points.expiry_days']").input_value() == "1"
    _number(c, "points.expiry_days", "365")

    c.allow_console_error(r"status of 422")
    # The API's errors land beside their field, on their tab, in Chinese; nothing is saved.
    page.locator("[name='points.fen_per_point']").fill("0")
    _tab(c, "leaderboards")
    page.locator("#rules-save").click()
    error = page.locator(".field-error[data-field='points.fen_per_point']")
    error.wait_for()  # visible: the points tab opened
    assert page.locator("[name='points.fen_per_point']").get_attribute("aria-invalid") == "true"
    assert "0.01" in error.inner_text()
    assert page.locator(".el-tabs__item .tab-badge").count() == 1
    assert live_server.api(owner, "GET", "/admin/loyalty/rules").json() == before
    c.shot("rules-errors")


def test_rules_page_runs_a_job(console: ConsoleSession, live_server: LiveServer) -> None:
    c, page = console, console.page
    c.goto("#/loyalty-rules")
    c.wait_ready()
    page.locator("#rules-jobs [data-job=tier-benefits]").click()
    page.locator(".toast").get_by_text("发放等级权益（月券、生日礼）已完成").wait_for()
    assert "本次发放" in page.locator("#rules-job-result").inner_text()
    page.locator("#rules-jobs [data-job=expire]").click()
    page.locator(".toast").get_by_text("过期积分 0").wait_for()
    result = page.locator("#rules-job-result .facts").inner_text()
    assert "过期积分" in result and "points_expired" not in result
    c.shot("rules-jobs")


def test_loyalty_pages_in_english(console: ConsoleSession, live_server: LiveServer) -> None:
    c, page = console, console.page
    owner = live_server.keys["shop"]["owner"]
    r = live_server.api(owner, "POST", "/admin/loyalty/members/u_en/adjust", json={"points": 5, "key": "k"})
    assert r.status_code == 200, r.text
    c.goto("#/loyalty-member?user=u_en")
    c.wait_ready()
    page.locator("#lang-toggle").click()
    page.locator("#member-kpis [data-stat=available]").wait_for()
    page.get_by_text("Manual adjustment").first.wait_for()
    text = page.locator("#page-root").inner_text()
    assert not re.search(r"[\u4e00-\u9fff]", text.replace("普通", "")), text  # tier names are the app's data
    c.shot("member-en")
    c.goto("#/loyalty-rules")
    c.wait_ready()
    page.get_by_text("Points per yuan", exact=True).wait_for()
    for section in ("points", "leaderboards"):
        _tab(c, section)
        c.shot(f"rules-{section}-en")
    visible = page.locator("#page-root").inner_text()
    assert not re.search(r"[\u4e00-\u9fff]", re.sub("普通|银卡|金卡|黑金", "", visible)), visible


def test_loyalty_pages_fit_a_phone(console: ConsoleSession, live_server: LiveServer) -> None:
    """At 390 px nothing makes the page scroll sideways: tables scroll inside themselves, fields stack."""
    c, page = console, console.page
    owner = live_server.keys["shop"]["owner"]
    r = live_server.api(
        owner, "POST", "/admin/loyalty/members/u_phone/adjust", json={"points": 9, "key": "k"}
    )
    assert r.status_code == 200, r.text
    page.set_viewport_size({"width": 390, "height": 844})
    overflow = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    c.goto("#/loyalty-member?user=u_phone")
    c.wait_ready()
    page.locator("#member-kpis [data-stat=available]").wait_for()
    assert page.evaluate(overflow) <= 0
    c.shot("member-phone")
    c.goto("#/loyalty-rules")
    c.wait_ready()
    for section in ("points", "leaderboards"):
        _tab(c, section)
        assert page.evaluate(overflow) <= 0, section
        c.shot(f"rules-{section}-phone")
