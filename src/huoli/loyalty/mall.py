"""积分商城 points mall: items with stock and per-member limits; a redemption is one transaction with its spend.

Order inside the transaction: spend (locks the member's account row — so the per-member limit count below
can't race with the same member's other redemptions), count the member's redemptions, then take one unit of
stock with a conditional `UPDATE … WHERE stock >= 1 RETURNING` (the database decides who gets the last one).
Any failure rolls the spend back with it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from huoli.catalog import service as catalog
from huoli.db import insert_or_ignore
from huoli.errors import Conflict, NotFound, ValidationFailed
from huoli.loyalty import ledger
from huoli.loyalty.context import Ctx
from huoli.loyalty.models import MallItem, MallRedemption
from huoli.loyalty.schemas import ActivityState, MallItemAdminOut, MallItemIn, RedeemOut
from huoli.pagination import PageParams, paginate
from huoli.promotions import service as promotions


def upsert_item(db: Session, ctx: Ctx, item: MallItemIn) -> MallItem:
    if item.kind == "coupon":
        _check_coupon_ref(db, ctx, item.ref)
    row = db.get(MallItem, (ctx.app_id, item.id))
    if row is None:
        row = MallItem(app_id=ctx.app_id, id=item.id, created_at=ctx.now)
        db.add(row)
    for field in (
        "name",
        "kind",
        "points",
        "stock",
        "per_user_limit",
        "active",
        "ref",
        "starts_at",
        "ends_at",
    ):
        setattr(row, field, getattr(item, field))
    db.flush()
    return row


def set_active(db: Session, ctx: Ctx, item_id: str, *, active: bool) -> MallItem:
    """Pause (members no longer see or redeem it) or resume an item; its stock and redemptions stay."""
    row = db.get(MallItem, (ctx.app_id, item_id))
    if row is None:
        raise NotFound(f"no mall item {item_id!r}", code="item_not_found")
    row.active = active
    db.flush()
    return row


def state_of(
    active: bool, starts_at: datetime | None, ends_at: datetime | None, now: datetime
) -> ActivityState:
    """Where an activity with a window is, as operators list it: ended wins over paused (it won't come back)."""
    if ends_at is not None and now >= ends_at:
        return "ended"
    if not active:
        return "paused"
    if starts_at is not None and now < starts_at:
        return "scheduled"
    return "running"


def _on_sale(now: datetime) -> Any:
    return (
        MallItem.active.is_(True)
        & or_(MallItem.starts_at.is_(None), MallItem.starts_at <= now)
        & or_(MallItem.ends_at.is_(None), MallItem.ends_at > now)
    )


def admin_page(db: Session, ctx: Ctx, page: PageParams) -> tuple[list[MallItemAdminOut], str | None]:
    """One page of items (by id) with their live figures: redemptions, members who redeemed, points spent."""
    rows, cursor = item_page(db, page)
    unavailable = _unavailable(ctx, rows)
    figures = {
        item_id: (int(n), int(users), int(points or 0))
        for item_id, n, users, points in db.execute(
            select(
                MallRedemption.item_id,
                func.count(),
                func.count(MallRedemption.user_id.distinct()),
                func.sum(MallRedemption.points),
            )
            .where(MallRedemption.item_id.in_([r.id for r in rows]))
            .group_by(MallRedemption.item_id)
        )
    }
    out = []
    for r in rows:
        n, users, points = figures.get(r.id, (0, 0, 0))
        out.append(
            MallItemAdminOut(
                id=r.id,
                name=r.name,
                kind=r.kind,
                points=r.points,
                stock=r.stock,
                per_user_limit=r.per_user_limit,
                active=r.active,
                ref=r.ref,
                starts_at=r.starts_at,
                ends_at=r.ends_at,
                state=state_of(r.active, r.starts_at, r.ends_at, ctx.now),
                catalog_unavailable=r.id in unavailable,
                redemptions=n,
                redeemers=users,
                points_spent=points,
                created_at=r.created_at,
            )
        )
    return out, cursor


def _check_coupon_ref(db: Session, ctx: Ctx, ref: str | None) -> None:
    """A coupon item issues a coupon of a promotions template of this app: refuse a missing one at setup,
    not at the member's first redemption."""
    if not promotions.coupon_template_exists(db, app_id=ctx.app_id, template_id=ref):
        raise ValidationFailed(
            "a coupon item needs ref = the id of one of this app's coupon templates",
            details=[{"field": "ref", "message": f"no coupon template {ref!r} in this app"}],
        )


def _replayed(db: Session, done: MallRedemption, business_key: str) -> RedeemOut:
    """A retried tap: the redemption it made, with the coupon that redemption issued."""
    coupon_id = promotions.coupon_for_claim(db, f"loyalty:{business_key}")
    return RedeemOut(
        redemption_id=done.id, item_id=done.item_id, points=done.points, applied=False, coupon_id=coupon_id
    )


def items(db: Session, *, active_only: bool, now: datetime | None = None) -> list[MallItem]:
    """The items members see: active and, given `now`, inside their sale window."""
    stmt = select(MallItem).order_by(MallItem.points, MallItem.id)
    if active_only:
        stmt = stmt.where(MallItem.active.is_(True) if now is None else _on_sale(now))
    return list(db.scalars(stmt))


def on_sale(ctx: Ctx) -> list[MallItem]:
    """What members can redeem now: active, inside the window, and (goods) the catalog item available."""
    rows = items(ctx.work.db, active_only=True, now=ctx.now)
    return [r for r in rows if r.id not in _unavailable(ctx, rows)]


def _unavailable(ctx: Ctx, rows: list[MallItem]) -> set[str]:
    """Goods whose catalog item is off the shelf or out of stock (an item the catalog never synced counts as
    available: the shop may run the mall without syncing its catalog)."""
    linked = {r.id: r.ref for r in rows if r.kind == "goods" and r.ref}
    if not linked:
        return set()
    views = catalog.get_items(ctx.work, list(linked.values()))
    return {mid for mid, ref in linked.items() if ref in views and not views[ref].available}


def item_page(db: Session, page: PageParams) -> tuple[list[MallItem], str | None]:
    """One page of every item (active or not) for operators, by id: an immutable key, so repricing an item
    while an operator pages can't move it onto a page already read (the members' list sorts by points)."""
    return paginate(db, select(MallItem), page, order=[MallItem.id.asc()])


def redeem(db: Session, ctx: Ctx, *, user_id: str, item_id: str, key: str) -> RedeemOut:
    business_key = f"mall:{user_id}:{key}"
    done = db.scalars(select(MallRedemption).where(MallRedemption.business_key == business_key)).first()
    if done is not None:
        return _replayed(db, done, business_key)
    item = db.get(MallItem, (ctx.app_id, item_id))
    if item is None or state_of(item.active, item.starts_at, item.ends_at, ctx.now) != "running":
        raise NotFound(f"no active mall item {item_id!r}", code="item_not_found")
    if _unavailable(ctx, [item]):
        raise Conflict(
            "the goods are unavailable in the catalog (off the shelf or sold out)", code="unavailable"
        )
    spent = ledger.spend(
        db, ctx, user_id=user_id, points=item.points, reason="mall", key=business_key, ref=item_id
    )
    if not spent.applied:
        done = db.scalars(select(MallRedemption).where(MallRedemption.business_key == business_key)).one()
        return _replayed(db, done, business_key)
    if item.per_user_limit is not None:
        mine = db.scalar(
            select(func.count())
            .select_from(MallRedemption)
            .where(MallRedemption.user_id == user_id, MallRedemption.item_id == item_id)
        )
        if int(mine or 0) >= item.per_user_limit:
            raise Conflict(f"limit of {item.per_user_limit} per member reached", code="per_user_limit")
    if item.stock is not None:
        left = db.execute(
            update(MallItem)
            .where(MallItem.id == item_id, MallItem.stock >= 1)
            .values(stock=MallItem.stock - 1)
            .returning(MallItem.stock)
        ).first()
        if left is None:
            raise Conflict("out of stock", code="out_of_stock")
    rid = insert_or_ignore(
        db,
        MallRedemption,
        {
            "app_id": ctx.app_id,
            "user_id": user_id,
            "item_id": item_id,
            "points": item.points,
            "business_key": business_key,
            "created_at": ctx.now,
        },
        ["app_id", "business_key"],
        returning="id",
    )
    if rid is None:  # the spend above already claimed this key, so only a foreign row can hold it
        raise Conflict("this business key was already used", code="business_key_reused")
    coupon_id = None
    if item.kind == "coupon":
        # Promotions owns coupon stock and limits. No savepoint: a coupon that can't be issued (sold out,
        # per-user limit) fails the whole redemption, so the member keeps the points.
        assert item.ref is not None
        coupon_id, _ = promotions.claim_coupon(
            ctx.work,
            template_id=item.ref,
            user_id=user_id,
            claim_key=f"loyalty:{business_key}",
            source="loyalty",
        )
    ctx.emit(
        "mall_redeemed",
        key=business_key,
        user_id=user_id,
        properties={"item_id": item_id, "points": item.points, "kind": item.kind}
        | ({"ref": item.ref} if item.ref else {})
        | ({"coupon_id": coupon_id} if coupon_id else {}),
    )
    return RedeemOut(
        redemption_id=int(rid), item_id=item_id, points=item.points, applied=True, coupon_id=coupon_id
    )
