"""analytics: channel costs

Revision ID: analytics_0001
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import huoli.db

revision: str = "analytics_0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("analytics",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_channel_costs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("cost_fen", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", huoli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("app_id", "day", "channel", name="uq_channel_cost_day"),
    )
    op.create_index(op.f("ix_analytics_channel_costs_app_id"), "analytics_channel_costs", ["app_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_analytics_channel_costs_app_id"), table_name="analytics_channel_costs")
    op.drop_table("analytics_channel_costs")
