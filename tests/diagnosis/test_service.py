"""Edge cases of the doctor itself: an app without events, windows configured per app, a bad end date."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from huoli.analytics.engines import DuckDBEngine
from huoli.diagnosis.service import diagnose_engine
from huoli.diagnosis.simulate import Scenario, generate
from huoli.diagnosis.thresholds import Thresholds
from huoli.errors import ValidationFailed
from huoli.events.schema import EVENT_SCHEMA

NOW = dt.datetime(2026, 11, 1, 4, tzinfo=dt.UTC)  # noon in Shanghai


def test_an_app_without_events_gets_no_findings_and_every_check_says_why() -> None:
    engine = DuckDBEngine.from_arrow(pa.Table.from_pylist([], schema=EVENT_SCHEMA))
    d = diagnose_engine(engine, "empty", tz="Asia/Shanghai", now=NOW)
    assert d.end == dt.date(2026, 10, 31)
    assert d.findings == [] and d.checked == []
    assert len(d.skipped) >= 20 and all(d.skipped.values())


def test_windows_follow_the_thresholds_and_end_must_be_finished() -> None:
    sc = Scenario(seed=8, days=49)
    engine = DuckDBEngine.from_arrow(generate(sc))
    th = Thresholds(current_days=5, baseline_windows=3)
    d = diagnose_engine(engine, sc.app_id, tz=sc.tz, now=sc.now, end=sc.end, thresholds=th)
    assert d.current == (sc.end - dt.timedelta(days=4), sc.end)
    assert d.baseline == (sc.end - dt.timedelta(days=19), sc.end - dt.timedelta(days=5))
    assert d.findings == [], [f.id for f in d.findings]
    assert "churn.core_users" in d.checked and d.notes == []
    # core_min_days longer than the window: that check cannot run and says so.
    d = diagnose_engine(
        engine, sc.app_id, tz=sc.tz, now=sc.now, end=sc.end, thresholds=Thresholds(current_days=3)
    )
    assert "churn.core_users" in d.skipped
    with pytest.raises(ValidationFailed) as exc:
        diagnose_engine(engine, sc.app_id, tz=sc.tz, now=sc.now, end=sc.end + dt.timedelta(days=1))
    assert exc.value.details[0]["field"] == "end"
    with pytest.raises(ValueError):
        Thresholds(severity_high=0.2, severity_medium=0.3)


def test_a_silent_baseline_week_is_reported_as_empty_not_a_crash() -> None:
    """A week without events inside the baseline (an outage, a paused app) leaves its window empty."""
    sc = Scenario(seed=3, days=49)
    events = generate(sc)
    ts = events.column("ts").to_pylist()
    # The third baseline week before the current one: 15–21 days before the end (local days, +08:00).
    lo = dt.datetime.combine(
        sc.end - dt.timedelta(days=20), dt.time(), tzinfo=dt.timezone(dt.timedelta(hours=8))
    )
    hi = lo + dt.timedelta(days=7)
    keep = pa.array([not (lo <= t < hi) for t in ts])
    engine = DuckDBEngine.from_arrow(events.filter(keep))
    d = diagnose_engine(engine, sc.app_id, tz=sc.tz, now=sc.now, end=sc.end)
    assert "conversion.order_rate" in d.checked
    for f in d.findings:
        windows = f.detail.get("windows")
        if f.id.startswith("conversion.") and windows:
            assert len(windows) == 5 and windows[2]["value"] is None


def test_an_end_too_early_for_the_baseline_is_refused_not_a_crash() -> None:
    # the baseline windows reach back (4 + 1) × 7 days: from 0001-01-01 that left datetime's range (a 500)
    engine = DuckDBEngine.from_arrow(pa.Table.from_pylist([], schema=EVENT_SCHEMA))
    for end in (dt.date(1, 1, 1), dt.date(1970, 2, 4)):
        with pytest.raises(ValidationFailed) as exc:
            diagnose_engine(engine, "app1", tz="Asia/Shanghai", now=NOW, end=end)
        assert exc.value.details == [{"field": "end", "message": "must be on or after 1970-02-05"}]
    assert (
        diagnose_engine(engine, "app1", tz="Asia/Shanghai", now=NOW, end=dt.date(1970, 2, 5)).findings == []
    )
