"""Retention on a hand-checkable log, on every engine: day boundary in +08:00, criteria, periods, presets."""

from __future__ import annotations

import datetime as dt

from huoli.analytics.metrics import retention
from huoli.analytics.metrics.retention import RetentionSpec

from .conftest import Loader, frame
from .fixtures import at, ev, table

NOW = dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC)


def _log() -> list[dict]:
    return [
        # u1 signs up 23:45 on 1 Mar and is back at 00:01: calendar D1, but rolling-24h D0.
        ev("app_show", "u1", at("2026-03-01", "23:45")),
        ev("app_show", "u1", at("2026-03-02", "00:01")),
        ev("app_show", "u1", at("2026-03-05", "12:00")),  # D4
        # u2: new on 1 Mar, back on D3 only.
        ev("app_show", "u2", at("2026-03-01", "08:00")),
        ev("page_view", "u2", at("2026-03-04", "09:00"), page="p/a"),
        # u3: new on 2 Mar, back on D10 (12 Mar).
        ev("app_show", "u3", at("2026-03-02", "10:00")),
        ev("app_show", "u3", at("2026-03-12", "10:00")),
        # u4 existed before the range: never in a first-time cohort of the range.
        ev("app_show", "u4", at("2026-02-20", "10:00")),
        ev("app_show", "u4", at("2026-03-01", "10:00")),
    ]


def test_first_time_on_day_n_calendar(load: Loader) -> None:
    f = frame(load(table(_log())), "2026-03-01", "2026-03-02", now=NOW)
    out = retention.compute(f, RetentionSpec(periods=4))
    r1, r2 = out["rows"]
    assert (r1["cohort"], r1["size"], r1["retained"]) == ("2026-03-01", 2, [2, 1, 0, 1, 1])
    assert (r2["cohort"], r2["size"], r2["retained"]) == ("2026-03-02", 1, [1, 0, 0, 0, 0])
    assert out["weighted_mean"][0]["rate"][1] == 1 / 3


def test_rolling_24h_puts_the_0001_return_in_day_0(load: Loader) -> None:
    f = frame(load(table(_log())), "2026-03-01", "2026-03-01", now=NOW)
    out = retention.compute(f, RetentionSpec(periods=3, day_model="rolling_24h"))
    (r,) = out["rows"]
    # u1: 00:01 is 16 min after sign-up → D0; 5 Mar 12:00 is 3 d 12 h later → D3. u2: 4 Mar 09:00 → D3 (73 h).
    assert r["retained"] == [2, 0, 0, 2]


def test_on_or_after_and_brackets(load: Loader) -> None:
    f = frame(load(table(_log())), "2026-03-01", "2026-03-02", now=NOW)
    out = retention.compute(f, RetentionSpec(periods=4, criterion="on_or_after"))
    assert out["rows"][0]["retained"] == [2, 2, 2, 2, 1]  # u1 (max D4), u2 (max D3)
    assert out["rows"][1]["retained"] == [1, 1, 1, 1, 1]  # u3 came back on D10 ≥ every N
    out = retention.compute(f, RetentionSpec(brackets=[(1, 1), (2, 7), (8, 14)]))
    assert out["columns"] == ["1", "2-7", "8-14"]
    assert out["rows"][0]["retained"] == [1, 2, 0]
    assert out["rows"][1]["retained"] == [0, 0, 1]


def test_cells_after_now_are_null_not_zero(load: Loader) -> None:
    now = dt.datetime(2026, 3, 3, 12, tzinfo=dt.UTC)  # 3 Mar local: the last complete day is 2 Mar
    f = frame(load(table(_log())), "2026-03-01", "2026-03-02", now=now)
    out = retention.compute(f, RetentionSpec(periods=3))
    assert out["rows"][0]["retained"] == [2, 1, None, None]
    assert out["rows"][1]["retained"] == [1, None, None, None]


def test_recurring_weekly_and_wechat_presets(load: Loader) -> None:
    f = frame(load(table(_log())), "2026-03-01", "2026-03-01", now=NOW)
    active = retention.compute(f, RetentionSpec(preset="wechat_active"))
    assert active["columns"] == ["0", "1", "2", "3", "4", "5", "6", "7", "14", "30"]
    (r,) = active["rows"]
    # Active on 1 Mar through an open: u1, u2, u4. Opens only: u2's page_view on D3 is not an open.
    assert r["size"] == 3 and r["retained"][:5] == [3, 1, 0, 0, 1] and r["retained"][9] is None
    new = retention.compute(f, RetentionSpec(preset="wechat_new"))
    assert new["rows"][0]["size"] == 2  # u4 is not new
    f = frame(load(table(_log())), "2026-03-02", "2026-03-08", now=NOW)
    weekly = retention.compute(f, RetentionSpec(cohort="recurring", period="week", periods=1))
    # Week of Mon 2 Mar: active u1, u2, u3; next week (9–15 Mar): u3.
    assert [(r["cohort"], r["size"], r["retained"]) for r in weekly["rows"]] == [("2026-03-02", 3, [3, 1])]


def test_breakdown_by_first_channel(load: Loader) -> None:
    rows = _log()
    for r in rows:
        r["channel"] = "ads" if r["user_id"] == "u2" else "organic"
    f = frame(load(table(rows)), "2026-03-01", "2026-03-01", now=NOW, breakdown="user.first_channel")
    out = retention.compute(f, RetentionSpec(periods=1))
    assert [(r["breakdown"], r["size"], r["retained"]) for r in out["rows"]] == [
        ("ads", 1, [1, 0]),
        ("organic", 1, [1, 1]),
    ]
