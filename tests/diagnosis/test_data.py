"""What a new user meets first: data that stopped before today (the demo) is diagnosed up to its last day, and
an empty or too-young app hears "not enough data" (how much is needed, how much there is), never "no
problems found"."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from huoli.analytics.engines import DuckDBEngine
from huoli.diagnosis.service import diagnose_engine
from huoli.diagnosis.simulate import Scenario, generate
from huoli.events.schema import EVENT_SCHEMA


def test_without_an_end_the_window_ends_on_the_last_day_with_events() -> None:
    sc = Scenario(seed=6)
    engine = DuckDBEngine.from_arrow(generate(sc))
    later = sc.now + dt.timedelta(days=20)  # the data stopped 20 days before the doctor runs
    d = diagnose_engine(engine, sc.app_id, tz=sc.tz, now=later)
    assert d.end == sc.end and d.end_source == "last_event_day"
    assert d.data["last_event_day"] == sc.end.isoformat() and d.data["enough"]
    # the same answer as naming that day: no fall to zero from the empty days after the data
    named = diagnose_engine(engine, sc.app_id, tz=sc.tz, now=later, end=sc.end)
    assert [f.id for f in d.findings] == [f.id for f in named.findings] == []
    out = d.to_dict()
    assert out["end_source"] == "last_event_day"
    assert (
        out["text"]["en"]["end"]
        == f"No end date given: the window ends on the last day with events, {sc.end}."
    )
    assert sc.end.isoformat() in out["text"]["zh"]["end"] and "最后一天有事件" in out["text"]["zh"]["end"]
    # a date given is used as given, and said so by saying nothing
    assert named.end_source == "given" and named.to_dict()["text"]["zh"]["end"] == ""


def test_an_empty_app_is_not_enough_data_not_healthy() -> None:
    engine = DuckDBEngine.from_arrow(pa.Table.from_pylist([], schema=EVENT_SCHEMA))
    now = dt.datetime(2026, 11, 1, 4, tzinfo=dt.UTC)
    out = diagnose_engine(engine, "empty", tz="Asia/Shanghai", now=now).to_dict()
    assert out["end_source"] == "yesterday" and out["end"] == "2026-10-31"
    assert (
        out["data"]["enough"] is False
        and out["data"]["history_days"] == 0
        and out["data"]["needed_days"] == 14
    )
    assert out["text"]["zh"]["verdict"].startswith("数据不足") and "14 天" in out["text"]["zh"]["verdict"]
    assert out["text"]["en"]["verdict"].startswith("Not enough data")
    assert "no problems" not in out["text"]["en"]["verdict"]


def test_too_little_history_is_not_enough_data() -> None:
    sc = Scenario(seed=6)
    events = generate(sc)
    # keep only the last 5 days: less than the current window and one baseline window (14 days)
    lo = dt.datetime.combine(
        sc.end - dt.timedelta(days=4), dt.time(), tzinfo=dt.timezone(dt.timedelta(hours=8))
    )
    engine = DuckDBEngine.from_arrow(
        events.filter(pa.array([t >= lo for t in events.column("ts").to_pylist()]))
    )
    d = diagnose_engine(engine, sc.app_id, tz=sc.tz, now=sc.now).to_dict()
    assert d["end"] == sc.end.isoformat()
    assert d["data"]["history_days"] == 5 and d["data"]["needed_days"] == 14 and not d["data"]["enough"]
    assert d["findings"] == []
    assert "only 5" not in d["text"]["en"]["verdict"] and "this app has 5" in d["text"]["en"]["verdict"]
