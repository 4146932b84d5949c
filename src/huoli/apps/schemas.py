"""API shapes for apps and keys."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

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
WX_APPID_PATTERN = r"^wx[0-9a-f]{16}$"
# The console shows these messages next to the input (and translates them): say what a valid value looks like.
APP_ID_MESSAGE = "2–64 characters: a lowercase letter, then lowercase letters, digits, '-' or '_'"
WX_APPID_MESSAGE = "a WeChat AppID is 'wx' followed by 16 hex digits (0-9, a-f), e.g. wx0123456789abcdef"


def _app_id(value: str) -> str:
    if not re.fullmatch(APP_ID_PATTERN, value):
        raise PydanticCustomError("app_id", APP_ID_MESSAGE)
    return value


def _wx_appid(value: str) -> str:
    if not re.fullmatch(WX_APPID_PATTERN, value):
        raise PydanticCustomError("wx_appid", WX_APPID_MESSAGE)
    return value


def _name(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "a name is needed")
    return value.strip()


def _timezone(value: str) -> str:
    try:
        return check_timezone(value)
    except ValueError as exc:
        raise PydanticCustomError("timezone", "{error}", {"error": str(exc)}) from None


def _secret_text(value: str) -> str:
    if any(c.isspace() for c in value):
        raise PydanticCustomError(
            "wx_secret", "the AppSecret has no spaces: copy it again from mp.weixin.qq.com"
        )
    return value


AppId = Annotated[
    str,
    Field(max_length=64, description="Slug used in URLs, headers and events: " + APP_ID_MESSAGE),
    AfterValidator(_app_id),
]
AppName = Annotated[str, Field(max_length=200), AfterValidator(_name)]  # "" and "  " alike: a name is needed
Timezone = Annotated[
    str, Field(max_length=64, description="IANA timezone of the app's local days."), AfterValidator(_timezone)
]
WxAppId = Annotated[
    str,
    Field(max_length=64, description="WeChat mini-program AppID: wx + 16 hex digits."),
    AfterValidator(_wx_appid),
]


class AppCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: AppId
    name: AppName
    timezone: Timezone = "Asia/Shanghai"
    wx_appid: WxAppId | None = None
    wx_secret: str | None = Field(None, min_length=8, max_length=128)


class NewApp(BaseModel):
    """Creating an app from the console: the WeChat credentials come later, on the app's settings page."""

    model_config = ConfigDict(extra="forbid")

    id: AppId
    name: AppName
    timezone: Timezone = "Asia/Shanghai"


class AppUpdate(BaseModel):
    """The app's settings an owner may change; a field left out stays as it is. The AppSecret is write-only."""

    model_config = ConfigDict(extra="forbid")

    name: AppName | None = None
    wx_appid: WxAppId | None = None
    wx_secret: Annotated[str, Field(min_length=8, max_length=128), AfterValidator(_secret_text)] | None = (
        Field(None, description="WeChat AppSecret; stored encrypted, never returned.")
    )


class AppRead(BaseModel):
    """What operators may see: never the WeChat secret, the HMAC secret or the id salt."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    timezone: str
    wx_appid: str | None
    wx_secret_set: bool = Field(False, description="Whether a WeChat AppSecret is stored (never the secret).")
    created_at: datetime

    @classmethod
    def of(cls, app: Any) -> AppRead:
        return cls(
            id=app.id,
            name=app.name,
            timezone=app.timezone,
            wx_appid=app.wx_appid,
            wx_secret_set=app.wx_secret is not None,
            created_at=app.created_at,
        )


class CurrentApp(AppRead):
    """GET /admin/app: the app, and the role of the key that asked (the console hides what it may not do)."""

    role: Role
    # What signed in: a machine's API key or a person's staff session (only a person has sessions to list).
    credential: Literal["api_key", "staff"] = "api_key"


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


class AppCreated(BaseModel):
    """A new app and its first owner key (the full key is in this response only)."""

    app: AppRead
    key: ApiKeyIssued


class ServerSecretOut(BaseModel):
    server_secret: str = Field(description="The HMAC-SHA256 key the merchant backend signs its calls with.")


class RotateServerSecret(BaseModel):
    model_config = ConfigDict(extra="forbid")

    confirm: str = Field(
        max_length=64, description="The app's id, typed again: rotating breaks every signer."
    )


class FirstRunStatus(BaseModel):
    available: bool
    reason: Literal["apps_exist", "not_local"] | None = Field(
        None, description="Why not: an app exists already, or the request is not from this machine."
    )


ChecklistId = Literal["app", "wx_appid", "wx_secret", "sdk_events", "signed_calls", "first_checkin"]


class ChecklistItem(BaseModel):
    id: ChecklistId
    done: bool


class SetupChecklist(BaseModel):
    items: list[ChecklistItem]
