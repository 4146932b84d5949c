"""The public sign-in steps, each its own unit of work: a failed sign-in must commit its throttle count even
though the request fails, which a route's unit (rolled back on error) cannot do."""

from __future__ import annotations

from huoli.audit import service as audit
from huoli.db import read_only, unit_of_work
from huoli.runtime import Runtime
from huoli.staff import service
from huoli.staff.schemas import InvitationAccept, LoginIn, LoginOut, ResetIn, StaffMe


def login(runtime: Runtime, body: LoginIn, *, ip: str | None, user_agent: str | None) -> LoginOut:
    now = runtime.clock()
    keys = service.throttle_keys(body.username, ip)
    failure: service.LoginFailure | None = None
    with unit_of_work(runtime.sessions) as db:
        service.check_not_locked(db, keys, now)  # raises: nothing written, no password checked
        outcome = service.authenticate(db, body, now)
        if isinstance(outcome, service.LoginFailure):
            failure = outcome
            if outcome.counts:
                service.record_failure(db, keys, now)
        else:
            service.clear_failures(db, outcome.username)
            row, token = service.open_session(db, outcome, now, ip=ip, user_agent=user_agent)
            result = LoginOut(token=token, expires_at=row.expires_at, staff=service.me(db, outcome))
    if failure is not None:
        raise failure.error  # after the commit: the count stays
    return result


def logout(runtime: Runtime, token: str) -> None:
    with unit_of_work(runtime.sessions) as db:
        service.end_session(db, token, runtime.clock())


def me(runtime: Runtime, token: str) -> StaffMe:
    with read_only(runtime.sessions) as db:
        _, member = service.authenticate_session(db, token, runtime.clock())
        return service.me(db, member)


def accept_invitation(
    runtime: Runtime, token: str, body: InvitationAccept, *, ip: str | None, user_agent: str | None
) -> LoginOut:
    """Claim the invitation and sign the new member in; the app's audit trail names them."""
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as db:
        audit.track(db)
        member, app_id, role = service.accept_invitation(
            db, token, username=body.username, password=body.password, now=now
        )
        row, session_token = service.open_session(db, member, now, ip=ip, user_agent=user_agent)
        audit.record(
            db,
            app_id=app_id,
            actor=audit.Actor(kind="staff", id=member.id, role=role.value),
            action="POST /v1/staff/invitations/{token}/accept",
            at=now,
            target={"username": member.username},
            ip=ip,
        )
        return LoginOut(token=session_token, expires_at=row.expires_at, staff=service.me(db, member))


def reset_password(runtime: Runtime, token: str, body: ResetIn, *, ip: str | None) -> None:
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as db:
        audit.track(db)
        member, app_id = service.reset_password(db, token, body.password, now)
        audit.record(
            db,
            app_id=app_id,
            actor=audit.Actor(kind="staff", id=member.id),
            action="POST /v1/staff/reset/{token}",
            at=now,
            target={"username": member.username},
            ip=ip,
        )
