"""`/admin/analytics/*`: every metric as JSON (POST a MetricQuery plus the metric's own fields)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from huoli.analytics import dashboard, service
from huoli.analytics.registry import METRICS
from huoli.apps.schemas import Role
from huoli.deps import AppDbDep, OperatorDep, RuntimeDep, role_at_least
from huoli.schema_types import MAX_FEN


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Merged into the app's lifespan by include_router: runs after the runtime is built.
    runtime = getattr(app.state, "runtime", None)
    if runtime is not None and not runtime.primary:  # a worker forwards analytics to the primary
        yield
        return
    dashboard.warm_up_in_background(runtime.settings.timezone if runtime else "Asia/Shanghai")
    yield


router = APIRouter(tags=["analytics"], lifespan=_lifespan)


@router.get("/admin/analytics", dependencies=[role_at_least(Role.analyst)])
def list_metrics() -> list[dict[str, Any]]:
    """The metrics this deployment answers, with the JSON schema of each request body."""
    return [
        {"metric": name, "title": m.title, "request_schema": m.request.model_json_schema()}
        for name, m in METRICS.items()
    ]


@router.get("/admin/analytics/vocabulary", dependencies=[role_at_least(Role.analyst)])
async def vocabulary(runtime: RuntimeDep, op: OperatorDep) -> dict[str, Any]:
    """Event names (catalog + seen, with counts), top pages and filter fields, for the console's pickers."""
    return await run_in_threadpool(service.vocabulary, runtime, op.app_id)


@router.post("/admin/analytics/dashboard", dependencies=[role_at_least(Role.analyst)])
async def run_dashboard(
    runtime: RuntimeDep,
    op: OperatorDep,
    body: Annotated[
        dict[str, Any], Body(examples=[{"start": "2026-10-01", "end": "2026-10-31", "compare": True}])
    ],
) -> dict[str, Any]:
    """The console dashboard's figures in one request (declared before `/{metric}`, which would take the
    name): the parts of activity, acquisition, funnel (`funnel`: event names), lifecycle, conversion,
    interaction and WeChat new-user retention it draws, computed concurrently and cached per part while the
    app's event count is unchanged (then for at most a minute; `as_of` says when). `parts.<metric>.result`
    equals the metric's own answer for those keys (docs/console.md "Dashboard speed")."""
    app = runtime.app_cache.get(op.app_id)
    return await run_in_threadpool(dashboard.run, runtime, app, body)


@router.post("/admin/analytics/{metric}", dependencies=[role_at_least(Role.analyst)])
async def run_metric(
    metric: str,
    runtime: RuntimeDep,
    op: OperatorDep,
    body: Annotated[
        dict[str, Any], Body(examples=[{"start": "2026-10-01", "end": "2026-10-31", "compare": True}])
    ],
) -> dict[str, Any]:
    """Run one metric for the caller's app. Body: `start`, `end` (local dates, inclusive), optional `tz`
    (default: the app's), `filters`, `user_filters`, `breakdown`, `compare`, plus the metric's own fields
    (see `GET /admin/analytics` and docs/metrics.md). Bad names or ranges are 422 with field reasons."""
    app = runtime.app_cache.get(op.app_id)
    return await run_in_threadpool(service.run, runtime, app, metric, body)


class ChannelCostIn(BaseModel):
    day: dt.date
    channel: str = Field(min_length=1, max_length=64)
    cost_fen: int = Field(ge=0, le=MAX_FEN)


@router.put("/admin/analytics/channel-costs", dependencies=[role_at_least(Role.operator)])
def put_channel_costs(op: OperatorDep, db: AppDbDep, rows: list[ChannelCostIn]) -> dict[str, int]:
    """Upload spend per (local day, channel) in fen; cost per acquired user reads it."""
    return {"written": service.set_channel_costs(db, op.app_id, [r.model_dump() for r in rows])}
