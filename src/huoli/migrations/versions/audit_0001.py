"""audit trail

Revision ID: audit_0001
Revises: 0001
Create Date: 2026-12-07 02:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import huoli.db

revision: str = "audit_0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("audit",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", huoli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=True),
        sa.Column("action", sa.String(length=200), nullable=False),
        sa.Column("target", sa.JSON(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_entries_app_id"), ["app_id"], unique=False)
        batch_op.create_index("ix_audit_entries_app_at", ["app_id", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entries_app_at")
        batch_op.drop_index(batch_op.f("ix_audit_entries_app_id"))
    op.drop_table("audit_entries")
