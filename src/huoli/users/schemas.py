"""API shapes for mini-program login."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class WechatLoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(
        min_length=1, max_length=128, description="The code from wx.login (single use, 5 minutes)."
    )
    anonymous_id: str | None = Field(
        None,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.:@-]+$",
        description="The SDK's device id, to stitch history.",
    )


class WechatLoginOut(BaseModel):
    token: str = Field(description="Signed session token: send as Authorization: Bearer <token>.")
    user_id: str
    expires_at: datetime
    is_new: bool


class SessionsRevokedOut(BaseModel):
    user_id: str
    revoked_before: datetime = Field(
        description="Session tokens issued up to this second are refused (401 revoked_token) by every process "
        "within HUOLI_REVOCATION_CACHE_TTL_S; the user logs in again."
    )
