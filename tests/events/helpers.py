"""Builders for event payloads and signed requests, shared by the event tests."""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from huoli.auth.service import sign_request


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def event(name: str = "page_view", *, at: datetime | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "name": name,
        "ts": ms(at or datetime.now(UTC)),
        "anonymous_id": "anon-1",
        "session_id": "s1",
    }
    if name in ("page_view", "page_leave", "perf"):
        body["page"] = "pages/index/index"
    if name == "page_leave":
        body["properties"] = {"duration_ms": 1200}
    if name == "perf":
        body["properties"] = {"load_ms": 800}
    body.update(fields)
    return body


def signed_headers(
    app_id: str, secret: str, path: str, body: bytes, *, ts: int | None = None, nonce: str | None = None
) -> dict[str, str]:
    timestamp = str(ts if ts is not None else int(time.time()))
    nonce = nonce or secrets.token_hex(8)
    return {
        "Content-Type": "application/json",
        "X-Huoli-App-Id": app_id,
        "X-Huoli-Timestamp": timestamp,
        "X-Huoli-Nonce": nonce,
        "X-Huoli-Signature": sign_request(
            secret=secret, method="POST", path=path, timestamp=timestamp, nonce=nonce, body=body
        ),
    }


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)
