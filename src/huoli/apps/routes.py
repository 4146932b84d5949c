"""Admin API for the caller's own app, its keys, new apps, and the first run of a fresh local server."""

from __future__ import annotations

from fastapi import APIRouter, Request

from huoli.apps import flows, service
from huoli.apps.schemas import (
    ApiKeyCreate,
    ApiKeyIssued,
    ApiKeyRead,
    AppCreated,
    AppRead,
    AppUpdate,
    CurrentApp,
    FirstRunStatus,
    NewApp,
    Role,
    RotateServerSecret,
    ServerSecretOut,
    SetupChecklist,
)
from huoli.deps import AppDbDep, OperatorDep, OperatorWorkDep, PageDep, RuntimeDep, role_at_least
from huoli.pagination import Page

router = APIRouter(prefix="/admin", tags=["admin"])
OWNER = [role_at_least(Role.owner)]


@router.get("/app", response_model=CurrentApp, dependencies=[role_at_least(Role.analyst)])
def current_app(db: AppDbDep, op: OperatorDep) -> CurrentApp:
    """The app the key belongs to (whether an AppSecret is set, never the secret) and the key's role."""
    app = AppRead.of(service.get(db=db, app_id=op.app_id)).model_dump()
    return CurrentApp(**app, role=op.role, credential=op.kind)


@router.patch("/app", response_model=AppRead, dependencies=OWNER)
def update_app(body: AppUpdate, work: OperatorWorkDep, runtime: RuntimeDep) -> AppRead:
    """Rename the app, set its WeChat AppID (wx + 16 hex) or replace its AppSecret (write-only)."""
    app = service.update(db=work.db, app_id=work.app_id, changes=body)
    runtime.app_cache.forget(work.app_id)  # this process logs users in with the new credentials at once
    return AppRead.of(app)


@router.post("/app/server-secret/reveal", response_model=ServerSecretOut, dependencies=OWNER)
def reveal_server_secret(work: OperatorWorkDep) -> ServerSecretOut:
    """The merchant backend's signing secret. A POST so the audit trail records who looked at it."""
    return ServerSecretOut(server_secret=service.server_secret(db=work.db, app_id=work.app_id))


@router.post("/app/server-secret/rotate", response_model=ServerSecretOut, dependencies=OWNER)
def rotate_server_secret(
    body: RotateServerSecret, work: OperatorWorkDep, runtime: RuntimeDep
) -> ServerSecretOut:
    """A new signing secret; calls signed with the old one are refused from now on (this process at once,
    others within 30 s). `confirm` must be the app's id."""
    secret = service.rotate_server_secret(db=work.db, app_id=work.app_id, confirm=body.confirm)
    runtime.app_cache.forget(work.app_id)
    return ServerSecretOut(server_secret=secret)


@router.post("/apps", response_model=AppCreated, status_code=201, dependencies=OWNER)
def create_app(body: NewApp, work: OperatorWorkDep, op: OperatorDep, request: Request) -> AppCreated:
    """Another app on this server, by an owner of an existing one; the response holds the new app's first
    owner key, once. Both apps' audit trails record it."""
    actor = op.actor
    ip = request.client.host if request.client else None
    app, row, key = service.create_with_owner(db=work.db, app_in=body, actor=actor, at=work.now, ip=ip)
    return service.created(app, row, key)


def _local(request: Request, runtime: RuntimeDep) -> bool:
    server = request.scope.get("server")
    return service.is_local_request(
        bind_host=runtime.settings.host,
        server_host=str(server[0]) if server else None,
        client_host=request.client.host if request.client else None,
        headers=request.headers,
    )


@router.get("/setup/first-run", response_model=FirstRunStatus)
def first_run_status(request: Request, runtime: RuntimeDep) -> FirstRunStatus:
    """No key needed: whether this browser may create the first app (a local server with no app yet)."""
    return flows.first_run_status(runtime, local=_local(request, runtime))


@router.post("/setup/first-run", response_model=AppCreated, status_code=201)
def first_run_create(body: NewApp, request: Request, runtime: RuntimeDep) -> AppCreated:
    """No key needed, once: the first app and its owner key, from the server's own machine only."""
    ip = request.client.host if request.client else None
    return flows.first_run_create(runtime, body, local=_local(request, runtime), ip=ip)


@router.get("/setup/checklist", response_model=SetupChecklist, dependencies=[role_at_least(Role.analyst)])
def setup_checklist(work: OperatorWorkDep, runtime: RuntimeDep) -> SetupChecklist:
    """What the app has set up and seen so far: the console's 首次接入清单."""
    return service.checklist(db=work.db, app_id=work.app_id, store=runtime.store)


@router.get("/keys", response_model=Page[ApiKeyRead], dependencies=OWNER)
def list_keys(db: AppDbDep, page: PageDep) -> Page[ApiKeyRead]:
    """The app's keys, oldest first (revoked ones too, marked)."""
    rows, cursor = service.keys_page(db=db, page=page)
    return Page(items=[ApiKeyRead.model_validate(k) for k in rows], next_cursor=cursor)


@router.post("/keys", response_model=ApiKeyIssued, status_code=201, dependencies=OWNER)
def create_key(body: ApiKeyCreate, db: AppDbDep, op: OperatorDep) -> ApiKeyIssued:
    """Issue a key for this app. The full key is in this response only."""
    row, key = service.issue_key(db=db, app_id=op.app_id, key_in=body)
    return ApiKeyIssued(**ApiKeyRead.model_validate(row).model_dump(), key=key)


@router.delete("/keys/{key_id}", response_model=ApiKeyRead, dependencies=OWNER)
def revoke_key(key_id: str, db: AppDbDep) -> ApiKeyRead:
    """Revoke a key at once; never the app's last active owner key (409 last_owner_key)."""
    return ApiKeyRead.model_validate(service.revoke_key(db=db, key_id=key_id, keep_an_owner=True))
