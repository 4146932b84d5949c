"""API shapes for experiments, metrics, holdouts and results.

Shape checks live here (pydantic); rules that need the database or the event store (unknown events,
overlapping namespaces, traffic) live in service.py and report the same {field, message} details.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from huoli.schema_types import INT32_MAX, check_json_numbers

KEY_PATTERN = r"^[a-z][a-z0-9_.-]{0,63}$"
EVENT_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
PROPERTY_PATTERN = r"^[a-z_][a-z0-9_]{0,63}$"


class MetricKind(StrEnum):
    conversion = "conversion"  # did the user do `event` within window_days of exposure (0/1)
    mean = "mean"  # per-user sum of `property` of `event` (or its count) within window_days
    ratio = "ratio"  # Σ numerator / Σ denominator over users (delta method), e.g. revenue per order
    retention = "retention"  # was the user active (any event, or `event`) on local day N after exposure


class Direction(StrEnum):
    increase = "increase"
    decrease = "decrease"


class Method(StrEnum):
    frequentist = "frequentist"
    sequential = "sequential"
    bayesian = "bayesian"


class Correction(StrEnum):
    none = "none"
    holm = "holm"
    bh = "bh"


class MetricDef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=KEY_PATTERN)
    kind: MetricKind
    event: str | None = Field(None, pattern=EVENT_PATTERN, description="Required except for retention.")
    property: str | None = Field(
        None, pattern=PROPERTY_PATTERN, description="mean/ratio numerator: summed property (default: count)."
    )
    denominator_event: str | None = Field(None, pattern=EVENT_PATTERN)
    denominator_property: str | None = Field(None, pattern=PROPERTY_PATTERN)
    window_days: int | None = Field(
        7, ge=1, le=90, description="Days after the user's first exposure that count; null: up to as_of."
    )
    retention_day: int = Field(1, ge=1, le=30)
    direction: Direction = Direction.increase
    cuped: bool = Field(False, description="mean metrics: adjust by the same metric before exposure.")

    @model_validator(mode="after")
    def _complete(self) -> MetricDef:
        if self.kind is not MetricKind.retention and self.event is None:
            raise ValueError(f"event is required for a {self.kind.value} metric")
        if self.kind is MetricKind.ratio and self.denominator_event is None:
            raise ValueError("denominator_event is required for a ratio metric")
        if self.cuped and self.kind is not MetricKind.mean:
            raise ValueError("cuped applies to mean metrics only")
        return self


class Variant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=KEY_PATTERN)
    name: str = Field("", max_length=200)
    value: Any = Field(description="The flag value this variant serves (checked against the flag's type).")
    weight: float = Field(ge=0.0, le=1.0)

    @field_validator("value")
    @classmethod
    def _exact_integers(cls, value: Any) -> Any:
        # served as a flag value to the SDK (JavaScript numbers): integers stay exact
        return check_json_numbers(value)


class Metrics(BaseModel):
    model_config = ConfigDict(extra="forbid")

    primary: list[MetricDef] = Field(min_length=1, max_length=3)
    secondary: list[MetricDef] = Field(default_factory=list, max_length=20)
    guardrails: list[MetricDef] = Field(default_factory=list, max_length=10)


class StatsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Method = Method.sequential
    alpha: float = Field(0.05, gt=0.0, lt=0.5)
    sequential_tuning: int = Field(
        5000,
        ge=100,
        le=INT32_MAX,
        description="N*: total users at which a decision is expected (sequential).",
    )
    correction: Correction = Correction.holm
    cuped_days: int = Field(14, ge=1, le=60, description="Pre-exposure window for CUPED.")
    min_users_per_variant: int = Field(
        100, ge=1, le=INT32_MAX, description="Below this, no verdict but 'keep running'."
    )


class Namespace(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=KEY_PATTERN)
    start: float = Field(ge=0.0, le=1.0)
    end: float = Field(ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> Namespace:
        if self.end <= self.start:
            raise ValueError("namespace end must be greater than start")
        return self


class ExperimentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=KEY_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    hypothesis: str = Field("", max_length=4000)
    flag: str = Field(pattern=KEY_PATTERN, description="The flag whose value the variants set.")
    variants: list[Variant] = Field(min_length=2, max_length=10)
    coverage: float = Field(1.0, gt=0.0, le=1.0, description="Share of eligible users in the experiment.")
    namespace: Namespace | None = None
    holdout: str | None = Field(None, pattern=KEY_PATTERN, description="Default: the global holdout if any.")
    targeting: dict[str, Any] = Field(default_factory=dict, description="GrowthBook condition on attributes.")
    sticky: bool = Field(
        False,
        description="Store each user's variant (GrowthBook sticky bucketing) so it survives later changes to "
        "coverage or targeting; off by default because assignment is already deterministic.",
    )
    metrics: Metrics
    stats: StatsConfig = Field(default_factory=StatsConfig)
    planned_days: int = Field(14, ge=1, le=180, description="For the traffic check.")
    expected_daily_users: int | None = Field(
        None, ge=0, le=INT32_MAX, description="Overrides the traffic estimate from the event store."
    )

    @field_validator("targeting")
    @classmethod
    def _exact_integers(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_json_numbers(value)


class ExperimentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    name: str
    hypothesis: str
    flag_key: str
    status: str
    variants: list[dict[str, Any]]
    coverage: float
    namespace: str | None
    namespace_start: float
    namespace_end: float
    holdout_key: str | None
    targeting: dict[str, Any]
    sticky: bool
    metrics: list[dict[str, Any]]
    stats: dict[str, Any]
    started_at: datetime | None
    stopped_at: datetime | None
    shipped_variant: str | None
    created_at: datetime
    updated_at: datetime


class StartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    started_at: datetime | None = Field(
        None,
        description="When the experiment really started (history imported or backfilled): not in the future; "
        "without an offset, the app's timezone. Default: now.",
    )


class ShipIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variant: str = Field(pattern=KEY_PATTERN)


class HoldoutScope(StrEnum):
    global_ = "global"
    campaign = "campaign"


class HoldoutCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=KEY_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    scope: HoldoutScope
    percent: float = Field(gt=0.0, le=0.5, description="Share of users held out.")


class HoldoutRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    name: str
    scope: str
    percent: float
    created_at: datetime


def metric_list(metrics: Sequence[dict[str, Any]]) -> list[tuple[str, MetricDef]]:
    """(role, metric) pairs in display order, from the stored JSON list."""
    return [(m["role"], MetricDef(**{k: v for k, v in m.items() if k != "role"})) for m in metrics]
