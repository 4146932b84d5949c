"""Staff accounts' tables. A person may belong to several apps, so the account and its sessions are global
and only the membership (role per app), invitations and reset tokens belong to an app."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from huoli.crypto import EncryptedString
from huoli.db import Base, UTCDateTime
from huoli.tenancy import AppScoped


class StaffMember(Base):
    """A person. Only an argon2 hash of the password is stored; the TOTP secret is encrypted at rest."""

    __tablename__ = "staff_members"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)  # stored lower-cased
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_secret: Mapped[str | None] = mapped_column(EncryptedString("staff_members.totp_secret"))
    totp_pending: Mapped[str | None] = mapped_column(EncryptedString("staff_members.totp_pending"))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)  # a code is accepted once (no replay)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StaffRole(AppScoped, Base):
    """A person's role in one app."""

    __tablename__ = "staff_roles"
    __table_args__ = (UniqueConstraint("app_id", "staff_id", name="uq_staff_roles_member"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    staff_id: Mapped[str] = mapped_column(String(32), index=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StaffInvitation(AppScoped, Base):
    """A one-time link an owner hands over; the invitee picks a username and password (or joins with theirs)."""

    __tablename__ = "staff_invitations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_by: Mapped[str | None] = mapped_column(String(32))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffResetToken(AppScoped, Base):
    """A one-time password reset an owner of the app issued for a member."""

    __tablename__ = "staff_reset_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[str] = mapped_column(String(32), index=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffSession(Base):
    """A signed-in browser. Only the SHA-256 of the token is stored; revoking takes effect on the next call."""

    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    staff_id: Mapped[str] = mapped_column(String(32), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user_agent: Mapped[str | None] = mapped_column(String(300))
    ip: Mapped[str | None] = mapped_column(String(64))


class StaffLoginThrottle(Base):
    """Failed sign-ins per key (`u:<username>` or `ip:<address>`) within the window, and the lock they earned."""

    __tablename__ = "staff_login_throttle"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
