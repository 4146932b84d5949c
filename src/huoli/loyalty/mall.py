"""积分商城 points mall: items with stock and per-member limits; a redemption is one transaction with its spend.

Order inside the transaction: spend (locks the member's account row — so the per-member limit count below
can't race with the same member's other redemptions), count the member's redemptions, then take one unit of
stock with a conditional `UPDATE … WHERE stock >= 1 RETURNING` (the database decides who gets the last one).
Any failure rolls the spend back with it.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from huoli.db import insert_or_ignore
from huoli.errors import Conflict, NotFound, ValidationFailed
from huoli.loyalty import ledger
from huoli.loyalty.context import Ctx
from huoli.loyalty.models import MallItem, MallRedemption
from huoli.loyalty.schemas import MallItemIn, RedeemOut
from huoli.pagination import PageParams, paginate
from huoli.promotions import service as promotions


def upsert_item(db: Session, ctx: Ctx, item: MallItemIn) -> MallItem:
    if item.kind == "coupon":
        _check_coupon_ref(db, ctx, item.ref)
    row = db.get(MallItem, (ctx.app_id, item.id))
    if row is None:
        row = MallItem(app_id=ctx.app_id, id=item.id, created_at=ctx.now)
        db.add(row)
    for field in ("name", "kind", "points", "stock", "per_user_limit", "active", "ref"):
        setattr(row, field, getattr(item, field))
    db.flush()
    return row


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


def items(db: Session, *, active_only: bool) -> list[MallItem]:
    stmt = select(MallItem).order_by(MallItem.points, MallItem.id)
    if active_only:
        stmt = stmt.where(MallItem.active.is_(True))
    return list(db.scalars(stmt))


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
    if item is None or not item.active:
        raise NotFound(f"no active mall item {item_id!r}", code="item_not_found")
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
