"""`/admin/diagnosis`: the doctor's findings, the playbook catalog and the per-app thresholds."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from huoli.apps.schemas import Role
from huoli.deps import AppDbDep, OperatorDep, RuntimeDep, role_at_least
from huoli.diagnosis import playbooks, service, thresholds
from huoli.diagnosis.thresholds import Thresholds

router = APIRouter(tags=["diagnosis"])


@router.get("/admin/diagnosis", dependencies=[role_at_least(Role.analyst)])
async def get_diagnosis(
    runtime: RuntimeDep,
    op: OperatorDep,
    end: Annotated[
        dt.date | None, Query(description="Last local day of the current window; default yesterday.")
    ] = None,
    tz: Annotated[str | None, Query(description="IANA timezone; default the app's.")] = None,
) -> dict[str, Any]:
    """Run every check (docs/diagnosis.md) and return findings with evidence, severity and playbooks."""
    app = runtime.app_cache.get(op.app_id)
    result = await run_in_threadpool(service.diagnose, runtime, app, end=end, tz=tz)
    return result.to_dict()


@router.get("/admin/diagnosis/playbooks", dependencies=[role_at_least(Role.analyst)])
def get_playbooks() -> dict[str, Any]:
    """The playbook catalog and which playbooks each finding recommends."""
    return {
        "playbooks": [p.to_dict() for p in playbooks.CATALOG.values()],
        "for_finding": playbooks.FOR_FINDING,
    }


@router.get(
    "/admin/diagnosis/settings", response_model=Thresholds, dependencies=[role_at_least(Role.analyst)]
)
def get_settings(db: AppDbDep, op: OperatorDep) -> Thresholds:
    return thresholds.load(db, op.app_id)


@router.put(
    "/admin/diagnosis/settings", response_model=Thresholds, dependencies=[role_at_least(Role.operator)]
)
def put_settings(body: Thresholds, db: AppDbDep, op: OperatorDep, runtime: RuntimeDep) -> Thresholds:
    """Replace the app's thresholds (validated as a whole; unknown keys and out-of-range values are 422)."""
    return thresholds.save(db, op.app_id, body, runtime.clock())
