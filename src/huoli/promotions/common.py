"""Helpers shared by the promotion mechanics: ids, idempotent inserts, events, JSON columns."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypedDict, Unpack

import orjson
from sqlalchemy.orm import Session

from huoli.events import service as events
from huoli.settings import Settings


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


class Step(TypedDict):
    """What a promotion step logs: `key` names the step, so a retried step logs once."""

    app_id: str
    name: str
    ts: datetime
    key: str
    user_id: str | None
    properties: Mapping[str, Any]


def step_event(settings: Settings, **step: Unpack[Step]) -> events.ServerEvent:
    return {
        "app_id": step["app_id"],
        "name": step["name"],
        "ts": step["ts"],
        "idempotency_key": f"promo:{step['name']}:{step['key']}",
        "user_id": step["user_id"],
        "properties": step["properties"],
        "settings": settings,
    }


def emit(db: Session, settings: Settings, **step: Unpack[Step]) -> None:
    events.emit(db=db, **step_event(settings, **step))


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def loads(text: str) -> Any:
    return orjson.loads(text)
