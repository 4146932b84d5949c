"""Staff sign-in and the team page in Chromium, in Chinese and English: members and roles, invitations
accepted end to end through their link, a password reset through its link, and TOTP enrolment (then signing
in needs the code)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pyotp
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


def _team(console: ConsoleSession) -> None:
    console.page.locator("#nav a[data-page=staff]").click()
    console.page.locator("#page-root[data-page=staff][data-state=ready]").wait_for()


def _saved_key(console: ConsoleSession, app_id: str) -> str:
    saved = json.loads(console.page.evaluate("localStorage.getItem('huoli.console.keys')"))
    return next(k["key"] for k in saved if k["appId"] == app_id)


def _login(server: LiveServer, username: str, password: str) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/staff/login", json={"username": username, "password": password})


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
    _team(console)
    rows = page.locator("#staff-members tbody tr")
    rows.nth(1).wait_for()
    assert "mei" in rows.nth(0).inner_text() and "li.na" in rows.nth(1).inner_text()
    assert rows.nth(0).locator(".me").inner_text() == "我"  # my own row is marked
    # roles translated; an owner changes them in place
    assert page.locator(".el-select[data-username='li.na'] .el-select__placeholder").inner_text() == "分析师"
    console.choose("#role-li_na", "运营")
    page.locator(".el-message--success", has_text="已将 li.na 的角色改为「运营」").wait_for()
    owner = live_server.keys["shop"]["owner"]
    listed = {m["username"]: m for m in live_server.api(owner, "GET", "/admin/staff").json()["items"]}
    assert listed["li.na"]["role"] == "operator"
    # my sessions: this browser marked, with its browser and address
    current = page.locator("#staff-sessions tbody tr", has=page.locator(".current"))
    current.wait_for()
    assert current.locator(".current").inner_text() == "当前"
    assert "Chrome" in current.inner_text() and "127.0.0.1" in current.inner_text()
    assert current.locator("button.revoke-session").count() == 0  # this one is not revoked from here
    page.locator("#staff-invite-form button[type=submit]").click()
    token = page.locator("#staff-invite-token").inner_text()
    assert token.startswith("hli_")
    link = page.locator("#staff-invite-link").inner_text()
    assert link == f"{live_server.url}/console/#/staff-accept?token={token}"
    page.locator("#staff-invitations tbody tr [data-state=pending]", has_text="待接受").wait_for()
    console.shot("team-zh")

    page.locator("#lang-toggle").click()
    page.locator("#nav a[data-page=staff]").get_by_text("Team").wait_for()
    page.locator("#staff-members tbody tr").nth(1).wait_for()
    body = page.locator("#page-body").inner_text()
    assert "Members" in body and "Operator" in body and "Pending" in body and "This one" in body
    console.shot("team-en")

    page.locator("#sign-out").click()
    page.locator("#staff-username").wait_for()
    _sign_in(console, "mei", "wrong password!")
    page.locator("#staff-error").get_by_text("Wrong username or password.").wait_for()
    console.shot("signin-wrong-en")


def test_owner_removes_and_signs_out_a_member(console: ConsoleSession, live_server: LiveServer) -> None:
    page = console.page
    _member(live_server, "shop", "li.na", Role.analyst)
    li_token = _login(live_server, "li.na", PASSWORD).json()["token"]
    _team(console)
    row = page.locator("#staff-members tbody tr", has_text="li.na")
    row.locator("button.signout").click()
    page.locator(".el-message-box").get_by_text("让 li.na 在所有设备上立即退出登录？").wait_for()
    console.confirm()
    page.locator(".el-message--success", has_text="已结束 1 个会话").wait_for()
    assert live_server.api(f"{li_token}~shop", "GET", "/admin/app").status_code == 401
    row.locator("button.remove").click()
    console.confirm()
    page.locator(".el-message--success", has_text="已移出 li.na").wait_for()
    page.locator("#staff-members tbody tr", has_text="li.na").wait_for(state="detached")
    # signed in with an API key: no personal sessions or second factor, and it says why
    assert "API 密钥" in page.locator("#staff-key-only").inner_text()
    assert page.locator("#staff-sessions").count() == 0


def test_invitation_accepted_through_its_link(
    console: ConsoleSession, live_server: LiveServer, open_console: Any
) -> None:
    page = console.page
    _member(live_server, "shop", "mei", Role.owner)
    _team(console)
    console.choose("#staff-invite-role", "分析师")
    page.locator("#staff-invite-note").fill("新同事小李")
    page.locator("#staff-invite-form button[type=submit]").click()
    link = page.locator("#staff-invite-link").inner_text()
    assert "#/staff-accept?token=hli_" in link
    page.locator("#staff-invitations tbody tr", has_text="新同事小李").get_by_text("待接受").wait_for()

    # the invitee, in a browser signed in nowhere
    c = open_console()
    c.allow_console_error(r"status of 401")  # a taken username with a wrong password, refused on purpose
    c.page.goto(link)
    c.page.locator("#page-root[data-page=staff-accept][data-state=ready]").wait_for()
    assert c.page.locator("#nav").count() == 0  # a public page: no shell around it
    c.shot("accept-form")
    c.page.locator("#accept-username").fill("mei")
    c.page.locator("#accept-password").fill("short")
    c.page.locator("#accept-password2").fill("short")
    c.page.locator("#staff-accept-form button[type=submit]").click()
    assert c.page.locator(".field-error[data-field=password]").inner_text() == "至少 10 个字符"
    c.page.locator("#accept-password").fill("a long new password")
    c.page.locator("#accept-password2").fill("a long new passwort")
    c.page.locator("#staff-accept-form button[type=submit]").click()
    assert c.page.locator(".field-error[data-field=password2]").inner_text() == "两次输入的密码不一致"
    c.page.locator("#accept-password2").fill("a long new password")
    c.page.locator("#staff-accept-form button[type=submit]").click()
    error = c.page.locator(".field-error[data-field=username]")
    error.get_by_text("该用户名已存在").wait_for()  # the API's answer, in Chinese
    assert c.page.locator("#accept-username").get_attribute("aria-invalid") == "true"
    c.shot("accept-username-taken")
    c.page.locator("#accept-username").fill("xiao.li")
    c.page.locator("#staff-accept-form button[type=submit]").click()
    c.page.locator("#app-name", has_text="小店").wait_for()
    c.wait_ready()
    key = _saved_key(c, "shop")
    assert key.startswith("hls_") and key.endswith("~shop")
    me = live_server.api(key, "GET", "/admin/app").json()
    assert me["role"] == "analyst" and me["credential"] == "staff"
    c.shot("accepted-signed-in")

    # the owner sees the invitation accepted and the new member
    page.reload()
    page.locator("#page-root[data-page=staff][data-state=ready]").wait_for()
    page.locator("#staff-invitations tbody tr", has_text="新同事小李").get_by_text("已接受").wait_for()
    assert "分析师" in page.locator("#staff-members tbody tr", has_text="xiao.li").inner_text()

    # the link works once
    again = open_console()
    again.allow_console_error(r"status of 409")
    again.page.goto(link)
    again.page.locator("#accept-username").fill("someone.else")
    again.page.locator("#accept-password").fill("another long password")
    again.page.locator("#accept-password2").fill("another long password")
    again.page.locator("#staff-accept-form button[type=submit]").click()
    again.page.locator(".form-error", has_text="这个邀请已被使用过。").wait_for()


def test_password_reset_through_its_link(
    console: ConsoleSession, live_server: LiveServer, open_console: Any
) -> None:
    page = console.page
    _member(live_server, "shop", "li.na", Role.analyst)
    _team(console)
    page.locator("#staff-members tbody tr", has_text="li.na").locator("button.reset").click()
    dialog = page.locator(".el-dialog", has_text="li.na")
    dialog.get_by_text("之前生成的重置链接将失效").wait_for()
    console.shot("reset-dialog")
    page.locator("#staff-reset-go").click()
    link = page.locator("#staff-reset-link").inner_text()
    assert "#/staff-reset?token=hlr_" in link
    assert page.locator("#staff-reset-issued").get_by_text("li.na 的重置密码链接").count() == 1

    c = open_console()
    c.allow_console_error(r"status of 401")  # the old password, refused after the reset
    c.page.goto(link)
    c.page.locator("#page-root[data-page=staff-reset][data-state=ready]").wait_for()
    c.page.locator("#lang-toggle").click()
    c.page.locator(".page-title", has_text="Reset your password").wait_for()
    c.page.locator("#reset-password").fill("brand new password")
    c.page.locator("#reset-password2").fill("brand new passwort")
    c.page.locator("#staff-reset-form button[type=submit]").click()
    assert c.page.locator(".field-error[data-field=password2]").inner_text() == "The passwords differ"
    c.page.locator("#reset-password2").fill("brand new password")
    c.page.locator("#staff-reset-form button[type=submit]").click()
    c.page.locator("#reset-done").get_by_text("Password changed").wait_for()
    c.shot("reset-done-en")
    c.page.locator("#reset-signin").click()
    _sign_in(c, "li.na", PASSWORD)
    c.page.locator("#staff-error").get_by_text("Wrong username or password.").wait_for()
    _sign_in(c, "li.na", "brand new password")
    c.page.locator("#app-name").wait_for()
    c.wait_ready()

    # the link works once
    again = open_console()
    again.allow_console_error(r"status of 409")
    again.page.goto(link)
    again.page.locator("#reset-password").fill("yet another password")
    again.page.locator("#reset-password2").fill("yet another password")
    again.page.locator("#staff-reset-form button[type=submit]").click()
    again.page.locator(".form-error", has_text="这个重置链接已被使用过。").wait_for()


def test_totp_enrolment_then_sign_in_needs_the_code(
    console_anon: ConsoleSession, live_server: LiveServer
) -> None:
    console = console_anon
    page = console.page
    console.allow_console_error(r"status of 422")  # a wrong code, refused on purpose
    console.allow_console_error(r"status of 401")  # signing in without the code, refused on purpose
    _member(live_server, "shop", "mei", Role.owner)
    _sign_in(console, "mei", PASSWORD)
    page.locator("#app-name").wait_for()
    _team(console)
    assert page.locator("#staff-me-totp").get_attribute("data-enabled") == "false"
    page.locator("#totp-start").click()
    qr = page.locator("#totp-qr")
    qr.wait_for()
    assert (qr.get_attribute("src") or "").startswith("data:image/png;base64,")
    assert page.evaluate("document.querySelector('#totp-qr').naturalWidth") > 0  # the CSP let it draw
    secret = page.locator("#totp-secret").inner_text()
    totp = pyotp.TOTP(secret)
    console.shot("totp-enrol")

    page.locator("#totp-code").fill("12345")
    page.locator("#totp-confirm").click()
    assert page.locator(".field-error[data-field=code]").inner_text() == "请输入 6 位数字验证码"
    wrong = f"{(int(totp.now()) + 500_000) % 1_000_000:06d}"
    page.locator("#totp-code").fill(wrong)
    page.locator("#totp-confirm").click()
    page.locator(".field-error[data-field=code]", has_text="验证码错误或已使用").wait_for()
    page.locator("#totp-code").fill(totp.now())
    page.locator("#totp-confirm").click()
    page.locator("#staff-me-totp[data-enabled=true]").wait_for()
    row = page.locator("#staff-members tbody tr", has_text="mei")
    row.get_by_text("已开启").wait_for()
    assert page.locator("#totp-secret").count() == 0  # the secret is not left on the page
    page.locator("#totp-disable-form").wait_for()
    console.shot("totp-on")

    # signing in again asks for the code
    page.locator("#sign-out").click()
    _sign_in(console, "mei", PASSWORD)
    page.locator("#staff-error").get_by_text("请输入身份验证器中的 6 位验证码。").wait_for()
    page.locator("#staff-totp").fill(totp.at(time.time() + 30))  # the next step: the confirm used this one
    page.locator("#staff-submit").click()
    page.locator("#app-name").wait_for()
    console.wait_ready()

    # turning it off needs a current code too
    _team(console)
    page.locator("#totp-disable-code").fill(wrong)
    page.locator("#totp-disable").click()
    page.locator(".field-error[data-field=code]", has_text="验证码错误或已使用").wait_for()
    assert page.locator("#staff-me-totp").get_attribute("data-enabled") == "true"
