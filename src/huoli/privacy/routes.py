"""Privacy requests over the admin API: export a user's data, erase it (owner keys), list past requests."""

from __future__ import annotations

import re
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Response

from huoli.apps.schemas import Role
from huoli.audit.service import Actor
from huoli.deps import AppDbDep, OperatorDep, RuntimeDep, role_at_least
from huoli.privacy import flows, service
from huoli.privacy.schemas import ErasureIn, ExportIn, PrivacyRequestOut

router = APIRouter(tags=["privacy"])


def _actor(op: OperatorDep) -> Actor:
    return Actor(kind="api_key", id=op.key_id, role=op.role.value)


@router.post(
    "/admin/privacy/exports",
    dependencies=[role_at_least(Role.operator)],
    responses={
        200: {
            "description": "The export document (JSON): format, request_id, identities, "
            "operational (domain → table → rows), events."
        }
    },
)
def export_user(body: ExportIn, db: AppDbDep, op: OperatorDep, runtime: RuntimeDep) -> Response:
    """Everything huoli holds about a user (PIPL access request), as one JSON document; the request is recorded
    with its row counts (GET /admin/privacy/requests). Operators and owners."""
    data = flows.export_in(db, runtime, app_id=op.app_id, user_id=body.user_id, actor=_actor(op))
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"privacy-export-{op.app_id}-{body.user_id}")
    return Response(
        orjson.dumps(data),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}.json"', "Cache-Control": "no-store"},
    )


@router.post(
    "/admin/privacy/erasures", response_model=PrivacyRequestOut, dependencies=[role_at_least(Role.owner)]
)
def erase_user(body: ErasureIn, op: OperatorDep, runtime: RuntimeDep) -> PrivacyRequestOut:
    """Erase a user from every store (PIPL deletion request): deleted, or anonymised where the rows record money
    (docs/reliability.md#privacy-requests-pipl). Cannot be undone; `confirm` repeats the user id. Owner keys.

    Not on the request's audited unit of work (AppDbDep): its row changes would copy the erased data into the
    audit trail. The flow records its own entry, naming the privacy request instead."""
    row = flows.erase(
        runtime,
        app_id=op.app_id,
        user_id=body.user_id,
        actor=_actor(op),
        action="POST /admin/privacy/erasures",
    )
    return PrivacyRequestOut.model_validate(row)


@router.get(
    "/admin/privacy/requests",
    response_model=list[PrivacyRequestOut],
    dependencies=[role_at_least(Role.operator)],
)
def privacy_requests(
    db: AppDbDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    user_id: Annotated[str | None, Query(max_length=64)] = None,
) -> list[PrivacyRequestOut]:
    """Past exports and erasures, newest first, with their counts. Operators and owners."""
    rows = service.requests(db, limit=limit, before_id=before_id, user_id=user_id)
    return [PrivacyRequestOut.model_validate(r) for r in rows]
