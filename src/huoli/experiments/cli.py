"""`huoli experiments …`: list, create from a TOML/JSON file, start/stop/ship, results as a table or JSON."""

from __future__ import annotations

import json
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from huoli.apps import service as apps
from huoli.cli_support import fail, guarded, out, runtime
from huoli.db import unit_of_work
from huoli.experiments import results as results_mod
from huoli.experiments import service
from huoli.experiments.schemas import ExperimentCreate, HoldoutCreate

CLI_NAME = "experiments"
cli = typer.Typer(help="A/B experiments on flags, and their results.", no_args_is_help=True)

AppOpt = Annotated[str, typer.Option("--app", help="App id.")]
KeyArg = Annotated[str, typer.Argument(help="Experiment key.")]
StartedAtOpt = Annotated[
    str | None,
    typer.Option(
        "--started-at",
        help="Record an earlier real start (imported history), e.g. 2024-03-01T00:00+08:00; without an offset "
        "the app's timezone; not in the future.",
    ),
]


def load_spec(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise fail(
            f"{path} is not valid {'TOML' if path.suffix.lower() == '.toml' else 'JSON'}: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise fail(f"{path} must hold one experiment (an object/table)")
    return data


@cli.command("list")
def list_experiments(app: AppOpt, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Experiments, newest first."""
    with runtime(events=False) as rt, unit_of_work(rt.sessions, app_id=app) as db:
        exps = service.list_experiments(db=db)
        if as_json:
            rows = [
                {
                    "key": e.key,
                    "name": e.name,
                    "flag": e.flag_key,
                    "status": e.status,
                    "shipped": e.shipped_variant,
                }
                for e in exps
            ]
            typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        table = Table("key", "name", "flag", "status", "variants", "started", "shipped")
        for e in exps:
            table.add_row(
                e.key,
                escape(e.name),
                e.flag_key,
                e.status,
                ", ".join(f"{v['key']} {v['weight']:.0%}" for v in e.variants),
                e.started_at.isoformat(timespec="minutes") if e.started_at else "-",
                e.shipped_variant or "-",
            )
        out.print(table)


@cli.command("create")
def create(
    file: Annotated[
        Path, typer.Argument(help="Experiment spec (.toml or .json), as POST /admin/experiments.")
    ],
    app: AppOpt,
    start: Annotated[bool, typer.Option("--start", help="Start it right away.")] = False,
    started_at: StartedAtOpt = None,
) -> None:
    """Create an experiment from a file; every problem is listed with its field."""
    if started_at is not None and not start:
        raise fail("--started-at needs --start")
    spec = load_spec(file)
    with runtime() as rt, unit_of_work(rt.sessions, app_id=app) as db:
        body = guarded(lambda: ExperimentCreate(**spec))
        when = _started_at(db, app, started_at)
        exp = guarded(lambda: service.create(db=db, store=rt.store, app_id=app, exp_in=body, now=rt.clock()))
        if start:
            guarded(
                lambda: service.start(
                    db=db, key=exp.key, now=rt.clock(), settings=rt.settings, started_at=when
                )
            )
        out.print(f"created experiment [bold]{exp.key}[/] ({exp.status}) on flag {exp.flag_key}")


def _started_at(db: Session, app: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    tz = guarded(lambda: apps.get(db=db, app_id=app)).timezone
    return guarded(lambda: service.parse_when(text, tz=tz, field="--started-at"))


@cli.command("start")
def start(key: KeyArg, app: AppOpt, started_at: StartedAtOpt = None) -> None:
    """Start serving the variants (attaches the experiment to its flag)."""
    with runtime(events=False) as rt, unit_of_work(rt.sessions, app_id=app) as db:
        tz = guarded(lambda: apps.get(db=db, app_id=app)).timezone
        when = _started_at(db, app, started_at)
        exp = guarded(
            lambda: service.start(db=db, key=key, now=rt.clock(), settings=rt.settings, started_at=when)
        )
        out.print(f"experiment [bold]{exp.key}[/] is {exp.status} (started {_local(exp.started_at, tz)})")


def _local(when: datetime | None, tz: str) -> str:
    return when.astimezone(ZoneInfo(tz)).isoformat(timespec="minutes") if when else "-"


@cli.command("stop")
def stop(
    key: KeyArg,
    app: AppOpt,
    ship: Annotated[str | None, typer.Option("--ship", help="Variant to serve to everyone.")] = None,
) -> None:
    """Stop the experiment; with --ship, that variant's value becomes the flag's default."""
    with runtime(events=False) as rt, unit_of_work(rt.sessions, app_id=app) as db:
        exp = guarded(
            lambda: service.stop(db=db, key=key, now=rt.clock(), settings=rt.settings, ship_variant=ship)
        )
        shipped = f", shipped {exp.shipped_variant}" if exp.shipped_variant else ""
        out.print(f"experiment [bold]{exp.key}[/] is {exp.status}{shipped}")


holdouts_cli = typer.Typer(
    help="Holdout groups: users kept out of experiments (and campaigns).", no_args_is_help=True
)
cli.add_typer(holdouts_cli, name="holdouts")


@holdouts_cli.command("list")
def list_holdouts(app: AppOpt, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Holdouts of the app."""
    with runtime(events=False) as rt, unit_of_work(rt.sessions, app_id=app) as db:
        rows: list[dict[str, Any]] = [
            {"key": h.key, "name": h.name, "scope": h.scope, "percent": h.percent}
            for h in service.list_holdouts(db=db)
        ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table("key", "name", "scope", "held out")
    for r in rows:
        table.add_row(r["key"], escape(r["name"]), r["scope"], f"{r['percent']:.1%}")
    out.print(table)


@holdouts_cli.command("create")
def create_holdout(
    key: Annotated[str, typer.Argument(help="Holdout key.")],
    app: AppOpt,
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    percent: Annotated[float, typer.Option("--percent", help="Share of users held out, e.g. 0.05.")],
    scope: Annotated[str, typer.Option("--scope", help="global (one per app) or campaign.")] = "campaign",
) -> None:
    """Create a holdout: its own hashing salt, so it is independent of every experiment's split."""
    with runtime(events=False) as rt, unit_of_work(rt.sessions, app_id=app) as db:
        body = guarded(lambda: HoldoutCreate(key=key, name=name, scope=scope, percent=percent))
        h = guarded(lambda: service.create_holdout(db=db, app_id=app, holdout_in=body))
        out.print(f"created {h.scope} holdout [bold]{h.key}[/] holding out {h.percent:.1%} of users")


@holdouts_cli.command("check")
def check_holdout(
    key: Annotated[str, typer.Argument(help="Holdout key.")],
    user_id: Annotated[str, typer.Argument(help="User id.")],
    app: AppOpt,
) -> None:
    """Is this user held out? Prints yes or no (deterministic: the same answer the API and SDK see)."""
    with runtime(events=False) as rt, unit_of_work(rt.sessions, app_id=app) as db:
        if key not in {h.key for h in service.list_holdouts(db=db)}:
            raise fail(f"unknown holdout {key!r}")
        typer.echo("yes" if service.in_holdout(db=db, app_id=app, holdout_key=key, user_id=user_id) else "no")


def _fmt_ci(ci: list[float | None] | None, pct: bool) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return "-"
    return f"[{ci[0]:+.1%}, {ci[1]:+.1%}]" if pct else f"[{ci[0]:+.4g}, {ci[1]:+.4g}]"


@cli.command("results")
def results(
    key: KeyArg,
    app: AppOpt,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    timeseries: Annotated[bool, typer.Option("--timeseries", help="Add cumulative results per day.")] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Results as they were at this time: ISO date-time (no offset: the app's timezone) or a date "
            "(the end of that local day). Default: now, or the stop time.",
        ),
    ] = None,
) -> None:
    """Lifts with intervals per metric, SRM, exposures left out, guardrails and the verdict."""
    with runtime() as rt, unit_of_work(rt.sessions, app_id=app) as db:
        exp = guarded(lambda: service.get(db=db, key=key))
        tz = guarded(lambda: apps.get(db=db, app_id=app)).timezone
        when = (
            guarded(lambda: service.parse_when(as_of, tz=tz, field="--as-of", date_is="end"))
            if as_of is not None
            else exp.stopped_at or rt.clock()
        )
        res = results_mod.results(rt.store, exp, as_of=when, tz=tz, timeseries=timeseries)
    if as_json:
        typer.echo(json.dumps(res, ensure_ascii=False, indent=2, default=str))
        return
    srm = res["srm"]
    out.print(f"[bold]{escape(exp.name)}[/] ({exp.key}, {exp.status}, {res['method']})")
    out.print(f"started {_local(exp.started_at, tz)}, as of {res['as_of']}")
    out.print(
        "users: "
        + ", ".join(f"{k} {v:,}" for k, v in srm["users"].items())
        + f"  SRM p = {srm['p_value']:.3g}"
    )
    if srm["warning"]:
        out.print("[bold red]sample ratio mismatch: results can't be trusted[/]")
    for note in res["exposures"]["notes"]:
        out.print(f"[{'bold red' if note['level'] == 'warning' else 'yellow'}]{escape(note['text'])}[/]")
    table = Table("metric", "role", "variant", "control", "value", "lift", "interval", "p / chance", "")
    for m in res["metrics"]:
        values = {v["variant"]: v["value"] for v in m["variants"]}
        control = m["variants"][0]["variant"]
        for c in m["comparisons"]:
            if not c.get("available"):
                table.add_row(m["key"], m["role"], c["variant"], "-", "-", "-", "-", "-", "not enough data")
                continue
            rel = c["relative"] or c["absolute"]
            pct = c["relative"] is not None
            p = c.get("p_adjusted", c.get("p_value"))
            stat = f"p={p:.3g}" if p is not None else f"win {c['chance_to_win']:.0%}"
            flag = "ALARM" if c.get("alarm") else "better" if c["better"] else "worse" if c["worse"] else ""
            table.add_row(
                m["key"],
                m["role"],
                c["variant"],
                f"{values[control]:.4g}" if values[control] is not None else "-",
                f"{values[c['variant']]:.4g}" if values[c["variant"]] is not None else "-",
                f"{rel['lift']:+.1%}" if pct else f"{rel['lift']:+.4g}",
                _fmt_ci(rel["ci"], pct),
                stat,
                flag,
            )
    out.print(table)
    out.print(f"[bold]verdict:[/] {escape(res['verdict']['text'])}")
