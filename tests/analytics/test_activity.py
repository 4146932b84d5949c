"""Activity metrics on a hand-checkable log, on every engine, including the +08:00 day boundary."""

from __future__ import annotations

from huoli.analytics.metrics import activity

from .conftest import Loader, frame
from .fixtures import at, ev, table


def test_dau_wau_mau_respect_the_local_day_boundary(load: Loader) -> None:
    rows = [
        # u1: 23:59 on the 1st and 00:01 on the 2nd local time — two different local days (same UTC day).
        ev("app_show", "u1", at("2026-03-01", "23:59")),
        ev("app_show", "u1", at("2026-03-02", "00:01")),
        # u2: 07:59 local on the 2nd is 23:59 UTC on the 1st — it is the 2nd locally.
        ev("app_show", "u2", at("2026-03-02", "07:59")),
        ev("app_show", "u2", at("2026-03-09", "10:00")),
        ev("page_view", "u3", at("2026-02-10", "10:00"), page="pages/index"),
    ]
    f = frame(load(table(rows)), "2026-03-01", "2026-03-12")
    series = {r["date"]: r for r in activity.active_users(f)}
    assert series["2026-03-01"]["dau"] == 1
    assert series["2026-03-02"]["dau"] == 2
    assert series["2026-03-03"]["dau"] == 0
    assert series["2026-03-08"]["wau"] == 2  # u1 (2nd) and u2 (2nd) are within 7 days of the 8th
    assert series["2026-03-09"]["wau"] == 1  # only u2 (9th): the 2nd is 7 days back
    assert series["2026-03-01"]["mau"] == 2  # u3's 10 Feb visit is within the trailing 30 days of 1 Mar
    assert series["2026-03-11"]["mau"] == 3  # 10 Feb + 29 days = 11 Mar: u3's last covered day
    assert series["2026-03-12"]["mau"] == 2
    assert series["2026-03-02"]["stickiness"] == 2 / 3


def test_access_metrics(load: Loader) -> None:
    d = "2026-03-05"
    rows = [
        ev("app_show", "u1", at(d, "09:00"), session_id="s1"),
        ev("page_view", "u1", at(d, "09:00:01"), session_id="s1", page="p/a"),
        ev("page_view", "u1", at(d, "09:01"), session_id="s1", page="p/b"),
        ev("page_view", "u1", at(d, "09:02"), session_id="s1", page="p/a"),
        ev("app_hide", "u1", at(d, "09:03"), session_id="s1", duration_ms=180_000),
        ev("app_show", "u2", at(d, "10:00"), session_id="s2"),
        ev("page_view", "u2", at(d, "10:00:01"), session_id="s2", page="p/a"),
        ev("app_hide", "u2", at(d, "10:01"), session_id="s2", duration_ms=60_000),
        ev("app_show", "u1", at("2026-03-01", "10:00"), session_id="s0"),  # before the range: u1 not new
    ]
    f = frame(load(table(rows)), d, d)
    (t,) = activity.totals(f)
    assert t["active_users"] == 2 and t["opens"] == 2 and t["page_visits"] == 4 and t["visitors"] == 2
    assert t["new_visitors"] == 1  # u2
    assert t["stay_per_visitor_ms"] == 120_000 and t["stay_per_open_ms"] == 120_000
    assert t["visit_depth"] == (2 + 1) / 2  # distinct pages per open
    assert t["bounce_rate"] == 1 / 2  # s2 saw one page


def test_opens_count_every_start_once(load: Loader) -> None:
    d = "2026-03-05"
    rows = [
        # SDK cold start: app_launch then app_show in one session → one open.
        ev("app_launch", "u1", at(d, "09:00"), session_id="s1"),
        ev("app_show", "u1", at(d, "09:00:01"), session_id="s1"),
        # warm start in the same session → one more open.
        ev("app_show", "u1", at(d, "09:10"), session_id="s1"),
        # A source that logs a cold start only as a launch → one open.
        ev("app_launch", "u2", at(d, "10:00"), session_id="s2"),
    ]
    f = frame(load(table(rows)), d, d)
    (t,) = activity.totals(f)
    assert t["opens"] == 3
    assert activity.daily_access(f)[0]["opens"] == 3
