"""Operator-supplied analytics inputs: the channel-cost table behind cost per acquired user."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from huoli.db import Base, UTCDateTime, utcnow
from huoli.tenancy import AppScoped


class ChannelCost(AppScoped, Base):
    __tablename__ = "analytics_channel_costs"
    __table_args__ = (UniqueConstraint("app_id", "day", "channel", name="uq_channel_cost_day"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)  # local day in the app timezone
    channel: Mapped[str] = mapped_column(String(64))
    cost_fen: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
