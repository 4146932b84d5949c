"""API shapes of privacy requests and consent records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationInfo, field_validator

from huoli.privacy.consents import PURPOSES, Decision, PurposeName

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


# --- consent records ------------------------------------------------------------------------------------


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: PurposeName = Field(
        description="One of the catalogue's purposes (GET /v1/privacy/consents lists them)."
    )
    granted: StrictBool = Field(description="true: agreed; false: declined or withdrawn.")
    policy_version: str = Field(
        min_length=1,
        max_length=32,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="The version of the privacy guide or notice the user saw (e.g. 2026-12-01).",
    )


class ConsentsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    consents: list[ConsentIn] = Field(min_length=1, max_length=len(PURPOSES))

    @field_validator("consents")
    @classmethod
    def _once_each(cls, value: list[ConsentIn]) -> list[ConsentIn]:
        purposes = [c.purpose for c in value]
        if len(set(purposes)) != len(purposes):
            raise ValueError("each purpose at most once per request")
        return value

    def decisions(self) -> list[Decision]:
        return [Decision(c.purpose, c.granted, c.policy_version) for c in self.consents]


class UserConsentsIn(ConsentsIn):
    """A decision the merchant's backend (signed call) or an operator (e.g. a withdrawal by phone) records."""

    user_id: str = UserId


class ConsentStateOut(BaseModel):
    purpose: str
    granted: bool | None = Field(description="The latest decision; null if the user never made one.")
    allowed: bool = Field(description="The decision, or the purpose's default (opt-out purposes: true).")
    basis: str = Field(description="authorisation | opt_out | opt_in")
    policy_version: str | None
    source: str | None
    recorded_at: datetime | None


class ConsentsOut(BaseModel):
    user_id: str
    consents: list[ConsentStateOut]


class ConsentsRecordedOut(ConsentsOut):
    recorded: int = Field(description="Rows appended: 0 when every decision was already in force.")


class ConsentRecordOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    purpose: str
    granted: bool
    policy_version: str
    source: str
    recorded_at: datetime
    ip: str | None = Field(description="Operator and owner keys only.")
    user_agent: str | None = Field(description="Operator and owner keys only.")
    recorded_by: str | None


class ConsentHistoryOut(ConsentsOut):
    history: list[ConsentRecordOut] = Field(description="Every decision, newest first.")


class PurposeCountOut(BaseModel):
    purpose: str
    basis: str
    granted: int = Field(description="Users whose current decision is yes.")
    withdrawn: int = Field(description="Users whose current decision is no (declined or withdrew).")
    granted_by_version: dict[str, int] = Field(description="The yes users per policy version they agreed to.")
