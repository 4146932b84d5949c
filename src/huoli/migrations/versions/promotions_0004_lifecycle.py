"""Activity lifecycle: windows, pause and end on every mechanic; flash items and coupon templates halted by
the catalog; distribution pause

Revision ID: promotions_0004
Revises: promotions_0003
Create Date: 2026-12-07 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import huoli.db

revision: str = "promotions_0004"
down_revision: str | None = "promotions_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WINDOWED = (
    "promo_gift_packs",
    "promo_group_campaigns",
    "promo_bargain_campaigns",
    "promo_referral_programs",
)


def _when(name: str) -> sa.Column:
    return sa.Column(name, huoli.db.UTCDateTime(timezone=True), nullable=True)


def upgrade() -> None:
    for table in _WINDOWED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(_when("starts_at"))
            batch_op.add_column(_when("ends_at"))
            batch_op.add_column(_when("ended_at"))
    with op.batch_alter_table("promo_coupon_templates", schema=None) as batch_op:
        batch_op.add_column(_when("ended_at"))
        batch_op.add_column(sa.Column("unavailable_item_ids", sa.Text(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("halted_reason", sa.String(length=32), nullable=True))
    with op.batch_alter_table("promo_flash_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(_when("ended_at"))
    with op.batch_alter_table("promo_flash_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stopped", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("halted_reason", sa.String(length=32), nullable=True))
    with op.batch_alter_table("promo_distribution_configs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("promo_distribution_configs", schema=None) as batch_op:
        batch_op.drop_column("active")
    with op.batch_alter_table("promo_flash_items", schema=None) as batch_op:
        batch_op.drop_column("halted_reason")
        batch_op.drop_column("stopped")
    with op.batch_alter_table("promo_flash_sessions", schema=None) as batch_op:
        batch_op.drop_column("ended_at")
        batch_op.drop_column("active")
    with op.batch_alter_table("promo_coupon_templates", schema=None) as batch_op:
        batch_op.drop_column("halted_reason")
        batch_op.drop_column("unavailable_item_ids")
        batch_op.drop_column("ended_at")
    for table in reversed(_WINDOWED):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("ended_at")
            batch_op.drop_column("ends_at")
            batch_op.drop_column("starts_at")
