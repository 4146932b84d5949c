"""Lifecycle statuses and Pulse on a hand-checkable log, on every engine."""

from __future__ import annotations

from huoli.analytics.metrics import lifecycle

from .conftest import Loader, frame
from .fixtures import at, ev, table


def test_statuses_per_day(load: Loader) -> None:
    rows = [
        ev("app_show", "u1", at("2026-03-01")),  # new on the 1st
        ev("app_show", "u1", at("2026-03-02")),  # returning on the 2nd
        ev("app_show", "u2", at("2026-02-20")),
        ev("app_show", "u2", at("2026-03-02")),  # resurrecting on the 2nd
        ev("app_show", "u3", at("2026-02-28", "23:59")),  # active the day before: dormant on the 1st
        ev("app_show", "u4", at("2026-03-02", "00:00")),  # new on the 2nd (local midnight)
    ]
    out = lifecycle.compute(frame(load(table(rows)), "2026-03-01", "2026-03-03"))
    by = {r["period"]: r for r in out["rows"]}
    assert by["2026-03-01"] | {} == {
        "period": "2026-03-01",
        "new": 1,
        "returning": 0,
        "resurrecting": 0,
        "dormant": 1,
        "pulse": 1.0,
    }
    assert (by["2026-03-02"]["new"], by["2026-03-02"]["returning"], by["2026-03-02"]["resurrecting"]) == (
        1,
        1,
        1,
    )
    assert by["2026-03-02"]["dormant"] == 0 and by["2026-03-02"]["pulse"] is None
    assert by["2026-03-03"]["dormant"] == 3 and by["2026-03-03"]["pulse"] == 0.0


def test_weekly(load: Loader) -> None:
    rows = [
        ev("app_show", "u1", at("2026-03-02")),  # Monday: week of 2 Mar
        ev("app_show", "u1", at("2026-03-09")),
        ev("app_show", "u2", at("2026-03-03")),
    ]
    out = lifecycle.compute(frame(load(table(rows)), "2026-03-02", "2026-03-15"), "week")
    assert [(r["period"], r["new"], r["returning"], r["dormant"]) for r in out["rows"]] == [
        ("2026-03-02", 2, 0, 0),
        ("2026-03-09", 0, 1, 1),
    ]
