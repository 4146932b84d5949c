"""The one place in huoli that talks to WeChat's server API (``api.weixin.qq.com``).

One :class:`WeChatClient` per mini-program (appid). It is thread-safe: share one instance between
threads; the access token is cached in memory and fetched by one caller while the others wait.

Secrets: the AppSecret, ``session_key`` values and access tokens are never put in exception
messages or reprs, and the ``httpx`` request log line (which contains the full URL, hence
``secret=``/``access_token=`` query parameters) is redacted by a logging filter this module installs
on the ``httpx`` logger.
"""

from __future__ import annotations

import json as jsonlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from huoli.wechat.errors import TOKEN_ERRCODES, WeChatError, WeChatUnavailable

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "TOKEN_SAFETY_MARGIN_S",
    "WeChatClient",
    "WxSession",
]

DEFAULT_BASE_URL = "https://api.weixin.qq.com"
#: 5 s to connect, 10 s for everything else (WeChat usually answers in well under a second).
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
#: Treat a token as expired this long before WeChat says it does.
TOKEN_SAFETY_MARGIN_S = 300.0

JSCODE2SESSION_PATH = "/sns/jscode2session"
STABLE_TOKEN_PATH = "/cgi-bin/stable_token"
SUBSCRIBE_SEND_PATH = "/cgi-bin/message/subscribe/send"
USER_RISK_RANK_PATH = "/wxa/getuserriskrank"

MiniprogramState = Literal["developer", "trial", "formal"]
_MINIPROGRAM_STATES = frozenset({"developer", "trial", "formal"})
_LANGS = frozenset({"zh_CN", "en_US", "zh_HK", "zh_TW"})
_SECRET_QUERY_KEYS = frozenset({"secret", "access_token", "js_code", "session_key"})
_REDACTED = "***"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WxSession:
    """Result of ``code2session``. ``session_key`` is hidden from ``repr``/``str``; never log it."""

    openid: str
    session_key: str = field(repr=False)
    unionid: str | None = None


@dataclass
class _CachedToken:
    value: str
    expires_at: float  # on the client's clock


class WeChatClient:
    """Client for one mini-program's WeChat server API.

    Args:
        appid: the mini-program's AppID.
        secret: its AppSecret. Never logged, never put into exceptions.
        base_url: API origin, ``https://api.weixin.qq.com`` by default (tests point it at a fake).
        http: an ``httpx.Client`` to use (tests, custom transports/proxies). When omitted the client
            creates and owns one with :data:`DEFAULT_TIMEOUT`; :meth:`close` only closes an owned one.
        clock: monotonic clock in seconds used for token expiry (tests inject a fake one).
        timeout: timeout for the owned ``httpx.Client`` (ignored when ``http`` is given).
    """

    def __init__(
        self,
        appid: str,
        secret: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        http: httpx.Client | None = None,
        clock: Callable[[], float] | None = None,
        timeout: httpx.Timeout | float | None = None,
    ) -> None:
        if not appid:
            raise ValueError("appid is required")
        if not secret:
            raise ValueError("secret is required")
        self.appid = appid
        self._secret = secret
        self.base_url = base_url.rstrip("/")
        self._owns_http = http is None
        self._http = (
            http
            if http is not None
            else httpx.Client(timeout=timeout if timeout is not None else DEFAULT_TIMEOUT)
        )
        self._clock: Callable[[], float] = clock if clock is not None else time.monotonic
        self._token_lock = threading.Lock()
        self._token: _CachedToken | None = None
        # Tokens seen recently (current and replaced ones), so they can be redacted from errmsg.
        self._known_tokens: list[str] = []
        _install_httpx_log_redaction()

    def __repr__(self) -> str:
        return f"WeChatClient(appid={self.appid!r}, base_url={self.base_url!r})"

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the underlying ``httpx.Client`` if this client created it."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> WeChatClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- login ---------------------------------------------------------------------------------

    def code2session(self, js_code: str) -> WxSession:
        """Exchange a ``wx.login()`` code for the user's openid/session_key (``/sns/jscode2session``).

        Raises:
            WeChatError: 40029 invalid/used code, 45011 frequency limit (retryable), 40226 high-risk
                user blocked, -1 system busy (retryable), 40013/40125 bad appid/secret.
            WeChatUnavailable: transport failure.
        """
        if not js_code:
            raise ValueError("js_code is required")
        params = {
            "appid": self.appid,
            "secret": self._secret,
            "js_code": js_code,
            "grant_type": "authorization_code",
        }
        body = self._send("GET", JSCODE2SESSION_PATH, params=params, redact=(js_code,))
        openid = body.get("openid")
        session_key = body.get("session_key")
        if not isinstance(openid, str) or not openid or not isinstance(session_key, str) or not session_key:
            raise WeChatUnavailable(
                "malformed jscode2session response: openid/session_key missing",
                retryable=False,
                api=JSCODE2SESSION_PATH,
            )
        unionid = body.get("unionid")
        return WxSession(
            openid=openid,
            session_key=session_key,
            unionid=unionid if isinstance(unionid, str) and unionid else None,
        )

    # -- access token --------------------------------------------------------------------------

    def get_access_token(self, force_refresh: bool = False) -> str:
        """Return a valid access token from the stable token API (``/cgi-bin/stable_token``).

        Cached in memory until ``expires_in - 300 s``; concurrent callers share one fetch.

        ``force_refresh=True`` bypasses the cache *and* asks WeChat to mint a new token, which
        invalidates the previous one for every holder. WeChat allows this only ~20 times a day (30 s
        apart), so use it only when a token leaked; :meth:`call` handles invalid tokens by itself.
        """
        with self._token_lock:
            if not force_refresh and self._token is not None and self._clock() < self._token.expires_at:
                return self._token.value
            return self._fetch_token_locked(force_refresh=force_refresh)

    def _fetch_token_locked(self, *, force_refresh: bool) -> str:
        body = self._send(
            "POST",
            STABLE_TOKEN_PATH,
            json={
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self._secret,
                "force_refresh": force_refresh,
            },
        )
        token = body.get("access_token")
        expires_in = body.get("expires_in")
        if (
            not isinstance(token, str)
            or not token
            or not isinstance(expires_in, int | float)
            or isinstance(expires_in, bool)
            or expires_in <= 0
        ):
            raise WeChatUnavailable(
                "malformed stable_token response: access_token/expires_in missing",
                retryable=False,
                api=STABLE_TOKEN_PATH,
            )
        # Normally expires_in - 300 s; for a (rare) short-lived token keep at least half its life.
        ttl = max(float(expires_in) - TOKEN_SAFETY_MARGIN_S, float(expires_in) / 2)
        self._token = _CachedToken(value=token, expires_at=self._clock() + ttl)
        self._remember_token(token)
        logger.debug(
            "wechat access_token fetched appid=%s ttl=%.0fs force=%s", self.appid, ttl, force_refresh
        )
        return token

    def _renew_token(self, rejected: str) -> str:
        """Replace ``rejected`` (a token WeChat just refused) and return the replacement.

        If another thread already replaced it, use that. Otherwise re-fetch in normal mode first
        (WeChat hands out the current valid token, which fixes expiry and tokens rotated elsewhere)
        and force a refresh only if WeChat hands back the very token it just refused.
        """
        with self._token_lock:
            current = self._token
            if current is not None and current.value != rejected and self._clock() < current.expires_at:
                return current.value
            self._token = None
            token = self._fetch_token_locked(force_refresh=False)
            if token == rejected:
                token = self._fetch_token_locked(force_refresh=True)
            return token

    def _remember_token(self, token: str) -> None:
        if token not in self._known_tokens:
            self._known_tokens.append(token)
            del self._known_tokens[:-4]

    # -- generic call --------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        with_token: bool = True,
    ) -> dict[str, Any]:
        """Call a JSON WeChat API and return the decoded response object (``errcode`` 0 or absent).

        With ``with_token`` the ``access_token`` query parameter is added; if WeChat answers 40001,
        40014 or 42001 the token is renewed once and the request retried once.

        Raises:
            WeChatError: non-zero ``errcode``.
            WeChatUnavailable: timeout, connection error, HTTP 5xx, non-JSON body.
        """
        if not with_token:
            return self._send(method, path, json=json, params=params)
        token = self.get_access_token()
        try:
            return self._send(method, path, json=json, params=params, token=token)
        except WeChatError as exc:
            if exc.errcode not in TOKEN_ERRCODES:
                raise
            logger.info("wechat %s rejected access_token (errcode %s); renewing once", path, exc.errcode)
        token = self._renew_token(token)
        return self._send(method, path, json=json, params=params, token=token)

    # -- features ------------------------------------------------------------------------------

    def send_subscribe_message(
        self,
        touser: str,
        template_id: str,
        data: Mapping[str, Mapping[str, str]],
        page: str | None = None,
        miniprogram_state: MiniprogramState = "formal",
        lang: str = "zh_CN",
    ) -> None:
        """Send a subscribe message (``/cgi-bin/message/subscribe/send``).

        ``data`` maps template keywords to ``{"value": ...}``, e.g. ``{"thing1": {"value": "Hi"}}``.

        Raises:
            WeChatError: 40003 bad openid, 40037 bad template id, 43101 user refused / no remaining
                subscription, 47003 bad template data, 41030 bad page, ...
        """
        if miniprogram_state not in _MINIPROGRAM_STATES:
            raise ValueError(f"miniprogram_state must be one of {sorted(_MINIPROGRAM_STATES)}")
        if lang not in _LANGS:
            raise ValueError(f"lang must be one of {sorted(_LANGS)}")
        body: dict[str, Any] = {
            "touser": touser,
            "template_id": template_id,
            "data": {key: dict(value) for key, value in data.items()},
            "miniprogram_state": miniprogram_state,
            "lang": lang,
        }
        if page:
            body["page"] = page
        self.call("POST", SUBSCRIBE_SEND_PATH, json=body)

    def get_user_risk_rank(self, openid: str, client_ip: str, scene: int = 1) -> int:
        """Return the user's risk rank 0 (safe) … 4 (riskiest) (``/wxa/getuserriskrank``).

        ``scene``: 0 registration, 1 marketing/cheating (default). ``client_ip``: the user's IP.
        """
        if scene not in (0, 1):
            raise ValueError("scene must be 0 (register) or 1 (marketing)")
        body = self.call(
            "POST",
            USER_RISK_RANK_PATH,
            json={"appid": self.appid, "openid": openid, "scene": scene, "client_ip": client_ip},
        )
        rank = body.get("risk_rank")
        if not isinstance(rank, int) or isinstance(rank, bool):
            raise WeChatUnavailable(
                "malformed getuserriskrank response: risk_rank missing",
                retryable=False,
                api=USER_RISK_RANK_PATH,
            )
        return rank

    # -- transport -----------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        token: str | None = None,
        redact: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """One HTTP exchange; returns the JSON object or raises WeChatError/WeChatUnavailable."""
        query: dict[str, Any] = dict(params or {})
        if token is not None:
            query["access_token"] = token
        url = f"{self.base_url}/{path.lstrip('/')}"
        content: bytes | None = None
        headers: dict[str, str] = {}
        if json is not None:
            # ensure_ascii=False: WeChat expects UTF-8 text in template values, not \\u escapes.
            content = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"

        # Failures are raised outside the ``except`` blocks on purpose: the httpx exception (and its
        # request, whose URL may carry secret=/access_token=) must not ride along as __context__.
        failure: str | None = None
        response: httpx.Response | None = None
        try:
            response = self._http.request(method, url, params=query or None, content=content, headers=headers)
        except httpx.TimeoutException as exc:
            failure = f"timeout ({type(exc).__name__})"
        except httpx.TransportError as exc:
            failure = f"transport error ({type(exc).__name__}: {exc})"
        except httpx.HTTPError as exc:
            failure = f"HTTP error ({type(exc).__name__}: {exc})"
        if failure is not None or response is None:
            raise WeChatUnavailable(self._redact(failure or "no response", redact), api=path)

        status = response.status_code
        try:
            body = jsonlib.loads(response.content)  # WeChat sometimes says text/plain for JSON
        except ValueError:
            body = None
        if status >= 500 or status == 429:
            raise WeChatUnavailable(f"HTTP {status} from WeChat", api=path, http_status=status)
        if not isinstance(body, dict):
            if status >= 400:
                raise WeChatUnavailable(
                    f"HTTP {status} from WeChat (check base_url)",
                    retryable=False,
                    api=path,
                    http_status=status,
                )
            ctype = response.headers.get("content-type", "?")
            raise WeChatUnavailable(f"non-JSON response (content-type {ctype})", api=path, http_status=status)

        errcode = body.get("errcode", 0)
        if errcode not in (0, None):
            errmsg = body.get("errmsg")
            raise WeChatError(
                _to_int(errcode),
                self._redact(str(errmsg) if errmsg is not None else "", redact),
                api=path,
                http_status=status,
            )
        if status >= 400:
            raise WeChatUnavailable(
                f"HTTP {status} from WeChat", retryable=False, api=path, http_status=status
            )
        return body

    def _redact(self, text: str, extra: tuple[str, ...] = ()) -> str:
        for secret in (self._secret, *self._known_tokens, *extra):
            if secret:
                text = text.replace(secret, _REDACTED)
        return text


def _to_int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value))
    except ValueError:
        return None


# -- log redaction for httpx ---------------------------------------------------------------------


def redact_url(url: object) -> str:
    """Return ``url`` as text with secret-bearing query values (secret, access_token, ...) masked."""
    parts = urlsplit(str(url))
    if not parts.query:
        return str(url)
    query = [
        (key, _REDACTED if key in _SECRET_QUERY_KEYS else value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query, safe="*")))


class _HttpxUrlRedactor(logging.Filter):
    """Masks secrets in the URL httpx logs at INFO level for every request."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(isinstance(a, httpx.URL) for a in args):
            record.args = tuple(redact_url(a) if isinstance(a, httpx.URL) else a for a in args)
        return True


_httpx_filter_lock = threading.Lock()
_httpx_filter: _HttpxUrlRedactor | None = None


def _install_httpx_log_redaction() -> None:
    global _httpx_filter
    with _httpx_filter_lock:
        if _httpx_filter is None:
            _httpx_filter = _HttpxUrlRedactor()
            logging.getLogger("httpx").addFilter(_httpx_filter)
