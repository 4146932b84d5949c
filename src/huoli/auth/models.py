"""Replay protection for signed server-to-server calls."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from huoli.db import Base, UTCDateTime, utcnow
from huoli.tenancy import AppScoped


class ServerNonce(AppScoped, Base):
    """A nonce seen inside the signature window; the unique constraint is what rejects a replay."""

    __tablename__ = "server_nonces"
    __table_args__ = (UniqueConstraint("app_id", "nonce", name="uq_server_nonces_app_nonce"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    nonce: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class SessionRevocation(AppScoped, Base):
    """A revoked session token (`jti`), or with no jti every token of the user issued up to `revoked_at`.

    Kept until `expires_at`, when every token it covers has expired anyway (auth.service.RevocationCache)."""

    __tablename__ = "session_revocations"
    __table_args__ = (UniqueConstraint("app_id", "jti", name="uq_session_revocations_app_jti"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(64))
    jti: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # caches read what is new by it
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
