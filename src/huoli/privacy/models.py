"""The record of privacy requests: who asked for whose export or erasure, when, and what it did (row counts per
store and table, never the data itself)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from huoli.db import Base, UTCDateTime
from huoli.tenancy import AppScoped


class PrivacyRequest(AppScoped, Base):
    """Kept after an erasure (its user id included): the proof that the request was carried out."""

    __tablename__ = "privacy_requests"
    __table_args__ = (Index("ix_privacy_requests_app_user", "app_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # export | erasure
    user_id: Mapped[str] = mapped_column(String(64), nullable=False)
    requested_by_kind: Mapped[str] = mapped_column(String(16), nullable=False)  # api_key | cli
    requested_by: Mapped[str] = mapped_column(
        String(64), nullable=False
    )  # key id, or the OS user for the CLI
    requested_by_role: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # running | completed | failed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # counts per store / domain / table
    error: Mapped[str | None] = mapped_column(Text)
