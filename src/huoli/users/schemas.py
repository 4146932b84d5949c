"""API shapes for mini-program login and the operators' list of members."""

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


class UserOut(BaseModel):
    """A member as operators see them: the ids and login times, never the session key or unionid."""

    id: str = Field(description="The pseudonymous user id written on events.")
    openid: str = Field(description="The WeChat openid (how the merchant's own systems name the member).")
    created_at: datetime = Field(description="First login.")
    last_login_at: datetime
