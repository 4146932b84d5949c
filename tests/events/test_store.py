"""The DuckDB event store: idempotent appends whichever dedup path an event takes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from huoli.events.ingest import Caller, validate_events
from huoli.events.store import DuckDBEventStore


def batch(app: str, ids: list[str], at: datetime) -> pa.Table:
    raw = [{"event_id": i, "name": "favorite", "ts": at.isoformat(), "anonymous_id": "a"} for i in ids]
    v = validate_events(
        raw,
        caller=Caller(app_id=app, source="import"),
        now=at,
        max_age=timedelta(days=1),
        max_future=timedelta(0),
    )
    return v.to_arrow()


def ids(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


def test_recent_events_dedup_through_index_and_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "e.duckdb")
    now = datetime.now(UTC)
    first = ids(50)
    store = DuckDBEventStore(path)
    (r,) = store.append([batch("a", first, now)])
    assert (r.accepted, r.duplicates) == (50, 0)
    # Same ids again: the in-memory index flags them and the log confirms.
    (r,) = store.append([batch("a", first[:10] + ids(5), now)])
    assert (r.accepted, r.duplicates) == (5, 10)
    # The same event id in another app is another event.
    (r,) = store.append([batch("b", first[:3], now)])
    assert (r.accepted, r.duplicates) == (3, 0)
    store.close()
    # A restarted store rebuilds the index from the log.
    store = DuckDBEventStore(path)
    (r,) = store.append([batch("a", first, now)])
    assert (r.accepted, r.duplicates) == (0, 50)
    assert store.count(app_id="a") == 55 and store.count(app_id="b") == 3
    store.close()


def test_old_events_dedup_against_the_log(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = DuckDBEventStore(str(tmp_path / "e.duckdb"), recent_horizon=timedelta(minutes=10))
    old = datetime.now(UTC) - timedelta(days=3)  # below the index floor: the log is the only witness
    some = ids(20)
    assert store.append([batch("a", some, old)])[0].accepted == 20
    assert store.append([batch("a", some + ids(1), old)])[0].accepted == 1
    assert store.count(app_id="a") == 21
    store.close()


def test_group_commit_attributes_results_per_batch(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = DuckDBEventStore(str(tmp_path / "e.duckdb"))
    now = datetime.now(UTC)
    shared = ids(4)
    results = store.append(
        [batch("a", shared, now), batch("a", shared[:2] + ids(3), now), batch("a", [], now)]
    )
    assert [(r.accepted, r.duplicates) for r in results] == [(4, 0), (3, 2), (0, 0)]
    mixed = store.append([batch("a", ids(2), now - timedelta(days=2)), batch("a", shared, now)])
    assert [(r.accepted, r.duplicates) for r in mixed] == [(2, 0), (0, 4)]
    assert store.count(app_id="a") == 9
    store.close()


def test_thread_setting_applies(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = DuckDBEventStore(str(tmp_path / "e.duckdb"), threads=1)
    assert store.query("SELECT current_setting('threads') AS t").to_pylist() == [{"t": 1}]
    store.close()
