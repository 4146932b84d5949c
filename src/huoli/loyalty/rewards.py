"""Hands out one reward (points, coupon, badge, growth) once per grant key."""

from __future__ import annotations

from sqlalchemy.orm import Session

from huoli.db import insert_or_ignore
from huoli.errors import HuoliError
from huoli.events import service as events
from huoli.loyalty import badges, ledger, tiers
from huoli.loyalty.context import Ctx
from huoli.loyalty.models import RewardGrant
from huoli.loyalty.schemas import Reward


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
    events.emit(
        db=db,
        app_id=ctx.app_id,
        name="loyalty_reward",
        ts=ctx.now,
        idempotency_key=f"loyalty:grant:{key}",
        user_id=user_id,
        properties={"reward_type": reward.type, "source": source, "amount": reward.amount}
        | ({"ref": reward.ref} if reward.ref else {})
        | coupon,
        settings=ctx.settings,
    )
    return True


def issue_coupon(
    db: Session, ctx: Ctx, *, user_id: str, template_id: str, key: str
) -> tuple[dict[str, str], bool]:
    """Issue one coupon of a promotions template, once per key: ({"coupon_id"} or {"coupon_error": code},
    whether this call issued it).
    A savepoint keeps a refused issue (inactive, sold out, per-user limit) from undoing the caller's work."""
    from huoli.promotions import coupons  # the promotions domain owns coupon stock and limits

    try:
        with db.begin_nested():
            issued, created = coupons.claim(
                db=db,
                settings=ctx.settings,
                app_id=ctx.app_id,
                template_id=template_id,
                user_id=user_id,
                claim_key=key,
                now=ctx.now,
                source="loyalty",
            )
    except HuoliError as exc:
        return {"coupon_error": exc.code}, False
    return {"coupon_id": issued.id}, created
