"""Acquisition (docs/metrics.md#acquisition): new users by channel and scene (with WeChat's scene groups),
channel conversion to a key event, sharing and reflow (回流), K factor, cost per acquired user."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ibis
from pydantic import Field

from huoli.analytics import service
from huoli.analytics.frame import Frame, MetricQuery, ratio, scene_groups
from huoli.analytics.registry import Part, Strict, metric
from huoli.analytics.tabulate import rows_table
from huoli.analytics.timebase import day_date

if TYPE_CHECKING:
    from huoli.runtime import Runtime


class AcquisitionRequest(MetricQuery, Strict):
    key_event: str | None = None  # channel conversion to this event
    within_days: int = Field(default=7, ge=1, le=90)


NEW_USER_KEYS = ("by_channel", "by_scene", "by_scene_group")


def new_users(frame: Frame, keys: tuple[str, ...] = NEW_USER_KEYS) -> dict[str, Any]:
    """New users by first channel / scene / scene group; `keys` picks which (the dashboard draws one)."""
    users = frame.users()
    new = users.filter((users.first_day >= frame.start_day) & (users.first_day <= frame.end_day))
    if frame.query.filters or frame.query.user_filters:
        new = new.semi_join(frame.events().select("actor").distinct(), "actor")
    out: dict[str, Any] = {}
    for key, col in (
        ("by_channel", "first_channel"),
        ("by_scene", "first_scene"),
        ("by_scene_group", "first_scene_group"),
    ):
        if key not in keys:
            continue
        agg = new.group_by("first_day", value=new[col].cast("string")).aggregate(users=lambda x: x.count())
        rows = frame.run(agg)
        totals: dict[str, int] = {}
        series: dict[str, dict[str, int]] = {}
        for r in rows:
            v = r["value"] if r["value"] is not None else "(none)"
            totals[v] = totals.get(v, 0) + int(r["users"])
            series.setdefault(day_date(int(r["first_day"])).isoformat(), {})[v] = int(r["users"])
        out[key] = {
            "totals": [
                {"value": v, "users": n} for v, n in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            "series": [{"date": d, **series[d]} for d in sorted(series)],
        }
    groups = scene_groups()
    for row in out.get("by_scene_group", {"totals": []})["totals"]:
        g = groups.get(row["value"])
        row["label"] = {"zh": g["zh"], "en": g["en"]} if g else {"zh": "其他", "en": "Other"}
    out["total"] = sum(r["users"] for r in out[keys[0]]["totals"])
    return out


def channel_conversion(frame: Frame, key_event: str, within_days: int = 7) -> list[dict[str, Any]]:
    """Per first channel: new users in the range and those who did `key_event` within N days (N × 24 h)
    of their first event."""
    frame.check_event(key_event, "key_event")
    users = frame.users()
    new = users.filter((users.first_day >= frame.start_day) & (users.first_day <= frame.end_day))
    ev = frame.events(last_day=frame.end_day + within_days + 1, apply_filters=False)
    k = ev.filter(ev.name == key_event).select("actor", kts="ts")
    conv = new.join(k, "actor").filter(
        lambda r: (r.kts >= r.first_ts) & (r.kts <= r.first_ts + ibis.interval(days=within_days))
    )
    conv = conv.select("actor").distinct()
    agg = (
        new.left_join(conv.mutate(c=ibis.literal(1)), "actor")
        .group_by(channel=lambda x: x.first_channel)
        .aggregate(new_users=lambda x: x.count(), converted=lambda x: x.c.count())
    )
    rows = []
    for r in sorted(frame.run(agg), key=lambda r: (-int(r["new_users"]), str(r["channel"]))):
        rows.append(
            {
                "channel": r["channel"] if r["channel"] is not None else "(none)",
                "new_users": int(r["new_users"]),
                "converted": int(r["converted"]),
                "rate": ratio(int(r["converted"]), int(r["new_users"])),
            }
        )
    return rows


def sharing(frame: Frame) -> dict[str, Any]:
    """分享次数/人数, 回流量 (opens from share cards), 分享回流比, and K factor = users newly brought by
    shares ÷ (active users − those users). A user is brought by a share when they opened a share card on
    their first day."""
    ev = frame.events()
    agg = frame.counted(
        ev,
        [],
        {"active": None, "sharers": "shares", "share_open_users": "share_opens"},
        {"shares": "shares", "share_opens": "share_opens"},
    )
    (r,) = frame.run(agg)
    users = frame.users()
    new = users.filter((users.first_day >= frame.start_day) & (users.first_day <= frame.end_day))
    so = ev.filter(ev.name == "share_open").select("actor", "day")
    brought = new.join(so, "actor").filter(lambda x: x.day == x.first_day).select("actor").distinct()
    n_brought = frame.count(brought)
    active, shares, opens = int(r["active"] or 0), int(r["shares"] or 0), int(r["share_opens"] or 0)
    return {
        "shares": shares,
        "sharers": int(r["sharers"] or 0),
        "share_opens": opens,
        "share_open_users": int(r["share_open_users"] or 0),
        "reflow_ratio": ratio(opens, shares),
        "new_users_from_shares": n_brought,
        "k_factor": ratio(n_brought, active - n_brought),
    }


def cost_per_user(frame: Frame, costs_fen: dict[str, int]) -> list[dict[str, Any]]:
    """Cost per acquired user per channel, from the uploaded channel-cost table (fen)."""
    counts = {r["value"]: r["users"] for r in new_users(frame)["by_channel"]["totals"]}
    rows = []
    for ch in sorted(set(counts) | set(costs_fen)):
        cost, n = costs_fen.get(ch), counts.get(ch, 0)
        rows.append(
            {
                "channel": ch,
                "cost_fen": cost,
                "new_users": n,
                "cost_per_user_fen": None if cost is None or not n else cost / n,
            }
        )
    return rows


def compute(
    frame: Frame,
    *,
    key_event: str | None = None,
    within_days: int = 7,
    costs_fen: dict[str, int] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"new_users": new_users(frame), "sharing": sharing(frame)}
    if key_event:
        out["channel_conversion"] = channel_conversion(frame, key_event, within_days)
    if costs_fen is not None:
        out["cost_per_user"] = cost_per_user(frame, costs_fen)
    return out


def _table(result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    totals = result["new_users"]["by_channel"]["totals"]
    return rows_table([{"channel": r["value"], "new_users": r["users"]} for r in totals])


@metric(
    "acquisition",
    request=AcquisitionRequest,
    title="New users by channel and scene, sharing, K factor",
    order=20,
    rollup=True,
    cacheable=False,  # channel costs can be uploaded again for a closed period
    table=_table,
    # The dashboard draws new users by channel only.
    dashboard=[Part(lambda f, r: {"new_users": new_users(f, ("by_channel",))}, cost=20)],
)
def run(frame: Frame, req: AcquisitionRequest, runtime: Runtime | None) -> dict[str, Any]:
    costs = service.channel_costs(runtime, frame.app_id, req.start, req.end) if runtime is not None else None
    return compute(frame, key_event=req.key_event, within_days=req.within_days, costs_fen=costs)
