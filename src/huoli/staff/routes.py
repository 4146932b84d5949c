"""Staff accounts over HTTP: sign-in, invitations, resets, roles, sessions, TOTP. Thin: the rules are in
service.py, the public sign-in steps (their own units of work) in flows.py."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from huoli.apps.schemas import Role
from huoli.deps import (
    OperatorDep,
    OperatorWorkDep,
    PageDep,
    RuntimeDep,
    StaffTokenDep,
    role_at_least,
)
from huoli.errors import Forbidden
from huoli.pagination import Page
from huoli.staff import flows, service
from huoli.staff.schemas import (
    InvitationAccept,
    InvitationCreate,
    InvitationIssued,
    InvitationRead,
    LoginIn,
    LoginOut,
    Ok,
    ResetCreate,
    ResetIn,
    ResetIssued,
    Revoked,
    RoleUpdate,
    SessionRead,
    StaffMe,
    StaffMemberRead,
    TotpCodeIn,
    TotpEnrolment,
    TotpState,
)

public = APIRouter(prefix="/v1/staff", tags=["staff"])
admin = APIRouter(prefix="/admin/staff", tags=["admin"])
router = APIRouter()
OWNER = [role_at_least(Role.owner)]
ANALYST = [role_at_least(Role.analyst)]
_ERR: dict[int | str, dict[str, Any]] = {
    429: {"description": "Too many failed sign-ins (per username and per IP); see Retry-After."}
}


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _staff_id(op: OperatorDep) -> str:
    if op.kind != "staff":
        raise Forbidden("this needs a person's session, not an API key", code="staff_only")
    return op.key_id


@public.post("/login", response_model=LoginOut, responses=_ERR)
def login(body: LoginIn, request: Request, runtime: RuntimeDep) -> Any:
    """Sign in with username and password (and the TOTP code once enrolled). A wrong password and an unknown
    username answer alike (401 invalid_credentials); repeated failures answer 429 with Retry-After."""
    try:
        return flows.login(runtime, body, ip=_ip(request), user_agent=request.headers.get("user-agent"))
    except service.TooManyAttempts as exc:
        # Retry-After on the 429: the shared HuoliError handler sends no headers
        return JSONResponse(exc.to_dict(), status_code=429, headers={"Retry-After": str(exc.retry_after_s)})


@public.post("/logout", response_model=Ok)
def logout(token: StaffTokenDep, runtime: RuntimeDep) -> Ok:
    """End this session (an ended or unknown one is not an error)."""
    flows.logout(runtime, token)
    return Ok()


@public.get("/me", response_model=StaffMe)
def me(token: StaffTokenDep, runtime: RuntimeDep) -> StaffMe:
    """The signed-in person and their apps with a role in each (the console's app choice)."""
    return flows.me(runtime, token)


@public.post("/invitations/{token}/accept", response_model=LoginOut)
def accept_invitation(token: str, body: InvitationAccept, request: Request, runtime: RuntimeDep) -> LoginOut:
    """Once per invitation: a new account (username + password), or an existing account joining with its own
    password. Signs the member in."""
    return flows.accept_invitation(
        runtime, token, body, ip=_ip(request), user_agent=request.headers.get("user-agent")
    )


@public.post("/reset/{token}", response_model=Ok)
def reset_password(token: str, body: ResetIn, request: Request, runtime: RuntimeDep) -> Ok:
    """Set a new password with an owner's one-time reset token; every session of the member ends."""
    flows.reset_password(runtime, token, body, ip=_ip(request))
    return Ok()


# -- the signed-in person's own sessions and second factor (before /{staff_id} routes: matched in order) ------


@admin.get("/sessions", response_model=list[SessionRead], dependencies=ANALYST)
def my_sessions(work: OperatorWorkDep, op: OperatorDep) -> list[SessionRead]:
    """My live sessions, newest first; `current` marks this one."""
    return service.sessions_of(work.db, _staff_id(op), work.now, current=op.session_id)


@admin.delete("/sessions/{session_id}", response_model=SessionRead, dependencies=ANALYST)
def revoke_my_session(session_id: str, work: OperatorWorkDep, op: OperatorDep) -> SessionRead:
    return service.revoke_session(work.db, _staff_id(op), session_id, work.now)


@admin.delete("/sessions", response_model=Revoked, dependencies=ANALYST)
def revoke_my_sessions(
    work: OperatorWorkDep,
    op: OperatorDep,
    keep_current: Annotated[bool, Query(description="Keep this browser signed in.")] = False,
) -> Revoked:
    """Sign out everywhere (or everywhere else)."""
    keep = op.session_id if keep_current else None
    return Revoked(revoked=service.revoke_all(work.db, _staff_id(op), work.now, keep=keep))


@admin.post("/me/totp", response_model=TotpEnrolment, dependencies=ANALYST)
def totp_enrol(work: OperatorWorkDep, op: OperatorDep) -> TotpEnrolment:
    """Start a second factor: the secret (shown once) for the authenticator app; confirm with a code."""
    return service.totp_enrol(work.db, _staff_id(op))


@admin.post("/me/totp/confirm", response_model=TotpState, dependencies=ANALYST)
def totp_confirm(body: TotpCodeIn, work: OperatorWorkDep, op: OperatorDep) -> TotpState:
    service.totp_confirm(work.db, _staff_id(op), body.code, work.now)
    return TotpState(totp_enabled=True)


@admin.post("/me/totp/disable", response_model=TotpState, dependencies=ANALYST)
def totp_disable(body: TotpCodeIn, work: OperatorWorkDep, op: OperatorDep) -> TotpState:
    service.totp_disable(work.db, _staff_id(op), body.code, work.now)
    return TotpState(totp_enabled=False)


# -- the app's members (owners manage them) ---------------------------------------------------------------


@admin.get("", response_model=Page[StaffMemberRead], dependencies=ANALYST)
def list_members(work: OperatorWorkDep, page: PageDep) -> Page[StaffMemberRead]:
    """The app's members, in the order they joined."""
    items, cursor = service.members_page(work.db, page)
    return Page(items=items, next_cursor=cursor)


@admin.get("/invitations", response_model=Page[InvitationRead], dependencies=OWNER)
def list_invitations(work: OperatorWorkDep, page: PageDep) -> Page[InvitationRead]:
    items, cursor = service.invitations_page(work.db, page)
    return Page(items=items, next_cursor=cursor)


@admin.post("/invitations", response_model=InvitationIssued, status_code=201, dependencies=OWNER)
def invite(body: InvitationCreate, work: OperatorWorkDep, op: OperatorDep) -> InvitationIssued:
    """A one-time link for a new member with this role, valid 7 days; the token is in this response only."""
    read, token = service.invite(work.db, role=body.role, note=body.note, by=op.key_id, now=work.now)
    return InvitationIssued(**read.model_dump(), token=token)


@admin.delete("/invitations/{invitation_id}", response_model=InvitationRead, dependencies=OWNER)
def revoke_invitation(invitation_id: str, work: OperatorWorkDep) -> InvitationRead:
    return service.revoke_invitation(work.db, invitation_id, work.now)


@admin.post("/{staff_id}/reset", response_model=ResetIssued, status_code=201, dependencies=OWNER)
def issue_reset(staff_id: str, body: ResetCreate, work: OperatorWorkDep, op: OperatorDep) -> ResetIssued:
    """A one-time password reset token for a member (24 h; replaces an earlier one)."""
    token, expires = service.issue_reset(
        work.db, staff_id=staff_id, by=op.key_id, clear_totp=body.clear_totp, now=work.now
    )
    return ResetIssued(staff_id=staff_id, token=token, expires_at=expires)


@admin.put("/{staff_id}/role", response_model=StaffMemberRead, dependencies=OWNER)
def set_role(staff_id: str, body: RoleUpdate, work: OperatorWorkDep) -> StaffMemberRead:
    """Change a member's role here (never the app's last owner: 409 last_owner)."""
    return service.set_role(work.db, work.app_id, staff_id, body.role)


@admin.delete("/{staff_id}/sessions", response_model=Revoked, dependencies=OWNER)
def revoke_member_sessions(staff_id: str, work: OperatorWorkDep) -> Revoked:
    """Sign a member out everywhere, at once."""
    return Revoked(revoked=service.revoke_member_sessions(work.db, staff_id, work.now))


@admin.delete("/{staff_id}", response_model=StaffMemberRead, dependencies=OWNER)
def remove_member(staff_id: str, work: OperatorWorkDep) -> StaffMemberRead:
    """Remove a member from this app at once (their account stays for their other apps)."""
    return service.remove(work.db, work.app_id, staff_id)


router.routes.extend(
    [*public.routes, *admin.routes]
)  # flat, like every domain's (app.py dispatches over them)
