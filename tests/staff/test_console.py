"""Staff sign-in and the team page in Chromium, in Chinese and English."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.browser.fixtures import ConsoleSession, LiveServer

from huoli.apps.schemas import Role
from huoli.db import unit_of_work
from huoli.staff import service

PASSWORD = "correct horse battery"


def _member(server: LiveServer, app_id: str, username: str, role: Role) -> None:
    with unit_of_work(server.runtime.sessions, app_id=app_id) as db:
        service.add_member(
            db, app_id=app_id, username=username, password=PASSWORD, role=role, now=datetime.now(UTC)
        )


def _sign_in(console: ConsoleSession, username: str, password: str) -> None:
    page = console.page
    page.locator("#staff-username").fill(username)
    page.locator("#staff-password").fill(password)
    page.locator("#staff-submit").click()


def test_staff_sign_in_and_team_page_zh_en(console_anon: ConsoleSession, live_server: LiveServer) -> None:
    console = console_anon
    page = console.page
    _member(live_server, "shop", "mei", Role.owner)
    _member(live_server, "shop", "li.na", Role.analyst)
    console.allow_console_error("401")
    _sign_in(console, "mei", "wrong password!")
    page.locator("#staff-error").get_by_text("用户名或密码错误。").wait_for()
    console.shot("signin-wrong-zh")
    _sign_in(console, "mei", PASSWORD)
    page.locator("#app-name").wait_for()
    console.wait_ready()
    page.locator("#nav a[data-page=staff]").click()
    rows = page.locator("#staff-members tbody tr")
    rows.nth(1).wait_for()
    assert "mei" in rows.nth(0).inner_text() and "li.na" in rows.nth(1).inner_text()
    page.locator("#staff-sessions tbody tr").first.wait_for()
    assert "（当前）" in page.locator("#staff-sessions").inner_text()
    page.locator("#staff-invite-form button[type=submit]").click()
    token = page.locator("#staff-invite-token").inner_text()
    assert "hli_" in page.locator("#staff-invite-issued").inner_text() or token
    console.shot("team-zh")

    page.locator("#lang-toggle").click()
    page.locator("#nav a[data-page=staff]").get_by_text("Team").wait_for()
    page.locator("#staff-members tbody tr").nth(1).wait_for()
    assert "Members" in page.locator("#page-body").inner_text()
    console.shot("team-en")

    page.locator("#sign-out").click()
    page.locator("#staff-username").wait_for()
    _sign_in(console, "mei", "wrong password!")
    page.locator("#staff-error").get_by_text("Wrong username or password.").wait_for()
    console.shot("signin-wrong-en")
