"""The ingestion journal and the writer's crash recovery."""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from huoli.events.ingest import Caller, validate_events
from huoli.events.journal import Journal
from huoli.events.stores import DuckDBEventStore
from huoli.events.writer import GroupCommitWriter


def events(n: int, app: str = "a", at: datetime | None = None) -> pa.Table:
    at = at or datetime.now(UTC)
    raw = [
        {"event_id": str(uuid.uuid4()), "name": "favorite", "ts": at.isoformat(), "anonymous_id": "x"}
        for _ in range(n)
    ]
    return validate_events(
        raw,
        caller=Caller(app_id=app, source="client"),
        now=at,
        max_age=timedelta(days=1),
        max_future=timedelta(0),
    ).to_arrow()


def test_replay_returns_records_and_cuts_a_torn_tail(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    journal.start_appending()
    tables = [events(3), events(5)]
    positions = [journal.append(t) for t in tables]
    journal.close()
    segment_file = next((tmp_path / "j").glob("*.journal"))
    with open(segment_file, "ab") as fh:  # a write that a kill interrupted: header and half a payload
        fh.write(b"\x10\x00\x00\x00\x00\x00\x00\x00partial")
    replayed = list(Journal(tmp_path / "j").replay((0, 0)))
    assert [t.num_rows for t, _ in replayed] == [3, 5]
    assert [p for _, p in replayed] == positions
    assert replayed[0][0].equals(tables[0])
    assert segment_file.stat().st_size == positions[-1][1]  # the torn tail is gone
    # Replaying from a position skips what was already loaded.
    assert [t.num_rows for t, _ in Journal(tmp_path / "j").replay(positions[0])] == [5]


def test_corrupted_record_stops_replay(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    journal.start_appending()
    first = journal.append(events(2))
    journal.append(events(2))
    journal.close()
    segment_file = next((tmp_path / "j").glob("*.journal"))
    data = bytearray(segment_file.read_bytes())
    data[first[1] + 20] ^= 0xFF  # flip a byte inside the second record's payload: CRC mismatch
    segment_file.write_bytes(bytes(data))
    assert [t.num_rows for t, _ in Journal(tmp_path / "j").replay((0, 0))] == [2]


def test_acknowledged_but_unloaded_events_are_recovered(tmp_path: Path) -> None:
    live = tmp_path / "live"
    store = DuckDBEventStore(str(live / "events.duckdb"))
    # Never load on its own: everything acknowledged stays only in the journal.
    writer = GroupCommitWriter(store, journal_dir=live / "events.duckdb.journal", load_interval_s=3600)
    batch = events(40)
    assert writer.append(batch).accepted == 40
    # "Crash": copy the files as they are on disk while the process still runs, and open the copy.
    crashed = tmp_path / "crashed"
    shutil.copytree(live, crashed)
    recovered_store = DuckDBEventStore(str(crashed / "events.duckdb"))
    assert recovered_store.count(app_id="a") == 0  # not loaded before the crash
    recovered = GroupCommitWriter(recovered_store, journal_dir=crashed / "events.duckdb.journal")
    assert recovered_store.count(app_id="a") == 40
    # The replayed events are known to dedup: a client retry after the crash counts once.
    assert recovered.append(batch).duplicates == 40
    recovered.close()
    recovered_store.close()
    # Reopening again replays nothing twice.
    again = DuckDBEventStore(str(crashed / "events.duckdb"))
    GroupCommitWriter(again, journal_dir=crashed / "events.duckdb.journal").close()
    assert again.count(app_id="a") == 40
    again.close()
    writer.close()
    store.close()


def test_reads_see_every_acknowledged_event(tmp_path: Path) -> None:
    store = DuckDBEventStore(str(tmp_path / "events.duckdb"))
    writer = GroupCommitWriter(store, journal_dir=tmp_path / "events.duckdb.journal", load_interval_s=3600)
    for _ in range(5):
        writer.append(events(10))
    assert store.count(app_id="a") == 50  # the read waits for the load
    writer.close()
    store.close()


def test_failed_append_leaves_no_partial_record(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    journal = Journal(tmp_path / "j")
    journal.start_appending()
    journal.append(events(2))

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("huoli.events.journal.os.fsync", broken_fsync)
    try:
        journal.append(events(3))
    except OSError:
        pass
    else:  # pragma: no cover
        raise AssertionError("the append should have failed")
    monkeypatch.undo()
    journal.append(events(4))
    journal.close()
    assert [t.num_rows for t, _ in Journal(tmp_path / "j").replay((0, 0))] == [2, 4]
