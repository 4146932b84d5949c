"""`huoli privacy …`: export a user's data, erase it, list past requests (the API's flows, from a shell); apply
the retention periods (retention.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from huoli.apps import service as apps
from huoli.audit import service as audit
from huoli.cli_support import database, err, fail, guarded, out, runtime
from huoli.db import make_session_factory, unit_of_work
from huoli.privacy import flows, retention, service
from huoli.runtime import system_clock

CLI_NAME = "privacy"
cli = typer.Typer(
    help="Privacy requests (PIPL): a user's data exported, or erased from every store.", no_args_is_help=True
)

AppOpt = Annotated[str, typer.Option("--app", help="App id.")]
UserOpt = Annotated[str, typer.Option("--user", help="The user id (as on events).")]


def _create_private(path: Path) -> int:
    """A new file only the current OS user can read (an export is personal data), made before the export runs."""
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise fail(f"{path} exists: choose a new file (an export never overwrites one)") from None
    except OSError as exc:
        raise fail(f"cannot write {path}: {exc.strerror}") from None


@cli.command("export")
def export(
    app: AppOpt,
    user: UserOpt,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write here (a new file, mode 0600); else stdout.")
    ] = None,
) -> None:
    """Everything huoli holds about a user, as JSON: each domain's rows and the user's events."""
    fd = _create_private(out_file) if out_file is not None else None
    try:
        with runtime() as rt, unit_of_work(rt.sessions, app_id=app) as db:
            guarded(lambda: apps.get(db=db, app_id=app))
            actor = audit.Actor.cli()
            data = flows.export_in(db, rt, app_id=app, user_id=user, actor=actor)
            target = {"privacy_request": data["request_id"]}
            audit.record(
                db, app_id=app, actor=actor, action="cli privacy export", at=rt.clock(), target=target
            )
    except BaseException:
        if fd is not None and out_file is not None:
            os.close(fd)
            out_file.unlink(missing_ok=True)  # nothing was exported: leave no empty file behind
        raise
    text = orjson.dumps(data, option=orjson.OPT_INDENT_2)
    if fd is None:
        typer.echo(text.decode())
    else:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text)
    tables = sum(1 for tables in data["operational"].values() for rows in tables.values() if rows)
    err.print(
        f"privacy request {data['request_id']}: {len(data['events'])} events, {tables} tables with rows"
        + (f" → {out_file}" if out_file else "")
    )


@cli.command("erase")
def erase(
    app: AppOpt,
    user: UserOpt,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: the erasure cannot be undone.")] = False,
) -> None:
    """Erase a user from every store: deleted, or anonymised where rows record money. Cannot be undone."""
    if not yes:
        err.print(f"erasing {user!r} of {app!r} cannot be undone: add --yes to confirm")
        raise typer.Exit(code=2)
    with runtime() as rt:
        row = guarded(
            lambda: flows.erase(
                rt, app_id=app, user_id=user, actor=audit.Actor.cli(), action="cli privacy erase"
            )
        )
    out.print(f"privacy request {row.id}: {row.status}")
    out.print(json.dumps(row.result, ensure_ascii=False, indent=2), highlight=False, soft_wrap=True)


@cli.command("requests")
def requests(
    app: AppOpt,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Past exports and erasures of the app, newest first."""
    with runtime(events=False) as rt, unit_of_work(rt.sessions, app_id=app) as db:
        rows = service.requests(db, limit=limit)
        if as_json:
            typer.echo(
                json.dumps(
                    [
                        {
                            "id": r.id,
                            "kind": r.kind,
                            "user_id": r.user_id,
                            "status": r.status,
                            "requested_by": f"{r.requested_by_kind}:{r.requested_by}",
                            "created_at": r.created_at.isoformat(),
                            "result": r.result,
                        }
                        for r in rows
                    ],
                    ensure_ascii=False,
                    indent=2,
                )
            )
            return
        table = Table("id", "kind", "user", "status", "by", "created")
        for r in rows:
            table.add_row(
                str(r.id),
                r.kind,
                r.user_id,
                r.status,
                f"{r.requested_by_kind}:{r.requested_by}",
                r.created_at.isoformat(timespec="seconds"),
            )
        out.print(table)


def _days(days: int) -> str:
    return f"{days} days" if days else "kept forever (0)"


@cli.command("retention")
def apply_retention(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would be deleted.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The result as JSON on stdout.")] = False,
) -> None:
    """Delete events and WeChat session keys past their retention periods (HUOLI_EVENT_RETENTION_DAYS,
    HUOLI_WX_SESSION_KEY_RETENTION_DAYS). Run daily; idempotent."""
    actor = audit.Actor.cli()
    now = system_clock()
    verb = "would delete" if dry_run else "deleted"
    # The keys need only the operational database: they are pruned beside `huoli serve` on any event store.
    with database() as (settings, engine, _keyring):
        days, key_days = settings.event_retention_days, settings.wx_session_key_retention_days
        if not as_json:
            out.print(f"retention: events {_days(days)}, WeChat session keys {_days(key_days)}")
        keys = guarded(
            lambda: retention.prune_session_keys(
                make_session_factory(engine), days=key_days, now=now, dry_run=dry_run, actor=actor
            )
        )
    if not as_json:
        if keys["enabled"]:
            out.print(f"WeChat session keys: {verb} {keys['total']:,} not refreshed since {keys['before']}")
        else:
            out.print("WeChat session keys: kept (wx_session_key_retention_days = 0)")
    events: dict[str, Any] = {"enabled": False, "days": 0}
    if days:
        # The event store is opened only when events have a retention period: by default this runs anywhere.
        with runtime() as rt:
            events = guarded(
                lambda: retention.prune_events(
                    rt.sessions, rt.store, days=days, now=now, dry_run=dry_run, actor=actor
                )
            )
        if not as_json:
            apps_done = events["apps"]
            for app_id, done in apps_done.items():
                rows = ", ".join(f"{t} {n:,}" for t, n in (done.get("rollups") or {}).items())
                out.print(
                    f"events of {app_id}: {verb} {done['events']:,} before {done['before']}"
                    + (f"; rollup rows deleted: {rows}" if rows else ""),
                    highlight=False,
                )
            if not apps_done:
                out.print("events: no apps")
    elif not as_json:
        out.print("events: kept (event_retention_days = 0)")
    if as_json:
        doc = {"dry_run": dry_run, "at": now.isoformat(), "wx_session_keys": keys, "events": events}
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=2))
