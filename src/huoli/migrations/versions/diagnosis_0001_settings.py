"""diagnosis: per-app thresholds

Revision ID: diagnosis_0001
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import huoli.db

revision: str = "diagnosis_0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("diagnosis",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "diagnosis_settings",
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("thresholds", sa.Text(), nullable=False),
        sa.Column("updated_at", huoli.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("app_id", name=op.f("pk_diagnosis_settings")),
    )


def downgrade() -> None:
    op.drop_table("diagnosis_settings")
