"""Lifecycle (docs/metrics.md#lifecycle): per period, new / returning / resurrecting / dormant users and
Pulse = (new + resurrecting) / dormant."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import ibis

from huoli.analytics.frame import Frame, MetricQuery
from huoli.analytics.metrics.retention import _period_label, _period_number, _period_of_day
from huoli.analytics.registry import Part, Strict, metric
from huoli.analytics.tabulate import rows_table

if TYPE_CHECKING:
    from huoli.runtime import Runtime


class LifecycleRequest(MetricQuery, Strict):
    period: Literal["day", "week", "month"] = "day"


def compute(frame: Frame, period: Literal["day", "week", "month"] = "day") -> dict[str, Any]:
    p_first = _period_number(frame.query.start, period)
    p_last = _period_number(frame.query.end, period)
    # Read from the start of the period before the first one, so "dormant" and "returning" are known.
    lookback = {"day": 1, "week": 7, "month": 31}[period] + 6
    if frame.rollup_ok():
        ev = frame.user_days(first_day=frame.start_day - lookback).rename(ts="first_ts")
    else:
        ev = frame.events(first_day=frame.start_day - lookback)
    act = ev.mutate(p=_period_of_day(ev.day, period, frame, ev.ts)).select("actor", "p").distinct()
    act = act.filter((act.p >= p_first - 1) & (act.p <= p_last))
    users = frame.first_days()
    users = users.mutate(fp=_period_of_day(users.first_day, period, frame, users.first_ts)).select(
        "actor", "fp"
    )
    prev = act.mutate(p=act.p + 1, was=ibis.literal(1))
    now = act.mutate(is_=ibis.literal(1))
    j = now.outer_join(prev, [now.actor == prev.actor, now.p == prev.p])
    j = j.select(
        actor=ibis.coalesce(j.actor, j.actor_right),
        p=ibis.coalesce(j.p, j.p_right),
        active=j.is_.notnull(),
        was_active=j.was.notnull(),
    )
    j = j.filter((j.p >= p_first) & (j.p <= p_last)).left_join(users, "actor")
    status = ibis.cases(
        (~j.active, "dormant"),
        (j.fp == j.p, "new"),
        (j.was_active, "returning"),
        else_="resurrecting",
    )
    agg = j.mutate(status=status).group_by("p", "status").aggregate(users=lambda x: x.count())
    table: dict[int, dict[str, int]] = {
        p: dict.fromkeys(("new", "returning", "resurrecting", "dormant"), 0)
        for p in range(p_first, p_last + 1)
    }
    for r in frame.run(agg):
        table[int(r["p"])][r["status"]] = int(r["users"])
    rows = []
    for p, c in table.items():
        rows.append(
            {
                "period": _period_label(p, period),
                **c,
                "pulse": (c["new"] + c["resurrecting"]) / c["dormant"] if c["dormant"] else None,
            }
        )
    return {"period": period, "rows": rows}


@metric(
    "lifecycle",
    request=LifecycleRequest,
    title="Lifecycle and Pulse",
    order=60,
    rollup=True,
    table=lambda result: rows_table(result["rows"]),
    dashboard=[Part(lambda f, r: compute(f, "day"), with_previous=False, cost=60)],
)
def run(frame: Frame, req: LifecycleRequest, runtime: Runtime | None) -> dict[str, Any]:
    return compute(frame, req.period)
