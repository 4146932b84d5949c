"""`huoli staff create-owner`: the first person of an app, from the machine the server runs on."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated

import typer
from pydantic import BaseModel

from huoli.apps import service as apps
from huoli.apps.schemas import Role
from huoli.audit import service as audit
from huoli.cli_support import database, guarded, out
from huoli.db import make_session_factory, unit_of_work
from huoli.staff import service
from huoli.staff.schemas import NewPassword, Username

CLI_NAME = "staff"
cli = typer.Typer(help="Staff accounts: people who sign in to the console.", no_args_is_help=True)
PASSWORD_ENV = "HUOLI_STAFF_PASSWORD"


class _NewOwner(BaseModel):
    username: Username
    password: NewPassword


@cli.command("create-owner")
def create_owner(
    app_id: Annotated[str, typer.Option("--app", help="The app the person owns.")],
    username: Annotated[str, typer.Option(help="Their sign-in name.")],
) -> None:
    """Create a person with the owner role in an app. The password comes from HUOLI_STAFF_PASSWORD or a
    prompt (never an argument: it would stay in the shell history)."""
    password = os.environ.get(PASSWORD_ENV) or typer.prompt(
        "Password (at least 10 characters)", hide_input=True, confirmation_prompt=True
    )
    spec = guarded(lambda: _NewOwner(username=username, password=password))
    now = datetime.now(UTC)
    with (
        database() as (_settings, engine, _keyring),
        unit_of_work(make_session_factory(engine), app_id=app_id) as db,
    ):
        guarded(lambda: apps.get(db=db, app_id=app_id))
        audit.track(db)
        member = guarded(
            lambda: service.add_member(
                db, app_id=app_id, username=spec.username, password=spec.password, role=Role.owner, now=now
            )
        )
        member_id = member.id
        audit.record(
            db,
            app_id=app_id,
            actor=audit.Actor.cli(),
            action="cli staff create-owner",
            at=now,
            request={"username": spec.username},
        )
    out.print(f"staff member {spec.username} ({member_id}) is an owner of {app_id}; sign in at /console")
