"""The transactional outbox: server-side events commit with the business change that caused them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from huoli.db import Base, UTCDateTime, utcnow
from huoli.tenancy import AppScoped


class OutboxEvent(AppScoped, Base):
    __tablename__ = "event_outbox"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    payload: Mapped[str] = mapped_column(Text)  # one validated event row as JSON
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
