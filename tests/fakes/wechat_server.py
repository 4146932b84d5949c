"""A fake WeChat server API (``api.weixin.qq.com``) over real HTTP, for tests.

A FastAPI app served by uvicorn in a background thread on ``127.0.0.1`` (random free port). It
speaks the documented request/response shapes and error codes of the endpoints huoli uses:

* ``GET  /sns/jscode2session``           (40013, 40125, 40002, 40029, 40226, 45011)
* ``POST /cgi-bin/stable_token``          (40002, 41002, 40013, 41004, 40125, 40164, 45009)
* ``POST /cgi-bin/message/subscribe/send`` (40003, 40037, 41030, 47003, 43101)
* ``POST /wxa/getuserriskrank``           (40013, 40003, 43104, 40097)
* ``POST /cgi-bin/openapi/quota/get``     (API quota of a path; a plain target for ``call()``)

Every token-protected endpoint answers 41001 (no token), 40014 (malformed token), 40001 (unknown,
revoked or rejected token) and 42001 (expired token), and honours daily quotas (45009).

Test controls: register apps/users/codes/templates, expire/revoke/reject tokens, advance the server
clock, fail the next N requests (-1 busy, HTTP 502, non-JSON, hang), and inspect per-path call
counts (``calls``) and recorded requests (``requests``).

Use it through the pytest fixture ``fake_wechat`` (state reset for every test, default app
:data:`DEFAULT_APPID` registered) -- import ``fake_wechat`` and ``fake_wechat_server`` from this
module into a conftest -- or as a context manager: ``with FakeWeChat() as fake: ...``.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from huoli.wechat import WeChatClient

__all__ = [
    "DEFAULT_APPID",
    "DEFAULT_PAGES",
    "DEFAULT_SECRET",
    "FailureKind",
    "FakeWeChat",
    "RecordedRequest",
    "fake_wechat",
    "fake_wechat_server",
]

DEFAULT_APPID = "wxfake00000000001"
DEFAULT_SECRET = "fake-app-secret-0123456789abcdef"
DEFAULT_PAGES = ("pages/index/index",)

JSCODE2SESSION = "/sns/jscode2session"
STABLE_TOKEN = "/cgi-bin/stable_token"
SUBSCRIBE_SEND = "/cgi-bin/message/subscribe/send"
USER_RISK_RANK = "/wxa/getuserriskrank"
QUOTA_GET = "/cgi-bin/openapi/quota/get"

_TOKEN_PREFIX = "FAKE_AT_"
_EARLY_RENEW_S = 300  # WeChat renews a stable token 5 min before expiry; both stay valid meanwhile.

FailureKind = Literal["busy", "http502", "garbage", "hang", "slow"]


@dataclass
class RecordedRequest:
    """One request the fake received (secrets included: this is a test double)."""

    method: str
    path: str
    query: dict[str, str]
    json: Any


@dataclass
class _Token:
    value: str
    appid: str
    expires_at: float  # server clock
    revoked: bool = False


@dataclass
class _App:
    appid: str
    secret: str
    pages: set[str]
    users: dict[str, str | None] = field(default_factory=dict)  # openid -> unionid
    codes: dict[str, str] = field(default_factory=dict)  # code -> openid (single use)
    templates: dict[str, tuple[str, ...]] = field(default_factory=dict)  # id -> keywords
    credits: Counter[tuple[str, str]] = field(default_factory=Counter)  # (openid, template) -> n
    risk_ranks: dict[str, int] = field(default_factory=dict)
    ip_whitelist: set[str] | None = None
    current_token: str | None = None


@dataclass
class _Failure:
    kind: FailureKind
    remaining: int
    path: str | None
    delay: float


# --- subscribe message value rules (per keyword type, from WeChat's template parameter rules) ---

_CJK = r"\u4e00-\u9fff"


def _len_ok(limit: int) -> Callable[[str], bool]:
    return lambda v: 0 < len(v) <= limit


_VALUE_RULES: dict[str, Callable[[str], bool]] = {
    "thing": _len_ok(20),  # <= 20 chars of Chinese, digits, letters or symbols
    "number": lambda v: len(v) <= 32 and re.fullmatch(r"-?\d+(\.\d+)?", v) is not None,
    "letter": lambda v: re.fullmatch(r"[A-Za-z]{1,32}", v) is not None,
    "symbol": lambda v: 0 < len(v) <= 5 and not any(ch.isalnum() for ch in v),
    "character_string": lambda v: 0 < len(v) <= 32 and v.isascii() and v.isprintable(),
    "time": lambda v: re.search(r"\d{1,2}:\d{2}", v) is not None and len(v) <= 64,
    "date": lambda v: re.search(r"\d{4}\D\d{1,2}\D\d{1,2}", v) is not None and len(v) <= 64,
    "amount": lambda v: re.fullmatch(r"[^\d\s.]?\d{1,12}(\.\d{1,2})?元?", v) is not None,
    "phone_number": lambda v: 0 < len(v) <= 17 and re.fullmatch(r"[\d+\-() ]+", v) is not None,
    "car_number": lambda v: 0 < len(v) <= 8,
    "name": lambda v: (
        (re.fullmatch(rf"[{_CJK}·A-Za-z]{{1,10}}", v) is not None)
        or (re.fullmatch(r"[A-Za-z .'-]{1,20}", v) is not None)
    ),
    "phrase": lambda v: re.fullmatch(rf"[{_CJK}]{{1,5}}", v) is not None,
}


def _keyword_type(key: str) -> str:
    return key.rstrip("0123456789")


def _rid() -> str:
    return f"{secrets.token_hex(4)}-{secrets.token_hex(4)}-{secrets.token_hex(4)}"


def _err(errcode: int, errmsg: str, status: int = 200) -> JSONResponse:
    return JSONResponse({"errcode": errcode, "errmsg": f"{errmsg} rid: {_rid()}"}, status_code=status)


class FakeWeChat:
    """Fake WeChat API server. Thread-safe controls; see the module docstring."""

    def __init__(self, *, token_expires_in: int = 7200, login_rate_limit: int = 100) -> None:
        self._lock = threading.RLock()
        self.token_expires_in = token_expires_in
        self.login_rate_limit = login_rate_limit
        self._clock_offset = 0.0
        self._apps: dict[str, _App] = {}
        self._tokens: dict[str, _Token] = {}
        self._rejected_tokens: set[str] = set()
        self._reject_all_tokens = False
        self._blocked_logins: set[str] = set()
        self._login_times: dict[str, deque[float]] = {}
        self._quotas: dict[str, int] = {}
        self._quota_used: Counter[str] = Counter()
        self._failures: list[_Failure] = []
        self._code_seq = 0
        self._http_clients: list[httpx.Client] = []
        self.calls: Counter[str] = Counter()
        self.requests: list[RecordedRequest] = []
        self.app = self._build_app()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("FakeWeChat is not running; call start() or use it as a context manager")
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> FakeWeChat:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-wechat", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("fake WeChat server failed to start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._close_clients()
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None
        self._port = None

    def __enter__(self) -> FakeWeChat:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget all apps, tokens, codes, failures, counters; restore default settings."""
        self._close_clients()
        with self._lock:
            self.token_expires_in = 7200
            self.login_rate_limit = 100
            self._clock_offset = 0.0
            self._apps.clear()
            self._tokens.clear()
            self._rejected_tokens.clear()
            self._reject_all_tokens = False
            self._blocked_logins.clear()
            self._login_times.clear()
            self._quotas.clear()
            self._quota_used.clear()
            self._failures.clear()
            self.calls.clear()
            self.requests.clear()

    def client(
        self,
        appid: str = DEFAULT_APPID,
        secret: str | None = None,
        *,
        clock: Callable[[], float] | None = None,
        timeout: float = 5.0,
    ) -> WeChatClient:
        """A real :class:`WeChatClient` pointed at this fake (closed on reset/stop)."""
        if secret is None:
            with self._lock:
                app = self._apps.get(appid)
                secret = app.secret if app else DEFAULT_SECRET
        http = httpx.Client(timeout=timeout)
        self._http_clients.append(http)
        return WeChatClient(appid, secret, self.url, http=http, clock=clock)

    def _close_clients(self) -> None:
        clients, self._http_clients = self._http_clients, []
        for http in clients:
            http.close()

    # ------------------------------------------------------------------ controls: data

    def register_app(
        self,
        appid: str = DEFAULT_APPID,
        secret: str = DEFAULT_SECRET,
        *,
        pages: Iterable[str] = DEFAULT_PAGES,
    ) -> None:
        with self._lock:
            self._apps[appid] = _App(appid=appid, secret=secret, pages=set(pages))

    def add_user(self, openid: str, unionid: str | None = None, *, appid: str = DEFAULT_APPID) -> None:
        with self._lock:
            self._app(appid).users[openid] = unionid

    def issue_code(
        self, openid: str, unionid: str | None = None, *, appid: str = DEFAULT_APPID, code: str | None = None
    ) -> str:
        """Make a single-use ``wx.login()`` code for ``openid`` (the user becomes known to the app)."""
        with self._lock:
            app = self._app(appid)
            if code is None:
                self._code_seq += 1
                code = f"code-{self._code_seq:06d}-{secrets.token_hex(4)}"
            app.users[openid] = unionid
            app.codes[code] = openid
            return code

    def add_template(self, template_id: str, keywords: Iterable[str], *, appid: str = DEFAULT_APPID) -> None:
        """Register a subscribe template; keyword names carry their type, e.g. ``thing1``, ``time2``."""
        keys = tuple(keywords)
        unknown = [k for k in keys if _keyword_type(k) not in _VALUE_RULES]
        if unknown:
            raise ValueError(f"unknown keyword types: {unknown}")
        with self._lock:
            self._app(appid).templates[template_id] = keys

    def grant_subscription(
        self, openid: str, template_id: str, times: int = 1, *, appid: str = DEFAULT_APPID
    ) -> None:
        """The user accepted ``wx.requestSubscribeMessage`` ``times`` times (one message each)."""
        with self._lock:
            self._app(appid).credits[(openid, template_id)] += times

    def subscription_credits(self, openid: str, template_id: str, *, appid: str = DEFAULT_APPID) -> int:
        with self._lock:
            return self._app(appid).credits[(openid, template_id)]

    def set_risk_rank(self, openid: str, rank: int, *, appid: str = DEFAULT_APPID) -> None:
        with self._lock:
            self._app(appid).risk_ranks[openid] = rank

    def block_login(self, openid: str) -> None:
        """jscode2session for this user answers 40226 (high-risk user, login blocked)."""
        with self._lock:
            self._blocked_logins.add(openid)

    def set_ip_whitelist(self, ips: Iterable[str] | None, *, appid: str = DEFAULT_APPID) -> None:
        """stable_token from an IP outside the whitelist answers 40164 (``None`` = no whitelist)."""
        with self._lock:
            self._app(appid).ip_whitelist = set(ips) if ips is not None else None

    def set_daily_quota(self, path: str, limit: int) -> None:
        """Calls to ``path`` beyond ``limit`` (from now on) answer 45009."""
        with self._lock:
            self._quotas[path] = limit
            self._quota_used[path] = 0

    # ------------------------------------------------------------------ controls: tokens & time

    def current_token(self, appid: str = DEFAULT_APPID) -> str | None:
        with self._lock:
            return self._app(appid).current_token

    def advance_time(self, seconds: float) -> None:
        """Move the server clock forward (token expiry is judged on it)."""
        with self._lock:
            self._clock_offset += seconds

    def expire_tokens(self, appid: str = DEFAULT_APPID) -> None:
        """Every token of the app is now expired: calls get 42001, stable_token issues a new one."""
        with self._lock:
            now = self._now()
            for tok in self._tokens.values():
                if tok.appid == appid:
                    tok.expires_at = min(tok.expires_at, now - 1)

    def revoke_tokens(self, appid: str = DEFAULT_APPID) -> None:
        """As if someone force-refreshed elsewhere: calls get 40001, stable_token issues a new one."""
        with self._lock:
            for tok in self._tokens.values():
                if tok.appid == appid:
                    tok.revoked = True
            self._app(appid).current_token = None

    def reject_token(self, token: str) -> None:
        """Calls with ``token`` get 40001 although stable_token (normal mode) still hands it out;
        only a ``force_refresh`` replaces it (a leaked/broken token)."""
        with self._lock:
            self._rejected_tokens.add(token)

    def reject_all_tokens(self, reject: bool = True) -> None:
        """Every call with any token (even freshly issued ones) gets 40001."""
        with self._lock:
            self._reject_all_tokens = reject

    # ------------------------------------------------------------------ controls: failures

    def fail_next(
        self, n: int = 1, kind: FailureKind = "busy", *, path: str | None = None, delay: float = 1.0
    ) -> None:
        """The next ``n`` requests (to ``path``, or any path) fail without touching state.

        ``busy``: ``{"errcode": -1}``; ``http502``: HTTP 502 with an HTML body; ``garbage``: HTTP 200
        with an HTML body; ``hang``: answer -1 only after ``delay`` seconds (to trigger timeouts);
        ``slow``: not a failure -- wait ``delay`` seconds, then handle the request normally.
        """
        with self._lock:
            self._failures.append(_Failure(kind=kind, remaining=n, path=path, delay=delay))

    def call_count(self, path: str) -> int:
        with self._lock:
            return self.calls[path]

    # ------------------------------------------------------------------ internals

    def _now(self) -> float:
        return time.monotonic() + self._clock_offset

    def _app(self, appid: str) -> _App:
        try:
            return self._apps[appid]
        except KeyError:
            raise KeyError(f"app {appid!r} is not registered with the fake (register_app first)") from None

    def _new_token(self, app: _App) -> _Token:
        value = f"{_TOKEN_PREFIX}{secrets.token_hex(24)}"
        tok = _Token(value=value, appid=app.appid, expires_at=self._now() + self.token_expires_in)
        self._tokens[value] = tok
        app.current_token = value
        return tok

    async def _intake(self, request: Request) -> tuple[Any, Response | None]:
        """Count and record the request, parse its JSON body, apply injected failures."""
        body = await request.body()
        try:
            payload: Any = json.loads(body) if body else None
        except ValueError:
            payload = ValueError
        path = request.url.path
        failure: _Failure | None = None
        with self._lock:
            self.calls[path] += 1
            self.requests.append(
                RecordedRequest(
                    method=request.method,
                    path=path,
                    query=dict(request.query_params),
                    json=None if payload is ValueError else payload,
                )
            )
            for f in self._failures:
                if f.remaining > 0 and (f.path is None or f.path == path):
                    f.remaining -= 1
                    failure = f
                    break
            self._failures = [f for f in self._failures if f.remaining > 0]
        if failure is None:
            if payload is ValueError:
                return None, _err(47001, "data format error hint: invalid json")
            return payload, None
        if failure.kind == "http502":
            return None, PlainTextResponse(
                "<html><body><h1>502 Bad Gateway</h1></body></html>", status_code=502, media_type="text/html"
            )
        if failure.kind == "garbage":
            return None, PlainTextResponse("<html>maintenance</html>", media_type="text/html")
        if failure.kind == "slow":
            await asyncio.sleep(failure.delay)
            if payload is ValueError:
                return None, _err(47001, "data format error hint: invalid json")
            return payload, None
        if failure.kind == "hang":
            await asyncio.sleep(failure.delay)
        return None, _err(-1, "system error")

    def _check_token(self, request: Request) -> tuple[_App | None, Response | None]:
        """Validate ``access_token`` and the path's daily quota. Call with the lock held."""
        value = request.query_params.get("access_token")
        if not value:
            return None, _err(41001, "access_token missing")
        if not value.startswith(_TOKEN_PREFIX):
            return None, _err(40014, "invalid access_token")
        tok = self._tokens.get(value)
        if tok is None or tok.revoked or value in self._rejected_tokens or self._reject_all_tokens:
            return None, _err(
                40001,
                "invalid credential, access_token is invalid or not latest, could get access_token by "
                "getStableAccessToken, more details at https://mmbizurl.cn/s/JtxxFh33r",
            )
        if self._now() >= tok.expires_at:
            return None, _err(42001, "access_token expired")
        quota_error = self._use_quota(request.url.path)
        if quota_error is not None:
            return None, quota_error
        return self._apps[tok.appid], None

    def _use_quota(self, path: str) -> Response | None:
        limit = self._quotas.get(path)
        if limit is not None and self._quota_used[path] >= limit:
            return _err(45009, "reach max api daily quota limit")
        self._quota_used[path] += 1
        return None

    # ------------------------------------------------------------------ the HTTP app

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="fake WeChat API", openapi_url=None, docs_url=None, redoc_url=None)

        @app.get(JSCODE2SESSION)
        async def jscode2session(request: Request) -> Response:
            _, early = await self._intake(request)
            if early is not None:
                return early
            q = request.query_params
            with self._lock:
                appid, secret, code = q.get("appid", ""), q.get("secret", ""), q.get("js_code", "")
                if not appid:
                    return _err(41002, "appid missing")
                app_ = self._apps.get(appid)
                if app_ is None:
                    return _err(40013, "invalid appid")
                if not secret:
                    return _err(41004, "appsecret missing")
                if secret != app_.secret:
                    return _err(40125, "invalid appsecret")
                if q.get("grant_type") != "authorization_code":
                    return _err(40002, "invalid grant_type")
                openid = app_.codes.get(code)
                if openid is None:
                    return _err(40029, f"invalid code, hint: [{secrets.token_hex(6)}]")
                if openid in self._blocked_logins:
                    return _err(40226, "high risk user, login blocked")
                window = self._login_times.setdefault(openid, deque())
                now = self._now()
                while window and now - window[0] >= 60:
                    window.popleft()
                if len(window) >= self.login_rate_limit:
                    return _err(45011, "api minute-quota reach limit  mustslower  retry next minute")
                window.append(now)
                del app_.codes[code]  # single use
                result: dict[str, Any] = {"session_key": secrets.token_urlsafe(16), "openid": openid}
                unionid = app_.users.get(openid)
                if unionid:
                    result["unionid"] = unionid
            # Like the real API: a JSON body labelled text/plain.
            return PlainTextResponse(json.dumps(result), media_type="text/plain")

        @app.post(STABLE_TOKEN)
        async def stable_token(request: Request) -> Response:
            payload, early = await self._intake(request)
            if early is not None:
                return early
            if not isinstance(payload, dict):
                return _err(44002, "empty post data")
            with self._lock:
                if payload.get("grant_type") != "client_credential":
                    return _err(40002, "invalid grant_type")
                appid, secret = payload.get("appid"), payload.get("secret")
                if not appid:
                    return _err(41002, "appid missing")
                app_ = self._apps.get(appid)
                if app_ is None:
                    return _err(40013, "invalid appid")
                if not secret:
                    return _err(41004, "appsecret missing")
                if secret != app_.secret:
                    return _err(40125, "invalid appsecret")
                client_ip = request.client.host if request.client else ""
                if app_.ip_whitelist is not None and client_ip not in app_.ip_whitelist:
                    return _err(40164, f"invalid ip {client_ip}, not in whitelist")
                force = payload.get("force_refresh", False)
                if not isinstance(force, bool):
                    return _err(40097, "invalid args: force_refresh must be a boolean")
                quota_error = self._use_quota(STABLE_TOKEN)
                if quota_error is not None:
                    return quota_error
                current = self._tokens.get(app_.current_token or "")
                now = self._now()
                if force:
                    if current is not None:
                        current.revoked = True
                    current = self._new_token(app_)
                elif current is None or current.revoked or current.expires_at - now <= _EARLY_RENEW_S:
                    current = self._new_token(app_)
                expires_in = int(current.expires_at - now)
            return JSONResponse({"access_token": current.value, "expires_in": expires_in})

        @app.post(SUBSCRIBE_SEND)
        async def subscribe_send(request: Request) -> Response:
            payload, early = await self._intake(request)
            if early is not None:
                return early
            with self._lock:
                app_, token_error = self._check_token(request)
                if token_error is not None or app_ is None:
                    return token_error or _err(-1, "system error")
                if not isinstance(payload, dict):
                    return _err(44002, "empty post data")
                touser = payload.get("touser")
                if not isinstance(touser, str) or touser not in app_.users:
                    return _err(40003, "invalid openid")
                template_id = payload.get("template_id")
                if not isinstance(template_id, str) or template_id not in app_.templates:
                    return _err(40037, "invalid template_id")
                page = payload.get("page")
                if page is not None and (
                    not isinstance(page, str) or page.split("?", 1)[0].lstrip("/") not in app_.pages
                ):
                    return _err(41030, "invalid page")
                if payload.get("miniprogram_state", "formal") not in ("developer", "trial", "formal"):
                    return _err(40097, "invalid args: miniprogram_state")
                if payload.get("lang", "zh_CN") not in ("zh_CN", "en_US", "zh_HK", "zh_TW"):
                    return _err(40097, "invalid args: lang")
                data = payload.get("data")
                if not isinstance(data, dict):
                    return _err(47003, "argument invalid! data is empty")
                for key in app_.templates[template_id]:
                    item = data.get(key)
                    value = item.get("value") if isinstance(item, dict) else None
                    if not isinstance(value, str) or not value:
                        return _err(47003, f"argument invalid! data.{key}.value is empty")
                    if not _VALUE_RULES[_keyword_type(key)](value):
                        return _err(47003, f"argument invalid! data.{key}.value invalid")
                credit_key = (touser, template_id)
                if app_.credits[credit_key] <= 0:
                    return _err(43101, "user refuse to accept the msg")
                app_.credits[credit_key] -= 1
            return JSONResponse({"errcode": 0, "errmsg": "ok", "msgid": secrets.randbelow(10**12)})

        @app.post(USER_RISK_RANK)
        async def get_user_risk_rank(request: Request) -> Response:
            payload, early = await self._intake(request)
            if early is not None:
                return early
            with self._lock:
                app_, token_error = self._check_token(request)
                if token_error is not None or app_ is None:
                    return token_error or _err(-1, "system error")
                if not isinstance(payload, dict):
                    return _err(44002, "empty post data")
                if payload.get("appid") != app_.appid:
                    return _err(40013, "invalid appid")
                openid = payload.get("openid")
                if not isinstance(openid, str) or openid not in app_.users:
                    if any(openid in other.users for other in self._apps.values()):
                        return _err(43104, "appid and openid not match")
                    return _err(40003, "invalid openid")
                if payload.get("scene") not in (0, 1) or not payload.get("client_ip"):
                    return _err(40097, "invalid args")
                rank = app_.risk_ranks.get(openid, 0)
            return JSONResponse(
                {"errcode": 0, "errmsg": "getuserriskrank succ", "risk_rank": rank, "unoin_id": 1}
            )

        @app.post(QUOTA_GET)
        async def quota_get(request: Request) -> Response:
            payload, early = await self._intake(request)
            if early is not None:
                return early
            with self._lock:
                _, token_error = self._check_token(request)
                if token_error is not None:
                    return token_error
                cgi_path = payload.get("cgi_path") if isinstance(payload, dict) else None
                if not isinstance(cgi_path, str) or not cgi_path.startswith("/"):
                    return _err(40097, "invalid args: cgi_path")
                limit = self._quotas.get(cgi_path, 500_000)
                used = self._quota_used[cgi_path]
            quota = {"daily_limit": limit, "used": used, "remain": max(limit - used, 0)}
            return JSONResponse({"errcode": 0, "errmsg": "ok", "quota": quota})

        return app


# ---------------------------------------------------------------------- pytest fixtures


@pytest.fixture(scope="session")
def fake_wechat_server() -> Iterator[FakeWeChat]:
    """One fake WeChat server for the whole session (use ``fake_wechat`` in tests)."""
    with FakeWeChat() as server:
        yield server


@pytest.fixture
def fake_wechat(fake_wechat_server: FakeWeChat) -> FakeWeChat:
    """The fake WeChat server, reset, with :data:`DEFAULT_APPID`/:data:`DEFAULT_SECRET` registered."""
    fake_wechat_server.reset()
    fake_wechat_server.register_app()
    return fake_wechat_server
