"""Interaction (docs/metrics.md#interaction): share, favorite and comment rates per breakdown value."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from huoli.analytics.frame import Frame, ratio
from huoli.analytics.registry import Part, SimpleRequest, metric
from huoli.analytics.tabulate import rows_table

if TYPE_CHECKING:
    from huoli.runtime import Runtime


def interaction(frame: Frame) -> list[dict[str, Any]]:
    ev = frame.breakdown_of(frame.events())
    counters = {"share": "shares", "favorite": "favorites", "comment": "comments"}
    agg = frame.counted(
        ev,
        ["bd"],
        {"active": None, **{f"{k}_users": c for k, c in counters.items()}},
        {f"{k}_events": c for k, c in counters.items()},
    )
    out = []
    # Ties by name: engines return groups in any order, and the same events must give the same answer.
    for r in sorted(frame.run(agg), key=lambda r: (-int(r["active"]), str(r["bd"]))):
        active = int(r["active"])
        row: dict[str, Any] = {"breakdown": r["bd"], "active_users": active}
        for k in ("share", "favorite", "comment"):
            users, events = int(r[f"{k}_users"] or 0), int(r[f"{k}_events"] or 0)
            row[k] = {
                "users": users,
                "events": events,
                "rate": ratio(users, active),
                "per_active_user": ratio(events, active),
            }
        out.append(row)
    return out


def _table(result: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    return rows_table(
        [
            {
                "breakdown": r["breakdown"],
                "active_users": r["active_users"],
                **{f"{k}_rate": r[k]["rate"] for k in ("share", "favorite", "comment")},
            }
            for r in result
        ]
    )


@metric(
    "interaction",
    request=SimpleRequest,
    title="Share, favorite, comment rates",
    order=80,
    rollup=True,
    table=_table,
    dashboard=[Part(lambda f, r: interaction(f), with_previous=False, cost=10)],
)
def run(frame: Frame, req: SimpleRequest, runtime: Runtime | None) -> list[dict[str, Any]]:
    return interaction(frame)
