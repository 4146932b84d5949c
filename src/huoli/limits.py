"""Request limits applied before any route runs: the body size every route accepts, and request rates.

A pure ASGI middleware (no BaseHTTPMiddleware): it costs one header scan per request on the hot paths.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)


class BodyLimit:
    """413 for a body over the limit of its path: at once when Content-Length says so, else as soon as the
    streamed bytes pass it — a route never reads more than its limit into memory (signed routes included,
    which read the body to check the signature before anything else)."""

    def __init__(self, app: ASGIApp, *, default: int, per_path: Mapping[str, int]) -> None:
        self.app = app
        self.default = default
        self.per_path = dict(per_path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope["path"], self.default)
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > limit:
                    await _too_large(send, limit)
                    return
                break
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # a chunked body without a length: stop reading here
                    raise HTTPException(413, f"request body larger than {limit} bytes")
            return message

        await self.app(scope, limited, send)


async def _too_large(send: Send, limit: int) -> None:
    body = orjson.dumps(
        {
            "code": "payload_too_large",
            "message": f"request body larger than {limit} bytes",
            "details": {"limit_bytes": limit},
        }
    )
    headers: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    # the body is left unread: close the connection rather than read or skip it
    headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@dataclass(frozen=True)
class Rate:
    """`per_s` requests a second on average, with bursts of up to `per_s * burst_s` at once."""

    per_s: float
    burst_s: float

    @property
    def interval(self) -> float:
        return 1.0 / self.per_s

    @property
    def tolerance(self) -> float:
        return self.interval * max(self.per_s * self.burst_s - 1, 0)


class Gcra:
    """The generic cell rate algorithm (a token bucket kept as one timestamp per caller): O(1) memory per key.
    Runs on the event loop only, so it needs no lock."""

    MAX_KEYS = 200_000

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._tat: dict[tuple[str, str], float] = {}

    def check(self, key: tuple[str, str], rate: Rate) -> float:
        """0 when the request may pass (and is counted), else the seconds until it would."""
        now = self.clock()
        tat = max(self._tat.get(key, now), now)
        allowed_at = tat - rate.tolerance
        if now < allowed_at:
            return allowed_at - now
        self._tat[key] = tat + rate.interval
        if len(self._tat) > self.MAX_KEYS:  # forget callers whose bucket is full again
            self._tat = {k: v for k, v in self._tat.items() if v > now}
        return 0.0


class RedisGcra:
    """The same algorithm with the timestamps in Redis, so `serve --workers N` and several machines share one
    bucket per caller. One Lua call per check, on Redis's clock (processes' clocks may disagree). When Redis
    fails or answers slower than `timeout_s`, the check falls back to this process's own bucket: a limiter
    must not take the service down with it."""

    # KEYS[1]: the bucket; ARGV: interval, tolerance (seconds). Returns "0" (counted) or the seconds to wait.
    SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
if now < tat - tolerance then return tostring(tat - tolerance - now) end
local new_tat = tat + interval
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return '0'
"""

    def __init__(self, url: str, *, prefix: str = "huoli:rl:", timeout_s: float = 0.1) -> None:
        self.url = url
        self.prefix = prefix
        self.timeout_s = timeout_s
        self.local = Gcra()
        self._warned_at = -math.inf
        self._loop: asyncio.AbstractEventLoop | None = None
        self._script: Any = None

    def _script_for_this_loop(self) -> Any:
        # an asyncio Redis client's connections belong to one event loop (a test client starts a new one)
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            import redis.asyncio as aioredis

            client = aioredis.Redis.from_url(
                self.url, socket_timeout=self.timeout_s, socket_connect_timeout=self.timeout_s
            )
            self._loop, self._script = loop, client.register_script(self.SCRIPT)
        return self._script

    async def check(self, key: tuple[str, str], rate: Rate) -> float:
        try:
            script = self._script_for_this_loop()
            wait = await asyncio.wait_for(
                script(keys=[f"{self.prefix}{key[0]}:{key[1]}"], args=[rate.interval, rate.tolerance]),
                self.timeout_s * 2,
            )
            return float(wait)
        except (RedisError, OSError, TimeoutError) as exc:
            if time.monotonic() - self._warned_at > 60:  # one line a minute while Redis is away
                self._warned_at = time.monotonic()
                log.warning("rate limits: Redis unavailable (%s); counting in this process", exc)
            return self.local.check(key, rate)


@dataclass(frozen=True)
class RateLimits:
    admin_per_key: Rate | None
    admin_per_ip: Rate | None
    v1_per_ip: Rate | None
    login_per_ip: Rate | None
    exempt_ips: frozenset[str] = frozenset()


LOGIN_PATH = "/v1/auth/wechat"


class RateLimit:
    """429 with Retry-After for a caller over its rate: operator keys and client IPs on /admin, client IPs on
    /v1 (the login tighter: it is public with only an app id). Per process unless `shared` (Redis) is given:
    then one bucket per caller across every process and machine."""

    def __init__(
        self, app: ASGIApp, *, limits: RateLimits, gcra: Gcra | None = None, shared: RedisGcra | None = None
    ) -> None:
        self.app = app
        self.limits = limits
        self.gcra = gcra or Gcra()
        self.shared = shared

    def _checks(self, scope: Scope) -> list[tuple[str, tuple[str, str], Rate]]:
        path: str = scope["path"]
        client = scope.get("client")
        ip = client[0] if client else ""
        by_ip = ip not in self.limits.exempt_ips
        lim = self.limits
        checks: list[tuple[str, tuple[str, str], Rate]] = []
        if path.startswith("/admin"):
            key = _key_id(scope)
            if key and lim.admin_per_key:
                checks.append(("key", ("admin-key", key), lim.admin_per_key))
            if by_ip and lim.admin_per_ip:
                checks.append(("ip", ("admin-ip", ip), lim.admin_per_ip))
        elif path.startswith("/v1/") and by_ip:
            if path == LOGIN_PATH and lim.login_per_ip:
                checks.append(("ip", ("login-ip", ip), lim.login_per_ip))
            if lim.v1_per_ip:
                checks.append(("ip", ("v1-ip", ip), lim.v1_per_ip))
        return checks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for kind, key, rate in self._checks(scope):
                wait = await self.shared.check(key, rate) if self.shared else self.gcra.check(key, rate)
                if wait > 0:
                    await _too_many(send, kind, rate, wait)
                    return
        await self.app(scope, receive, send)


def _key_id(scope: Scope) -> str | None:
    """The operator key's id (hlk_<id>.<secret>) without checking it: a made-up key only spends its own
    bucket, and the per-IP limit covers callers who make up many."""
    for name, value in scope["headers"]:
        if name in (b"authorization", b"x-huoli-key"):
            cred = value.decode("latin-1").removeprefix("Bearer ").removeprefix("bearer ").strip()
            if cred.startswith("hlk_"):
                return cred[4:].partition(".")[0][:64] or None
    return None


async def _too_many(send: Send, kind: str, rate: Rate, wait: float) -> None:
    retry = max(1, math.ceil(wait))
    body = orjson.dumps(
        {
            "code": "rate_limited",
            "message": f"too many requests for this {'API key' if kind == 'key' else 'address'}; retry later",
            "details": {"scope": kind, "limit_per_s": rate.per_s, "retry_after_s": retry},
        }
    )
    headers: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(retry).encode()),
    ]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})
