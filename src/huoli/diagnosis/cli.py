"""`huoli diagnose --app APP [--end DATE] [--format table|json|markdown]`: the stagnation doctor."""

from __future__ import annotations

import datetime as dt
import json
import sys
from enum import StrEnum
from typing import Annotated, Any

import typer

from huoli.cli_support import fail, guarded, out, runtime
from huoli.diagnosis import service, text

CLI_NAME = "diagnose"
cli = typer.Typer(help="The stagnation doctor: findings with evidence, severity and playbooks.")


class Format(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


class Lang(StrEnum):
    zh = "zh"
    en = "en"


HEAD = {
    "zh": ["严重度", "问题", "当前", "基线", "变化", "检验", "p 值（BH 校正）", "受影响用户", "建议方案"],
    "en": [
        "Severity",
        "Finding",
        "Current",
        "Baseline",
        "Change",
        "Test",
        "p (BH-adjusted)",
        "Users",
        "Playbooks",
    ],
}


def _row(f: dict[str, Any], lang: text.Lang) -> list[str]:
    x = f["text"][lang]
    return [
        x["severity"],
        f["title"][lang],
        x["current"],
        x["baseline"],
        x["change"],
        x["test"],
        x["p_adjusted"],
        f"{f['users_affected']:,}",
        ", ".join(f["playbooks"]),
    ]


def _scope(d: dict[str, Any], lang: text.Lang) -> str:
    base = f"{d['baseline'][0]} – {d['baseline'][1]}"
    return {"zh": f"基线 {base}。", "en": f"Baseline {base}."}[lang]


def markdown(d: dict[str, Any], lang: text.Lang = "en") -> str:
    title = {"zh": "诊断", "en": "Diagnosis"}[lang]
    lines = [f"# {title} · {d['app_id']} · {d['current'][0]} – {d['current'][1]} ({d['tz']})", ""]
    if d["text"][lang]["end"]:
        lines += [d["text"][lang]["end"], ""]
    lines += [f"{_scope(d, lang)} {d['text'][lang]['verdict']}", ""]
    if d["findings"]:
        lines += ["| " + " | ".join(HEAD[lang]) + " |", "|" + "---|" * len(HEAD[lang])]
        for f in d["findings"]:
            cells = _row(f, lang)
            cells[1] = f"{cells[1]} (`{f['id']}`)"
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


@cli.callback(invoke_without_command=True)
def diagnose(
    app_id: Annotated[str, typer.Option("--app", help="App id.")],
    end: Annotated[
        str | None,
        typer.Option(
            help="Last local day of the current window (YYYY-MM-DD); default the last day with events "
            "(at the latest yesterday)."
        ),
    ] = None,
    tz: Annotated[str | None, typer.Option(help="IANA timezone; default the app's.")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
    lang: Annotated[Lang, typer.Option("--lang", help="Language of the text (zh or en).")] = Lang.en,
) -> None:
    """Diagnose an app (exit 0 with or without findings; bad arguments exit non-zero)."""
    from rich.markup import escape
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
    lg: text.Lang = "zh" if lang is Lang.zh else "en"
    if fmt is Format.markdown:
        sys.stdout.write(markdown(result, lg))
        return
    title = {"zh": "诊断", "en": "diagnosis"}[lg]
    table = Table(
        title=f"{title} · {result['app_id']} · {result['current'][0]} – {result['current'][1]} ({result['tz']})"
    )
    for c in HEAD[lg]:
        table.add_column(c)
    for f in result["findings"]:
        cells = _row(f, lg)
        cells[1] = f"{escape(cells[1])}\n[dim]{f['id']}[/]"
        table.add_row(*cells)
    if result["findings"]:
        out.print(table)
    if result["text"][lg]["end"]:
        out.print(result["text"][lg]["end"])
    out.print(result["text"][lg]["verdict"])
    out.print(f"[dim]{_scope(result, lg)}[/]")
