"""The diagnosis page in real headless Chromium: findings by severity with evidence and playbooks; opening a
finding drills down to the analytics metric behind it (fetched from /admin/analytics/*, charted); no console
errors (checked by the console fixture)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from tests.browser.fixtures import ConsoleSession, LiveServer

from huoli.diagnosis.simulate import Scenario, generate


def test_diagnosis_page(console: ConsoleSession, live_server: LiveServer) -> None:
    yesterday = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date() - dt.timedelta(days=1)
    sc = Scenario(seed=21, inject=frozenset(["interaction"]), end=yesterday, app_id="shop")
    live_server.runtime.store.append([generate(sc)])
    page = console.page
    console.goto("#/diagnosis")
    console.wait_ready()
    page.locator(f"#page-body[data-loaded='{yesterday.isoformat()}']").wait_for(timeout=240_000)
    assert page.locator("#nav a[data-page=diagnosis]").count() == 1
    findings = page.locator("#diag-findings .finding")
    ids = {findings.nth(i).get_attribute("data-id") for i in range(findings.count())}
    assert {"interaction.comment_rate", "interaction.share_rate", "interaction.favorite_rate"} <= ids, ids
    card = page.locator(".finding[data-id='interaction.comment_rate']")
    assert card.get_attribute("data-severity") == "high"
    assert "exact binomial test" in card.locator(".evidence").inner_text()
    assert card.locator("li[data-playbook=loyalty_tasks]").count() == 1
    console.shot("findings")

    card.locator("button.drill").click()
    page.locator("#diag-drill[data-state=ready][data-finding='interaction.comment_rate']").wait_for(
        timeout=120_000
    )
    assert page.locator("#diag-drill-chart canvas").count() >= 1
    rows = page.locator("#diag-drill table tbody tr")
    assert rows.count() == 5  # four baseline windows and the current one, one analytics request each
    assert len(console.api_requests("/admin/analytics/interaction")) == 5
    # The current window's comment rate, fetched from analytics, is the finding's "current" value: zero.
    assert rows.nth(4).locator("td").nth(1).inner_text() == "0"
    assert float(rows.nth(0).locator("td").nth(1).inner_text()) > 0.01
    console.shot("drilldown")

    # Re-running with an explicit end date reloads the findings for that day.
    page.locator("#diag-form input[name=end]").fill(yesterday.isoformat())
    page.locator("#diag-form button[type=submit]").click()
    page.locator(f"#page-body[data-loaded='{yesterday.isoformat()}']").wait_for(timeout=240_000)
