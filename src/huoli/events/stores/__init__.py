"""The event log's backends behind one interface (base.py): DuckDB, embedded (duckdb.py); ClickHouse
(clickhouse.py).

Import the interface and the backends from here; `open_store` picks one by URL.
"""

from __future__ import annotations

from huoli.events.stores.base import AppendResult, EventStore, IndexedStore, Prepared, before, key_text
from huoli.events.stores.clickhouse import ClickHouseEventStore, ClickHouseURLError
from huoli.events.stores.duckdb import DuckDBEventStore


def open_store(url: str, *, threads: int | None = None) -> EventStore:
    if url.startswith("duckdb://"):
        return DuckDBEventStore(url.removeprefix("duckdb://"), threads=threads)
    if url.startswith("clickhouse://"):
        return ClickHouseEventStore.from_url(url)
    raise ValueError(
        f"unsupported event store URL {url!r}: use duckdb:///path/events.duckdb or "
        "clickhouse://user:password@host:8123/database"
    )


__all__ = [
    "AppendResult",
    "ClickHouseEventStore",
    "ClickHouseURLError",
    "DuckDBEventStore",
    "EventStore",
    "IndexedStore",
    "Prepared",
    "before",
    "key_text",
    "open_store",
]
