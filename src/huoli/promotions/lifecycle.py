"""An activity's lifecycle (docs/promotions.md "Lifecycle"): its window, pause / resume / end, and the state
derived from them — the one place the mechanics and the admin lists ask whether an activity is running.

State: `ended` once an operator ended it or its window closed (final), else `paused` while not active, else
`scheduled` before its window opens, else `running`. Pausing or ending a 秒杀 session also stops its items in
the same transaction: the attempt's conditional UPDATE reads that flag on the row it locks (flashsale.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import update
from sqlalchemy.orm import Session

from huoli.errors import Conflict, NotFound
from huoli.promotions.common import get_named
from huoli.promotions.models import (
    BargainCampaign,
    CouponTemplate,
    FlashItem,
    FlashSession,
    GiftPack,
    GroupCampaign,
    ReferralProgram,
)
from huoli.work import Work

State = Literal["scheduled", "running", "paused", "ended"]
Kind = Literal[
    "coupon-templates",
    "gift-packs",
    "flash-sessions",
    "group-campaigns",
    "bargain-campaigns",
    "referral-programs",
]
Activity = CouponTemplate | GiftPack | FlashSession | GroupCampaign | BargainCampaign | ReferralProgram

MODELS: dict[str, type[Any]] = {
    "coupon-templates": CouponTemplate,
    "gift-packs": GiftPack,
    "flash-sessions": FlashSession,
    "group-campaigns": GroupCampaign,
    "bargain-campaigns": BargainCampaign,
    "referral-programs": ReferralProgram,
}
KINDS: tuple[str, ...] = tuple(MODELS)


def window(row: Activity) -> tuple[datetime | None, datetime | None]:
    """(starts_at, ends_at): a coupon template's window is its validity (valid_from, valid_until)."""
    if isinstance(row, CouponTemplate):
        return row.valid_from, row.valid_until
    return row.starts_at, row.ends_at


def state_of(
    now: datetime,
    *,
    active: bool,
    ended_at: datetime | None,
    starts_at: datetime | None,
    ends_at: datetime | None,
) -> State:
    if ended_at is not None or (ends_at is not None and now >= ends_at):
        return "ended"
    if not active:
        return "paused"
    if starts_at is not None and now < starts_at:
        return "scheduled"
    return "running"


def overlaps(row: Activity, lo: datetime, hi: datetime) -> bool:
    """Whether the activity ran at some time in [lo, hi): from its start (its creation without one) to its
    end (an operator's end cutting it short)."""
    starts_at, ends_at = window(row)
    stops = [t for t in (ends_at, row.ended_at) if t is not None]
    return (starts_at or row.created_at) < hi and (not stops or min(stops) > lo)


def state(row: Activity, now: datetime) -> State:
    starts_at, ends_at = window(row)
    return state_of(now, active=row.active, ended_at=row.ended_at, starts_at=starts_at, ends_at=ends_at)


def not_running(kind: str, activity_id: str, st: str) -> Conflict:
    """The mini-program's refusal of an activity that is paused, ended or not started yet."""
    # one fixed message (the console translates it: console/api.i18n.json); what and why are in details
    return Conflict(
        "this activity is not running",
        code="activity_not_running",
        details={"kind": kind, "id": activity_id, "state": st},
    )


def require_running(row: Activity, kind: str, now: datetime, *, allow_scheduled: bool = False) -> None:
    st = state(row, now)
    if st != "running" and not (allow_scheduled and st == "scheduled"):
        raise not_running(kind, row.id, st)


def get(db: Session, kind: str, activity_id: str) -> Activity:
    model = MODELS.get(kind)
    if model is None:
        raise NotFound(f"unknown activity kind {kind!r}", code="unknown_kind")
    row = get_named(db, model, activity_id)
    if row is None:
        raise NotFound(f"{kind} {activity_id!r} not found")
    return row


def _stop_items(db: Session, session_id: str, stopped: bool) -> None:
    db.execute(update(FlashItem).where(FlashItem.session_id == session_id).values(stopped=stopped))


# The operator's unit of work audits these changes (who, when, before/after): no event of their own.


def pause(work: Work, kind: str, activity_id: str) -> Activity:
    """Stop taking part until resumed (what was already granted stays: issued coupons, open groups…)."""
    row = get(work.db, kind, activity_id)
    if state(row, work.now) == "ended":
        raise Conflict(
            "this activity has ended", code="activity_ended", details={"kind": kind, "id": activity_id}
        )
    if row.active:
        row.active = False
        if isinstance(row, FlashSession):
            _stop_items(work.db, row.id, True)
    work.db.flush()
    return row


def resume(work: Work, kind: str, activity_id: str) -> Activity:
    row = get(work.db, kind, activity_id)
    if state(row, work.now) == "ended":
        raise Conflict(
            "this activity has ended", code="activity_ended", details={"kind": kind, "id": activity_id}
        )
    if not row.active:
        row.active = True
        if isinstance(row, FlashSession):
            _stop_items(work.db, row.id, False)
    work.db.flush()
    return row


def end(work: Work, kind: str, activity_id: str) -> Activity:
    """End for good (idempotent): nothing new starts; commitments already made are honoured."""
    row = get(work.db, kind, activity_id)
    if row.ended_at is None:
        row.ended_at = work.now
        if isinstance(row, FlashSession):
            _stop_items(work.db, row.id, True)
    work.db.flush()
    return row
