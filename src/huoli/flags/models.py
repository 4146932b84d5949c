"""Feature flags (remote config), per-user preferences, sticky buckets and the exposure ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from huoli.db import Base, UTCDateTime, utcnow
from huoli.tenancy import AppScoped


class Flag(AppScoped, Base):
    """One typed flag. `rules` are the operator's targeting/rollout rules; `experiment_rules` are written by
    the experiments domain while an experiment runs on this flag (so evaluation never imports experiments)."""

    __tablename__ = "flags"
    __table_args__ = (UniqueConstraint("app_id", "key", name="uq_flags_app_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(16))  # bool | string | number | json
    description: Mapped[str] = mapped_column(Text, default="")
    default_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    experiment_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    killed: Mapped[bool] = mapped_column(Boolean, default=False)  # kill switch: everyone gets default_value
    client_visible: Mapped[bool] = mapped_column(Boolean, default=True)  # returned by GET /v1/flags
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UserPreference(AppScoped, Base):
    """千人千面 settings a user chose (font size, units, theme), returned with the flags."""

    __tablename__ = "user_preferences"
    __table_args__ = (UniqueConstraint("app_id", "user_id", name="uq_user_preferences_app_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(64))
    font_size: Mapped[str | None] = mapped_column(String(16))
    units: Mapped[str | None] = mapped_column(String(16))
    theme: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StickyBucket(AppScoped, Base):
    """GrowthBook sticky-bucket document: the variations an attribute value was assigned, per experiment."""

    __tablename__ = "flag_sticky_buckets"
    __table_args__ = (
        UniqueConstraint("app_id", "attribute_name", "attribute_value", name="uq_flag_sticky_buckets_attr"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    attribute_name: Mapped[str] = mapped_column(String(64))
    attribute_value: Mapped[str] = mapped_column(String(128))
    assignments: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Exposure(AppScoped, Base):
    """First exposure of a unit to an experiment: the unique key makes the exposure event fire once."""

    __tablename__ = "experiment_exposures"
    __table_args__ = (
        UniqueConstraint("app_id", "experiment_key", "unit_id", name="uq_experiment_exposures_unit"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment_key: Mapped[str] = mapped_column(String(64))
    unit_id: Mapped[str] = mapped_column(String(64))
    variant: Mapped[str] = mapped_column(String(64))
    first_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
