"""Experiment test helpers: write events straight into the event store, run users through GET /v1/flags."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from huoli.events.ingest import Caller, validate_events
from huoli.events.stores import EventStore
from huoli.runtime import Runtime


def put_events(
    runtime: Runtime | EventStore, app_id: str, rows: list[tuple[str, str, datetime, dict[str, Any]]]
) -> None:
    """(user_id, name, ts, properties) rows, validated like server events and appended to the store; a user
    id starting with "anon:" is an anonymous visitor (the rest is the anonymous id)."""
    raw = [
        {
            "event_id": str(uuid.uuid4()),
            "name": name,
            "ts": ts.isoformat(),
            **({"anonymous_id": user[5:]} if user.startswith("anon:") else {"user_id": user}),
            "properties": props,
        }
        for user, name, ts, props in rows
    ]
    now = max(r[2] for r in rows)
    batch = validate_events(
        raw,
        caller=Caller(app_id=app_id, source="import"),
        now=now,
        max_age=timedelta(days=3650),
        max_future=timedelta(days=1),
    )
    assert not batch.rejected, batch.rejected[:3]
    store = runtime.store if isinstance(runtime, Runtime) else runtime
    store.append([batch.to_arrow()])
