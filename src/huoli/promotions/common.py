"""Helpers shared by the promotion mechanics: ids, idempotent inserts, events, JSON columns."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from huoli.db import Base
from huoli.events import service as events
from huoli.settings import Settings


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


def insert_ignore(db: Session, model: type[Base], values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING on any unique key; True when this call inserted the row.

    Unlike huoli.db.insert_or_ignore this names no conflict target, so a table with several unique keys
    (an idempotency key and a per-user slot) never raises: the caller then looks up which key it hit.
    """
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(model).values(**values).on_conflict_do_nothing()
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(model).values(**values).on_conflict_do_nothing()
    return db.execute(stmt.returning(model.__table__.c.id)).first() is not None


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
        app_id=app_id,
        name=name,
        ts=ts,
        idempotency_key=f"promo:{name}:{key}",
        user_id=user_id,
        properties=properties,
        settings=settings,
    )


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def loads(text: str) -> Any:
    return orjson.loads(text)
