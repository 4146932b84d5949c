"""The order use cases across domains: each settles loyalty, promotions and the event log in ONE unit of work
(a `Work`, opened by `deps.in_signed_work` with the call's nonce recorded first) through those domains'
services (never their tables), so a failure anywhere leaves nothing of the call.

The only step outside that unit is WeChat's risk rank before a referral reward (a network call must not hold
a transaction open): the paid unit notices a pending referral, rolls back, and runs again with the verdict.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from huoli.apps.models import App
from huoli.deps import SignedCall, in_signed_work, run_hot
from huoli.errors import HuoliError, ValidationFailed
from huoli.events.service import server_event_id
from huoli.loyalty import service as loyalty
from huoli.orders import service
from huoli.orders.schemas import (
    OrderCancelledIn,
    OrderCancelledOut,
    OrderPaidIn,
    OrderPaidOut,
    OrderRefundedIn,
    OrderRefundedOut,
    UserRefIn,
)
from huoli.promotions import service as promotions
from huoli.runtime import Runtime
from huoli.settings import Settings
from huoli.users.service import derive_user_id
from huoli.work import Work


class _RiskCheckFirst(Exception):
    """Raised inside the paid unit (rolling it back, nonce included) when WeChat must be asked first."""

    def __init__(self, openid: str) -> None:
        super().__init__(openid)
        self.openid = openid


def user_of(app: App, ref: UserRefIn) -> str | None:
    if ref.user_id is not None:
        return ref.user_id
    return derive_user_id(app, ref.openid) if ref.openid is not None else None


def _paid_at(s: Settings, body: OrderPaidIn, now: datetime) -> datetime:
    """The payment time, within the event log's window (the order_paid event carries it)."""
    paid_at = body.paid_at or now
    if paid_at > now + s.event_max_future:
        raise ValidationFailed(
            "paid_at is in the future", details=[{"field": "paid_at", "message": "must not be in the future"}]
        )
    if paid_at < now - s.event_max_age:
        raise ValidationFailed(
            "paid_at is too old",
            details=[{"field": "paid_at", "message": f"at most {s.event_max_age.days} days ago"}],
        )
    return paid_at


async def pay(
    runtime: Runtime, call: SignedCall, body: OrderPaidIn, *, client_ip: str
) -> tuple[OrderPaidOut, bool]:
    """Settle a paid order; (answer, replayed). On the event loop like the loyalty earn (deps.run_hot): one
    unit of indexed statements. Only a buyer with a pending referral costs a WeChat call, on a thread."""
    uid = user_of(call.app, body)
    assert uid is not None  # the schema requires one of user_id / openid
    try:
        return await run_hot(runtime, in_signed_work, runtime, call, settle_paid, body, uid, None)
    except _RiskCheckFirst as first:
        wechat = runtime.wechat_for(call.app)
        verdict = await run_in_threadpool(
            promotions.referral_verdict, wechat, openid=first.openid, client_ip=client_ip
        )
        return await run_in_threadpool(in_signed_work, runtime, call, settle_paid, body, uid, verdict)


def settle_paid(
    work: Work, body: OrderPaidIn, uid: str, verdict: promotions.ReferralVerdict | None
) -> tuple[OrderPaidOut, bool]:
    """One unit: the order row, loyalty earn (points, growth, tasks), the group-buy join, coupons, the flash
    reservation, the referral, commissions and the order_paid event; the answer is stored with the order."""
    db, app, now = work.db, work.app, work.now
    paid_at = _paid_at(work.settings, body, now)
    first = service.claim_paid(
        db,
        app_id=app.id,
        order_id=body.order_id,
        user_id=uid,
        paid_fen=body.paid_fen,
        paid_at=paid_at,
        items=[i.model_dump() for i in body.items],
        now=now,
    )
    if not first:
        order = service.get(db, body.order_id)
        assert order is not None  # the unique key that refused the insert holds a committed row
        stored = service.replay_paid(order, user_id=uid, paid_fen=body.paid_fen)
        if not stored["promotions"].get("referral_pending"):
            return OrderPaidOut.model_validate(stored), True
    if verdict is None:
        verdict = _referral_verdict_or_ask(db, app, uid)
    if verdict.blocked_reason is not None:
        promotions.record_referral_block(work, user_id=uid, reason=verdict.blocked_reason)
    earned: dict[str, Any] = {}
    group: dict[str, Any] | None = None
    if first:
        ctx = loyalty.context_for(db, app_id=app.id, now=now, settings=work.settings, app=app)
        earned = loyalty.order_paid(
            db, ctx, user_id=uid, order_id=body.order_id, amount_fen=body.paid_fen
        ).model_dump(mode="json")
        if body.group_buy is not None:
            group = promotions.join_group(
                work,
                campaign_id=body.group_buy.campaign_id,
                group_id=body.group_buy.group_id,
                user_id=uid,
                out_trade_no=body.group_buy.out_trade_no or body.order_id,
                paid_fen=body.paid_fen,
            )
    # Coupons, flash reservation, referral, then commissions: each idempotent, so a referral retry may rerun it.
    promo = promotions.order_paid(
        work,
        order_id=body.order_id,
        user_id=uid,
        paid_fen=body.paid_fen,
        coupon_ids=body.coupon_ids,
        flash_reservation_id=body.flash_reservation_id,
        referral_blocked_reason=verdict.blocked_reason,
        qualify_referral=verdict.qualify,
    )
    if not first:
        # A retry of an order whose referral waited for WeChat: only the referral part is new.
        stored["promotions"] |= {
            "referrals_rewarded": promo.referrals_rewarded,
            "referral_pending": not verdict.qualify,
        }
        service.save_result(db, order_id=body.order_id, result=stored, now=now)
        return OrderPaidOut.model_validate(stored), True
    key = f"orders:paid:{body.order_id}"
    work.emit(
        "order_paid",
        key=key,
        ts=paid_at,
        user_id=uid,
        properties={"order_id": body.order_id, "amount_fen": body.paid_fen, "items": len(body.items)},
    )
    out = OrderPaidOut(
        order_id=body.order_id,
        user_id=uid,
        status=service.PAID,
        paid_fen=body.paid_fen,
        paid_at=paid_at,
        loyalty=earned,
        promotions={
            "redeemed_coupons": promo.redeemed_coupons,
            "flash_reservation": promo.flash_reservation,
            "referrals_rewarded": promo.referrals_rewarded,
            "referral_pending": not verdict.qualify,
            "commissions": promo.commissions,
            "group_buy": group,
        },
        event_id=server_event_id(app.id, key),
    )
    service.save_result(db, order_id=body.order_id, result=out.model_dump(mode="json"), now=now)
    return out, False


def _referral_verdict_or_ask(db: Session, app: App, uid: str) -> promotions.ReferralVerdict:
    """No WeChat identity or no pending referral: nothing to ask. Otherwise roll back and ask first."""
    if not app.wx_appid or not app.wx_secret:
        return promotions.ReferralVerdict()
    openid = promotions.referral_risk_openid(db, uid)
    if openid is None:
        return promotions.ReferralVerdict()
    raise _RiskCheckFirst(openid)


def refund(work: Work, body: OrderRefundedIn) -> tuple[OrderRefundedOut, bool]:
    """One unit (run in `deps.in_signed_work`): the refund row, the order's refunded total, points clawed back
    (and spent points restored) pro rata, commissions scaled down (reversed, with the coupons returned, when
    nothing is left paid), and the order_refunded event. Once per (order, refund_id)."""
    db, app, now = work.db, work.app, work.now
    uid = user_of(app, body)
    order = service.refundable(db, body.order_id, user_id=uid)
    if not service.claim_refund(
        db,
        app_id=app.id,
        order_id=body.order_id,
        refund_id=body.refund_id,
        amount_fen=body.amount_fen,
        now=now,
    ):
        seen = service.get_refund(db, body.order_id, body.refund_id)
        assert seen is not None
        return OrderRefundedOut.model_validate(service.replay_refund(seen, amount_fen=body.amount_fen)), True
    before, after = service.take_refund(db, order=order, amount_fen=body.amount_fen, now=now)
    assert order.user_id is not None  # a refundable order was paid by someone
    ctx = loyalty.context_for(db, app_id=app.id, now=now, settings=work.settings, app=app)
    try:
        reversed_ = loyalty.order_refunded(
            db,
            ctx,
            user_id=order.user_id,
            order_id=body.order_id,
            refund_id=body.refund_id,
            amount_fen=body.amount_fen,
        ).model_dump(mode="json")
    except HuoliError as exc:
        if exc.code != "order_not_found":
            raise
        # The order earned no points (under a yuan, or no points rule) and spent none: nothing to reverse.
        reversed_ = {"clawed_back": 0, "restored": 0, "unrecovered": 0, "applied": False}
    if after == 0:  # nothing left paid: every commission reversed, the coupons returned
        promo = promotions.order_refunded(work, order_id=body.order_id)
    else:
        promo = promotions.order_partly_refunded(
            work,
            order_id=body.order_id,
            refund_key=f"{body.order_id}:{body.refund_id}",
            remaining_before_fen=before,
            remaining_after_fen=after,
        )
    key = f"orders:refunded:{body.order_id}:{body.refund_id}"
    work.emit(
        "order_refunded",
        key=key,
        user_id=order.user_id,
        properties={"order_id": body.order_id, "amount_fen": body.amount_fen, "refund_id": body.refund_id},
    )
    out = OrderRefundedOut(
        order_id=body.order_id,
        refund_id=body.refund_id,
        amount_fen=body.amount_fen,
        refunded_fen=(order.paid_fen or 0) - after,
        status=service.REFUNDED if after == 0 else service.PARTLY_REFUNDED,
        loyalty=reversed_,
        promotions=promo,
        event_id=server_event_id(app.id, key),
    )
    service.save_refund_result(
        db, order_id=body.order_id, refund_id=body.refund_id, result=out.model_dump(mode="json")
    )
    return out, False


def cancel(work: Work, body: OrderCancelledIn) -> tuple[OrderCancelledOut, bool]:
    """One unit (run in `deps.in_signed_work`): the order row (cancelled before payment), its locked coupons
    released, its flash reservation's stock returned, the order_cancelled event. A paid order can't be
    cancelled (refund it)."""
    db, app, now = work.db, work.app, work.now
    uid = user_of(app, body)
    if not service.claim_cancelled(db, app_id=app.id, order_id=body.order_id, user_id=uid, now=now):
        order = service.get(db, body.order_id)
        assert order is not None
        return OrderCancelledOut.model_validate(service.replay_cancelled(order)), True
    promo = promotions.order_cancelled(
        work, order_id=body.order_id, flash_reservation_id=body.flash_reservation_id
    )
    key = f"orders:cancelled:{body.order_id}"
    work.emit("order_cancelled", key=key, user_id=uid, properties={"order_id": body.order_id})
    out = OrderCancelledOut(
        order_id=body.order_id,
        status=service.CANCELLED,
        promotions=promo,
        event_id=server_event_id(app.id, key),
    )
    service.save_result(db, order_id=body.order_id, result=out.model_dump(mode="json"), now=now)
    return out, False
