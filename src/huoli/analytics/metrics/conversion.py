"""Conversion and value (docs/metrics.md#conversion-and-value): cart, order and repurchase rates, GMV, AOV,
ARPU, coupons and promotion participation, per breakdown value."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ibis

from huoli.analytics.frame import Frame, MetricQuery, ratio
from huoli.analytics.registry import Part, Strict, metric
from huoli.analytics.rollup import PROMOTION_EVENTS

if TYPE_CHECKING:
    from huoli.runtime import Runtime


class ConversionRequest(MetricQuery, Strict):
    promotion_events: list[str] | None = None


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
    # Ties by name: engines return groups in any order, and the same events must give the same answer.
    for r in sorted(frame.run(base), key=lambda r: (-int(r["active"]), str(r["bd"]))):
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


@metric(
    "conversion",
    request=ConversionRequest,
    title="Conversion and value",
    order=70,
    rollup=True,
    dashboard=[Part(lambda f, r: conversion(f), cost=30)],
)
def run(frame: Frame, req: ConversionRequest, runtime: Runtime | None) -> list[dict[str, Any]]:
    for i, name in enumerate(req.promotion_events or []):
        frame.check_event(name, f"promotion_events[{i}]")
    return conversion(frame, req.promotion_events)
