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
    # a cold dashboard on a busy machine takes longer than wait_ready()'s default
    page.locator("#page-root[data-state=ready]").wait_for(timeout=120_000)
    today = datetime.now(TZ).date()
    start = (today - timedelta(days=6)).isoformat()
    page.locator(f"#dashboard[data-loaded='{start}..{today.isoformat()}']").wait_for(timeout=120_000)
    assert page.locator("#dash-kpis [data-stat='dash.newUsers'] .stat-value").inner_text() == "3"
    assert page.locator("#dash-activity-chart canvas").count() >= 1
    assert page.locator("#dash-funnel-chart canvas").count() >= 1
    assert page.locator("#dash-retention table tbody tr").count() >= 1
    # the heatmap: the weighted-mean row first, D0 of every (complete) cohort shaded
    assert page.locator("#dash-retention-heatmap tbody tr:has(.ret-mean)").count() == 1
    assert page.locator("#dash-retention-heatmap tbody tr").first.locator(".ret-mean").count() == 1
    assert page.locator("#dash-retention-heatmap tbody td.col-period_0 .ret-cell[style]").count() >= 2
    assert page.locator("#dash-lifecycle-chart canvas").count() >= 1
    assert page.locator("#dash-channel-chart canvas").count() >= 1
    # one batch request for every figure
    assert len(console.api_requests("/admin/analytics/dashboard")) == 1
    console.shot("dashboard-7d")
    page.locator("label.el-checkbox:has(#range-compare)").click()  # Element Plus hides the input itself
    page.locator(f"#dashboard[data-loaded='{start}..{today.isoformat()}+compare']").wait_for(timeout=120_000)
    assert page.locator("#dash-kpis .stat-card").count() == 8
    # the range with compare, then the previous range's batch (lifecycle, retention, interaction before it)
    assert len(console.api_requests("/admin/analytics/dashboard")) == 3
    console.shot("dashboard-compare")
    # a phone: cards stack, tables scroll inside themselves, nothing widens the page
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#dash-rates").scroll_into_view_if_needed()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    console.shot("dashboard-phone")


# The series ECharts holds for the chart in `sel`, through the console's test hook (ECharts is bundled into
# the console, so no module of it can be imported from outside).
CHART_SERIES_JS = """(sel) => {
  const el = document.querySelector(`${sel} [_echarts_instance_]`);
  const inst = el && window.__huoli && window.__huoli.chartOf && window.__huoli.chartOf(el);
  if (!inst) return null;
  return inst.getOption().series.map((s) => ({ name: s.name, type: s.type,
    dashed: (s.lineStyle || {}).type === 'dashed' || (s.itemStyle || {}).borderType === 'dashed', data: s.data }));
}"""


def _chart_series(c: ConsoleSession, selector: str) -> list[dict[str, Any]]:
    """The series of the chart in `selector`, once ECharts drew it (a canvas is there)."""
    c.page.locator(f"{selector} canvas").first.wait_for()
    series: list[dict[str, Any]] | None = c.page.evaluate(CHART_SERIES_JS, selector)
    assert series is not None, f"{selector}: no ECharts instance"
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
    # a cold dashboard on a busy machine takes longer than wait_ready()'s default
    page.locator("#page-root[data-state=ready]").wait_for(timeout=120_000)
    page.locator(f"#dashboard[data-loaded='{start}..{today.isoformat()}+compare']").wait_for(timeout=120_000)

    bounce = page.locator("#dash-kpis [data-stat='dash.bounce'] .stat-delta")
    bounce_class = bounce.get_attribute("class") or ""
    assert "trend-down" in bounce_class and "good" in bounce_class
    assert bounce.inner_text().startswith("▼")
    assert bounce.evaluate("el => getComputedStyle(el).color") == "rgb(26, 127, 55)"  # green
    new_users = page.locator("#dash-kpis [data-stat='dash.newUsers'] .stat-delta")  # 3 now against 5 before
    new_class = new_users.get_attribute("class") or ""
    assert "trend-down" in new_class and "bad" in new_class
    assert new_users.evaluate("el => getComputedStyle(el).color") == "rgb(207, 34, 46)"  # red

    for chart in (
        "#dash-activity-chart",
        "#dash-channel-chart",
        "#dash-funnel-chart",
        "#dash-lifecycle-chart",
    ):
        dashed = [s for s in _chart_series(console, chart) if s["dashed"]]
        assert dashed, f"{chart}: no previous-period series"
    activity = {s["name"]: s for s in _chart_series(console, "#dash-activity-chart")}
    assert activity["日活 DAU（上一周期）"]["dashed"] and not activity["日活 DAU"]["dashed"]
    assert len(activity["日活 DAU（上一周期）"]["data"]) == 7
    funnel = {s["name"]: s for s in _chart_series(console, "#dash-funnel-chart")}
    assert funnel["上一周期"]["data"][0] == 5 and funnel["本期"]["data"][0] == 3

    head = page.locator("#dash-rates thead").first.inner_text()
    assert "上一周期" in head and "Δ" in head
    assert page.locator("#dash-rates tbody tr").count() == 9
    assert page.locator("#dash-retention-compare tbody tr").count() >= 1
    assert "Δ" in page.locator("#dash-retention-compare thead").first.inner_text()
    console.shot("dashboard-compare-zh")

    page.locator("#lang-toggle").click()
    page.locator(f"#dashboard[data-loaded='{start}..{today.isoformat()}+compare']").wait_for(timeout=120_000)
    page.locator("#dash-rates thead", has_text="Previous period").first.wait_for()
    assert "vs previous" in page.locator("#dash-kpis [data-stat='dash.bounce']").inner_text()
    assert "DAU (previous)" in {s["name"] for s in _chart_series(console, "#dash-activity-chart")}
    console.shot("dashboard-compare-en")

    # compare off: no previous series, no Δ column
    page.locator("label.el-checkbox:has(#range-compare)").click()
    page.locator(f"#dashboard[data-loaded='{start}..{today.isoformat()}']").wait_for(timeout=120_000)
    assert not [s for s in _chart_series(console, "#dash-activity-chart") if s["dashed"]]
    assert "Δ" not in page.locator("#dash-rates thead").first.inner_text()
    assert page.locator("#dash-retention-compare").count() == 0


def test_dashboard_without_events_says_where_data_comes_from(console: ConsoleSession) -> None:
    page = console.page
    today = datetime.now(TZ).date()
    start = (today - timedelta(days=6)).isoformat()
    console.goto("#/dashboard")
    page.locator(f"#dashboard[data-loaded='{start}..{today.isoformat()}']").wait_for(timeout=120_000)
    empty = page.locator("#dash-empty.empty")
    assert "没有活跃用户" in empty.inner_text() and "make demo" in empty.inner_text()
    assert empty.locator("a[href='#/events']").count() == 1
    assert page.locator("#dash-kpis").count() == 0  # no page of zero charts
    page.locator("#lang-toggle").click()
    empty.get_by_text("No active users in this range.").wait_for()
    console.shot("empty-en")
