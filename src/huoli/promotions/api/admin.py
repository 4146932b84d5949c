"""Operator calls under /admin/promotions (API keys): each route runs in the request's audited unit of work
(`OperatorWorkDep`) and calls one service with it."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from huoli.apps.schemas import Role
from huoli.deps import OperatorDep, OperatorWorkDep, PageDep, RuntimeDep, role_at_least
from huoli.pagination import Page, paginate
from huoli.promotions import (
    bargain,
    compliance,
    coupons,
    distribution,
    flashsale,
    flows,
    groupbuy,
    payments,
    referrals,
    service,
)
from huoli.promotions.models import (
    Bargain,
    BargainCampaign,
    BargainHelp,
    Commission,
    DistributionConfig,
    Distributor,
    FlashItem,
    FlashReservation,
    FlashSession,
    GiftPack,
    Group,
    GroupCampaign,
    GroupMember,
    InviteCode,
    ReferralBinding,
    ReferralProgram,
)
from huoli.promotions.schemas import (
    BargainCampaignAdminOut,
    BargainCampaignIn,
    BargainCampaignOut,
    CommissionTotalOut,
    ComplianceIn,
    ComplianceOut,
    CouponOut,
    CouponTemplateIn,
    CouponTemplateOut,
    CreatedOut,
    DailySessionsIn,
    DistributionAdminOut,
    DistributionConfigIn,
    DistributionSettingsOut,
    FlashItemAdminOut,
    FlashItemIn,
    FlashItemStatusOut,
    FlashSessionAdminOut,
    FlashSessionIn,
    GiftPackAdminOut,
    GiftPackIn,
    GroupCampaignAdminOut,
    GroupCampaignIn,
    IdOut,
    IdRulesOut,
    IssueIn,
    IssueOut,
    JobsRunOut,
    OverviewOut,
    ReferralProgramAdminOut,
    ReferralProgramIn,
    RulesTextOut,
)
from huoli.work import Caller

router = APIRouter(tags=["promotions"])
ADMIN = "/admin/promotions"
WRITE = [role_at_least(Role.operator)]
READ = [role_at_least(Role.analyst)]
OWNER = [role_at_least(Role.owner)]


@router.post(
    f"{ADMIN}/coupon-templates", response_model=CouponTemplateOut, status_code=201, dependencies=WRITE
)
def admin_create_template(body: CouponTemplateIn, work: OperatorWorkDep) -> CouponTemplateOut:
    return CouponTemplateOut.model_validate(coupons.create_template(work, body))


@router.get(f"{ADMIN}/coupon-templates", response_model=Page[CouponTemplateOut], dependencies=READ)
def admin_list_templates(work: OperatorWorkDep, page: PageDep) -> Page[CouponTemplateOut]:
    rows, cursor = coupons.templates_page(work.db, page)
    return Page(items=[CouponTemplateOut.model_validate(t) for t in rows], next_cursor=cursor)


@router.patch(
    f"{ADMIN}/coupon-templates/{{template_id}}", response_model=CouponTemplateOut, dependencies=WRITE
)
def admin_pause_template(template_id: str, active: bool, work: OperatorWorkDep) -> CouponTemplateOut:
    return CouponTemplateOut.model_validate(coupons.set_template_active(work.db, template_id, active))


@router.post(f"{ADMIN}/coupons/issue", response_model=IssueOut, dependencies=WRITE)
def admin_issue(body: IssueIn, work: OperatorWorkDep) -> IssueOut:
    """Targeted issuance (e.g. 9折 for high-value users); rerunning the same batch_key issues nothing twice."""
    r = coupons.issue_to_users(
        work, template_id=body.template_id, user_ids=body.user_ids, batch_key=body.batch_key
    )
    return IssueOut(issued=len(r.issued), already=len(r.already), failed=r.failed)


@router.get(f"{ADMIN}/coupons/expiring", response_model=Page[CouponOut], dependencies=READ)
def admin_expiring(
    work: OperatorWorkDep, page: PageDep, days: Annotated[int, Query(ge=1, le=30)] = 3
) -> Page[CouponOut]:
    """Coupons ending within `days`, soonest first (feed for reminder messages)."""
    rows, cursor = coupons.expiring_page(db=work.db, within=timedelta(days=days), now=work.now, page=page)
    return Page(items=[CouponOut.model_validate(c) for c in rows], next_cursor=cursor)


@router.post(f"{ADMIN}/gift-packs", response_model=IdOut, status_code=201, dependencies=WRITE)
def admin_gift_pack(body: GiftPackIn, work: OperatorWorkDep) -> IdOut:
    return IdOut(id=coupons.create_gift_pack(work, body).id)


@router.get(f"{ADMIN}/gift-packs", response_model=Page[GiftPackAdminOut], dependencies=READ)
def admin_list_gift_packs(work: OperatorWorkDep, page: PageDep) -> Page[GiftPackAdminOut]:
    """新人礼包, newest first."""
    rows, cursor = paginate(work.db, select(GiftPack), page, order=_newest_first(GiftPack))
    items = [
        GiftPackAdminOut(
            id=p.id,
            name=p.name,
            template_ids=json.loads(p.template_ids),
            new_user_days=p.new_user_days,
            active=p.active,
            created_at=p.created_at,
        )
        for p in rows
    ]
    return Page(items=items, next_cursor=cursor)


@router.post(f"{ADMIN}/flash/sessions", response_model=IdOut, status_code=201, dependencies=WRITE)
def admin_flash_session(body: FlashSessionIn, work: OperatorWorkDep) -> IdOut:
    return IdOut(id=flashsale.create_session(work, body).id)


@router.get(f"{ADMIN}/flash/sessions", response_model=Page[FlashSessionAdminOut], dependencies=READ)
def admin_list_flash_sessions(work: OperatorWorkDep, page: PageDep) -> Page[FlashSessionAdminOut]:
    """Flash-sale sessions, latest start first, each with its items' stock: sold (paid), reserved (awaiting
    payment) and left."""
    db = work.db
    rows, cursor = paginate(
        db, select(FlashSession), page, order=[FlashSession.starts_at.desc(), FlashSession.id.desc()]
    )
    ids = [r.id for r in rows]
    items: dict[str, list[FlashItem]] = {i: [] for i in ids}
    if ids:
        for item in db.scalars(select(FlashItem).where(FlashItem.session_id.in_(ids)).order_by(FlashItem.id)):
            items[item.session_id].append(item)
    item_ids = [i.id for its in items.values() for i in its]
    attempts: dict[str, dict[str, int]] = {i: {} for i in item_ids}
    units: dict[str, dict[str, int]] = {i: {} for i in item_ids}
    if item_ids:
        counted = db.execute(
            select(
                FlashReservation.flash_item_id,
                FlashReservation.status,
                func.count(),
                func.coalesce(func.sum(FlashReservation.quantity), 0),
            )
            .where(FlashReservation.flash_item_id.in_(item_ids))
            .group_by(FlashReservation.flash_item_id, FlashReservation.status)
        )
        for item_id, status, n, qty in counted:
            attempts[item_id][status] = int(n)
            units[item_id][status] = int(qty)
    out = [
        FlashSessionAdminOut(
            id=r.id,
            name=r.name,
            starts_at=r.starts_at,
            ends_at=r.ends_at,
            state=_state(work.now, r.starts_at, r.ends_at),
            items=[
                FlashItemAdminOut(
                    id=i.id,
                    item_id=i.item_id,
                    price_fen=i.price_fen,
                    original_price_fen=i.original_price_fen,
                    total_stock=i.total_stock,
                    stock=i.stock,
                    sold=units[i.id].get("paid", 0),
                    reserved=units[i.id].get("reserved", 0),
                    per_user_limit=i.per_user_limit,
                    pay_window_s=i.pay_window_s,
                    reservations=attempts[i.id],
                )
                for i in items[r.id]
            ],
        )
        for r in rows
    ]
    return Page(items=out, next_cursor=cursor)


@router.post(f"{ADMIN}/flash/sessions/daily", response_model=CreatedOut, status_code=201, dependencies=WRITE)
def admin_daily_sessions(body: DailySessionsIn, work: OperatorWorkDep) -> CreatedOut:
    """每天 HH:MM 秒杀 in the app's timezone."""
    return CreatedOut(created=[r.id for r in flashsale.create_daily_sessions(work, body)])


@router.post(f"{ADMIN}/flash/items", response_model=IdOut, status_code=201, dependencies=WRITE)
def admin_flash_item(body: FlashItemIn, work: OperatorWorkDep) -> IdOut:
    item = flashsale.create_item(work, body)
    gate = flashsale.gate_for(work.settings.redis_url)
    if gate is not None:
        gate.load(work.app_id, item.id, item.stock)
    return IdOut(id=item.id)


@router.get(f"{ADMIN}/flash/items/{{flash_item_id}}", response_model=FlashItemStatusOut, dependencies=READ)
def admin_flash_item_status(flash_item_id: str, work: OperatorWorkDep) -> FlashItemStatusOut:
    item, counts = flashsale.item_status(work.db, flash_item_id)
    return FlashItemStatusOut(id=item.id, stock=item.stock, total_stock=item.total_stock, reservations=counts)


@router.post(f"{ADMIN}/group-campaigns", response_model=IdRulesOut, status_code=201, dependencies=WRITE)
def admin_group_campaign(body: GroupCampaignIn, work: OperatorWorkDep) -> IdRulesOut:
    c = groupbuy.create_campaign(work, body)
    return IdRulesOut(id=c.id, rules_text=c.rules_text)


@router.get(f"{ADMIN}/group-campaigns", response_model=Page[GroupCampaignAdminOut], dependencies=READ)
def admin_list_group_campaigns(work: OperatorWorkDep, page: PageDep) -> Page[GroupCampaignAdminOut]:
    """拼团 campaigns, newest first, with their groups per status (forming, formed, failed) and members."""
    db = work.db
    rows, cursor = paginate(db, select(GroupCampaign), page, order=_newest_first(GroupCampaign))
    ids = [r.id for r in rows]
    groups = _per_status(db, Group.campaign_id, Group.status, ids)
    members = _totals(
        db,
        select(Group.campaign_id, func.count())
        .join(GroupMember, GroupMember.group_id == Group.id)
        .where(Group.campaign_id.in_(ids), GroupMember.status != "rejected")
        .group_by(Group.campaign_id),
        ids,
    )
    items = [
        GroupCampaignAdminOut(
            id=c.id,
            name=c.name,
            item_id=c.item_id,
            original_price_fen=c.original_price_fen,
            group_price_fen=c.group_price_fen,
            leader_price_fen=c.leader_price_fen,
            size=c.size,
            duration_s=c.duration_s,
            fill_policy=c.fill_policy,
            fill_min_real=c.fill_min_real,
            active=c.active,
            rules_text=c.rules_text,
            created_at=c.created_at,
            groups=groups[c.id],
            members=members[c.id],
        )
        for c in rows
    ]
    return Page(items=items, next_cursor=cursor)


@router.post(
    f"{ADMIN}/bargain-campaigns", response_model=BargainCampaignOut, status_code=201, dependencies=WRITE
)
def admin_bargain_campaign(body: BargainCampaignIn, work: OperatorWorkDep) -> BargainCampaignOut:
    c = bargain.create_campaign(work, body)
    return BargainCampaignOut(
        id=c.id,
        rules_text=c.rules_text,
        cuts_fen=bargain.allocate_cuts(c.price_fen - c.floor_fen, c.helpers_needed),
    )


@router.get(f"{ADMIN}/bargain-campaigns", response_model=Page[BargainCampaignAdminOut], dependencies=READ)
def admin_list_bargain_campaigns(work: OperatorWorkDep, page: PageDep) -> Page[BargainCampaignAdminOut]:
    """砍价 campaigns, newest first, with their bargains per status (in progress, completed, expired)."""
    db = work.db
    rows, cursor = paginate(db, select(BargainCampaign), page, order=_newest_first(BargainCampaign))
    ids = [r.id for r in rows]
    bargains = _per_status(db, Bargain.campaign_id, Bargain.status, ids)
    helps = _totals(
        db,
        select(Bargain.campaign_id, func.count())
        .join(BargainHelp, BargainHelp.bargain_id == Bargain.id)
        .where(Bargain.campaign_id.in_(ids))
        .group_by(Bargain.campaign_id),
        ids,
    )
    items = [
        BargainCampaignAdminOut(
            id=c.id,
            name=c.name,
            item_id=c.item_id,
            price_fen=c.price_fen,
            floor_fen=c.floor_fen,
            helpers_needed=c.helpers_needed,
            duration_s=c.duration_s,
            active=c.active,
            rules_text=c.rules_text,
            created_at=c.created_at,
            bargains=bargains[c.id],
            helps=helps[c.id],
        )
        for c in rows
    ]
    return Page(items=items, next_cursor=cursor)


@router.post(f"{ADMIN}/referral-programs", response_model=IdRulesOut, status_code=201, dependencies=WRITE)
def admin_referral_program(body: ReferralProgramIn, work: OperatorWorkDep) -> IdRulesOut:
    p = referrals.create_program(work, body)
    return IdRulesOut(id=p.id, rules_text=p.rules_text)


@router.get(f"{ADMIN}/referral-programs", response_model=Page[ReferralProgramAdminOut], dependencies=READ)
def admin_list_referral_programs(work: OperatorWorkDep, page: PageDep) -> Page[ReferralProgramAdminOut]:
    """Referral programs, newest first, with invite codes handed out and invitees per status."""
    db = work.db
    rows, cursor = paginate(db, select(ReferralProgram), page, order=_newest_first(ReferralProgram))
    ids = [r.id for r in rows]
    bindings = _per_status(db, ReferralBinding.program_id, ReferralBinding.status, ids)
    codes = _totals(
        db,
        select(InviteCode.program_id, func.count())
        .where(InviteCode.program_id.in_(ids))
        .group_by(InviteCode.program_id),
        ids,
    )
    items = [
        ReferralProgramAdminOut(
            id=p.id,
            name=p.name,
            qualifying_action=p.qualifying_action,
            referrer_template_id=p.referrer_template_id,
            invitee_template_id=p.invitee_template_id,
            max_rewards_per_referrer=p.max_rewards_per_referrer,
            new_user_window_s=p.new_user_window_s,
            active=p.active,
            rules_text=p.rules_text,
            created_at=p.created_at,
            invite_codes=codes[p.id],
            bindings=bindings[p.id],
        )
        for p in rows
    ]
    return Page(items=items, next_cursor=cursor)


@router.put(f"{ADMIN}/distribution", response_model=RulesTextOut, dependencies=WRITE)
def admin_distribution(body: DistributionConfigIn, work: OperatorWorkDep) -> RulesTextOut:
    cfg = distribution.configure(work, body)
    return RulesTextOut(rules_text=cfg.rules_text)


@router.get(f"{ADMIN}/distribution", response_model=DistributionAdminOut, dependencies=READ)
def admin_get_distribution(work: OperatorWorkDep) -> DistributionAdminOut:
    """The app's 分销 settings (config null until PUT) with distributors and commissions per status."""
    db = work.db
    cfg = db.scalars(select(DistributionConfig).limit(1)).first()
    commissions = {
        status: CommissionTotalOut(count=int(n), amount_fen=int(amount))
        for status, n, amount in db.execute(
            select(
                Commission.status, func.count(), func.coalesce(func.sum(Commission.amount_fen), 0)
            ).group_by(Commission.status)
        )
    }
    return DistributionAdminOut(
        config=DistributionSettingsOut.model_validate(cfg) if cfg is not None else None,
        distributors=int(db.scalar(select(func.count()).select_from(Distributor)) or 0),
        commissions=commissions,
    )


@router.post(f"{ADMIN}/compliance/check", response_model=ComplianceOut, dependencies=READ)
def admin_compliance(body: ComplianceIn) -> ComplianceOut:
    """Dry-run a configuration against the platform rules; returns the rule text users would see."""
    violations, text = compliance.check(body.kind, dict(body.config))
    return ComplianceOut(ok=not violations, violations=violations, rules_text=text)


@router.get(f"{ADMIN}/overview", response_model=OverviewOut, dependencies=READ)
def admin_overview(work: OperatorWorkDep) -> OverviewOut:
    """Participation per mechanic and state (monitoring)."""
    return OverviewOut.model_validate(service.overview(db=work.db))


@router.post(f"{ADMIN}/jobs/run", response_model=JobsRunOut, dependencies=WRITE)
def admin_run_jobs(runtime: RuntimeDep, op: OperatorDep) -> JobsRunOut:
    """Run the periodic jobs now (expiries, deadlines, credits). Refunds: `huoli promotions refunds`."""
    return flows.run_jobs(runtime, op.app_id, Caller("operator", op.key_id))


@router.get(f"{ADMIN}/wechatpay", response_model=payments.MerchantOut, dependencies=OWNER)
def admin_wechatpay(work: OperatorWorkDep) -> payments.MerchantOut:
    """The app's WeChat Pay merchant: ids, serials, key fingerprints — never the private key or APIv3 key."""
    return payments.view(payments.get(work.db, work.app_id), work.settings, work.app_id)


@router.put(f"{ADMIN}/wechatpay", response_model=payments.MerchantOut, dependencies=OWNER)
def admin_set_wechatpay(body: payments.MerchantIn, work: OperatorWorkDep) -> payments.MerchantOut:
    """Set or replace the app's merchant (stored encrypted; the audit trail keeps no secret value)."""
    row = payments.put(db=work.db, app_id=work.app_id, spec=body, now=work.now)
    return payments.view(row, work.settings, work.app_id)


@router.delete(f"{ADMIN}/wechatpay", response_model=payments.MerchantOut, dependencies=OWNER)
def admin_clear_wechatpay(work: OperatorWorkDep) -> payments.MerchantOut:
    """Remove the app's merchant: it falls back to the deployment's HUOLI_WECHATPAY_* settings."""
    payments.clear(db=work.db, app_id=work.app_id)
    return payments.view(None, work.settings, work.app_id)


# -- the lists' figures: one grouped count per figure for the page's rows -------------------------------


def _newest_first(model: Any) -> list[Any]:
    return [model.created_at.desc(), model.id.desc()]


def _state(now: datetime, starts_at: datetime, ends_at: datetime) -> Literal["upcoming", "running", "ended"]:
    return "upcoming" if now < starts_at else "ended" if now >= ends_at else "running"


def _per_status(
    db: Session, key: InstrumentedAttribute[str], status: InstrumentedAttribute[str], ids: Iterable[str]
) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {i: {} for i in ids}
    if out:
        rows = db.execute(select(key, status, func.count()).where(key.in_(out)).group_by(key, status))
        for k, s, n in rows:
            out[k][s] = int(n)
    return out


def _totals(db: Session, stmt: Any, ids: Iterable[str]) -> dict[str, int]:
    out = dict.fromkeys(ids, 0)
    if out:
        out.update({k: int(n) for k, n in db.execute(stmt)})
    return out
