"""API shapes for staff accounts. Tokens appear in a response once (when issued) and are never stored."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from huoli.apps.schemas import Role

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{2,63}$"
USERNAME_MESSAGE = (
    "3–64 characters: lowercase letters, digits, '.', '-' or '_', starting with a letter or digit"
)
PASSWORD_MIN = 10


def _username(value: str) -> str:
    value = value.strip().lower()
    if not re.fullmatch(USERNAME_PATTERN, value):
        raise PydanticCustomError("username", USERNAME_MESSAGE)
    return value


def _new_password(value: str) -> str:
    if len(value) < PASSWORD_MIN:
        raise PydanticCustomError("password_short", "at least {n} characters", {"n": PASSWORD_MIN})
    if not value.strip():
        raise PydanticCustomError("password_blank", "a password is needed")
    return value


Username = Annotated[str, Field(max_length=64, description=USERNAME_MESSAGE), AfterValidator(_username)]
NewPassword = Annotated[
    str,
    Field(max_length=256, description=f"At least {PASSWORD_MIN} characters."),
    AfterValidator(_new_password),
]
TotpCode = Annotated[
    str, Field(pattern=r"^[0-9]{6}$", description="The 6-digit code of the authenticator app.")
]


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Any text up to the limit: a sign-in with a malformed username gets the same answer as a wrong password.
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    totp: TotpCode | None = None


class AppRole(BaseModel):
    app_id: str
    name: str
    role: Role


class StaffMe(BaseModel):
    id: str
    username: str
    totp_enabled: bool
    apps: list[AppRole]


class LoginOut(BaseModel):
    token: str = Field(
        description="Session token `hls_…`: send it as `Authorization: Bearer` with X-Huoli-App-Id."
    )
    expires_at: datetime
    staff: StaffMe


class StaffMemberRead(BaseModel):
    id: str
    username: str
    role: Role
    totp_enabled: bool
    joined_at: datetime


class InvitationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    note: str | None = Field(None, max_length=200, description="Who it is for (shown to owners only).")


class InvitationRead(BaseModel):
    id: str
    role: Role
    note: str | None
    created_by: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    accepted_by: str | None
    revoked_at: datetime | None


class InvitationIssued(InvitationRead):
    token: str = Field(description="The one-time token of the link; shown once, only its hash is stored.")


class InvitationAccept(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username
    password: str = Field(
        min_length=1, max_length=256, description="A new account's password, or an existing account's own."
    )


class ResetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    clear_totp: bool = Field(False, description="Also remove the member's second factor (a lost phone).")


class ResetIssued(BaseModel):
    staff_id: str
    token: str = Field(description="One-time reset token; shown once.")
    expires_at: datetime


class ResetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: NewPassword


class RoleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


class SessionRead(BaseModel):
    id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_agent: str | None
    ip: str | None
    current: bool = False


class Revoked(BaseModel):
    revoked: int


class TotpEnrolment(BaseModel):
    secret: str = Field(description="Base32 secret for the authenticator app; shown once, at enrolment.")
    uri: str = Field(description="otpauth:// URI (the QR code's content).")


class TotpCodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: TotpCode


class TotpState(BaseModel):
    totp_enabled: bool


class Ok(BaseModel):
    ok: bool = True
