"""Helpers shared by the promotion mechanics: ids, idempotent inserts, events, JSON columns."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from huoli.events import service as events
from huoli.settings import Settings


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


def step_event(
    settings: Settings,
    *,
    app_id: str,
    name: str,
    ts: datetime,
    key: str,
    user_id: str | None,
    properties: Mapping[str, Any],
) -> events.ServerEvent:
    """A promotion step's event; its key names the step, so a retried step logs once."""
    return {
        "app_id": app_id,
        "name": name,
        "ts": ts,
        "idempotency_key": f"promo:{name}:{key}",
        "user_id": user_id,
        "properties": properties,
        "settings": settings,
    }


def emit(
    db: Session,
    settings: Settings,
    *,
    app_id: str,
    name: str,
    ts: datetime,
    key: str,
    user_id: str | None,
    properties: Mapping[str, Any],
) -> None:
    events.emit(
        db=db,
        **step_event(
            settings, app_id=app_id, name=name, ts=ts, key=key, user_id=user_id, properties=properties
        ),
    )


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def loads(text: str) -> Any:
    return orjson.loads(text)
