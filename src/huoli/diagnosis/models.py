"""Per-app doctor thresholds: one JSON document (thresholds.Thresholds) per app; defaults live in code."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from huoli.db import Base, UTCDateTime, utcnow
from huoli.tenancy import AppScoped


class DiagnosisSettingsRow(AppScoped, Base):
    __tablename__ = "diagnosis_settings"

    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    thresholds: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
