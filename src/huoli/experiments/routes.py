"""Admin API for experiments and holdouts (/admin/experiments, /admin/holdouts)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from huoli.apps import service as apps
from huoli.apps.schemas import Role
from huoli.deps import AppDbDep, OperatorDep, PageDep, RuntimeDep, role_at_least
from huoli.experiments import results as results_mod
from huoli.experiments import service
from huoli.experiments.schemas import (
    ExperimentCreate,
    ExperimentRead,
    HoldoutCreate,
    HoldoutRead,
    ShipIn,
    StartIn,
)
from huoli.pagination import Page
from huoli.timeutil import check_timezone

router = APIRouter(prefix="/admin", tags=["experiments"])


@router.get("/experiments", response_model=Page[ExperimentRead], dependencies=[role_at_least(Role.analyst)])
def list_experiments(db: AppDbDep, page: PageDep) -> Page[ExperimentRead]:
    rows, cursor = service.experiments_page(db=db, page=page)
    return Page(items=[ExperimentRead.model_validate(e) for e in rows], next_cursor=cursor)


@router.post(
    "/experiments",
    response_model=ExperimentRead,
    status_code=201,
    dependencies=[role_at_least(Role.operator)],
)
def create_experiment(
    body: ExperimentCreate, db: AppDbDep, op: OperatorDep, runtime: RuntimeDep
) -> ExperimentRead:
    """Create a draft. Rejected with field-level reasons: weights, namespaces, unknown events, traffic."""
    exp = service.create(db=db, store=runtime.store, app_id=op.app_id, exp_in=body, now=runtime.clock())
    return ExperimentRead.model_validate(exp)


@router.get("/experiments/{key}", response_model=ExperimentRead, dependencies=[role_at_least(Role.analyst)])
def get_experiment(key: str, db: AppDbDep) -> ExperimentRead:
    return ExperimentRead.model_validate(service.get(db=db, key=key))


@router.delete(
    "/experiments/{key}", response_model=ExperimentRead, dependencies=[role_at_least(Role.operator)]
)
def delete_experiment(key: str, db: AppDbDep) -> ExperimentRead:
    return ExperimentRead.model_validate(service.delete_draft(db=db, key=key))


@router.post(
    "/experiments/{key}/start", response_model=ExperimentRead, dependencies=[role_at_least(Role.operator)]
)
def start_experiment(
    key: str, db: AppDbDep, op: OperatorDep, runtime: RuntimeDep, body: StartIn | None = None
) -> ExperimentRead:
    """Start serving; `started_at` (optional, not in the future) records an earlier real start."""
    started_at = None
    if body is not None and body.started_at is not None:
        started_at = service.in_zone(
            body.started_at, check_timezone(apps.get(db=db, app_id=op.app_id).timezone)
        )
    exp = service.start(db=db, key=key, now=runtime.clock(), settings=runtime.settings, started_at=started_at)
    return ExperimentRead.model_validate(exp)


@router.post(
    "/experiments/{key}/stop", response_model=ExperimentRead, dependencies=[role_at_least(Role.operator)]
)
def stop_experiment(key: str, db: AppDbDep, runtime: RuntimeDep) -> ExperimentRead:
    exp = service.stop(db=db, key=key, now=runtime.clock(), settings=runtime.settings)
    return ExperimentRead.model_validate(exp)


@router.post(
    "/experiments/{key}/ship", response_model=ExperimentRead, dependencies=[role_at_least(Role.operator)]
)
def ship_experiment(key: str, body: ShipIn, db: AppDbDep, runtime: RuntimeDep) -> ExperimentRead:
    """Stop and serve the chosen variant's value to everyone (it becomes the flag's default)."""
    exp = service.stop(
        db=db, key=key, now=runtime.clock(), settings=runtime.settings, ship_variant=body.variant
    )
    return ExperimentRead.model_validate(exp)


@router.get("/experiments/{key}/results", dependencies=[role_at_least(Role.analyst)])
def experiment_results(
    key: str,
    db: AppDbDep,
    op: OperatorDep,
    runtime: RuntimeDep,
    timeseries: bool = False,
    as_of: Annotated[
        str | None,
        Query(
            description="Results as they were at this time: an ISO date-time (no offset: the app's timezone) "
            "or a date (the end of that local day)."
        ),
    ] = None,
) -> dict[str, Any]:
    """Per-metric lifts with intervals, SRM check, exposures left out, guardrail alarms and the verdict."""
    exp = service.get(db=db, key=key)
    tz = check_timezone(apps.get(db=db, app_id=op.app_id).timezone)
    when = (
        service.parse_when(as_of, tz=tz, field="as_of", date_is="end")
        if as_of
        else exp.stopped_at or runtime.clock()
    )
    return results_mod.results(runtime.store, exp, as_of=when, tz=tz, timeseries=timeseries)


@router.get("/holdouts", response_model=Page[HoldoutRead], dependencies=[role_at_least(Role.analyst)])
def list_holdouts(db: AppDbDep, page: PageDep) -> Page[HoldoutRead]:
    rows, cursor = service.holdouts_page(db=db, page=page)
    return Page(items=[HoldoutRead.model_validate(h) for h in rows], next_cursor=cursor)


@router.post(
    "/holdouts", response_model=HoldoutRead, status_code=201, dependencies=[role_at_least(Role.operator)]
)
def create_holdout(body: HoldoutCreate, db: AppDbDep, op: OperatorDep) -> HoldoutRead:
    return HoldoutRead.model_validate(service.create_holdout(db=db, app_id=op.app_id, holdout_in=body))
