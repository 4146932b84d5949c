"""Privacy over HTTP: requests on the admin API (export a user's data, erase it with an owner key, list past
requests) and consent records (the user through the SDK, the merchant's backend signed, operators)."""

from __future__ import annotations

import re
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session

from huoli.apps.schemas import Role
from huoli.audit.service import Actor
from huoli.auth.service import MiniProgramUser
from huoli.deps import (
    AppDbDep,
    MiniProgramUserDep,
    MiniProgramWorkDep,
    OperatorDep,
    PageDep,
    RuntimeDep,
    SignedWorkDep,
    role_at_least,
)
from huoli.errors import Unauthorized
from huoli.pagination import Page
from huoli.privacy import consents, flows, service
from huoli.privacy.schemas import (
    ConsentHistoryOut,
    ConsentRecordOut,
    ConsentsIn,
    ConsentsOut,
    ConsentsRecordedOut,
    ConsentStateOut,
    ErasureIn,
    ExportIn,
    PrivacyRequestOut,
    PurposeCountOut,
    UserConsentsIn,
)

router = APIRouter(tags=["privacy"])


def _actor(op: OperatorDep) -> Actor:
    return op.actor


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
    response_model=Page[PrivacyRequestOut],
    dependencies=[role_at_least(Role.operator)],
)
def privacy_requests(
    db: AppDbDep,
    page: PageDep,
    user_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[PrivacyRequestOut]:
    """Past exports and erasures, newest first, with their counts. Operators and owners."""
    rows, cursor = service.requests_page(db, page=page, user_id=user_id)
    return Page(items=[PrivacyRequestOut.model_validate(r) for r in rows], next_cursor=cursor)


# --- consent records (privacy/consents.py) ---------------------------------------------------------------


def _me(user: MiniProgramUser | None) -> str:
    if user is None:
        raise Unauthorized("log in first (Authorization: Bearer <session token>)", code="login_required")
    return user.user_id


def _states(db: Session, user_id: str) -> list[ConsentStateOut]:
    out = []
    for purpose, row in consents.state(db, user_id=user_id).items():
        granted = row.granted if row is not None else None
        out.append(
            ConsentStateOut(
                purpose=purpose,
                granted=granted,
                allowed=consents.allows(granted, purpose),
                basis=consents.PURPOSES[purpose].basis,
                policy_version=row.policy_version if row is not None else None,
                source=row.source if row is not None else None,
                recorded_at=row.recorded_at if row is not None else None,
            )
        )
    return out


def _recorded(
    db: Session, user_id: str, body: ConsentsIn, origin: consents.Origin, now: Any
) -> ConsentsRecordedOut:
    written = consents.record(db, user_id=user_id, decisions=body.decisions(), origin=origin, now=now)
    return ConsentsRecordedOut(user_id=user_id, consents=_states(db, user_id), recorded=len(written))


@router.get("/v1/privacy/consents", response_model=ConsentsOut)
def my_consents(work: MiniProgramWorkDep, user: MiniProgramUserDep) -> ConsentsOut:
    """The logged-in user's current decision for every purpose of the catalogue (null: never decided), with
    what applies meanwhile (`allowed`)."""
    uid = _me(user)
    return ConsentsOut(user_id=uid, consents=_states(work.db, uid))


@router.post("/v1/privacy/consents", response_model=ConsentsRecordedOut)
def record_my_consents(
    body: ConsentsIn, request: Request, work: MiniProgramWorkDep, user: MiniProgramUserDep
) -> ConsentsRecordedOut:
    """Record the logged-in user's decisions (the SDK after the privacy pop-up, a settings switch). A decision
    already in force appends nothing (`recorded` 0); committed before the answer."""
    uid = _me(user)
    origin = consents.Origin(
        "sdk",
        ip=request.client.host[:45] if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )
    return _recorded(work.db, uid, body, origin, work.now)


@router.post("/v1/server/privacy/consents", response_model=ConsentsRecordedOut)
def record_server_consents(body: UserConsentsIn, work: SignedWorkDep) -> ConsentsRecordedOut:
    """The merchant's backend records decisions it collected itself (its own web page, a paper form)."""
    return _recorded(work.db, body.user_id, body, consents.Origin("server"), work.now)


@router.post(
    "/admin/privacy/consents",
    response_model=ConsentsRecordedOut,
    dependencies=[role_at_least(Role.operator)],
)
def record_operator_consents(
    body: UserConsentsIn, db: AppDbDep, op: OperatorDep, runtime: RuntimeDep
) -> ConsentsRecordedOut:
    """An operator records a decision the user gave another way (a withdrawal by phone to customer service);
    the row keeps the key id. Operators and owners; in the audit trail."""
    origin = consents.Origin("operator", recorded_by=op.key_id)
    return _recorded(db, body.user_id, body, origin, runtime.clock())


@router.get(
    "/admin/privacy/consents",
    response_model=ConsentHistoryOut,
    dependencies=[role_at_least(Role.analyst)],
)
def consent_history(
    db: AppDbDep,
    op: OperatorDep,
    user_id: Annotated[str, Query(min_length=1, max_length=64)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> ConsentHistoryOut:
    """A user's current decisions and their history, newest first. The evidence columns (IP, user agent) are
    shown to operator and owner keys only."""
    evidence = op.role.rank >= Role.operator.rank
    history = []
    for row in consents.history(db, user_id=user_id, limit=limit):
        out = ConsentRecordOut.model_validate(row)
        if not evidence:
            out.ip = out.user_agent = None
        history.append(out)
    return ConsentHistoryOut(user_id=user_id, consents=_states(db, user_id), history=history)


@router.get(
    "/admin/privacy/consents/summary",
    response_model=list[PurposeCountOut],
    dependencies=[role_at_least(Role.analyst)],
)
def consent_summary(db: AppDbDep) -> list[PurposeCountOut]:
    """Per purpose, how many users currently say yes (per policy version) and no."""
    return [PurposeCountOut.model_validate(c, from_attributes=True) for c in consents.summary(db)]
