"""First run: the first app of a fresh local server, created from the console before any key exists.

An unauthenticated request has no operator unit of work to receive (deps.py opens one per key), so the two
units open here, where a domain may open them (tests/test_work.py).
"""

from __future__ import annotations

from huoli.apps import service
from huoli.apps.schemas import AppCreated, FirstRunStatus, NewApp
from huoli.audit import service as audit
from huoli.db import read_only, unit_of_work
from huoli.errors import Conflict, Forbidden
from huoli.runtime import Runtime


def first_run_status(runtime: Runtime, *, local: bool) -> FirstRunStatus:
    if not local:  # no database read for a remote caller: it learns nothing about this server
        return FirstRunStatus(available=False, reason="not_local")
    with read_only(runtime.sessions) as db:
        return service.first_run_status(db=db, local=True)


def first_run_create(runtime: Runtime, app_in: NewApp, *, local: bool, ip: str | None) -> AppCreated:
    """Create the first app and its owner key; refused once any app exists or when not asked from this machine.
    On SQLite the unit's BEGIN IMMEDIATE makes the "no app yet" check and the insert one step."""
    if not local:
        raise Forbidden(
            "creating the first app without a key is only possible from the server's own machine "
            "(http://127.0.0.1); elsewhere use huoli apps create and huoli keys create",
            code="first_run_not_local",
        )
    with unit_of_work(runtime.sessions) as db:
        if not service.first_run_status(db=db, local=True).available:
            raise Conflict(
                "an app exists already: sign in with one of its owner keys to create more apps",
                code="first_run_done",
            )
        audit.track(db)
        actor = audit.Actor(kind="first_run", id=ip or "local", role="owner")
        app, row, key = service.create_with_owner(
            db=db, app_in=app_in, actor=actor, at=runtime.clock(), ip=ip
        )
        return service.created(app, row, key)  # read before the unit closes and expires the rows
