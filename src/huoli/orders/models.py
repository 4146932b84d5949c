"""The orders domain's tables: one row per reported order and one per refund, each keyed by the merchant's own id
(unique per app, enforced by the database), holding what the call settled so a repeat answers the same."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from huoli.db import Base, UTCDateTime
from huoli.tenancy import AppScoped


class Order(AppScoped, Base):
    """An order the merchant backend reported: paid (then maybe refunded) or cancelled before payment."""

    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("app_id", "order_id", name="uq_orders_order"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[str | None] = mapped_column(String(64), index=True)  # unknown for an unpaid cancellation
    status: Mapped[str] = mapped_column(String(16))  # paid | partly_refunded | refunded | cancelled
    paid_fen: Mapped[int | None] = mapped_column(BigInteger)  # None: cancelled before payment
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    items: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)  # sku, qty, price_fen as reported
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the merchant's payment time
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the paid / cancelled call's answer


class OrderRefund(AppScoped, Base):
    """One refund of a paid order, once per (order, refund_id)."""

    __tablename__ = "order_refunds"
    __table_args__ = (UniqueConstraint("app_id", "order_id", "refund_id", name="uq_order_refunds_refund"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(100))
    refund_id: Mapped[str] = mapped_column(String(100))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the refund call's answer
