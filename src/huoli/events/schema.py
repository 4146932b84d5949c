"""The one event log's physical schema, shared by every EventStore, the importer and the demo generator.

Standard catalog properties that analytics reads often are promoted to typed columns (no JSON parsing
on hot paths); everything else stays in `properties` (a JSON object serialised as text).
"""

from __future__ import annotations

import pyarrow as pa

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
