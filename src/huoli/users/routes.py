"""Mini-program login and logout; operators find members and end a user's sessions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlalchemy import event

from huoli.apps.schemas import Role
from huoli.deps import (
    AppDbDep,
    MiniProgramAppDep,
    OperatorWorkDep,
    PageDep,
    PresentedSessionDep,
    RuntimeDep,
    role_at_least,
)
from huoli.pagination import Page
from huoli.users import flows, service
from huoli.users.schemas import SessionsRevokedOut, UserOut, WechatLoginIn, WechatLoginOut

router = APIRouter(tags=["auth"])


@router.post("/v1/auth/wechat", response_model=WechatLoginOut)
def wechat_login(body: WechatLoginIn, runtime: RuntimeDep, app: MiniProgramAppDep) -> WechatLoginOut:
    """Exchange a wx.login code for a huoli session token (openid and session_key stay on the server)."""
    result = flows.login(runtime, app, code=body.code, anonymous_id=body.anonymous_id)
    return WechatLoginOut(
        token=result.token, user_id=result.user_id, expires_at=result.expires_at, is_new=result.is_new
    )


@router.post("/v1/auth/logout", status_code=204, response_class=Response)
def logout(runtime: RuntimeDep, app: MiniProgramAppDep, session: PresentedSessionDep) -> Response:
    """Revoke the presented session token: this process refuses it at once, every other process within
    HUOLI_REVOCATION_CACHE_TTL_S (401 revoked_token). Idempotent; an expired token needs nothing."""
    flows.logout(runtime, app, session)
    return Response(status_code=204)


@router.get(
    "/admin/users", response_model=Page[UserOut], tags=["admin"], dependencies=[role_at_least(Role.analyst)]
)
def list_users(
    db: AppDbDep,
    page: PageDep,
    q: Annotated[str | None, Query(max_length=128, description="user id or openid prefix")] = None,
) -> Page[UserOut]:
    """The app's mini-program members, newest first (first login), or those whose user id or openid starts
    with `q`: how the console finds a member."""
    rows, cursor = service.search(db, page, q.strip() if q else None)
    return Page(items=[UserOut.model_validate(u, from_attributes=True) for u in rows], next_cursor=cursor)


@router.post(
    "/admin/users/{user_id}/revoke-sessions",
    response_model=SessionsRevokedOut,
    tags=["admin"],
    dependencies=[role_at_least(Role.operator)],
)
def revoke_sessions(user_id: str, work: OperatorWorkDep, runtime: RuntimeDep) -> SessionsRevokedOut:
    """End every session of a user (a stolen phone, a banned account): tokens issued up to now are refused by
    every process within HUOLI_REVOCATION_CACHE_TTL_S; the user's next login works. Recorded in the audit trail."""
    row = service.revoke_sessions(db=work.db, user_id=user_id, now=work.now, ttl=work.settings.session_ttl)

    def applied(_session: Any) -> None:
        runtime.revocations.add(row)  # after the commit (the unit commits when this function returns)

    event.listen(work.db, "after_commit", applied, once=True)
    return SessionsRevokedOut(user_id=row.user_id, revoked_before=row.revoked_at)
