"""`huoli flags …`: list, set (create or change, kill switch), evaluate for a user."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from huoli.cli_support import fail, guarded, out, runtime
from huoli.db import unit_of_work
from huoli.flags import service
from huoli.flags.schemas import FlagCreate, FlagRule, FlagType, FlagUpdate

CLI_NAME = "flags"
cli = typer.Typer(help="Feature flags and remote config.", no_args_is_help=True)

AppOpt = Annotated[str, typer.Option("--app", help="App id.")]


def parse_value(text: str, flag_type: FlagType) -> Any:
    """JSON literals (true, 3, {"a": 1}); for string flags, bare words are taken as the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        if flag_type is FlagType.string:
            return text
        raise fail(f"not valid JSON for a {flag_type.value} flag: {text!r}") from None


@cli.command("list")
def list_flags(app: AppOpt, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every flag with its default, rule count, running experiments and kill switch."""
    with runtime(events=False) as rt, unit_of_work(rt.sessions, app_id=app) as db:
        flags = service.list_flags(db=db)
        if as_json:
            rows = [
                {
                    "key": f.key,
                    "type": f.type,
                    "default_value": f.default_value,
                    "rules": f.rules,
                    "experiments": [r["key"] for r in f.experiment_rules],
                    "killed": f.killed,
                    "client_visible": f.client_visible,
                }
                for f in flags
            ]
            typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        table = Table("key", "type", "default", "rules", "experiments", "killed", "client")
        for f in flags:
            table.add_row(
                f.key,
                f.type,
                escape(json.dumps(f.default_value, ensure_ascii=False)),
                str(len(f.rules)),
                ", ".join(r["key"] for r in f.experiment_rules) or "-",
                "KILLED" if f.killed else "-",
                "yes" if f.client_visible else "no",
            )
        out.print(table)


@cli.command("set")
def set_flag(
    key: Annotated[str, typer.Argument(help="Flag key.")],
    app: AppOpt,
    flag_type: Annotated[FlagType | None, typer.Option("--type", help="Required when creating.")] = None,
    default: Annotated[str | None, typer.Option("--default", help="Default value (JSON literal).")] = None,
    rules: Annotated[
        str | None,
        typer.Option("--rules", help='JSON list of rules: [{"id", "condition", "value", "rollout"}].'),
    ] = None,
    description: Annotated[str | None, typer.Option(help="What the flag controls.")] = None,
    kill: Annotated[bool | None, typer.Option("--kill/--revive", help="Kill switch.")] = None,
    hidden: Annotated[
        bool | None, typer.Option("--hidden/--client", help="Keep out of GET /v1/flags.")
    ] = None,
) -> None:
    """Create a flag, or change an existing one (only the options given change)."""
    with runtime(events=False) as rt, unit_of_work(rt.sessions, app_id=app) as db:
        existing = service.find_flag(db=db, key=key)
        parsed_rules = guarded(lambda: [FlagRule(**r) for r in json.loads(rules)]) if rules else None
        now = rt.clock()
        if existing is None:
            if flag_type is None or default is None:
                raise fail(f"flag {key!r} does not exist: --type and --default are required to create it")
            body = guarded(
                lambda: FlagCreate(
                    key=key,
                    type=flag_type,
                    default_value=parse_value(default, flag_type),
                    rules=parsed_rules or [],
                    description=description or "",
                    client_visible=not hidden if hidden is not None else True,
                )
            )
            flag = guarded(
                lambda: service.create_flag(db=db, app_id=app, flag_in=body, now=now, settings=rt.settings)
            )
            if kill:
                flag = guarded(
                    lambda: service.update_flag(
                        db=db, key=key, flag_in=FlagUpdate(killed=True), now=now, settings=rt.settings
                    )
                )
            out.print(f"created flag [bold]{flag.key}[/] ({flag.type})")
            return
        if flag_type is not None and flag_type.value != existing.type:
            raise fail(f"flag {key!r} is {existing.type}; its type can't change")
        changes: dict[str, Any] = {}
        if default is not None:
            changes["default_value"] = parse_value(default, FlagType(existing.type))
        if parsed_rules is not None:
            changes["rules"] = parsed_rules
        if description is not None:
            changes["description"] = description
        if kill is not None:
            changes["killed"] = kill
        if hidden is not None:
            changes["client_visible"] = not hidden
        update = guarded(lambda: FlagUpdate(**changes))
        flag = guarded(
            lambda: service.update_flag(db=db, key=key, flag_in=update, now=now, settings=rt.settings)
        )
        out.print(
            f"updated flag [bold]{flag.key}[/] (version {flag.version}{', KILLED' if flag.killed else ''})"
        )


@cli.command("evaluate")
def evaluate(
    app: AppOpt,
    user: Annotated[str | None, typer.Option("--user", help="User id.")] = None,
    anonymous: Annotated[
        str | None, typer.Option("--anonymous", help="Anonymous id (not logged in).")
    ] = None,
    attr: Annotated[
        list[str] | None, typer.Option("--attr", help="Attribute key=value (value as JSON if it parses).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every flag's value for a user and why (no exposure is logged)."""
    attributes: dict[str, Any] = {}
    for item in attr or []:
        k, sep, v = item.partition("=")
        if not sep:
            raise fail(f"--attr expects key=value, got {item!r}")
        try:
            attributes[k] = json.loads(v)
        except json.JSONDecodeError:
            attributes[k] = v
    with runtime(events=False) as rt:
        done = guarded(
            lambda: service.evaluate_for_user(
                factory=rt.sessions,
                app_id=app,
                user_id=user,
                anonymous_id=anonymous,
                attributes=attributes,
                now=rt.clock(),
                settings=rt.settings,
                client=False,
                log_exposures=False,
            )
        )
        assert done is not None
        result, _ = done
    if as_json:
        typer.echo(json.dumps(result.details, ensure_ascii=False, indent=2))
        return
    table = Table("flag", "value", "source", "rule", "experiment", "variant")
    for k, d in result.details.items():
        table.add_row(
            k,
            escape(json.dumps(d["value"], ensure_ascii=False)),
            d["source"],
            d["rule_id"] or "-",
            d["experiment"] or "-",
            d["variant"] or "-",
        )
    out.print(table)
