"""The privacy requests console page in Chromium, in Chinese and English: export downloads the JSON, erase asks
for a confirmation first (owner keys only), past requests are listed; consents; the retention periods."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from tests.browser.fixtures import ConsoleSession, LiveServer, client_event
from tests.jobs.helpers import drain

from huoli.auth.service import issue_session_token
from huoli.db import unit_of_work
from huoli.jobs.queue import queue_for

USER = "u_demo01"


def pick(c: ConsoleSession, select: str, user_id: str) -> None:
    """Types into a user picker and clicks the option (a found member, or the typed id itself)."""
    c.page.locator(select).fill(user_id)
    dropdown = c.page.locator(".el-select-dropdown:visible").last
    dropdown.locator(
        ".el-select-dropdown__item", has_text=re.compile(f"^{re.escape(user_id)}$")
    ).first.click()


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


def test_export_downloads_and_erase_asks_first(
    console: ConsoleSession, live_server: LiveServer, open_console: Callable[..., ConsoleSession]
) -> None:
    keys = live_server.keys["shop"]
    seed(live_server, keys["owner"])
    page = console.page
    page.locator("#nav a[data-page=privacy]").click()
    console.wait_ready()
    page.locator("#privacy-table table").first.wait_for()
    assert "还没有数据请求" in page.locator("#privacy-table").inner_text()

    page.locator("#privacy-export").click()  # no user id: said next to the input, nothing sent
    page.locator("#privacy-form .field-error[data-field=user_id]").get_by_text("请输入用户 ID").wait_for()
    assert page.locator("#privacy-user").get_attribute("aria-invalid") == "true"
    assert not console.api_requests("/admin/privacy/exports")
    pick(console, "#privacy-user", USER)
    with page.expect_download() as download:
        page.locator("#privacy-export").click()
    assert download.value.suggested_filename == f"privacy-export-shop-{USER}.json"
    doc = json.loads(open(download.value.path(), encoding="utf-8").read())  # noqa: SIM115
    assert doc["user_id"] == USER and {"page_view", "favorite"} <= {e["name"] for e in doc["events"]}
    assert doc["operational"]["loyalty"]["loyalty_transfers"][0]["points"] == 30
    page.locator("#privacy-result").get_by_text("已导出并下载").wait_for()
    assert page.locator("#privacy-form .field-error").count() == 0
    rows = page.locator("#privacy-table .el-table__body tbody tr")
    rows.first.get_by_text("导出").wait_for()

    erase = page.locator("#privacy-erase")
    erase.click()  # asks first: nothing is sent until the operator confirms
    box = page.locator(".el-message-box")
    box.get_by_text(f"确认删除用户 {USER} 的全部数据").wait_for()
    assert "不可撤销" in box.inner_text()
    assert not console.api_requests("/admin/privacy/erasures")
    box.get_by_role("button", name="取消").click()
    box.wait_for(state="hidden")
    assert not console.api_requests("/admin/privacy/erasures")
    erase.click()
    console.confirm()
    page.locator("#privacy-result").get_by_text("已删除").wait_for()
    assert re.search(r"\d+ 条事件", page.locator("#privacy-result").inner_text())
    rows.nth(1).wait_for()
    assert "删除" in rows.first.inner_text() and "已完成" in rows.first.inner_text()
    assert "所有者 · owner (" in rows.first.inner_text()  # who asked: the role and the key's name
    assert live_server.runtime.store.count(app_id="shop") == 0
    console.shot("privacy-zh")

    page.locator("#lang-toggle").click()
    page.locator("#nav a[data-page=privacy]").get_by_text("Privacy requests").wait_for()
    page.locator("#privacy-table .el-table__body tbody tr").nth(1).wait_for()
    assert page.locator(".page-title").inner_text() == "Privacy requests"
    assert "Erasure" in page.locator("#privacy-table .el-table__body tbody tr").first.inner_text()
    assert re.search(r"Erased: u_demo01 — \d+ events", page.locator("#privacy-result").inner_text())
    console.shot("privacy-en")

    # An operator exports but cannot erase (the button says why); an analyst sees why the page is closed to them.
    operator = open_console(keys["operator"])
    operator.page.locator("#nav a[data-page=privacy]").click()
    operator.wait_ready()
    pick(operator, "#privacy-user", USER)
    assert operator.page.locator("#privacy-erase").is_disabled()
    assert operator.page.locator("#privacy-export").is_enabled()
    operator.page.locator("#privacy-owner-only").get_by_text("只有所有者").wait_for()
    analyst = open_console(keys["analyst"])
    analyst.page.locator("#nav a[data-page=privacy]").click()
    analyst.page.locator("#privacy-forbidden").wait_for()
    assert not analyst.api_requests("/admin/privacy/requests")


def test_erase_needs_an_owner_key_on_the_server_too(
    live_server: LiveServer, open_console: Callable[..., ConsoleSession]
) -> None:
    """The button is closed to operators; were it not, the API refuses and the page says who may."""
    keys = live_server.make_app("shop", "小店")
    operator = open_console(keys["operator"])
    operator.allow_console_error("403")
    page = operator.page

    # as if the page had thought the key an owner's: the erase button opens, the server decides
    def as_owner(route: Any) -> None:
        answer = route.fetch()
        route.fulfill(response=answer, json={**answer.json(), "role": "owner"})

    page.route("**/admin/app", as_owner)
    page.reload()
    operator.wait_ready()
    page.locator("#nav a[data-page=privacy]").click()
    operator.wait_ready()
    pick(operator, "#privacy-user", USER)
    page.locator("#privacy-erase").click()
    operator.confirm()
    page.locator(".toast").get_by_text("只有所有者").wait_for()
    assert live_server.runtime.store.count(app_id="shop") == 0  # nothing was there, nothing changed
    assert operator.api_requests("/admin/privacy/erasures")


@pytest.mark.parametrize("live_server", [{"event_retention_days": 400}], indirect=True)
def test_retention_periods_as_the_last_sweep_applied_them(
    console: ConsoleSession, live_server: LiveServer
) -> None:
    page = console.page
    page.locator("#nav a[data-page=privacy]").click()
    console.wait_ready()
    retention = page.locator("#privacy-retention")
    assert "尚未运行" in retention.inner_text() and "HUOLI_EVENT_RETENTION_DAYS" in retention.inner_text()
    assert "每天 03:15" in retention.inner_text()
    rt = live_server.runtime
    queue = queue_for(rt)
    with unit_of_work(rt.sessions) as db:
        queue.request_run(db, "privacy.retention", None, trigger="cli")
    drain(rt, queue)
    page.reload()
    console.wait_ready()
    retention.locator("[data-status=ok]").wait_for()
    assert retention.locator("dd[data-fact=events]").inner_text() == "保留 400 天"
    assert retention.locator("dd[data-fact=keys]").inner_text() == "保留 30 天"
    console.shot("retention-zh")


def test_privacy_page_fits_a_phone(console: ConsoleSession) -> None:
    page = console.page
    page.set_viewport_size({"width": 390, "height": 844})
    console.goto("#/privacy")
    console.wait_ready()
    page.locator("#consent-summary table").first.wait_for()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways: {width}px"
    console.shot("privacy-phone")


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
    console.wait_ready()
    marketing = page.locator("#consent-summary tbody tr", has_text="营销消息")
    cells = marketing.locator("td")
    assert cells.nth(1).inner_text() == "需主动同意"
    granted, withdrawn = int(cells.nth(2).inner_text()), int(cells.nth(3).inner_text())
    assert granted >= 1 and withdrawn >= 1 and "2026-12-01" in cells.nth(4).inner_text()

    page.locator("#consent-lookup").click()  # no user id: said next to the input, nothing sent
    page.locator("#consent-form .field-error[data-field=user_id]").get_by_text("请输入用户 ID").wait_for()
    assert not console.api_requests("/admin/privacy/consents")
    pick(console, "#consent-user", someone)
    page.locator("#consent-lookup").click()
    history = page.locator("#consent-history tbody tr")
    history.nth(2).wait_for()
    assert history.count() == 3
    assert "营销消息" in history.first.inner_text() and "拒绝/撤回" in history.first.inner_text()
    assert "MicroMessenger" in history.first.inner_text() and "小程序" in history.first.inner_text()
    current = page.locator("#consent-current")
    assert "未选择" in current.inner_text()  # analytics and recommendations: never decided
    assert "营销消息" in current.inner_text() and "拒绝/撤回" in current.inner_text()
    console.shot("privacy-consents-zh")

    page.locator("#lang-toggle").click()
    page.locator("#consents h2").get_by_text("Consents").wait_for()
    assert "Marketing messages" in page.locator("#consent-summary").inner_text()
    console.shot("privacy-consents-en")

    # An analyst cannot handle requests but reads the consents.
    analyst = open_console(live_server.keys["shop"]["analyst"])
    analyst.page.locator("#nav a[data-page=privacy]").click()
    analyst.page.locator("#privacy-forbidden").wait_for()
    analyst.page.locator("#consent-summary tbody tr").first.wait_for()
    pick(analyst, "#consent-user", other)
    analyst.page.locator("#consent-lookup").click()
    analyst.page.locator("#consent-history tbody tr").first.wait_for()
    assert (
        "MicroMessenger" not in analyst.page.locator("#consent-history").inner_text()
    )  # no evidence columns
