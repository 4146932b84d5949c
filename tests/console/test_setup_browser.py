"""Setting an app up from the console alone (issue 23), in real Chromium, in Chinese and in English: the first
app on a fresh local server, the WeChat AppID and AppSecret, the HMAC server secret, keys, the overview's
setup checklist turning green as events and signed calls arrive, and a second app by its owner.

Full-page screenshots: var/test-artifacts/console/test_setup_from_the_console_<lang>_/.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from tests.browser.fixtures import ConsoleSession, LiveServer, client_event

from huoli.auth.service import sign_request

WX_APPID = "wx0123456789abcdef"
WX_SECRET = "0123456789abcdef0123456789abcdef"

TEXT = {
    "zh": {
        "first_run": "首次使用：创建第一个应用",
        "id_error": "小写字母开头",
        "name_error": "请填写名称",
        "appid_error": "AppID 应为 wx 加 16 位十六进制字符",
        "secret_set": "已设置",
        "secret_unset": "未设置",
        "confirm_error": "请输入应用 ID（shop）以确认",
        "rotate_warn": "旧密钥立即失效",
        "last_owner": "唯一有效的所有者密钥",
        "analyst": "分析师（只读）",
        "new_app": "＋ 新建应用",
        "revoke_ask": "吊销密钥「owner」？",
        "checklist": "首次接入清单",
        "all_done": "全部完成",
        "copied": "已复制",
        "in_use": "本浏览器正在使用",
    },
    "en": {
        "first_run": "First run: create the first app",
        "id_error": "a lowercase letter",
        "name_error": "a name is needed",
        "appid_error": "'wx' followed by 16 hex digits",
        "secret_set": "Set ••",
        "secret_unset": "Not set",
        "confirm_error": "type the app id (shop) to confirm",
        "rotate_warn": "ends the old secret at once",
        "last_owner": "last owner key",
        "analyst": "Analyst (read only)",
        "new_app": "+ Create an app",
        "revoke_ask": "Revoke the key “owner”?",
        "checklist": "Setup checklist",
        "all_done": "all done",
        "copied": "Copied",
        "in_use": "used by this browser",
    },
}


def signed_post(server: LiveServer, secret: str, path: str, payload: dict[str, Any]) -> httpx.Response:
    body = orjson.dumps(payload)
    ts, nonce = str(int(time.time())), secrets.token_hex(8)
    headers = {
        "Content-Type": "application/json",
        "X-Huoli-App-Id": "shop",
        "X-Huoli-Timestamp": ts,
        "X-Huoli-Nonce": nonce,
        "X-Huoli-Signature": sign_request(
            secret=secret, method="POST", path=path, timestamp=ts, nonce=nonce, body=body
        ),
    }
    return httpx.post(f"{server.url}{path}", content=body, headers=headers, timeout=30)


def item(c: ConsoleSession, name: str) -> Any:
    return c.page.locator(f"#setup-checklist li[data-item={name}]")


def goto(c: ConsoleSession, page_id: str) -> None:
    c.page.locator(f"#nav a[data-page={page_id}]").click()
    c.page.locator(f"#page-root[data-page={page_id}][data-state=ready]").wait_for()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_setup_from_the_console(lang: str, live_server: LiveServer, open_console) -> None:  # type: ignore[no-untyped-def]
    text = TEXT[lang]
    c: ConsoleSession = open_console()
    page = c.page
    c.allow_console_error(r"status of 422")  # the bad inputs below, refused by the API on purpose
    c.allow_console_error(r"status of 409")  # revoking the last owner key, refused on purpose
    c.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    if lang == "en":
        page.locator("#lang-toggle").click()

    # 1. A fresh server on this machine offers the first run beside sign-in.
    card = page.locator("#first-run-card")
    card.get_by_text(text["first_run"]).wait_for()
    assert page.locator("#first-run-timezone").input_value() == "Asia/Shanghai"
    c.shot("first-run")
    page.locator("#first-run-id").fill("My Shop")
    page.locator("#first-run button[type=submit]").click()
    page.locator(".field-error[data-field=id]").get_by_text(text["id_error"]).wait_for()
    assert page.locator(".field-error[data-field=name]").inner_text() == text["name_error"]
    # under its own input, which says it is invalid
    id_field = page.locator(".hfield", has=page.locator("#first-run-id"))
    assert id_field.locator(".field-error[data-field=id]").count() == 1
    assert page.locator("#first-run-id").get_attribute("aria-invalid") == "true"
    c.shot("first-run-field-errors")
    page.locator("#first-run-id").fill("shop")
    page.locator("#first-run-name").fill("小店")
    page.locator("#first-run button[type=submit]").click()
    owner_key = page.locator("#first-run-key").inner_text()
    assert owner_key.startswith("hlk_")
    assert live_server.api(owner_key, "GET", "/admin/app").json()["role"] == "owner"
    page.locator("button[data-copies=first-run-key]").click()
    page.locator("button[data-copies=first-run-key]", has_text=text["copied"]).wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == owner_key
    c.shot("first-run-key")
    page.locator("#first-run-continue").click()
    page.locator("#app-name").wait_for()
    c.wait_ready()
    assert page.locator("#app-name").inner_text() == "小店"
    # The first run is over for everyone, this browser included.
    assert httpx.get(f"{live_server.url}/admin/setup/first-run").json()["reason"] == "apps_exist"

    # 2. The overview's checklist: only the app so far.
    checklist = page.locator("#setup-checklist")
    checklist.get_by_text(text["checklist"]).first.wait_for()
    assert checklist.get_attribute("data-done") == "1/7"
    assert item(c, "app").get_attribute("data-done") == "true"
    c.shot("checklist-new-app")

    # 3. WeChat AppID and AppSecret, from the checklist's link.
    item(c, "wx_appid").locator("a").click()
    page.locator("#page-root[data-page=app-settings][data-state=ready]").wait_for()
    assert page.locator("#wx-secret-state").inner_text().startswith(text["secret_unset"])
    page.locator("#app-wx_appid").fill("wx123")
    page.locator("#app-wx_secret").fill("short")
    page.locator("#app-wechat-form button[type=submit]").click()
    page.locator(".field-error[data-field=wx_appid]").get_by_text(text["appid_error"]).wait_for()
    assert page.locator(".field-error[data-field=wx_secret]").count() == 1
    assert page.locator("#app-wx_appid").get_attribute("aria-invalid") == "true"
    c.shot("wechat-field-errors")
    page.locator("#app-wx_appid").fill(WX_APPID)
    page.locator("#app-wx_secret").fill(WX_SECRET)
    page.locator("#app-wechat-form button[type=submit]").click()
    page.locator("#wx-secret-state", has_text=text["secret_set"]).wait_for()
    assert page.locator("#app-wx_secret").input_value() == ""  # write-only: gone from the page once sent
    assert page.locator(".field-error").count() == 0
    app = live_server.api(owner_key, "GET", "/admin/app")
    assert app.json()["wx_appid"] == WX_APPID and app.json()["wx_secret_set"] and WX_SECRET not in app.text
    assert WX_SECRET not in page.content()
    c.shot("wechat-saved")

    # 4. The HMAC signing secret: shown to the owner, rotated only after typing the app id.
    page.locator("#server-secret-reveal").click()
    old_secret = page.locator("#server-secret").inner_text()
    assert signed_post(live_server, old_secret, "/v1/server/events", {"events": []}).status_code in (200, 422)
    page.locator("#server-secret-rotate").click()
    page.locator("#rotate-form .note", has_text=text["rotate_warn"]).wait_for()
    page.locator("#rotate-confirm").fill("shop2")
    page.locator("#rotate-form button[type=submit]").click()
    page.locator(".field-error[data-field=confirm]", has_text=text["confirm_error"]).wait_for()
    c.shot("rotate-confirm")
    page.locator("#rotate-confirm").fill("shop")
    page.locator("#rotate-form button[type=submit]").click()
    new_secret = page.locator("#server-secret-new").inner_text()
    assert new_secret and new_secret != old_secret
    assert page.locator("#server-secret").count() == 0  # the old value is not left on the page
    assert signed_post(live_server, old_secret, "/v1/server/events", {"events": []}).status_code == 401
    c.shot("rotated")

    # 5. Keys: the owner's own key is marked and cannot be revoked while it is the only owner.
    goto(c, "keys")
    mine = page.locator("#keys-table tr", has_text=text["in_use"])
    mine.wait_for()
    mine.locator("button.revoke").click()
    page.locator(".el-message-box").get_by_text(text["revoke_ask"]).wait_for()
    c.confirm()
    page.locator(".el-message--error", has_text=text["last_owner"]).wait_for()
    assert live_server.api(owner_key, "GET", "/admin/app").status_code == 200
    page.locator("#key-name").fill("BI")
    c.choose("#key-role", text["analyst"])
    page.locator("#key-create button[type=submit]").click()
    analyst_key = page.locator("#key-secret").inner_text()
    assert live_server.api(analyst_key, "GET", "/admin/app").json()["role"] == "analyst"
    page.locator("#keys-table tr", has_text="BI").wait_for()
    c.shot("keys")

    # 6. Back on the overview, the checklist turns green by itself as the SDK and the backend start talking.
    goto(c, "overview")
    item(c, "wx_secret").and_(page.locator("[data-done=true]")).wait_for()
    assert item(c, "signed_calls").get_attribute("data-done") == "true"  # the call in step 4 left its nonce
    assert item(c, "sdk_events").get_attribute("data-done") == "false"
    c.shot("checklist-waiting")
    live_server.post_events("shop", [client_event("page_view", datetime.now(UTC))])
    item(c, "sdk_events").and_(page.locator("[data-done=true]")).wait_for(timeout=20_000)
    r = signed_post(live_server, new_secret, "/v1/server/events",
                    {"events": [client_event("checkin", datetime.now(UTC), user_id="u1")]})  # fmt: skip
    assert r.status_code == 200, r.text
    item(c, "first_checkin").and_(page.locator("[data-done=true]")).wait_for(timeout=20_000)
    coupon = {"id": "m100", "name": "满100减20", "kind": "threshold", "amount_fen": 2000,
              "threshold_fen": 10000, "valid_days": 7, "total_limit": 100}  # fmt: skip
    assert (
        live_server.api(owner_key, "POST", "/admin/promotions/coupon-templates", json=coupon).status_code
        == 201
    )
    checklist.get_by_text(text["all_done"]).wait_for(timeout=20_000)
    assert checklist.get_attribute("data-done") == "7/7" and checklist.get_attribute("open") is None
    c.shot("checklist-done")

    # 7. A second app, by this owner: its owner key once, then switch to it.
    c.choose("#app-switcher", text["new_app"])
    page.locator("#page-root[data-page=app-new][data-state=ready]").wait_for()
    page.locator("#new-app-id").fill("shop")
    page.locator("#new-app-name").fill("奥莱店")
    page.locator("#new-app button[type=submit]").click()
    page.locator(".field-error[data-field=id]").wait_for()  # taken
    page.locator("#new-app-id").fill("outlet")
    page.locator("#new-app-name").fill("奥莱店")
    page.locator("#new-app button[type=submit]").click()
    outlet_key = page.locator("#new-app-key").inner_text()
    assert live_server.api(outlet_key, "GET", "/admin/app").json()["id"] == "outlet"
    c.shot("new-app-key")
    page.locator("#new-app-switch").click()
    page.locator("#app-name", has_text="奥莱店").wait_for()
    c.wait_ready()
    page.locator("#setup-checklist[data-done='1/7']").wait_for()
    stored = json.loads(page.evaluate("localStorage.getItem('huoli.console.keys')"))
    assert {k["appId"] for k in stored} == {"shop", "outlet"}
    c.shot("second-app")


def test_settings_and_new_app_tell_a_non_owner_why(live_server: LiveServer, open_console) -> None:  # type: ignore[no-untyped-def]
    keys = live_server.make_app("shop", "小店")
    c = open_console(keys["operator"])
    assert c.page.locator("#first-run-card").count() == 0
    goto(c, "app-settings")
    c.page.locator("#settings-forbidden").wait_for()
    goto(c, "app-new")
    c.page.locator("#new-app-forbidden").wait_for()
    c.shot("operator")
