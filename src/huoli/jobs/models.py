"""Job bookkeeping: one row per (job, app, period) run — the database refuses a second — and one lease row
per (job, app), so two workers never run the same job for the same app at once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from huoli.db import Base, UTCDateTime

GLOBAL = ""  # app_id of a global job's runs: NOT NULL, so the unique key holds (NULLs never collide)


class JobRun(Base):
    __tablename__ = "job_runs"
    __table_args__ = (
        UniqueConstraint("job", "app_id", "period", name="uq_job_runs_job_app_period"),
        Index("ix_job_runs_app_job_id", "app_id", "job", "id"),
        Index("ix_job_runs_status_lease", "status", "lease_until"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(100), nullable=False)
    app_id: Mapped[str] = mapped_column(String(64), nullable=False)
    period: Mapped[str] = mapped_column(String(64), nullable=False)  # "c:2026-12-07T03:00", "manual:<hex>"
    trigger: Mapped[str] = mapped_column(String(16), nullable=False)  # schedule | api | cli
    # queued → running → ok | retrying → running … | failed
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    # The holder's token and how long its claim lasts (renewed while it runs); a retry's not-before time.
    lease_token: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    worker: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[Any] = mapped_column(JSON, nullable=True)


class JobLock(Base):
    __tablename__ = "job_locks"

    job: Mapped[str] = mapped_column(String(100), primary_key=True)
    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[int | None] = mapped_column(Integer)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime())
