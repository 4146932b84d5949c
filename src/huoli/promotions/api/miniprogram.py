"""Mini-program calls under /v1/promotions (the app's X-Huoli-App-Id; a session token where a user acts).

Thin: each route parses, calls a service in the request's one unit of work (`MiniProgramDbDep`) and shapes the
answer. Routes that ask WeChat first (risk rank) or run on the hot path hand over to `promotions.flows`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from huoli.apps.models import App
from huoli.auth.service import MiniProgramUser
from huoli.deps import MiniProgramAppDep, MiniProgramDbDep, MiniProgramUserDep, RuntimeDep, run_hot
from huoli.errors import Unauthorized
from huoli.promotions import (
    bargain,
    coupons,
    distribution,
    flashsale,
    flows,
    groupbuy,
    referrals,
    risk,
    service,
)
from huoli.promotions.schemas import (
    AttemptIn,
    BargainHelpOut,
    BargainOut,
    CheckoutIn,
    ClaimIn,
    CouponOut,
    CouponTemplateOut,
    DistributionBalanceOut,
    DistributorBindOut,
    DistributorOut,
    FlashItemView,
    FlashSessionView,
    GroupCampaignView,
    GroupOut,
    InviteCodeOut,
    QuoteOut,
    ReferralBindOut,
    ReservationOut,
    RulesTextOut,
    WithdrawalOut,
    WithdrawIn,
)
from huoli.runtime import Runtime

router = APIRouter(tags=["promotions"])
V1 = "/v1/promotions"
DeviceDep = Annotated[str | None, Header(alias="X-Huoli-Device-Id", max_length=128)]


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


def _velocity(
    db: Session, runtime: Runtime, app: App, action: str, uid: str, device: str | None, request: Request
) -> None:
    """The per-user/device/IP velocity limits of one rewarded action (risk.hit), inside the request's unit."""
    risk.hit(
        db=db,
        settings=runtime.settings,
        app_id=app.id,
        action=action,
        now=runtime.clock(),
        user_id=uid,
        device_id=device,
        ip=_ip(request),
    )


# -- coupons -------------------------------------------------------------------------------------------


@router.get(f"{V1}/coupon-templates", response_model=list[CouponTemplateOut])
def claimable_templates(db: MiniProgramDbDep) -> list[CouponTemplateOut]:
    """Coupons a user can claim, each with the rule text to display."""
    return [CouponTemplateOut.model_validate(t) for t in coupons.claimable_templates(db)]


@router.post(f"{V1}/coupons/claim", response_model=CouponOut)
def claim_coupon(
    body: ClaimIn,
    request: Request,
    runtime: RuntimeDep,
    app: MiniProgramAppDep,
    user: MiniProgramUserDep,
    db: MiniProgramDbDep,
    device: DeviceDep = None,
) -> CouponOut:
    """领券. Idempotent on request_id: retrying returns the same coupon."""
    uid = _user(user)
    _velocity(db, runtime, app, "coupon_claim", uid, device, request)
    c, _ = coupons.claim(
        db=db,
        settings=runtime.settings,
        app_id=app.id,
        template_id=body.template_id,
        user_id=uid,
        claim_key=f"user:{uid}:{body.request_id}",
        now=runtime.clock(),
    )
    return CouponOut.model_validate(c)


@router.get(f"{V1}/coupons", response_model=list[CouponOut])
def my_coupons(user: MiniProgramUserDep, db: MiniProgramDbDep, status: str | None = None) -> list[CouponOut]:
    uid = _user(user)
    return [CouponOut.model_validate(c) for c in coupons.list_for_user(db=db, user_id=uid, status=status)]


@router.get(f"{V1}/coupons/expiring", response_model=list[CouponOut])
def my_expiring_coupons(
    runtime: RuntimeDep,
    user: MiniProgramUserDep,
    db: MiniProgramDbDep,
    days: Annotated[int, Query(ge=1, le=30)] = 3,
) -> list[CouponOut]:
    uid = _user(user)
    rows = coupons.expiring_soon(db=db, within=timedelta(days=days), now=runtime.clock(), user_id=uid)
    return [CouponOut.model_validate(c) for c in rows]


@router.post(f"{V1}/coupons/quote", response_model=QuoteOut)
def quote_coupons(
    body: CheckoutIn, runtime: RuntimeDep, user: MiniProgramUserDep, db: MiniProgramDbDep
) -> QuoteOut:
    """Validate a coupon selection against a cart; changes nothing."""
    uid = _user(user)
    q = coupons.quote(
        db=db,
        user_id=uid,
        coupon_ids=body.coupon_ids,
        cart=body.cart,
        now=runtime.clock(),
        order_id=body.order_id,
    )
    return QuoteOut.of(q)


@router.post(f"{V1}/coupons/lock", response_model=QuoteOut)
async def lock_coupons(
    body: CheckoutIn, runtime: RuntimeDep, app: MiniProgramAppDep, user: MiniProgramUserDep
) -> Response:
    """Checkout: validate and reserve the coupons for order_id (idempotent per order)."""
    return _json(await run_hot(runtime, flows.lock_coupons, runtime, app.id, _user(user), body))


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
    got = flows.claim_gift_pack(
        runtime, app, uid=_user(user), pack_id=pack_id, device=device, ip=_ip(request)
    )
    return [CouponOut.model_validate(c) for c in got]


# -- flash sales ---------------------------------------------------------------------------------------


@router.get(f"{V1}/flash/sessions", response_model=list[FlashSessionView])
def flash_sessions(runtime: RuntimeDep, db: MiniProgramDbDep) -> list[FlashSessionView]:
    """Current and upcoming sessions with their items and remaining stock."""
    return [
        FlashSessionView(
            id=s.id,
            name=s.name,
            starts_at=s.starts_at,
            ends_at=s.ends_at,
            items=[
                FlashItemView(
                    id=i.id,
                    item_id=i.item_id,
                    price_fen=i.price_fen,
                    original_price_fen=i.original_price_fen,
                    stock=i.stock,
                    total_stock=i.total_stock,
                    per_user_limit=i.per_user_limit,
                )
                for i in items
            ],
        )
        for s, items in flashsale.upcoming_sessions(db, now=runtime.clock())
    ]


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
    return _json(
        await run_hot(runtime, flows.flash_attempt, runtime, app.id, flash_item_id, uid, body.quantity)
    )


# -- group buys, bargains ------------------------------------------------------------------------------


@router.get(f"{V1}/group-campaigns/{{campaign_id}}", response_model=GroupCampaignView)
def group_campaign(campaign_id: str, db: MiniProgramDbDep) -> GroupCampaignView:
    return GroupCampaignView.model_validate(groupbuy.get_campaign(db, campaign_id))


@router.get(f"{V1}/groups/{{group_id}}", response_model=GroupOut)
def group_status(group_id: str, db: MiniProgramDbDep) -> GroupOut:
    g = groupbuy.get_group(db, group_id)
    return GroupOut(
        id=g.id,
        campaign_id=g.campaign_id,
        status=g.status,
        size=g.size,
        member_count=g.member_count,
        missing=max(g.size - g.member_count, 0),
        deadline=g.deadline,
    )


@router.post(f"{V1}/bargains", response_model=BargainOut)
def start_bargain(
    runtime: RuntimeDep,
    app: MiniProgramAppDep,
    user: MiniProgramUserDep,
    db: MiniProgramDbDep,
    campaign_id: Annotated[str, Query()],
) -> BargainOut:
    uid = _user(user)
    b = bargain.start(
        db=db,
        settings=runtime.settings,
        app_id=app.id,
        campaign_id=campaign_id,
        user_id=uid,
        now=runtime.clock(),
    )
    return BargainOut.of(b, bargain.campaign_rules_text(db, b))


@router.get(f"{V1}/bargains/{{bargain_id}}", response_model=BargainOut)
def bargain_status(bargain_id: str, db: MiniProgramDbDep) -> BargainOut:
    """Public view for the owner and friends: N helpers needed and every cut, shown up front."""
    b = bargain.get(db, bargain_id)
    return BargainOut.of(b, bargain.campaign_rules_text(db, b))


@router.post(f"{V1}/bargains/{{bargain_id}}/help", response_model=BargainHelpOut)
def help_bargain(
    bargain_id: str,
    request: Request,
    runtime: RuntimeDep,
    app: MiniProgramAppDep,
    user: MiniProgramUserDep,
    device: DeviceDep = None,
) -> BargainHelpOut:
    """A friend's help (their own tap, logged in): velocity limits and the risk rank are checked first."""
    return flows.help_bargain(
        runtime, app, uid=_user(user), bargain_id=bargain_id, device=device, ip=_ip(request)
    )


# -- referrals, distribution ---------------------------------------------------------------------------


@router.post(f"{V1}/referrals/{{program_id}}/code", response_model=InviteCodeOut)
def my_invite_code(
    program_id: str,
    runtime: RuntimeDep,
    app: MiniProgramAppDep,
    user: MiniProgramUserDep,
    db: MiniProgramDbDep,
) -> InviteCodeOut:
    """The user's invite code; share it through the SDK as campaign `ref_<code>`."""
    uid = _user(user)
    inv = referrals.invite_code(db=db, app_id=app.id, program_id=program_id, user_id=uid, now=runtime.clock())
    program = referrals.program_of(db, program_id)
    return InviteCodeOut(
        code=inv.code,
        share_campaign=f"ref_{inv.code}",
        rewarded=inv.rewarded_count,
        rules_text=program.rules_text if program else "",
    )


@router.post(f"{V1}/referrals/bind", response_model=ReferralBindOut)
def bind_referral(
    request: Request,
    runtime: RuntimeDep,
    app: MiniProgramAppDep,
    user: MiniProgramUserDep,
    code: Annotated[str, Query(min_length=4, max_length=40)],
    device: DeviceDep = None,
) -> ReferralBindOut:
    """Called on launch when the share path carries `hl_campaign=ref_<code>`. Binds new users only."""
    return flows.bind_referral(
        runtime, app, uid=_user(user), code=code.removeprefix("ref_"), device=device, ip=_ip(request)
    )


@router.post(f"{V1}/distribution/join", response_model=DistributorOut)
def join_distribution(
    runtime: RuntimeDep,
    app: MiniProgramAppDep,
    user: MiniProgramUserDep,
    db: MiniProgramDbDep,
    invited_by: str | None = None,
) -> DistributorOut:
    uid = _user(user)
    d = distribution.join(
        db=db,
        settings=runtime.settings,
        app_id=app.id,
        user_id=uid,
        now=runtime.clock(),
        invited_by=invited_by,
    )
    return DistributorOut(user_id=d.user_id, parent_user_id=d.parent_user_id)


@router.post(f"{V1}/distribution/bind", response_model=DistributorBindOut)
def bind_distributor(
    runtime: RuntimeDep,
    app: MiniProgramAppDep,
    user: MiniProgramUserDep,
    db: MiniProgramDbDep,
    distributor_user_id: str,
) -> DistributorBindOut:
    """Called on launch from a distributor's share (the SDK's hl_sharer)."""
    uid = _user(user)
    b = distribution.bind_customer(
        db=db,
        settings=runtime.settings,
        app_id=app.id,
        customer_user_id=uid,
        distributor_user_id=distributor_user_id,
        now=runtime.clock(),
    )
    return DistributorBindOut(distributor_user_id=b.distributor_user_id if b else None)


@router.get(f"{V1}/distribution/me", response_model=DistributionBalanceOut)
def my_distribution(
    app: MiniProgramAppDep, user: MiniProgramUserDep, db: MiniProgramDbDep
) -> DistributionBalanceOut:
    uid = _user(user)
    d = distribution.balance(db=db, user_id=uid)
    return DistributionBalanceOut(
        frozen_fen=d.frozen_fen,
        available_fen=d.available_fen,
        withdrawn_fen=d.withdrawn_fen,
        rules_text=distribution.rules_text(db, app.id),
    )


@router.post(f"{V1}/distribution/withdraw", response_model=WithdrawalOut)
def withdraw(
    body: WithdrawIn,
    runtime: RuntimeDep,
    app: MiniProgramAppDep,
    user: MiniProgramUserDep,
    db: MiniProgramDbDep,
) -> WithdrawalOut:
    uid = _user(user)
    w = distribution.withdraw(
        db=db,
        settings=runtime.settings,
        app_id=app.id,
        user_id=uid,
        amount_fen=body.amount_fen,
        request_key=f"{uid}:{body.request_id}",
        now=runtime.clock(),
    )
    return WithdrawalOut(id=w.id, amount_fen=w.amount_fen, status=w.status)


@router.get(f"{V1}/rules/{{kind}}/{{item_id}}", response_model=RulesTextOut)
def rules(kind: str, item_id: str, app: MiniProgramAppDep, db: MiniProgramDbDep) -> RulesTextOut:
    """The rule text a campaign must display (活动规则)."""
    return RulesTextOut(rules_text=service.rules_text(db, app_id=app.id, kind=kind, item_id=item_id))
