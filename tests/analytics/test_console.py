"""The analytics dashboard page in real headless Chromium: figures match the API, charts render, the range
and compare switch refetch, no console errors (checked by the console fixture)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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
    assert len(console.api_requests("/admin/analytics/dashboard")) == 2
    console.shot("dashboard-compare")
