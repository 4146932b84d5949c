"""Mini-program calls under /v1/promotions (the app's X-Huoli-App-Id; a session token where a user acts).

Thin: each route parses, calls a service with the request's one unit of work (`MiniProgramWorkDep`) and
shapes the answer. Hot routes hand their unit to `run_hot` (`deps.in_work`); routes that ask WeChat first
(risk rank) or run the single-statement 秒杀 attempt hand over to `promotions.flows`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel

from huoli.auth.service import MiniProgramUser
from huoli.deps import MiniProgramAppDep, MiniProgramUserDep, MiniProgramWorkDep, RuntimeDep, in_work, run_hot
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
from huoli.work import Caller, Work

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


def _uid(work: Work) -> str:
    """The logged-in user the work is for; 401 for an anonymous caller."""
    uid = work.user_id
    if uid is None:
        raise Unauthorized("log in first (Authorization: Bearer <session token>)", code="login_required")
    return uid


def _ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _velocity(work: Work, action: str, uid: str, device: str | None, request: Request) -> None:
    """The per-user/device/IP velocity limits of one rewarded action (risk.hit), inside the request's unit."""
    risk.hit(work, action=action, user_id=uid, device_id=device, ip=_ip(request))


# -- coupons -------------------------------------------------------------------------------------------


@router.get(f"{V1}/coupon-templates", response_model=list[CouponTemplateOut])
def claimable_templates(work: MiniProgramWorkDep) -> list[CouponTemplateOut]:
    """Coupons a user can claim, each with the rule text to display."""
    return [CouponTemplateOut.model_validate(t) for t in coupons.claimable_templates(work.db, work.now)]


@router.post(f"{V1}/coupons/claim", response_model=CouponOut)
def claim_coupon(
    body: ClaimIn, request: Request, work: MiniProgramWorkDep, device: DeviceDep = None
) -> CouponOut:
    """领券. Idempotent on request_id: retrying returns the same coupon."""
    uid = _uid(work)
    _velocity(work, "coupon_claim", uid, device, request)
    c, _ = coupons.claim(
        work, template_id=body.template_id, user_id=uid, claim_key=f"user:{uid}:{body.request_id}"
    )
    return CouponOut.model_validate(c)


@router.get(f"{V1}/coupons", response_model=list[CouponOut])
def my_coupons(work: MiniProgramWorkDep, status: str | None = None) -> list[CouponOut]:
    uid = _uid(work)
    return [
        CouponOut.model_validate(c) for c in coupons.list_for_user(db=work.db, user_id=uid, status=status)
    ]


@router.get(f"{V1}/coupons/expiring", response_model=list[CouponOut])
def my_expiring_coupons(
    work: MiniProgramWorkDep, days: Annotated[int, Query(ge=1, le=30)] = 3
) -> list[CouponOut]:
    uid = _uid(work)
    rows = coupons.expiring_soon(db=work.db, within=timedelta(days=days), now=work.now, user_id=uid)
    return [CouponOut.model_validate(c) for c in rows]


@router.post(f"{V1}/coupons/quote", response_model=QuoteOut)
def quote_coupons(body: CheckoutIn, work: MiniProgramWorkDep) -> QuoteOut:
    """Validate a coupon selection against a cart; changes nothing."""
    q = coupons.quote(
        work, user_id=_uid(work), coupon_ids=body.coupon_ids, cart=body.cart, order_id=body.order_id
    )
    return QuoteOut.of(q)


@router.post(f"{V1}/coupons/lock", response_model=QuoteOut)
async def lock_coupons(
    body: CheckoutIn, runtime: RuntimeDep, app: MiniProgramAppDep, user: MiniProgramUserDep
) -> Response:
    """Checkout: validate and reserve the coupons for order_id (idempotent per order)."""
    uid = _user(user)
    return _json(await run_hot(runtime, in_work, runtime, app, Caller("user", uid), _lock, uid, body))


def _lock(work: Work, uid: str, body: CheckoutIn) -> QuoteOut:
    """Checkout's hot unit (run by deps.run_hot, on the event loop or a thread)."""
    q = coupons.lock(work, user_id=uid, order_id=body.order_id, coupon_ids=body.coupon_ids, cart=body.cart)
    return QuoteOut.of(q)


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
def flash_sessions(work: MiniProgramWorkDep) -> list[FlashSessionView]:
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
                    available=i.halted_reason is None,
                )
                for i in items
            ],
        )
        for s, items in flashsale.upcoming_sessions(work.db, now=work.now)
    ]


@router.post(f"{V1}/flash/items/{{flash_item_id}}/attempt", response_model=ReservationOut)
async def flash_attempt(
    flash_item_id: str, body: AttemptIn, runtime: RuntimeDep, app: MiniProgramAppDep, user: MiniProgramUserDep
) -> Response:
    """秒杀: one attempt per user per item; the reservation must be paid before pay_by."""
    uid = _user(user)
    # async: most of a burst is refused from the in-process cache right here, without a thread hop or I/O
    flows.flash_precheck(runtime, app, flash_item_id=flash_item_id, quantity=body.quantity)
    return _json(await run_hot(runtime, flows.flash_attempt, runtime, app, flash_item_id, uid, body.quantity))


# -- group buys, bargains ------------------------------------------------------------------------------


@router.get(f"{V1}/group-campaigns/{{campaign_id}}", response_model=GroupCampaignView)
def group_campaign(campaign_id: str, work: MiniProgramWorkDep) -> GroupCampaignView:
    return GroupCampaignView.model_validate(groupbuy.get_campaign(work.db, campaign_id))


@router.get(f"{V1}/groups/{{group_id}}", response_model=GroupOut)
def group_status(group_id: str, work: MiniProgramWorkDep) -> GroupOut:
    g = groupbuy.get_group(work.db, group_id)
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
def start_bargain(work: MiniProgramWorkDep, campaign_id: Annotated[str, Query()]) -> BargainOut:
    b = bargain.start(work, campaign_id=campaign_id, user_id=_uid(work))
    return BargainOut.of(b, bargain.campaign_rules_text(work.db, b))


@router.get(f"{V1}/bargains/{{bargain_id}}", response_model=BargainOut)
def bargain_status(bargain_id: str, work: MiniProgramWorkDep) -> BargainOut:
    """Public view for the owner and friends: N helpers needed and every cut, shown up front."""
    b = bargain.get(work.db, bargain_id)
    return BargainOut.of(b, bargain.campaign_rules_text(work.db, b))


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
def my_invite_code(program_id: str, work: MiniProgramWorkDep) -> InviteCodeOut:
    """The user's invite code; share it through the SDK as campaign `ref_<code>`."""
    inv = referrals.invite_code(work, program_id=program_id, user_id=_uid(work))
    program = referrals.program_of(work.db, program_id)
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
def join_distribution(work: MiniProgramWorkDep, invited_by: str | None = None) -> DistributorOut:
    d = distribution.join(work, user_id=_uid(work), invited_by=invited_by)
    return DistributorOut(user_id=d.user_id, parent_user_id=d.parent_user_id)


@router.post(f"{V1}/distribution/bind", response_model=DistributorBindOut)
def bind_distributor(work: MiniProgramWorkDep, distributor_user_id: str) -> DistributorBindOut:
    """Called on launch from a distributor's share (the SDK's hl_sharer)."""
    b = distribution.bind_customer(work, customer_user_id=_uid(work), distributor_user_id=distributor_user_id)
    return DistributorBindOut(distributor_user_id=b.distributor_user_id if b else None)


@router.get(f"{V1}/distribution/me", response_model=DistributionBalanceOut)
def my_distribution(work: MiniProgramWorkDep) -> DistributionBalanceOut:
    d = distribution.balance(db=work.db, user_id=_uid(work))
    return DistributionBalanceOut(
        frozen_fen=d.frozen_fen,
        available_fen=d.available_fen,
        withdrawn_fen=d.withdrawn_fen,
        rules_text=distribution.rules_text(work.db, work.app_id),
    )


@router.post(f"{V1}/distribution/withdraw", response_model=WithdrawalOut)
def withdraw(body: WithdrawIn, work: MiniProgramWorkDep) -> WithdrawalOut:
    uid = _uid(work)
    w = distribution.withdraw(
        work, user_id=uid, amount_fen=body.amount_fen, request_key=f"{uid}:{body.request_id}"
    )
    return WithdrawalOut(id=w.id, amount_fen=w.amount_fen, status=w.status)


@router.get(f"{V1}/rules/{{kind}}/{{item_id}}", response_model=RulesTextOut)
def rules(kind: str, item_id: str, work: MiniProgramWorkDep) -> RulesTextOut:
    """The rule text a campaign must display (活动规则)."""
    return RulesTextOut(
        rules_text=service.rules_text(work.db, app_id=work.app_id, kind=kind, item_id=item_id)
    )
