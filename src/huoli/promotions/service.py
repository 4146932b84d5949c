"""Use cases that span the mechanics: what an order's payment, refund or cancellation means for promotions,
the periodic jobs, and the facts about users that the fission rules need.

Each use case takes the caller's Work (its session, app and time) and never commits: a paid order redeems
its coupons, settles its flash reservation, qualifies its referral and creates its commissions in one
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huoli.db import insert_or_ignore
from huoli.errors import HuoliError, NotFound
from huoli.promotions import (
    bargain,
    coupons,
    distribution,
    figures,
    flashsale,
    groupbuy,
    lifecycle,
    lists,
    referrals,
    risk,
    schemas,
)
from huoli.promotions import models as tables
from huoli.promotions.common import get_named, new_id
from huoli.promotions.models import (
    Bargain,
    BargainCampaign,
    Commission,
    Coupon,
    CouponTemplate,
    DistributionConfig,
    FlashReservation,
    Group,
    GroupCampaign,
    GroupMember,
    PaidOrder,
    ReferralBinding,
    ReferralProgram,
    Refund,
)
from huoli.promotions.schemas import ActivityOut, ActivityResultsOut
from huoli.users import service as users
from huoli.wechat.client import WeChatClient
from huoli.work import Work

UserFacts = users.UserFacts


def user_facts(db: Session, user_id: str) -> UserFacts | None:
    """The openid (for WeChat's risk rank) and first-login time (new-user rules) of a mini-program user."""
    return users.user_facts(db, user_id)


def record_paid_order(work: Work, *, order_id: str, user_id: str, paid_fen: int) -> bool:
    """Remember a paid order; True when it is the user's first one reported here (decided by the database)."""
    db = work.db
    insert_or_ignore(
        db,
        PaidOrder,
        {
            "id": new_id("po"),
            "app_id": work.app_id,
            "order_id": order_id,
            "user_id": user_id,
            "paid_fen": paid_fen,
            "paid_at": work.now,
        },
    )
    first = db.execute(
        select(PaidOrder.order_id)
        .where(PaidOrder.user_id == user_id)
        .order_by(PaidOrder.paid_at, PaidOrder.id)
    ).first()
    return first is not None and first[0] == order_id


@dataclass
class OrderPaidResult:
    redeemed_coupons: list[str] = field(default_factory=list)
    flash_reservation: str | None = None
    referrals_rewarded: int = 0
    commissions: list[dict[str, object]] = field(default_factory=list)


def order_paid(
    work: Work,
    *,
    order_id: str,
    user_id: str,
    paid_fen: int,
    coupon_ids: list[str],
    flash_reservation_id: str | None,
    referral_blocked_reason: str | None = None,
    qualify_referral: bool = True,
) -> OrderPaidResult:
    """The merchant backend says the order was paid. Idempotent: reporting it again changes nothing."""
    out = OrderPaidResult()
    first = record_paid_order(work, order_id=order_id, user_id=user_id, paid_fen=paid_fen)
    out.redeemed_coupons = coupons.redeem(work, order_id=order_id, coupon_ids=coupon_ids, user_id=user_id)
    if flash_reservation_id:
        out.flash_reservation = flashsale.mark_paid(
            work, reservation_id=flash_reservation_id, order_id=order_id
        ).id
    if first and qualify_referral:
        out.referrals_rewarded = len(
            referrals.qualify(
                work, invitee_user_id=user_id, action="first_order", blocked_reason=referral_blocked_reason
            )
        )
    out.commissions = [
        {"level": c.level, "distributor_user_id": c.distributor_user_id, "amount_fen": c.amount_fen}
        for c in distribution.on_order_paid(work, order_id=order_id, buyer_user_id=user_id, paid_fen=paid_fen)
    ]
    return out


def order_refunded(work: Work, *, order_id: str) -> dict[str, int]:
    return {
        "coupons_returned": len(coupons.roll_back(work, order_id=order_id)),
        "commissions_reversed": distribution.on_order_refunded(work, order_id=order_id),
    }


def order_cancelled(work: Work, *, order_id: str, flash_reservation_id: str | None) -> dict[str, int]:
    released = coupons.release(work, order_id=order_id)
    gate = flashsale.gate_for(work.settings.redis_url)
    stock = (
        flashsale.cancel(work, reservation_id=flash_reservation_id, gate=gate) if flash_reservation_id else []
    )
    return {"coupons_released": len(released), "flash_units_returned": sum(r[3] for r in stock)}


def order_partly_refunded(
    work: Work, *, order_id: str, refund_key: str, remaining_before_fen: int, remaining_after_fen: int
) -> dict[str, int]:
    """Part of a paid order was refunded: its commissions shrink pro rata; coupons stay redeemed until the
    order is refunded in full (order_refunded)."""
    return {
        "commissions_reduced": distribution.on_order_partly_refunded(
            work,
            order_id=order_id,
            refund_key=refund_key,
            remaining_before_fen=remaining_before_fen,
            remaining_after_fen=remaining_after_fen,
        )
    }


def join_group(
    work: Work,
    *,
    campaign_id: str,
    group_id: str | None,
    user_id: str,
    out_trade_no: str,
    paid_fen: int,
) -> dict[str, Any]:
    """A paid group-buy join (the signed groups/join call's use case); a join that can't be honoured is
    answered 'rejected' and refunded by the refunds job."""
    m, g = groupbuy.join(
        work,
        campaign_id=campaign_id,
        group_id=group_id,
        user_id=user_id,
        out_trade_no=out_trade_no,
        paid_fen=paid_fen,
    )
    return {
        "member_id": m.id,
        "status": m.status,
        "group_id": g.id if g else None,
        "group_status": g.status if g else None,
        "member_count": g.member_count if g else None,
    }


def referral_risk_openid(db: Session, user_id: str) -> str | None:
    """The openid to risk-check before this user's paid order may reward a referral; None when no reward is
    pending (or the user is unknown), so no WeChat call is worth making."""
    if not referrals.has_pending_binding(db, user_id):
        return None
    facts = user_facts(db, user_id)
    return facts.openid if facts else None


@dataclass(frozen=True)
class ReferralVerdict:
    """What WeChat's risk rank means for a paid order's referral: blocked (with the reason to record), or
    not checked now (WeChat unavailable: settle the order, leave the referral bound for a retry)."""

    blocked_reason: str | None = None
    qualify: bool = True


def referral_verdict(wechat: WeChatClient, *, openid: str, client_ip: str) -> ReferralVerdict:
    """Ask WeChat (outside any transaction: it is a network call) as the order-paid route does."""
    try:
        rank = risk.risk_rank(wechat, openid=openid, client_ip=client_ip)
        risk.check_rank(rank)
    except risk.RiskRefused as exc:
        return ReferralVerdict(blocked_reason=f"risk_rank_{(exc.details or {}).get('risk_rank')}")
    except HuoliError:
        return ReferralVerdict(qualify=False)
    return ReferralVerdict()


def record_referral_block(work: Work, *, user_id: str, reason: str) -> None:
    """Log the refusal (reward_blocked) in the caller's transaction."""
    risk.record_block(work, user_id=user_id, action="referral", reason=reason)


_RULED: dict[str, type[CouponTemplate | GroupCampaign | BargainCampaign | ReferralProgram]] = {
    "coupon": CouponTemplate,
    "group": GroupCampaign,
    "bargain": BargainCampaign,
    "referral": ReferralProgram,
}


def rules_text(db: Session, *, app_id: str, kind: str, item_id: str) -> str:
    """The rule text a campaign must display (活动规则); distribution has one per app."""
    if kind == "distribution":
        if db.get(DistributionConfig, app_id) is None:
            raise NotFound(f"{kind} {item_id!r} not found")
        return distribution.rules_text(db, app_id)
    model = _RULED.get(kind)
    if model is None:
        raise NotFound(f"unknown kind {kind!r}")
    row = get_named(db, model, item_id)
    if row is None:
        raise NotFound(f"{kind} {item_id!r} not found")
    return row.rules_text


def run_jobs(work: Work) -> dict[str, object]:
    """Every periodic job except refund payment (which calls WeChat Pay), for the work's app: safe to run
    often and concurrently."""
    return {
        "coupons": coupons.expire(work),
        "flash_expired": len(flashsale.expire_unpaid(work, gate=flashsale.gate_for(work.settings.redis_url))),
        "groups": groupbuy.close_due(work),
        "bargains_expired": bargain.expire(work),
        "commissions_credited": distribution.credit_due(work),
    }


def overview(*, db: Session) -> dict[str, object]:
    """Counts for the admin dashboard: participation and conversion per mechanic."""

    def by_status(model: type, column: Any) -> dict[str, int]:
        return {
            k: int(v) for k, v in db.execute(select(column, func.count()).select_from(model).group_by(column))
        }

    return {
        "coupons": by_status(Coupon, Coupon.status),
        "flash_reservations": by_status(FlashReservation, FlashReservation.status),
        "groups": by_status(Group, Group.status),
        "group_members": by_status(GroupMember, GroupMember.status),
        "refunds": by_status(Refund, Refund.status),
        "bargains": by_status(Bargain, Bargain.status),
        "referrals": by_status(ReferralBinding, ReferralBinding.status),
        "commissions": by_status(Commission, Commission.status),
    }


# --- for other domains: coupons issued on their behalf, campaigns for the weekly report ---------------


def claim_coupon(
    work: Work, *, template_id: str, user_id: str, claim_key: str, source: str
) -> tuple[str, bool]:
    """Issue one coupon of a template once per claim key, under the template's stock and limits (loyalty's
    rewards and points mall): (coupon id, whether this call issued it); raises the HuoliError of a refusal."""
    coupon, created = coupons.claim(
        work, template_id=template_id, user_id=user_id, claim_key=claim_key, source=source
    )
    return coupon.id, created


def coupon_template_exists(db: Session, *, app_id: str, template_id: str | None) -> bool:
    found = template_id is not None and db.scalar(
        select(func.count())
        .select_from(tables.CouponTemplate)
        .where(tables.CouponTemplate.app_id == app_id, tables.CouponTemplate.id == template_id)
    )
    return bool(found)


def coupon_for_claim(db: Session, claim_key: str) -> str | None:
    """The id of the coupon a claim key issued, if any."""
    return db.scalar(select(tables.Coupon.id).where(tables.Coupon.claim_key == claim_key))


def live_campaigns(db: Session, *, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Each campaign live at some time in [start, end): {mechanic, id, name}, per mechanic in creation order."""
    out: list[dict[str, Any]] = []
    for t in db.scalars(select(tables.CouponTemplate).order_by(tables.CouponTemplate.created_at)):
        if (
            t.active
            and t.created_at < end
            and (t.valid_from is None or t.valid_from < end)
            and (t.valid_until is None or t.valid_until >= start)
        ):
            out.append({"mechanic": "coupons", "id": t.id, "name": t.name})
    for s in db.scalars(select(tables.FlashSession).order_by(tables.FlashSession.starts_at)):
        if s.starts_at < end and s.ends_at >= start:
            out.append({"mechanic": "flashsale", "id": s.id, "name": s.name})
    models: list[tuple[str, Any]] = [
        ("groupbuy", tables.GroupCampaign),
        ("bargain", tables.BargainCampaign),
        ("referral", tables.ReferralProgram),
    ]
    for mech, model in models:
        for c in db.scalars(select(model).order_by(model.created_at)):
            if c.active and c.created_at < end:
                out.append({"mechanic": mech, "id": c.id, "name": c.name})
    return out


# --- activities (C1): the calendar's and the results page's view of every promotion ----------------------


def activities(work: Work, start: date, end: date, state: str | None = None) -> list[ActivityOut]:
    """Every promotion activity overlapping the local days [start, end] in the app's timezone, with its state
    and live figures; an activity without a window counts from its creation and shows null dates."""
    lo = datetime.combine(start, time(0), tzinfo=work.tz)
    hi = datetime.combine(end + timedelta(days=1), time(0), tzinfo=work.tz)
    out: list[ActivityOut] = []
    for kind, model in lifecycle.MODELS.items():
        rows = [
            r
            for r in work.db.scalars(select(model).order_by(model.created_at, model.id))
            if lifecycle.overlaps(r, lo, hi)
        ]
        out += [a for a in lists.activities(work, kind, rows) if state is None or a.state == state]
    out.sort(key=lambda a: (a.starts_at is not None, a.starts_at or lo, a.kind, a.id))
    return out


def activity_results(work: Work, kind: str, activity_id: str) -> ActivityResultsOut:
    """An activity's funnel, cost, sharing and daily figures, and the mechanic's baseline just before it."""
    row = lifecycle.get(work.db, kind, activity_id)
    return ActivityResultsOut.model_validate(figures.results(work, kind, row))


# --- for marketing's festival plans: an activity from the create body the admin API takes ---------------

PLAN_KINDS = (
    "coupon-templates",
    "gift-packs",
    "flash-sessions",
    "flash-daily",
    "flash-items",
    "group-campaigns",
    "bargain-campaigns",
    "referral-programs",
)


def validate_activity(kind: str, body: dict[str, Any]) -> Any:
    """The create body of `kind` checked by the schema its admin route uses; raises pydantic's ValidationError
    (the caller names the field) or KeyError for an unknown kind."""
    shapes: dict[str, Any] = {
        "coupon-templates": schemas.CouponTemplateIn,
        "gift-packs": schemas.GiftPackIn,
        "flash-sessions": schemas.FlashSessionIn,
        "flash-daily": schemas.DailySessionsIn,
        "flash-items": schemas.FlashItemIn,
        "group-campaigns": schemas.GroupCampaignIn,
        "bargain-campaigns": schemas.BargainCampaignIn,
        "referral-programs": schemas.ReferralProgramIn,
    }
    return shapes[kind].model_validate(body)


def create_activity(work: Work, kind: str, body: dict[str, Any]) -> list[str]:
    """Create one activity as its admin route would (same schema, same rules): the ids created. Raises the
    schema's ValidationError or the mechanic's HuoliError; never commits (a plan is one unit of work)."""
    spec = validate_activity(kind, body)
    if kind == "coupon-templates":
        return [coupons.create_template(work, spec).id]
    if kind == "gift-packs":
        return [coupons.create_gift_pack(work, spec).id]
    if kind == "flash-sessions":
        return [flashsale.create_session(work, spec).id]
    if kind == "flash-daily":
        return [s.id for s in flashsale.create_daily_sessions(work, spec)]
    if kind == "flash-items":
        return [flashsale.create_item(work, spec).id]
    if kind == "group-campaigns":
        return [groupbuy.create_campaign(work, spec).id]
    if kind == "bargain-campaigns":
        return [bargain.create_campaign(work, spec).id]
    return [referrals.create_program(work, spec).id]


def coupon_thresholds(db: Session, template_ids: list[str]) -> dict[str, int]:
    """The 满 threshold (fen) of each threshold coupon template among `template_ids` (the calendar's
    same-threshold warning)."""
    if not template_ids:
        return {}
    rows = db.execute(
        select(tables.CouponTemplate.id, tables.CouponTemplate.threshold_fen).where(
            tables.CouponTemplate.id.in_(template_ids), tables.CouponTemplate.kind == "threshold"
        )
    )
    return {tid: int(fen) for tid, fen in rows}
