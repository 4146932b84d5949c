"""Privacy requests in the operational database: every domain's privacy hook run in one unit of work, and the
record of each request (privacy_requests). The flows that add the event store are in flows.py."""

from __future__ import annotations

from datetime import datetime
from types import ModuleType
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from huoli.audit.service import Actor
from huoli.domains import domain_modules
from huoli.errors import NotFound
from huoli.pagination import PageParams, paginate
from huoli.privacy.models import PrivacyRequest

KINDS = ("export", "erasure")


def hooks() -> list[tuple[str, ModuleType]]:
    """(domain, module) of every domain's privacy.py that implements the hook (privacy/hooks.py)."""
    return [
        (module.__name__.split(".")[1], module)
        for module in domain_modules("privacy")
        if callable(getattr(module, "export_user", None)) and callable(getattr(module, "erase_user", None))
    ]


def export_operational(
    db: Session, *, app_id: str, user_id: str
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """What each domain holds about the user: domain → table → rows."""
    return {name: hook.export_user(db, app_id=app_id, user_id=user_id) for name, hook in hooks()}


def settle(factory: sessionmaker[Session], *, app_id: str, user_id: str) -> None:
    """Let domains write what they queued off the request path (hooks.py), before the erasure starts."""
    for _, hook in hooks():
        if callable(settle_hook := getattr(hook, "settle", None)):
            settle_hook(factory, app_id=app_id, user_id=user_id)


def erase_operational(db: Session, *, app_id: str, user_id: str) -> dict[str, dict[str, int]]:
    """Every domain erases its part in the caller's unit of work: all of it commits, or none."""
    return {name: hook.erase_user(db, app_id=app_id, user_id=user_id) for name, hook in hooks()}


def export_counts(export: dict[str, dict[str, list[Any]]]) -> dict[str, dict[str, int]]:
    """Rows per domain and table of an export: what its record keeps instead of the data."""
    return {domain: {table: len(rows) for table, rows in tables.items()} for domain, tables in export.items()}


def start(
    db: Session, *, app_id: str, kind: str, user_id: str, actor: Actor, now: datetime, status: str = "running"
) -> PrivacyRequest:
    if kind not in KINDS:
        raise ValueError(f"unknown privacy request kind {kind!r}")
    row = PrivacyRequest(
        app_id=app_id,
        kind=kind,
        user_id=user_id,
        requested_by_kind=actor.kind,
        requested_by=actor.id,
        requested_by_role=actor.role,
        status=status,
        created_at=now,
    )
    db.add(row)
    db.flush()
    return row


def finish(
    db: Session,
    request_id: int,
    *,
    status: str,
    result: dict[str, Any] | None,
    now: datetime,
    error: str | None = None,
) -> PrivacyRequest:
    row = get(db, request_id)
    row.status, row.result, row.error = status, result, error
    row.completed_at = now if status != "running" else None
    db.flush()
    return row


def get(db: Session, request_id: int) -> PrivacyRequest:
    row = db.scalar(select(PrivacyRequest).where(PrivacyRequest.id == request_id))
    if row is None:
        raise NotFound(f"no privacy request {request_id}", code="privacy_request_not_found")
    return row


def requests(db: Session, *, limit: int = 50) -> list[PrivacyRequest]:
    """The latest `limit` requests, newest first (the CLI's listing)."""
    return requests_page(db, page=PageParams(limit=limit))[0]


def requests_page(
    db: Session, *, page: PageParams, user_id: str | None = None
) -> tuple[list[PrivacyRequest], str | None]:
    """One page, newest first, for the session's app."""
    q = select(PrivacyRequest)
    if user_id:
        q = q.where(PrivacyRequest.user_id == user_id)
    return paginate(db, q, page, order=[PrivacyRequest.id.desc()])
