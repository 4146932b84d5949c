"""`huoli privacy …`: export a user's data, erase it, list past requests (the API's flows, from a shell)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

# Defined before importing huoli.cli: under `python -m huoli.cli` that import re-runs the root module, which
# mounts this domain's (partially imported) `cli` — it must already exist then.
CLI_NAME = "privacy"
cli = typer.Typer(
    help="Privacy requests (PIPL): a user's data exported, or erased from every store.", no_args_is_help=True
)

from huoli.apps import service as apps  # noqa: E402
from huoli.audit import service as audit  # noqa: E402
from huoli.cli import err, fail, guarded, out, runtime  # noqa: E402
from huoli.db import unit_of_work  # noqa: E402
from huoli.privacy import flows, service  # noqa: E402

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
    with runtime() as rt, unit_of_work(rt.sessions, app_id=app) as db:
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
