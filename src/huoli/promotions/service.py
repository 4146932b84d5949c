"""Use cases that span the mechanics: what an order's payment, refund or cancellation means for promotions,
the periodic jobs, and the facts about users that the fission rules need.

Each function takes the caller's session and never commits: a paid order redeems its coupons, settles its
flash reservation, qualifies its referral and creates its commissions in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huoli.db import insert_or_ignore
from huoli.promotions import bargain, coupons, distribution, flashsale, groupbuy, referrals
from huoli.promotions.common import new_id
from huoli.promotions.models import (
    Bargain,
    Commission,
    Coupon,
    FlashReservation,
    Group,
    GroupMember,
    PaidOrder,
    ReferralBinding,
    Refund,
)
from huoli.settings import Settings
from huoli.users.models import User


@dataclass(frozen=True)
class UserFacts:
    openid: str
    created_at: datetime


def user_facts(db: Session, user_id: str) -> UserFacts | None:
    """The openid (for WeChat's risk rank) and first-login time (new-user rules) of a mini-program user.

    Read from the users table directly: users exposes no service for it yet (noted for the lead).
    """
    row = db.execute(select(User.openid, User.created_at).where(User.id == user_id)).first()
    return UserFacts(openid=row[0], created_at=row[1]) if row else None


def record_paid_order(
    db: Session, *, app_id: str, order_id: str, user_id: str, paid_fen: int, now: datetime
) -> bool:
    """Remember a paid order; True when it is the user's first one reported here (decided by the database)."""
    insert_or_ignore(
        db,
        PaidOrder,
        {
            "id": new_id("po"),
            "app_id": app_id,
            "order_id": order_id,
            "user_id": user_id,
            "paid_fen": paid_fen,
            "paid_at": now,
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
    *,
    db: Session,
    settings: Settings,
    app_id: str,
    order_id: str,
    user_id: str,
    paid_fen: int,
    now: datetime,
    coupon_ids: list[str],
    flash_reservation_id: str | None,
    referral_blocked_reason: str | None = None,
    qualify_referral: bool = True,
) -> OrderPaidResult:
    """The merchant backend says the order was paid. Idempotent: reporting it again changes nothing."""
    out = OrderPaidResult()
    first = record_paid_order(
        db, app_id=app_id, order_id=order_id, user_id=user_id, paid_fen=paid_fen, now=now
    )
    out.redeemed_coupons = coupons.redeem(
        db=db,
        settings=settings,
        app_id=app_id,
        order_id=order_id,
        now=now,
        coupon_ids=coupon_ids,
        user_id=user_id,
    )
    if flash_reservation_id:
        out.flash_reservation = flashsale.mark_paid(
            db=db,
            settings=settings,
            app_id=app_id,
            reservation_id=flash_reservation_id,
            order_id=order_id,
            now=now,
        ).id
    if first and qualify_referral:
        out.referrals_rewarded = len(
            referrals.qualify(
                db=db,
                settings=settings,
                app_id=app_id,
                invitee_user_id=user_id,
                action="first_order",
                now=now,
                blocked_reason=referral_blocked_reason,
            )
        )
    out.commissions = [
        {"level": c.level, "distributor_user_id": c.distributor_user_id, "amount_fen": c.amount_fen}
        for c in distribution.on_order_paid(
            db=db,
            settings=settings,
            app_id=app_id,
            order_id=order_id,
            buyer_user_id=user_id,
            paid_fen=paid_fen,
            now=now,
        )
    ]
    return out


def order_refunded(
    *, db: Session, settings: Settings, app_id: str, order_id: str, now: datetime
) -> dict[str, int]:
    return {
        "coupons_returned": len(
            coupons.roll_back(db=db, settings=settings, app_id=app_id, order_id=order_id, now=now)
        ),
        "commissions_reversed": distribution.on_order_refunded(
            db=db, settings=settings, app_id=app_id, order_id=order_id, now=now
        ),
    }


def order_cancelled(
    *,
    db: Session,
    settings: Settings,
    app_id: str,
    order_id: str,
    flash_reservation_id: str | None,
    now: datetime,
) -> dict[str, int]:
    released = coupons.release(db=db, settings=settings, app_id=app_id, order_id=order_id, now=now)
    gate = flashsale.gate_for(settings.redis_url)
    stock = (
        flashsale.cancel(db=db, settings=settings, reservation_id=flash_reservation_id, now=now, gate=gate)
        if flash_reservation_id
        else []
    )
    return {"coupons_released": len(released), "flash_units_returned": sum(r[3] for r in stock)}


def run_jobs(*, db: Session, settings: Settings, now: datetime) -> dict[str, object]:
    """Every periodic job except refund payment (which calls WeChat Pay): safe to run often and concurrently."""
    return {
        "coupons": coupons.expire(db=db, settings=settings, now=now),
        "flash_expired": len(
            flashsale.expire_unpaid(
                db=db, settings=settings, now=now, gate=flashsale.gate_for(settings.redis_url)
            )
        ),
        "groups": groupbuy.close_due(db=db, settings=settings, now=now),
        "bargains_expired": bargain.expire(db=db, settings=settings, now=now),
        "commissions_credited": distribution.credit_due(db=db, settings=settings, now=now),
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
