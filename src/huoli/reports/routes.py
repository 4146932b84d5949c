"""`GET /admin/reports/weekly`: the weekly review report of the caller's app, as HTML or Markdown."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool

from huoli.apps.schemas import Role
from huoli.deps import OperatorDep, RuntimeDep, role_at_least
from huoli.reports import render, service
from huoli.reports.weeks import last_complete_week, parse_week

router = APIRouter(tags=["reports"])

# The same policy the file carries in its <meta>: nothing may load, whoever serves the file.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


@router.get("/admin/reports/weekly", dependencies=[role_at_least(Role.operator)])
async def weekly_report(
    runtime: RuntimeDep,
    op: OperatorDep,
    week: Annotated[
        str | None, Query(description="ISO week (2026-W47); default: the last complete one.")
    ] = None,
    format: Annotated[Literal["html", "md"], Query()] = "html",
    lang: Annotated[Literal["zh", "en"], Query()] = "zh",
) -> Response:
    """The report `huoli report` writes (docs/reports.md). A bad week is 422 with the reason on `week`."""
    app = runtime.app_cache.get(op.app_id)
    iso = parse_week(week) if week is not None else last_complete_week(runtime.clock(), app.timezone)
    report = await run_in_threadpool(service.build, runtime, app, iso)
    name = f"report-{iso.label}.{format}"
    headers = {**HEADERS, "Content-Disposition": f'inline; filename="{name}"'}
    if format == "md":
        return Response(
            render.markdown(report, lang), media_type="text/markdown; charset=utf-8", headers=headers
        )
    return Response(render.html(report, lang), media_type="text/html; charset=utf-8", headers=headers)
