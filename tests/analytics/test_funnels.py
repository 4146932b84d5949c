"""Funnels on hand-checkable logs, on every engine."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from huoli.analytics.frame import EventSelector, Filter
from huoli.analytics.metrics import funnel as funnels
from huoli.analytics.metrics.funnel import Exclusion, FunnelSpec

from .conftest import Loader, frame
from .fixtures import at, ev, table

D = "2026-03-05"


def spec(*names: str, **kw: object) -> FunnelSpec:
    return FunnelSpec(steps=[EventSelector(event=n) for n in names], **kw)  # type: ignore[arg-type]


def test_window_is_measured_from_the_first_step_1_event(load: Loader) -> None:
    # The classic case: A 1:00, A 1:30, B 1:45, C 2:15 with a 1 h window → not converted.
    rows = [
        ev("a", "u1", at(D, "01:00")),
        ev("a", "u1", at(D, "01:30")),
        ev("b", "u1", at(D, "01:45")),
        ev("c", "u1", at(D, "02:15")),
        # u2 converts inside the hour.
        ev("a", "u2", at(D, "01:00")),
        ev("b", "u2", at(D, "01:10")),
        ev("c", "u2", at(D, "01:59")),
    ]
    out = funnels.compute(frame(load(table(rows)), D, D), spec("a", "b", "c", window_seconds=3600))
    assert [s["users"] for s in out["steps"]] == [2, 2, 1]
    assert out["time_to_convert"]["buckets"][3]["users"] == 1  # u2: 59 min
    assert out["time_to_convert"]["mean_seconds"] == 59 * 60


def test_later_steps_before_step_1_or_without_it(load: Loader) -> None:
    """Only events at or after the previous step count, and nobody enters without step 1 in the range (the
    one-pass form's per-user minimums and lists must not take a step done earlier, or an empty one)."""
    rows = [
        # u1: b and c before its first a, then a, b (c only before): reaches step 2.
        ev("b", "u1", at(D, "01:00")),
        ev("c", "u1", at(D, "01:05")),
        ev("a", "u1", at(D, "02:00")),
        ev("b", "u1", at(D, "02:10")),
        # u2: b and c but never a: not in the funnel.
        ev("b", "u2", at(D, "03:00")),
        ev("c", "u2", at(D, "03:10")),
        # u3: a, then c before b, then b and c: all three (c at or after b).
        ev("a", "u3", at(D, "04:00")),
        ev("c", "u3", at(D, "04:05")),
        ev("b", "u3", at(D, "04:10")),
        ev("c", "u3", at(D, "04:20")),
        # u4: a the day before the range (not a step 1 in it), then b and c inside it.
        ev("a", "u4", at("2026-03-04", "23:00")),
        ev("b", "u4", at(D, "00:10")),
        ev("c", "u4", at(D, "00:20")),
        # u5: a, then only c (no b): step 1 only.
        ev("a", "u5", at(D, "05:00")),
        ev("c", "u5", at(D, "05:10")),
    ]
    engine = load(table(rows))
    out = funnels.compute(frame(engine, D, D), spec("a", "b", "c", window_seconds=86400))
    assert [s["users"] for s in out["steps"]] == [3, 2, 1]
    by_channel = funnels.compute(frame(engine, D, D, breakdown="channel"), spec("a", "b", "c"))
    assert [s["users"] for s in by_channel["steps"]] == [3, 2, 1]


def test_order_modes_and_step_filters(load: Loader) -> None:
    rows = [
        ev("a", "u1", at(D, "10:00")),
        ev("x", "u1", at(D, "10:01")),
        ev("b", "u1", at(D, "10:02")),  # sequential yes, strict no (x in between)
        ev("b", "u2", at(D, "10:00")),
        ev("a", "u2", at(D, "10:05")),  # any order only
        ev("a", "u3", at(D, "10:00")),
        ev("b", "u3", at(D, "10:01"), page="p/cart"),  # strict yes
    ]
    f = frame(load(table(rows)), D, D)
    assert [s["users"] for s in funnels.compute(f, spec("a", "b"))["steps"]] == [3, 2]
    assert [s["users"] for s in funnels.compute(f, spec("a", "b", order="strict"))["steps"]] == [3, 1]
    assert [s["users"] for s in funnels.compute(f, spec("a", "b", order="any"))["steps"]] == [3, 3]
    filtered = FunnelSpec(
        steps=[
            EventSelector(event="a"),
            EventSelector(event="b", filters=[Filter(field="page", value="p/cart")]),
        ]
    )
    assert [s["users"] for s in funnels.compute(f, filtered)["steps"]] == [3, 1]


def test_exclusions_dropoffs_and_where_they_went(load: Loader) -> None:
    rows = [
        ev("a", "u1", at(D, "10:00")),
        ev("e", "u1", at(D, "10:01")),  # excluded between steps 1 and 2
        ev("b", "u1", at(D, "10:02")),
        ev("a", "u2", at(D, "10:00")),
        ev("page_view", "u2", at(D, "10:01"), page="p/help"),
        ev("a", "u3", at(D, "10:00")),
        ev("a", "u4", at(D, "10:00")),
        ev("b", "u4", at(D, "10:30")),
        ev("a", "u5", at(D, "11:00")),
        ev("c", "u5", at(D, "11:01")),
    ]
    f = frame(load(table(rows)), D, D)
    out = funnels.compute(
        f, spec("a", "b", exclusions=[Exclusion(event=EventSelector(event="e"))], dropoff_step=1)
    )
    assert [s["users"] for s in out["steps"]] == [4, 1]
    drop = out["dropoff"]
    assert drop["users"] == out["steps"][0]["dropped"] == 3
    assert sorted(drop["user_ids"]) == ["u2", "u3", "u5"]
    assert {d["next"]: d["users"] for d in drop["next"]} == {
        "page_view p/help": 1,
        "c": 1,
        "(no further event)": 1,
    }


def test_breakdown_attribution(load: Loader) -> None:
    rows = [
        ev("a", "u1", at(D, "10:00"), channel="ads"),
        ev("b", "u1", at(D, "10:01"), channel="share"),
        ev("a", "u2", at(D, "10:00"), channel="ads"),
    ]
    f = frame(load(table(rows)), D, D, breakdown="channel")
    first = funnels.compute(f, spec("a", "b"))
    assert [(b["breakdown"], [s["users"] for s in b["steps"]]) for b in first["breakdown"]] == [
        ("ads", [2, 1])
    ]
    last = funnels.compute(f, spec("a", "b", attribution="last_touch"))
    assert sorted((b["breakdown"], b["steps"][0]["users"]) for b in last["breakdown"]) == [
        ("ads", 1),
        ("share", 1),
    ]


def test_many_steps_and_bad_specs(load: Loader) -> None:
    names = [f"s{i}" for i in range(20)]
    rows = [ev(n, "u1", at(D, f"10:{i:02d}")) for i, n in enumerate(names)]
    f = frame(load(table(rows)), D, D)
    f.known_events = f.known_events | set(names)
    assert [s["users"] for s in funnels.compute(f, spec(*names))["steps"]] == [1] * 20
    with pytest.raises(ValidationError, match="at most 32"):
        spec(*[f"s{i}" for i in range(33)])
    with pytest.raises(Exception, match="unknown event 'nope'"):
        funnels.compute(f, spec("s1", "nope"))
