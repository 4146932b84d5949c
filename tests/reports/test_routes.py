"""GET /admin/reports/weekly (SQLite + PostgreSQL): HTML or Markdown for the operator, its own CSP,
field-level 422s for a bad or unfinished week, 403 below the operator role."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from tests.flags.helpers import admin

from huoli.runtime import Runtime

from .helpers import NOW, WEEK, seed


def test_weekly_report_route(
    client: TestClient, runtime: Runtime, make_app: Callable[..., Any], clock: Any
) -> None:
    clock.set(NOW)
    app = make_app("shop")
    seed(runtime, app.id)
    op = admin(app.keys["operator"])
    r = client.get(f"/admin/reports/weekly?week={WEEK}", headers=op)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    assert f'filename="report-{WEEK}.html"' in r.headers["content-disposition"]
    assert 'data-week="2026-W10"' in r.text and "<script" not in r.text
    r = client.get(f"/admin/reports/weekly?week={WEEK}&format=md&lang=en", headers=op)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/markdown")
    assert "| WAU | 3 | 3 | +0.0% |" in r.text
    # no week: the last complete one at the clock (Friday 20 March is in W12, so W11: 9–15 March)
    r = client.get("/admin/reports/weekly?format=md", headers=op)
    assert r.status_code == 200 and "2026-W11" in r.text.splitlines()[0]

    for query, field, message in (
        ("week=2026-W60", "week", "2026 has ISO weeks 1–53"),
        ("week=2026-W12", "week", "ask for a complete week"),
        ("format=pdf", "format", ""),
    ):
        r = client.get(f"/admin/reports/weekly?{query}", headers=op)
        assert r.status_code == 422, (query, r.text)
        details = r.json()["details"]
        assert any(field in str(d.get("field", d.get("loc"))) and message in str(d) for d in details), details
    r = client.get(f"/admin/reports/weekly?week={WEEK}", headers=admin(app.keys["analyst"]))
    assert r.status_code == 403
