"""API shapes for apps and keys."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from huoli.timeutil import check_timezone


class Role(StrEnum):
    """Operator roles, ordered: an owner can do everything an operator can, who can do what an analyst can."""

    analyst = "analyst"
    operator = "operator"
    owner = "owner"

    @property
    def rank(self) -> int:
        return ["analyst", "operator", "owner"].index(self.value)


APP_ID_PATTERN = r"^[a-z][a-z0-9_-]{1,63}$"


class AppCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=APP_ID_PATTERN, description="Slug used in URLs, headers and events.")
    name: str = Field(min_length=1, max_length=200)
    timezone: str = "Asia/Shanghai"
    wx_appid: str | None = Field(None, pattern=r"^wx[0-9a-f]{16}$")
    wx_secret: str | None = Field(None, min_length=8, max_length=128)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return check_timezone(value)


class AppRead(BaseModel):
    """What operators may see: never the WeChat secret, the HMAC secret or the id salt."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    timezone: str
    wx_appid: str | None
    created_at: datetime


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    role: Role


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyIssued(ApiKeyRead):
    key: str = Field(description="The full key. Shown once; only its hash is stored.")
