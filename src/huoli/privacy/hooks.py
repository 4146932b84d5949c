"""The contract of each domain's ``privacy.py``, and the helpers those modules share.

A domain that holds personal data has ``huoli/<domain>/privacy.py`` (found by ``domains.domain_modules``) with

- ``export_user(db, *, app_id, user_id) -> dict[str, list[dict]]``: every row the domain holds about the user,
  per table, JSON-ready;
- ``erase_user(db, *, app_id, user_id) -> dict[str, int]``: what it did, per table. A plain table name counts
  rows deleted; ``"<table>:anonymised"`` rows kept with the user's id replaced by a random token (or their
  personal values redacted); ``"<table>:kept"`` rows kept as they are (the module says why).

Both run inside the privacy flow's app-scoped unit of work and touch only their own domain's tables. A domain
that queues writes off the request path may add ``settle(factory, *, app_id, user_id)``: the erasure calls it
first, outside any transaction, to write what is queued so nothing of the user lands after it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import ColumnElement, delete, inspect, select, update
from sqlalchemy.orm import Session

ANONYMISED = ":anonymised"
KEPT = ":kept"
ERASED_PREFIX = "erased_"
# Bulk statements by id lists stay well under every driver's parameter limit (SQLite: 32766).
CHUNK = 500


class PrivacyHook(Protocol):
    """What domain_modules("privacy") yields: a module with these two functions."""

    def export_user(self, db: Session, *, app_id: str, user_id: str) -> dict[str, list[dict[str, Any]]]: ...

    def erase_user(self, db: Session, *, app_id: str, user_id: str) -> dict[str, int]: ...


def check_scope(db: Session, app_id: str) -> None:
    """Hooks rely on the session's tenancy scope for their WHERE app_id; refuse an unscoped session."""
    if db.info.get("app_id") != app_id:
        raise RuntimeError(f"privacy hooks need a session scoped to app {app_id!r}")


def erased_id() -> str:
    """A fresh random stand-in for a user id: unlinkable to the person, one per erasure and domain."""
    return ERASED_PREFIX + secrets.token_hex(8)


def plain(value: Any) -> Any:
    """A column value as JSON can hold it."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def as_dict(obj: Any, *, skip: Iterable[str] = ()) -> dict[str, Any]:
    """An ORM row as a JSON-ready dict of its columns (app_id left out: the export names the app once)."""
    leave = {"app_id", *skip}
    return {
        attr.key: plain(getattr(obj, attr.key))
        for attr in inspect(obj).mapper.column_attrs
        if attr.key not in leave
    }


def rows(
    db: Session, model: Any, *where: ColumnElement[bool], skip: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """The model's rows matching `where` (in the session's app), in primary-key order, as dicts."""
    keys = inspect(model).primary_key
    return [as_dict(r, skip=skip) for r in db.scalars(select(model).where(*where).order_by(*keys))]


def delete_rows(db: Session, model: Any, *where: ColumnElement[bool]) -> int:
    """Delete the model's rows matching `where` (tenancy adds the app filter); returns how many."""
    result = db.execute(delete(model).where(*where).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def update_rows(db: Session, model: Any, values: dict[str, Any], *where: ColumnElement[bool]) -> int:
    """Set `values` on the model's rows matching `where`; returns how many."""
    result = db.execute(
        update(model).where(*where).values(**values).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def chunks(items: list[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def nonzero(counts: dict[str, int]) -> dict[str, int]:
    """Counts without the zero entries of the `:kept` / `:anonymised` kinds (plain tables always show)."""
    return {k: v for k, v in counts.items() if v or ":" not in k}
