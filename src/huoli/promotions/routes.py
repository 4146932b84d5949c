"""HTTP for promotions (thin): mini-program calls under /v1/promotions, merchant-backend calls (HMAC-signed)
under /v1/server/promotions, operators under /admin/promotions. Rules live in the service modules."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Path, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from huoli.apps.models import App
from huoli.apps.schemas import Role
from huoli.auth.service import MiniProgramUser
from huoli.db import read_only, unit_of_work
from huoli.deps import (
    AppDbDep,
    MiniProgramAppDep,
    MiniProgramUserDep,
    OperatorDep,
    RuntimeDep,
    SignedAppDep,
    role_at_least,
    run_hot,
)
from huoli.errors import HuoliError, NotFound, Unauthorized, ValidationFailed
from huoli.promotions import (
    bargain,
    compliance,
    coupons,
    distribution,
    flashsale,
    groupbuy,
    payments,
    referrals,
    risk,
    service,
)
from huoli.promotions.common import get_named, loads
from huoli.promotions.models import (
    Bargain,
    BargainCampaign,
    CouponTemplate,
    DistributionConfig,
    FlashItem,
    FlashReservation,
    FlashSession,
    Group,
    GroupCampaign,
    ReferralProgram,
)
from huoli.promotions.schemas import (
    AttemptIn,
    BargainCampaignIn,
    CheckoutIn,
    ClaimIn,
    ComplianceIn,
    CouponOut,
    CouponTemplateIn,
    CouponTemplateOut,
    DailySessionsIn,
    DistributionConfigIn,
    FlashItemIn,
    FlashSessionIn,
    GiftPackIn,
    GroupCampaignIn,
    GroupJoinIn,
    IssueIn,
    OrderCancelledIn,
    OrderPaidIn,
    OrderRefundedIn,
    QuoteOut,
    ReferralProgramIn,
    ReservationOut,
    WithdrawIn,
)
from huoli.runtime import Runtime
from huoli.users.service import derive_user_id
from huoli.wechat.pay import WeChatPayError, parse_refund_notification

router = APIRouter(tags=["promotions"])
V1 = "/v1/promotions"
SERVER = "/v1/server/promotions"
ADMIN = "/admin/promotions"
DeviceDep = Annotated[str | None, Header(alias="X-Huoli-Device-Id", max_length=128)]


def _gate(runtime: Runtime) -> flashsale.RedisGate | None:
    """One Redis gate per process when HUOLI_REDIS_URL is set (cached like the WeChat clients)."""
    return flashsale.gate_for(runtime.settings.redis_url)


def _json(model: BaseModel) -> Response:
    """The hot routes' answer, serialised once (response_model then only documents it): FastAPI would
    validate the returned model again before serialising it."""
    return Response(model.model_dump_json(), media_type="application/json")


def _user(user: MiniProgramUser | None) -> str:
    if user is None:
        raise Unauthorized("log in first (Authorization: Bearer <session token>)", code="login_required")
    return user.user_id


def _ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _known_user(db: Session, uid: str) -> service.UserFacts:
    """The user's facts (openid, created_at) for rewards that depend on being new; 404 for a stranger."""
    facts = service.user_facts(db, uid)
    if facts is None:
        raise NotFound("unknown user", code="unknown_user")
    return facts


def _velocity(
    db: Session,
    runtime: Runtime,
    app: App,
    action: str,
    uid: str,
    device: str | None,
    request: Request,
    now: datetime,
) -> None:
    """The per-user/device/IP velocity limits of one rewarded action (risk.hit), inside the caller's work."""
    risk.hit(
        db=db,
        settings=runtime.settings,
        app_id=app.id,
        action=action,
        now=now,
        user_id=uid,
        device_id=device,
        ip=_ip(request),
    )


def _risk_rank(runtime: Runtime, app: App, user_id: str, ip: str) -> int | None:
    """WeChat's risk rank, asked before any fission reward; None when the app has no WeChat credentials."""
    if not app.wx_appid or not app.wx_secret:
        return None
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        facts = service.user_facts(db, user_id)
    if facts is None:
        return None
    return risk.risk_rank(runtime.wechat_for(app), openid=facts.openid, client_ip=ip)


def _guard_reward(runtime: Runtime, app: App, user_id: str, ip: str, action: str) -> None:
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


def _server_user(app: App, user_id: str | None, openid: str | None) -> str:
    if user_id:
        return user_id
    if openid:
        return derive_user_id(app, openid)
    raise ValidationFailed(
        "user_id or openid required", details=[{"field": "user_id", "message": "required"}]
    )


# -- mini-program: coupons -----------------------------------------------------------------------------


@router.get(f"{V1}/coupon-templates", response_model=list[CouponTemplateOut])
def claimable_templates(runtime: RuntimeDep, app: MiniProgramAppDep) -> list[CouponTemplateOut]:
    """Coupons a user can claim, each with the rule text to display."""
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        rows = db.scalars(
            select(CouponTemplate)
            .where(CouponTemplate.active.is_(True), CouponTemplate.claim_trigger == "user_claim")
            .order_by(CouponTemplate.id)
        ).all()
        return [CouponTemplateOut.model_validate(t) for t in rows]


@router.post(f"{V1}/coupons/claim", response_model=CouponOut)
def claim_coupon(
    body: ClaimIn,
    request: Request,
    runtime: RuntimeDep,
    app: MiniProgramAppDep,
    user: MiniProgramUserDep,
    device: DeviceDep = None,
) -> CouponOut:
    """领券. Idempotent on request_id: retrying returns the same coupon."""
    uid = _user(user)
    now = runtime.clock()
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        _velocity(db, runtime, app, "coupon_claim", uid, device, request, now)
        c, _ = coupons.claim(
            db=db,
            settings=runtime.settings,
            app_id=app.id,
            template_id=body.template_id,
            user_id=uid,
            claim_key=f"user:{uid}:{body.request_id}",
            now=now,
        )
        return CouponOut.model_validate(c)


@router.get(f"{V1}/coupons", response_model=list[CouponOut])
def my_coupons(
    runtime: RuntimeDep, app: MiniProgramAppDep, user: MiniProgramUserDep, status: str | None = None
) -> list[CouponOut]:
    uid = _user(user)
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        return [CouponOut.model_validate(c) for c in coupons.list_for_user(db=db, user_id=uid, status=status)]


@router.get(f"{V1}/coupons/expiring", response_model=list[CouponOut])
def my_expiring_coupons(
    runtime: RuntimeDep,
    app: MiniProgramAppDep,
    user: MiniProgramUserDep,
    days: Annotated[int, Query(ge=1, le=30)] = 3,
) -> list[CouponOut]:
    uid = _user(user)
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        rows = coupons.expiring_soon(db=db, within=timedelta(days=days), now=runtime.clock(), user_id=uid)
        return [CouponOut.model_validate(c) for c in rows]


def _quote_out(q: coupons.Quote) -> QuoteOut:
    return QuoteOut(
        subtotal_fen=q.subtotal_fen,
        discount_fen=q.discount_fen,
        payable_fen=q.payable_fen,
        discounts=q.discounts,
    )


@router.post(f"{V1}/coupons/quote", response_model=QuoteOut)
def quote_coupons(
    body: CheckoutIn, runtime: RuntimeDep, app: MiniProgramAppDep, user: MiniProgramUserDep
) -> QuoteOut:
    """Validate a coupon selection against a cart; changes nothing."""
    uid = _user(user)
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        return _quote_out(
            coupons.quote(
                db=db,
                user_id=uid,
                coupon_ids=body.coupon_ids,
                cart=body.cart,
                now=runtime.clock(),
                order_id=body.order_id,
            )
        )


@router.post(f"{V1}/coupons/lock", response_model=QuoteOut)
async def lock_coupons(
    body: CheckoutIn, runtime: RuntimeDep, app: MiniProgramAppDep, user: MiniProgramUserDep
) -> Response:
    """Checkout: validate and reserve the coupons for order_id (idempotent per order)."""
    return _json(await run_hot(runtime, _lock_coupons, runtime, app.id, _user(user), body))


def _lock_coupons(runtime: Runtime, app_id: str, uid: str, body: CheckoutIn) -> QuoteOut:
    with unit_of_work(runtime.sessions, app_id=app_id) as db:
        return _quote_out(
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


@router.post(f"{V1}/gift-packs/{{pack_id}}/claim", response_model=list[CouponOut])
def claim_gift_pack(
    pack_id: str,
    request: Request,
    runtime: RuntimeDep,
    app: MiniProgramAppDep,
    user: MiniProgramUserDep,
    device: DeviceDep = None,
) -> list[CouponOut]:
    """新人礼包: once per new user, after the risk check."""
    uid = _user(user)
    _guard_reward(runtime, app, uid, _ip(request), "gift_pack")
    now = runtime.clock()
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        facts = _known_user(db, uid)
        _velocity(db, runtime, app, "gift_pack", uid, device, request, now)
        got = coupons.grant_gift_pack(
            db=db,
            settings=runtime.settings,
            app_id=app.id,
            pack_id=pack_id,
            user_id=uid,
            user_created_at=facts.created_at,
            now=now,
        )
        return [CouponOut.model_validate(c) for c in got]


# -- mini-program: flash sales -------------------------------------------------------------------------


@router.get(f"{V1}/flash/sessions")
def flash_sessions(runtime: RuntimeDep, app: MiniProgramAppDep) -> list[dict[str, Any]]:
    """Current and upcoming sessions with their items and remaining stock."""
    now = runtime.clock()
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        sessions = db.scalars(
            select(FlashSession).where(FlashSession.ends_at > now).order_by(FlashSession.starts_at).limit(20)
        ).all()
        out = []
        for s in sessions:
            items = db.scalars(select(FlashItem).where(FlashItem.session_id == s.id)).all()
            out.append(
                {
                    "id": s.id,
                    "name": s.name,
                    "starts_at": s.starts_at,
                    "ends_at": s.ends_at,
                    "items": [
                        {
                            "id": i.id,
                            "item_id": i.item_id,
                            "price_fen": i.price_fen,
                            "original_price_fen": i.original_price_fen,
                            "stock": i.stock,
                            "total_stock": i.total_stock,
                            "per_user_limit": i.per_user_limit,
                        }
                        for i in items
                    ],
                }
            )
        return out


@router.post(f"{V1}/flash/items/{{flash_item_id}}/attempt", response_model=ReservationOut)
async def flash_attempt(
    flash_item_id: str, body: AttemptIn, runtime: RuntimeDep, app: MiniProgramAppDep, user: MiniProgramUserDep
) -> Response:
    """秒杀: one attempt per user per item; the reservation must be paid before pay_by."""
    uid = _user(user)
    # async: most of a burst is refused from the in-process cache right here, without a thread hop or I/O
    flashsale.precheck(
        runtime.engine,
        app_id=app.id,
        flash_item_id=flash_item_id,
        quantity=body.quantity,
        now=runtime.clock(),
    )
    return _json(await run_hot(runtime, _flash_attempt, runtime, app.id, flash_item_id, uid, body.quantity))


def _flash_attempt(
    runtime: Runtime, app_id: str, flash_item_id: str, uid: str, quantity: int
) -> ReservationOut:
    gate = _gate(runtime)
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


# -- mini-program: group buys, bargains ----------------------------------------------------------------


@router.get(f"{V1}/group-campaigns/{{campaign_id}}")
def group_campaign(campaign_id: str, runtime: RuntimeDep, app: MiniProgramAppDep) -> dict[str, Any]:
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        c = get_named(db, GroupCampaign, campaign_id)
        if c is None:
            raise NotFound("group campaign not found")
        return {
            "id": c.id,
            "name": c.name,
            "item_id": c.item_id,
            "size": c.size,
            "group_price_fen": c.group_price_fen,
            "leader_price_fen": c.leader_price_fen,
            "original_price_fen": c.original_price_fen,
            "duration_s": c.duration_s,
            "rules_text": c.rules_text,
        }


@router.get(f"{V1}/groups/{{group_id}}")
def group_status(group_id: str, runtime: RuntimeDep, app: MiniProgramAppDep) -> dict[str, Any]:
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        g = db.get(Group, group_id)
        if g is None:
            raise NotFound("group not found")
        return {
            "id": g.id,
            "campaign_id": g.campaign_id,
            "status": g.status,
            "size": g.size,
            "member_count": g.member_count,
            "missing": max(g.size - g.member_count, 0),
            "deadline": g.deadline,
        }


@router.post(f"{V1}/bargains")
def start_bargain(
    runtime: RuntimeDep,
    app: MiniProgramAppDep,
    user: MiniProgramUserDep,
    campaign_id: Annotated[str, Query()],
) -> dict[str, Any]:
    uid = _user(user)
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        b = bargain.start(
            db=db,
            settings=runtime.settings,
            app_id=app.id,
            campaign_id=campaign_id,
            user_id=uid,
            now=runtime.clock(),
        )
        return _bargain_view(db, b)


def _bargain_view(db: Any, b: Bargain) -> dict[str, Any]:
    c = get_named(db, BargainCampaign, b.campaign_id, app_id=b.app_id)
    return {
        "id": b.id,
        "campaign_id": b.campaign_id,
        "owner_id": b.user_id,
        "status": b.status,
        "price_fen": b.price_fen,
        "floor_fen": b.floor_fen,
        "current_price_fen": b.current_price_fen,
        "helpers_needed": b.helpers_needed,
        "helped": b.helped_count,
        "helpers_missing": b.helpers_needed - b.helped_count,
        "cuts_fen": loads(b.cuts),
        "expires_at": b.expires_at,
        "rules_text": c.rules_text if c else "",
    }


@router.get(f"{V1}/bargains/{{bargain_id}}")
def bargain_status(bargain_id: str, runtime: RuntimeDep, app: MiniProgramAppDep) -> dict[str, Any]:
    """Public view for the owner and friends: N helpers needed and every cut, shown up front."""
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        b = db.get(Bargain, bargain_id)
        if b is None:
            raise NotFound("bargain not found")
        return _bargain_view(db, b)


@router.post(f"{V1}/bargains/{{bargain_id}}/help")
def help_bargain(
    bargain_id: str,
    request: Request,
    runtime: RuntimeDep,
    app: MiniProgramAppDep,
    user: MiniProgramUserDep,
    device: DeviceDep = None,
) -> dict[str, Any]:
    """A friend's help (their own tap, logged in): velocity limits and the risk rank are checked first."""
    uid = _user(user)
    _guard_reward(runtime, app, uid, _ip(request), "bargain_help")
    now = runtime.clock()
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        _velocity(db, runtime, app, "bargain_help", uid, device, request, now)
        h = bargain.help_bargain(
            db=db,
            settings=runtime.settings,
            app_id=app.id,
            bargain_id=bargain_id,
            helper_user_id=uid,
            now=now,
        )
        b = db.get(Bargain, bargain_id)
        assert b is not None
        return {"seq": h.seq, "cut_fen": h.cut_fen, "bargain": _bargain_view(db, b)}


# -- mini-program: referrals, distribution -------------------------------------------------------------


@router.post(f"{V1}/referrals/{{program_id}}/code")
def my_invite_code(
    program_id: str, runtime: RuntimeDep, app: MiniProgramAppDep, user: MiniProgramUserDep
) -> dict[str, Any]:
    """The user's invite code; share it through the SDK as campaign `ref_<code>`."""
    uid = _user(user)
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        inv = referrals.invite_code(
            db=db, app_id=app.id, program_id=program_id, user_id=uid, now=runtime.clock()
        )
        program = get_named(db, ReferralProgram, program_id)
        return {
            "code": inv.code,
            "share_campaign": f"ref_{inv.code}",
            "rewarded": inv.rewarded_count,
            "rules_text": program.rules_text if program else "",
        }


@router.post(f"{V1}/referrals/bind")
def bind_referral(
    request: Request,
    runtime: RuntimeDep,
    app: MiniProgramAppDep,
    user: MiniProgramUserDep,
    code: Annotated[str, Query(min_length=4, max_length=40)],
    device: DeviceDep = None,
) -> dict[str, Any]:
    """Called on launch when the share path carries `hl_campaign=ref_<code>`. Binds new users only."""
    uid = _user(user)
    code = code.removeprefix("ref_")
    now = runtime.clock()
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        facts = _known_user(db, uid)
        _velocity(db, runtime, app, "referral_bind", uid, device, request, now)
        b = referrals.bind(
            db=db,
            settings=runtime.settings,
            app_id=app.id,
            code=code,
            invitee_user_id=uid,
            invitee_created_at=facts.created_at,
            now=now,
        )
        program = get_named(db, ReferralProgram, b.program_id, app_id=b.app_id)
        registration = program is not None and program.qualifying_action == "registration"
    rewarded = 0
    if registration and b.status == "bound":
        blocked = None
        try:
            _guard_reward(runtime, app, uid, _ip(request), "referral")
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
    return {"referrer_user_id": b.referrer_user_id, "program_id": b.program_id, "rewarded": bool(rewarded)}


@router.post(f"{V1}/distribution/join")
def join_distribution(
    runtime: RuntimeDep, app: MiniProgramAppDep, user: MiniProgramUserDep, invited_by: str | None = None
) -> dict[str, Any]:
    uid = _user(user)
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        d = distribution.join(
            db=db,
            settings=runtime.settings,
            app_id=app.id,
            user_id=uid,
            now=runtime.clock(),
            invited_by=invited_by,
        )
        return {"user_id": d.user_id, "parent_user_id": d.parent_user_id}


@router.post(f"{V1}/distribution/bind")
def bind_distributor(
    runtime: RuntimeDep, app: MiniProgramAppDep, user: MiniProgramUserDep, distributor_user_id: str
) -> dict[str, Any]:
    """Called on launch from a distributor's share (the SDK's hl_sharer)."""
    uid = _user(user)
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        b = distribution.bind_customer(
            db=db,
            settings=runtime.settings,
            app_id=app.id,
            customer_user_id=uid,
            distributor_user_id=distributor_user_id,
            now=runtime.clock(),
        )
        return {"distributor_user_id": b.distributor_user_id if b else None}


@router.get(f"{V1}/distribution/me")
def my_distribution(runtime: RuntimeDep, app: MiniProgramAppDep, user: MiniProgramUserDep) -> dict[str, Any]:
    uid = _user(user)
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        d = distribution.balance(db=db, user_id=uid)
        cfg = db.get(DistributionConfig, app.id)
        return {
            "frozen_fen": d.frozen_fen,
            "available_fen": d.available_fen,
            "withdrawn_fen": d.withdrawn_fen,
            "rules_text": cfg.rules_text if cfg else "",
        }


@router.post(f"{V1}/distribution/withdraw")
def withdraw(
    body: WithdrawIn, runtime: RuntimeDep, app: MiniProgramAppDep, user: MiniProgramUserDep
) -> dict[str, Any]:
    uid = _user(user)
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        w = distribution.withdraw(
            db=db,
            settings=runtime.settings,
            app_id=app.id,
            user_id=uid,
            amount_fen=body.amount_fen,
            request_key=f"{uid}:{body.request_id}",
            now=runtime.clock(),
        )
        return {"id": w.id, "amount_fen": w.amount_fen, "status": w.status}


@router.get(f"{V1}/rules/{{kind}}/{{item_id}}")
def rules(kind: str, item_id: str, runtime: RuntimeDep, app: MiniProgramAppDep) -> dict[str, str]:
    """The rule text a campaign must display (活动规则)."""
    models: dict[str, Any] = {
        "coupon": CouponTemplate,
        "group": GroupCampaign,
        "bargain": BargainCampaign,
        "referral": ReferralProgram,
        "distribution": DistributionConfig,
    }
    if kind not in models:
        raise NotFound(f"unknown kind {kind!r}")
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        row = db.get(models[kind], app.id if kind == "distribution" else item_id)
        if row is None:
            raise NotFound(f"{kind} {item_id!r} not found")
        return {"rules_text": row.rules_text}


# -- merchant backend (signed) -------------------------------------------------------------------------


@router.post(f"{SERVER}/orders/paid", deprecated=True)
def server_order_paid(
    body: OrderPaidIn, runtime: RuntimeDep, app: SignedAppDep, request: Request
) -> dict[str, Any]:
    """The order was paid: redeem its coupons, settle its flash reservation, qualify a referral (first order),
    create commissions. Idempotent: report it as often as you like. Deprecated alias: /v1/server/orders/paid."""
    uid = _server_user(app, body.user_id, body.openid)
    blocked, check_referral = None, True
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        pending = referrals.has_pending_binding(db, uid)
    try:
        if pending:  # one WeChat call only when the order could reward a referral
            _guard_reward(runtime, app, uid, request.headers.get("x-huoli-client-ip", ""), "referral")
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
        return {
            "referral_pending": not check_referral,
            "redeemed_coupons": r.redeemed_coupons,
            "flash_reservation": r.flash_reservation,
            "referrals_rewarded": r.referrals_rewarded,
            "commissions": r.commissions,
        }


@router.post(f"{SERVER}/orders/refunded", deprecated=True)
def server_order_refunded(body: OrderRefundedIn, runtime: RuntimeDep, app: SignedAppDep) -> dict[str, int]:
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        return service.order_refunded(
            db=db, settings=runtime.settings, app_id=app.id, order_id=body.order_id, now=runtime.clock()
        )


@router.post(f"{SERVER}/orders/cancelled", deprecated=True)
def server_order_cancelled(body: OrderCancelledIn, runtime: RuntimeDep, app: SignedAppDep) -> dict[str, int]:
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        return service.order_cancelled(
            db=db,
            settings=runtime.settings,
            app_id=app.id,
            order_id=body.order_id,
            flash_reservation_id=body.flash_reservation_id,
            now=runtime.clock(),
        )


def _notify_answer(status: int, message: str) -> Response:
    # WeChat Pay's own failure shape; anything but 200/204 makes it send the notification again later.
    return Response(orjson.dumps({"code": "FAIL", "message": message}), status, media_type="application/json")


async def _refund_notice(request: Request, runtime: Runtime, app_id: str | None) -> Response:
    """Verify with the keys of the app the URL names (its own, else the deployment's; no app: the
    deployment's), decrypt, and apply to that app's refund only (no app: the refund out_refund_no names)."""
    s = runtime.settings

    def keys() -> payments.NotifyKeys | str | None:
        if app_id is None:
            return payments.deployment_notify_keys(s)
        with read_only(runtime.sessions, app_id=app_id) as db:
            if db.get(App, app_id) is None:
                return "unknown"
            return payments.notify_keys(db, s, app_id)

    found = await run_in_threadpool(keys)
    if found == "unknown":
        return _notify_answer(404, f"no app {app_id!r}")
    if not isinstance(found, payments.NotifyKeys):
        return _notify_answer(
            503, "refund notifications are not configured (HUOLI_WECHATPAY_* or the app's merchant)"
        )
    body = await request.body()
    try:
        notice = parse_refund_notification(
            request.headers,
            body,
            verifier=found.verifier,
            api_v3_key=found.api_v3_key,
            now_s=runtime.clock().timestamp(),
        )
    except WeChatPayError as exc:
        return _notify_answer(401, exc.message)

    def apply() -> str | None:
        with unit_of_work(runtime.sessions, app_id=app_id) as db:
            return groupbuy.apply_refund_notice(db=db, settings=s, notice=notice, now=runtime.clock())

    if await run_in_threadpool(apply) is None:
        return _notify_answer(404, f"no refund {notice.out_refund_no!r} of that order and amount")
    return Response(status_code=204)


@router.post(f"{payments.NOTIFY_PATH}/{{app_id}}", status_code=204, response_class=Response)
async def wechatpay_refund_notify_app(
    app_id: Annotated[str, Path(max_length=64)], request: Request, runtime: RuntimeDep
) -> Response:
    """WeChat Pay's refund result notification (《退款结果通知》) for one app: the refund's notify_url when
    `huoli promotions refunds --notify-base-url` is set, or the URL configured on that merchant's platform.
    Verified with that app's platform key and decrypted with its APIv3 key (the deployment's when it has
    none): a notification signed for another app answers 401 and changes nothing. 204 acknowledges it."""
    return await _refund_notice(request, runtime, app_id)


@router.post(payments.NOTIFY_PATH, status_code=204, response_class=Response)
async def wechatpay_refund_notify(request: Request, runtime: RuntimeDep) -> Response:
    """The deployment-wide notify_url (before keys per app): verified with the HUOLI_WECHATPAY_* keys, the
    refund found by its out_refund_no in any app. Prefer the URL naming the app."""
    return await _refund_notice(request, runtime, None)


@router.post(f"{SERVER}/groups/join")
def server_group_join(body: GroupJoinIn, runtime: RuntimeDep, app: SignedAppDep) -> dict[str, Any]:
    """A member's payment for a group buy was confirmed (WeChat Pay notify). Idempotent on out_trade_no.
    A payment that can't join (closed, full, duplicate, wrong amount) is answered 'rejected' and refunded."""
    uid = _server_user(app, body.user_id, body.openid)
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        m, g = groupbuy.join(
            db=db,
            settings=runtime.settings,
            app_id=app.id,
            campaign_id=body.campaign_id,
            group_id=body.group_id,
            user_id=uid,
            out_trade_no=body.out_trade_no,
            paid_fen=body.paid_fen,
            now=runtime.clock(),
        )
        return {
            "member_id": m.id,
            "status": m.status,
            "group_id": g.id if g else None,
            "group_status": g.status if g else None,
            "member_count": g.member_count if g else None,
        }


# -- admin ---------------------------------------------------------------------------------------------

WRITE = [role_at_least(Role.operator)]
READ = [role_at_least(Role.analyst)]


@router.post(
    f"{ADMIN}/coupon-templates", response_model=CouponTemplateOut, status_code=201, dependencies=WRITE
)
def admin_create_template(
    body: CouponTemplateIn, db: AppDbDep, op: OperatorDep, runtime: RuntimeDep
) -> CouponTemplateOut:
    return CouponTemplateOut.model_validate(
        coupons.create_template(db=db, app_id=op.app_id, spec=body, now=runtime.clock())
    )


@router.get(f"{ADMIN}/coupon-templates", response_model=list[CouponTemplateOut], dependencies=READ)
def admin_list_templates(db: AppDbDep) -> list[CouponTemplateOut]:
    return [
        CouponTemplateOut.model_validate(t)
        for t in db.scalars(select(CouponTemplate).order_by(CouponTemplate.id))
    ]


@router.patch(
    f"{ADMIN}/coupon-templates/{{template_id}}", response_model=CouponTemplateOut, dependencies=WRITE
)
def admin_pause_template(template_id: str, active: bool, db: AppDbDep) -> CouponTemplateOut:
    t = coupons.get_template(db, template_id)
    t.active = active
    return CouponTemplateOut.model_validate(t)


@router.post(f"{ADMIN}/coupons/issue", dependencies=WRITE)
def admin_issue(body: IssueIn, db: AppDbDep, op: OperatorDep, runtime: RuntimeDep) -> dict[str, Any]:
    """Targeted issuance (e.g. 9折 for high-value users); rerunning the same batch_key issues nothing twice."""
    r = coupons.issue_to_users(
        db=db,
        settings=runtime.settings,
        app_id=op.app_id,
        template_id=body.template_id,
        user_ids=body.user_ids,
        batch_key=body.batch_key,
        now=runtime.clock(),
    )
    return {"issued": len(r.issued), "already": len(r.already), "failed": r.failed}


@router.get(f"{ADMIN}/coupons/expiring", response_model=list[CouponOut], dependencies=READ)
def admin_expiring(
    db: AppDbDep, runtime: RuntimeDep, days: Annotated[int, Query(ge=1, le=30)] = 3
) -> list[CouponOut]:
    """Coupons ending within `days` (feed for reminder messages)."""
    return [
        CouponOut.model_validate(c)
        for c in coupons.expiring_soon(db=db, within=timedelta(days=days), now=runtime.clock())
    ]


@router.post(f"{ADMIN}/gift-packs", status_code=201, dependencies=WRITE)
def admin_gift_pack(body: GiftPackIn, db: AppDbDep, op: OperatorDep, runtime: RuntimeDep) -> dict[str, str]:
    return {"id": coupons.create_gift_pack(db=db, app_id=op.app_id, spec=body, now=runtime.clock()).id}


@router.post(f"{ADMIN}/flash/sessions", status_code=201, dependencies=WRITE)
def admin_flash_session(
    body: FlashSessionIn, db: AppDbDep, op: OperatorDep, runtime: RuntimeDep
) -> dict[str, str]:
    return {"id": flashsale.create_session(db=db, app_id=op.app_id, spec=body, now=runtime.clock()).id}


@router.post(f"{ADMIN}/flash/sessions/daily", status_code=201, dependencies=WRITE)
def admin_daily_sessions(
    body: DailySessionsIn, db: AppDbDep, op: OperatorDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """每天 HH:MM 秒杀 in the app's timezone."""
    app = db.get(App, op.app_id)
    assert app is not None
    rows = flashsale.create_daily_sessions(
        db=db, app_id=op.app_id, tz=app.timezone, spec=body, now=runtime.clock()
    )
    return {"created": [r.id for r in rows]}


@router.post(f"{ADMIN}/flash/items", status_code=201, dependencies=WRITE)
def admin_flash_item(body: FlashItemIn, db: AppDbDep, op: OperatorDep, runtime: RuntimeDep) -> dict[str, str]:
    item = flashsale.create_item(db=db, app_id=op.app_id, spec=body, now=runtime.clock())
    gate = _gate(runtime)
    if gate is not None:
        gate.load(op.app_id, item.id, item.stock)
    return {"id": item.id}


@router.get(f"{ADMIN}/flash/items/{{flash_item_id}}", dependencies=READ)
def admin_flash_item_status(flash_item_id: str, db: AppDbDep) -> dict[str, Any]:
    item = get_named(db, FlashItem, flash_item_id)
    if item is None:
        raise NotFound("flash item not found")
    counts = dict(
        db.execute(
            select(FlashReservation.status, func.count())
            .where(FlashReservation.flash_item_id == item.id)
            .group_by(FlashReservation.status)
        ).all()
    )
    return {"id": item.id, "stock": item.stock, "total_stock": item.total_stock, "reservations": counts}


@router.post(f"{ADMIN}/group-campaigns", status_code=201, dependencies=WRITE)
def admin_group_campaign(
    body: GroupCampaignIn, db: AppDbDep, op: OperatorDep, runtime: RuntimeDep
) -> dict[str, str]:
    c = groupbuy.create_campaign(db=db, app_id=op.app_id, spec=body, now=runtime.clock())
    return {"id": c.id, "rules_text": c.rules_text}


@router.post(f"{ADMIN}/bargain-campaigns", status_code=201, dependencies=WRITE)
def admin_bargain_campaign(
    body: BargainCampaignIn, db: AppDbDep, op: OperatorDep, runtime: RuntimeDep
) -> dict[str, Any]:
    c = bargain.create_campaign(db=db, app_id=op.app_id, spec=body, now=runtime.clock())
    return {
        "id": c.id,
        "rules_text": c.rules_text,
        "cuts_fen": bargain.allocate_cuts(c.price_fen - c.floor_fen, c.helpers_needed),
    }


@router.post(f"{ADMIN}/referral-programs", status_code=201, dependencies=WRITE)
def admin_referral_program(
    body: ReferralProgramIn, db: AppDbDep, op: OperatorDep, runtime: RuntimeDep
) -> dict[str, str]:
    p = referrals.create_program(db=db, app_id=op.app_id, spec=body, now=runtime.clock())
    return {"id": p.id, "rules_text": p.rules_text}


@router.put(f"{ADMIN}/distribution", dependencies=WRITE)
def admin_distribution(
    body: DistributionConfigIn, db: AppDbDep, op: OperatorDep, runtime: RuntimeDep
) -> dict[str, str]:
    cfg = distribution.configure(db=db, app_id=op.app_id, spec=body, now=runtime.clock())
    return {"rules_text": cfg.rules_text}


@router.post(f"{ADMIN}/compliance/check", dependencies=READ)
def admin_compliance(body: ComplianceIn) -> dict[str, Any]:
    """Dry-run a configuration against the platform rules; returns the rule text users would see."""
    violations, text = compliance.check(body.kind, dict(body.config))
    return {"ok": not violations, "violations": violations, "rules_text": text}


@router.get(f"{ADMIN}/overview", dependencies=READ)
def admin_overview(db: AppDbDep) -> dict[str, object]:
    """Participation per mechanic and state (monitoring)."""
    return service.overview(db=db)


@router.post(f"{ADMIN}/jobs/run", dependencies=WRITE)
def admin_run_jobs(runtime: RuntimeDep, op: OperatorDep) -> dict[str, object]:
    """Run the periodic jobs now (expiries, deadlines, credits). Refunds: `huoli promotions refunds`."""
    with unit_of_work(runtime.sessions, app_id=op.app_id) as db:
        return service.run_jobs(db=db, settings=runtime.settings, now=runtime.clock())


OWNER = [role_at_least(Role.owner)]


@router.get(f"{ADMIN}/wechatpay", response_model=payments.MerchantOut, dependencies=OWNER)
def admin_wechatpay(db: AppDbDep, op: OperatorDep, runtime: RuntimeDep) -> payments.MerchantOut:
    """The app's WeChat Pay merchant: ids, serials, key fingerprints — never the private key or APIv3 key."""
    return payments.view(payments.get(db, op.app_id), runtime.settings, op.app_id)


@router.put(f"{ADMIN}/wechatpay", response_model=payments.MerchantOut, dependencies=OWNER)
def admin_set_wechatpay(
    body: payments.MerchantIn, db: AppDbDep, op: OperatorDep, runtime: RuntimeDep
) -> payments.MerchantOut:
    """Set or replace the app's merchant (stored encrypted; the audit trail keeps no secret value)."""
    row = payments.put(db=db, app_id=op.app_id, spec=body, now=runtime.clock())
    return payments.view(row, runtime.settings, op.app_id)


@router.delete(f"{ADMIN}/wechatpay", response_model=payments.MerchantOut, dependencies=OWNER)
def admin_clear_wechatpay(db: AppDbDep, op: OperatorDep, runtime: RuntimeDep) -> payments.MerchantOut:
    """Remove the app's merchant: it falls back to the deployment's HUOLI_WECHATPAY_* settings."""
    payments.clear(db=db, app_id=op.app_id)
    return payments.view(None, runtime.settings, op.app_id)
