"""Recording and reading the audit trail.

An operator request's unit of work (deps.app_db) tracks the ORM rows it changes and, when the route
succeeds, records one entry in the same transaction: the entry exists exactly when the change does.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from huoli.audit.models import AuditEntry
from huoli.pagination import PageParams, paginate

# Field names whose values never enter the trail (request bodies and row snapshots alike).
SECRET_NAMES = ("secret", "password", "token", "api_v3_key", "private_key", "hash")
REDACTED = "***"
MAX_REQUEST_BYTES = 16 * 1024


@dataclass(frozen=True)
class Actor:
    kind: str  # api_key | staff | cli
    id: str
    role: str | None = None

    @classmethod
    def cli(cls) -> Actor:
        try:
            who = getpass.getuser()
        except Exception:  # no login name in some containers
            who = "unknown"
        return cls(kind="cli", id=who[:64], role="owner")


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: REDACTED if any(s in str(k).lower() for s in SECRET_NAMES) else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    """A column value as JSON can hold it."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, dict | list | str | int | float | bool) or value is None:
        return value
    return str(value)


def track(db: Session) -> None:
    """Collect the rows this unit of work inserts, updates and deletes, with their before/after values."""
    db.info["audit_changes"] = []
    event.listen(db, "before_flush", _collect)


def _collect(db: Session, *_: Any) -> None:
    changes: list[dict[str, Any]] = db.info.setdefault("audit_changes", [])
    for kind, objs in (("insert", db.new), ("update", db.dirty), ("delete", db.deleted)):
        for obj in objs:
            if isinstance(obj, AuditEntry):
                continue
            state = inspect(obj)
            before: dict[str, Any] = {}
            after: dict[str, Any] = {}
            for attr in state.mapper.column_attrs:
                name = attr.key
                hist = state.attrs[name].history
                if kind == "insert":
                    after[name] = _plain(state.attrs[name].value)
                elif kind == "delete":
                    before[name] = _plain(
                        hist.unchanged[0] if hist.unchanged else (hist.deleted or [None])[0]
                    )
                elif hist.has_changes():
                    before[name] = _plain(hist.deleted[0]) if hist.deleted else None
                    after[name] = _plain(hist.added[0]) if hist.added else None
            if kind == "update" and not after:
                continue
            key = [_plain(v) for v in state.mapper.primary_key_from_instance(obj)]
            changes.append(
                {
                    "table": state.mapper.local_table.name,
                    "op": kind,
                    "key": key,
                    "before": redact(before) or None,
                    "after": redact(after) or None,
                }
            )


def request_json(body: bytes) -> Any:
    """The request body as the trail keeps it: parsed JSON with secrets redacted, or a note of its size."""
    if not body:
        return None
    if len(body) > MAX_REQUEST_BYTES:
        return {"_truncated": f"{len(body)} bytes"}
    try:
        return redact(orjson.loads(body))
    except orjson.JSONDecodeError:
        return {"_unparsed": f"{len(body)} bytes"}


def record(
    db: Session,
    *,
    app_id: str,
    actor: Actor,
    action: str,
    at: datetime,
    target: dict[str, Any] | None = None,
    request: Any = None,
    ip: str | None = None,
) -> AuditEntry:
    """One entry in the caller's unit of work (so it commits, or not, with the change it describes)."""
    if db.new or db.dirty or db.deleted:
        db.flush()  # the last changes reach the tracker before the entry takes them
    entry = AuditEntry(
        app_id=app_id,
        at=at,
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_role=actor.role,
        action=action[:200],
        target={k: _plain(v) for k, v in (target or {}).items()},
        request=request,
        changes=list(db.info.get("audit_changes", [])),
        ip=ip,
    )
    db.add(entry)
    return entry


def entries(
    db: Session,
    *,
    page: PageParams,
    actor_id: str | None = None,
    action_contains: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[list[AuditEntry], str | None]:
    """One page, newest first, for the session's app."""
    q = select(AuditEntry)
    if actor_id:
        q = q.where(AuditEntry.actor_id == actor_id)
    if action_contains:
        q = q.where(AuditEntry.action.contains(action_contains, autoescape=True))
    if since is not None:
        q = q.where(AuditEntry.at >= since)
    if until is not None:
        q = q.where(AuditEntry.at < until)
    return paginate(db, q, page, order=[AuditEntry.id.desc()])
