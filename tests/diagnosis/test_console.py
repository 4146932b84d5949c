"""The diagnosis page in real headless Chromium: findings by severity with evidence and playbooks; opening a
finding drills down to the analytics metric behind it (fetched from /admin/analytics/*, charted); no console
errors (checked by the console fixture)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from zoneinfo import ZoneInfo

from tests.browser.fixtures import ConsoleSession, LiveServer

from huoli.diagnosis.simulate import Scenario, generate


def test_diagnosis_page(console: ConsoleSession, live_server: LiveServer) -> None:
    yesterday = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date() - dt.timedelta(days=1)
    sc = Scenario(seed=21, inject=frozenset(["interaction", "churn"]), end=yesterday, app_id="shop")
    live_server.runtime.store.append([generate(sc)])
    page = console.page
    page.set_default_timeout(60_000)  # the diagnosis runs ~20 analytics queries; CI machines are shared
    console.goto("#/diagnosis")
    console.wait_ready()
    page.locator(f"#diag[data-loaded='{yesterday.isoformat()}']").wait_for(timeout=240_000)
    assert page.locator("#nav a[data-page=diagnosis]").count() == 1
    findings = page.locator("#diag-findings .finding")
    ids = {findings.nth(i).get_attribute("data-id") for i in range(findings.count())}
    assert {"interaction.comment_rate", "interaction.share_rate", "interaction.favorite_rate"} <= ids, ids
    card = page.locator(".finding[data-id='interaction.comment_rate']")
    assert card.get_attribute("data-severity") == "high"
    assert "精确二项检验" in card.locator(".evidence").inner_text()  # the test named in Chinese
    assert card.locator("li[data-playbook=loyalty_tasks]").count() == 1
    # Words and percentages, not codes and fractions: severity 严重, rate 0.0%, "p < 0.001" (never "p = 0").
    assert page.locator("section[data-severity=high] > h2").first.inner_text() == "严重"
    assert card.locator(".values dd[data-k=current]").inner_text() == "0.0%"
    assert "当前" in card.locator(".values").inner_text()
    # Headline counts: the checks run and the findings by severity.
    high = page.locator("#diag-kpis .stat-card[data-stat=high] .stat-value").inner_text()
    assert int(high) == page.locator("section[data-severity=high] .finding").count() >= 1
    evidence = card.locator(".evidence").inner_text()
    assert "p < 0.001" in evidence and "p = 0 " not in evidence, evidence
    # A playbook links to the console page that acts on it, by the page's name; none shows an API path.
    links = card.locator("li[data-playbook=loyalty_tasks] a")
    assert [links.nth(i).get_attribute("href") for i in range(links.count())] == [
        "#/loyalty-tasks",
        "#/loyalty-badges",
    ]
    assert links.first.inner_text() == "任务中心"
    assert "/admin/" not in page.locator("#diag-findings").inner_text()
    assert "数据不足" not in page.locator("#diag-findings").inner_text()
    console.shot("findings")

    card.locator("button.drill").click()
    page.locator("#diag-drill[data-state=ready][data-finding='interaction.comment_rate']").wait_for(
        timeout=120_000
    )
    # The drill-down opens in the card that was clicked, in view (it used to open below every finding).
    assert card.locator("#diag-drill").count() == 1
    top, bottom, height = page.evaluate(
        "() => { const r = document.querySelector('#diag-drill').getBoundingClientRect();"
        " return [r.top, r.bottom, innerHeight]; }"
    )
    assert 0 <= top < height and bottom > 0, (top, bottom, height)
    assert page.locator("#diag-drill-chart canvas").count() >= 1
    rows = page.locator("#diag-drill table tbody tr")
    assert rows.count() == 5  # four baseline windows and the current one, one analytics request each
    assert len(console.api_requests("/admin/analytics/interaction")) == 5
    # The current window's comment rate, fetched from analytics, is the finding's "current" value: zero.
    assert rows.nth(4).locator("td").nth(1).inner_text() == "0.0%"
    assert float(rows.nth(0).locator("td").nth(1).inner_text().rstrip("%")) > 1.0
    console.shot("drilldown")

    # Pulse charts the daily Pulse, not the dormant users.
    pulse = page.locator(".finding[data-id='churn.pulse']")
    pulse.locator("button.drill").click()
    page.locator("#diag-drill[data-state=ready][data-finding='churn.pulse']").wait_for(timeout=120_000)
    assert pulse.locator("#diag-drill").count() == 1
    assert "Pulse" in page.locator("#diag-drill table thead").inner_text()
    console.shot("drilldown-pulse")

    # A daily-series drill-down: new users per day over the baseline and current windows (35 days).
    page.locator(".finding[data-id='churn.new_users'] button.drill").click()
    page.locator("#diag-drill[data-state=ready][data-finding='churn.new_users']").wait_for(timeout=120_000)
    assert page.locator("#diag-drill table tbody tr").count() == 35
    assert page.locator("#diag-drill-chart canvas").count() >= 1
    assert len(console.api_requests("/admin/analytics/activity")) == 1
    console.shot("drilldown-series")

    # English: the same page in words of that language.
    page.locator("#lang-toggle").click()
    page.locator("#diag-verdict", has_text="problems found").wait_for(timeout=240_000)
    assert page.locator("section[data-severity=high] > h2").first.inner_text() == "High"
    card = page.locator(".finding[data-id='interaction.comment_rate']")
    assert card.locator("li[data-playbook=loyalty_tasks] a").first.inner_text() == "Member tasks"
    assert "exact binomial test" in card.locator(".evidence").inner_text()
    # The open drill-down follows the language too: no Chinese left in its heading or table head.
    drill = page.locator("#diag-drill")
    assert drill.get_attribute("data-finding") == "churn.new_users"
    for part in (drill.locator("h4"), drill.locator("table thead").first, page.locator("#diag-form")):
        assert not re.search(r"[\u4e00-\u9fff]", part.inner_text()), part.inner_text()
    console.shot("findings-en")
    page.locator("#lang-toggle").click()
    page.locator("#diag-verdict", has_text="发现").wait_for(timeout=240_000)

    # Re-running with an explicit end date reloads the findings for that day.
    earlier = (yesterday - dt.timedelta(days=1)).isoformat()
    page.locator("#diag-form input[name=end]").fill(earlier)
    page.locator("#diag-form input[name=end]").press("Enter")
    page.locator("#diag-form button[type=submit]").click()
    page.locator(f"#diag[data-loaded='{earlier}']").wait_for(timeout=240_000)
    assert f"asof={earlier}" in page.url
    assert page.locator("#diag-drill").count() == 0


def test_an_empty_app_reads_not_enough_data(
    open_console: Callable[..., ConsoleSession], live_server: LiveServer
) -> None:
    keys = live_server.make_app("fresh", "新店")
    console = open_console(keys["owner"])
    page = console.page
    page.set_default_timeout(60_000)  # the page is ready once the diagnosis answered; CI machines are shared
    console.goto("#/diagnosis")
    console.wait_ready()
    page.locator("#diag-nodata").wait_for(timeout=120_000)
    text = page.locator("#diag-nodata").inner_text()
    assert "数据不足" in text and "14 天" in text and "没有任何事件" in text, text
    assert page.locator("#diag-none").count() == 0  # not "no problems found"
    console.shot("not-enough-data")
    page.locator("#lang-toggle").click()
    page.locator("#diag-nodata h2", has_text="Not enough data").wait_for(timeout=120_000)
    assert "at least 14 days" in page.locator("#diag-nodata").inner_text()
    console.shot("not-enough-data-en")
