"""Tiny hand-checkable event logs for the metric tests: build rows with local (+08:00) wall-clock times."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pyarrow as pa

from huoli.events.schema import EVENT_SCHEMA

SH = dt.timezone(dt.timedelta(hours=8))
APP = "app1"


def at(day: str, hm: str = "12:00", tz: dt.tzinfo = SH) -> dt.datetime:
    """Local wall-clock time `day` (YYYY-MM-DD) `hm` (HH:MM[:SS]) in +08:00, as an aware datetime."""
    parts = [int(p) for p in hm.split(":")]
    d = dt.date.fromisoformat(day)
    return dt.datetime(d.year, d.month, d.day, parts[0], parts[1], parts[2] if len(parts) > 2 else 0, tzinfo=tz)


def ev(name: str, user: str, ts: dt.datetime, **cols: Any) -> dict[str, Any]:
    row: dict[str, Any] = {f.name: None for f in EVENT_SCHEMA}
    row.update(
        app_id=cols.pop("app_id", APP),
        event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{name}/{user}/{ts.isoformat()}/{sorted(cols.items())}")),
        name=name,
        ts=ts.astimezone(dt.UTC),
        user_id=user,
        source="client",
        received_at=ts.astimezone(dt.UTC),
    )
    row.update(cols)
    return row


def table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=EVENT_SCHEMA)
