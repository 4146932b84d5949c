"""Conversion and value (docs/metrics.md#conversion-and-value), interaction rates and page experience."""

from __future__ import annotations

from typing import Any

import ibis

from huoli.analytics.frame import Frame, ratio
from huoli.analytics.rollup import PROMOTION_EVENTS

LOAD_BUCKETS_MS = [1000, 2000, 3000, 5000]


def conversion(frame: Frame, promotion_events: list[str] | None = None) -> list[dict[str, Any]]:
    promo = promotion_events or PROMOTION_EVENTS
    ev = frame.breakdown_of(frame.events())
    paid = ev.name == "order_paid"
    # A promotion list of the caller's own is no counter: that question reads the events.
    base = frame.counted(
        ev,
        ["bd"],
        {
            "active": None,
            "cart_users": "carts",
            "order_users": "paid",
            "promo_users": "promos" if promotion_events is None else ev.name.isin(promo),
        },
        {"gmv": "gmv_fen", "refunds": "refunds_fen"},
    )
    o = ev.filter(paid)
    # An order id is counted once even if reported under two actors: over paid events only, a small set.
    order_ids = o.group_by("bd").aggregate(orders=o.order_id.nunique())
    orders_by_bd = {r["bd"]: int(r["orders"] or 0) for r in frame.run(order_ids)}
    per_user = o.group_by("bd", "actor").aggregate(n=o.order_id.nunique())
    rep = per_user.group_by("bd").aggregate(repeat=(per_user.n >= 2).sum())
    claimed = (
        ev.filter(ev.name == "coupon_claimed", ev.coupon_id.notnull()).select("bd", "coupon_id").distinct()
    )
    red = frame.events(names=["coupon_redeemed"], apply_filters=False).select("coupon_id").distinct()
    cj = claimed.left_join(red.mutate(r=ibis.literal(1)), "coupon_id")
    coup = cj.group_by("bd").aggregate(claimed=cj.count(), redeemed=cj.r.count())
    reps = {r["bd"]: int(r["repeat"] or 0) for r in frame.run(rep)}
    coups = {r["bd"]: r for r in frame.run(coup)}
    out = []
    for r in sorted(frame.run(base), key=lambda r: -int(r["active"])):
        bd = r["bd"]
        active, orders, gmv = int(r["active"]), orders_by_bd.get(bd, 0), int(r["gmv"] or 0)
        order_users = int(r["order_users"] or 0)
        c = coups.get(bd, {})
        out.append(
            {
                "breakdown": bd,
                "active_users": active,
                "add_to_cart_rate": ratio(int(r["cart_users"] or 0), active),
                "order_users": order_users,
                "order_rate": ratio(order_users, active),
                "orders": orders,
                "repurchase_rate": ratio(reps.get(bd, 0), order_users),
                "gmv_fen": gmv,
                "refunds_fen": int(r["refunds"] or 0),
                "aov_fen": ratio(gmv, orders),
                "arpu_fen": ratio(gmv, active),
                "coupons_claimed": int(c.get("claimed") or 0),
                "coupons_redeemed": int(c.get("redeemed") or 0),
                "coupon_redeem_rate": ratio(int(c.get("redeemed") or 0), int(c.get("claimed") or 0)),
                "promotion_participation_rate": ratio(int(r["promo_users"] or 0), active),
            }
        )
    return out


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
    for r in sorted(frame.run(agg), key=lambda r: -int(r["active"])):
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


def experience(frame: Frame, quantiles: tuple[float, ...] = (0.5, 0.75, 0.9, 0.95, 0.99)) -> dict[str, Any]:
    """Page load time percentiles per page (nearest rank: the ⌈q·n⌉-th smallest, exact on every engine)
    and bounce rate by the load time of the session's landing page."""
    ev = frame.events()
    perf = ev.filter(ev.name == "perf", ev.load_ms.notnull(), ev.page.notnull())
    w = ibis.window(group_by=perf.page, order_by=[perf.load_ms, perf.event_id])
    ranked = perf.mutate(
        rn=ibis.row_number().over(w) + 1, n=perf.count().over(ibis.window(group_by=perf.page))
    )
    picks = []
    for q in quantiles:
        sel = ranked.filter(ranked.rn == (ranked.n * q).ceil().cast("int64"))
        picks.append(sel.select("page", "n", "load_ms", q=ibis.literal(q, "float64")))
    rows = frame.run(ibis.union(*picks))
    pages: dict[str, dict[str, Any]] = {}
    for r in rows:
        p = pages.setdefault(r["page"], {"page": r["page"], "samples": int(r["n"])})
        p[f"p{round(r['q'] * 100)}_ms"] = int(r["load_ms"])
    # Landing load time per session (the session's first perf event) against single-page sessions.
    s = ev.filter(ev.session_id.notnull())
    land = (
        s.filter(s.name == "perf", s.load_ms.notnull())
        .group_by("session_id")
        .aggregate(load=lambda x: x.load_ms.argmin(x.ts))
    )
    views = s.filter(s.name == "page_view").group_by("session_id").aggregate(views=lambda x: x.count())
    j = land.join(views, "session_id")
    bucket = ibis.cases(*[(j.load < b, i) for i, b in enumerate(LOAD_BUCKETS_MS)], else_=len(LOAD_BUCKETS_MS))
    agg = (
        j.mutate(b=bucket)
        .group_by("b")
        .aggregate(sessions=lambda x: x.count(), bounced=lambda x: (x.views == 1).sum())
    )
    labels = ["<1s", "1–2s", "2–3s", "3–5s", "≥5s"]
    by = {int(r["b"]): r for r in frame.run(agg)}
    buckets = []
    for i, label in enumerate(labels):
        r = by.get(i, {})
        sessions, bounced = int(r.get("sessions") or 0), int(r.get("bounced") or 0)
        buckets.append(
            {
                "bucket": label,
                "sessions": sessions,
                "bounced": bounced,
                "bounce_rate": ratio(bounced, sessions),
            }
        )
    return {
        "pages": sorted(pages.values(), key=lambda p: (-p["samples"], p["page"])),
        "bounce_by_load": buckets,
    }
