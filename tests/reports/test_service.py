"""The weekly report on a hand-built log (SQLite + PostgreSQL): KPIs equal the analytics metrics for the
same ranges and the hand counts; movers respect the minimum volume; experiments and campaigns of the week."""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.experiments.helpers import put_events
from tests.flags.helpers import admin

from huoli.analytics import service as analytics
from huoli.db import unit_of_work
from huoli.diagnosis import service as diagnosis
from huoli.errors import ValidationFailed
from huoli.experiments import results as results_mod
from huoli.experiments import service as experiments
from huoli.promotions import coupons, flashsale
from huoli.promotions.schemas import CouponTemplateIn, FlashSessionIn
from huoli.reports import service
from huoli.reports.service import Mover, rank_movers
from huoli.reports.weeks import parse_week
from huoli.runtime import Runtime
from huoli.work import Caller, open_work

from .helpers import HOSTILE_PAGE, NOW, WEEK, seed


def _app(runtime: Runtime, app_id: str) -> Any:
    return runtime.app_cache.get(app_id)


@pytest.fixture
def shop(runtime: Runtime, make_app: Callable[..., Any], clock: Any) -> Any:
    clock.set(NOW)
    app = make_app("shop")
    seed(runtime, app.id)
    return app


def test_kpis_match_hand_counts_and_the_analytics_metrics(runtime: Runtime, shop: Any) -> None:
    app = _app(runtime, shop.id)
    report = service.build(runtime, app, parse_week(WEEK))
    k = {x.key: x for x in report.kpis}
    # hand counts (tests/reports/helpers.py)
    assert (k["wau"].current, k["wau"].previous) == (3, 3)
    assert k["dau_avg"].current == pytest.approx(5 / 7) and k["dau_avg"].previous == pytest.approx(4 / 7)
    assert (k["new_users"].current, k["new_users"].previous) == (2, 3)
    assert (k["opens"].current, k["opens"].previous) == (5, 3)
    assert (k["orders"].current, k["orders"].previous) == (1, 1)
    assert (k["gmv_fen"].current, k["gmv_fen"].previous) == (3000, 1000)
    assert k["gmv_fen"].change == 2000 and k["gmv_fen"].change_pct == pytest.approx(2.0)
    assert k["gmv_fen"].trend == "better"
    assert k["d1_retention"].current == pytest.approx(1 / 2)  # u3 back on Tuesday; u4 (Sunday) not
    assert k["d1_retention"].previous == pytest.approx(1 / 3)  # u1 of u1, u2, u6
    assert k["d7_retention"].current == pytest.approx(1 / 3)  # last week's u1 back on day 7
    assert k["d7_retention"].previous is None and k["d7_retention"].trend == "unknown"  # no cohort
    assert k["share_rate"].current == pytest.approx(1 / 3) and k["share_rate"].previous == 0
    assert k["promotion_participation_rate"].current == pytest.approx(2 / 3)

    # the same figures as asking the analytics metrics directly for each week
    for week, attr in ((report.week, "current"), (report.previous_week, "previous")):
        body = {"start": week.monday.isoformat(), "end": week.sunday.isoformat()}
        act = analytics.run(runtime, app, "activity", body)["result"]
        series, totals = act["series"], act["totals"][0]
        assert getattr(k["dau_avg"], attr) == statistics.fmean(d["dau"] for d in series)
        assert getattr(k["wau"], attr) == series[-1]["wau"] == totals["active_users"]
        assert (
            getattr(k["new_users"], attr) == totals["new_visitors"] == sum(d["new_visitors"] for d in series)
        )
        assert getattr(k["bounce_rate"], attr) == totals["bounce_rate"]
        conv = analytics.run(runtime, app, "conversion", body)["result"][0]
        for key in ("order_rate", "orders", "gmv_fen", "aov_fen", "coupon_redeem_rate"):
            assert getattr(k[key], attr) == conv[key], key
        ret = analytics.run(runtime, app, "retention", {**body, "periods": 1})["result"]
        assert getattr(k["d1_retention"], attr) == ret["weighted_mean"][0]["rate"][1]
        inter = analytics.run(runtime, app, "interaction", body)["result"][0]
        assert getattr(k["favorite_rate"], attr) == inter["favorite"]["rate"]
    # the doctor's findings for the 7 days ending on the week's Sunday
    diag = diagnosis.diagnose(runtime, app, end=report.week.sunday).to_dict()
    assert report.findings["current"] == ["2026-03-02", "2026-03-08"]
    assert [f["id"] for f in report.findings["findings"]] == [f["id"] for f in diag["findings"]]
    assert report.findings["checked"] == diag["checked"]
    # daily series: both weeks, Monday..Sunday
    cur = [d["dau"] for d in report.daily if d["week"] == "current"]
    assert cur == [2, 2, 0, 0, 0, 0, 1]
    assert [d["weekday"] for d in report.daily] == list(range(1, 8)) * 2


def test_movers_keep_the_minimum_volume(runtime: Runtime, shop: Any) -> None:
    report = service.build(runtime, _app(runtime, shop.id), parse_week(WEEK))
    groups = {g.key: g for g in report.movers}
    assert groups["page"].min_volume == 20
    assert [(m.value, m.current, m.previous, m.change) for m in groups["page"].rows] == [
        (HOSTILE_PAGE, 25, 0, 25)
    ]
    assert groups["page"].rows[0].change_pct is None  # from zero: no percentage
    assert [(m.value, m.change) for m in groups["event"].rows] == [("page_view", 24)]
    assert groups["channel"].rows == []  # a few users per channel: below the minimum, not news


def test_rank_movers_orders_by_absolute_change_above_the_minimum() -> None:
    counts = {"a": (100, 50), "b": (10, 40), "c": (900, 1000), "d": (19, 0), "e": (300, 300)}
    min_volume, rows = rank_movers(counts, top=3)
    # totals 1329 / 1390 → 0.5 % is 7, so the floor of 20 applies; d never reaches it, e did not move
    assert min_volume == 20
    assert rows == [
        Mover("c", "c", 900, 1000, -100, -0.1, pytest.approx(900 / 1329 - 1000 / 1390)),
        Mover("a", "a", 100, 50, 50, 1.0, pytest.approx(100 / 1329 - 50 / 1390)),
        Mover("b", "b", 10, 40, -30, -0.75, pytest.approx(10 / 1329 - 40 / 1390)),
    ]
    big = {f"v{i}": (10_000 + i, 10_000) for i in range(10)}
    min_volume, _ = rank_movers(big)
    assert min_volume == round(100_045 * 0.005)  # the share applies above the floor


def _experiment(client: TestClient, key: str, op: dict[str, str]) -> None:
    body = {
        "key": key,
        "name": f"实验 <{key}>",
        "flag": "coupon_type",
        "variants": [
            {"key": "a", "value": "x", "weight": 0.5},
            {"key": "b", "value": "y", "weight": 0.5},
        ],
        "metrics": {"primary": [{"key": "paid", "kind": "conversion", "event": "order_paid"}]},
        "stats": {"method": "frequentist"},
        "expected_daily_users": 1000,
    }
    r = client.post("/admin/experiments", json=body, headers=op)
    assert r.status_code == 201, r.text


def test_experiments_and_campaigns_of_the_week(
    runtime: Runtime, shop: Any, client: TestClient, clock: Any
) -> None:
    op = admin(shop.keys["operator"])
    assert (
        client.post(
            "/admin/flags",
            json={"key": "coupon_type", "type": "string", "default_value": "none"},
            headers=op,
        ).status_code
        == 201
    )
    sh = dt.timezone(dt.timedelta(hours=8))
    # "early": started and stopped the week before; "live": started Wednesday, stopped after the week;
    # "draft": never started. Only "live" belongs in the report.
    for key in ("early", "live", "draft"):
        _experiment(client, key, op)
    clock.set(dt.datetime(2026, 2, 24, 9, tzinfo=sh))
    assert client.post("/admin/experiments/early/start", headers=op).status_code == 200
    clock.set(dt.datetime(2026, 2, 26, 9, tzinfo=sh))
    assert client.post("/admin/experiments/early/stop", headers=op).status_code == 200
    clock.set(dt.datetime(2026, 3, 4, 9, tzinfo=sh))
    assert client.post("/admin/experiments/live/start", headers=op).status_code == 200
    # on Wednesday of the week; promotions take a Work (huoli.work) since the unit-of-work change
    with open_work(runtime, shop.id, Caller("job"), now=clock()) as work:
        coupons.create_template(
            work,
            spec=CouponTemplateIn(
                id="spring", name="春季满减 <b>", kind="fixed", amount_fen=500, valid_days=7
            ),
        )
        flashsale.create_session(
            work,
            spec=FlashSessionIn(
                id="old",
                name="上个月的秒杀",
                starts_at=dt.datetime(2026, 2, 1, 10, tzinfo=sh),
                ends_at=dt.datetime(2026, 2, 1, 12, tzinfo=sh),
            ),
        )
        flashsale.create_session(
            work,
            spec=FlashSessionIn(
                id="sat",
                name="周六秒杀",
                starts_at=dt.datetime(2026, 3, 7, 20, tzinfo=sh),
                ends_at=dt.datetime(2026, 3, 7, 22, tzinfo=sh),
            ),
        )
    exposures = [
        (
            f"x{i}",
            "experiment_exposure",
            dt.datetime(2026, 3, 4, 10, tzinfo=sh),
            {"experiment": "live", "variant": "ab"[i % 2], "flag": "coupon_type"},
        )
        for i in range(6)
    ]
    exposures.append(
        (
            "x9",
            "experiment_exposure",
            dt.datetime(2026, 3, 10, 10, tzinfo=sh),
            {"experiment": "live", "variant": "a", "flag": "coupon_type"},
        )
    )
    put_events(runtime, shop.id, exposures)
    clock.set(dt.datetime(2026, 3, 12, 9, tzinfo=sh))
    assert client.post("/admin/experiments/live/stop", headers=op).status_code == 200
    with unit_of_work(runtime.sessions, app_id=shop.id) as db:
        live = experiments.get(db=db, key="live")
    clock.set(NOW)
    report = service.build(runtime, _app(runtime, shop.id), parse_week(WEEK))
    assert [e["key"] for e in report.experiments] == ["live"]
    (e,) = report.experiments
    assert e["phase"] == "started" and e["status"] == "stopped" and e["name"] == "实验 <live>"
    # as of the week's end: the exposure of 10 March is not counted yet
    assert e["users"] == {"a": 3, "b": 3}
    week_end = dt.datetime(2026, 3, 9, tzinfo=sh)
    assert dt.datetime.fromisoformat(e["as_of"]) == week_end
    expected = results_mod.results(runtime.store, live, as_of=week_end, tz="Asia/Shanghai")["verdict"]
    assert e["verdict"] == {"decision": expected["decision"], "text": expected["text"]}
    assert e["verdict"]["decision"] == "keep_running"
    # campaigns live during the week: the template (no window) and Saturday's flash session only
    assert [(c["mechanic"], c["id"]) for c in report.promotions["campaigns"]] == [
        ("coupons", "spring"),
        ("flashsale", "sat"),
    ]
    mech = {m["key"]: m for m in report.promotions["mechanics"]}
    assert (mech["coupons"]["users"], mech["coupons"]["previous_users"]) == (2, 1)
    assert mech["coupons"]["events"] == {"coupon_claimed": 2, "coupon_redeemed": 0}
    assert mech["groupbuy"]["users"] == 0


def test_a_week_that_has_not_ended_is_refused(runtime: Runtime, shop: Any, clock: Any) -> None:
    sh = dt.timezone(dt.timedelta(hours=8))
    clock.set(dt.datetime(2026, 3, 8, 23, 59, tzinfo=sh))  # Sunday 23:59 local: the week is not over
    with pytest.raises(ValidationFailed) as exc:
        service.build(runtime, _app(runtime, shop.id), parse_week(WEEK))
    assert exc.value.details[0]["field"] == "week" and "has not ended" in exc.value.message
