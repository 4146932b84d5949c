"""The console in real headless Chromium against a live huoli: sign-in, apps, language, range, keys, events.

Every test also fails on a browser console error it did not declare, an uncaught page error, or a request
to any host but the live server (see tests/browser/fixtures.py). Screenshots: var/test-artifacts/console/.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from tests.browser.fixtures import ConsoleSession, LiveServer, client_event

TZ = ZoneInfo("Asia/Shanghai")


def hash_params(url: str) -> tuple[str, dict[str, str]]:
    fragment = urlsplit(url).fragment  # "/overview?start=…"
    path, _, query = fragment.partition("?")
    return path, {k: v[0] for k, v in parse_qs(query).items()}


def local_today() -> str:
    return datetime.now(TZ).date().isoformat()


def days_ago(n: int) -> str:
    return (datetime.now(TZ).date() - timedelta(days=n)).isoformat()


def test_sign_in_bad_key_then_good_key(console_anon: ConsoleSession, live_server: LiveServer) -> None:
    c, page = console_anon, console_anon.page
    c.allow_console_error(r"status of 401")  # the bad key's /admin/app answer, logged by Chromium
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    c.shot("signin")

    page.locator("#signin button[type=submit]").click()
    assert page.locator("#signin-error").inner_text() == "请输入 API 密钥。"

    page.locator("#signin-key").fill("hlk_0000000000000000.not-a-real-secret")
    page.locator("#signin button[type=submit]").click()
    page.locator("#signin-error").get_by_text("密钥无效").wait_for()
    assert page.locator("#app-name").count() == 0
    c.shot("bad-key")

    key = live_server.keys["shop"]["owner"]
    mark = len(c.requests)
    c.sign_in(key)
    assert page.locator("#app-name").inner_text() == "小店"
    # lands on the first page with the default range in the hash
    path, params = hash_params(page.url)
    assert path == "/overview"
    assert params == {"start": days_ago(6), "end": local_today()}
    # the key is kept in localStorage only: not in the URL, not in a cookie
    stored = json.loads(page.evaluate("localStorage.getItem('huoli.console.keys')"))
    assert stored == [{"appId": "shop", "appName": "小店", "key": key}]
    assert key not in page.url and c.context.cookies() == []
    # every API call carried the key as a Bearer token
    admin = [r for r in c.requests[mark:] if "/admin/" in r.url]
    assert admin and all(r.headers.get("authorization") == f"Bearer {key}" for r in admin)
    c.shot("signed-in")

    # a reload stays signed in
    page.reload()
    page.locator("#app-name").wait_for()
    assert page.locator("#app-name").inner_text() == "小店"


def switcher_options(c: ConsoleSession) -> list[str]:
    """The app switcher's entries, read from its open list (then closed again)."""
    c.page.locator(".el-select__wrapper", has=c.page.locator("#app-switcher")).click()
    items = c.page.locator(".el-select-dropdown:visible .el-select-dropdown__item")
    items.first.wait_for()
    texts = [t.strip() for t in items.all_inner_texts()]
    c.page.keyboard.press("Escape")
    return texts


def test_switch_between_two_apps(console: ConsoleSession, live_server: LiveServer) -> None:
    page = console.page
    cafe = live_server.make_app("cafe", "咖啡馆")
    shop_key = live_server.keys["shop"]["owner"]

    console.choose("#app-switcher", "＋ 添加应用（另一个密钥）")
    page.locator("#signin-key").wait_for()
    console.sign_in(cafe["analyst"])
    assert page.locator("#app-name").inner_text() == "咖啡馆"
    assert switcher_options(console)[:2] == ["咖啡馆 (cafe)", "小店 (shop)"]
    console.shot("cafe")

    mark = len(console.requests)
    console.choose("#app-switcher", "小店 (shop)")
    page.locator("#app-name").get_by_text("小店").wait_for()
    console.wait_ready()
    after = [r for r in console.requests[mark:] if "/admin/" in r.url]
    assert after and all(r.headers["authorization"] == f"Bearer {shop_key}" for r in after)
    console.shot("shop")

    # the choice survives a reload; signing out of one app moves to the other
    page.reload()
    page.locator("#app-name").get_by_text("小店").wait_for()
    page.locator("#sign-out").click()
    page.locator("#app-name").get_by_text("咖啡馆").wait_for()
    assert switcher_options(console)[0] == "咖啡馆 (cafe)"
    page.locator("#sign-out").click()
    page.locator("#signin-key").wait_for()
    assert json.loads(page.evaluate("localStorage.getItem('huoli.console.keys')")) == []


def test_language_switch_is_persisted(console: ConsoleSession) -> None:
    page = console.page
    assert page.locator("#nav a[data-page=overview]").inner_text() == "概览"
    page.locator("#lang-toggle").click()
    page.locator("#nav a[data-page=overview]").get_by_text("Overview").wait_for()
    console.wait_ready()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#lang-toggle").inner_text() == "中文"
    assert page.locator(".page-title").inner_text() == "Overview"
    assert page.locator("#nav a[data-page=keys]").inner_text() == "API keys"
    console.shot("english")
    page.reload()
    page.locator("#nav a[data-page=overview]").get_by_text("Overview").wait_for()
    page.locator("#lang-toggle").click()
    page.locator("#nav a[data-page=overview]").get_by_text("概览").wait_for()
    assert page.locator("html").get_attribute("lang") == "zh-CN"


def test_range_change_updates_hash_and_refetches(console: ConsoleSession, live_server: LiveServer) -> None:
    page = console.page
    now = datetime.now(UTC)
    # 3 events today, 2 five days ago (inside 7 days), 4 twenty days ago (only inside 30 days)
    events = [client_event("page_view", now - timedelta(minutes=5)) for _ in range(3)]
    events += [client_event("share", now - timedelta(days=5)) for _ in range(2)]
    events += [client_event("page_view", now - timedelta(days=20)) for _ in range(4)]
    live_server.post_events("shop", events)

    page.reload()
    console.wait_ready()
    page.locator(f"#page-body [data-loaded='{days_ago(6)}..{local_today()}']").wait_for()
    assert page.locator("#overview-kpis .stat-value").first.inner_text() == "5"
    # the chart is a real ECharts canvas, one bar per day
    assert page.locator("#overview-chart canvas").count() >= 1
    console.shot("7-days")

    mark = len(console.requests)
    page.locator("#range .preset[data-days='30']").click()
    page.locator(f"#page-body [data-loaded='{days_ago(29)}..{local_today()}']").wait_for()
    path, params = hash_params(page.url)
    assert (path, params) == ("/overview", {"start": days_ago(29), "end": local_today()})
    assert page.locator("#overview-kpis .stat-value").first.inner_text() == "9"
    refetched = [r for r in console.requests[mark:] if "/admin/events/summary" in r.url]
    assert len(refetched) == 1 + 30  # the whole range, then one call per local day
    assert any(f"start={days_ago(29)}T00%3A00%3A00%2B08%3A00" in r.url for r in refetched)
    assert page.locator("#range .preset[data-days='30']").get_attribute("aria-pressed") == "true"
    console.shot("30-days")

    page.locator("label.el-checkbox:has(#range-compare)").click()  # Element Plus hides the input itself
    page.locator(f"#page-body [data-loaded='{days_ago(29)}..{local_today()}+compare']").wait_for()
    assert hash_params(page.url)[1]["compare"] == "1"
    assert "上一周期" in page.locator("#overview-table thead").inner_text()
    console.shot("compare")

    # custom dates, typed into the range picker (Element Plus puts an inverted pair in order)
    page.locator("#range-start").fill(days_ago(6))
    page.locator("#range-end").fill(days_ago(4))
    page.locator("#range-end").press("Enter")
    page.locator(f"#page-body [data-loaded='{days_ago(6)}..{days_ago(4)}+compare']").wait_for()
    assert page.locator("#overview-kpis .stat-value").first.inner_text() == "2"

    # the range travels with navigation and survives a reload
    page.locator("#nav a[data-page=events]").click()
    console.wait_ready()
    assert hash_params(page.url)[1]["start"] == days_ago(6)
    page.go_back()
    page.locator(f"#page-body [data-loaded='{days_ago(6)}..{days_ago(4)}+compare']").wait_for()


def test_events_page_lists_and_filters(console: ConsoleSession, live_server: LiveServer) -> None:
    page = console.page
    now = datetime.now(UTC)
    live_server.post_events(
        "shop",
        [client_event("page_view", now - timedelta(minutes=i), page="pages/index/index") for i in range(3)]
        + [client_event("share", now, properties={"share_id": "c1", "note": "<img src=x onerror=alert(1)>"})],
    )
    page.locator("#nav a[data-page=events]").click()
    page.locator("#events-table tbody tr").first.wait_for()
    assert page.locator("#events-count").inner_text() == "显示 4 / 4 条"
    page.locator("#events-filter").fill("share")
    page.locator("#events-count").get_by_text("显示 1 / 4 条").wait_for()
    row = page.locator("#events-table tbody tr")
    assert row.count() == 1
    # data is shown as text, never parsed as markup
    assert "<img src=x onerror=alert(1)>" in row.inner_text()
    assert page.locator("#events-table img").count() == 0
    assert hash_params(page.url)[1]["q"] == "share"
    console.shot("filtered")
    page.reload()
    page.locator("#events-count").get_by_text("显示 1 / 4 条").wait_for()


def test_markup_in_names_is_text(live_server: LiveServer, open_console) -> None:  # type: ignore[no-untyped-def]
    keys = live_server.make_app("evil", '<img src=x onerror="window.__pwned=1">小店')
    c = open_console(keys["owner"])
    assert c.page.locator("#app-name").inner_text() == '<img src=x onerror="window.__pwned=1">小店'
    assert c.page.evaluate("window.__pwned === undefined")
    assert c.page.locator("header img").count() == 0


def test_a_revoked_key_sends_the_operator_back_to_sign_in(
    live_server: LiveServer,
    open_console,  # type: ignore[no-untyped-def]
) -> None:
    owner = live_server.make_app("shop", "小店")["owner"]
    issued = live_server.api(owner, "POST", "/admin/keys", json={"name": "laptop", "role": "analyst"}).json()
    c = open_console(issued["key"])
    c.allow_console_error(r"status of 401")
    assert live_server.api(owner, "DELETE", f"/admin/keys/{issued['id']}").status_code == 200
    c.page.locator("#nav a[data-page=events]").click()
    c.page.locator("#signin-error").get_by_text("当前密钥已失效").wait_for()
    assert json.loads(c.page.evaluate("localStorage.getItem('huoli.console.keys')")) == []
    c.shot("expired")
