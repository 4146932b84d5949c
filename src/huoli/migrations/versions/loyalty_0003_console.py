"""loyalty: the console's mechanics — mall item windows, paused tasks, manual tiers, operator notes

Revision ID: loyalty_0003
Revises: loyalty_0002
Create Date: 2026-12-07 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import huoli.db

revision: str = "loyalty_0003"
down_revision: str | None = "loyalty_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("loyalty_mall_items") as t:
        t.add_column(sa.Column("starts_at", huoli.db.UTCDateTime(timezone=True), nullable=True))
        t.add_column(sa.Column("ends_at", huoli.db.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("loyalty_tasks") as t:
        t.add_column(sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("loyalty_members") as t:
        t.add_column(sa.Column("manual", sa.Boolean(), nullable=False, server_default=sa.false()))
        t.add_column(sa.Column("manual_until", huoli.db.UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "loyalty_member_notes",
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("created_at", huoli.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_member_notes")),
    )
    op.create_index("ix_loyalty_member_notes_user", "loyalty_member_notes", ["app_id", "user_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_loyalty_member_notes_user", table_name="loyalty_member_notes")
    op.drop_table("loyalty_member_notes")
    with op.batch_alter_table("loyalty_members") as t:
        t.drop_column("manual_until")
        t.drop_column("manual")
    with op.batch_alter_table("loyalty_tasks") as t:
        t.drop_column("paused")
    with op.batch_alter_table("loyalty_mall_items") as t:
        t.drop_column("ends_at")
        t.drop_column("starts_at")
