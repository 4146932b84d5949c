"""The privacy requests console page in Chromium, in Chinese and English: export downloads the JSON, erase takes
two clicks (owner keys only), past requests are listed."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import orjson
from tests.browser.fixtures import ConsoleSession, LiveServer, client_event

from huoli.auth.service import issue_session_token

USER = "u_demo01"


def seed(live_server: LiveServer, owner: str) -> None:
    rt = live_server.runtime
    token, _ = issue_session_token(secret=rt.secret_key, app_id="shop", user_id=USER, now=rt.clock(),
                                   ttl=timedelta(days=1))  # fmt: skip
    now = datetime.now(UTC)
    events = [client_event("page_view", now, anonymous_id="dev-demo"), client_event("favorite", now)]
    r = httpx.post(
        f"{live_server.url}/v1/events",
        content=orjson.dumps({"events": events}),
        headers={
            "X-Huoli-App-Id": "shop",
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
        },
    )
    assert r.status_code == 200, r.text
    body = {"points": 30, "key": f"k-{uuid.uuid4().hex[:6]}", "note": "客诉补偿"}
    assert (
        live_server.api(owner, "POST", f"/admin/loyalty/members/{USER}/adjust", json=body).status_code == 200
    )


def test_export_downloads_and_erase_takes_two_clicks(
    console: ConsoleSession, live_server: LiveServer, open_console: Callable[..., ConsoleSession]
) -> None:
    keys = live_server.keys["shop"]
    seed(live_server, keys["owner"])
    page = console.page
    page.locator("#nav a[data-page=privacy]").click()
    page.locator("#privacy-table table").wait_for()
    assert "还没有数据请求" in page.locator("#privacy-table").inner_text()

    page.locator("#privacy-export").click()  # no user id: said next to the input, nothing sent
    page.locator("#privacy-form .field-error").get_by_text("请输入用户 ID").wait_for()
    page.locator("#privacy-user").fill(USER)
    with page.expect_download() as download:
        page.locator("#privacy-export").click()
    assert download.value.suggested_filename == f"privacy-export-shop-{USER}.json"
    doc = json.loads(open(download.value.path(), encoding="utf-8").read())  # noqa: SIM115
    assert doc["user_id"] == USER and {"page_view", "favorite"} <= {e["name"] for e in doc["events"]}
    assert doc["operational"]["loyalty"]["loyalty_transfers"][0]["points"] == 30
    page.locator("#privacy-result").get_by_text("已导出并下载").wait_for()
    rows = page.locator("#privacy-table tbody tr")
    rows.first.get_by_text("导出").wait_for()

    erase = page.locator("#privacy-erase")
    erase.click()
    assert "确认删除" in erase.inner_text()  # armed, nothing sent yet
    assert not console.api_requests("/admin/privacy/erasures")
    erase.click()
    page.locator("#privacy-result").get_by_text("已删除").wait_for()
    assert re.search(r"\d+ 条事件", page.locator("#privacy-result").inner_text())
    rows.nth(1).wait_for()
    assert "删除" in rows.first.inner_text() and "已完成" in rows.first.inner_text()
    assert live_server.runtime.store.count(app_id="shop") == 0
    console.shot("privacy-zh")

    page.locator("#lang-toggle").click()
    page.locator("#nav a[data-page=privacy]").get_by_text("Privacy requests").wait_for()
    page.locator("#privacy-table tbody tr").nth(1).wait_for()
    assert page.locator(".page-title").inner_text() == "Privacy requests"
    assert "Erasure" in page.locator("#privacy-table tbody tr").first.inner_text()
    console.shot("privacy-en")

    # An operator exports but cannot erase; an analyst sees why the page is closed to them.
    operator = open_console(keys["operator"])
    operator.allow_console_error("403")
    operator.page.locator("#nav a[data-page=privacy]").click()
    operator.page.locator("#privacy-user").fill(USER)
    operator.page.locator("#privacy-erase").click()
    operator.page.locator("#privacy-erase").click()
    operator.page.locator(".toast").get_by_text("只有所有者").wait_for()
    analyst = open_console(keys["analyst"])
    analyst.allow_console_error("403")
    analyst.page.locator("#nav a[data-page=privacy]").click()
    analyst.page.locator("#privacy-forbidden").wait_for()


def post_consents(live_server: LiveServer, user_id: str, consents: list[dict[str, object]]) -> None:
    rt = live_server.runtime
    token, _ = issue_session_token(secret=rt.secret_key, app_id="shop", user_id=user_id, now=rt.clock(),
                                   ttl=timedelta(days=1))  # fmt: skip
    r = httpx.post(
        f"{live_server.url}/v1/privacy/consents",
        json={"consents": consents},
        headers={
            "X-Huoli-App-Id": "shop",
            "Authorization": f"Bearer {token}",
            "User-Agent": "MicroMessenger",
        },
    )
    assert r.status_code == 200, r.text


def test_consents_counts_and_a_users_history(
    console: ConsoleSession, live_server: LiveServer, open_console: Callable[..., ConsoleSession]
) -> None:
    someone = f"u_{uuid.uuid4().hex[:8]}"
    other = f"u_{uuid.uuid4().hex[:8]}"
    yes = {"purpose": "marketing_messages", "granted": True, "policy_version": "2026-12-01"}
    post_consents(
        live_server,
        someone,
        [yes, {"purpose": "privacy_policy", "granted": True, "policy_version": "2026-12-01"}],
    )
    post_consents(live_server, someone, [yes | {"granted": False}])
    post_consents(live_server, other, [yes])
    page = console.page
    page.locator("#nav a[data-page=privacy]").click()
    summary = page.locator("#consent-summary table")
    summary.wait_for()
    marketing = page.locator("#consent-summary tbody tr", has_text="营销消息")
    cells = marketing.locator("td")
    assert cells.nth(1).inner_text() == "需主动同意"
    granted, withdrawn = int(cells.nth(2).inner_text()), int(cells.nth(3).inner_text())
    assert granted >= 1 and withdrawn >= 1 and "2026-12-01" in cells.nth(4).inner_text()

    page.locator("#consent-lookup").click()  # no user id: said next to the input, nothing sent
    page.locator("#consent-form .field-error").get_by_text("请输入用户 ID").wait_for()
    page.locator("#consent-user").fill(someone)
    page.locator("#consent-lookup").click()
    history = page.locator("#consent-history tbody tr")
    history.nth(2).wait_for()
    assert history.count() == 3
    assert "营销消息" in history.first.inner_text() and "拒绝/撤回" in history.first.inner_text()
    assert "MicroMessenger" in history.first.inner_text() and "小程序" in history.first.inner_text()
    current = page.locator("#consent-user-result table").first
    assert "未选择" in current.inner_text()  # analytics and recommendations: never decided
    console.shot("privacy-consents-zh")

    page.locator("#lang-toggle").click()
    page.locator("#consent-summary table").wait_for()
    page.locator("#consents h2").get_by_text("Consents").wait_for()
    assert "Marketing messages" in page.locator("#consent-summary").inner_text()
    console.shot("privacy-consents-en")

    # An analyst cannot handle requests but reads the consents.
    analyst = open_console(live_server.keys["shop"]["analyst"])
    analyst.allow_console_error("403")
    analyst.page.locator("#nav a[data-page=privacy]").click()
    analyst.page.locator("#privacy-forbidden").wait_for()
    analyst.page.locator("#consent-summary table").wait_for()
    analyst.page.locator("#consent-user").fill(other)
    analyst.page.locator("#consent-lookup").click()
    analyst.page.locator("#consent-history tbody tr").first.wait_for()
    assert (
        "MicroMessenger" not in analyst.page.locator("#consent-history").inner_text()
    )  # no evidence columns
