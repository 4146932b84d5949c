"""`huoli metrics <metric>`: any metric from the command line, as a table, CSV or JSON."""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError

from huoli.analytics import service
from huoli.analytics.registry import METRICS
from huoli.analytics.tabulate import tabulate
from huoli.cli_support import fail, guarded, out, runtime
from huoli.errors import HuoliError

if TYPE_CHECKING:
    from huoli.apps.models import App
    from huoli.runtime import Runtime

log = logging.getLogger(__name__)

CLI_NAME = "metrics"
cli = typer.Typer(help="Analytics: activity, acquisition, retention, funnel, paths, lifecycle, conversion, …")


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _default_start() -> str:
    return (dt.date.today() - dt.timedelta(days=30)).isoformat()


def _read_spec(path: str) -> str:
    try:
        return Path(path).read_text("utf-8")
    except OSError as exc:
        raise fail(f"--spec @{path}: cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise fail(f"--spec @{path}: not UTF-8 text") from None


def _run(rt: Runtime, app: App, metric: str, body: dict[str, Any]) -> dict[str, Any]:
    """service.run; a bad request is a HuoliError (guarded prints it). Anything else failed in huoli or its
    engine: one clear line on stderr and a non-zero exit as well, the traceback only in the debug log."""
    try:
        return service.run(rt, app, metric, body)
    except (HuoliError, ValidationError):
        raise
    except Exception as exc:
        log.debug("metric %s failed", metric, exc_info=True)
        first = (str(exc).strip().splitlines() or [""])[0]
        raise fail(
            f"{metric} failed: {type(exc).__name__}: {first}",
            "if the request is valid, this is a bug in huoli: please report it with the command",
        ) from None


def run_metric(
    metric: str,
    app_id: str,
    start: str | None,
    end: str | None,
    tz: str | None,
    breakdown: str | None,
    compare: bool,
    spec: str | None,
    fmt: Format,
) -> None:
    """Run one metric (the same request as POST /admin/analytics/<metric>)."""
    from rich.table import Table

    body: dict[str, Any] = {}
    if spec:
        text = _read_spec(spec[1:]) if spec.startswith("@") else spec
        try:
            body = json.loads(text)
        except json.JSONDecodeError as exc:
            raise fail(f"--spec is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise fail("--spec must be a JSON object")
    body.setdefault("start", start or _default_start())
    body.setdefault("end", end or (dt.date.today() - dt.timedelta(days=1)).isoformat())
    for k, v in (("tz", tz), ("breakdown", breakdown)):
        if v is not None:
            body[k] = v
    if compare:
        body["compare"] = True
    with runtime() as rt:
        app = guarded(lambda: rt.app_cache.get(app_id))
        result = guarded(lambda: _run(rt, app, metric, body))
    if fmt is Format.json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2, default=str) + "\n")
        return
    cols, rows = tabulate(metric, result["result"])
    if fmt is Format.csv:
        w = csv.writer(sys.stdout)
        w.writerow(cols)
        w.writerows(rows)
        return
    table = Table(
        title=f"{metric} · {result['app_id']} · {result['start']} – {result['end']} ({result['tz']})"
    )
    for c in cols:
        table.add_column(str(c))
    for r in rows:
        table.add_row(*["" if v is None else str(v) for v in r])
    out.print(table)
    out.print(
        f"[dim]{result['engine']} · {result['elapsed_ms']} ms{' · cached' if result['cached'] else ''}[/]"
    )


def _command(name: str, title: str) -> Any:
    def command(
        app_id: Annotated[str, typer.Option("--app", help="App id.")],
        start: Annotated[
            str | None, typer.Option(help="First local day (YYYY-MM-DD); default 30 days ago.")
        ] = None,
        end: Annotated[str | None, typer.Option(help="Last local day, inclusive; default yesterday.")] = None,
        tz: Annotated[str | None, typer.Option(help="IANA timezone; default the app's.")] = None,
        breakdown: Annotated[
            str | None,
            typer.Option(help="channel, scene, scene_group, page, properties.<key>, user.first_channel, …"),
        ] = None,
        compare: Annotated[bool, typer.Option(help="Also compute the previous period.")] = False,
        spec: Annotated[
            str | None,
            typer.Option(help="The metric's own fields as JSON, or @file.json (see docs/metrics.md)."),
        ] = None,
        fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
    ) -> None:
        run_metric(name, app_id, start, end, tz, breakdown, compare, spec, fmt)

    command.__doc__ = f"{title} (the same request as POST /admin/analytics/{name})."
    return command


def _register() -> None:
    """One subcommand per metric: `huoli metrics retention --app demo --spec '{"preset": "wechat_new"}'`."""
    for name, m in METRICS.items():
        cli.command(name)(_command(name, m.title))


_register()


@cli.command("list")
def list_metrics() -> None:
    """The metrics and what each answers."""
    for name, m in METRICS.items():
        out.print(f"[bold]{name}[/]  {m.title}")
