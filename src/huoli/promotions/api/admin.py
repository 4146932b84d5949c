"""Operator calls under /admin/promotions (API keys): each route runs in the request's audited unit of work
(`OperatorWorkDep`) and calls one service with it."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select

from huoli.apps.schemas import Role
from huoli.catalog import service as catalog
from huoli.deps import OperatorDep, OperatorWorkDep, PageDep, RuntimeDep, role_at_least
from huoli.errors import ValidationFailed
from huoli.pagination import Page, paginate
from huoli.promotions import (
    bargain,
    compliance,
    coupons,
    distribution,
    flashsale,
    flows,
    groupbuy,
    lifecycle,
    lists,
    payments,
    referrals,
    service,
)
from huoli.promotions.models import (
    BargainCampaign,
    FlashSession,
    GiftPack,
    GroupCampaign,
    ReferralProgram,
)
from huoli.promotions.schemas import (
    ActivityOut,
    ActivityResultsOut,
    ActivityState,
    BargainCampaignAdminOut,
    BargainCampaignIn,
    BargainCampaignOut,
    CommissionAdminOut,
    CommissionTotalOut,
    ComplianceIn,
    ComplianceOut,
    CouponOut,
    CouponTemplateAdminOut,
    CouponTemplateIn,
    CouponTemplateOut,
    CreatedOut,
    DailySessionsIn,
    DistributionAdminOut,
    DistributionConfigIn,
    DistributionSettingsOut,
    DistributorAdminOut,
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
    ReferrerAdminOut,
    RulesTextOut,
)
from huoli.work import Caller, Work

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


@router.get(f"{ADMIN}/coupon-templates", response_model=Page[CouponTemplateAdminOut], dependencies=READ)
def admin_list_templates(work: OperatorWorkDep, page: PageDep) -> Page[CouponTemplateAdminOut]:
    rows, cursor = coupons.templates_page(work.db, page)
    return Page(items=lists.coupon_templates(work, rows, titles(work)), next_cursor=cursor)


@router.patch(
    f"{ADMIN}/coupon-templates/{{template_id}}", response_model=CouponTemplateOut, dependencies=WRITE
)
def admin_pause_template(template_id: str, active: bool, work: OperatorWorkDep) -> CouponTemplateOut:
    """The older pause / resume (`?active=`): the same as …/pause and …/resume (an ended template: 409)."""
    change = lifecycle.resume if active else lifecycle.pause
    return CouponTemplateOut.model_validate(change(work, "coupon-templates", template_id))


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
    """新人礼包, newest first, with their recipients."""
    rows, cursor = paginate(work.db, select(GiftPack), page, order=lists.newest_first(GiftPack))
    return Page(items=lists.gift_packs(work, rows), next_cursor=cursor)


@router.post(f"{ADMIN}/flash/sessions", response_model=IdOut, status_code=201, dependencies=WRITE)
def admin_flash_session(body: FlashSessionIn, work: OperatorWorkDep) -> IdOut:
    return IdOut(id=flashsale.create_session(work, body).id)


@router.get(f"{ADMIN}/flash/sessions", response_model=Page[FlashSessionAdminOut], dependencies=READ)
def admin_list_flash_sessions(work: OperatorWorkDep, page: PageDep) -> Page[FlashSessionAdminOut]:
    """Flash-sale sessions, latest start first, each with its items' stock: sold (paid), reserved (awaiting
    payment) and left."""
    rows, cursor = paginate(
        work.db, select(FlashSession), page, order=[FlashSession.starts_at.desc(), FlashSession.id.desc()]
    )
    return Page(items=lists.flash_sessions(work, rows, titles(work)), next_cursor=cursor)


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
    rows, cursor = paginate(work.db, select(GroupCampaign), page, order=lists.newest_first(GroupCampaign))
    return Page(items=lists.group_campaigns(work, rows, titles(work)), next_cursor=cursor)


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
    rows, cursor = paginate(work.db, select(BargainCampaign), page, order=lists.newest_first(BargainCampaign))
    return Page(items=lists.bargain_campaigns(work, rows, titles(work)), next_cursor=cursor)


@router.post(f"{ADMIN}/referral-programs", response_model=IdRulesOut, status_code=201, dependencies=WRITE)
def admin_referral_program(body: ReferralProgramIn, work: OperatorWorkDep) -> IdRulesOut:
    p = referrals.create_program(work, body)
    return IdRulesOut(id=p.id, rules_text=p.rules_text)


@router.get(f"{ADMIN}/referral-programs", response_model=Page[ReferralProgramAdminOut], dependencies=READ)
def admin_list_referral_programs(work: OperatorWorkDep, page: PageDep) -> Page[ReferralProgramAdminOut]:
    """Referral programs, newest first, with invite codes handed out and invitees per status."""
    rows, cursor = paginate(work.db, select(ReferralProgram), page, order=lists.newest_first(ReferralProgram))
    return Page(items=lists.referral_programs(work, rows), next_cursor=cursor)


@router.put(f"{ADMIN}/distribution", response_model=RulesTextOut, dependencies=WRITE)
def admin_distribution(body: DistributionConfigIn, work: OperatorWorkDep) -> RulesTextOut:
    cfg = distribution.configure(work, body)
    return RulesTextOut(rules_text=cfg.rules_text)


@router.get(f"{ADMIN}/distribution", response_model=DistributionAdminOut, dependencies=READ)
def admin_get_distribution(work: OperatorWorkDep) -> DistributionAdminOut:
    """The app's 分销 settings (config null until PUT) with distributors and commissions per status."""
    cfg, distributors, commissions = distribution.summary(work.db)
    return DistributionAdminOut(
        state=None if cfg is None else "running" if cfg.active else "paused",
        config=DistributionSettingsOut.model_validate(cfg) if cfg is not None else None,
        distributors=distributors,
        commissions={k: CommissionTotalOut(count=n, amount_fen=fen) for k, (n, fen) in commissions.items()},
    )


@router.post(f"{ADMIN}/distribution/pause", response_model=DistributionAdminOut, dependencies=WRITE)
def admin_pause_distribution(work: OperatorWorkDep) -> DistributionAdminOut:
    """Paused: shares bind no new customers and paid orders earn no new commissions."""
    distribution.set_active(work, False)
    return admin_get_distribution(work)


@router.post(f"{ADMIN}/distribution/resume", response_model=DistributionAdminOut, dependencies=WRITE)
def admin_resume_distribution(work: OperatorWorkDep) -> DistributionAdminOut:
    distribution.set_active(work, True)
    return admin_get_distribution(work)


@router.get(f"{ADMIN}/distribution/distributors", response_model=Page[DistributorAdminOut], dependencies=READ)
def admin_distributors(work: OperatorWorkDep, page: PageDep) -> Page[DistributorAdminOut]:
    """Distributors, newest first: level, parent, bound customers, commissions frozen / credited."""
    rows, cursor = distribution.distributors_page(work.db, page)
    return Page(items=[DistributorAdminOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get(f"{ADMIN}/distribution/commissions", response_model=Page[CommissionAdminOut], dependencies=READ)
def admin_commissions(
    work: OperatorWorkDep,
    page: PageDep,
    status: Literal["frozen", "credited", "reversed"] | None = None,
) -> Page[CommissionAdminOut]:
    """Commissions, newest first, optionally of one status."""
    rows, cursor = distribution.commissions_page(work.db, page, status)
    return Page(items=[CommissionAdminOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get(
    f"{ADMIN}/referral-programs/{{program_id}}/referrers",
    response_model=Page[ReferrerAdminOut],
    dependencies=READ,
)
def admin_referrers(program_id: str, work: OperatorWorkDep, page: PageDep) -> Page[ReferrerAdminOut]:
    """A program's referrers, most rewarded first, with their invitees per status."""
    rows, cursor = referrals.referrers_page(work.db, program_id, page)
    return Page(items=[ReferrerAdminOut.model_validate(r) for r in rows], next_cursor=cursor)


# -- every activity: lifecycle, the calendar's list, results (C1) -----------------------------------------


@router.get(f"{ADMIN}/activities", response_model=Page[ActivityOut], dependencies=READ)
def admin_activities(
    work: OperatorWorkDep,
    start: Annotated[date, Query(description="first local day (app timezone)")],
    end: Annotated[date, Query(description="last local day, inclusive")],
    state: ActivityState | None = None,
) -> Page[ActivityOut]:
    """Every promotion activity overlapping [start, end] (always-on ones with null dates), one page."""
    if end < start:
        raise ValidationFailed("end before start", details=[{"field": "end", "message": "must be ≥ start"}])
    if (end - start).days > 400:
        raise ValidationFailed("range too long", details=[{"field": "end", "message": "at most 400 days"}])
    return Page(items=service.activities(work, start, end, state), next_cursor=None)


def _lifecycle_routes(kind: str) -> None:
    """POST …/{kind}/{id}/pause | resume | end → the activity's list row; results → its results."""
    out = lists.ROW_MODELS[kind]

    def pause(activity_id: str, work: OperatorWorkDep) -> Any:
        return lists.row(work, kind, lifecycle.pause(work, kind, activity_id), titles(work))

    def resume(activity_id: str, work: OperatorWorkDep) -> Any:
        return lists.row(work, kind, lifecycle.resume(work, kind, activity_id), titles(work))

    def end(activity_id: str, work: OperatorWorkDep) -> Any:
        return lists.row(work, kind, lifecycle.end(work, kind, activity_id), titles(work))

    def results(activity_id: str, work: OperatorWorkDep) -> ActivityResultsOut:
        return service.activity_results(work, kind, activity_id)

    for verb, fn in (("pause", pause), ("resume", resume), ("end", end)):
        router.add_api_route(
            f"{ADMIN}/{kind}/{{activity_id}}/{verb}",
            fn,
            methods=["POST"],
            response_model=out,
            dependencies=WRITE,
            name=f"admin_{verb}_{kind.replace('-', '_')}",
            summary=f"{verb.capitalize()} a {kind[:-1].replace('-', ' ')}",
        )
    router.add_api_route(
        f"{ADMIN}/{kind}/{{activity_id}}/results",
        results,
        methods=["GET"],
        response_model=ActivityResultsOut,
        dependencies=READ,
        name=f"admin_results_{kind.replace('-', '_')}",
        summary=f"Results of a {kind[:-1].replace('-', ' ')}",
    )


for _kind in lifecycle.KINDS:
    _lifecycle_routes(_kind)


def titles(work: Work) -> lists.TitleLookup:
    """Catalog titles of the items the rows name (items the catalog has not synced are left out)."""

    def lookup(ids: list[str]) -> dict[str, str]:
        return {i: v.title for i, v in catalog.get_items(work, ids).items()}

    return lookup


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
