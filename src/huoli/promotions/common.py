"""Helpers shared by the promotion mechanics: ids, idempotent inserts, events, JSON columns."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypedDict, TypeVar, Unpack

import orjson
from sqlalchemy.orm import Session

from huoli.events import service as events
from huoli.settings import Settings


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


M = TypeVar("M")


def get_named(db: Session, model: type[M], name: str, *, app_id: str | None = None) -> M | None:
    """A promotion an operator named (a coupon template, a 秒杀 session…): keyed by (app, name), so two apps
    may use the same name and neither can see the other's. The app is the session's scope, or `app_id` for
    jobs that work across apps (from the row that names the promotion)."""
    app = db.info.get("app_id") or app_id
    if app is None:
        raise RuntimeError(f"{model.__name__} needs an app: an app-scoped unit of work or app_id")
    return db.get(model, (app, name))


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
