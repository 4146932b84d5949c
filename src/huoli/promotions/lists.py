"""The admin lists' rows: each activity as configured, its lifecycle (state, window, items) and live figures,
one grouped read per figure for a page of rows (the routes in api/admin.py only page and shape)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from huoli.promotions import figures, lifecycle
from huoli.promotions.common import loads
from huoli.promotions.models import (
    Bargain,
    BargainCampaign,
    BargainHelp,
    CouponTemplate,
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
    ActivityOut,
    BargainCampaignAdminOut,
    CouponTemplateAdminOut,
    CouponTemplateOut,
    FiguresOut,
    FlashItemAdminOut,
    FlashSessionAdminOut,
    GiftPackAdminOut,
    GroupCampaignAdminOut,
    ReferralProgramAdminOut,
)
from huoli.work import Work

TitleLookup = Callable[[list[str]], dict[str, str]]


def newest_first(model: Any) -> list[Any]:
    return [model.created_at.desc(), model.id.desc()]


def per_status(
    db: Session, key: InstrumentedAttribute[str], status: InstrumentedAttribute[str], ids: Iterable[str]
) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {i: {} for i in ids}
    if out:
        rows = db.execute(select(key, status, func.count()).where(key.in_(out)).group_by(key, status))
        for k, s, n in rows:
            out[k][s] = int(n)
    return out


def totals(db: Session, stmt: Any, ids: Iterable[str]) -> dict[str, int]:
    out = dict.fromkeys(ids, 0)
    if out:
        out.update({k: int(n) for k, n in db.execute(stmt)})
    return out


def _life(
    kind: str,
    row: Any,
    now: datetime,
    figs: dict[str, Any],
    item_ids: list[str],
    titles: dict[str, str],
    halted: str | None = None,
) -> dict[str, Any]:
    starts_at, ends_at = lifecycle.window(row)
    return {
        "state": lifecycle.state(row, now),
        "starts_at": starts_at,
        "ends_at": ends_at,
        "ended_at": row.ended_at,
        "halted_reason": halted,
        "item_ids": item_ids,
        "item_titles": {i: titles[i] for i in item_ids if i in titles},
        "figures": FiguresOut(**figs),
    }


def _titles(lookup: TitleLookup | None, ids: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(ids))
    return lookup(wanted) if lookup is not None and wanted else {}


def coupon_templates(
    work: Work, rows: Sequence[CouponTemplate], lookup: TitleLookup | None = None
) -> list[CouponTemplateAdminOut]:
    figs = figures.figures_for(work.db, "coupon-templates", rows, work.now)
    items = {t.id: figures.scope_items(t) for t in rows}
    titles = _titles(lookup, [i for v in items.values() for i in v])
    return [
        CouponTemplateAdminOut(
            **CouponTemplateOut.model_validate(t).model_dump(),
            scope_ids=loads(t.scope_ids),
            **_life("coupon-templates", t, work.now, figs[t.id], items[t.id], titles, t.halted_reason),
        )
        for t in rows
    ]


def gift_packs(
    work: Work, rows: Sequence[GiftPack], lookup: TitleLookup | None = None
) -> list[GiftPackAdminOut]:
    figs = figures.figures_for(work.db, "gift-packs", rows, work.now)
    return [
        GiftPackAdminOut(
            id=p.id,
            name=p.name,
            template_ids=loads(p.template_ids),
            new_user_days=p.new_user_days,
            active=p.active,
            created_at=p.created_at,
            recipients=figs[p.id]["participants"],
            **_life("gift-packs", p, work.now, figs[p.id], [], {}),
        )
        for p in rows
    ]


def flash_sessions(
    work: Work, rows: Sequence[FlashSession], lookup: TitleLookup | None = None
) -> list[FlashSessionAdminOut]:
    """Each session with its items' stock: sold (paid), reserved (awaiting payment) and left."""
    db = work.db
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
    figs = figures.figures_for(db, "flash-sessions", rows, work.now)
    skus = {sid: list(dict.fromkeys(i.item_id for i in its)) for sid, its in items.items()}
    titles = _titles(lookup, [i for v in skus.values() for i in v])
    out = []
    for r in rows:
        its = items[r.id]
        # the session shows halted when every item is (a session with some items left still sells them)
        halted = its[0].halted_reason if its and all(i.halted_reason for i in its) else None
        out.append(
            FlashSessionAdminOut(
                id=r.id,
                name=r.name,
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
                        halted_reason=i.halted_reason,
                    )
                    for i in its
                ],
                **_life("flash-sessions", r, work.now, figs[r.id], skus[r.id], titles, halted),
            )
        )
    return out


def group_campaigns(
    work: Work, rows: Sequence[GroupCampaign], lookup: TitleLookup | None = None
) -> list[GroupCampaignAdminOut]:
    """With their groups per status (forming, formed, failed) and members."""
    db = work.db
    ids = [r.id for r in rows]
    groups = per_status(db, Group.campaign_id, Group.status, ids)
    members = totals(
        db,
        select(Group.campaign_id, func.count())
        .join(GroupMember, GroupMember.group_id == Group.id)
        .where(Group.campaign_id.in_(ids), GroupMember.status != "rejected")
        .group_by(Group.campaign_id),
        ids,
    )
    figs = figures.figures_for(db, "group-campaigns", rows, work.now)
    titles = _titles(lookup, [c.item_id for c in rows])
    return [
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
            **_life("group-campaigns", c, work.now, figs[c.id], [c.item_id], titles),
        )
        for c in rows
    ]


def bargain_campaigns(
    work: Work, rows: Sequence[BargainCampaign], lookup: TitleLookup | None = None
) -> list[BargainCampaignAdminOut]:
    """With their bargains per status (in progress, completed, expired) and helps."""
    db = work.db
    ids = [r.id for r in rows]
    bargains = per_status(db, Bargain.campaign_id, Bargain.status, ids)
    helps = totals(
        db,
        select(Bargain.campaign_id, func.count())
        .join(BargainHelp, BargainHelp.bargain_id == Bargain.id)
        .where(Bargain.campaign_id.in_(ids))
        .group_by(Bargain.campaign_id),
        ids,
    )
    figs = figures.figures_for(db, "bargain-campaigns", rows, work.now)
    titles = _titles(lookup, [c.item_id for c in rows])
    return [
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
            **_life("bargain-campaigns", c, work.now, figs[c.id], [c.item_id], titles),
        )
        for c in rows
    ]


def referral_programs(
    work: Work, rows: Sequence[ReferralProgram], lookup: TitleLookup | None = None
) -> list[ReferralProgramAdminOut]:
    """With invite codes handed out and invitees per status."""
    db = work.db
    ids = [r.id for r in rows]
    bindings = per_status(db, ReferralBinding.program_id, ReferralBinding.status, ids)
    codes = totals(
        db,
        select(InviteCode.program_id, func.count())
        .where(InviteCode.program_id.in_(ids))
        .group_by(InviteCode.program_id),
        ids,
    )
    figs = figures.figures_for(db, "referral-programs", rows, work.now)
    return [
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
            **_life("referral-programs", p, work.now, figs[p.id], [], {}),
        )
        for p in rows
    ]


ROWS: dict[str, Callable[..., list[Any]]] = {
    "coupon-templates": coupon_templates,
    "gift-packs": gift_packs,
    "flash-sessions": flash_sessions,
    "group-campaigns": group_campaigns,
    "bargain-campaigns": bargain_campaigns,
    "referral-programs": referral_programs,
}


def row(work: Work, kind: str, activity: Any, lookup: TitleLookup | None = None) -> Any:
    """One activity's list row (the lifecycle endpoints answer with it)."""
    return ROWS[kind](work, [activity], lookup)[0]


def activities(work: Work, kind: str, rows: Sequence[Any]) -> list[ActivityOut]:
    """The calendar's shape of a kind's rows."""
    return [
        ActivityOut(
            kind=kind,
            id=r.id,
            name=r.name,
            state=r.state,
            starts_at=r.starts_at,
            ends_at=r.ends_at,
            halted_reason=r.halted_reason,
            item_ids=r.item_ids,
            figures=r.figures,
        )
        for r in ROWS[kind](work, rows)
    ]


ROW_MODELS: dict[str, type[Any]] = {
    "coupon-templates": CouponTemplateAdminOut,
    "gift-packs": GiftPackAdminOut,
    "flash-sessions": FlashSessionAdminOut,
    "group-campaigns": GroupCampaignAdminOut,
    "bargain-campaigns": BargainCampaignAdminOut,
    "referral-programs": ReferralProgramAdminOut,
}
