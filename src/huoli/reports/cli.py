"""`huoli report`: the weekly review report (HTML + Markdown) for one ISO week."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from huoli.cli_support import fail, guarded, out, runtime
from huoli.reports import render, service
from huoli.reports.weeks import last_complete_week, parse_week

CLI_NAME = "report"
cli = typer.Typer(help="Weekly review report: KPIs vs last week, findings, movers, experiments, campaigns.")


@cli.callback(invoke_without_command=True)
def report(
    app_id: Annotated[str, typer.Option("--app", help="App id.")],
    week: Annotated[
        str | None,
        typer.Option(help="ISO week, e.g. 2026-W47; default: the last complete week in the app timezone."),
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for the two files.")] = Path("."),
    lang: Annotated[str, typer.Option(help="zh (Chinese, English labels beside) or en.")] = "zh",
) -> None:
    """Write report-<week>.html (self-contained: opens offline) and report-<week>.md; print their paths."""
    if lang not in render.LANGS:
        raise fail(f"unknown language {lang!r}", [{"field": "lang", "message": "one of zh, en"}])
    iso = guarded(lambda: parse_week(week)) if week is not None else None
    with runtime() as rt:
        app = guarded(lambda: rt.app_cache.get(app_id))
        iso = iso or last_complete_week(rt.clock(), app.timezone)
        result = guarded(lambda: service.build(rt, app, iso))
    try:
        paths = render.write(result, out_dir, "en" if lang == "en" else "zh")
    except OSError as exc:
        raise fail(f"cannot write the report to {out_dir}: {exc.strerror or exc}") from None
    for p in paths:
        out.print(str(p), highlight=False, soft_wrap=True)
