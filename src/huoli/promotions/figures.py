"""Live figures of promotion activities, from the promotions tables alone (docs/promotions.md "Figures").

Each mechanic's rows are read once as *facts* — who took part when, which paid orders came of it (with GMV,
discount and whether refunded), who opened whose share — and every figure is a count over them: the admin
lists' `figures`, an activity's results (funnel, cost, sharing, daily) and the baseline before it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from huoli.promotions import lifecycle
from huoli.promotions.common import loads
from huoli.promotions.models import (
    Bargain,
    BargainCampaign,
    BargainHelp,
    Commission,
    Coupon,
    CouponTemplate,
    FlashItem,
    FlashReservation,
    FlashSession,
    GiftPack,
    Group,
    GroupCampaign,
    GroupMember,
    InviteCode,
    PaidOrder,
    ReferralBinding,
    ReferralProgram,
)
from huoli.users import service as users

_CHUNK = 500  # ids per IN list


@dataclass(frozen=True)
class Part:
    """One act of taking part (a claim, a reservation, a paid join, a bargain started, an invite code)."""

    user_id: str
    at: datetime


@dataclass(frozen=True)
class Order:
    """A paid order that came of the activity; `gmv_fen` what was paid, `discount_fen` what the activity gave."""

    key: str
    user_id: str
    at: datetime
    gmv_fen: int
    discount_fen: int
    refunded: bool


@dataclass(frozen=True)
class Share:
    """Someone opened a share and acted on it (a referral binding, a group join, a bargain help)."""

    sharer_id: str
    user_id: str
    at: datetime
    new: bool = (
        False  # new by the mechanic's own rule (a referral binds only new users); else first seen decides
    )


@dataclass
class Facts:
    parts: list[Part] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    shares: list[Share] = field(default_factory=list)
    stock_left: int | None = None
    start: datetime | None = None  # the activity's own window, for "new users through sharing"
    end: datetime | None = None


def _chunks(ids: Sequence[str]) -> Iterable[list[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield list(ids[i : i + _CHUNK])


def _paid(db: Session, order_ids: Iterable[str]) -> dict[str, tuple[int, datetime, bool]]:
    """order id → (paid fen, paid at, refunded) for the orders promotions was told were paid."""
    ids = sorted(set(order_ids))
    out: dict[str, tuple[int, datetime, bool]] = {}
    for part in _chunks(ids):
        rows = db.execute(
            select(PaidOrder.order_id, PaidOrder.paid_fen, PaidOrder.paid_at, PaidOrder.refunded_at).where(
                PaidOrder.order_id.in_(part)
            )
        )
        for oid, fen, at, refunded in rows:
            out[oid] = (int(fen), at, refunded is not None)
    return out


# -- facts per mechanic -----------------------------------------------------------------------------------


def _coupons(db: Session, coupons: Sequence[Any], owner: dict[str, str], out: dict[str, Facts]) -> None:
    """coupons: (owner key, user, claimed_at, status, order_id, discount_fen, redeemed_at)."""
    paid = _paid(db, [c[4] for c in coupons if c[3] == "redeemed" and c[4]])
    seen: set[tuple[str, str]] = set()
    for key, uid, claimed_at, status, order_id, off, redeemed_at in coupons:
        f = out[owner[key]]
        f.parts.append(Part(uid, claimed_at))
        if status == "redeemed" and order_id and (owner[key], order_id) not in seen:
            seen.add((owner[key], order_id))
            fen, at, refunded = paid.get(order_id, (0, redeemed_at, False))
            f.orders.append(Order(order_id, uid, at or redeemed_at, fen, int(off or 0), refunded))
        elif status == "redeemed" and order_id:  # a second coupon on the same order: only its discount adds
            f.orders.append(Order(order_id, uid, redeemed_at, 0, int(off or 0), False))


def coupon_template_facts(db: Session, rows: Sequence[CouponTemplate]) -> dict[str, Facts]:
    out = {
        t.id: Facts(
            stock_left=(t.total_limit - t.issued_count) if t.total_limit is not None else None,
            start=t.valid_from or t.created_at,
            end=t.ended_at or t.valid_until,
        )
        for t in rows
    }
    ids = list(out)
    coupons: list[Any] = []
    for part in _chunks(ids):
        coupons += db.execute(
            select(
                Coupon.template_id,
                Coupon.user_id,
                Coupon.claimed_at,
                Coupon.status,
                Coupon.order_id,
                Coupon.discount_fen,
                Coupon.redeemed_at,
            ).where(Coupon.template_id.in_(part))
        ).all()
    _coupons(db, coupons, {i: i for i in ids}, out)
    return out


def gift_pack_facts(db: Session, rows: Sequence[GiftPack]) -> dict[str, Facts]:
    out = {p.id: Facts(start=p.starts_at or p.created_at, end=p.ended_at or p.ends_at) for p in rows}
    coupons: list[Any] = []
    for p in rows:  # a pack's coupons carry its claim keys: gift:<pack>:<template>:<user>
        coupons += db.execute(
            select(
                literal(p.id),
                Coupon.user_id,
                Coupon.claimed_at,
                Coupon.status,
                Coupon.order_id,
                Coupon.discount_fen,
                Coupon.redeemed_at,
            ).where(Coupon.source == "gift_pack", Coupon.claim_key.like(f"gift:{_like(p.id)}:%", escape="\\"))
        ).all()
    _coupons(db, coupons, {p.id: p.id for p in rows}, out)
    return out


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def flash_session_facts(db: Session, rows: Sequence[FlashSession]) -> dict[str, Facts]:
    out = {s.id: Facts(stock_left=0, start=s.starts_at, end=s.ended_at or s.ends_at) for s in rows}
    ids = list(out)
    items: dict[str, FlashItem] = {}
    for part in _chunks(ids):
        for item in db.scalars(select(FlashItem).where(FlashItem.session_id.in_(part))):
            items[item.id] = item
            out[item.session_id].stock_left = (out[item.session_id].stock_left or 0) + item.stock
    res: list[Any] = []
    for part in _chunks(list(items)):
        res += db.execute(
            select(
                FlashReservation.flash_item_id,
                FlashReservation.user_id,
                FlashReservation.reserved_at,
                FlashReservation.status,
                FlashReservation.order_id,
                FlashReservation.quantity,
                FlashReservation.closed_at,
            ).where(FlashReservation.flash_item_id.in_(part))
        ).all()
    paid = _paid(db, [r[4] for r in res if r[3] == "paid" and r[4]])
    for fid, uid, at, status, order_id, qty, closed_at in res:
        item = items[fid]
        f = out[item.session_id]
        f.parts.append(Part(uid, at))
        if status == "paid" and order_id:
            fen, paid_at, refunded = paid.get(order_id, (item.price_fen * qty, closed_at or at, False))
            discount = (item.original_price_fen - item.price_fen) * qty
            f.orders.append(Order(order_id, uid, paid_at, fen, discount, refunded))
    return out


def group_campaign_facts(db: Session, rows: Sequence[GroupCampaign]) -> dict[str, Facts]:
    out = {c.id: Facts(start=c.starts_at or c.created_at, end=c.ended_at or c.ends_at) for c in rows}
    original = {c.id: c.original_price_fen for c in rows}
    members: list[Any] = []
    for part in _chunks(list(out)):
        members += db.execute(
            select(
                Group.campaign_id,
                Group.id,
                Group.leader_user_id,
                GroupMember.user_id,
                GroupMember.is_leader,
                GroupMember.out_trade_no,
                GroupMember.paid_fen,
                GroupMember.status,
                GroupMember.joined_at,
            )
            .join(GroupMember, GroupMember.group_id == Group.id)
            .where(Group.campaign_id.in_(part), GroupMember.status != "rejected")
        ).all()
    for cid, _gid, leader, uid, is_leader, trade_no, fen, status, at in members:
        f = out[cid]
        f.parts.append(Part(uid, at))
        refunded = status in ("refunding", "refunded")
        f.orders.append(Order(trade_no, uid, at, int(fen), max(original[cid] - int(fen), 0), refunded))
        if not is_leader:  # a join through the leader's share
            f.shares.append(Share(leader, uid, at))
    return out


def bargain_campaign_facts(db: Session, rows: Sequence[BargainCampaign]) -> dict[str, Facts]:
    out = {c.id: Facts(start=c.starts_at or c.created_at, end=c.ended_at or c.ends_at) for c in rows}
    bargains: list[Any] = []
    for part in _chunks(list(out)):
        bargains += db.execute(
            select(
                Bargain.campaign_id,
                Bargain.id,
                Bargain.user_id,
                Bargain.started_at,
                Bargain.status,
                Bargain.price_fen,
                Bargain.current_price_fen,
            ).where(Bargain.campaign_id.in_(part))
        ).all()
    owner: dict[str, tuple[str, str]] = {}
    for cid, bid, uid, at, status, price, current in bargains:
        owner[bid] = (cid, uid)
        f = out[cid]
        f.parts.append(Part(uid, at))
        if (
            status == "completed"
        ):  # cut to the floor: bought at the floor price (the order itself is the shop's)
            f.orders.append(Order(bid, uid, at, int(current), int(price) - int(current), False))
    for part in _chunks(list(owner)):
        for bid, helper, at in db.execute(
            select(BargainHelp.bargain_id, BargainHelp.helper_user_id, BargainHelp.helped_at).where(
                BargainHelp.bargain_id.in_(part)
            )
        ):
            cid, uid = owner[bid]
            out[cid].shares.append(Share(uid, helper, at))
    return out


def referral_program_facts(db: Session, rows: Sequence[ReferralProgram]) -> dict[str, Facts]:
    out = {p.id: Facts(start=p.starts_at or p.created_at, end=p.ended_at or p.ends_at) for p in rows}
    ids = list(out)
    bindings: list[Any] = []
    for part in _chunks(ids):
        for pid, uid, at in db.execute(
            select(InviteCode.program_id, InviteCode.user_id, InviteCode.created_at).where(
                InviteCode.program_id.in_(part)
            )
        ):
            out[pid].parts.append(Part(uid, at))
        bindings += db.execute(
            select(
                ReferralBinding.program_id,
                ReferralBinding.id,
                ReferralBinding.referrer_user_id,
                ReferralBinding.invitee_user_id,
                ReferralBinding.bound_at,
            ).where(ReferralBinding.program_id.in_(part), ReferralBinding.status != "blocked")
        ).all()
    invitees: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
    for pid, _bid, referrer, invitee, at in bindings:
        out[pid].shares.append(Share(referrer, invitee, at, new=True))
        invitees[invitee].append((pid, at))
    # orders: what bound invitees paid after binding; discount: the reward coupons redeemed
    for part in _chunks(list(invitees)):
        for oid, uid, fen, at, refunded in db.execute(
            select(
                PaidOrder.order_id,
                PaidOrder.user_id,
                PaidOrder.paid_fen,
                PaidOrder.paid_at,
                PaidOrder.refunded_at,
            ).where(PaidOrder.user_id.in_(part))
        ):
            for pid, bound_at in invitees[uid]:
                if at >= bound_at:
                    out[pid].orders.append(Order(oid, uid, at, int(fen), 0, refunded is not None))
    # the reward coupons both sides redeemed: the program's cost (claim keys ref:<binding>:invitee|referrer)
    binding_program = {b[1]: b[0] for b in bindings}
    keys = [f"ref:{bid}:{side}" for bid in binding_program for side in ("invitee", "referrer")]
    for part in _chunks(keys):
        for key, order_id, off, redeemed_at in db.execute(
            select(Coupon.claim_key, Coupon.order_id, Coupon.discount_fen, Coupon.redeemed_at).where(
                Coupon.claim_key.in_(part), Coupon.status == "redeemed"
            )
        ):
            pid = binding_program[key.split(":")[1]]
            assert redeemed_at is not None  # set with the status
            out[pid].orders.append(Order(f"coupon:{order_id}", "", redeemed_at, 0, int(off or 0), False))
    return out


_FACTS: dict[str, Any] = {
    "coupon-templates": coupon_template_facts,
    "gift-packs": gift_pack_facts,
    "flash-sessions": flash_session_facts,
    "group-campaigns": group_campaign_facts,
    "bargain-campaigns": bargain_campaign_facts,
    "referral-programs": referral_program_facts,
}


def facts(db: Session, kind: str, rows: Sequence[Any]) -> dict[str, Facts]:
    return _FACTS[kind](db, rows)


# -- counting ----------------------------------------------------------------------------------------------


def first_seen(db: Session, user_ids: Iterable[str]) -> dict[str, datetime]:
    """When each user was first seen (their first login), through the users service."""
    out: dict[str, datetime] = {}
    for uid in set(user_ids):
        got = users.user_facts(db, uid)
        if got is not None:
            out[uid] = got.created_at
    return out


def new_users(f: Facts, seen: dict[str, datetime], start: datetime | None, end: datetime | None) -> int:
    """Users who came through a share and were first seen within [start, end)."""
    return len(
        {
            s.user_id
            for s in f.shares
            if s.new
            or (
                s.user_id in seen
                and (start is None or seen[s.user_id] >= start)
                and (end is None or seen[s.user_id] < end)
            )
        }
    )


def _orders(f: Facts) -> list[Order]:
    return [o for o in f.orders if o.user_id]  # cost-only entries carry no user


def list_figures(f: Facts, seen: dict[str, datetime], now: datetime) -> dict[str, Any]:
    orders = _orders(f)
    return {
        "participants": len({p.user_id for p in f.parts}),
        "orders": len({o.key for o in orders}),
        "gmv_fen": sum(o.gmv_fen for o in orders),
        "discount_fen": sum(o.discount_fen for o in f.orders if not o.refunded),
        "refunds": len({o.key for o in orders if o.refunded}),
        "new_users_shared": new_users(f, seen, f.start, f.end or now),
        "stock_left": f.stock_left,
    }


def figures_for(db: Session, kind: str, rows: Sequence[Any], now: datetime) -> dict[str, dict[str, Any]]:
    """`figures` of each row of one admin list page."""
    got = facts(db, kind, rows)
    seen = first_seen(db, [s.user_id for f in got.values() for s in f.shares if not s.new])
    return {i: list_figures(f, seen, now) for i, f in got.items()}


def within(f: Facts, start: datetime, end: datetime) -> Facts:
    return Facts(
        parts=[p for p in f.parts if start <= p.at < end],
        orders=[o for o in f.orders if start <= o.at < end],
        shares=[s for s in f.shares if start <= s.at < end],
        stock_left=f.stock_left,
        start=f.start,
        end=f.end,
    )


def funnel(f: Facts) -> dict[str, int]:
    orders = _orders(f)
    buyers = {o.user_id for o in orders}
    takers = {p.user_id for p in f.parts}
    return {
        "participants": len(takers),
        "converted": len(takers & buyers),
        "orders": len({o.key for o in orders}),
        "gmv_fen": sum(o.gmv_fen for o in orders),
    }


def sharing(f: Facts, seen: dict[str, datetime], start: datetime, end: datetime) -> dict[str, Any]:
    participants = len({p.user_id for p in f.parts})
    fresh = new_users(f, seen, start, end)
    return {
        "sharers": len({s.sharer_id for s in f.shares}),
        "share_opens": len(f.shares),
        "new_users": fresh,
        "k_factor": round(fresh / participants, 4) if participants else 0.0,
    }


def commission_fen(db: Session, order_ids: Iterable[str]) -> int:
    total = 0
    for part in _chunks(sorted(set(order_ids))):
        total += int(
            db.scalar(
                select(func.coalesce(func.sum(Commission.amount_fen), 0)).where(
                    Commission.order_id.in_(part), Commission.status != "reversed"
                )
            )
            or 0
        )
    return total


def daily(f: Facts, days: Sequence[date], tz: Any) -> list[dict[str, Any]]:
    per: dict[date, dict[str, Any]] = {d: {"users": set(), "orders": set(), "gmv_fen": 0} for d in days}
    for p in f.parts:
        d = p.at.astimezone(tz).date()
        if d in per:
            per[d]["users"].add(p.user_id)
    for o in _orders(f):
        d = o.at.astimezone(tz).date()
        if d in per and o.key not in per[d]["orders"]:
            per[d]["orders"].add(o.key)
            per[d]["gmv_fen"] += o.gmv_fen
    return [
        {
            "day": d.isoformat(),
            "participants": len(v["users"]),
            "orders": len(v["orders"]),
            "gmv_fen": v["gmv_fen"],
        }
        for d, v in per.items()
    ]


def local_days(start: datetime, end: datetime, tz: Any, limit: int = 366) -> list[date]:
    first, last = start.astimezone(tz).date(), (end - timedelta(microseconds=1)).astimezone(tz).date()
    out: list[date] = []
    d = first
    while d <= last and len(out) < limit:
        out.append(d)
        d += timedelta(days=1)
    return out


def scope_items(t: CouponTemplate) -> list[str]:
    """The catalog items a coupon template is about: its item scope (none for category or all scopes)."""
    return list(loads(t.scope_ids)) if t.scope == "items" else []


# -- results of one activity -------------------------------------------------------------------------------


def period(row: Any, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) an activity ran so far: its window (from creation when it has none) up to its end or now."""
    starts_at, ends_at = lifecycle.window(row)
    start = starts_at or row.created_at
    ends = [t for t in (ends_at, row.ended_at, now) if t is not None]
    end = max(min(ends), start)
    return start, end


def results(work: Any, kind: str, row: Any) -> dict[str, Any]:
    """Funnel, cost, sharing and daily figures over the activity's period; `previous`: the same counts over the
    equal-length period just before it, over every activity of the mechanic (before its start this activity
    mostly did not exist, so its own counts would say nothing)."""
    db, now = work.db, work.now
    start, end = period(row, now)
    mine = within(facts(db, kind, [row])[row.id], start, end)
    p_start, p_end = start - (end - start), start
    model = lifecycle.MODELS[kind]
    everyone = [r for r in db.scalars(select(model)) if lifecycle.overlaps(r, p_start, p_end)]
    before = Facts()
    for f in facts(db, kind, everyone).values():
        w = within(f, p_start, p_end)
        before.parts += w.parts
        before.orders += w.orders
        before.shares += w.shares
    seen = first_seen(db, [s.user_id for s in mine.shares + before.shares if not s.new])
    starts_at, ends_at = lifecycle.window(row)
    return {
        "kind": kind,
        "id": row.id,
        "name": row.name,
        "state": lifecycle.state(row, now),
        "starts_at": starts_at,
        "ends_at": ends_at,
        "period_start": start,
        "period_end": end,
        "funnel": funnel(mine),
        "cost": {
            "discount_fen": sum(o.discount_fen for o in mine.orders if not o.refunded),
            "commission_fen": commission_fen(db, [o.key for o in _orders(mine)]),
            "points": 0,  # no promotion mechanic grants points (loyalty's do, in its own results)
        },
        "sharing": sharing(mine, seen, start, end),
        "previous": {
            "start": p_start,
            "end": p_end,
            "funnel": funnel(before),
            "sharing": sharing(before, seen, p_start, p_end),
        },
        "daily": daily(mine, local_days(start, end, work.tz), work.tz) if end > start else [],
    }
