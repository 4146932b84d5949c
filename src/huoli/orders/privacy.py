"""Privacy hook of the orders domain: the buyer's orders (with their items and stored answers) and refunds.

Orders record money, which the merchant's accounting must keep (as promotions keeps its paid orders): on erasure
they stay, with the buyer's id replaced by one random token per erasure, so the amounts still add up but lead
back to nobody in huoli. Refunds name no user (they hang off the order id) and are kept as they are. The stored
answers of paid calls repeat the user id: they are anonymised with the row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huoli.orders.models import Order, OrderRefund
from huoli.privacy.hooks import ANONYMISED, KEPT, check_scope, chunks, erased_id, rows


def _order_ids(db: Session, user_id: str) -> list[str]:
    return list(db.scalars(select(Order.order_id).where(Order.user_id == user_id).order_by(Order.id)))


def export_user(db: Session, *, app_id: str, user_id: str) -> dict[str, list[dict[str, Any]]]:
    check_scope(db, app_id)
    refunds: list[dict[str, Any]] = []
    for part in chunks(_order_ids(db, user_id)):
        refunds += rows(db, OrderRefund, OrderRefund.order_id.in_(part))
    return {"orders": rows(db, Order, Order.user_id == user_id), "order_refunds": refunds}


def erase_user(db: Session, *, app_id: str, user_id: str) -> dict[str, int]:
    check_scope(db, app_id)
    token = erased_id()
    ids = _order_ids(db, user_id)
    kept = 0
    for part in chunks(ids):
        kept += len(list(db.scalars(select(OrderRefund.id).where(OrderRefund.order_id.in_(part)))))
    n = 0
    for order in db.scalars(select(Order).where(Order.user_id == user_id)):
        order.user_id = token
        if order.result is not None and order.result.get("user_id") == user_id:
            order.result = order.result | {"user_id": token}
        n += 1
    db.flush()
    return {"orders" + ANONYMISED: n, "order_refunds" + KEPT: kept}
