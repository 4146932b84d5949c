"""GET /admin/audit: the app's audit trail, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel

from huoli.apps.schemas import Role
from huoli.audit import service
from huoli.deps import AppDbDep, PageDep, role_at_least
from huoli.pagination import Page

router = APIRouter(tags=["audit"])


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor_kind: str
    actor_id: str
    actor_role: str | None
    action: str
    target: dict[str, Any]
    request: Any
    changes: list[dict[str, Any]]
    ip: str | None


@router.get("/admin/audit", response_model=Page[AuditEntryOut], dependencies=[role_at_least(Role.operator)])
def audit_trail(
    db: AppDbDep,
    page: PageDep,
    actor_id: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=200, description="part of the action, e.g. /keys")] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> Page[AuditEntryOut]:
    """Who did what, when, and the rows it changed (before/after; secrets redacted), newest first. Operators
    and owners."""
    rows, cursor = service.entries(
        db, page=page, actor_id=actor_id, action_contains=action, since=since, until=until
    )
    return Page(
        items=[AuditEntryOut.model_validate(r, from_attributes=True) for r in rows], next_cursor=cursor
    )
