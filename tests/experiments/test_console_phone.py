"""The experiments, flags and diagnosis pages at phone width (390 px): nothing sticks out of the screen —
forms stack, tables scroll inside themselves."""

from __future__ import annotations

from tests.browser.fixtures import ConsoleSession, LiveServer

# The page's width beyond the screen, and the outermost element sticking out (not one inside a box that
# scrolls or clips on its own, such as a table).
OVERFLOW_JS = r"""
() => {
  const w = window.innerWidth;
  if (document.documentElement.scrollWidth - w <= 1) return null;
  const clips = (el) => ['auto', 'scroll', 'hidden'].includes(getComputedStyle(el).overflowX);
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.right <= w + 1 || r.width === 0) continue;
    let p = el.parentElement, inside = false;
    while (p && p !== document.body) { if (clips(p)) { inside = true; break; } p = p.parentElement; }
    if (!inside) return `${document.documentElement.scrollWidth} px: ${el.tagName} ${el.id} ${el.className}`;
  }
  return `${document.documentElement.scrollWidth} px`;
}
"""


def test_the_pages_fit_a_phone(console: ConsoleSession, live_server: LiveServer) -> None:
    c, page = console, console.page
    key = live_server.keys["shop"]["owner"]
    rule = {
        "id": "vip",
        "condition": {"segment": {"$in": ["vip"]}, "app_version": {"$vgte": "2.3.0"}},
        "value": "feed",
    }
    flag = {"key": "home_layout", "type": "string", "default_value": "grid", "rules": [rule]}
    assert live_server.api(key, "POST", "/admin/flags", json=flag).status_code == 201
    spec = {
        "key": "home-feed",
        "name": "首页信息流 vs 宫格",
        "flag": "home_layout",
        "variants": [
            {"key": "grid", "value": "grid", "weight": 0.5},
            {"key": "feed", "value": "feed", "weight": 0.5},
        ],
        "metrics": {"primary": [{"key": "paid", "kind": "conversion", "event": "order_paid"}]},
    }
    assert live_server.api(key, "POST", "/admin/experiments", json=spec).status_code == 201
    assert live_server.api(key, "POST", "/admin/experiments/home-feed/start", json={}).status_code == 200
    page.set_viewport_size({"width": 390, "height": 844})

    def fits(name: str) -> None:
        c.wait_ready()
        c.shot(name)
        assert page.evaluate(OVERFLOW_JS) is None, name

    c.goto("#/flags")
    page.locator("button.flag-edit[data-flag=home_layout]").wait_for()
    page.locator("button.flag-edit[data-flag=home_layout]").click()
    page.locator("#rule-0-c1-value").wait_for()
    fits("flags")
    c.goto("#/experiments")
    page.locator("a.exp-link", has_text="home-feed").wait_for()
    page.locator(".advanced .el-collapse-item__header").click()
    page.locator("#exp-coverage").wait_for()
    fits("experiments")
    c.goto("#/experiments?key=home-feed")
    page.locator("#exp-verdict").wait_for()
    fits("experiment-results")
    c.goto("#/diagnosis")
    page.locator("#diag-nodata").wait_for(timeout=60_000)
    fits("diagnosis")
