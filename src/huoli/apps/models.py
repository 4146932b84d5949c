"""Apps (one per mini-program, the tenant) and the operators' API keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from huoli.crypto import EncryptedString
from huoli.db import Base, UTCDateTime, utcnow
from huoli.tenancy import AppScoped


class App(Base):
    """A mini-program served by this deployment. The tenant itself, so not AppScoped."""

    __tablename__ = "apps"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    wx_appid: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Encrypted at rest (crypto.py): a copy of the database without the key gives neither secret away.
    wx_secret: Mapped[str | None] = mapped_column(EncryptedString("apps.wx_secret"))
    # The HMAC key the merchant backend signs with: encrypted, not hashed, since verifying needs it.
    server_secret: Mapped[str] = mapped_column(EncryptedString("apps.server_secret"))
    id_salt: Mapped[str] = mapped_column(String(64))  # derives stable pseudonymous user ids from openids
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKey(AppScoped, Base):
    """An operator credential. Only the SHA-256 of the secret part is stored."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # public key id, part of the key text
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
