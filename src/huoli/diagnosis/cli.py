"""`huoli diagnose --app APP [--end DATE] [--format table|json|markdown]`: the stagnation doctor."""

from __future__ import annotations

import datetime as dt
import json
import sys
from enum import StrEnum
from typing import Annotated, Any

import typer

from huoli.cli_support import fail, guarded, out, runtime
from huoli.diagnosis import service

CLI_NAME = "diagnose"
cli = typer.Typer(help="The stagnation doctor: findings with evidence, severity and playbooks.")


class Format(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


def _num(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def markdown(d: dict[str, Any]) -> str:
    lines = [
        f"# Diagnosis · {d['app_id']} · {d['current'][0]} – {d['current'][1]} ({d['tz']})",
        "",
        f"Baseline {d['baseline'][0]} – {d['baseline'][1]}; {len(d['checked'])} checks ran, "
        f"{len(d['findings'])} findings.",
        "",
    ]
    if d["findings"]:
        lines += [
            "| Severity | Finding | Current | Baseline | Change | Test | p (adj.) | Users | Playbooks |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for f in d["findings"]:
            e = f["evidence"]
            change = f"{f['change']:+.0%}" if f["change"] is not None else "–"
            lines.append(
                f"| {f['severity']} | {f['title']['en']} (`{f['id']}`) | {_num(f['current'])} | {_num(f['baseline'])} "
                f"| {change} | {e['test']} | {_num(e.get('p_adjusted'))} | {f['users_affected']} | "
                f"{', '.join(f['playbooks'])} |"
            )
    else:
        lines.append("No findings: every check is within its thresholds or indistinguishable from noise.")
    return "\n".join(lines) + "\n"


@cli.callback(invoke_without_command=True)
def diagnose(
    app_id: Annotated[str, typer.Option("--app", help="App id.")],
    end: Annotated[
        str | None, typer.Option(help="Last local day of the current window (YYYY-MM-DD); default yesterday.")
    ] = None,
    tz: Annotated[str | None, typer.Option(help="IANA timezone; default the app's.")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
) -> None:
    """Diagnose an app (exit 0 with or without findings; bad arguments exit non-zero)."""
    from rich.table import Table

    end_day: dt.date | None = None
    if end is not None:
        try:
            end_day = dt.date.fromisoformat(end)
        except ValueError:
            raise fail(f"--end must be a date YYYY-MM-DD, not {end!r}") from None
    with runtime() as rt:
        app = guarded(lambda: rt.app_cache.get(app_id))
        result = guarded(lambda: service.diagnose(rt, app, end=end_day, tz=tz)).to_dict()
    if fmt is Format.json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
        return
    if fmt is Format.markdown:
        sys.stdout.write(markdown(result))
        return
    table = Table(
        title=f"diagnosis · {result['app_id']} · {result['current'][0]} – {result['current'][1]} ({result['tz']})"
    )
    for c in ("severity", "finding", "current", "baseline", "change", "test", "p adj.", "users", "playbooks"):
        table.add_column(c)
    for f in result["findings"]:
        e = f["evidence"]
        table.add_row(
            f["severity"],
            f"{f['title']['en']}\n[dim]{f['id']}[/]",
            _num(f["current"]),
            _num(f["baseline"]),
            f"{f['change']:+.0%}" if f["change"] is not None else "–",
            e["test"],
            _num(e.get("p_adjusted")),
            str(f["users_affected"]),
            ", ".join(f["playbooks"]),
        )
    out.print(table)
    out.print(
        f"[dim]{len(result['checked'])} checks ran, {len(result['findings'])} findings; "
        f"baseline {result['baseline'][0]} – {result['baseline'][1]}[/]"
    )
