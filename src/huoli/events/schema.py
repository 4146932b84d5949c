"""The one event log's physical schema, shared by every EventStore, the importer and the demo generator:
the Arrow schema, and the tables it becomes in DuckDB and ClickHouse (stores and analytics engines alike).

Standard catalog properties that analytics reads often are promoted to typed columns (no JSON parsing
on hot paths); everything else stays in `properties` (a JSON object serialised as text).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

EVENTS_TABLE = "events"

EVENT_SCHEMA = pa.schema(
    [
        pa.field("app_id", pa.string(), nullable=False),
        pa.field("event_id", pa.string(), nullable=False),  # canonical lowercase UUID text
        pa.field("name", pa.string(), nullable=False),
        pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),  # when it happened (client clock)
        pa.field("user_id", pa.string()),  # derived from openid; null for anonymous events
        pa.field("anonymous_id", pa.string()),  # device-scoped id from the SDK
        pa.field("session_id", pa.string()),
        pa.field("page", pa.string()),  # page route without query, e.g. pages/item/detail
        pa.field("scene", pa.int32()),  # WeChat scene value (访问来源)
        pa.field("channel", pa.string()),  # acquisition channel / campaign source
        pa.field("duration_ms", pa.int64()),  # app_hide: time in foreground; page_leave: dwell time
        pa.field("load_ms", pa.int64()),  # perf: page load time
        pa.field("item_id", pa.string()),
        pa.field("amount_fen", pa.int64()),  # money is integer fen
        pa.field("order_id", pa.string()),
        pa.field("coupon_id", pa.string()),
        pa.field("sharer_id", pa.string()),  # share / share_open: who shared
        pa.field("share_id", pa.string()),  # share / share_open: which share card
        pa.field("campaign", pa.string()),
        pa.field("properties", pa.string()),  # remaining properties as a JSON object text, or null
        pa.field("source", pa.string(), nullable=False),  # client | server | import
        pa.field("received_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)

# Catalog property name -> promoted column; the ingestion validator enforces their types.
PROMOTED_PROPERTIES: dict[str, str] = {
    "duration_ms": "duration_ms",
    "load_ms": "load_ms",
    "item_id": "item_id",
    "amount_fen": "amount_fen",
    "order_id": "order_id",
    "coupon_id": "coupon_id",
    "sharer_id": "sharer_id",
    "share_id": "share_id",
    "campaign": "campaign",
}

COLUMN_NAMES: list[str] = EVENT_SCHEMA.names

DUCKDB_TYPES: dict[str, str] = {
    "app_id": "VARCHAR NOT NULL",
    "event_id": "UUID NOT NULL",
    "name": "VARCHAR NOT NULL",
    "ts": "TIMESTAMPTZ NOT NULL",
    "user_id": "VARCHAR",
    "anonymous_id": "VARCHAR",
    "session_id": "VARCHAR",
    "page": "VARCHAR",
    "scene": "INTEGER",
    "channel": "VARCHAR",
    "duration_ms": "BIGINT",
    "load_ms": "BIGINT",
    "item_id": "VARCHAR",
    "amount_fen": "BIGINT",
    "order_id": "VARCHAR",
    "coupon_id": "VARCHAR",
    "sharer_id": "VARCHAR",
    "share_id": "VARCHAR",
    "campaign": "VARCHAR",
    "properties": "JSON",
    "source": "VARCHAR NOT NULL",
    "received_at": "TIMESTAMPTZ NOT NULL",
}
assert list(DUCKDB_TYPES) == EVENT_SCHEMA.names, "DuckDB DDL and the Arrow schema must list the same columns"


# Settings that make ClickHouse behave like the SQL standard where metrics depend on it.
CLICKHOUSE_SETTINGS = {
    "join_use_nulls": 1,  # outer joins yield NULL, not the type's default (0, '')
    "function_json_value_return_type_allow_nullable": 1,  # absent JSON keys are NULL, not ''
    "session_timezone": "UTC",
}


def clickhouse_events_ddl(
    table: str = EVENTS_TABLE,
    engine: str = "MergeTree",
    *,
    partition_by: str | None = None,
    indexes: Sequence[str] = (),
) -> str:
    """The events table on ClickHouse: sorted for per-app, per-user scans (funnels, retention, paths)."""
    types = {
        pa.string(): "String",
        pa.int32(): "Int32",
        pa.int64(): "Int64",
        pa.timestamp("us", tz="UTC"): "DateTime64(6, 'UTC')",
    }
    cols = []
    for f in EVENT_SCHEMA:
        t = types[f.type]
        cols.append(f"`{f.name}` {t if not f.nullable else f'Nullable({t})'}")
    partition = f" PARTITION BY {partition_by}" if partition_by else ""
    return (
        f"CREATE TABLE IF NOT EXISTS {table} ({', '.join([*cols, *indexes])}) ENGINE = {engine}{partition} "
        "ORDER BY (app_id, name, ts)"
    )
