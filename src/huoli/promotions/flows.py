"""Promotions use cases that cannot be one request unit of work: a WeChat call (risk rank, WeChat Pay
notification keys) must not hold a transaction open, the hot units run on `deps.run_hot`, and the periodic
sweep runs outside the audited operator unit. These are the only promotions code that opens units itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from huoli.apps import service as apps
from huoli.apps.models import App
from huoli.db import read_only, unit_of_work
from huoli.errors import HuoliError, NotFound
from huoli.promotions import bargain, coupons, flashsale, groupbuy, payments, referrals, risk, service
from huoli.promotions.models import Coupon
from huoli.promotions.schemas import (
    BargainHelpOut,
    BargainOut,
    CheckoutIn,
    CommissionShare,
    JobsRunOut,
    OrderPaidIn,
    OrderPaidOut,
    QuoteOut,
    ReferralBindOut,
    ReservationOut,
)
from huoli.runtime import Runtime
from huoli.wechat.pay import RefundNotice


def _risk_rank(runtime: Runtime, app: App, user_id: str, ip: str) -> int | None:
    """WeChat's risk rank, asked before any fission reward; None when the app has no WeChat credentials."""
    if not app.wx_appid or not app.wx_secret:
        return None
    with read_only(runtime.sessions, app_id=app.id) as db:
        facts = service.user_facts(db, user_id)
    if facts is None:
        return None
    return risk.risk_rank(runtime.wechat_for(app), openid=facts.openid, client_ip=ip)


def guard_reward(runtime: Runtime, app: App, user_id: str, ip: str, action: str) -> None:
    """Refuse high-risk users; the refusal itself is logged (reward_blocked) in its own transaction."""
    rank = _risk_rank(runtime, app, user_id, ip)
    try:
        risk.check_rank(rank)
    except risk.RiskRefused:
        with unit_of_work(runtime.sessions, app_id=app.id) as db:
            risk.record_block(
                db=db,
                settings=runtime.settings,
                app_id=app.id,
                user_id=user_id,
                action=action,
                reason=f"risk_rank_{rank}",
                now=runtime.clock(),
            )
        raise


def _velocity(
    db: Session, runtime: Runtime, app: App, action: str, uid: str, device: str | None, ip: str, now: datetime
) -> None:
    risk.hit(
        db=db,
        settings=runtime.settings,
        app_id=app.id,
        action=action,
        now=now,
        user_id=uid,
        device_id=device,
        ip=ip,
    )


def _known_user(db: Session, uid: str) -> service.UserFacts:
    """The user's facts (openid, created_at) for rewards that depend on being new; 404 for a stranger."""
    facts = service.user_facts(db, uid)
    if facts is None:
        raise NotFound("unknown user", code="unknown_user")
    return facts


def claim_gift_pack(
    runtime: Runtime, app: App, *, uid: str, pack_id: str, device: str | None, ip: str
) -> list[Coupon]:
    """新人礼包: the risk check (WeChat), then one unit: velocity limits and the grant."""
    guard_reward(runtime, app, uid, ip, "gift_pack")
    now = runtime.clock()
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        facts = _known_user(db, uid)
        _velocity(db, runtime, app, "gift_pack", uid, device, ip, now)
        return coupons.grant_gift_pack(
            db=db,
            settings=runtime.settings,
            app_id=app.id,
            pack_id=pack_id,
            user_id=uid,
            user_created_at=facts.created_at,
            now=now,
        )


def help_bargain(
    runtime: Runtime, app: App, *, uid: str, bargain_id: str, device: str | None, ip: str
) -> BargainHelpOut:
    """A friend's help: the risk check (WeChat), then one unit: velocity limits and the cut."""
    guard_reward(runtime, app, uid, ip, "bargain_help")
    now = runtime.clock()
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        _velocity(db, runtime, app, "bargain_help", uid, device, ip, now)
        h = bargain.help_bargain(
            db=db,
            settings=runtime.settings,
            app_id=app.id,
            bargain_id=bargain_id,
            helper_user_id=uid,
            now=now,
        )
        b = bargain.get(db, bargain_id)
        return BargainHelpOut(
            seq=h.seq, cut_fen=h.cut_fen, bargain=BargainOut.of(b, bargain.campaign_rules_text(db, b))
        )


def bind_referral(
    runtime: Runtime, app: App, *, uid: str, code: str, device: str | None, ip: str
) -> ReferralBindOut:
    """Bind a new user to the referrer (one unit); a registration program then asks WeChat's risk rank and
    rewards both sides in a second unit, so no network call holds the first open."""
    now = runtime.clock()
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        facts = _known_user(db, uid)
        _velocity(db, runtime, app, "referral_bind", uid, device, ip, now)
        b = referrals.bind(
            db=db,
            settings=runtime.settings,
            app_id=app.id,
            code=code,
            invitee_user_id=uid,
            invitee_created_at=facts.created_at,
            now=now,
        )
        program = referrals.program_of(db, b.program_id, app_id=b.app_id)
        registration = program is not None and program.qualifying_action == "registration"
    rewarded = 0
    if registration and b.status == "bound":
        blocked = None
        try:
            guard_reward(runtime, app, uid, ip, "referral")
        except risk.RiskRefused as exc:
            blocked = f"risk_rank_{(exc.details or {}).get('risk_rank')}"
        with unit_of_work(runtime.sessions, app_id=app.id) as db:
            rewarded = len(
                referrals.qualify(
                    db=db,
                    settings=runtime.settings,
                    app_id=app.id,
                    invitee_user_id=uid,
                    action="registration",
                    now=now,
                    blocked_reason=blocked,
                )
            )
    return ReferralBindOut(
        referrer_user_id=b.referrer_user_id, program_id=b.program_id, rewarded=bool(rewarded)
    )


def order_paid(runtime: Runtime, app: App, *, uid: str, body: OrderPaidIn, client_ip: str) -> OrderPaidOut:
    """The deprecated promotions-only order-paid call: WeChat's risk rank first (only when the order could
    reward a referral), then one unit settling coupons, the flash reservation, the referral and commissions."""
    blocked, check_referral = None, True
    with read_only(runtime.sessions, app_id=app.id) as db:
        pending = referrals.has_pending_binding(db, uid)
    try:
        if pending:
            guard_reward(runtime, app, uid, client_ip, "referral")
    except risk.RiskRefused as exc:
        blocked = f"risk_rank_{(exc.details or {}).get('risk_rank')}"
    except HuoliError:
        # Risk check unavailable: settle the order now, leave the referral bound; a retry of this call rewards it.
        check_referral = False
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        r = service.order_paid(
            db=db,
            settings=runtime.settings,
            app_id=app.id,
            order_id=body.order_id,
            user_id=uid,
            paid_fen=body.paid_fen,
            now=runtime.clock(),
            coupon_ids=body.coupon_ids,
            flash_reservation_id=body.flash_reservation_id,
            referral_blocked_reason=blocked,
            qualify_referral=check_referral,
        )
    return OrderPaidOut(
        referral_pending=not check_referral,
        redeemed_coupons=r.redeemed_coupons,
        flash_reservation=r.flash_reservation,
        referrals_rewarded=r.referrals_rewarded,
        commissions=[CommissionShare.model_validate(c) for c in r.commissions],
    )


def lock_coupons(runtime: Runtime, app_id: str, uid: str, body: CheckoutIn) -> QuoteOut:
    """Checkout's hot unit (run by deps.run_hot, on the event loop or a thread)."""
    with unit_of_work(runtime.sessions, app_id=app_id) as db:
        return QuoteOut.of(
            coupons.lock(
                db=db,
                settings=runtime.settings,
                app_id=app_id,
                user_id=uid,
                order_id=body.order_id,
                coupon_ids=body.coupon_ids,
                cart=body.cart,
                now=runtime.clock(),
            )
        )


def flash_attempt(
    runtime: Runtime, app_id: str, flash_item_id: str, uid: str, quantity: int
) -> ReservationOut:
    """秒杀's hot path (run by deps.run_hot): through the Redis gate when configured; the sale is a
    single-statement unit, so it opens its units itself."""
    gate = flashsale.gate_for(runtime.settings.redis_url)
    if gate is not None:
        res = flashsale.attempt_gated(
            factory=runtime.sessions,
            gate=gate,
            settings=runtime.settings,
            app_id=app_id,
            flash_item_id=flash_item_id,
            user_id=uid,
            quantity=quantity,
            now=runtime.clock,
        )
        return ReservationOut.model_validate(res)
    res = flashsale.attempt_now(
        factory=runtime.sessions,
        settings=runtime.settings,
        app_id=app_id,
        flash_item_id=flash_item_id,
        user_id=uid,
        quantity=quantity,
        now=runtime.clock(),
    )
    return ReservationOut.model_validate(res)


def notify_keys(runtime: Runtime, app_id: str | None) -> payments.NotifyKeys | str | None:
    """The keys that verify a refund notification for the app its URL names (the deployment's for none);
    "unknown" for an app that does not exist, None when nothing is configured."""
    if app_id is None:
        return payments.deployment_notify_keys(runtime.settings)
    with read_only(runtime.sessions, app_id=app_id) as db:
        try:
            apps.get(db=db, app_id=app_id)
        except NotFound:
            return "unknown"
        return payments.notify_keys(db, runtime.settings, app_id)


def apply_refund_notice(runtime: Runtime, app_id: str | None, notice: RefundNotice) -> str | None:
    """Apply a verified notification to that app's refund (no app: the refund its out_refund_no names, which
    is why this unit may be unscoped)."""
    with unit_of_work(runtime.sessions, app_id=app_id) as db:
        return groupbuy.apply_refund_notice(
            db=db, settings=runtime.settings, notice=notice, now=runtime.clock()
        )


def run_jobs(runtime: Runtime, app_id: str) -> JobsRunOut:
    """The promotions sweep for one app, as the minute job runs it; not in the audited operator unit (it
    would record every row the sweep touches)."""
    with unit_of_work(runtime.sessions, app_id=app_id) as db:
        return JobsRunOut.model_validate(
            service.run_jobs(db=db, settings=runtime.settings, now=runtime.clock())
        )
