"""Request limits applied before any route runs: the body size every route accepts.

A pure ASGI middleware (no BaseHTTPMiddleware): it costs one header scan per request on the hot paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


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
