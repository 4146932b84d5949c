"""Experiments (A/B tests on a flag) and holdout groups."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from huoli.db import Base, UTCDateTime, utcnow
from huoli.tenancy import AppScoped


class Experiment(AppScoped, Base):
    """An A/B test serving its variants' values through one flag. The spec (variants, traffic, metrics,
    statistics) is validated at creation and frozen once started, so results always match what ran."""

    __tablename__ = "experiments"
    __table_args__ = (UniqueConstraint("app_id", "key", name="uq_experiments_app_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    hypothesis: Mapped[str] = mapped_column(Text, default="")
    flag_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | running | stopped
    variants: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    coverage: Mapped[float] = mapped_column(Float, default=1.0)
    namespace: Mapped[str | None] = mapped_column(String(64))
    namespace_start: Mapped[float] = mapped_column(Float, default=0.0)
    namespace_end: Mapped[float] = mapped_column(Float, default=1.0)
    holdout_key: Mapped[str | None] = mapped_column(String(64))
    targeting: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sticky: Mapped[bool] = mapped_column(Boolean, default=False)  # persist assignments (sticky buckets)
    metrics: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    shipped_variant: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Holdout(AppScoped, Base):
    """Users kept out of experiments (scope global) or of one campaign, by a hash with the holdout's own salt."""

    __tablename__ = "holdouts"
    __table_args__ = (UniqueConstraint("app_id", "key", name="uq_holdouts_app_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(16))  # global | campaign
    percent: Mapped[float] = mapped_column(Float)  # share held out, 0 < percent ≤ 0.5
    salt: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
