"""Builders for event payloads and signed requests, and reads of what a test wrote (rows, logged events),
shared by the event, orders and catalog tests."""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import func, select

from huoli.auth.service import sign_request
from huoli.db import unit_of_work
from huoli.events.models import OutboxEvent
from huoli.runtime import Runtime


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


def count(runtime: Runtime, app_id: str, model: Any, *where: Any) -> int:
    with unit_of_work(runtime.sessions, app_id=app_id) as db:
        return int(db.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def logged(runtime: Runtime, app_id: str, name: str) -> int:
    """`name` events written, once the relay (running under the TestClient) has moved them to the store."""
    deadline = time.monotonic() + 5
    while True:
        with unit_of_work(runtime.sessions, app_id=app_id) as db:
            pending = sum(orjson.loads(p)["name"] == name for p in db.scalars(select(OutboxEvent.payload)))
        if not pending:
            return runtime.store.count(app_id=app_id, name=name)
        assert time.monotonic() < deadline, f"{name}: still in the outbox"
        time.sleep(0.02)
