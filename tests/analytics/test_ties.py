"""Events at the same instant: every "first" (first touch, a cohort's or funnel step's breakdown value, the
next event after a drop-off, a session's landing load time) is the earliest by time, then event id — on
every engine, whatever order the events were stored in."""

from __future__ import annotations

from typing import Any

import pytest

from huoli.analytics.metrics import acquisition, activity, experience, retention
from huoli.analytics.metrics import funnel as funnels
from huoli.analytics.metrics.funnel import FunnelSpec
from huoli.analytics.metrics.retention import RetentionSpec

from .conftest import Loader, frame
from .fixtures import at, ev, table

pytestmark = pytest.mark.timeout(900)  # Spark plans each of the queries in seconds

D = "2026-03-05"


def tied(name: str, user: str, hm: str, n: int, **cols: Any) -> dict[str, Any]:
    """An event whose id sorts as `n` among the events of its instant. Every event has a scene (a column
    with nulls would reach Spark through pandas as floats)."""
    row = ev(name, user, at(D, hm), **{"scene": 1001, **cols})
    row["event_id"] = f"{n:08x}-0000-4000-8000-{user.encode().hex():0>12}"[:36]
    return row


def rows() -> list[dict[str, Any]]:
    return [
        # u1's first instant holds two opens: the lower id is 'zeta' (the lower value would be 'alpha').
        tied("app_show", "u1", "10:00", 9, channel="alpha", scene=1001, page="p/b", session_id="s1"),
        tied("app_show", "u1", "10:00", 1, channel="zeta", scene=1047, page="p/a", session_id="s1"),
        tied("view_item", "u1", "10:05", 2, channel="kol", session_id="s1"),
        tied("view_item", "u1", "10:05", 7, channel="ads", session_id="s1"),
        # the session's first perf events share an instant: the landing load time is the lower id's
        tied("perf", "u1", "10:00", 3, page="p/a", load_ms=4000, session_id="s1"),
        tied("perf", "u1", "10:00", 8, page="p/a", load_ms=500, session_id="s1"),
        tied("page_view", "u1", "10:01", 4, page="p/a", session_id="s1"),
        # u2 drops off after app_show; its next two events share an instant: 'share' has the lower id.
        tied("app_show", "u2", "11:00", 1, channel="ads", scene=1011),
        tied("search", "u2", "11:02", 6),
        tied("share", "u2", "11:02", 5),
    ]


def _results(engine: Any) -> dict[str, Any]:
    return {
        "new_users": acquisition.new_users(frame(engine, D, D))["by_channel"]["totals"],
        "activity": activity.totals(frame(engine, D, D, breakdown="user.first_channel")),
        "first_scene": activity.totals(frame(engine, D, D, breakdown="user.first_scene")),
        "retention": retention.compute(frame(engine, D, D, breakdown="channel"), RetentionSpec(periods=1)),
        "funnel": funnels.compute(
            frame(engine, D, D, breakdown="channel"),
            FunnelSpec.model_validate(
                {"steps": [{"event": "app_show"}, {"event": "view_item"}], "dropoff_step": 1}
            ),
        ),
        "last_touch": funnels.compute(
            frame(engine, D, D, breakdown="channel"),
            FunnelSpec.model_validate(
                {"steps": [{"event": "app_show"}, {"event": "view_item"}], "attribution": "last_touch"}
            ),
        ),
        "experience": experience.experience(frame(engine, D, D)),
    }


def test_the_first_of_events_at_one_instant_is_the_lowest_event_id(load: Loader) -> None:
    forward = _results(load(table(rows())))
    if load.engine_kind != "spark":  # type: ignore[attr-defined]  # (Spark plans each query in seconds)
        assert forward == _results(load(table(rows()[::-1])))  # the stored order never matters
    assert forward["new_users"] == [{"value": "ads", "users": 1}, {"value": "zeta", "users": 1}]
    assert [(t["breakdown"], t["active_users"]) for t in forward["activity"]] == [("ads", 1), ("zeta", 1)]
    assert [(t["breakdown"], t["active_users"]) for t in forward["first_scene"]] == [
        ("1011", 1),
        ("1047", 1),
    ]
    assert [(r["breakdown"], r["size"]) for r in forward["retention"]["rows"]] == [("ads", 1), ("zeta", 1)]
    by = {b["breakdown"]: [s["users"] for s in b["steps"]] for b in forward["funnel"]["breakdown"]}
    assert by == {"zeta": [1, 1], "ads": [1, 0]}
    assert forward["funnel"]["dropoff"]["next"] == [{"next": "share", "users": 1}]
    last = {b["breakdown"]: [s["users"] for s in b["steps"]] for b in forward["last_touch"]["breakdown"]}
    assert last == {"kol": [1, 1], "ads": [1, 0]}  # u1's view_items tie: 'kol' has the lower id
    landing = {b["bucket"]: b["sessions"] for b in forward["experience"]["bounce_by_load"]}
    assert landing["3–5s"] == 1 and landing["<1s"] == 0
