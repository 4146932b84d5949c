"""The record of privacy requests (who asked for whose export or erasure, when, and what it did: row counts per
store and table, never the data itself) and the consent ledger (each decision a user made, append-only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text
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


class ConsentRecord(AppScoped, Base):
    """One consent decision (append-only): the current state of a purpose is the user's latest row for it.
    A row is written only when the decision or the policy version changes (service.record)."""

    __tablename__ = "privacy_consents"
    __table_args__ = (Index("ix_privacy_consents_app_user_purpose", "app_id", "user_id", "purpose", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(64), nullable=False)
    purpose: Mapped[str] = mapped_column(String(32), nullable=False)  # consents.PURPOSES
    granted: Mapped[bool] = mapped_column(Boolean, nullable=False)
    policy_version: Mapped[str] = mapped_column(String(32), nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)  # sdk | server | operator
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    # Evidence of where the decision came from; cleared by an erasure with the user id.
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(256))
    recorded_by: Mapped[str | None] = mapped_column(String(64))  # the operator's key id (source operator)
