"""Privacy requests across every store (PIPL art. 45 access and art. 47 deletion), for the API and the CLI.

Export: every domain's rows about the user (one read of the operational database) and their events from the
event store, recorded as a completed request with row counts.

Erasure, in order, so that a failure at any step leaves a record and can simply be run again:
1. the request is recorded as running (its own commit: a crash later still leaves a trace);
2. writes the domains queued off the request path are flushed (hooks' `settle`); then one unit of work erases
   the user from every domain (domains.domain_modules("privacy")), ends their sessions and adds the audit entry
   — all of it commits, or none;
3. the event store: under the rollup lock, acknowledged events still in the journal are loaded, the person's
   events (their user id and the device ids they used before logging in) are deleted, then their rows of the
   analytics rollups;
4. the request is recorded as completed with the counts (or failed, with the error's first line).
"""

from __future__ import annotations

from typing import Any

from huoli.analytics import privacy as rollups
from huoli.apps import service as apps
from huoli.audit import service as audit
from huoli.auth import service as auth
from huoli.db import unit_of_work
from huoli.events import privacy as events
from huoli.privacy import service
from huoli.privacy.models import PrivacyRequest
from huoli.runtime import Runtime
from huoli.users import privacy as users

FORMAT = "huoli.privacy.export/1"


def export_in(db: Any, runtime: Runtime, *, app_id: str, user_id: str, actor: audit.Actor) -> dict[str, Any]:
    """The user's data as one JSON-ready document, recorded in `db` (the caller's unit of work)."""
    now = runtime.clock()
    operational = service.export_operational(db, app_id=app_id, user_id=user_id)
    person = events.identify(
        runtime.store,
        app_id=app_id,
        user_id=user_id,
        known=users.anonymous_ids(db, app_id=app_id, user_id=user_id),
    )
    stored = events.export_events(runtime.store, person)
    counts = {"operational": service.export_counts(operational), "event_store": {"events": len(stored)}}
    row = service.start(
        db, app_id=app_id, kind="export", user_id=user_id, actor=actor, now=now, status="completed"
    )
    service.finish(db, row.id, status="completed", result=counts, now=now)
    return {
        "format": FORMAT,
        "request_id": row.id,
        "app_id": app_id,
        "user_id": user_id,
        "generated_at": now.isoformat(),
        "identities": {"user_id": user_id, "anonymous_ids": list(person.anonymous_ids)},
        "operational": operational,
        "events": stored,
    }


def erase(runtime: Runtime, *, app_id: str, user_id: str, actor: audit.Actor, action: str) -> PrivacyRequest:
    """Erase the user everywhere (module docstring); returns the completed request. Idempotent: erasing again
    finds nothing and records zeros."""
    with unit_of_work(runtime.sessions, app_id=app_id) as db:
        apps.get(db=db, app_id=app_id)
        request_id = service.start(
            db, app_id=app_id, kind="erasure", user_id=user_id, actor=actor, now=runtime.clock()
        ).id
    result: dict[str, Any] = {}
    try:
        _erase(runtime, request_id, app_id=app_id, user_id=user_id, actor=actor, action=action, result=result)
    except Exception as exc:
        first = (str(exc).splitlines() or [""])[0][:300]  # never the parameters a database error appends
        _finish(runtime, app_id, request_id, "failed", result, error=f"{type(exc).__name__}: {first}")
        raise
    return _finish(runtime, app_id, request_id, "completed", result)


def _erase(
    runtime: Runtime,
    request_id: int,
    *,
    app_id: str,
    user_id: str,
    actor: audit.Actor,
    action: str,
    result: dict[str, Any],
) -> None:
    now = runtime.clock()
    service.settle(runtime.sessions, app_id=app_id, user_id=user_id)
    with unit_of_work(runtime.sessions, app_id=app_id) as db:
        # Read before the users domain deletes the row: their pre-login events carry this device id.
        known = users.anonymous_ids(db, app_id=app_id, user_id=user_id)
        operational = service.erase_operational(db, app_id=app_id, user_id=user_id)
        revoked = None
        if operational.get("users", {}).get("users"):
            # Tokens already issued would go on writing under the same user id: the next call needs a login.
            revoked = auth.revoke_user_sessions(
                db=db, app_id=app_id, user_id=user_id, now=now, ttl=runtime.settings.session_ttl
            )
        # No row changes in the entry (the unit of work is not tracked): they would copy the erased data.
        audit.record(
            db, app_id=app_id, actor=actor, action=action, at=now, target={"privacy_request": request_id}
        )
    result["operational"] = operational
    result["sessions_revoked"] = revoked is not None
    if revoked is not None:
        runtime.revocations.add(revoked)  # after the commit: this process refuses the tokens at once
    person = events.identify(runtime.store, app_id=app_id, user_id=user_id, known=known)
    result["anonymous_ids"] = len(person.anonymous_ids)
    with rollups.held(runtime.store):
        footprint = rollups.footprint(runtime.store, person)
        result["event_store"] = {"events": events.erase_events(runtime.store, person)}
        result["rollups"] = rollups.erase_rollups(runtime.store, person, footprint)


def _finish(
    runtime: Runtime,
    app_id: str,
    request_id: int,
    status: str,
    result: dict[str, Any],
    error: str | None = None,
) -> PrivacyRequest:
    with unit_of_work(runtime.sessions, app_id=app_id) as db:
        return service.finish(db, request_id, status=status, result=result, now=runtime.clock(), error=error)
