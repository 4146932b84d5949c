"""The jobs console page in Chromium: the list, 立即运行, the run's outcome, English."""

from __future__ import annotations

from tests.browser.fixtures import ConsoleSession, LiveServer
from tests.jobs.helpers import drain

from huoli.jobs.queue import queue_for


def test_jobs_page_runs_a_job_now_and_shows_its_outcome(
    console: ConsoleSession, live_server: LiveServer
) -> None:
    page = console.page
    page.locator("#nav a[data-page=jobs]").click()
    rows = page.locator("#jobs-table tbody tr")
    rows.first.wait_for()
    expire = page.locator("#jobs-table tbody tr", has_text="loyalty.expire")
    assert "尚未运行" in expire.inner_text() and "5 0 * * *" in expire.inner_text()
    assert "全局" in page.locator("#jobs-table tbody tr", has_text="auth.prune").inner_text()
    expire.locator("button[data-job='loyalty.expire']").click()
    page.locator(".toast").get_by_text("已加入队列：loyalty.expire").wait_for()
    page.locator("#job-runs [data-status=queued]").first.wait_for()
    drain(live_server.runtime, queue_for(live_server.runtime))
    page.locator("#jobs-refresh").click()
    page.locator("#job-runs [data-status=ok]").first.wait_for()
    assert "points_expired" in page.locator("#job-runs tbody tr").first.inner_text()
    assert "成功" in expire.inner_text()
    console.shot("jobs-zh")
    page.locator("#lang-toggle").click()
    page.locator("#nav a[data-page=jobs]").get_by_text("Jobs").wait_for()
    page.locator("#jobs-table tbody tr").first.wait_for()
    assert page.locator(".page-title").inner_text() == "Jobs"
    assert "Run now" in page.locator("#jobs-table").inner_text()
    console.shot("jobs-en")
