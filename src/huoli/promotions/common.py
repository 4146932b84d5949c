"""Helpers shared by the promotion mechanics: ids, named promotions, event keys, JSON columns."""

from __future__ import annotations

import secrets
from typing import Any, TypeVar

import orjson
from sqlalchemy.orm import Session


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


def event_key(name: str, step: str) -> str:
    """A promotion event's idempotency key: `step` names the step, so a retried step logs once."""
    return f"promo:{name}:{step}"


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def loads(text: str) -> Any:
    return orjson.loads(text)
