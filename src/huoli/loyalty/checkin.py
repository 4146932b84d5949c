"""签到 daily check-in: once per member per local day (a unique key, so a double tap rewards once), streaks
with reset modes, streak and cumulative milestone rewards, 补签 make-up days paid with points, a calendar."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Integer, func, select, update
from sqlalchemy.orm import Session

from huoli.db import insert_or_ignore
from huoli.errors import Conflict, ValidationFailed
from huoli.loyalty import leaderboards, ledger, repository, rewards, tasks, tiers
from huoli.loyalty.context import Ctx
from huoli.loyalty.models import Checkin, RewardGrant
from huoli.loyalty.schemas import (
    CalendarDay,
    CalendarOut,
    CheckinDay,
    CheckinOut,
    CheckinSummaryOut,
    Reward,
    RewardCount,
    StreakBucket,
)


def _starts_cycle(ctx: Ctx, day: date) -> bool:
    """Under weekly/monthly reset a streak restarts on Monday / the 1st."""
    reset = ctx.rules.checkin.reset
    return (reset == "weekly" and day.isoweekday() == 1) or (reset == "monthly" and day.day == 1)


def _streak_after(ctx: Ctx, prev: Checkin | None, day: date) -> int:
    if prev is None or prev.local_date != day - timedelta(days=1) or _starts_cycle(ctx, day):
        return 1
    return prev.streak + 1


def _row(db: Session, user_id: str, day: date) -> Checkin | None:
    return db.scalars(select(Checkin).where(Checkin.user_id == user_id, Checkin.local_date == day)).first()


def _total(db: Session, user_id: str) -> int:
    return int(db.scalar(select(func.count()).select_from(Checkin).where(Checkin.user_id == user_id)) or 0)


def _milestones(db: Session, ctx: Ctx, user_id: str, day: date, streak: int, total: int) -> list[Reward]:
    """Grant every milestone the run ending on `day` and the cumulative count have reached, once each:
    keys name the run by its first day, so a make-up that joins two runs can't re-grant a milestone."""
    got: list[Reward] = []
    run_start = day - timedelta(days=streak - 1)
    for m in ctx.rules.checkin.streak_rewards:
        if m.day <= streak and rewards.grant(
            db,
            ctx,
            user_id=user_id,
            reward=m.reward,
            key=f"streak:{user_id}:{run_start}:{m.day}",
            source="checkin_streak",
        ):
            got.append(m.reward)
    for m in ctx.rules.checkin.total_rewards:
        if m.day <= total and rewards.grant(
            db, ctx, user_id=user_id, reward=m.reward, key=f"total:{user_id}:{m.day}", source="checkin_total"
        ):
            got.append(m.reward)
    return got


def check_in(db: Session, ctx: Ctx, *, user_id: str) -> CheckinOut:
    today = ctx.today
    if db.new or db.dirty or db.deleted:
        db.flush()  # a Core statement doesn't autoflush
    rows = repository.insert_checkin(
        db,
        {
            "user_id": user_id,
            "today": today,
            "run_from": today if _starts_cycle(ctx, today) else today - timedelta(days=1),
            "makeup": False,
            "now": ctx.now,
        },
    )
    found = rows[0] if rows else None
    if found is None:  # today's row exists: a repeat, or a concurrent tap of the same member won the day
        mine = _row(db, user_id, today)
        assert mine is not None
        streak, total, won = mine.streak, mine.total, 0
    else:
        streak, total, won = int(found[0]), int(found[1]), int(found[2])
    if not won:
        return CheckinOut(
            local_date=today, checked_in=False, streak=streak, total_days=total, points=0, rewards=[]
        )
    rule = ctx.rules.points.actions.get("checkin")
    points = 0
    if rule is not None and rule.points:
        points = ledger.earn(
            db,
            ctx,
            user_id=user_id,
            points=rule.points,
            reason="checkin",
            key=f"checkin:{user_id}:{today}",
            daily_cap=rule.daily_cap,
        ).points
    ctx.emit(
        "checkin",
        key=f"checkin:{user_id}:{today}",
        user_id=user_id,
        properties={"streak": streak, "local_date": today.isoformat()},
    )
    got = _milestones(db, ctx, user_id, today, streak, total)
    tiers.add_growth(
        db,
        ctx,
        user_id=user_id,
        amount=ctx.rules.tiers.growth_per_active_day,
        source="active_day",
        key=f"active:{user_id}:{today}",
    )
    leaderboards.record(db, ctx, user_id=user_id, board="checkin_streak", value=streak, mode="max")
    tasks.consume(db, ctx, user_id=user_id, event="checkin", unit=str(today), properties={"streak": streak})
    return CheckinOut(
        local_date=today, checked_in=True, streak=streak, total_days=total, points=points, rewards=got
    )


def make_up(db: Session, ctx: Ctx, *, user_id: str, day: date) -> CheckinOut:
    """补签 a missed day within the window, paid with points; later streaks are recomputed."""
    rule = ctx.rules.checkin
    today = ctx.today
    if not (today - timedelta(days=rule.makeup_window_days) <= day < today):
        raise ValidationFailed(
            f"make-up check-in is possible for the last {rule.makeup_window_days} days before today",
            details=[
                {
                    "field": "local_date",
                    "message": f"between {today - timedelta(days=rule.makeup_window_days)} "
                    f"and {today - timedelta(days=1)}",
                }
            ],
            code="makeup_out_of_window",
        )
    prev = _row(db, user_id, day - timedelta(days=1))
    before = db.scalars(
        select(Checkin)
        .where(Checkin.user_id == user_id, Checkin.local_date < day)
        .order_by(Checkin.local_date.desc())
        .limit(1)
    ).first()
    won = insert_or_ignore(
        db,
        Checkin,
        {
            "app_id": ctx.app_id,
            "user_id": user_id,
            "local_date": day,
            "streak": _streak_after(ctx, prev, day),
            "total": (before.total if before is not None else 0) + 1,
            "makeup": True,
            "created_at": ctx.now,
        },
        ["app_id", "user_id", "local_date"],
    )
    if not won:
        raise Conflict(f"{day} is already checked in", code="already_checked_in")
    if rule.makeup_cost:
        ledger.spend(
            db,
            ctx,
            user_id=user_id,
            points=rule.makeup_cost,
            reason="makeup",
            key=f"makeup:{user_id}:{day}",
            ref=str(day),
        )
    db.execute(
        update(Checkin)
        .where(Checkin.user_id == user_id, Checkin.local_date > day)
        .values(total=Checkin.total + 1)
    )
    # Re-number the run that now continues through the made-up day.
    rows = list(
        db.scalars(
            select(Checkin)
            .where(Checkin.user_id == user_id, Checkin.local_date >= day)
            .order_by(Checkin.local_date)
        )
    )
    last = prev
    for row in rows:
        if row.local_date != day and (last is None or row.local_date != last.local_date + timedelta(days=1)):
            break
        row.streak = _streak_after(ctx, last, row.local_date)
        last = row
    db.flush()
    assert last is not None
    total = _total(db, user_id)
    ctx.emit(
        "checkin",
        key=f"checkin:{user_id}:{day}",
        user_id=user_id,
        properties={"streak": last.streak, "local_date": day.isoformat(), "makeup": True},
    )
    got = _milestones(db, ctx, user_id, last.local_date, last.streak, total)
    leaderboards.record(db, ctx, user_id=user_id, board="checkin_streak", value=last.streak, mode="max")
    mine = _row(db, user_id, day)
    assert mine is not None
    return CheckinOut(
        local_date=day, checked_in=True, streak=mine.streak, total_days=total, points=0, rewards=got
    )


def current_streak(db: Session, ctx: Ctx, user_id: str) -> tuple[int, bool]:
    """(streak, checked in today): yesterday's streak still counts until today ends (unless a cycle starts)."""
    today = ctx.today
    row = _row(db, user_id, today)
    if row is not None:
        return row.streak, True
    prev = _row(db, user_id, today - timedelta(days=1))
    return (prev.streak if prev is not None and not _starts_cycle(ctx, today) else 0), False


def calendar(db: Session, ctx: Ctx, *, user_id: str, month: str | None) -> CalendarOut:
    today = ctx.today
    try:
        if month is None:
            first = today.replace(day=1)
        else:
            y, m = (int(p) for p in month.split("-"))
            first = date(y, m, 1)
        nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    except ValueError as exc:  # not a month, or one whose next month is past datetime's range (9999-12)
        raise ValidationFailed(
            "month must be YYYY-MM", details=[{"field": "month", "message": "e.g. 2026-11"}]
        ) from exc
    rows = db.scalars(
        select(Checkin)
        .where(Checkin.user_id == user_id, Checkin.local_date >= first, Checkin.local_date < nxt)
        .order_by(Checkin.local_date)
    )
    streak, done = current_streak(db, ctx, user_id)
    return CalendarOut(
        month=f"{first.year}-{first.month:02d}",
        today=today,
        checked_in_today=done,
        streak=streak,
        total_days=_total(db, user_id),
        days=[CalendarDay(local_date=r.local_date, makeup=r.makeup, streak=r.streak) for r in rows],
        makeup_cost=ctx.rules.checkin.makeup_cost,
        makeup_window_days=ctx.rules.checkin.makeup_window_days,
        reset=ctx.rules.checkin.reset,
    )


# Streak lengths operators read at a glance: new, building, a week or more, a month or more.
STREAK_BUCKETS = ((1, 1), (2, 6), (7, 29), (30, None))


def summary(db: Session, ctx: Ctx) -> CheckinSummaryOut:
    """Today's check-ins, the last 7 local days, the live streaks by length and the milestone rewards granted
    in the last 7 days."""
    today = ctx.today
    first = today - timedelta(days=6)
    per_day = {
        day: (int(n), int(makeups or 0))
        for day, n, makeups in db.execute(
            select(Checkin.local_date, func.count(), func.sum(func.cast(Checkin.makeup, Integer())))
            .where(Checkin.local_date >= first, Checkin.local_date <= today)
            .group_by(Checkin.local_date)
        )
    }
    days = [
        CheckinDay(local_date=d, checkins=per_day.get(d, (0, 0))[0], makeups=per_day.get(d, (0, 0))[1])
        for d in (first + timedelta(days=i) for i in range(7))
    ]
    # A run is alive while its member checked in today or yesterday (today's row, when there is one, is newer).
    alive: dict[str, tuple[date, int]] = {}
    for user_id, day, streak in db.execute(
        select(Checkin.user_id, Checkin.local_date, Checkin.streak).where(
            Checkin.local_date >= today - timedelta(days=1), Checkin.local_date <= today
        )
    ):
        if user_id not in alive or alive[user_id][0] < day:
            alive[user_id] = (day, streak)
    streaks = [
        StreakBucket(
            min_days=lo,
            max_days=hi,
            members=sum(1 for _, s in alive.values() if s >= lo and (hi is None or s <= hi)),
        )
        for lo, hi in STREAK_BUCKETS
    ]
    grants = db.execute(
        select(RewardGrant.source, RewardGrant.reward_type, RewardGrant.ref, RewardGrant.amount, func.count())
        .where(
            RewardGrant.source.in_(("checkin_streak", "checkin_total")),
            RewardGrant.created_at >= ctx.midnight(first),
        )
        .group_by(RewardGrant.source, RewardGrant.reward_type, RewardGrant.ref, RewardGrant.amount)
        .order_by(func.count().desc())
    )
    return CheckinSummaryOut(
        today=today,
        checked_in_today=days[-1].checkins,
        days=days,
        streaks=streaks,
        rewards=[
            RewardCount(source=src, reward_type=kind, ref=ref, amount=int(amount), grants=int(n))
            for src, kind, ref, amount, n in grants
        ],
    )
