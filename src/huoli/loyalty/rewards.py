"""Hands out one reward (points, coupon placeholder, badge, growth) once per grant key."""

from __future__ import annotations

from sqlalchemy.orm import Session

from huoli.db import insert_or_ignore
from huoli.events import service as events
from huoli.loyalty import badges, ledger, tiers
from huoli.loyalty.context import Ctx
from huoli.loyalty.models import RewardGrant
from huoli.loyalty.schemas import Reward


def grant(db: Session, ctx: Ctx, *, user_id: str, reward: Reward, key: str, source: str) -> bool:
    """True when this call granted it. Coupons are recorded and announced (event `loyalty_reward`) for the
    promotions domain to issue; huoli's loyalty engine does not own coupon stock."""
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
    events.emit(
        db=db,
        app_id=ctx.app_id,
        name="loyalty_reward",
        ts=ctx.now,
        idempotency_key=f"loyalty:grant:{key}",
        user_id=user_id,
        properties={"reward_type": reward.type, "source": source, "amount": reward.amount}
        | ({"ref": reward.ref} if reward.ref else {}),
        settings=ctx.settings,
    )
    return True
