"""The weekly review report, written every Monday morning (app timezone) for the week that just ended."""

from __future__ import annotations

from huoli.jobs.registry import JobContext, cron, job
from huoli.reports import render, service
from huoli.reports.weeks import last_complete_week


@job("reports.weekly", schedule=cron("0 8 * * 1"), queue="primary", transaction=False)
def weekly(ctx: JobContext) -> dict[str, object]:
    """Write <data_dir>/reports/<app>/report-<week>.html and .md for the last complete week (rewritten on a
    rerun, so a retry leaves one copy)."""
    assert ctx.app_id is not None
    app = ctx.rt.app_cache.get(ctx.app_id)
    week = last_complete_week(ctx.now, app.timezone)
    result = service.build(ctx.rt, app, week)
    paths = render.write(result, ctx.rt.settings.data_dir / "reports" / ctx.app_id, "zh")
    return {"week": week.label, "files": [str(p) for p in paths]}
