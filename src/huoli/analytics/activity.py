"""Activity: DAU/WAU/MAU, stickiness and the WeChat access metrics (docs/metrics.md#activity)."""

from __future__ import annotations

from typing import Any

import ibis

from huoli.analytics.frame import Frame, ratio
from huoli.analytics.timebase import day_date

OPEN_EVENTS = ["app_show", "app_launch"]


def opens_by(ev: ibis.Table, *keys: str) -> ibis.Table:
    """打开次数 per `keys`: every app_show (the SDK sends one on each cold or warm start), plus app_launch
    events of sessions that have no app_show (sources that log a cold start only as a launch)."""
    o = ev.filter(ev.name.isin(OPEN_EVENTS))
    o = o.mutate(sess=ibis.coalesce(o.session_id, o.event_id.cast("string")))
    per = o.group_by([*keys, "sess"]).aggregate(
        shows=(o.name == "app_show").sum(), launches=(o.name == "app_launch").sum()
    )
    n = ibis.ifelse(per.shows > 0, per.shows, per.launches)
    return per.mutate(n=n).group_by(list(keys)).aggregate(opens=lambda x: x.n.sum())


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
    pv = ev.filter(ev.name == "page_view", ev.session_id.notnull())
    # Views per (session, page) first: a grouped COUNT(DISTINCT page) is several times slower in DuckDB.
    per_page = pv.group_by("bd", "session_id", "page").aggregate(n=pv.count())
    sess = per_page.group_by("bd", "session_id").aggregate(
        views=per_page.n.sum(), pages=per_page.page.count()
    )
    sess_agg = sess.group_by("bd").aggregate(
        sessions=sess.count(), session_pages=sess.pages.sum(), bounced=(sess.views == 1).sum()
    )
    rows = {r["bd"]: r for r in frame.run(base)}
    open_rows = {r["bd"]: int(r["opens"] or 0) for r in frame.run(opens_by(ev, "bd"))}
    srows = {r["bd"]: r for r in frame.run(sess_agg)}
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
        opens, visitors, stay = open_rows.get(bd, 0), int(r["visitors"] or 0), int(r["stay_ms"] or 0)
        sessions = int(s.get("sessions") or 0)
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
                "visit_depth": ratio(int(s.get("session_pages") or 0), sessions),
                "bounce_rate": ratio(int(s.get("bounced") or 0), sessions),
            }
        )
    return out


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
