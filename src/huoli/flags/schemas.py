"""API shapes for flags and preferences. Values are checked against the flag's type at the edge."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from huoli.schema_types import check_json_numbers

FLAG_KEY_PATTERN = r"^[a-z][a-z0-9_.-]{0,63}$"
RULE_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"

KNOWN_OPERATORS = frozenset(
    {
        "$and",
        "$or",
        "$nor",
        "$not",
        "$eq",
        "$ne",
        "$lt",
        "$lte",
        "$gt",
        "$gte",
        "$exists",
        "$in",
        "$nin",
        "$ini",
        "$nini",
        "$all",
        "$alli",
        "$elemMatch",
        "$size",
        "$regex",
        "$regexi",
        "$type",
        "$veq",
        "$vne",
        "$vgt",
        "$vgte",
        "$vlt",
        "$vlte",
        "$inGroup",
        "$notInGroup",
    }
)


class FlagType(StrEnum):
    bool = "bool"
    string = "string"
    number = "number"
    json = "json"


def type_error(flag_type: FlagType | str, value: Any) -> str | None:
    """Why `value` is not a valid value of the type, or None."""
    t = FlagType(flag_type)
    if t is FlagType.bool and not isinstance(value, bool):
        return "expected true or false"
    if t is FlagType.string and not isinstance(value, str):
        return "expected a string"
    if t is FlagType.number and (isinstance(value, bool) or not isinstance(value, int | float)):
        return "expected a number"
    return None


def condition_errors(condition: Any, path: str = "condition") -> list[dict[str, str]]:
    """Unknown operators are refused at write time (at evaluation they would silently never match)."""
    errors: list[dict[str, str]] = []
    if isinstance(condition, dict):
        for k, v in condition.items():
            if str(k).startswith("$") and k not in KNOWN_OPERATORS:
                errors.append({"field": f"{path}.{k}", "message": f"unknown operator {k}"})
            if k in ("$and", "$or", "$nor") and not isinstance(v, list):
                errors.append({"field": f"{path}.{k}", "message": "expected a list of conditions"})
            errors.extend(condition_errors(v, f"{path}.{k}"))
    elif isinstance(condition, list):
        for i, v in enumerate(condition):
            errors.extend(condition_errors(v, f"{path}[{i}]"))
    return errors


class FlagRule(BaseModel):
    """Serve `value` to users matching `condition`, limited to a `rollout` share (0–1) of them.

    Rules are evaluated in order; the first that matches (and includes the user) wins.
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=RULE_ID_PATTERN)
    description: str = Field("", max_length=500)
    condition: dict[str, Any] = Field(default_factory=dict, description="GrowthBook condition on attributes.")
    value: Any
    rollout: float = Field(1.0, ge=0.0, le=1.0, description="Share of matching users (by hashed user id).")

    @field_validator("condition", "value")
    @classmethod
    def _exact_integers(cls, value: Any) -> Any:
        # served as JSON to the SDK (JavaScript numbers) and compared with attributes: integers stay exact
        return check_json_numbers(value)


class FlagCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=FLAG_KEY_PATTERN)
    type: FlagType
    description: str = Field("", max_length=2000)
    default_value: Any
    rules: list[FlagRule] = Field(default_factory=list, max_length=100)
    client_visible: bool = True

    @field_validator("default_value")
    @classmethod
    def _exact_integers(cls, value: Any) -> Any:
        return check_json_numbers(value)


class FlagUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(None, max_length=2000)
    default_value: Any = None
    rules: list[FlagRule] | None = Field(None, max_length=100)
    killed: bool | None = None
    client_visible: bool | None = None

    @field_validator("default_value")
    @classmethod
    def _exact_integers(cls, value: Any) -> Any:
        return check_json_numbers(value)


class FlagRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    type: FlagType
    description: str
    default_value: Any
    rules: list[dict[str, Any]]
    experiment_rules: list[dict[str, Any]]
    killed: bool
    client_visible: bool
    version: int
    created_at: datetime
    updated_at: datetime


class EvaluateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str | None = Field(None, max_length=64)
    anonymous_id: str | None = Field(None, max_length=64)
    attributes: dict[str, Any] = Field(default_factory=dict)
    log_exposures: bool = False

    @field_validator("attributes")
    @classmethod
    def _exact_integers(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_json_numbers(value)


class FlagDetail(BaseModel):
    value: Any
    source: str = Field(description="defaultValue | force | experiment | killed | unknownFeature | …")
    rule_id: str = ""
    experiment: str | None = None
    variant: str | None = None


class EvaluationOut(BaseModel):
    flags: dict[str, Any]
    details: dict[str, FlagDetail]


class FontSize(StrEnum):
    small = "small"
    standard = "standard"
    large = "large"
    xlarge = "xlarge"


class Units(StrEnum):
    metric = "metric"
    imperial = "imperial"


class PreferencesIn(BaseModel):
    """Fields left out keep their stored value; null clears one."""

    model_config = ConfigDict(extra="forbid")

    font_size: FontSize | None = None
    units: Units | None = None
    theme: str | None = Field(
        None, pattern=r"^[a-z][a-z0-9_-]{0,31}$", description="system, light, dark or a skin key."
    )


class PreferencesOut(BaseModel):
    font_size: str | None = None
    units: str | None = None
    theme: str | None = None
    updated_at: datetime | None = None


class ClientFlagsOut(BaseModel):
    flags: dict[str, Any] = Field(description="Flag key → value for this user.")
    experiments: dict[str, str] = Field(description="Experiment key → variant key the user is in.")
    preferences: PreferencesOut | None
    ttl_s: int = Field(description="How long the SDK may serve these from its cache.")
    evaluated_at: datetime
