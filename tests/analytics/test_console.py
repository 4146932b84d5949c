"""The analytics dashboard page in real headless Chromium: figures match the API, charts render, the range
and compare switch refetch, no console errors (checked by the console fixture)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.browser.fixtures import ConsoleSession, LiveServer, client_event

TZ = ZoneInfo("Asia/Shanghai")


def test_dashboard(console: ConsoleSession, live_server: LiveServer) -> None:
    page = console.page
    now = datetime.now(UTC)
    events = []
    for i, days_ago in enumerate([1, 1, 2, 3]):  # three users yesterday..3 days ago (one twice)
        at = now - timedelta(days=days_ago)
        anon = f"anon-{i % 3}"
        events += [
            client_event(
                "app_show", at, anonymous_id=anon, session_id=f"s{i}", channel="ads" if i else "share"
            ),
            client_event("page_view", at + timedelta(seconds=1), anonymous_id=anon, session_id=f"s{i}"),
            client_event(
                "view_item", at + timedelta(seconds=2), anonymous_id=anon, properties={"item_id": "i1"}
            ),
        ]
    live_server.post_events("shop", events)
    console.goto("#/dashboard")
    console.wait_ready()
    today = datetime.now(TZ).date()
    start = (today - timedelta(days=6)).isoformat()
    page.locator(f"#page-body[data-loaded='{start}..{today.isoformat()}']").wait_for(timeout=120_000)
    assert page.locator("#dash-kpis [data-kpi='dash.newUsers'] .value").inner_text() == "3"
    assert page.locator("#dash-activity-chart canvas").count() >= 1
    assert page.locator("#dash-funnel-chart canvas").count() >= 1
    assert page.locator("#dash-retention table tbody tr").count() >= 1
    # the heatmap: the weighted-mean row first, D0 of every (complete) cohort shaded
    assert page.locator("#dash-retention tbody tr.ret-mean").count() == 1
    assert page.locator("#dash-retention tbody td[data-col='c0'] .ret-cell[style]").count() >= 2
    assert page.locator("#dash-lifecycle-chart canvas").count() >= 1
    assert page.locator("#dash-channel-chart canvas").count() >= 1
    # one batch request for every figure
    assert len(console.api_requests("/admin/analytics/dashboard")) == 1
    console.shot("dashboard-7d")
    page.locator("#range-compare").check()
    page.locator(f"#page-body[data-loaded='{start}..{today.isoformat()}+compare']").wait_for(timeout=120_000)
    assert page.locator("#dash-kpis .kpi").count() == 8
    # the range with compare, then the previous range's batch (lifecycle, retention, interaction before it)
    assert len(console.api_requests("/admin/analytics/dashboard")) == 3
    console.shot("dashboard-compare")


def _chart_series(c: ConsoleSession, selector: str) -> list[dict[str, Any]]:
    """The series ECharts holds for the chart in `selector` (the shell's own ECharts module)."""
    series: list[dict[str, Any]] = c.page.evaluate(
        """async (sel) => {
            const manifest = await (await fetch('/console/pages.json')).json();
            const echarts = await import(manifest.vendor.echarts);
            const opt = echarts.getInstanceByDom(document.querySelector(sel)).getOption();
            return opt.series.map((s) => ({ name: s.name, type: s.type, dashed: (s.lineStyle || {}).type === 'dashed'
              || (s.itemStyle || {}).borderType === 'dashed', data: s.data }));
        }""",
        selector,
    )
    return series


def test_compare_colours_by_what_is_good_and_reaches_charts_and_tables(
    console: ConsoleSession, live_server: LiveServer
) -> None:
    """Issue 23 item 9: a falling bounce rate is good news (green, ▼); with compare on, every chart draws the
    previous period as a dashed series and the tables gain the previous value and a Δ column."""
    page = console.page
    now = datetime.now(UTC)
    events = []
    # previous period (8–12 days ago): every open bounces (one page view); this period: none does
    for i, days_ago in enumerate([8, 9, 10, 11, 12, 1, 2, 3]):
        at, anon, sid = now - timedelta(days=days_ago), f"anon-{i}", f"s{i}"
        views = 1 if days_ago > 7 else 2
        events.append(client_event("app_show", at, anonymous_id=anon, session_id=sid, channel="ads"))
        events += [
            client_event("page_view", at + timedelta(seconds=1 + v), anonymous_id=anon, session_id=sid)
            for v in range(views)
        ]
        events.append(
            client_event(
                "view_item", at + timedelta(seconds=5), anonymous_id=anon, properties={"item_id": "i1"}
            )
        )
    live_server.post_events("shop", events)
    today = datetime.now(TZ).date()
    start = (today - timedelta(days=6)).isoformat()
    console.goto(f"#/dashboard?start={start}&end={today.isoformat()}&compare=1")
    console.wait_ready()
    page.locator(f"#page-body[data-loaded='{start}..{today.isoformat()}+compare']").wait_for(timeout=120_000)

    bounce = page.locator("#dash-kpis [data-kpi='dash.bounce'] .delta")
    assert bounce.get_attribute("data-trend") == "down" and "good" in (bounce.get_attribute("class") or "")
    assert bounce.inner_text().startswith("▼")
    assert bounce.evaluate("el => getComputedStyle(el).color") == "rgb(26, 127, 55)"  # green
    new_users = page.locator("#dash-kpis [data-kpi='dash.newUsers'] .delta")  # 3 now against 5 before: red
    assert new_users.get_attribute("data-trend") == "down" and "bad" in (
        new_users.get_attribute("class") or ""
    )

    for chart in (
        "#dash-activity-chart",
        "#dash-channel-chart",
        "#dash-funnel-chart",
        "#dash-lifecycle-chart",
    ):
        dashed = [s for s in _chart_series(console, chart) if s["dashed"]]
        assert dashed, f"{chart}: no previous-period series"
    activity = {s["name"]: s for s in _chart_series(console, "#dash-activity-chart")}
    assert activity["DAU（上一周期）"]["dashed"] and not activity["DAU"]["dashed"]
    assert len(activity["DAU（上一周期）"]["data"]) == 7
    funnel = {s["name"]: s for s in _chart_series(console, "#dash-funnel-chart")}
    assert funnel["上一周期"]["data"][0] == 5 and funnel["本期"]["data"][0] == 3

    head = page.locator("#dash-rates thead").inner_text()
    assert "上一周期" in head and "Δ" in head
    assert page.locator("#dash-rates tbody tr").count() == 9
    assert page.locator("#dash-retention-compare tbody tr").count() >= 1
    assert "Δ" in page.locator("#dash-retention-compare thead").inner_text()
    console.shot("dashboard-compare-zh")

    page.locator("#lang-toggle").click()
    page.locator(f"#page-body[data-loaded='{start}..{today.isoformat()}+compare']").wait_for(timeout=120_000)
    page.locator("#dash-rates thead", has_text="Previous period").wait_for()
    assert "vs previous" in page.locator("#dash-kpis [data-kpi='dash.bounce']").inner_text()
    assert "DAU (previous)" in {s["name"] for s in _chart_series(console, "#dash-activity-chart")}
    console.shot("dashboard-compare-en")

    page.locator("#range-compare").uncheck()  # compare off: no previous series, no Δ column
    page.locator(f"#page-body[data-loaded='{start}..{today.isoformat()}']").wait_for(timeout=120_000)
    assert not [s for s in _chart_series(console, "#dash-activity-chart") if s["dashed"]]
    assert "Δ" not in page.locator("#dash-rates thead").inner_text()
    assert page.locator("#dash-retention-compare").count() == 0
