"""Promotions use cases that cannot be one request unit of work: a WeChat call (risk rank, WeChat Pay refunds
and notification keys) must not hold a transaction open, the 秒杀 attempt runs as a single-statement unit,
and the periodic sweep runs outside the audited operator unit. These (with jobs.py and cli.py) are the only
promotions code that opens units itself; each unit hands the services a `Work`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huoli.apps.models import App
from huoli.db import read_only, single_statement, unit_of_work
from huoli.errors import Conflict, HuoliError, NotFound
from huoli.promotions import bargain, coupons, flashsale, groupbuy, hot, payments, referrals, risk, service
from huoli.promotions.models import Coupon, FlashReservation, Refund
from huoli.promotions.schemas import (
    BargainHelpOut,
    BargainOut,
    CommissionShare,
    JobsRunOut,
    OrderPaidIn,
    OrderPaidOut,
    ReferralBindOut,
    ReservationOut,
)
from huoli.runtime import Runtime
from huoli.wechat.pay import DEFAULT_BASE_URL, DEFAULT_QPS, RefundNotice, WeChatPayClient, WeChatPayError
from huoli.work import Caller, Work, open_work, work_in


def _app(runtime: Runtime, app: App | str) -> App:
    return runtime.app_cache.get(app) if isinstance(app, str) else app


def _risk_rank(runtime: Runtime, app: App, user_id: str, ip: str) -> int | None:
    """WeChat's risk rank, asked before any fission reward; None when the app has no WeChat credentials."""
    if not app.wx_appid or not app.wx_secret:
        return None
    with open_work(runtime, app, Caller("user", user_id), reads_only=True) as work:
        facts = service.user_facts(work.db, user_id)
    if facts is None:
        return None
    return risk.risk_rank(runtime.wechat_for(app), openid=facts.openid, client_ip=ip)


def guard_reward(runtime: Runtime, app: App, user_id: str, ip: str, action: str) -> None:
    """Refuse high-risk users; the refusal itself is logged (reward_blocked) in its own transaction."""
    rank = _risk_rank(runtime, app, user_id, ip)
    try:
        risk.check_rank(rank)
    except risk.RiskRefused:
        with open_work(runtime, app, Caller("user", user_id)) as work:
            risk.record_block(work, user_id=user_id, action=action, reason=f"risk_rank_{rank}")
        raise


def _velocity(work: Work, action: str, uid: str, device: str | None, ip: str) -> None:
    risk.hit(work, action=action, user_id=uid, device_id=device, ip=ip)


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
    with open_work(runtime, app, Caller("user", uid)) as work:
        facts = _known_user(work.db, uid)
        _velocity(work, "gift_pack", uid, device, ip)
        return coupons.grant_gift_pack(work, pack_id=pack_id, user_id=uid, user_created_at=facts.created_at)


def help_bargain(
    runtime: Runtime, app: App, *, uid: str, bargain_id: str, device: str | None, ip: str
) -> BargainHelpOut:
    """A friend's help: the risk check (WeChat), then one unit: velocity limits and the cut."""
    guard_reward(runtime, app, uid, ip, "bargain_help")
    with open_work(runtime, app, Caller("user", uid)) as work:
        _velocity(work, "bargain_help", uid, device, ip)
        h = bargain.help_bargain(work, bargain_id=bargain_id, helper_user_id=uid)
        b = bargain.get(work.db, bargain_id)
        return BargainHelpOut(
            seq=h.seq, cut_fen=h.cut_fen, bargain=BargainOut.of(b, bargain.campaign_rules_text(work.db, b))
        )


def bind_referral(
    runtime: Runtime, app: App, *, uid: str, code: str, device: str | None, ip: str
) -> ReferralBindOut:
    """Bind a new user to the referrer (one unit); a registration program then asks WeChat's risk rank and
    rewards both sides in a second unit, so no network call holds the first open."""
    with open_work(runtime, app, Caller("user", uid)) as work:
        now = work.now
        facts = _known_user(work.db, uid)
        _velocity(work, "referral_bind", uid, device, ip)
        b = referrals.bind(work, code=code, invitee_user_id=uid, invitee_created_at=facts.created_at)
        program = referrals.program_of(work.db, b.program_id, app_id=b.app_id)
        registration = program is not None and program.qualifying_action == "registration"
    rewarded = 0
    if registration and b.status == "bound":
        blocked = None
        try:
            guard_reward(runtime, app, uid, ip, "referral")
        except risk.RiskRefused as exc:
            blocked = f"risk_rank_{(exc.details or {}).get('risk_rank')}"
        # The same instant as the binding: the reward belongs to it.
        with open_work(runtime, app, Caller("user", uid), now=now) as work:
            rewarded = len(
                referrals.qualify(work, invitee_user_id=uid, action="registration", blocked_reason=blocked)
            )
    return ReferralBindOut(
        referrer_user_id=b.referrer_user_id, program_id=b.program_id, rewarded=bool(rewarded)
    )


def order_paid(runtime: Runtime, app: App, *, uid: str, body: OrderPaidIn, client_ip: str) -> OrderPaidOut:
    """The deprecated promotions-only order-paid call: WeChat's risk rank first (only when the order could
    reward a referral), then one unit settling coupons, the flash reservation, the referral and commissions."""
    blocked, check_referral = None, True
    with open_work(runtime, app, Caller("server"), reads_only=True) as work:
        pending = referrals.has_pending_binding(work.db, uid)
    try:
        if pending:
            guard_reward(runtime, app, uid, client_ip, "referral")
    except risk.RiskRefused as exc:
        blocked = f"risk_rank_{(exc.details or {}).get('risk_rank')}"
    except HuoliError:
        # Risk check unavailable: settle the order now, leave the referral bound; a retry of this call rewards it.
        check_referral = False
    with open_work(runtime, app, Caller("server")) as work:
        r = service.order_paid(
            work,
            order_id=body.order_id,
            user_id=uid,
            paid_fen=body.paid_fen,
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


# -- 秒杀 ------------------------------------------------------------------------------------------------


def flash_precheck(runtime: Runtime, app: App, *, flash_item_id: str, quantity: int) -> None:
    """The refusals an attempt gets from this process's cache alone (no I/O: safe on the event loop)."""
    flashsale.precheck(
        runtime.engine, app_id=app.id, flash_item_id=flash_item_id, quantity=quantity, now=runtime.clock()
    )


def attempt_now(
    runtime: Runtime,
    app: App | str,
    *,
    flash_item_id: str,
    user_id: str,
    quantity: int,
    now: datetime | None = None,
    admitted: bool = False,
) -> FlashReservation:
    """An attempt in its own unit of work: outside a transaction on PostgreSQL (db.single_statement)."""
    row = _app(runtime, app)
    with single_statement(runtime.sessions, app_id=row.id) as db:
        work = work_in(db, runtime, row, Caller("user", user_id), now)
        return flashsale.attempt(
            work, flash_item_id=flash_item_id, user_id=user_id, quantity=quantity, admitted=admitted
        )


def attempt_gated(
    runtime: Runtime,
    gate: flashsale.RedisGate,
    app: App | str,
    *,
    flash_item_id: str,
    user_id: str,
    quantity: int,
    clock: Callable[[], datetime] | None = None,
) -> FlashReservation:
    """Gate first, then settle in the database in its own unit of work."""
    row = _app(runtime, app)
    now = clock or runtime.clock
    bind = runtime.sessions.kw.get("bind")
    if bind is not None:
        flashsale.precheck(bind, app_id=row.id, flash_item_id=flash_item_id, quantity=quantity, now=now())
    verdict = gate.admit(row.id, flash_item_id, user_id, quantity)

    def call(admitted: bool) -> FlashReservation:
        return attempt_now(
            runtime,
            row,
            flash_item_id=flash_item_id,
            user_id=user_id,
            quantity=quantity,
            now=now(),
            admitted=admitted,
        )

    if verdict == -2:  # the gate doesn't know this item: the database alone decides
        return call(False)
    if verdict == 0:
        if bind is not None:  # the gate's counter is short: later attempts here skip the round trip for 1 s
            hot.for_bind(bind).saw_stock(row.id, flash_item_id, quantity - 1)
        raise Conflict("sold out", code="sold_out")
    if verdict < 0:
        raise Conflict("one attempt per person", code="already_attempted")
    try:
        return call(True)
    except Conflict as exc:
        if exc.code != "already_attempted":  # a DB duplicate means the unit is already held in the DB
            _give_back(gate, bind, row.id, flash_item_id, user_id, quantity)
        raise
    except Exception:
        _give_back(gate, bind, row.id, flash_item_id, user_id, quantity)
        raise


def _give_back(
    gate: flashsale.RedisGate, bind: object, app_id: str, flash_item_id: str, user_id: str, quantity: int
) -> None:
    gate.give_back(app_id, flash_item_id, user_id, quantity)
    if bind is not None:  # the unit is in the gate again: stop refusing from the cache here
        hot.for_bind(bind).stock_returned(app_id, flash_item_id)


def flash_attempt(runtime: Runtime, app: App, flash_item_id: str, uid: str, quantity: int) -> ReservationOut:
    """秒杀's hot path (run by deps.run_hot): through the Redis gate when configured; the sale is a
    single-statement unit, so it opens its units itself."""
    gate = flashsale.gate_for(runtime.settings.redis_url)
    if gate is not None:
        res = attempt_gated(runtime, gate, app, flash_item_id=flash_item_id, user_id=uid, quantity=quantity)
    else:
        res = attempt_now(runtime, app, flash_item_id=flash_item_id, user_id=uid, quantity=quantity)
    return ReservationOut.model_validate(res)


# -- WeChat Pay: refunds and their notifications --------------------------------------------------------


def notify_keys(runtime: Runtime, app_id: str | None) -> payments.NotifyKeys | str | None:
    """The keys that verify a refund notification for the app its URL names (the deployment's for none);
    "unknown" for an app that does not exist, None when nothing is configured."""
    if app_id is None:
        return payments.deployment_notify_keys(runtime.settings)
    try:
        app = runtime.app_cache.get(app_id)
    except NotFound:
        return "unknown"
    if app.id != app_id:  # the URL names apps by their huoli id, not by their WeChat AppID
        return "unknown"
    with open_work(runtime, app, Caller("server"), reads_only=True) as work:
        return payments.notify_keys(work.db, work.settings, work.app_id)


def apply_refund_notice(runtime: Runtime, app_id: str | None, notice: RefundNotice) -> str | None:
    """Apply a verified notification to that app's refund (no app: the refund its out_refund_no names, in
    whichever app, which is why that unit is unscoped until the refund names its app)."""
    if app_id is not None:
        with open_work(runtime, app_id, Caller("server")) as work:
            row = groupbuy.refund_for_notice(work.db, notice)
            return None if row is None else groupbuy.apply_refund_notice(work, row, notice)
    with unit_of_work(runtime.sessions) as db:
        row = groupbuy.refund_for_notice(db, notice)
        if row is None:
            return None
        work = work_in(db, runtime, runtime.app_cache.get(row.app_id), Caller("server"))
        return groupbuy.apply_refund_notice(work, row, notice)


def merchants(
    runtime: Runtime,
    *,
    fallback: payments.DeploymentMerchant | None = None,
    base_url: str = DEFAULT_BASE_URL,
    qps: float = DEFAULT_QPS,
    make_client: Callable[..., WeChatPayClient] = WeChatPayClient,
) -> payments.Merchants:
    """Refund clients per app for one refund run (payments.Merchants), each app's own merchant read in a
    read-only unit of its own."""

    def own(app_id: str) -> payments.DeploymentMerchant | None:
        with read_only(runtime.sessions, app_id=app_id) as db:
            return payments.own_merchant(db, app_id)

    return payments.Merchants(own, fallback=fallback, base_url=base_url, qps=qps, make_client=make_client)


def process_refunds(
    runtime: Runtime,
    *,
    pay_for: Callable[[str], WeChatPayClient | None],
    notify_url: Callable[[str], str | None] = lambda _app_id: None,
    clock: Callable[[], datetime] | None = None,
    limit: int = 1000,
    max_attempts: int = 20,
) -> dict[str, int]:
    """Pay owed refunds through WeChat Pay: one short transaction per refund, the HTTP call outside.

    The same out_refund_no is sent on every retry, so a crash between WeChat's answer and our commit just
    repeats a request WeChat treats as the same refund. Pacing is the client's (shared per merchant).
    `pay_for(app_id)` is the app's merchant (`merchants`); None leaves its refunds pending
    (`not_configured`) without using up their attempts.
    """
    now = clock or runtime.clock
    out = {"succeeded": 0, "processing": 0, "retry": 0, "failed": 0, "not_configured": 0}
    with read_only(runtime.sessions) as db:  # every app's refunds: this read is unscoped on purpose
        todo = db.execute(
            select(
                Refund.id,
                Refund.app_id,
                Refund.out_refund_no,
                Refund.out_trade_no,
                Refund.refund_fen,
                Refund.total_fen,
                Refund.reason,
                Refund.status,
                Refund.mch_id,
            )
            .where(Refund.status.in_(("pending", "processing")))
            .order_by(Refund.created_at)
            .limit(limit)
        ).all()
    for rid, app_id, out_refund_no, out_trade_no, refund_fen, total_fen, reason, status, mch_id in todo:
        pay = pay_for(app_id)
        # Only the merchant that took a refund can answer for it: after the app changed merchant, skip it.
        if pay is None or (status == "processing" and mch_id and mch_id != pay.mchid):
            out["not_configured"] += 1
            continue
        try:
            result = (
                pay.query_refund(out_refund_no)
                if status == "processing"
                else pay.refund(
                    out_trade_no=out_trade_no,
                    out_refund_no=out_refund_no,
                    refund_fen=refund_fen,
                    total_fen=total_fen,
                    reason=reason,
                    notify_url=notify_url(app_id),
                )
            )
            outcome, error, refund_id = result.status, None, result.refund_id
        except WeChatPayError as exc:
            outcome, error, refund_id = (
                ("RETRY" if exc.retryable else "FAILED"),
                f"{exc.code}: {exc.message}",
                None,
            )
        with open_work(runtime, app_id, Caller("job"), now=now()) as work:
            row = work.db.get(Refund, rid)
            assert row is not None
            row.attempts += 1
            row.mch_id = pay.mchid
            row.updated_at = work.now
            row.last_error = error
            if outcome == "RETRY" and row.attempts < max_attempts:
                out["retry"] += 1
                continue
            out[groupbuy.settle(work, row, "FAILED" if outcome == "RETRY" else outcome, refund_id)] += 1
    return out


def run_jobs(runtime: Runtime, app: App | str, caller: Caller) -> JobsRunOut:
    """The promotions sweep for one app, as the minute job runs it; not in the audited operator unit (it
    would record every row the sweep touches)."""
    with open_work(runtime, app, caller) as work:
        return JobsRunOut.model_validate(service.run_jobs(work))
