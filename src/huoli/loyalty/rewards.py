"""Hands out one reward (points, coupon, badge, growth) once per grant key, and the tier benefits tiers.py finds due."""

from __future__ import annotations

from collections import Counter

from sqlalchemy.orm import Session

from huoli.db import insert_or_ignore
from huoli.errors import HuoliError
from huoli.loyalty import badges, ledger, tiers
from huoli.loyalty.context import Ctx
from huoli.loyalty.models import RewardGrant
from huoli.loyalty.schemas import Reward
from huoli.promotions import service as promotions


def grant(db: Session, ctx: Ctx, *, user_id: str, reward: Reward, key: str, source: str) -> bool:
    """True when this call granted it. A coupon reward is issued by the promotions domain in the same
    transaction (its limits and stock apply); when it can't be, the grant still counts once and the event
    says why, so a check-in never fails for a coupon template that ran out."""
    won = insert_or_ignore(
        db,
        RewardGrant,
        {
            "app_id": ctx.app_id,
            "user_id": user_id,
            "grant_key": key,
            "source": source,
            "reward_type": reward.type,
            "ref": reward.ref,
            "amount": reward.amount,
            "created_at": ctx.now,
        },
        ["app_id", "grant_key"],
    )
    if not won:
        return False
    if reward.type == "points":
        rule = ctx.rules.points.actions.get(source)
        ledger.earn(
            db,
            ctx,
            user_id=user_id,
            points=reward.amount,
            reason=source,
            key=f"grant:{key}",
            daily_cap=rule.daily_cap if rule else None,
        )
    elif reward.type == "badge":
        assert reward.ref is not None
        badges.ensure(db, ctx, reward.ref)
        badges.award(db, ctx, user_id=user_id, code=reward.ref, source=source)
    elif reward.type == "growth":
        tiers.add_growth(db, ctx, user_id=user_id, amount=reward.amount, source=source, key=f"grant:{key}")
    coupon: dict[str, str] = {}
    if reward.type == "coupon":
        assert reward.ref is not None
        coupon, _ = issue_coupon(db, ctx, user_id=user_id, template_id=reward.ref, key=f"loyalty:grant:{key}")
    ctx.emit(
        "loyalty_reward",
        key=f"grant:{key}",
        user_id=user_id,
        properties={"reward_type": reward.type, "source": source, "amount": reward.amount}
        | ({"ref": reward.ref} if reward.ref else {})
        | coupon,
    )
    return True


def issue_coupon(
    db: Session, ctx: Ctx, *, user_id: str, template_id: str, key: str
) -> tuple[dict[str, str], bool]:
    """Issue one coupon of a promotions template, once per key: ({"coupon_id"} or {"coupon_error": code},
    whether this call issued it).
    A savepoint keeps a refused issue (inactive, sold out, per-user limit) from undoing the caller's work."""
    try:
        with db.begin_nested():  # the promotions domain owns coupon stock and limits
            coupon_id, created = promotions.claim_coupon(
                ctx.work,
                template_id=template_id,
                user_id=user_id,
                claim_key=key,
                source="loyalty",
            )
    except HuoliError as exc:
        return {"coupon_error": exc.code}, False
    return {"coupon_id": coupon_id}, created


def issue_benefits(db: Session, ctx: Ctx) -> dict[str, object]:
    """The tier-benefits job: each member's tier `monthly_coupons`, one of each per local month, and the
    `birthday_gift` (tiers.birthday_gifts_due). Safe to run daily: the claim keys (per month, per year) make
    every later run of the period issue nothing."""
    issued, already, gifts = 0, 0, 0
    failed: Counter[str] = Counter()  # promotions error code → count (sold out, inactive, missing template)
    for due in tiers.monthly_coupons_due(db, ctx):
        out, created = issue_coupon(db, ctx, user_id=due.user_id, template_id=due.template_id, key=due.key)
        if "coupon_error" in out:
            failed[out["coupon_error"]] += 1
        elif created:
            issued += 1
        else:
            already += 1
    for due in tiers.birthday_gifts_due(db, ctx):
        out, created = issue_coupon(db, ctx, user_id=due.user_id, template_id=due.template_id, key=due.key)
        if "coupon_error" in out:
            failed[out["coupon_error"]] += 1
        elif created:
            gifts += 1
    return {
        "month": ctx.today.strftime("%Y-%m"),
        "issued": issued,
        "already_this_month": already,
        "birthday_gifts": gifts,
        "failed": dict(failed),
    }
