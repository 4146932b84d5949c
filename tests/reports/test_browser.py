"""The report in real headless Chromium: the file opens offline with no console errors and ZERO network
requests (every request is recorded and anything but the report itself is aborted), data strings stay text,
the charts draw; the same over GET /admin/reports/weekly. Screenshots: var/test-artifacts/reports/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from tests.browser.fixtures import ARTIFACTS, LiveServer

from huoli.reports import render, service
from huoli.reports.weeks import parse_week

from .helpers import HOSTILE_PAGE, WEEK, seed

SHOTS = ARTIFACTS.parent / "reports"


class Visit:
    """Opens one URL in a fresh context; records every request, console error and page error."""

    def __init__(self, browser: Any, url: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.requests: list[str] = []
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.context = browser.new_context(
            viewport={"width": 1200, "height": 900}, locale="zh-CN", extra_http_headers=headers or {}
        )
        # Anything that is not the report itself is aborted before it leaves the browser (and recorded).
        self.context.route(
            re.compile(".*"), lambda route: route.continue_() if route.request.url == url else route.abort()
        )
        self.page = self.context.new_page()
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        self.page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        self.response = self.page.goto(url)
        self.page.wait_for_load_state("networkidle")

    def shot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def report(live_server: LiveServer) -> Any:
    live_server.make_app("shop", "小店 <b>&</b>")
    seed(live_server.runtime, "shop")
    rt = live_server.runtime
    return service.build(rt, rt.app_cache.get("shop"), parse_week(WEEK))


def _check_page(v: Visit) -> None:
    page = v.page
    assert page.locator("#report").get_attribute("data-week") == WEEK
    assert page.locator("#kpis .card[data-kpi='wau'] .value").inner_text() == "3"
    assert page.locator("#kpis .card[data-kpi='gmv_fen'] .value").inner_text() == "¥30.00"
    assert page.locator("#kpis tr[data-kpi='d1_retention'] td.num").first.inner_text() == "50.0%"
    # data strings stay text: the hostile page name is shown, never parsed as markup
    assert page.locator("script, img, iframe, object, embed, link[rel=stylesheet]").count() == 0
    assert HOSTILE_PAGE in (page.locator(".mover-chart[data-dimension='page']").text_content() or "")
    assert page.locator("h1").inner_text().startswith("小店 <b>&</b>")
    # charts are inline SVG that actually drew (non-empty boxes)
    for sel in ("#daily svg >> nth=0", "#daily svg >> nth=1", ".mover-chart[data-dimension='page'] svg"):
        box = page.locator(sel).bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 20, sel
    assert page.locator("#daily svg path.cur.line").count() == 1


def test_report_file_opens_offline(browser: Any, report: Any, tmp_path: Path) -> None:
    for lang in ("zh", "en"):
        html_path, _ = render.write(report, tmp_path / lang, lang)  # type: ignore[arg-type]
        url = html_path.as_uri()
        v = Visit(browser, url)
        try:
            _check_page(v)
            v.shot(f"report-file-{lang}")
            assert v.requests == [url], f"requests besides the report: {v.requests}"
            assert not v.console_errors and not v.page_errors, (v.console_errors, v.page_errors)
            if lang == "en":
                assert v.page.locator("#kpis h2").inner_text() == "KPIs"
        finally:
            v.close()


def test_the_guard_sees_requests(browser: Any, tmp_path: Path) -> None:
    """The harness is not blind: a page that does load something is caught."""
    page = tmp_path / "leaky.html"
    page.write_text('<html><body><img src="http://127.0.0.1:9/pixel.png">hi</body></html>')
    v = Visit(browser, page.as_uri())
    try:
        assert "http://127.0.0.1:9/pixel.png" in v.requests
    finally:
        v.close()


def test_report_served_over_http(browser: Any, live_server: LiveServer, report: Any) -> None:
    key = live_server.keys["shop"]["operator"]
    url = f"{live_server.url}/admin/reports/weekly?week={WEEK}"
    v = Visit(browser, url, headers={"Authorization": f"Bearer {key}"})
    try:
        assert v.response is not None and v.response.status == 200
        assert "default-src 'none'" in v.response.headers["content-security-policy"]
        _check_page(v)
        v.shot("report-http")
        assert v.requests == [url], f"requests besides the report: {v.requests}"
        assert not v.console_errors and not v.page_errors, (v.console_errors, v.page_errors)
    finally:
        v.close()
