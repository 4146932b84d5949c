"""Flags for the mini-program (GET /v1/flags, PUT /v1/preferences) and their admin API (/admin/flags)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Response

from huoli.apps import service as apps
from huoli.apps.schemas import Role
from huoli.deps import (
    AppDbDep,
    MiniProgramAppDep,
    MiniProgramUserDep,
    MiniProgramWorkDep,
    OperatorDep,
    PageDep,
    RuntimeDep,
    role_at_least,
)
from huoli.errors import Unauthorized, ValidationFailed
from huoli.flags import service
from huoli.flags.loader import loader_for
from huoli.flags.schemas import (
    ClientFlagsOut,
    EvaluateIn,
    EvaluationOut,
    FlagCreate,
    FlagDetail,
    FlagRead,
    FlagUpdate,
    PreferencesIn,
    PreferencesOut,
)
from huoli.pagination import Page

router = APIRouter(tags=["flags"])


def _attributes(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict) or len(raw) > 4096:
        raise ValidationFailed(
            "attributes must be a JSON object (≤ 4 KB)",
            details=[{"field": "attributes", "message": "expected a JSON object"}],
        )
    return value


@router.get("/v1/flags", response_model=ClientFlagsOut)
async def client_flags(
    runtime: RuntimeDep,
    app: MiniProgramAppDep,
    user: MiniProgramUserDep,
    anonymous_id: Annotated[str | None, Query(max_length=64)] = None,
    attributes: Annotated[str | None, Query(description="JSON object of targeting attributes.")] = None,
) -> Response:
    """Every client-visible flag evaluated for this user, the experiments they are in, and their preferences.

    Logged-in users are identified by their session token; anonymous visitors by the SDK's anonymous_id.
    """
    now = runtime.clock()
    kwargs: dict[str, Any] = {
        "factory": runtime.sessions,
        "app_id": app.id,
        "user_id": user.user_id if user else None,
        "anonymous_id": anonymous_id,
        "attributes": _attributes(attributes),
        "now": now,
        "settings": runtime.settings,
    }
    # Evaluation is pure CPU on the event loop; a user not seen in the last seconds is first read in a batch
    # with the other first visits of the moment (flags.loader), then evaluated the same way.
    done = service.evaluate_for_user(**kwargs, allow_io=False)
    if done is None:
        await loader_for(runtime.sessions).ensure(
            app.id, kwargs["user_id"], kwargs["user_id"] or anonymous_id
        )
        done = service.evaluate_for_user(**kwargs, allow_io=False)
    if done is None:  # evicted between the read and now (a full cache): read it here, off the loop
        done = await asyncio.to_thread(lambda: service.evaluate_for_user(**kwargs))
    assert done is not None
    result, prefs = done
    body = {
        "flags": result.values,
        "experiments": result.exposures,
        "preferences": prefs,
        "ttl_s": service.CLIENT_TTL_S,
        "evaluated_at": now,
    }
    return Response(orjson.dumps(body), media_type="application/json")


@router.put("/v1/preferences", response_model=PreferencesOut)
def put_preferences(
    body: PreferencesIn, work: MiniProgramWorkDep, user: MiniProgramUserDep
) -> PreferencesOut:
    """Store the user's font size, units and theme (fields left out are kept)."""
    if user is None:
        raise Unauthorized(
            "preferences need a logged-in user (Authorization: Bearer <token>)", code="login_required"
        )
    row = service.set_preferences(
        db=work.db,
        app_id=work.app_id,
        user_id=user.user_id,
        prefs_in=body,
        now=work.now,
        settings=work.settings,
    )
    return PreferencesOut(**(service.preferences_dict(row) or {}))


@router.get("/admin/flags", response_model=Page[FlagRead], dependencies=[role_at_least(Role.analyst)])
def list_flags(db: AppDbDep, page: PageDep) -> Page[FlagRead]:
    rows, cursor = service.flags_page(db=db, page=page)
    return Page(items=[FlagRead.model_validate(f) for f in rows], next_cursor=cursor)


@router.post(
    "/admin/flags", response_model=FlagRead, status_code=201, dependencies=[role_at_least(Role.operator)]
)
def create_flag(body: FlagCreate, db: AppDbDep, op: OperatorDep, runtime: RuntimeDep) -> FlagRead:
    flag = service.create_flag(
        db=db, app_id=op.app_id, flag_in=body, now=runtime.clock(), settings=runtime.settings
    )
    return FlagRead.model_validate(flag)


@router.get("/admin/flags/{key}", response_model=FlagRead, dependencies=[role_at_least(Role.analyst)])
def get_flag(key: str, db: AppDbDep) -> FlagRead:
    return FlagRead.model_validate(service.get_flag(db=db, key=key))


@router.patch("/admin/flags/{key}", response_model=FlagRead, dependencies=[role_at_least(Role.operator)])
def update_flag(key: str, body: FlagUpdate, db: AppDbDep, runtime: RuntimeDep) -> FlagRead:
    """Change a flag; `{"killed": true}` is the kill switch (everyone gets the default value at once)."""
    flag = service.update_flag(db=db, key=key, flag_in=body, now=runtime.clock(), settings=runtime.settings)
    return FlagRead.model_validate(flag)


@router.delete("/admin/flags/{key}", response_model=FlagRead, dependencies=[role_at_least(Role.operator)])
def delete_flag(key: str, db: AppDbDep, runtime: RuntimeDep) -> FlagRead:
    flag = service.delete_flag(db=db, key=key, now=runtime.clock(), settings=runtime.settings)
    return FlagRead.model_validate(flag)


@router.post(
    "/admin/flags/evaluate", response_model=EvaluationOut, dependencies=[role_at_least(Role.analyst)]
)
def evaluate(body: EvaluateIn, op: OperatorDep, runtime: RuntimeDep) -> EvaluationOut:
    """Evaluate every flag (client-visible or not) for a user, with why each value was chosen.
    Logging exposures writes experiment data in the user's name: operators and owners only."""
    if body.log_exposures:
        apps.require_role(op.role.value, Role.operator)
    done = service.evaluate_for_user(
        factory=runtime.sessions,
        app_id=op.app_id,
        user_id=body.user_id,
        anonymous_id=body.anonymous_id,
        attributes=body.attributes,
        now=runtime.clock(),
        settings=runtime.settings,
        client=False,
        log_exposures=body.log_exposures,
    )
    assert done is not None
    result, _ = done
    return EvaluationOut(flags=result.values, details={k: FlagDetail(**v) for k, v in result.details.items()})
