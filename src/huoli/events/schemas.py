"""API shapes of the event endpoints (for OpenAPI; the hot path validates by hand in ingest.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class EventIn(BaseModel):
    event_id: str = Field(
        description="Client-generated UUID; the dedup key (retries must resend it unchanged)."
    )
    name: str = Field(
        description="Catalog name (docs/events.md) or a custom name matching ^[a-z][a-z0-9_]{0,63}$"
    )
    ts: int | str = Field(
        description="Epoch milliseconds, or ISO 8601 with an offset. Within −7 d / +10 min of now."
    )
    anonymous_id: str | None = Field(
        None, description="Device id from the SDK; required without a session token."
    )
    session_id: str | None = None
    page: str | None = Field(None, description="Page route, e.g. pages/item/detail (query is dropped).")
    scene: int | None = Field(None, description="WeChat scene value 1000–9999.")
    channel: str | None = None
    properties: dict[str, Any] | None = Field(None, description="Catalog properties and custom data.")


class ServerEventIn(EventIn):
    user_id: str | None = Field(None, description="huoli user id; or give openid.")
    openid: str | None = Field(None, description="WeChat openid; mapped to the user id server-side.")


class EventBatchIn(BaseModel):
    events: list[EventIn] = Field(description="1–500 events.")
    sent_at: int | None = Field(None, description="Client clock at send time, epoch ms (informational).")


class ServerEventBatchIn(BaseModel):
    events: list[ServerEventIn]
    sent_at: int | None = None


class FieldError(BaseModel):
    field: str
    message: str


class RejectedEvent(BaseModel):
    index: int
    event_id: str | None
    errors: list[FieldError]


class IngestOut(BaseModel):
    accepted: int = Field(description="Events newly stored.")
    duplicates: int = Field(description="Events already stored earlier (same event_id); not counted twice.")
    rejected: list[RejectedEvent] = Field(description="Invalid events, with reasons; the others were kept.")


class EventSummaryRow(BaseModel):
    name: str
    events: int
    users: int
    first_ts: datetime
    last_ts: datetime


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON schema with its $defs inlined, for FastAPI's openapi_extra request bodies."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    result: dict[str, Any] = resolve(schema)
    return result
