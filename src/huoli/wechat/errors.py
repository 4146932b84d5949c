"""Errors raised by :mod:`huoli.wechat.client`.

Every failure of a WeChat call surfaces as a :class:`WeChatError`:

* a WeChat *business* error (the response carried a non-zero ``errcode``) keeps WeChat's
  ``errcode`` and ``errmsg``;
* a *transport* failure (timeout, connection error, HTTP 5xx, a body that is not a JSON object)
  is a :class:`WeChatUnavailable` whose ``errcode`` is ``None``.

``retryable`` says whether sending the *same* request again later (with backoff) may succeed.
The client never retries on its own except for the one token refresh on 40001/40014/42001.

Messages never contain the AppSecret, a ``session_key`` or an ``access_token``: the client
redacts them from WeChat's ``errmsg`` before building the exception, and transport failures are
raised without chaining the underlying httpx exception (whose request URL can carry ``secret=``).
"""

from __future__ import annotations

import re
from typing import Any

# Only codes documented by WeChat for the APIs this package calls (jscode2session, stable_token,
# subscribe message send, getuserriskrank) plus the global access-token codes.
ERROR_MESSAGES: dict[int, str] = {
    -1: "system busy, retry later",
    40001: "invalid credential: access_token invalid or not latest (or AppSecret wrong when fetching one)",
    40002: "invalid grant_type",
    40003: "invalid openid (touser)",
    40013: "invalid appid",
    40014: "invalid access_token",
    40029: "invalid js_code (expired, already used or not from this appid)",
    40037: "invalid template_id",
    40097: "invalid request arguments",
    40125: "invalid appsecret",
    40164: "caller IP not in the API IP whitelist",
    40226: "high-risk user: mini-program login blocked",
    41030: "invalid page: it must exist in the released mini-program (app.json)",
    42001: "access_token expired",
    43101: "user refused the message (not subscribed, subscription used up or cancelled)",
    43104: "appid and openid do not match",
    45009: "API daily quota reached",
    45011: "API frequency limit reached (jscode2session: 100 calls per minute per user)",
    47003: "invalid template data (a value is empty or breaks its keyword type rule)",
    48001: "API not authorized for this appid",
    61010: "openid expired: the user has not visited the mini-program in the last 30 minutes",
    89501: "this IP is waiting for the administrator's confirmation",
    89503: "calls from this IP need the administrator's confirmation",
    89506: "this IP was refused twice by the administrator within 24 h; retry after 24 h",
    89507: "this IP was refused by the administrator within 1 h; retry after 1 h",
}

#: Codes where the same request may succeed later: system busy, per-minute frequency limit.
RETRYABLE_ERRCODES: frozenset[int] = frozenset({-1, 45011})

#: Codes meaning "this access_token is no good": the client refreshes the token once and retries.
TOKEN_ERRCODES: frozenset[int] = frozenset({40001, 40014, 42001})

_RID_RE = re.compile(r"rid:\s*([0-9A-Za-z-]+)")


class WeChatError(Exception):
    """A WeChat API call failed.

    Attributes:
        errcode: WeChat's ``errcode``; ``None`` for transport failures (see :class:`WeChatUnavailable`).
        errmsg: WeChat's ``errmsg`` (secrets redacted), or a description of the transport failure.
        retryable: whether the same request may succeed if sent again later.
        api: the API path that failed, e.g. ``/sns/jscode2session``.
        http_status: the HTTP status code, when a response was received.
        rid: WeChat's request id parsed from ``errmsg`` (quote it to WeChat support), if any.
    """

    def __init__(
        self,
        errcode: int | None,
        errmsg: str = "",
        *,
        retryable: bool | None = None,
        api: str | None = None,
        http_status: int | None = None,
    ) -> None:
        self.errcode = errcode
        self.errmsg = errmsg
        self.retryable = (errcode in RETRYABLE_ERRCODES) if retryable is None else retryable
        self.api = api
        self.http_status = http_status
        match = _RID_RE.search(errmsg)
        self.rid: str | None = match.group(1) if match else None
        super().__init__(self._format())

    @property
    def description(self) -> str | None:
        """Human description of ``errcode`` from :data:`ERROR_MESSAGES`, if the code is documented."""
        return ERROR_MESSAGES.get(self.errcode) if self.errcode is not None else None

    def _format(self) -> str:
        where = f" on {self.api}" if self.api else ""
        head = f"WeChat error {self.errcode}" if self.errcode is not None else "WeChat unavailable"
        if self.description:
            head += f" ({self.description})"
        status = f" [HTTP {self.http_status}]" if self.http_status is not None else ""
        return f"{head}{where}{status}: {self.errmsg}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(errcode={self.errcode!r}, errmsg={self.errmsg!r}, "
            f"retryable={self.retryable!r}, api={self.api!r}, http_status={self.http_status!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep the exception picklable (e.g. across process pools) despite keyword-only arguments.
        return (
            _rebuild_error,
            (type(self), self.errcode, self.errmsg, self.retryable, self.api, self.http_status),
        )


class WeChatUnavailable(WeChatError):
    """WeChat could not be reached or answered garbage: timeout, connection error, HTTP 5xx, non-JSON.

    ``errcode`` is ``None``; ``retryable`` defaults to True (False only for e.g. an HTTP 4xx, which
    points at a misconfigured base URL rather than a passing fault).
    """

    def __init__(
        self,
        errmsg: str,
        *,
        retryable: bool = True,
        api: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(None, errmsg, retryable=retryable, api=api, http_status=http_status)


def _rebuild_error(
    cls: type[WeChatError],
    errcode: int | None,
    errmsg: str,
    retryable: bool,
    api: str | None,
    http_status: int | None,
) -> WeChatError:
    if issubclass(cls, WeChatUnavailable):
        return cls(errmsg, retryable=retryable, api=api, http_status=http_status)
    return cls(errcode, errmsg, retryable=retryable, api=api, http_status=http_status)
