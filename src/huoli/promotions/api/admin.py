"""Operator calls under /admin/promotions (API keys): each route runs in the request's audited unit of work
(`OperatorWorkDep`) and calls one service with it."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from huoli.apps.schemas import Role
from huoli.deps import OperatorDep, OperatorWorkDep, RuntimeDep, role_at_least
from huoli.pagination import Page, PageDep
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
from huoli.promotions.schemas import (
    BargainCampaignIn,
    BargainCampaignOut,
    ComplianceIn,
    ComplianceOut,
    CouponOut,
    CouponTemplateIn,
    CouponTemplateOut,
    CreatedOut,
    DailySessionsIn,
    DistributionConfigIn,
    FlashItemIn,
    FlashItemStatusOut,
    FlashSessionIn,
    GiftPackIn,
    GroupCampaignIn,
    IdOut,
    IdRulesOut,
    IssueIn,
    IssueOut,
    JobsRunOut,
    OverviewOut,
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


@router.get(f"{ADMIN}/coupons/expiring", response_model=list[CouponOut], dependencies=READ)
def admin_expiring(work: OperatorWorkDep, days: Annotated[int, Query(ge=1, le=30)] = 3) -> list[CouponOut]:
    """Coupons ending within `days` (feed for reminder messages)."""
    return [
        CouponOut.model_validate(c)
        for c in coupons.expiring_soon(db=work.db, within=timedelta(days=days), now=work.now)
    ]


@router.post(f"{ADMIN}/gift-packs", response_model=IdOut, status_code=201, dependencies=WRITE)
def admin_gift_pack(body: GiftPackIn, work: OperatorWorkDep) -> IdOut:
    return IdOut(id=coupons.create_gift_pack(work, body).id)


@router.post(f"{ADMIN}/flash/sessions", response_model=IdOut, status_code=201, dependencies=WRITE)
def admin_flash_session(body: FlashSessionIn, work: OperatorWorkDep) -> IdOut:
    return IdOut(id=flashsale.create_session(work, body).id)


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


@router.post(f"{ADMIN}/referral-programs", response_model=IdRulesOut, status_code=201, dependencies=WRITE)
def admin_referral_program(body: ReferralProgramIn, work: OperatorWorkDep) -> IdRulesOut:
    p = referrals.create_program(work, body)
    return IdRulesOut(id=p.id, rules_text=p.rules_text)


@router.put(f"{ADMIN}/distribution", response_model=RulesTextOut, dependencies=WRITE)
def admin_distribution(body: DistributionConfigIn, work: OperatorWorkDep) -> RulesTextOut:
    cfg = distribution.configure(work, body)
    return RulesTextOut(rules_text=cfg.rules_text)


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
