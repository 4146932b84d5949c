"""The ad-hoc builders (funnel, retention, paths) in real headless Chromium against a live huoli: what the
page shows equals what the API answers for the same request, 422 details sit next to the right input, and a
reload of the URL reproduces the chart. The console fixture fails each test on any browser console error."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from tests.browser.fixtures import ConsoleSession, LiveServer, client_event

TZ = ZoneInfo("Asia/Shanghai")
TODAY = datetime.now(TZ).date()
START, END = (TODAY - timedelta(days=6)).isoformat(), TODAY.isoformat()


def _event(i: int, name: str, at: datetime, **kw: Any) -> dict[str, Any]:
    """User i's event in session s<i> on channel ads (odd users) or share (even)."""
    ch = "ads" if i % 2 else "share"
    return client_event(name, at, **{"anonymous_id": f"anon-{i}", "session_id": f"s{i}", "channel": ch, **kw})


def _history() -> list[dict[str, Any]]:
    """Six users over the last days: all open and view the index; four view an item, two add it to the cart;
    one of those who dropped after the item view went on to the cart page, and one went there from the index."""
    now = datetime.now(UTC).replace(microsecond=0)
    events: list[dict[str, Any]] = []
    for i in range(6):
        at = now - timedelta(days=2 + i % 3, hours=i)

        def ev(name: str, s: int, **kw: Any) -> None:
            events.append(_event(i, name, at + timedelta(seconds=s), **kw))  # noqa: B023 - used in this iteration

        ev("app_show", 0)
        ev("page_view", 1, page="pages/index/index")
        if i < 4:
            ev("view_item", 30 * (i + 1), properties={"item_id": f"item-{i}"})
            ev("page_view", 30 * (i + 1) + 1, page="pages/item/item")
        if i < 2:
            ev("add_to_cart", 300, properties={"item_id": f"item-{i}"})
        if i in (2, 5):
            ev("page_view", 400, page="pages/cart/cart")
        # a return visit the next day for half of them (retention)
        if i % 2 == 0:
            events.append(_event(i, "app_show", at + timedelta(days=1), session_id=f"s{i}b"))
    return events


@pytest.fixture
def shop(console: ConsoleSession, live_server: LiveServer) -> ConsoleSession:
    live_server.post_events("shop", _history())
    return console


def _api(live_server: LiveServer, metric: str, body: dict[str, Any]) -> dict[str, Any]:
    r = live_server.api(
        live_server.keys["shop"]["analyst"],
        "POST",
        f"/admin/analytics/{metric}",
        json={"start": START, "end": END, **body},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()["result"]
    return result


def _open(c: ConsoleSession, hash_: str) -> None:
    c.goto(hash_)
    c.wait_ready()
    _loaded(c)


def _loaded(c: ConsoleSession) -> None:
    c.page.locator(f"#page-body .builder[data-loaded='{START}..{END}']").wait_for(timeout=60_000)


def _cells(c: ConsoleSession, table: str) -> list[list[str]]:
    rows = c.page.locator(f"{table} tbody tr")
    return [rows.nth(i).locator("td").all_inner_texts() for i in range(rows.count())]


def _chart_option(c: ConsoleSession, selector: str) -> dict[str, Any]:
    """The option ECharts holds for the chart drawn in `selector` (the console's own ECharts, via the shell's hook)."""
    c.page.locator(f"{selector} canvas").first.wait_for()
    option: dict[str, Any] = c.page.evaluate(
        """(sel) => {
            const inst = window.__huoli.chartOf(document.querySelector(`${sel} [_echarts_instance_]`));
            return JSON.parse(JSON.stringify(inst.getOption(), (k, v) => (typeof v === 'function' ? undefined : v)));
        }""",
        selector,
    )
    return option


def _type(c: ConsoleSession, selector: str, text: str) -> None:
    """Types into an input; leaving it closes a picker's suggestions so they cover nothing the test clicks next."""
    box = c.page.locator(selector)
    box.fill(text)
    box.blur()


def _shown(c: ConsoleSession, select: str) -> str:
    """The option an Element Plus select shows as chosen (its input is `select`)."""
    return (
        c.page.locator(".el-select", has=c.page.locator(select))
        .locator(".el-select__placeholder")
        .inner_text()
    )


def _hash_query(url: str) -> dict[str, str]:
    _, _, query = urlsplit(url).fragment.partition("?")
    return {k: v[0] for k, v in parse_qs(query).items()}


def _pct(v: float | None) -> str:
    return "" if v is None else f"{v * 100:.1f}%"


def test_build_a_funnel(shop: ConsoleSession, live_server: LiveServer) -> None:
    c, page = shop, shop.page
    _open(c, "#/funnel")
    steps = page.locator("#f-steps .f-step")
    assert steps.count() == 4  # the default app_show → view_item → add_to_cart → order_paid
    steps.nth(3).locator(".f-remove").click()  # drop order_paid
    page.locator("#f-add-step").click()
    _type(c, "#f-steps .f-step:nth-child(4) .f-event input", "page_view")
    _type(c, "#f-steps .f-step:nth-child(4) .f-field input", "page")
    _type(c, "#f-steps .f-step:nth-child(4) .f-value input", "pages/index/index")
    steps.nth(3).locator(".f-up").click()
    steps.nth(2).locator(".f-up").click()  # page_view is now step 2
    assert [steps.nth(i).locator(".f-event input").input_value() for i in range(4)] == [
        "app_show",
        "page_view",
        "view_item",
        "add_to_cart",
    ]
    c.choose("#f-dropoff-step", "第 3 步 → 第 4 步")
    page.locator("#f-run").click()
    _loaded(c)
    c.shot("funnel")

    spec_steps = [
        {"event": "app_show"},
        {"event": "page_view", "filters": [{"field": "page", "op": "eq", "value": "pages/index/index"}]},
        {"event": "view_item"},
        {"event": "add_to_cart"},
    ]
    api = _api(live_server, "funnel", {"steps": spec_steps, "window_seconds": 7 * 86400, "dropoff_step": 3})
    assert [s["users"] for s in api["steps"]] == [6, 6, 4, 2]  # the history above, through the API
    expected = [
        [str(s["step"]), s["event"], str(s["users"]), _pct(s["conversion_from_start"])] for s in api["steps"]
    ]
    assert [row[:4] for row in _cells(c, "#f-table")] == expected
    option = _chart_option(c, "#f-chart")
    assert option["series"][0]["data"] == [s["users"] for s in api["steps"]]
    assert option["yAxis"][0]["data"] == [f"{s['step']}. {s['event']}" for s in api["steps"]]
    drop = api["dropoff"]
    assert drop["users"] == 2
    assert f"{drop['users']}" in page.locator("#f-dropoff-count").inner_text()
    said = {"(no further event)": "之后没有再发生事件"}  # the API's placeholder, as the page says it
    went = [[said.get(n["next"], n["next"]), str(n["users"])] for n in drop["next"]]
    assert _cells(c, "#f-dropoff") == went
    ttc = _chart_option(c, "#f-ttc-chart")
    assert ttc["series"][0]["data"] == [b["users"] for b in api["time_to_convert"]["buckets"]]

    # the link reproduces it: the spec is in the hash, a reload runs it again
    spec = json.loads(_hash_query(page.url)["q"])
    assert [s["event"] for s in spec["steps"]] == ["app_show", "page_view", "view_item", "add_to_cart"]
    table_before = _cells(c, "#f-table")
    page.reload()
    c.wait_ready()
    _loaded(c)
    assert _cells(c, "#f-table") == table_before
    assert (
        page.locator("#f-steps .f-step").nth(1).locator(".f-value input").input_value() == "pages/index/index"
    )
    assert _shown(c, "#f-dropoff-step") == "第 3 步 → 第 4 步"
    c.shot("funnel-reloaded")

    # breakdown by channel, attributed to the last step reached: one row per channel, as the API says
    _type(c, "#f-form input[name=breakdown]", "channel")
    c.choose("#f-attribution", "最后到达的步骤")
    page.locator("#f-run").click()
    _loaded(c)
    body = {"steps": spec_steps, "dropoff_step": 3, "breakdown": "channel", "attribution": "last_touch"}
    api = _api(live_server, "funnel", body)
    assert sorted(b["breakdown"] for b in api["breakdown"]) == ["ads", "share"]
    shown = _cells(c, "#f-breakdown")
    assert [r[0] for r in shown] == [b["breakdown"] for b in api["breakdown"]]
    assert [r[1] for r in shown] == [str(b["steps"][0]["users"]) for b in api["breakdown"]]
    c.shot("funnel-by-channel")


def test_funnel_field_errors(shop: ConsoleSession) -> None:
    c, page = shop, shop.page
    c.allow_console_error(r"status of 422")
    _open(c, "#/funnel")
    steps = page.locator("#f-steps .f-step")
    _type(c, "#f-steps .f-step:nth-child(2) .f-event input", "no_such_event")
    page.locator("#f-run").click()
    err = page.locator(".field-error[data-field='steps.1.event']")
    err.wait_for()
    assert "no_such_event" in err.inner_text()
    assert "未知事件" in err.inner_text()  # the API's English, said in the operator's language
    assert steps.nth(1).locator(".f-event input").get_attribute("aria-invalid") == "true"
    assert page.locator("#page-body .builder").get_attribute("data-loaded") == "error"
    assert page.locator("#page-body .builder .results.stale").count() == 1  # the last result, faded
    c.shot("funnel-unknown-event")

    # a whole-request rule (exclusion steps out of order) lands next to the exclusion's input
    _type(c, "#f-steps .f-step:nth-child(2) .f-event input", "view_item")
    page.locator("#f-add-excl").click()
    excl = page.locator("#f-exclusions .f-excl").first
    _type(c, "#f-exclusions input[name='exclusions.0.event.event']", "page_view")
    _type(c, "#f-exclusions input[name='exclusions.0.from_step']", "3")
    _type(c, "#f-exclusions input[name='exclusions.0.to_step']", "2")
    page.locator("#f-run").click()
    page.locator(".field-error[data-field='exclusions.0.from_step']").wait_for()
    assert page.locator(".field-error[data-field='steps.1.event']").count() == 0

    # a bad window: the pydantic bound, next to the window input
    excl.locator(".f-excl-remove").click()
    _type(c, "#f-window", "0")
    page.locator("#f-run").click()
    page.locator(".field-error[data-field='window_seconds']").wait_for()
    c.shot("funnel-window-error")

    # attribution to a given step without the step: a whole-request rule, next to the attribution step input
    _type(c, "#f-window", "7")
    c.choose("#f-attribution", "指定步骤")
    page.locator("#f-run").click()
    err = page.locator(".field-error[data-field='attribution_step']")
    err.wait_for()
    assert "1–4" in err.inner_text()
    assert page.locator(".field-error[data-field='window_seconds']").count() == 0


def test_retention_builder(shop: ConsoleSession, live_server: LiveServer) -> None:
    c, page = shop, shop.page
    _open(c, "#/retention")
    api = _api(live_server, "retention", {"cohort": "first_time", "period": "day", "periods": 7})
    assert sum(r["size"] for r in api["rows"]) == 6
    rows = _cells(c, "#ret-heatmap")
    assert len(rows) == len(api["weighted_mean"]) + len(api["rows"])
    mean = api["weighted_mean"][0]
    assert rows[0][2:] == [_pct(v) for v in mean["rate"]]
    for shown, r in zip(rows[1:], api["rows"], strict=True):
        assert shown[0] == r["cohort"] and shown[1] == str(r["size"])
        assert shown[2:] == [_pct(v) for v in r["rate"]]  # null cells (period not over) are blank
    assert any(v is None for r in api["rows"] for v in r["rate"])
    assert _chart_option(c, "#ret-chart")["series"][0]["data"] == mean["rate"]
    c.shot("retention")

    # breakdown by channel, on-or-after: one weighted-mean row per channel
    c.choose("#ret-criterion", "当期及以后")
    _type(c, "#ret-form input[name=breakdown]", "channel")
    page.locator("#ret-run").click()
    _loaded(c)
    api = _api(
        live_server,
        "retention",
        {
            "cohort": "first_time",
            "period": "day",
            "periods": 7,
            "criterion": "on_or_after",
            "breakdown": "channel",
        },
    )
    assert [m["breakdown"] for m in api["weighted_mean"]] == ["ads", "share"]
    rows = _cells(c, "#ret-heatmap")
    assert [r[1] for r in rows[:2]] == ["ads", "share"]
    assert [r[3:] for r in rows[:2]] == [[_pct(v) for v in m["rate"]] for m in api["weighted_mean"]]
    c.shot("retention-by-channel")

    # the WeChat preset: its columns, and the link reproduces the view after a reload
    c.choose("#ret-preset", "微信新增留存")
    assert page.locator("#ret-cohort").is_disabled()
    page.locator("#ret-run").click()
    _loaded(c)
    heads = page.locator("#ret-heatmap thead th").all_inner_texts()
    assert heads[-3:] == ["D7", "D14", "D30"]
    before = _cells(c, "#ret-heatmap")
    page.reload()
    c.wait_ready()
    _loaded(c)
    assert json.loads(_hash_query(page.url)["q"])["preset"] == "wechat_new"
    assert _shown(c, "#ret-preset") == "微信新增留存"
    assert _cells(c, "#ret-heatmap") == before


def test_retention_bracket_error(shop: ConsoleSession) -> None:
    c, page = shop, shop.page
    c.allow_console_error(r"status of 422")
    _open(c, "#/retention")
    c.choose("#ret-criterion", "区间")
    _type(c, "#ret-form input[name=brackets]", "8-2")
    page.locator("#ret-run").click()
    err = page.locator(".field-error[data-field='brackets']")
    err.wait_for()
    assert "8" in err.inner_text()


def test_paths_builder(shop: ConsoleSession, live_server: LiveServer) -> None:
    c, page = shop, shop.page
    _open(c, "#/paths")
    _type(c, "#p-form input[name=anchor]", "pages/index/index")
    _type(c, "#p-form input[name=top]", "1")
    page.locator("#p-run").click()
    _loaded(c)
    api = _api(
        live_server,
        "paths",
        {"kind": "pages", "anchor": "pages/index/index", "direction": "after", "depth": 4, "top": 1},
    )
    level1 = api["levels"][0]
    assert level1["transitions"] == [{"from": "pages/index/index", "to": "pages/item/item", "sessions": 4}]
    assert level1["cut"] == {"transitions": 1, "sessions": 1}  # index → cart, left out by top 1
    option = _chart_option(c, "#p-chart")
    links = option["series"][0]["links"]
    assert sum(x["value"] for x in links) == sum(
        t["sessions"] for lv in api["levels"] for t in lv["transitions"]
    )
    labels = {n["label"] for n in option["series"][0]["data"]}
    assert {"pages/index/index", "pages/item/item"} <= labels
    cut = _cells(c, "#p-cut")
    assert [r[0] for r in cut] == [str(lv["level"]) for lv in api["levels"]]
    assert [r[3:] for r in cut] == [
        [str(lv["cut"]["transitions"]), str(lv["cut"]["sessions"])] for lv in api["levels"]
    ]
    entries = _cells(c, "#p-entries")
    assert entries[0][:2] == ["pages/index/index", "6"]
    c.shot("paths")

    # before the cart page: the path into it; the link reproduces it
    c.choose("#p-direction", "之前")
    _type(c, "#p-form input[name=anchor]", "pages/cart/cart")
    page.locator("#p-run").click()
    _loaded(c)
    option = _chart_option(c, "#p-chart")
    assert {(x["value"]) for x in option["series"][0]["links"]} == {1}
    page.reload()
    c.wait_ready()
    _loaded(c)
    assert page.locator("#p-form input[name=anchor]").input_value() == "pages/cart/cart"
    assert _shown(c, "#p-direction") == "之前"
    c.shot("paths-before-cart")

    # English: the same builder state, English labels
    page.locator("#lang-toggle").click()
    c.wait_ready()
    _loaded(c)
    assert page.locator("#p-run").inner_text() == "Run"
    assert page.locator(".page-title").inner_text() == "Paths"
    assert page.locator("#p-form input[name=anchor]").input_value() == "pages/cart/cart"
    assert _shown(c, "#p-direction") == "Before"
    c.shot("paths-english")


def test_builders_at_phone_width(shop: ConsoleSession) -> None:
    """At 390 px the forms stack and the tables scroll inside themselves: nothing makes the page wider."""
    c, page = shop, shop.page
    page.set_viewport_size({"width": 390, "height": 844})
    for lang in ("zh", "en"):
        if lang == "en":
            page.locator("#lang-toggle").click()
        for hash_ in ("#/retention", "#/funnel", "#/paths"):
            _open(c, hash_)
            wide = page.evaluate(
                """() => [document.documentElement.scrollWidth, window.innerWidth,
                    ...[...document.querySelectorAll('#page-body .card, #page-body .stat-card')]
                        .map((el) => Math.ceil(el.getBoundingClientRect().right))]"""
            )
            assert max(wide[0], *wide[2:]) <= wide[1], f"{hash_} ({lang}) wider than the screen: {wide}"
            c.shot(f"{lang}-{hash_[2:]}-phone")


def test_vocabulary(live_server: LiveServer) -> None:
    keys = live_server.make_app("shop", "小店")
    live_server.post_events("shop", _history())
    r = live_server.api(keys["analyst"], "GET", "/admin/analytics/vocabulary")
    assert r.status_code == 200, r.text
    body = r.json()
    names = {e["name"]: e for e in body["events"]}
    assert names["app_show"]["events"] == 9 and names["app_show"]["catalog"]
    assert names["page_view"]["events"] == 12
    assert names["order_paid"]["events"] == 0  # catalog events are offered even before the app sends them
    assert body["events"][0]["name"] == "page_view"  # most sent first
    assert [p["page"] for p in body["pages"]] == ["pages/index/index", "pages/item/item", "pages/cart/cart"]
    assert "channel" in body["fields"] and "user.first_channel" in body["user_fields"]
    assert live_server.api(keys["analyst"], "GET", "/admin/analytics/vocabulary").json() == body
    assert httpx_status(live_server, "/admin/analytics/vocabulary") == 401


def httpx_status(live_server: LiveServer, path: str) -> int:
    import httpx

    return httpx.get(f"{live_server.url}{path}", timeout=10).status_code
