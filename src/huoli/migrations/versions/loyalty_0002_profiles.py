"""loyalty: member profiles (birthday for the tier birthday gift)

Revision ID: loyalty_0002
Revises: loyalty_0001
Create Date: 2026-12-06 04:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import huoli.db

revision: str = "loyalty_0002"
down_revision: str | None = "loyalty_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "loyalty_profiles",
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("birthday", sa.String(length=5), nullable=True),
        sa.Column("updated_at", huoli.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "user_id", name=op.f("pk_loyalty_profiles")),
    )


def downgrade() -> None:
    op.drop_table("loyalty_profiles")
