"""job runs and leases

Revision ID: jobs_0001
Revises: 0001
Create Date: 2026-12-08 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import huoli.db

revision: str = "jobs_0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("jobs",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job", sa.String(length=100), nullable=False),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=64), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("created_at", huoli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", huoli.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", huoli.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("lease_token", sa.String(length=32), nullable=True),
        sa.Column("lease_until", huoli.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("worker", sa.String(length=100), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
        sa.UniqueConstraint("job", "app_id", "period", name="uq_job_runs_job_app_period"),
    )
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.create_index("ix_job_runs_app_job_id", ["app_id", "job", "id"], unique=False)
        batch_op.create_index("ix_job_runs_status_lease", ["status", "lease_until"], unique=False)
    op.create_table(
        "job_locks",
        sa.Column("job", sa.String(length=100), nullable=False),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("until", huoli.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("job", "app_id", name=op.f("pk_job_locks")),
    )


def downgrade() -> None:
    op.drop_table("job_locks")
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_job_runs_status_lease")
        batch_op.drop_index("ix_job_runs_app_job_id")
    op.drop_table("job_runs")
