"""The orders domain's own rules: the state of an order and its refunds, on its own tables only.

State rules (docs/orders.md):

    (none) ──paid──▶ paid ──refund (part)──▶ partly_refunded ──refund (rest)──▶ refunded
    (none) ──cancelled──▶ cancelled

- paid is reported once per (app, order_id); a repeat with the same user and amount answers the stored result,
  with another user or amount `409 order_mismatch`; paid after cancelled `409 order_cancelled`.
- cancelled is for an order never paid; a repeat answers the stored result; after paid `409 order_paid`.
- a refund is once per (order, refund_id): a repeat answers the stored result (another amount: `409
  refund_mismatch`); refunds never exceed the paid amount (`422 refund_exceeds_order` on amount_fen); unknown
  order `404 order_not_found`; a cancelled order `409 order_cancelled`.

Each function takes the caller's session and never commits: the flows run them inside the one unit of work
that also settles loyalty and promotions. Races are decided by the database (unique keys, conditional UPDATE).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from huoli.db import insert_or_ignore
from huoli.errors import Conflict, NotFound, ValidationFailed
from huoli.orders.models import Order, OrderRefund

PAID, PARTLY_REFUNDED, REFUNDED, CANCELLED = "paid", "partly_refunded", "refunded", "cancelled"
REFUNDABLE = (PAID, PARTLY_REFUNDED)


def get(db: Session, order_id: str) -> Order | None:
    return db.scalars(select(Order).where(Order.order_id == order_id)).first()


def claim_paid(
    db: Session,
    *,
    app_id: str,
    order_id: str,
    user_id: str,
    paid_fen: int,
    paid_at: datetime,
    items: list[dict[str, Any]],
    now: datetime,
) -> bool:
    """Record the order as paid; False when the order id was already reported (the unique key decides a race:
    on PostgreSQL a concurrent duplicate waits for the first to commit, then finds its row)."""
    return bool(
        insert_or_ignore(
            db,
            Order,
            {
                "app_id": app_id,
                "order_id": order_id,
                "user_id": user_id,
                "status": PAID,
                "paid_fen": paid_fen,
                "refunded_fen": 0,
                "items": items,
                "paid_at": paid_at,
                "created_at": now,
                "updated_at": now,
            },
            ["app_id", "order_id"],
        )
    )


def replay_paid(order: Order, *, user_id: str, paid_fen: int) -> dict[str, Any]:
    """The stored answer of an order reported paid again, or why this report contradicts the first."""
    if order.status == CANCELLED:
        raise Conflict("the order was cancelled; it can't be paid", code="order_cancelled")
    if order.user_id != user_id or order.paid_fen != paid_fen or order.result is None:
        raise Conflict(
            "the order was already reported paid with another user or amount",
            code="order_mismatch",
            details={"paid_fen": order.paid_fen},
        )
    return order.result


def claim_cancelled(db: Session, *, app_id: str, order_id: str, user_id: str | None, now: datetime) -> bool:
    """Record the order as cancelled before payment; False when the order id is already known."""
    return bool(
        insert_or_ignore(
            db,
            Order,
            {
                "app_id": app_id,
                "order_id": order_id,
                "user_id": user_id,
                "status": CANCELLED,
                "paid_fen": None,
                "refunded_fen": 0,
                "created_at": now,
                "updated_at": now,
                "cancelled_at": now,
            },
            ["app_id", "order_id"],
        )
    )


def replay_cancelled(order: Order) -> dict[str, Any]:
    if order.status != CANCELLED:
        raise Conflict("the order was paid; refund it instead of cancelling", code="order_paid")
    assert order.result is not None  # written in the transaction that created the row
    return order.result


def save_result(db: Session, *, order_id: str, result: dict[str, Any], now: datetime) -> None:
    db.execute(
        update(Order)
        .where(Order.order_id == order_id)
        .values(result=result, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def claim_refund(
    db: Session, *, app_id: str, order_id: str, refund_id: str, amount_fen: int, now: datetime
) -> bool:
    """Record the refund; False when this refund id of the order was already reported."""
    return bool(
        insert_or_ignore(
            db,
            OrderRefund,
            {
                "app_id": app_id,
                "order_id": order_id,
                "refund_id": refund_id,
                "amount_fen": amount_fen,
                "created_at": now,
            },
            ["app_id", "order_id", "refund_id"],
        )
    )


def get_refund(db: Session, order_id: str, refund_id: str) -> OrderRefund | None:
    return db.scalars(
        select(OrderRefund).where(OrderRefund.order_id == order_id, OrderRefund.refund_id == refund_id)
    ).first()


def replay_refund(refund: OrderRefund, *, amount_fen: int) -> dict[str, Any]:
    if refund.amount_fen != amount_fen or refund.result is None:
        raise Conflict(
            "this refund id was already reported with another amount",
            code="refund_mismatch",
            details={"amount_fen": refund.amount_fen},
        )
    return refund.result


def refundable(db: Session, order_id: str, *, user_id: str | None) -> Order:
    """The order a refund applies to, or why there is none (checked before anything is written)."""
    order = get(db, order_id)
    if order is None or (user_id is not None and order.user_id != user_id):
        raise NotFound(f"no paid order {order_id!r}", code="order_not_found")
    if order.status == CANCELLED:
        raise Conflict("the order was cancelled before payment; nothing to refund", code="order_cancelled")
    return order


def take_refund(db: Session, *, order: Order, amount_fen: int, now: datetime) -> tuple[int, int]:
    """Add the refund to the order's refunded total; (remaining before, remaining after) in fen. A conditional
    UPDATE, so two refunds racing on one order can never together exceed what was paid."""
    paid = order.paid_fen or 0
    row = db.execute(
        update(Order)
        .where(
            Order.order_id == order.order_id,
            Order.status.in_(REFUNDABLE),
            Order.refunded_fen + amount_fen <= Order.paid_fen,
        )
        .values(refunded_fen=Order.refunded_fen + amount_fen, updated_at=now)
        .returning(Order.refunded_fen)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        db.refresh(order)
        left = paid - order.refunded_fen
        raise ValidationFailed(
            f"the refund exceeds what is left of the order ({left} fen)",
            details=[{"field": "amount_fen", "message": f"at most {left}"}],
            code="refund_exceeds_order",
        )
    after = paid - int(row[0])
    status = REFUNDED if after == 0 else PARTLY_REFUNDED
    db.execute(
        update(Order)
        .where(Order.order_id == order.order_id)
        .values(status=status)
        .execution_options(synchronize_session=False)
    )
    return after + amount_fen, after


def save_refund_result(db: Session, *, order_id: str, refund_id: str, result: dict[str, Any]) -> None:
    db.execute(
        update(OrderRefund)
        .where(OrderRefund.order_id == order_id, OrderRefund.refund_id == refund_id)
        .values(result=result)
        .execution_options(synchronize_session=False)
    )
