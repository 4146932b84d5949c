"""The doctor's per-app thresholds: a pydantic document with defaults in code, stored as JSON per app."""

from __future__ import annotations

from datetime import datetime

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session

from huoli.analytics.frame import EventSelector
from huoli.diagnosis.models import DiagnosisSettingsRow
from huoli.schema_types import INT32_MAX


def _default_core_path() -> list[EventSelector]:
    return [
        EventSelector(event="view_item"),
        EventSelector(event="add_to_cart"),
        EventSelector(event="order_paid"),
    ]


class Thresholds(BaseModel):
    """Every knob of the doctor (docs/diagnosis.md). Unknown keys are rejected so typos don't pass silently."""

    model_config = ConfigDict(extra="forbid")

    # Windows: the current window is `current_days` local days ending `end`; the baseline is the
    # previous windows of the same length right before it (`baseline_windows`).
    current_days: int = Field(default=7, ge=1, le=31)
    baseline_windows: int = Field(default=4, ge=2, le=12)
    # Noise control: Benjamini–Hochberg false-discovery rate over all tests, and the smallest relative
    # change worth an alarm.
    fdr: float = Field(default=0.01, gt=0, lt=0.5)
    min_effect: float = Field(default=0.15, gt=0, lt=1)
    min_sample: int = Field(default=30, ge=1, le=INT32_MAX)  # fewer users/sessions: the check is skipped
    # Severity: relative shortfall at or above these is high / medium (else low).
    severity_high: float = Field(default=0.5, gt=0, le=10)
    severity_medium: float = Field(default=0.25, gt=0, le=10)
    # Churn outrunning growth.
    pulse_min: float = Field(default=1.0, gt=0, le=10)
    core_min_days: int = Field(default=4, ge=2, le=31)  # "most engaged": active on ≥ this many days
    # Interaction near zero.
    interaction_min_rate: float = Field(default=0.01, gt=0, lt=1)
    share_reflow_min: float = Field(default=0.5, gt=0, le=100)
    # Conversion stalling.
    core_path: list[EventSelector] = Field(default_factory=_default_core_path, min_length=2, max_length=10)
    max_step_loss: float = Field(default=0.5, gt=0, lt=1)
    promotion_events: list[str] | None = None  # None: analytics' default promotion events
    # Root causes.
    stale_days: int = Field(default=14, ge=1, le=180)
    slow_load_ms: int = Field(default=3000, ge=100, le=60_000)
    slow_share_min: float = Field(default=0.1, gt=0, le=1)
    core_event: str = Field(default="order_paid", min_length=1, max_length=64)
    max_steps_to_core: float = Field(default=6.0, gt=0, le=100)
    message_events: list[str] = Field(default_factory=lambda: ["message_sent"], min_length=1)
    feedback_event: str = Field(default="feedback_submitted", min_length=1, max_length=64)
    feedback_reply_event: str = Field(default="feedback_replied", min_length=1, max_length=64)
    feedback_min_reply_rate: float = Field(default=0.5, gt=0, le=1)
    next_day_retention_min: float = Field(default=0.4, gt=0, lt=1)

    @model_validator(mode="after")
    def _order(self) -> Thresholds:
        if self.severity_medium > self.severity_high:
            raise ValueError("severity_medium must not exceed severity_high")
        return self


def load(db: Session, app_id: str) -> Thresholds:
    row = db.get(DiagnosisSettingsRow, app_id)
    return Thresholds() if row is None else Thresholds.model_validate(orjson.loads(row.thresholds))


def save(db: Session, app_id: str, thresholds: Thresholds, now: datetime) -> Thresholds:
    row = db.get(DiagnosisSettingsRow, app_id)
    text = thresholds.model_dump_json()
    if row is None:
        db.add(DiagnosisSettingsRow(app_id=app_id, thresholds=text, updated_at=now))
    else:
        row.thresholds, row.updated_at = text, now
    db.flush()
    return thresholds
