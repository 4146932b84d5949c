"""The weekly report's activity results: every promotion activity live during the week, with the funnel
promotions computes for it (SQLite only: the figures are promotions' own, tested there on both engines)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from huoli.promotions import service as promotions
from huoli.reports import render, service
from huoli.reports.weeks import parse_week
from huoli.runtime import Runtime
from huoli.work import Caller, open_work

from .helpers import NOW, WEEK
from .test_render import _report

SH = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'huoli.db'}"


def test_the_weeks_activities_with_their_results(
    runtime: Runtime, make_app: Callable[..., Any], clock: Any
) -> None:
    shop = make_app("shop")
    clock.set(dt.datetime(2026, 3, 4, 9, tzinfo=SH))  # Wednesday of 2026-W10
    with open_work(runtime, shop.id, Caller("job"), now=clock()) as work:
        promotions.create_activity(
            work,
            "coupon-templates",
            {
                "id": "spring",
                "name": "春季满减 <b>",
                "kind": "threshold",
                "threshold_fen": 10000,
                "amount_fen": 2000,
                "valid_from": dt.datetime(2026, 3, 2, tzinfo=SH).isoformat(),
                "valid_until": dt.datetime(2026, 3, 9, tzinfo=SH).isoformat(),
            },
        )
        promotions.create_activity(
            work,
            "flash-sessions",
            {
                "id": "feb",
                "name": "二月秒杀",
                "starts_at": dt.datetime(2026, 2, 1, 10, tzinfo=SH).isoformat(),
                "ends_at": dt.datetime(2026, 2, 1, 11, tzinfo=SH).isoformat(),
            },
        )
        # u1 and u2 claim; u1 pays 120 元 with the coupon
        ids = {
            u: promotions.claim_coupon(
                work, template_id="spring", user_id=u, claim_key=f"k-{u}", source="claim"
            )[0]
            for u in ("u1", "u2")
        }
        promotions.order_paid(
            work,
            order_id="o-1",
            user_id="u1",
            paid_fen=12000,
            coupon_ids=[ids["u1"]],
            flash_reservation_id=None,
        )
    clock.set(NOW)
    # the section alone: building the whole report (KPIs, diagnosis) is what the other tests here time
    section = service._activities(runtime, runtime.app_cache.get(shop.id), parse_week(WEEK))
    rows = section["rows"]
    assert [(r["kind"], r["id"]) for r in rows] == [("coupon-templates", "spring")]  # February's sale is not
    (row,) = rows
    assert (row["participants"], row["converted"], row["orders"], row["gmv_fen"]) == (2, 1, 1, 12000)
    assert row["state"] == "ended" and section["more"] == 0
    report = _report()
    report.activities = section
    html = render.html(report, "zh")
    assert 'data-activity="coupon-templates/spring"' in html and "春季满减 &lt;b&gt;" in html
    assert "¥120.00" in html and "本周活动效果" in html
    md = render.markdown(report, "en")
    assert "Activity results this week" in md and "¥120.00" in md and "coupon" in md
