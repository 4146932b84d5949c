"""会员等级 membership tiers from 成长值 growth value (spend, active days, successful invites, task rewards).

A member's qualifying growth is the sum of growth entries in the last `window_days` (all time when None).
Upgrades are instant (checked on every growth entry); downgrades follow the policy: never, `after_days`
(only once growth has stayed below the tier's threshold for N days since it last qualified), or `periodic`
(the re-evaluation job puts everyone on the tier their growth supports today).
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huoli.db import insert_or_ignore
from huoli.events import service as events
from huoli.loyalty.context import Ctx
from huoli.loyalty.models import GrowthEntry, MemberTier
from huoli.loyalty.schemas import TierLevel, TierOut

# Downgrades count in days: refreshing "last qualified" at most hourly spares a write on most growth entries.
QUALIFIED_REFRESH = timedelta(hours=1)


def growth(db: Session, ctx: Ctx, user_id: str) -> int:
    stmt = select(func.coalesce(func.sum(GrowthEntry.amount), 0)).where(GrowthEntry.user_id == user_id)
    window = ctx.rules.tiers.window_days
    if window is not None:
        stmt = stmt.where(GrowthEntry.created_at > ctx.now - timedelta(days=window))
    return max(0, int(db.scalar(stmt) or 0))


def level_for(ctx: Ctx, value: int) -> TierLevel:
    levels = ctx.rules.tiers.levels
    return next(lv for lv in reversed(levels) if value >= lv.min_growth)


def _level(ctx: Ctx, code: str) -> TierLevel:
    return next((lv for lv in ctx.rules.tiers.levels if lv.code == code), ctx.rules.tiers.levels[0])


def _index(ctx: Ctx, code: str) -> int:
    return next((i for i, lv in enumerate(ctx.rules.tiers.levels) if lv.code == code), 0)


def _member(db: Session, ctx: Ctx, user_id: str) -> MemberTier:
    member = db.get(MemberTier, (ctx.app_id, user_id))
    if member is not None:
        return member
    first = ctx.rules.tiers.levels[0].code
    # Two first growth entries of one member can race: the primary key decides, not the read above.
    insert_or_ignore(
        db,
        MemberTier,
        {
            "app_id": ctx.app_id,
            "user_id": user_id,
            "tier": first,
            "tier_since": ctx.now,
            "qualified_at": ctx.now,
        },
        ["app_id", "user_id"],
    )
    member = db.get(MemberTier, (ctx.app_id, user_id))
    assert member is not None
    return member


def _change(db: Session, ctx: Ctx, member: MemberTier, to: str) -> None:
    before = member.tier
    member.tier, member.tier_since, member.qualified_at = to, ctx.now, ctx.now
    events.emit(
        db=db,
        app_id=ctx.app_id,
        name="tier_changed",
        ts=ctx.now,
        idempotency_key=f"loyalty:tier:{member.user_id}:{before}:{to}:{ctx.now.isoformat()}",
        user_id=member.user_id,
        properties={"from_tier": before, "to_tier": to},
        settings=ctx.settings,
    )


def add_growth(db: Session, ctx: Ctx, *, user_id: str, amount: int, source: str, key: str) -> bool:
    """Append a growth entry once per key, then upgrade instantly if the member now qualifies higher."""
    if amount == 0:
        return False
    added = insert_or_ignore(
        db,
        GrowthEntry,
        {
            "app_id": ctx.app_id,
            "user_id": user_id,
            "entry_key": key,
            "source": source,
            "amount": amount,
            "created_at": ctx.now,
        },
        ["app_id", "entry_key"],
    )
    if added:
        evaluate(db, ctx, user_id=user_id, job=False)
    return added


def evaluate(db: Session, ctx: Ctx, *, user_id: str, job: bool) -> str:
    """Apply upgrade (always) and downgrade (per policy; only from the job unless policy allows)."""
    member = _member(db, ctx, user_id)
    value = growth(db, ctx, user_id)
    target = level_for(ctx, value)
    current = _index(ctx, member.tier)
    wanted = _index(ctx, target.code)
    if wanted > current:
        _change(db, ctx, member, target.code)
    elif wanted == current and ctx.now - member.qualified_at >= QUALIFIED_REFRESH:
        member.qualified_at = ctx.now
    elif job:
        policy = ctx.rules.tiers.downgrade
        if policy == "periodic" or (
            policy == "after_days"
            and ctx.now - member.qualified_at >= timedelta(days=ctx.rules.tiers.downgrade_after_days)
        ):
            _change(db, ctx, member, target.code)
    db.flush()
    return member.tier


def reevaluate_all(db: Session, ctx: Ctx) -> dict[str, int]:
    """The periodic job: every member with a tier or growth; returns {tier: members} after the run."""
    users = set(db.scalars(select(MemberTier.user_id))) | set(
        db.scalars(select(GrowthEntry.user_id).distinct())
    )
    counts: dict[str, int] = {}
    for user_id in sorted(users):
        tier = evaluate(db, ctx, user_id=user_id, job=True)
        counts[tier] = counts.get(tier, 0) + 1
    return counts


def is_member_day(ctx: Ctx, day: date | None = None) -> bool:
    md = ctx.rules.tiers.member_day
    return md is not None and (day or ctx.today).day == md


def status(db: Session, ctx: Ctx, user_id: str) -> TierOut:
    member = db.get(MemberTier, (ctx.app_id, user_id))
    value = growth(db, ctx, user_id)
    code = member.tier if member is not None else level_for(ctx, value).code
    level = _level(ctx, code)
    levels = ctx.rules.tiers.levels
    i = _index(ctx, code)
    nxt = levels[i + 1] if i + 1 < len(levels) else None
    return TierOut(
        tier=level.code,
        name=level.name,
        growth=value,
        next_tier=nxt.code if nxt else None,
        next_min_growth=nxt.min_growth if nxt else None,
        tier_since=member.tier_since if member is not None else None,
        benefits=level,
        member_day=ctx.rules.tiers.member_day,
        is_member_day=is_member_day(ctx),
    )


def record_invite(db: Session, ctx: Ctx, *, inviter_id: str, invitee_id: str) -> bool:
    """A successful invite: called when the invitee acted (registered, ordered) — never on the share itself."""
    return add_growth(
        db,
        ctx,
        user_id=inviter_id,
        amount=ctx.rules.tiers.growth_per_invite,
        source="invite",
        key=f"invite:{inviter_id}:{invitee_id}",
    )
