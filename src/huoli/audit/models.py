"""The audit trail's one table: append-only, written in the same unit of work as the change it records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from huoli.db import Base, UTCDateTime
from huoli.tenancy import AppScoped


class AuditEntry(AppScoped, Base):
    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_app_at", "app_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    actor_kind: Mapped[str] = mapped_column(String(16), nullable=False)  # api_key | cli
    actor_id: Mapped[str] = mapped_column(String(64), nullable=False)  # key id, or the OS user for the CLI
    actor_role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(
        String(200), nullable=False
    )  # "POST /admin/keys" or "cli keys create"
    target: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)  # path parameters
    request: Mapped[Any] = mapped_column(JSON, nullable=True)  # the request body, secrets redacted
    changes: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, nullable=False
    )  # rows: table, key, before, after
    ip: Mapped[str | None] = mapped_column(String(64))
