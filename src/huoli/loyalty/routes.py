"""HTTP for loyalty, thin: mini-program (/v1/loyalty), merchant server (/v1/server/loyalty, HMAC-signed),
operators (/admin/loyalty). Each route gets the request's unit of work from deps.py as loyalty's context
(`MemberCtx`, `ServerCtx`, `AdminCtx`; the hot routes hand `deps.in_work` to `run_hot`) and calls a service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from huoli.apps.models import App
from huoli.apps.schemas import Role
from huoli.deps import (
    AppDbDep,
    MiniProgramAppDep,
    MiniProgramUserDep,
    MiniProgramWorkDep,
    OperatorDep,
    OperatorWorkDep,
    PageDep,
    RuntimeDep,
    SignedCallDep,
    SignedWorkDep,
    in_signed_work,
    in_work,
    role_at_least,
    run_hot,
)
from huoli.errors import Unauthorized
from huoli.loyalty import badges, checkin, leaderboards, ledger, mall, members, profile, service, tasks, tiers
from huoli.loyalty.context import Ctx, ctx_for, load_rules, save_rules
from huoli.loyalty.leaderboards import Period
from huoli.loyalty.schemas import (
    ActionEarnIn,
    AdjustIn,
    AdminTransferOut,
    AwardIn,
    BadgeAdminOut,
    BadgeHolderOut,
    BadgeIn,
    BadgeOut,
    BalanceOut,
    BoardOut,
    CalendarOut,
    CheckinOut,
    CheckinSummaryOut,
    EarnOut,
    LedgerOut,
    LotOut,
    LoyaltyRules,
    MakeupIn,
    MallItemAdminOut,
    MallItemIn,
    MallItemOut,
    MemberCouponIn,
    MemberCouponOut,
    MemberNoteOut,
    OrderPaidIn,
    OrderRefundIn,
    OrderSpendIn,
    ProfileIn,
    ProfileOut,
    QuoteOut,
    RedeemIn,
    RedeemOut,
    ReverseOut,
    ScoreIn,
    SpendOut,
    TaskAdminOut,
    TaskIn,
    TaskOut,
    TierOut,
    TierSetIn,
    TiersSummaryOut,
    TransferOut,
    UserRef,
)
from huoli.pagination import Page
from huoli.schema_types import INT64_MAX, MAX_FEN
from huoli.users.service import derive_user_id
from huoli.work import Caller, Work

router = APIRouter(tags=["loyalty"])


def _mp_ctx(work: MiniProgramWorkDep) -> Ctx:
    return ctx_for(work)


def _signed_ctx(work: SignedWorkDep) -> Ctx:
    return ctx_for(work)


def _admin_ctx(work: OperatorWorkDep) -> Ctx:
    return ctx_for(work)


# The request's unit of work (deps.py: one per kind of caller, committed before the response) as loyalty's
# context: the Work plus the app's loyalty rules.
MemberCtx = Annotated[Ctx, Depends(_mp_ctx)]
ServerCtx = Annotated[Ctx, Depends(_signed_ctx)]
AdminCtx = Annotated[Ctx, Depends(_admin_ctx)]


def _json(out: BaseModel) -> Response:
    """The hot routes' answer, serialised once: FastAPI would validate the returned model again first."""
    return Response(out.model_dump_json(), media_type="application/json")


def _me(user: Any) -> str:
    if user is None:
        raise Unauthorized("log in first (Authorization: Bearer <session token>)", code="login_required")
    return str(user.user_id)


def _ref(app: App, ref: UserRef) -> str:
    return ref.user_id if ref.user_id is not None else derive_user_id(app, ref.openid or "")


def _balance(db: Session, ctx: Ctx, user_id: str) -> BalanceOut:
    b = ledger.balance(db, ctx, user_id)
    return BalanceOut(
        user_id=user_id,
        available=b.available,
        pending=b.pending,
        debt=b.debt,
        expiring_soon=b.expiring_soon,
        expiring_soon_before=b.expiring_soon_before,
    )


def _transfer(t: Any) -> TransferOut:
    return TransferOut(
        id=t.id,
        kind=t.kind,
        reason=t.reason,
        points=t.points,
        business_key=t.business_key,
        ref=t.ref,
        local_date=t.local_date,
        created_at=t.created_at,
    )


# --- mini-program --------------------------------------------------------------------------------------


@router.get("/v1/loyalty/points", response_model=BalanceOut)
def my_points(ctx: MemberCtx, user: MiniProgramUserDep) -> BalanceOut:
    """Available, pending and soon-expiring points of the logged-in member."""
    db = ctx.work.db
    return _balance(db, ctx, _me(user))


@router.get("/v1/loyalty/points/history", response_model=list[TransferOut])
def my_history(
    ctx: MemberCtx,
    user: MiniProgramUserDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
) -> list[TransferOut]:
    db = ctx.work.db
    return [_transfer(t) for t in ledger.history(db, user_id=_me(user), limit=limit, before_id=before_id)]


@router.get("/v1/loyalty/points/quote", response_model=QuoteOut)
def quote(ctx: MemberCtx, order_amount_fen: Annotated[int, Query(gt=0, le=MAX_FEN)]) -> QuoteOut:
    """How many points an order of this amount may use (redemption rate and per-order cap)."""
    cap = ledger.max_points_for_order(ctx, order_amount_fen)
    fpp = ctx.rules.points.fen_per_point
    return QuoteOut(
        order_amount_fen=order_amount_fen, max_points=cap, discount_fen=cap * fpp, fen_per_point=fpp
    )


@router.post("/v1/loyalty/checkin", response_model=CheckinOut)
async def check_in(runtime: RuntimeDep, app: MiniProgramAppDep, user: MiniProgramUserDep) -> Response:
    """签到 today (app timezone). A repeat on the same day answers checked_in=false and rewards nothing."""
    caller = Caller("user", _me(user))
    return _json(await run_hot(runtime, in_work, runtime, app, caller, _check_in))


def _check_in(work: Work) -> CheckinOut:
    assert work.user_id is not None  # the caller is the logged-in member (check_in above)
    return checkin.check_in(work.db, ctx_for(work), user_id=work.user_id)


@router.post("/v1/loyalty/checkin/makeup", response_model=CheckinOut)
def make_up(body: MakeupIn, ctx: MemberCtx, user: MiniProgramUserDep) -> CheckinOut:
    """补签 a missed day in the window, paid with points."""
    db = ctx.work.db
    return checkin.make_up(db, ctx, user_id=_me(user), day=body.local_date)


@router.get("/v1/loyalty/checkin/calendar", response_model=CalendarOut)
def calendar(
    ctx: MemberCtx,
    user: MiniProgramUserDep,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
) -> CalendarOut:
    db = ctx.work.db
    return checkin.calendar(db, ctx, user_id=_me(user), month=month)


@router.get("/v1/loyalty/badges", response_model=list[BadgeOut])
def my_badges(ctx: MemberCtx, user: MiniProgramUserDep) -> list[BadgeOut]:
    db = ctx.work.db
    return badges.showcase(db, user_id=_me(user))


@router.get("/v1/loyalty/tasks", response_model=list[TaskOut])
def my_tasks(ctx: MemberCtx, user: MiniProgramUserDep) -> list[TaskOut]:
    db = ctx.work.db
    return tasks.board(db, ctx, user_id=_me(user))


@router.get("/v1/loyalty/leaderboards/{board}", response_model=BoardOut)
def board(
    board: str,
    ctx: MemberCtx,
    user: MiniProgramUserDep,
    period: Period = "week",
    top: Annotated[int, Query(ge=1, le=500)] = 100,
) -> BoardOut:
    """Top-N and (when logged in) my rank; ties share a rank (1, 2, 2, 4)."""
    db = ctx.work.db
    return leaderboards.standings(
        db, ctx, board=board, period=period, top=top, user_id=user.user_id if user is not None else None
    )


@router.get("/v1/loyalty/tier", response_model=TierOut)
def my_tier(ctx: MemberCtx, user: MiniProgramUserDep) -> TierOut:
    db = ctx.work.db
    return tiers.status(db, ctx, _me(user))


@router.get("/v1/loyalty/profile", response_model=ProfileOut)
def my_profile(ctx: MemberCtx, user: MiniProgramUserDep) -> ProfileOut:
    db = ctx.work.db
    return profile.get(db, ctx, _me(user))


@router.put("/v1/loyalty/profile", response_model=ProfileOut)
def set_my_profile(body: ProfileIn, ctx: MemberCtx, user: MiniProgramUserDep) -> ProfileOut:
    """The member's birthday (MM-DD) for the tier birthday gift: set once (409 birthday_locked after)."""
    db = ctx.work.db
    return profile.set_birthday(db, ctx, user_id=_me(user), birthday=body.birthday, by_operator=False)


@router.get("/v1/loyalty/mall/items", response_model=list[MallItemOut])
def mall_items(ctx: MemberCtx) -> list[MallItemOut]:
    return [MallItemOut.model_validate(i, from_attributes=True) for i in mall.on_sale(ctx)]


@router.post("/v1/loyalty/mall/items/{item_id}/redeem", response_model=RedeemOut)
def redeem(item_id: str, body: RedeemIn, ctx: MemberCtx, user: MiniProgramUserDep) -> RedeemOut:
    """Spend points on an item; `key` makes a retried tap count once."""
    db = ctx.work.db
    return mall.redeem(db, ctx, user_id=_me(user), item_id=item_id, key=body.key)


# --- merchant server (signed) -------------------------------------------------------------------------


@router.post("/v1/server/loyalty/orders/paid", deprecated=True, response_model=EarnOut)
async def order_paid(body: OrderPaidIn, runtime: RuntimeDep, call: SignedCallDep) -> Response:
    """Earn points for a paid order (once per order_id). Deprecated alias: POST /v1/server/orders/paid settles
    every domain's part of the order in one transaction."""
    return _json(await run_hot(runtime, in_signed_work, runtime, call, _order_paid, body))


def _order_paid(work: Work, body: OrderPaidIn) -> EarnOut:
    return service.order_paid(
        work.db,
        ctx_for(work),
        user_id=_ref(work.app, body),
        order_id=body.order_id,
        amount_fen=body.amount_fen,
    )


@router.post("/v1/server/loyalty/orders/refunded", deprecated=True, response_model=ReverseOut)
def order_refunded(body: OrderRefundIn, ctx: ServerCtx) -> ReverseOut:
    """Reverse points for a (partial) refund, once per refund_id. Deprecated alias: /v1/server/orders/refunded."""
    db = ctx.work.db
    return service.order_refunded(
        db,
        ctx,
        user_id=_ref(ctx.work.app, body),
        order_id=body.order_id,
        refund_id=body.refund_id,
        amount_fen=body.amount_fen,
    )


@router.post("/v1/server/loyalty/orders/spend", response_model=SpendOut)
def order_spend(body: OrderSpendIn, ctx: ServerCtx) -> SpendOut:
    """Use points on an order (redemption rate, per-order cap); once per order_id."""
    db = ctx.work.db
    s = ledger.spend_for_order(
        db,
        ctx,
        user_id=_ref(ctx.work.app, body),
        order_id=body.order_id,
        order_amount_fen=body.order_amount_fen,
        points=body.points,
    )
    return SpendOut(
        points=s.points,
        discount_fen=s.points * ctx.rules.points.fen_per_point,
        business_key=s.business_key,
        applied=s.applied,
    )


@router.post("/v1/server/loyalty/actions", response_model=EarnOut)
async def action(body: ActionEarnIn, runtime: RuntimeDep, call: SignedCallDep) -> Response:
    """Points for a configured action (e.g. review) under its daily cap; once per key."""
    return _json(await run_hot(runtime, in_signed_work, runtime, call, _action, body))


def _action(work: Work, body: ActionEarnIn) -> EarnOut:
    return service.earn_action(
        work.db, ctx_for(work), user_id=_ref(work.app, body), action=body.action, key=body.key
    )


@router.post("/v1/server/loyalty/scores", status_code=204)
def score(body: ScoreIn, ctx: ServerCtx) -> None:
    """Feed a leaderboard metric (study minutes, steps, …): add to, or raise to, the member's score."""
    db = ctx.work.db
    leaderboards.record(db, ctx, user_id=body.user_id, board=body.board, value=body.value, mode=body.mode)


# --- operators ----------------------------------------------------------------------------------------

read = [role_at_least(Role.analyst)]
write = [role_at_least(Role.operator)]


@router.get("/admin/loyalty/rules", response_model=LoyaltyRules, dependencies=read)
def get_rules(db: AppDbDep, op: OperatorDep) -> LoyaltyRules:
    return load_rules(db, op.app_id)


@router.put("/admin/loyalty/rules", response_model=LoyaltyRules, dependencies=write)
def put_rules(body: LoyaltyRules, ctx: AdminCtx) -> LoyaltyRules:
    """Replace the app's rules document (validated as a whole; see docs/loyalty.md)."""
    save_rules(ctx.work.db, ctx.app_id, body, ctx.now)
    return body


@router.get("/admin/loyalty/members/{user_id}/ledger", response_model=LedgerOut, dependencies=read)
def member_ledger(
    user_id: str,
    ctx: AdminCtx,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> LedgerOut:
    db = ctx.work.db
    return LedgerOut(
        known=ledger.is_known(db, user_id),
        balance=_balance(ctx.work.db, ctx, user_id),
        transfers=[
            AdminTransferOut(**_transfer(t).model_dump(), note=ledger.operator_note(t))
            for t in ledger.history(db, user_id=user_id, limit=limit)
        ],
        lots=[
            LotOut(
                id=lot.id,
                points=lot.points,
                remaining=lot.remaining,
                available_at=lot.available_at,
                expires_at=lot.expires_at,
            )
            for lot in ledger.lots(db, user_id=user_id)
        ],
    )


@router.post("/admin/loyalty/members/{user_id}/adjust", response_model=BalanceOut, dependencies=write)
def adjust(user_id: str, body: AdjustIn, ctx: AdminCtx) -> BalanceOut:
    db = ctx.work.db
    ledger.adjust(
        db,
        ctx,
        user_id=user_id,
        points=body.points,
        key=f"admin:{body.key}",
        note=body.note,
        expires_at=body.expires_at,
    )
    return _balance(ctx.work.db, ctx, user_id)


@router.get("/admin/loyalty/members/{user_id}/tier", response_model=TierOut, dependencies=read)
def member_tier(user_id: str, ctx: AdminCtx) -> TierOut:
    return tiers.status(ctx.work.db, ctx, user_id)


@router.get("/admin/loyalty/members/{user_id}/profile", response_model=ProfileOut, dependencies=read)
def member_profile(user_id: str, ctx: AdminCtx) -> ProfileOut:
    return profile.get(ctx.work.db, ctx, user_id)


@router.put("/admin/loyalty/members/{user_id}/profile", response_model=ProfileOut, dependencies=write)
def correct_profile(user_id: str, body: ProfileIn | None, ctx: AdminCtx) -> ProfileOut:
    """An operator corrects (or, with no body, clears) a member's birthday."""
    return profile.set_birthday(
        ctx.work.db, ctx, user_id=user_id, birthday=body.birthday if body else None, by_operator=True
    )


@router.get("/admin/loyalty/badges", response_model=Page[BadgeAdminOut], dependencies=read)
def list_badges(db: AppDbDep, page: PageDep) -> Page[BadgeAdminOut]:
    """The defined badges, by code, with how many members hold each."""
    items, cursor = badges.admin_page(db, page)
    return Page(items=items, next_cursor=cursor)


@router.get("/admin/loyalty/badges/{code}/holders", response_model=Page[BadgeHolderOut], dependencies=read)
def badge_holders(code: str, db: AppDbDep, page: PageDep) -> Page[BadgeHolderOut]:
    """Who holds a badge, most recent first."""
    items, cursor = badges.holders(db, code, page)
    return Page(items=items, next_cursor=cursor)


@router.post("/admin/loyalty/badges", response_model=BadgeOut, dependencies=write)
def define_badge(body: BadgeIn, ctx: AdminCtx) -> BadgeOut:
    row = badges.define(ctx.work.db, ctx, body)
    return BadgeOut(code=row.code, name=row.name, description=row.description, icon=row.icon)


@router.post("/admin/loyalty/badges/award", dependencies=write)
def award_badge(body: AwardIn, ctx: AdminCtx) -> dict[str, bool]:
    """Award a badge to a member once; the reason (if given) goes to the member's history."""
    won = members.award_badge(
        ctx.work.db, ctx, user_id=body.user_id, code=body.badge, key=body.key, reason=body.reason
    )
    return {"awarded": won}


@router.get("/admin/loyalty/tasks", response_model=Page[TaskAdminOut], dependencies=read)
def list_tasks(ctx: AdminCtx, page: PageDep) -> Page[TaskAdminOut]:
    """The tasks not deleted (running, paused, scheduled, ended), by code, with their live figures."""
    items, cursor = tasks.admin_page(ctx.work.db, ctx, page)
    return Page(items=items, next_cursor=cursor)


@router.post("/admin/loyalty/tasks", response_model=TaskIn, dependencies=write)
def define_task(body: TaskIn, ctx: AdminCtx) -> TaskIn:
    return tasks.define(ctx.work.db, ctx, body)


@router.post("/admin/loyalty/tasks/{code}/pause", status_code=204, dependencies=write)
def pause_task(code: str, ctx: AdminCtx) -> None:
    tasks.set_paused(ctx.work.db, ctx, code, paused=True)


@router.post("/admin/loyalty/tasks/{code}/resume", status_code=204, dependencies=write)
def resume_task(code: str, ctx: AdminCtx) -> None:
    tasks.set_paused(ctx.work.db, ctx, code, paused=False)


@router.delete("/admin/loyalty/tasks/{code}", status_code=204, dependencies=write)
def deactivate_task(code: str, ctx: AdminCtx) -> None:
    """Delete a task: gone from every list (progress rows stay; defining the code again resumes them)."""
    tasks.deactivate(ctx.work.db, ctx, code)


@router.get("/admin/loyalty/mall/items", response_model=Page[MallItemAdminOut], dependencies=read)
def admin_items(ctx: AdminCtx, page: PageDep) -> Page[MallItemAdminOut]:
    """Every mall item, active or not, by id, with redemptions, redeemers and points spent."""
    items, cursor = mall.admin_page(ctx.work.db, ctx, page)
    return Page(items=items, next_cursor=cursor)


@router.put("/admin/loyalty/mall/items", response_model=MallItemOut, dependencies=write)
def put_item(body: MallItemIn, ctx: AdminCtx) -> MallItemOut:
    row = mall.upsert_item(ctx.work.db, ctx, body)
    return MallItemOut.model_validate(row, from_attributes=True)


@router.post("/admin/loyalty/mall/items/{item_id}/pause", response_model=MallItemOut, dependencies=write)
def pause_item(item_id: str, ctx: AdminCtx) -> MallItemOut:
    row = mall.set_active(ctx.work.db, ctx, item_id, active=False)
    return MallItemOut.model_validate(row, from_attributes=True)


@router.post("/admin/loyalty/mall/items/{item_id}/resume", response_model=MallItemOut, dependencies=write)
def resume_item(item_id: str, ctx: AdminCtx) -> MallItemOut:
    row = mall.set_active(ctx.work.db, ctx, item_id, active=True)
    return MallItemOut.model_validate(row, from_attributes=True)


@router.get("/admin/loyalty/tiers/summary", response_model=TiersSummaryOut, dependencies=read)
def tiers_summary(ctx: AdminCtx) -> TiersSummaryOut:
    """Members per tier now, the member day and its next dates."""
    return tiers.summary(ctx.work.db, ctx)


@router.get("/admin/loyalty/checkin/summary", response_model=CheckinSummaryOut, dependencies=read)
def checkin_summary(ctx: AdminCtx) -> CheckinSummaryOut:
    """Today's check-ins, the last 7 days, live streaks by length, milestone rewards of the last 7 days."""
    return checkin.summary(ctx.work.db, ctx)


@router.post("/admin/loyalty/members/{user_id}/tier", response_model=TierOut, dependencies=write)
def set_member_tier(user_id: str, body: TierSetIn, ctx: AdminCtx) -> TierOut:
    """Put a member on a tier by hand (a reason is required; optional expiry), kept in the member's history."""
    members.set_tier(
        ctx.work.db, ctx, user_id=user_id, tier=body.tier, until=body.expires_at, reason=body.reason
    )
    return tiers.status(ctx.work.db, ctx, user_id)


@router.post("/admin/loyalty/members/{user_id}/coupons", response_model=MemberCouponOut, dependencies=write)
def issue_member_coupon(user_id: str, body: MemberCouponIn, ctx: AdminCtx) -> MemberCouponOut:
    """Issue one coupon to a member (a reason is required), through the promotions domain; once per key."""
    return members.issue_coupon(
        ctx.work.db, ctx, user_id=user_id, template_id=body.template_id, key=body.key, reason=body.reason
    )


@router.get("/admin/loyalty/members/{user_id}/history", response_model=Page[MemberNoteOut], dependencies=read)
def member_history(user_id: str, db: AppDbDep, page: PageDep) -> Page[MemberNoteOut]:
    """The operators' changes to a member outside the ledger (tier, coupons, badges) with their reasons."""
    items, cursor = members.history(db, user_id, page)
    return Page(items=items, next_cursor=cursor)


@router.get("/admin/loyalty/leaderboards/{board}", response_model=BoardOut, dependencies=read)
def admin_board(
    board: str,
    ctx: AdminCtx,
    period: Period = "week",
    top: Annotated[int, Query(ge=1, le=1000)] = 100,
    user_id: str | None = None,
    day: datetime | None = None,
) -> BoardOut:
    db = ctx.work.db
    return leaderboards.standings(
        db,
        ctx,
        board=board,
        period=period,
        top=top,
        user_id=user_id,
        day=ctx.local_date(day) if day is not None and day.tzinfo else None,
    )


@router.post("/admin/loyalty/jobs/{job}", dependencies=write)
def run_job(job: str, ctx: AdminCtx, runtime: RuntimeDep) -> dict[str, object]:
    """Run one job now: expire, warn-expiring, tiers, tier-benefits, scan-tasks, compact-boards (also
    `huoli loyalty job …`)."""
    return service.run_job(ctx.work.db, ctx, job=job, store=runtime.store)
