"""Privacy hook of the audit domain: entries of operator actions about the user (a points adjustment, a
profile edit, a session revocation…), found by the user id in their target, request or row changes.

Decision: erasure keeps each entry and redacts the user from it. The trail must keep saying which operator did
what and when (accountability for the operators' own processing, PIPL art. 54/55), but not to whom: every
occurrence of the user id becomes "[erased]", and a row change about the user keeps its table, operation and
column names with every value "[erased]". The operator's key id and IP are not part of an export (they are
the operator's data, not the user's).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import String, cast, or_, select
from sqlalchemy.orm import Session

from huoli.audit.models import AuditEntry
from huoli.privacy.hooks import ANONYMISED, check_scope, plain

ERASED = "[erased]"


def _mentions(user_id: str) -> Any:
    # JSON text may hold the id as is or \u-escaped (SQLite's serializer escapes non-ASCII).
    forms = {user_id, json.dumps(user_id)[1:-1]}
    columns = (AuditEntry.target, AuditEntry.request, AuditEntry.changes)
    return or_(*(cast(col, String).contains(f, autoescape=True) for col in columns for f in forms))


def _has(value: Any, user_id: str) -> bool:
    if isinstance(value, str):
        return user_id in value
    if isinstance(value, dict):
        return any(_has(k, user_id) or _has(v, user_id) for k, v in value.items())
    if isinstance(value, list):
        return any(_has(v, user_id) for v in value)
    return False


def _redact(value: Any, user_id: str) -> Any:
    if isinstance(value, str):
        return value.replace(user_id, ERASED)
    if isinstance(value, dict):
        return {_redact(k, user_id): _redact(v, user_id) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, user_id) for v in value]
    return value


def _redact_change(change: dict[str, Any], user_id: str) -> dict[str, Any]:
    if not _has(change, user_id):
        return change
    # A row about the user: its values (a birthday, a balance, a note) are the user's data as much as the id.
    values = {side: {col: ERASED for col in (change.get(side) or {})} or None for side in ("before", "after")}
    return {**change, "key": _redact(change.get("key"), user_id), **values}


def _entries(db: Session, user_id: str) -> list[AuditEntry]:
    found = db.scalars(select(AuditEntry).where(_mentions(user_id)).order_by(AuditEntry.id))
    return [e for e in found if _has([e.target, e.request, e.changes], user_id)]


def export_user(db: Session, *, app_id: str, user_id: str) -> dict[str, list[dict[str, Any]]]:
    check_scope(db, app_id)
    return {
        "audit_entries": [
            {
                "id": e.id,
                "at": plain(e.at),
                "action": e.action,
                "target": e.target,
                "request": e.request,
                "changes": e.changes,
            }
            for e in _entries(db, user_id)
        ]
    }


def erase_user(db: Session, *, app_id: str, user_id: str) -> dict[str, int]:
    check_scope(db, app_id)
    entries = _entries(db, user_id)
    for e in entries:
        e.target = _redact(e.target, user_id)
        e.request = _redact(e.request, user_id)
        e.changes = [_redact_change(c, user_id) for c in e.changes]
    db.flush()
    return {"audit_entries" + ANONYMISED: len(entries)}
