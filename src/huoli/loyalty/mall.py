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
from huoli.errors import Conflict, NotFound
from huoli.events import service as events
from huoli.loyalty import ledger
from huoli.loyalty.context import Ctx
from huoli.loyalty.models import MallItem, MallRedemption
from huoli.loyalty.schemas import MallItemIn, RedeemOut


def upsert_item(db: Session, ctx: Ctx, item: MallItemIn) -> MallItem:
    row = db.get(MallItem, (ctx.app_id, item.id))
    if row is None:
        row = MallItem(app_id=ctx.app_id, id=item.id, created_at=ctx.now)
        db.add(row)
    for field in ("name", "kind", "points", "stock", "per_user_limit", "active", "ref"):
        setattr(row, field, getattr(item, field))
    db.flush()
    return row


def items(db: Session, *, active_only: bool) -> list[MallItem]:
    stmt = select(MallItem).order_by(MallItem.points, MallItem.id)
    if active_only:
        stmt = stmt.where(MallItem.active.is_(True))
    return list(db.scalars(stmt))


def redeem(db: Session, ctx: Ctx, *, user_id: str, item_id: str, key: str) -> RedeemOut:
    business_key = f"mall:{user_id}:{key}"
    done = db.scalars(select(MallRedemption).where(MallRedemption.business_key == business_key)).first()
    if done is not None:
        return RedeemOut(redemption_id=done.id, item_id=done.item_id, points=done.points, applied=False)
    item = db.get(MallItem, (ctx.app_id, item_id))
    if item is None or not item.active:
        raise NotFound(f"no active mall item {item_id!r}", code="item_not_found")
    spent = ledger.spend(
        db, ctx, user_id=user_id, points=item.points, reason="mall", key=business_key, ref=item_id
    )
    if not spent.applied:
        done = db.scalars(select(MallRedemption).where(MallRedemption.business_key == business_key)).one()
        return RedeemOut(redemption_id=done.id, item_id=done.item_id, points=done.points, applied=False)
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
    events.emit(
        db=db,
        app_id=ctx.app_id,
        name="mall_redeemed",
        ts=ctx.now,
        idempotency_key=f"loyalty:{business_key}",
        user_id=user_id,
        properties={"item_id": item_id, "points": item.points, "kind": item.kind}
        | ({"ref": item.ref} if item.ref else {}),
        settings=ctx.settings,
    )
    return RedeemOut(redemption_id=int(rid), item_id=item_id, points=item.points, applied=True)
