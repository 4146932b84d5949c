"""orders: one row per reported order and per refund, unique per app

Revision ID: orders_0001
Revises: 0001
Create Date: 2026-12-08 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import huoli.db

revision: str = "orders_0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("orders",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("paid_fen", sa.BigInteger(), nullable=True),
        sa.Column("refunded_fen", sa.BigInteger(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=True),
        sa.Column("paid_at", huoli.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", huoli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", huoli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", huoli.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("app_id", "order_id", name="uq_orders_order"),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_app_id"), ["app_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_user_id"), ["user_id"], unique=False)
    op.create_table(
        "order_refunds",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("refund_id", sa.String(length=100), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at", huoli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_refunds")),
        sa.UniqueConstraint("app_id", "order_id", "refund_id", name="uq_order_refunds_refund"),
    )
    with op.batch_alter_table("order_refunds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_refunds_app_id"), ["app_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("order_refunds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_refunds_app_id"))
    op.drop_table("order_refunds")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_user_id"))
        batch_op.drop_index(batch_op.f("ix_orders_app_id"))
    op.drop_table("orders")
