"""Mini-program users: login through WeChat, pseudonymous user ids, session tokens."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from huoli.apps.models import App
from huoli.auth import service as auth
from huoli.auth.models import SessionRevocation
from huoli.auth.service import issue_session_token
from huoli.db import insert_or_ignore
from huoli.errors import HuoliError, NotFound, Unauthorized, UpstreamUnavailable
from huoli.pagination import PageParams, paginate
from huoli.users.models import User, WxSessionKey
from huoli.wechat.client import WeChatClient, WxSession
from huoli.wechat.errors import WeChatError
from huoli.work import Work


def derive_user_id(app: App, openid: str) -> str:
    """Stable per app, not reversible to the openid: events never carry WeChat identifiers."""
    digest = hmac.new(app.id_salt.encode(), openid.encode(), hashlib.sha256).hexdigest()
    return f"u_{digest[:24]}"


@dataclass(frozen=True)
class LoginResult:
    token: str
    user_id: str
    expires_at: datetime
    is_new: bool


def exchange_code(wechat: WeChatClient, code: str) -> WxSession:
    """Exchange a wx.login code with WeChat (jscode2session), outside any transaction: WeChat's errors
    become ours (401 invalid_code, 503 upstream, 429 rate_limited)."""
    try:
        return wechat.code2session(code)
    except WeChatError as exc:
        if exc.retryable:
            raise UpstreamUnavailable(
                "WeChat is unavailable; retry", details={"errcode": exc.errcode}
            ) from exc
        if exc.errcode in (40029, 40163):
            raise Unauthorized(
                "invalid or used wx.login code", code="invalid_code", details={"errcode": exc.errcode}
            ) from exc
        if exc.errcode == 45011:
            raise HuoliError(
                "too many logins; slow down", code="rate_limited", details={"errcode": exc.errcode}
            ) from exc
        raise HuoliError(
            f"WeChat refused the login: {exc.errmsg}", code="wechat_error", details={"errcode": exc.errcode}
        ) from exc


def record_login(work: Work, *, wx: WxSession, anonymous_id: str | None, secret_key: str) -> LoginResult:
    """The user WeChat vouched for: created on first login, its session_key kept here, a session token."""
    db, app, now = work.db, work.app, work.now
    user_id = derive_user_id(app, wx.openid)
    # Two first logins of one user can race: the unique (app_id, openid) key decides, not a prior SELECT.
    is_new = insert_or_ignore(
        db,
        User,
        {
            "id": user_id,
            "app_id": app.id,
            "openid": wx.openid,
            "unionid": wx.unionid,
            "first_anonymous_id": anonymous_id,
            "created_at": now,
            "last_login_at": now,
        },
        # No conflict target: the id is derived from the openid, so a racing twin can clash on the primary
        # key before (app_id, openid) is checked, and PostgreSQL only forgives clashes on a named target.
        None,
    )
    user = db.scalars(select(User).where(User.openid == wx.openid)).one()
    if not is_new:
        user.last_login_at = now
        if wx.unionid and not user.unionid:
            user.unionid = wx.unionid
    if not insert_or_ignore(
        db,
        WxSessionKey,
        {"user_id": user.id, "app_id": app.id, "session_key": wx.session_key, "updated_at": now},
        ["user_id"],
    ):
        key = db.get(WxSessionKey, user.id)
        if key is None:  # retention deleted the stale key meanwhile (prune_session_keys): store it again
            db.add(WxSessionKey(user_id=user.id, app_id=app.id, session_key=wx.session_key, updated_at=now))
        else:
            key.session_key = wx.session_key
            key.updated_at = now
    db.flush()
    # The login event links the device's anonymous id to the user, so analytics can stitch pre-login events.
    work.emit(
        "login",
        key=f"login:{user.id}:{now.isoformat()}",
        user_id=user.id,
        anonymous_id=anonymous_id,
        properties={"new_user": is_new},
    )
    token, expires = issue_session_token(
        secret=secret_key,
        app_id=app.id,
        user_id=user.id,
        now=now,
        ttl=work.settings.session_ttl,
    )
    return LoginResult(token=token, user_id=user.id, expires_at=expires, is_new=is_new)


@dataclass(frozen=True)
class UserFacts:
    openid: str
    created_at: datetime


def user_facts(db: Session, user_id: str) -> UserFacts | None:
    """The openid (for WeChat's risk rank) and first-login time (new-user rules) of a mini-program user of the
    session's app, or None for an unknown one."""
    row = db.execute(select(User.openid, User.created_at).where(User.id == user_id)).first()
    return UserFacts(openid=row[0], created_at=row[1]) if row else None


def search(db: Session, page: PageParams, q: str | None = None) -> tuple[list[User], str | None]:
    """One page of the session's app's members, newest first: those whose user id or openid starts with `q`
    (literally: `_` and `%` in an id match themselves), or all."""
    stmt = select(User)
    if q:
        stmt = stmt.where(
            or_(User.id.startswith(q, autoescape=True), User.openid.startswith(q, autoescape=True))
        )
    return paginate(db, stmt, page, order=[User.created_at.desc(), User.id.desc()])


def revoke_sessions(*, db: Session, user_id: str, now: datetime, ttl: timedelta) -> SessionRevocation:
    """An operator ends every session of a user of the session's app: tokens issued up to now stop working."""
    user = db.scalar(select(User).where(User.id == user_id))  # app-scoped: another app's user is unknown here
    if user is None:
        raise NotFound(f"unknown user {user_id!r}", code="unknown_user")
    return auth.revoke_user_sessions(db=db, app_id=user.app_id, user_id=user.id, now=now, ttl=ttl)


def prune_session_keys(*, db: Session, older_than: datetime, dry_run: bool = False) -> dict[str, int]:
    """WeChat session keys no login refreshed since `older_than` (retention, privacy/retention.py), per app:
    deleted, or with dry_run only counted. A login refreshing one meanwhile keeps it (the delete re-checks)."""
    stale = WxSessionKey.updated_at < older_than
    found = db.execute(select(WxSessionKey.app_id, func.count()).where(stale).group_by(WxSessionKey.app_id))
    counts = {str(app_id): int(n) for app_id, n in found}
    if dry_run:
        return counts
    for app_id in counts:
        gone = db.execute(
            delete(WxSessionKey).where(WxSessionKey.app_id == app_id, stale),
            execution_options={"synchronize_session": False},
        )
        counts[app_id] = int(getattr(gone, "rowcount", 0) or 0)
    return counts
