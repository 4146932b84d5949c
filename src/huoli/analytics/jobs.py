"""Keeps each app's user-day and session rollups current, so the first dashboard read after a quiet spell
does not pay for a backlog of events."""

from __future__ import annotations

from huoli.analytics import service
from huoli.jobs.registry import JobContext, every, job


@job("analytics.rollup", schedule=every(minutes=5), queue="primary", transaction=False)
def rollup(ctx: JobContext) -> dict[str, object]:
    """Fold events ingested since the watermark into the app's user-day and session rollups (DuckDB)."""
    assert ctx.app_id is not None
    app = ctx.rt.app_cache.get(ctx.app_id)
    tz = service.prepare_rollup(service.engine_for(ctx.rt), app, app.timezone)
    return {"timezone": tz, "refreshed": tz is not None}
