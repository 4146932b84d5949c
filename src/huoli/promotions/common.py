"""Helpers shared by the promotion mechanics: ids, idempotent inserts, events, JSON columns."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Table
from sqlalchemy.orm import Session

from huoli.db import Base
from huoli.events import service as events
from huoli.settings import Settings
from huoli.tenancy import CrossAppWrite


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


def insert_ignore(db: Session, model: type[Base], values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING on any unique key; True when this call inserted the row.

    Unlike huoli.db.insert_or_ignore this names no conflict target, so a table with several unique keys
    (an idempotency key and a per-user slot) never raises: the caller then looks up which key it hit.
    It runs as a Core statement on the session's connection (the ORM bulk path costs ~2x the CPU on the
    flash-sale hot path), so it checks the app scope itself, like huoli.db.insert_or_ignore does.
    """
    scope = db.info.get("app_id")
    if scope is not None and values.get("app_id") != scope:
        raise CrossAppWrite(
            f"{model.__name__} of app {values.get('app_id')!r} in a session scoped to {scope!r}"
        )
    if db.new or db.dirty or db.deleted:
        db.flush()  # Core statements don't autoflush; keep pending ORM rows ahead of this insert
    table: Table = model.__table__  # type: ignore[assignment]
    conn = db.connection()
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(table).values(**values).on_conflict_do_nothing()
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table).values(**values).on_conflict_do_nothing()
    return conn.execute(stmt.returning(table.c.id)).first() is not None


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
