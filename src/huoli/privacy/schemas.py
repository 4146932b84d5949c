"""API shapes of privacy requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

UserId = Field(min_length=1, max_length=64, description="The user id huoli knows the user by (on events).")


class ExportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str = UserId


class ErasureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str = UserId
    confirm: str = Field(max_length=64, description="The same user id again: an erasure cannot be undone.")

    @field_validator("confirm")
    @classmethod
    def _same(cls, value: str, info: ValidationInfo) -> str:
        # a field validator (not the model's) so the console shows the message next to the confirm input
        if info.data.get("user_id") is not None and value != info.data["user_id"]:
            raise ValueError("type the user id again to confirm the erasure")
        return value


class PrivacyRequestOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    user_id: str
    status: str = Field(description="running | completed | failed")
    requested_by_kind: str
    requested_by: str
    requested_by_role: str | None
    created_at: datetime
    completed_at: datetime | None
    result: dict[str, Any] | None = Field(description="Rows per store, domain and table; never the data.")
    error: str | None
