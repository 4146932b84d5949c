"""The event stores (DuckDB, and ClickHouse through the fake server): idempotent appends whichever dedup path
an event takes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from tests.fakes.clickhouse_server import FakeClickHouse

from huoli.events.ingest import Caller, validate_events
from huoli.events.stores import ClickHouseEventStore, DuckDBEventStore, IndexedStore

Opener = Callable[..., IndexedStore]


@pytest.fixture(params=["duckdb", "clickhouse"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Opens (and reopens, for restarts) one store of the parametrised backend."""
    if request.param == "duckdb":
        path = str(tmp_path / "e.duckdb")
        return lambda **kw: DuckDBEventStore(path, **kw)
    fake: FakeClickHouse = request.getfixturevalue("clickhouse_server")
    url = fake.url()
    return lambda **kw: ClickHouseEventStore.from_url(url, **kw)


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


def test_recent_events_dedup_through_index_and_restart(open_store: Opener) -> None:
    now = datetime.now(UTC)
    first = ids(50)
    store = open_store()
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
    store = open_store()
    (r,) = store.append([batch("a", first, now)])
    assert (r.accepted, r.duplicates) == (0, 50)
    assert store.count(app_id="a") == 55 and store.count(app_id="b") == 3
    store.close()


def test_old_events_dedup_against_the_log(open_store: Opener) -> None:
    store = open_store(recent_horizon=timedelta(minutes=10))
    old = datetime.now(UTC) - timedelta(days=3)  # below the index floor: the log is the only witness
    some = ids(20)
    assert store.append([batch("a", some, old)])[0].accepted == 20
    assert store.append([batch("a", some + ids(1), old)])[0].accepted == 1
    assert store.count(app_id="a") == 21
    store.close()


def test_group_commit_attributes_results_per_batch(open_store: Opener) -> None:
    store = open_store()
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


def test_thread_setting_applies(tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = DuckDBEventStore(str(tmp_path / "e.duckdb"), threads=1)  # DuckDB only
    assert store.query("SELECT current_setting('threads') AS t").to_pylist() == [{"t": 1}]
    store.close()


def test_many_old_events_are_checked_in_chunks(open_store: Opener) -> None:
    """More candidates than one exact-check statement holds (ClickHouse chunks by 2,000), across apps."""
    store = open_store(recent_horizon=timedelta(minutes=1))
    old = datetime.now(UTC) - timedelta(days=2)
    a, b = ids(2_500), ids(10)
    assert [r.accepted for r in store.append([batch("a", a, old), batch("b", b, old)])] == [2_500, 10]
    results = store.append([batch("a", a[:2_400] + ids(3), old), batch("b", a[:5] + b[:2], old)])
    assert [(r.accepted, r.duplicates) for r in results] == [(3, 2_400), (5, 2)]
    assert (store.count(app_id="a"), store.count(app_id="b")) == (2_503, 15)
    store.close()


def test_reads_summary_recent_and_ranges(open_store: Opener) -> None:
    """The admin overview and the importer's range probe answer the same on every backend."""
    store = open_store()
    now = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    store.append(
        [batch("a", ids(3), now), batch("a", ids(2), now - timedelta(hours=1)), batch("b", ids(1), now)]
    )
    (row,) = store.summary(app_id="a", start=now - timedelta(days=1), end=now + timedelta(seconds=1))
    assert (row["name"], row["events"], row["users"]) == ("favorite", 5, 1)
    assert row["last_ts"] == now and row["first_ts"] == now - timedelta(hours=1)  # microseconds kept
    recent: list[dict[str, Any]] = store.recent(app_id="a", limit=2)
    assert len(recent) == 2 and {r["app_id"] for r in recent} == {"a"} and recent[0]["ts"] == now
    assert not store.range_is_empty(app_id="a", lo=now, hi=now)
    assert store.range_is_empty(app_id="a", lo=now + timedelta(microseconds=1), hi=now + timedelta(days=1))
    assert store.range_is_empty(app_id="c", lo=now - timedelta(days=1), hi=now)
    # `?` placeholders on every backend, for the SQL both dialects share.
    names = store.query("SELECT DISTINCT name FROM events WHERE app_id = ? AND ts <= ?", ["b", now])
    assert names.column(0).to_pylist() == ["favorite"]
    assert not store.has_property(app_id="a", key="keyword")
    store.close()
