"""Mini-program users: pseudonymous ids derived from openids, and the server-only WeChat session keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from huoli.crypto import EncryptedString
from huoli.db import Base, UTCDateTime, utcnow
from huoli.tenancy import AppScoped


class User(AppScoped, Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("app_id", "openid", name="uq_users_app_openid"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # user_id written on events
    openid: Mapped[str] = mapped_column(String(128))
    unionid: Mapped[str | None] = mapped_column(String(128), index=True)
    first_anonymous_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WxSessionKey(AppScoped, Base):
    """WeChat's session_key for a user: kept server-side for decrypting wx data later, never returned."""

    __tablename__ = "wx_session_keys"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Encrypted at rest (crypto.py): it decrypts the user's WeChat data (phone number, run data).
    session_key: Mapped[str] = mapped_column(EncryptedString("wx_session_keys.session_key"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
