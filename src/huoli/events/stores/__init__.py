"""The event log's backends behind one interface (base.py): DuckDB, embedded (duckdb.py); ClickHouse
(clickhouse.py).

Import the interface and the backends from here; `open_store` picks one by URL. The backends are imported on
first use, so a command that never opens the store does not load DuckDB or pyarrow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from huoli.events.stores.base import (
        AppendResult,
        EventStore,
        IndexedStore,
        Prepared,
        before,
        key_text,
    )
    from huoli.events.stores.clickhouse import ClickHouseEventStore, ClickHouseURLError
    from huoli.events.stores.duckdb import DuckDBEventStore

_WHERE = {
    "AppendResult": "base",
    "EventStore": "base",
    "IndexedStore": "base",
    "Prepared": "base",
    "before": "base",
    "key_text": "base",
    "ClickHouseEventStore": "clickhouse",
    "ClickHouseURLError": "clickhouse",
    "DuckDBEventStore": "duckdb",
}

DUCKDB_URL_HELP = (
    "duckdb:///relative/path/events.duckdb (three slashes: relative to the working directory), "
    "duckdb:////absolute/path/events.duckdb (four) or duckdb:///:memory:"
)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def duckdb_path(url: str) -> str:
    """The file a duckdb:// URL names, read as SQLAlchemy reads sqlite:// URLs: what follows the third slash.

    `duckdb:///var/events.duckdb` is `var/events.duckdb` under the working directory, `duckdb:////srv/e.duckdb`
    is `/srv/e.duckdb`, `duckdb:///:memory:` an in-memory store. Every reader of the URL (the store, backups)
    must use this, so they agree on the file.
    """
    if not url.startswith("duckdb:///"):
        raise ValueError(f"invalid DuckDB event store URL {url!r}: use {DUCKDB_URL_HELP}")
    path = url.removeprefix("duckdb:///")
    if not path:
        raise ValueError(f"DuckDB event store URL {url!r} names no file: use {DUCKDB_URL_HELP}")
    return path


def open_store(url: str, *, threads: int | None = None) -> EventStore:
    if url.startswith("duckdb://"):
        from huoli.events.stores.duckdb import DuckDBEventStore

        return DuckDBEventStore(duckdb_path(url), threads=threads)
    if url.startswith("clickhouse://"):
        from huoli.events.stores.clickhouse import ClickHouseEventStore

        return ClickHouseEventStore.from_url(url)
    raise ValueError(
        f"unsupported event store URL {url!r}: use {DUCKDB_URL_HELP}, or "
        "clickhouse://user:password@host:8123/database"
    )


__all__ = [
    "DUCKDB_URL_HELP",
    "AppendResult",
    "ClickHouseEventStore",
    "ClickHouseURLError",
    "DuckDBEventStore",
    "EventStore",
    "IndexedStore",
    "Prepared",
    "before",
    "duckdb_path",
    "key_text",
    "open_store",
]
