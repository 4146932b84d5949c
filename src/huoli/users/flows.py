"""Users' work that calls WeChat: the call happens before the unit of work opens, so no transaction (and no
SQLite write lock) is held while WeChat answers."""

from __future__ import annotations

from huoli.apps.models import App
from huoli.auth import service as auth
from huoli.auth.service import MiniProgramUser
from huoli.runtime import Runtime
from huoli.users import service
from huoli.work import Caller, open_work


def login(runtime: Runtime, app: App, *, code: str, anonymous_id: str | None) -> service.LoginResult:
    wx = service.exchange_code(runtime.wechat_for(app), code)
    with open_work(runtime, app, Caller("user")) as work:
        return service.record_login(work, wx=wx, anonymous_id=anonymous_id, secret_key=runtime.secret_key)


def logout(runtime: Runtime, app: App, session: MiniProgramUser) -> None:
    """Revoke the presented token (an expired one needs nothing); this process refuses it once committed."""
    now = runtime.clock()
    if session.expires_at <= int(now.timestamp()):
        return
    with open_work(runtime, app, Caller("user", session.user_id), now=now) as work:
        auth.revoke_token(db=work.db, user=session, now=work.now)
    runtime.revocations.add_token(session)  # after the commit: never refuse a logout that was rolled back
