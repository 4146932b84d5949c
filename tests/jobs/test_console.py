"""The jobs console page in Chromium: the list, 立即运行, the run's outcome, English."""

from __future__ import annotations

from collections.abc import Callable

from tests.browser.fixtures import ConsoleSession, LiveServer
from tests.jobs.helpers import drain

from huoli.jobs.queue import queue_for


def test_jobs_page_runs_a_job_now_and_shows_its_outcome(
    console: ConsoleSession, live_server: LiveServer
) -> None:
    page = console.page
    page.locator("#nav a[data-page=jobs]").click()
    console.wait_ready()
    rows = page.locator("#jobs-table tbody tr")
    rows.first.wait_for()
    expire = page.locator("#jobs-table tbody tr", has_text="loyalty.expire")
    text = expire.inner_text()
    assert "积分过期" in text and "尚未运行" in text
    assert "每天 00:05" in text and "5 0 * * *" in text  # readable, with the crontab beside it
    assert "每 1 分钟" in page.locator("#jobs-table tbody tr", has_text="promotions.sweep").inner_text()
    prune = page.locator("#jobs-table tbody tr", has_text="auth.prune")
    assert "全局" in prune.inner_text() and "仅命令行" in prune.inner_text()
    assert prune.locator("button[data-job]").count() == 0  # global jobs run from the CLI only
    expire.locator("button[data-job='loyalty.expire']").click()
    page.locator(".toast").get_by_text("已加入队列：积分过期").wait_for()
    page.locator("#job-runs [data-status=queued]").first.wait_for()
    assert "控制台 / API" in page.locator("#job-runs tbody tr").first.inner_text()
    drain(live_server.runtime, queue_for(live_server.runtime))
    page.locator("#jobs-refresh").click()
    page.locator("#job-runs [data-status=ok]").first.wait_for()
    first_run = page.locator("#job-runs tbody tr").first.inner_text()
    assert "过期积分: 0" in first_run and "积分过期" in first_run
    assert "成功" in expire.inner_text()
    assert "秒" in expire.locator("td.col-duration").inner_text()
    console.shot("jobs-zh")
    page.locator("#lang-toggle").click()
    page.locator("#nav a[data-page=jobs]").get_by_text("Jobs").wait_for()
    page.locator("#jobs-table tbody tr").first.wait_for()
    assert page.locator(".page-title").inner_text() == "Jobs"
    assert "Run now" in page.locator("#jobs-table").inner_text()
    assert "points expired: 0" in page.locator("#job-runs tbody tr").first.inner_text()
    assert "Daily at 00:05" in page.locator("#jobs-table tbody tr", has_text="loyalty.expire").inner_text()
    console.shot("jobs-en")


def test_jobs_page_fits_a_phone(console: ConsoleSession) -> None:
    page = console.page
    page.set_viewport_size({"width": 390, "height": 844})
    console.goto("#/jobs")
    console.wait_ready()
    page.locator("#jobs-table tbody tr").first.wait_for()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways: {width}px"
    console.shot("jobs-phone")


def test_analysts_see_the_jobs_but_cannot_run_them(
    live_server: LiveServer, open_console: Callable[..., ConsoleSession]
) -> None:
    keys = live_server.make_app("shop", "小店")
    analyst = open_console(keys["analyst"])
    page = analyst.page
    page.locator("#nav a[data-page=jobs]").click()
    analyst.wait_ready()
    button = page.locator("#jobs-table button[data-job='loyalty.expire']")
    button.wait_for()
    assert button.is_disabled()
    assert "只有运营或所有者" in page.locator("#jobs-forbidden-run").inner_text()
    assert not analyst.api_requests("/admin/jobs/loyalty.expire/run")
