"""会员等级 membership tiers from 成长值 growth value (spend, active days, successful invites, task rewards).

A member's qualifying growth is the sum of growth entries in the last `window_days` (all time when None).
Upgrades are instant (checked on every growth entry); downgrades follow the policy: never, `after_days`
(only once growth has stayed below the tier's threshold for N days since it last qualified), or `periodic`
(the re-evaluation job puts everyone on the tier their growth supports today).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, func, select, update
from sqlalchemy.orm import Session

from huoli.db import insert_or_ignore
from huoli.errors import ValidationFailed
from huoli.loyalty import repository
from huoli.loyalty.context import Ctx
from huoli.loyalty.models import GrowthEntry, MemberProfile, MemberTier
from huoli.loyalty.schemas import TierCount, TierLevel, TierOut, TiersSummaryOut

# Downgrades count in days: refreshing "last qualified" at most hourly spares a write on most growth entries.
QUALIFIED_REFRESH = timedelta(hours=1)


def _growth_query(ctx: Ctx, user_id: str) -> Any:
    stmt = select(func.coalesce(func.sum(GrowthEntry.amount), 0)).where(GrowthEntry.user_id == user_id)
    since = _since(ctx)
    return stmt if since is None else stmt.where(GrowthEntry.created_at > since)


def growth(db: Session, ctx: Ctx, user_id: str) -> int:
    return max(0, int(db.scalar(_growth_query(ctx, user_id)) or 0))


def level_for(ctx: Ctx, value: int) -> TierLevel:
    levels = ctx.rules.tiers.levels
    return next(lv for lv in reversed(levels) if value >= lv.min_growth)


def _level(ctx: Ctx, code: str) -> TierLevel:
    return next((lv for lv in ctx.rules.tiers.levels if lv.code == code), ctx.rules.tiers.levels[0])


def _index(ctx: Ctx, code: str) -> int:
    return next((i for i, lv in enumerate(ctx.rules.tiers.levels) if lv.code == code), 0)


def _set(db: Session, user_id: str, **values: Any) -> None:
    # ORM-enabled UPDATE: tenancy-scoped, and keeps a MemberTier already loaded in the session in step.
    db.execute(update(MemberTier).where(MemberTier.user_id == user_id).values(**values))


def _change(db: Session, ctx: Ctx, user_id: str, before: str, to: str) -> None:
    # any change by growth or the job ends an operator's manual tier (growth took the member past it, or it ran out)
    _set(db, user_id, tier=to, tier_since=ctx.now, qualified_at=ctx.now, manual=False, manual_until=None)
    ctx.emit(
        "tier_changed",
        key=f"tier:{user_id}:{before}:{to}:{ctx.now.isoformat()}",
        user_id=user_id,
        properties={"from_tier": before, "to_tier": to},
    )


def add_growth(db: Session, ctx: Ctx, *, user_id: str, amount: int, source: str, key: str) -> bool:
    """Append a growth entry once per key, then upgrade instantly if the member now qualifies higher."""
    if amount == 0:
        return False
    values = {
        "app_id": ctx.app_id,
        "user_id": user_id,
        "entry_key": key,
        "source": source,
        "amount": amount,
        "created_at": ctx.now,
    }
    state: tuple[str, datetime, int] | None = None
    if db.get_bind().dialect.name == "postgresql":
        added, state = _add_growth_pg(db, ctx, values)
    else:
        added = insert_or_ignore(db, GrowthEntry, values, ["app_id", "entry_key"])
    if not added:
        return False
    if state is None:  # SQLite, or PostgreSQL when a concurrent first entry created the member
        _insert_member(db, ctx, user_id)
        state = _state(db, ctx, user_id)
    tier, qualified_at, value = state
    _apply(db, ctx, user_id, tier, qualified_at, value, job=False)
    return True


def _since(ctx: Ctx) -> datetime | None:
    window = ctx.rules.tiers.window_days
    return None if window is None else ctx.now - timedelta(days=window)


def _add_growth_pg(
    db: Session, ctx: Ctx, values: dict[str, Any]
) -> tuple[bool, tuple[str, datetime, int] | None]:
    """One round trip: insert the entry, create the member on its first entry, read tier and growth.

    The read runs in the statement's snapshot, which can't see the entry inserted by the same statement
    (added in by hand) nor a member row a concurrent first entry committed meanwhile (then the caller
    reads again, in a new statement). Returns (added, (tier, qualified_at, growth) or None to read again).
    """
    windowed = ctx.rules.tiers.window_days is not None
    if db.new or db.dirty or db.deleted:
        db.flush()  # a Core statement doesn't autoflush
    params = values | {"first": ctx.rules.tiers.levels[0].code}
    if windowed:
        params["since"] = _since(ctx)
    row = repository.add_growth_pg(db, params, windowed=windowed)
    if row.added is None:
        return False, None
    if row.tier is None:
        return True, None
    return True, (row.tier, row.qualified_at, max(0, int(row.growth) + int(row.added)))


def _insert_member(db: Session, ctx: Ctx, user_id: str) -> None:
    # Two first growth entries of one member can race: the primary key decides, not a prior read.
    insert_or_ignore(
        db,
        MemberTier,
        {
            "app_id": ctx.app_id,
            "user_id": user_id,
            "tier": ctx.rules.tiers.levels[0].code,
            "tier_since": ctx.now,
            "qualified_at": ctx.now,
        },
        ["app_id", "user_id"],
    )


def _state(db: Session, ctx: Ctx, user_id: str) -> tuple[str, datetime, int]:
    """(tier, qualified_at, growth) of an existing member in one read."""
    row = db.execute(
        select(MemberTier.tier, MemberTier.qualified_at, _growth_query(ctx, user_id).scalar_subquery()).where(
            MemberTier.user_id == user_id
        )
    ).one()
    return row[0], row[1], max(0, int(row[2] or 0))


def _apply(
    db: Session, ctx: Ctx, user_id: str, tier: str, qualified_at: datetime, value: int, *, job: bool
) -> str:
    """Upgrade (always) or downgrade (per policy; only from the job); returns the tier after."""
    target = level_for(ctx, value)
    current = _index(ctx, tier)
    wanted = _index(ctx, target.code)
    if wanted > current:
        _change(db, ctx, user_id, tier, target.code)
        return target.code
    if wanted == current and ctx.now - qualified_at >= QUALIFIED_REFRESH:
        _set(db, user_id, qualified_at=ctx.now)
    elif job:
        policy = ctx.rules.tiers.downgrade
        if policy == "periodic" or (
            policy == "after_days"
            and ctx.now - qualified_at >= timedelta(days=ctx.rules.tiers.downgrade_after_days)
        ):
            _change(db, ctx, user_id, tier, target.code)
            return target.code
    return tier


def evaluate(db: Session, ctx: Ctx, *, user_id: str, job: bool) -> str:
    """Apply upgrade (always) and downgrade (per policy; only from the job unless policy allows). A tier an
    operator set is never downgraded before its expiry; once expired the member goes to the tier growth
    supports at once (the policy's grace period was the operator's to give)."""
    _insert_member(db, ctx, user_id)
    tier, qualified_at, value = _state(db, ctx, user_id)
    if job:
        member = db.get(MemberTier, (ctx.app_id, user_id))
        if member is not None and member.manual:
            if member.manual_until is None or ctx.now < member.manual_until:
                job = False
            else:
                target = level_for(ctx, value).code
                if target == tier:
                    _set(db, user_id, manual=False, manual_until=None, qualified_at=ctx.now)
                    return tier
                _change(db, ctx, user_id, tier, target)
                return target
    return _apply(db, ctx, user_id, tier, qualified_at, value, job=job)


def set_manual(db: Session, ctx: Ctx, *, user_id: str, tier: str, until: datetime | None) -> tuple[str, str]:
    """An operator puts a member on a tier (until `until`, or until changed); returns (from, to). Growth may
    still lift the member higher; the job won't lower them before `until`."""
    codes = [lv.code for lv in ctx.rules.tiers.levels]
    if tier not in codes:
        raise ValidationFailed(
            f"no tier {tier!r} in the rules",
            details=[{"field": "tier", "message": f"one of {', '.join(codes)}"}],
        )
    if until is not None and until <= ctx.now:
        raise ValidationFailed(
            "the expiry has passed", details=[{"field": "expires_at", "message": "must be in the future"}]
        )
    _insert_member(db, ctx, user_id)
    before = db.execute(select(MemberTier.tier).where(MemberTier.user_id == user_id)).scalar_one()
    _set(db, user_id, tier=tier, tier_since=ctx.now, qualified_at=ctx.now, manual=True, manual_until=until)
    ctx.emit(
        "tier_changed",
        key=f"tier:{user_id}:{before}:{tier}:{ctx.now.isoformat()}",
        user_id=user_id,
        properties={"from_tier": before, "to_tier": tier, "source": "admin"},
    )
    return before, tier


def summary(db: Session, ctx: Ctx) -> TiersSummaryOut:
    """Members per tier now (and how many of them an operator set), the member day and its next dates."""
    counts = {
        code: (int(n), int(manual or 0))
        for code, n, manual in db.execute(
            select(MemberTier.tier, func.count(), func.sum(func.cast(MemberTier.manual, Integer()))).group_by(
                MemberTier.tier
            )
        )
    }
    rules = ctx.rules.tiers
    return TiersSummaryOut(
        levels=[
            TierCount(
                code=lv.code,
                name=lv.name,
                min_growth=lv.min_growth,
                members=counts.get(lv.code, (0, 0))[0],
                manual=counts.get(lv.code, (0, 0))[1],
            )
            for lv in rules.levels
        ],
        member_day=rules.member_day,
        member_day_multiplier=rules.member_day_multiplier,
        is_member_day=is_member_day(ctx),
        next_member_days=member_days(ctx, ctx.today, ctx.today + timedelta(days=120))[:3],
    )


def member_days(ctx: Ctx, start: date, end: date) -> list[date]:
    """The member days from `start` to `end`, both included (local days)."""
    md = ctx.rules.tiers.member_day
    if md is None or end < start:
        return []
    out = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        day = date(year, month, md)  # member_day <= 28: every month has it
        if start <= day <= end:
            out.append(day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


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


@dataclass(frozen=True)
class DueCoupon:
    """A tier benefit owed: one coupon of a promotions template, issued once per key (rewards.issue_benefits)."""

    user_id: str
    template_id: str
    key: str


def monthly_coupons_due(db: Session, ctx: Ctx) -> list[DueCoupon]:
    """Each member's tier `monthly_coupons`, keyed per local month: a later run of the month issues nothing."""
    month = ctx.today.strftime("%Y-%m")
    by_tier = {lv.code: lv.monthly_coupons for lv in ctx.rules.tiers.levels if lv.monthly_coupons}
    if not by_tier:
        return []
    members = db.execute(
        select(MemberTier.user_id, MemberTier.tier)
        .where(MemberTier.tier.in_(by_tier))
        .order_by(MemberTier.user_id)
    ).all()
    return [
        DueCoupon(user_id, template_id, f"loyalty:tier:{month}:{user_id}:{template_id}")
        for user_id, tier in members
        for template_id in by_tier[tier]
    ]


def birthday_gifts_due(db: Session, ctx: Ctx) -> list[DueCoupon]:
    """Each member whose tier has a `birthday_gift` gets it once a year, from the birthday (local day; 29 Feb
    → 28 Feb in other years) to the end of that month, so a job that missed the day still delivers."""
    gift_of = {lv.code: lv.birthday_gift for lv in ctx.rules.tiers.levels if lv.birthday_gift}
    today = ctx.today
    if not gift_of:
        return []
    rows = db.execute(
        select(MemberTier.user_id, MemberTier.tier, MemberProfile.birthday)
        .join(
            MemberProfile,
            (MemberProfile.app_id == MemberTier.app_id) & (MemberProfile.user_id == MemberTier.user_id),
        )
        .where(MemberTier.tier.in_(gift_of), MemberProfile.birthday.like(f"{today.month:02d}-%"))
        .order_by(MemberTier.user_id)
    ).all()
    due = []
    for user_id, tier, birthday in rows:
        day = int(str(birthday)[3:])
        if today.month == 2 and day == 29 and not calendar.isleap(today.year):
            day = 28
        if today.day < day:
            continue
        due.append(DueCoupon(user_id, gift_of[tier], f"loyalty:birthday:{today.year}:{user_id}"))
    return due


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
        member_day_multiplier=ctx.rules.tiers.member_day_multiplier,
        manual=member.manual if member is not None else False,
        manual_until=member.manual_until if member is not None else None,
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
