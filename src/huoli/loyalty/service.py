"""The loyalty domain's public use cases (other domains import this module, never the tables).

Concepts live in their own modules (ledger, checkin, tasks, badges, leaderboards, tiers, mall); this module
holds the use cases that span several of them, such as a paid order (points + growth + tasks).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from huoli.apps.models import App
from huoli.errors import NotFound
from huoli.events.stores import EventStore
from huoli.loyalty import leaderboards, ledger, mall, rewards, tasks, tiers
from huoli.loyalty.context import Ctx, ctx_for, make_ctx
from huoli.loyalty.models import MallItem, TaskDefinition
from huoli.loyalty.schemas import EarnOut, ReverseOut, ScheduledActivity, TaskIn
from huoli.settings import Settings
from huoli.work import Work


def context_for(
    db: Session, *, app_id: str, now: datetime, settings: Settings, app: App | None = None
) -> Ctx:
    """The app's loyalty rules, timezone and clock, which this service's use cases take as `ctx`."""
    return make_ctx(db, app_id=app_id, now=now, settings=settings, app=app)


def order_paid(db: Session, ctx: Ctx, *, user_id: str, order_id: str, amount_fen: int) -> EarnOut:
    """Points per whole yuan (pending for the after-sale window if configured), growth per yuan, tasks."""
    earned = ledger.earn_for_order(db, ctx, user_id=user_id, order_id=order_id, amount_fen=amount_fen)
    if earned.applied:
        tiers.add_growth(
            db,
            ctx,
            user_id=user_id,
            amount=amount_fen // 100 * ctx.rules.tiers.growth_per_yuan,
            source="spend",
            key=f"order:{order_id}",
        )
        tasks.consume(
            db,
            ctx,
            user_id=user_id,
            event="order_paid",
            unit=order_id,
            properties={"order_id": order_id, "amount_fen": amount_fen},
        )
    return EarnOut(
        points=earned.points,
        business_key=earned.business_key,
        applied=earned.applied,
        available_at=earned.available_at,
        expires_at=earned.expires_at,
    )


def order_refunded(
    db: Session, ctx: Ctx, *, user_id: str, order_id: str, refund_id: str, amount_fen: int
) -> ReverseOut:
    r = ledger.reverse_for_refund(
        db, ctx, user_id=user_id, order_id=order_id, refund_id=refund_id, amount_fen=amount_fen
    )
    if r.applied and r.refunded_yuan:
        tiers.add_growth(
            db,
            ctx,
            user_id=user_id,
            amount=-r.refunded_yuan * ctx.rules.tiers.growth_per_yuan,
            source="refund",
            key=f"refund:{order_id}:{refund_id}",
        )
    return ReverseOut(
        clawed_back=r.clawed_back, restored=r.restored, unrecovered=r.unrecovered, applied=r.applied
    )


def earn_action(db: Session, ctx: Ctx, *, user_id: str, action: str, key: str) -> EarnOut:
    """Points for a configured action (review, …) with its daily cap; sharing is never an action."""
    rule = ctx.rules.points.actions.get(action)
    if rule is None:
        raise NotFound(
            f"no points rule for action {action!r}; configure points.actions", code="action_not_configured"
        )
    earned = ledger.earn(
        db,
        ctx,
        user_id=user_id,
        points=rule.points,
        reason=action,
        key=f"action:{action}:{key}",
        daily_cap=rule.daily_cap,
    )
    return EarnOut(
        points=earned.points,
        business_key=earned.business_key,
        applied=earned.applied,
        available_at=earned.available_at,
        expires_at=earned.expires_at,
    )


def run_job(db: Session, ctx: Ctx, *, job: str, store: EventStore | None = None) -> dict[str, object]:
    """One job by name (see JOBS); each is safe to re-run and to run next to live traffic."""
    if job == "expire":
        return {"points_expired": ledger.expire_due(db, ctx)}
    if job == "warn-expiring":
        return {"members_warned": ledger.warn_expiring(db, ctx)}
    if job == "tiers":
        return {"tiers": tiers.reevaluate_all(db, ctx)}
    if job == "tier-benefits":
        return {"tier_benefits": rewards.issue_benefits(db, ctx)}
    if job == "compact-boards":
        return {"deltas_folded": leaderboards.compact(db, ctx)}
    if job == "scan-tasks":
        assert store is not None
        return {
            "events_read": tasks.scan_events(db, ctx, store=store),
            "active_member_days": tasks.scan_active_days(db, ctx, store=store),
        }
    raise NotFound(f"no job {job!r} ({', '.join(JOBS)})", code="job_not_found")


JOBS = ("expire", "warn-expiring", "tiers", "tier-benefits", "scan-tasks", "compact-boards")


# --- the marketing calendar (contract C4) ------------------------------------------------------------------


def member_days(work: Work, start: date, end: date) -> list[date]:
    """The app's monthly member days (会员日) from `start` to `end`, both included (local days)."""
    return tiers.member_days(ctx_for(work), start, end)


def _overlaps(starts_at: datetime | None, ends_at: datetime | None, lo: datetime, hi: datetime) -> bool:
    return (starts_at is None or starts_at < hi) and (ends_at is None or ends_at > lo)


def scheduled_activities(work: Work, start: date, end: date) -> list[ScheduledActivity]:
    """Every loyalty activity live at some time from `start` to `end` (local days, both included): each member
    day, mall items and tasks whose window overlaps (no window = always on), and the daily check-in. States are
    as of now (scheduled, running, paused, ended); deleted tasks are left out."""
    ctx = ctx_for(work)
    db = work.db
    lo, hi = ctx.midnight(start), ctx.midnight(end + timedelta(days=1))
    multiplier = ctx.rules.tiers.member_day_multiplier
    out: list[ScheduledActivity] = []
    for day in tiers.member_days(ctx, start, end):
        begins, ends = ctx.midnight(day), ctx.midnight(day + timedelta(days=1))
        state = "ended" if ctx.now >= ends else "running" if ctx.now >= begins else "scheduled"
        name = "会员日" if multiplier == 1 else f"会员日 · {multiplier:g} 倍积分"
        out.append(
            ScheduledActivity(
                kind="member-day",
                id=f"member-day:{day.isoformat()}",
                name=name,
                state=state,
                starts_at=begins,
                ends_at=ends,
                item_ids=[],
            )
        )
    for item in db.scalars(select(MallItem).order_by(MallItem.id)):
        if _overlaps(item.starts_at, item.ends_at, lo, hi):
            out.append(
                ScheduledActivity(
                    kind="points-mall",
                    id=item.id,
                    name=item.name,
                    state=mall.state_of(item.active, item.starts_at, item.ends_at, ctx.now),
                    starts_at=item.starts_at,
                    ends_at=item.ends_at,
                    item_ids=[item.ref] if item.kind == "goods" and item.ref else [],
                )
            )
    for row in db.scalars(
        select(TaskDefinition).where(TaskDefinition.active.is_(True)).order_by(TaskDefinition.code)
    ):
        task = TaskIn.model_validate(orjson.loads(row.definition))
        if _overlaps(task.starts_at, task.ends_at, lo, hi):
            on_item = task.where.get("item_id")
            out.append(
                ScheduledActivity(
                    kind="task",
                    id=task.code,
                    name=task.name,
                    state=tasks.state_of(task, row.paused, ctx.now),
                    starts_at=task.starts_at,
                    ends_at=task.ends_at,
                    item_ids=[str(on_item)] if on_item is not None else [],
                )
            )
    out.append(
        ScheduledActivity(
            kind="checkin",
            id="checkin",
            name="每日签到",
            state="running",
            starts_at=None,
            ends_at=None,
            item_ids=[],
        )
    )
    return out
