"""Admin API for the caller's own app and its keys."""

from __future__ import annotations

from fastapi import APIRouter

from huoli.apps import service
from huoli.apps.schemas import ApiKeyCreate, ApiKeyIssued, ApiKeyRead, AppRead, Role
from huoli.deps import AppDbDep, OperatorDep, role_at_least
from huoli.pagination import Page, PageDep

router = APIRouter(prefix="/admin", tags=["admin"])


@router.get("/app", response_model=AppRead, dependencies=[role_at_least(Role.analyst)])
def current_app(db: AppDbDep, op: OperatorDep) -> AppRead:
    """The app the key belongs to."""
    return AppRead.model_validate(service.get(db=db, app_id=op.app_id))


@router.get("/keys", response_model=Page[ApiKeyRead], dependencies=[role_at_least(Role.owner)])
def list_keys(db: AppDbDep, page: PageDep) -> Page[ApiKeyRead]:
    """The app's keys, oldest first (revoked ones too, marked)."""
    rows, cursor = service.keys_page(db=db, page=page)
    return Page(items=[ApiKeyRead.model_validate(k) for k in rows], next_cursor=cursor)


@router.post("/keys", response_model=ApiKeyIssued, status_code=201, dependencies=[role_at_least(Role.owner)])
def create_key(body: ApiKeyCreate, db: AppDbDep, op: OperatorDep) -> ApiKeyIssued:
    """Issue a key for this app. The full key is in this response only."""
    row, key = service.issue_key(db=db, app_id=op.app_id, key_in=body)
    return ApiKeyIssued(**ApiKeyRead.model_validate(row).model_dump(), key=key)


@router.delete("/keys/{key_id}", response_model=ApiKeyRead, dependencies=[role_at_least(Role.owner)])
def revoke_key(key_id: str, db: AppDbDep) -> ApiKeyRead:
    return ApiKeyRead.model_validate(service.revoke_key(db=db, key_id=key_id))
