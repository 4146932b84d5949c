"""WeChat Pay merchant per app (secrets encrypted at rest); the merchant each refund was sent to

Revision ID: promotions_0003
Revises: promotions_0002
Create Date: 2026-12-08 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import huoli.db

revision: str = "promotions_0003"
down_revision: str | None = "promotions_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "promo_wechatpay_merchants",
        sa.Column("mch_id", sa.String(length=32), nullable=False),
        sa.Column("merchant_serial", sa.String(length=64), nullable=False),
        sa.Column("private_key_pem", sa.String(length=4096), nullable=False),
        sa.Column("api_v3_key", sa.String(length=512), nullable=False),
        sa.Column("platform_key_id", sa.String(length=64), nullable=False),
        sa.Column("platform_public_key_pem", sa.Text(), nullable=False),
        sa.Column("updated_at", huoli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("app_id", name=op.f("pk_promo_wechatpay_merchants")),
    )
    with op.batch_alter_table("promo_wechatpay_merchants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_promo_wechatpay_merchants_app_id"), ["app_id"], unique=False)
    with op.batch_alter_table("promo_refunds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mch_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("promo_refunds", schema=None) as batch_op:
        batch_op.drop_column("mch_id")
    with op.batch_alter_table("promo_wechatpay_merchants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_promo_wechatpay_merchants_app_id"))
    op.drop_table("promo_wechatpay_merchants")
