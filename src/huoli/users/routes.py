"""Mini-program login."""

from __future__ import annotations

from fastapi import APIRouter

from huoli.db import unit_of_work
from huoli.deps import MiniProgramAppDep, RuntimeDep
from huoli.users import service
from huoli.users.schemas import WechatLoginIn, WechatLoginOut

router = APIRouter(tags=["auth"])


@router.post("/v1/auth/wechat", response_model=WechatLoginOut)
def wechat_login(body: WechatLoginIn, runtime: RuntimeDep, app: MiniProgramAppDep) -> WechatLoginOut:
    """Exchange a wx.login code for a huoli session token (openid and session_key stay on the server)."""
    client = runtime.wechat_for(app)
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        result = service.login_with_wechat(
            db=db,
            app=app,
            code=body.code,
            anonymous_id=body.anonymous_id,
            wechat=client,
            settings=runtime.settings,
            secret_key=runtime.secret_key,
            now=runtime.clock(),
        )
    return WechatLoginOut(
        token=result.token, user_id=result.user_id, expires_at=result.expires_at, is_new=result.is_new
    )
