"""Activity: DAU/WAU/MAU, stickiness and the WeChat access metrics (docs/metrics.md#activity)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ibis

from huoli.analytics.frame import Frame, MetricQuery, ratio
from huoli.analytics.registry import Part, Strict, metric
from huoli.analytics.rollup import OPEN_EVENTS, session_events, session_stats
from huoli.analytics.tabulate import rows_table
from huoli.analytics.timebase import day_date

if TYPE_CHECKING:
    from huoli.runtime import Runtime


class ActivityRequest(MetricQuery, Strict):
    pass


def _opens(shows: ibis.IntegerValue, launches: ibis.IntegerValue) -> ibis.IntegerValue:
    """打开次数 of one session: its app_shows (the SDK sends one on each cold or warm start), or its
    app_launches when it has none (sources that log a cold start only as a launch)."""
    return ibis.ifelse(shows > 0, shows, launches)


def opens_by(ev: ibis.Table, *keys: str) -> ibis.Table:
    """打开次数 per `keys`: the sessions' opens (_opens) summed, sessions as in the session figures."""
    o = session_events(ev.filter(ev.name.isin(OPEN_EVENTS)))
    per = o.group_by([*keys, "sess"]).aggregate(
        shows=(o.name == "app_show").sum(), launches=(o.name == "app_launch").sum()
    )
    return per.group_by(list(keys)).aggregate(opens=_opens(per.shows, per.launches).sum())


def active_users(frame: Frame) -> list[dict[str, Any]]:
    """DAU, WAU (trailing 7 days) and MAU (trailing 30) per day, by per-user coverage intervals: an active
    day d covers [d, d+w-1]; after the user's previous active day p it adds only [max(d, p+w), d+w-1], so
    summing interval starts/ends counts each user once per covered day without a 30× join."""
    if frame.rollup_ok():
        ud = frame.user_days(first_day=frame.start_day - 29).select("actor", "day")
    else:
        ud = frame.events(first_day=frame.start_day - 29).select("actor", "day").distinct()
    prev = ud.day.lag().over(ibis.window(group_by=ud.actor, order_by=ud.day))
    ud = ud.mutate(prev=prev)
    parts = []
    for w, label in ((1, "dau"), (7, "wau"), (30, "mau")):
        s = ibis.ifelse(ud.prev.isnull(), ud.day, ibis.greatest(ud.day, ud.prev + w))
        e = ud.day + (w - 1)
        # Starts and ends are both plain counts (signed in Python): ClickHouse has no common type for a
        # union of UInt64 and Int64 columns.
        x = ud.mutate(s=s, e=e)
        x = x.filter(x.s <= x.e)
        parts.append(
            x.group_by(pos=x.s.cast("int64")).aggregate(n=x.count()).mutate(kind=ibis.literal(label + "+"))
        )
        parts.append(
            x.group_by(pos=(x.e + 1).cast("int64"))
            .aggregate(n=x.count())
            .mutate(kind=ibis.literal(label + "-"))
        )
    u = ibis.union(*parts)
    u = u.filter(u.pos <= frame.end_day).group_by("kind", "pos").aggregate(n=u.n.sum())
    rows = frame.run(u)
    deltas: dict[str, dict[int, int]] = {"dau": {}, "wau": {}, "mau": {}}
    for r in rows:
        kind, sign = r["kind"][:-1], 1 if r["kind"][-1] == "+" else -1
        deltas[kind][int(r["pos"])] = deltas[kind].get(int(r["pos"]), 0) + sign * int(r["n"])
    out = []
    running = dict.fromkeys(deltas, 0)
    for day in range(frame.start_day - 29, frame.end_day + 1):
        for k in deltas:
            running[k] += deltas[k].get(day, 0)
        if day >= frame.start_day:
            out.append(
                {
                    "date": day_date(day).isoformat(),
                    "dau": running["dau"],
                    "wau": running["wau"],
                    "mau": running["mau"],
                    "stickiness": ratio(running["dau"], running["mau"]),
                }
            )
    return out


def daily_access(frame: Frame) -> list[dict[str, Any]]:
    """Per local day: opens, page visits, visitors, new visitors, total stay."""
    ev = frame.events()
    users = frame.first_days()
    per_day = ev.group_by("day").aggregate(
        page_visits=(ev.name == "page_view").sum(),
        stay_ms=ev.duration_ms.sum(where=ev.name == "app_hide"),
    )
    visitors = (
        ev.filter(ev.name == "page_view")
        .select("day", "actor")
        .distinct()
        .group_by("day")
        .aggregate(visitors=lambda x: x.count())
    )
    new = users.filter((users.first_day >= frame.start_day) & (users.first_day <= frame.end_day))
    if frame.query.filters or frame.query.user_filters:
        new = new.semi_join(ev.select("actor").distinct(), "actor")
    new = new.group_by(day=new.first_day).aggregate(new_visitors=lambda x: x.count())
    rows = {int(r["day"]): r for r in frame.run(per_day)}
    opens = {int(r["day"]): int(r["opens"] or 0) for r in frame.run(opens_by(ev, "day"))}
    vis = {int(r["day"]): int(r["visitors"]) for r in frame.run(visitors)}
    nv = {int(r["day"]): int(r["new_visitors"]) for r in frame.run(new)}
    out = []
    for day in range(frame.start_day, frame.end_day + 1):
        r = rows.get(day, {})
        out.append(
            {
                "date": day_date(day).isoformat(),
                "opens": opens.get(day, 0),
                "page_visits": int(r.get("page_visits") or 0),
                "visitors": vis.get(day, 0),
                "new_visitors": nv.get(day, 0),
                "stay_ms": int(r.get("stay_ms") or 0),
            }
        )
    return out


def totals(frame: Frame, *, new_visitors: bool = True) -> list[dict[str, Any]]:
    """Whole-range figures, one row per breakdown value; new_visitors=False skips that (first-seen) query
    and leaves `new_visitors` out (the dashboard does not show it)."""
    ev = frame.breakdown_of(frame.events())
    base = frame.counted(
        ev,
        ["bd"],
        {"active_users": None, "visitors": "page_views"},
        {"page_visits": "page_views", "stay_ms": "stay_ms"},
    )
    rows = {r["bd"]: r for r in frame.run(base)}
    srows = _session_figures(frame, ev)
    nrows: dict[str, int] = {}
    if new_visitors:
        users = frame.first_days()
        new = users.filter((users.first_day >= frame.start_day) & (users.first_day <= frame.end_day))
        new_bd = ev.select("bd", "actor").distinct().semi_join(new, "actor")
        new_agg = new_bd.group_by("bd").aggregate(new_visitors=new_bd.count())
        nrows = {r["bd"]: int(r["new_visitors"]) for r in frame.run(new_agg)}
    out = []
    # Ties by name: engines return groups in any order, and the same events must give the same answer.
    for bd, r in sorted(rows.items(), key=lambda kv: (-int(kv[1]["active_users"]), str(kv[0]))):
        s = srows.get(bd, {})
        opens, visitors, stay = s.get("opens", 0), int(r["visitors"] or 0), int(r["stay_ms"] or 0)
        sessions = s.get("sessions", 0)
        out.append(
            {
                "breakdown": bd,
                "active_users": int(r["active_users"]),
                "opens": opens,
                "page_visits": int(r["page_visits"] or 0),
                "visitors": visitors,
                **({"new_visitors": nrows.get(bd, 0)} if new_visitors else {}),
                "stay_ms": stay,
                "stay_per_visitor_ms": ratio(stay, visitors),
                "stay_per_open_ms": ratio(stay, opens),
                "visit_depth": ratio(s.get("session_pages", 0), sessions),
                "bounce_rate": ratio(s.get("bounced", 0), sessions),
            }
        )
    return out


SESSION_FIGURES = ("opens", "sessions", "session_pages", "bounced")


def _session_sums(st: ibis.Table, where: ibis.BooleanValue | None = None) -> dict[str, ibis.Value]:
    """Over session_stats rows: opens (_opens), sessions with a page view, their distinct pages, and
    sessions of a single page view (bounces)."""
    return {
        "opens": _opens(st.shows, st.launches).sum(where=where),
        "sessions": (st.views > 0).sum(where=where),
        "session_pages": st.pages.sum(where=where),
        "bounced": (st.views == 1).sum(where=where),
    }


def _session_figures(frame: Frame, ev: ibis.Table) -> dict[str, dict[str, int]]:
    """Per breakdown value of `ev` (events with `bd`): SESSION_FIGURES over the range's events, from the
    session rollup when counters_ok()."""
    if frame.counters_ok():
        return {"(all)": _rolled_session_figures(frame)}
    st = session_stats(session_events(ev), ["bd"])
    agg = st.group_by("bd").aggregate(**_session_sums(st))
    return {r["bd"]: {k: int(r[k] or 0) for k in SESSION_FIGURES} for r in frame.run(agg)}


def _rolled_session_figures(frame: Frame) -> dict[str, int]:
    """Sessions wholly inside the range are summed from their rollup rows. A session that crosses the
    range's first or last midnight counts only its events inside the range (as the raw path does), so those
    few are computed from the events of the range's edge days, which the rows' day spans bound."""
    s, lo, hi = frame.user_sessions(), frame.start_day, frame.end_day
    inside = (s.first_day >= lo) & (s.last_day <= hi)
    (row,) = frame.run(
        s.aggregate(
            **_session_sums(s, inside),
            head=s.last_day.max(where=s.first_day < lo),
            tail=s.first_day.min(where=s.last_day > hi),
        )
    )
    # Events of the edge sessions in [lo, head] and [tail, hi] (both empty when there are none): always
    # this one query shape, so its SQL template is compiled once (dashboard.warm_up).
    head = min(hi, int(row["head"])) if row["head"] is not None else lo - 1
    tail = max(lo, int(row["tail"])) if row["tail"] is not None else hi + 1
    if head + 1 >= tail:  # the windows meet: the whole range, once
        head, tail = hi, hi + 1
    ev = ibis.union(
        frame.events(last_day=head, apply_filters=False),
        frame.events(first_day=tail, apply_filters=False),
        distinct=False,
    )
    st = session_stats(session_events(ev).semi_join(s.filter(~inside).select("sess"), "sess"), [])
    (extra,) = frame.run(st.aggregate(**_session_sums(st)))
    return {k: int(row[k] or 0) + int(extra[k] or 0) for k in SESSION_FIGURES}


def frequency(frame: Frame) -> dict[str, Any]:
    """How many users were active on exactly k days of the range; one-time-user share (一次性用户占比)."""
    if frame.rollup_ok():
        ud = frame.user_days().select("actor", "day")
    else:
        ud = frame.events().select("actor", "day").distinct()
    per_user = ud.group_by("actor").aggregate(days=ud.count())
    hist = per_user.group_by("days").aggregate(users=per_user.count()).order_by("days")
    dist = [{"active_days": int(r["days"]), "users": int(r["users"])} for r in frame.run(hist)]
    # New users whose 7-day follow-up lies inside the range, and how many of them never came back in it.
    users = frame.first_days()
    new = users.filter((users.first_day >= frame.start_day) & (users.first_day <= frame.end_day - 7))
    new = new.semi_join(ud, "actor")
    back = ud.join(new, "actor").filter(lambda r: (r.day > r.first_day) & (r.day <= r.first_day + 7))
    n = frame.count(new)
    returned = frame.count(back.select("actor").distinct())
    return {
        "distribution": dist,
        "one_time": {"new_users": n, "one_time_users": n - returned, "share": ratio(n - returned, n)},
    }


def compute(frame: Frame) -> dict[str, Any]:
    series = active_users(frame)
    access = {r["date"]: r for r in daily_access(frame)}
    for r in series:
        r.update({k: v for k, v in access[r["date"]].items() if k != "date"})
    return {"series": series, "totals": totals(frame), **frequency(frame)}


def _table(result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """The per-day series; broken down, the per-breakdown totals (the part a breakdown changes)."""
    if any(t["breakdown"] != "(all)" for t in result["totals"]):
        return rows_table(result["totals"])
    return rows_table(result["series"])


@metric(
    "activity",
    request=ActivityRequest,
    title="DAU/WAU/MAU and access metrics",
    order=10,
    rollup=True,
    table=_table,
    # The dashboard draws neither the per-day access columns, the frequency nor new visitors. Two parts: the
    # trailing-30-day DAU/WAU/MAU query is the dashboard's single most expensive one.
    dashboard=[
        Part(lambda f, r: active_users(f), key="series", cost=80),
        Part(lambda f, r: totals(f, new_visitors=False), key="totals", cost=50),
    ],
)
def run(frame: Frame, req: ActivityRequest, runtime: Runtime | None) -> dict[str, Any]:
    return compute(frame)
