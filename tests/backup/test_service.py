"""Backup and restore of the embedded stores: a full round trip, journal-only events, damage and retention."""

from __future__ import annotations

import json
import shutil
import sqlite3
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from tests.promotions.helpers import at

from huoli.analytics import rollup
from huoli.apps import service as apps
from huoli.apps.schemas import ApiKeyCreate, AppCreate, Role
from huoli.backup import service
from huoli.db import unit_of_work
from huoli.events.ingest import Caller, validate_events
from huoli.events.service import relay_outbox
from huoli.events.stores import DuckDBEventStore
from huoli.events.writer import GroupCommitWriter
from huoli.loyalty import ledger
from huoli.loyalty.context import make_ctx
from huoli.promotions import coupons
from huoli.promotions.schemas import CouponTemplateIn
from huoli.runtime import build_runtime
from huoli.settings import Settings

NOW = datetime.now(UTC).replace(microsecond=0)
TZ = "Asia/Shanghai"


def embedded(data_dir: Path) -> Settings:
    """The default layout: SQLite and DuckDB in the data dir, the secret key generated into it."""
    return Settings(data_dir=data_dir, database_url="", event_store_url="", secret_key="", duckdb_threads=1)


def events(app_id: str, n: int, *, seed: int) -> pa.Table:
    raw = [
        {
            "event_id": str(uuid.uuid4()),
            "name": ("page_view", "app_show", "favorite", "add_to_cart")[i % 4],
            "ts": (NOW - timedelta(hours=(i * 7 + seed) % 70)).isoformat(),
            "anonymous_id": f"a{(i + seed) % 13}",
            "session_id": f"s{i // 5}",
            "page": "pages/item/detail",
            "properties": {"item_id": f"sku{i % 5}", "note": f"n{seed}-{i}"},
        }
        for i in range(n)
    ]
    batch = validate_events(
        raw,
        caller=Caller(app_id=app_id, source="client"),
        now=NOW,
        max_age=timedelta(days=7),
        max_future=timedelta(0),
    )
    assert not batch.rejected
    return batch.to_arrow()


@dataclass
class Source:
    settings: Settings
    stored: int  # events in DuckDB
    journal_only: int  # acknowledged events that only the journal holds


def populate(data_dir: Path) -> int:
    """Apps, keys, loyalty and coupon rows, events through the real writer, rollups: all loaded, closed.

    Returns how many events the writer stored (client events plus the domains' own, relayed from the outbox).
    """
    rt = build_runtime(embedded(data_dir))
    try:
        for app_id in ("shop", "other"):
            with unit_of_work(rt.sessions) as db:
                apps.create(db=db, app_in=AppCreate(id=app_id, name=f"店 {app_id}", timezone=TZ))
            with unit_of_work(rt.sessions, app_id=app_id) as db:
                for role in Role:
                    apps.issue_key(db=db, app_id=app_id, key_in=ApiKeyCreate(name=role.value, role=role))
        with unit_of_work(rt.sessions, app_id="shop") as db:
            ctx = make_ctx(db, app_id="shop", now=NOW, settings=rt.settings)
            for i in range(3):
                ledger.earn(db, ctx, user_id=f"u{i}", points=10 * (i + 1), reason="admin", key=f"k{i}")
        with unit_of_work(rt.sessions, app_id="shop") as db:
            spec = CouponTemplateIn(id="t10", name="无门槛10元", kind="fixed", amount_fen=1000, valid_days=7)
            coupons.create_template(at(db, rt, NOW), spec=spec)
            coupons.claim(at(db, rt, NOW), template_id="t10", user_id="u1", claim_key="c1")
        for seed, (app_id, n) in enumerate([("shop", 300), ("other", 80), ("shop", 120)]):
            assert rt.writer.append(events(app_id, n, seed=seed)).accepted == n
        relayed = relay_outbox(factory=rt.sessions, writer=rt.writer)  # the domains' own events
        assert relayed > 0
        rt.writer.flush()
        rollup.refresh_duckdb(rt.store.cursor(), "shop", TZ)  # watermarks: rowids the restore must keep
        assert rt.writer.append(events("shop", 60, seed=9)).accepted == 60  # past the watermark
    finally:
        rt.close()
    return 300 + 80 + 120 + relayed + 60 + 5  # + the first load of crash_with_journal_only_events


def crash_with_journal_only_events(live: Path, crashed: Path, n: int, *, load_first: bool = True) -> None:
    """Acknowledge n events that never reach DuckDB, then copy the data dir as a crash would leave it."""
    store = DuckDBEventStore(str(live / service.DUCKDB_FILE))
    writer = GroupCommitWriter(store, journal_dir=live / service.JOURNAL_DIR, load_interval_s=3600)
    try:
        if load_first:  # moves the store's journal position into this run's segment
            assert writer.append(events("other", 5, seed=19)).accepted == 5
            writer.flush()
        assert writer.append(events("shop", n // 2, seed=20)).accepted == n // 2
        assert writer.append(events("other", n - n // 2, seed=21)).accepted == n - n // 2
        shutil.copytree(live, crashed)
    finally:
        writer.close()
        store.close()


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """One populated data dir (building it is the slow part), copied by each test that uses it."""
    base = tmp_path_factory.mktemp("backup-source")
    stored = populate(base / "live")
    crash_with_journal_only_events(base / "live", base / "crashed", 40)
    return base / "crashed", stored


@pytest.fixture
def source(prepared: tuple[Path, int], tmp_path: Path) -> Source:
    data_dir = tmp_path / "src"
    shutil.copytree(prepared[0], data_dir)
    return Source(embedded(data_dir), stored=prepared[1], journal_only=40)


@contextmanager
def held_by_another_process(path: Path) -> Iterator[int]:
    """Open a DuckDB file read-write in a second process, as `huoli serve` does; yields its pid."""
    code = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); time.sleep(120)"
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "open"
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def sqlite_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    con = sqlite3.connect(path)
    try:
        names = [
            r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        ]
        return {n: sorted(con.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in names}
    finally:
        con.close()


def store_contents(settings: Settings) -> dict[str, Any]:
    """Every event and the rollups, read through a runtime (which replays any journal first)."""
    rt = build_runtime(settings, run_migrations=False)
    try:
        evs = rt.store.query(
            "SELECT * REPLACE (event_id::VARCHAR AS event_id) FROM events ORDER BY app_id, event_id"
        )
        rollup.refresh_duckdb(rt.store.cursor(), "shop", TZ)  # what analytics would see now
        days = rt.store.query("SELECT * FROM user_days ORDER BY ALL").to_pylist()
        sessions = rt.store.query("SELECT * FROM user_sessions ORDER BY ALL").to_pylist()
        return {
            "events": evs.to_pylist(),
            "user_days": days,
            "user_sessions": sessions,
            "secret": rt.secret_key,
            "app_secrets": rt.app_cache.get("shop").server_secret,  # decrypts with the restored key
        }
    finally:
        rt.close()


def modes(root: Path) -> set[tuple[str, int]]:
    found = {("dir", stat.S_IMODE(root.stat().st_mode))}
    for p in root.rglob("*"):
        found.add(("dir" if p.is_dir() else "file", stat.S_IMODE(p.stat().st_mode)))
    return found


def test_round_trip_keeps_every_row_event_and_journaled_event(source: Source, tmp_path: Path) -> None:
    backup = service.create(source.settings)
    m = backup.manifest
    assert backup.path.parent == source.settings.data_dir / "backups"
    assert m["journal"]["pending_events"] == source.journal_only == 40
    assert m["events"]["journal_pending"] == 40
    assert m["events"]["stored"] == source.stored and m["events"]["total"] == source.stored + 40
    assert m["duckdb"]["tables"]["events"] == source.stored
    assert m["sqlite"]["tables"]["apps"] == 2 and m["sqlite"]["tables"]["api_keys"] == 6
    assert m["sqlite"]["tables"]["loyalty_lots"] == 3 and m["sqlite"]["tables"]["promo_coupons"] == 1
    assert m["duckdb"]["watermarks"] and m["secret_key"] == m["encryption_key"] == "file"
    assert set(m["files"]) >= {
        "huoli.db",
        "secret_key",
        "encryption_key",
        "events/schema.sql",
        "events/load.sql",
    }
    assert any(f.startswith("events.journal/") for f in m["files"])
    assert modes(backup.path) == {("dir", 0o700), ("file", 0o600)}
    assert stat.S_IMODE((source.settings.data_dir / "backups").stat().st_mode) == 0o700
    on_disk = json.loads((backup.path / "manifest.json").read_text())
    assert on_disk == m

    target = tmp_path / "restored"
    done = service.restore(backup.path, target)
    assert done.replayed == 40 and not done.rollups_reset
    assert (
        done.events_by_app == m["events"]["by_app"]
        and sum(done.events_by_app.values()) == m["events"]["total"]
    )
    assert modes(target) == {("dir", 0o700), ("file", 0o600)}
    assert sorted(p.name for p in target.iterdir()) == sorted(
        ["huoli.db", "events.duckdb", "events.duckdb.journal", "secret_key", "encryption_key"]
    )

    # Every operational row, byte for byte (the source's SQLite is not touched by the event replay).
    assert sqlite_rows(target / "huoli.db") == sqlite_rows(source.settings.data_dir / "huoli.db")
    restored, original = store_contents(embedded(target)), store_contents(source.settings)
    assert len(restored["events"]) == m["events"]["total"]
    assert restored == original  # events, rollups and the secret key


def test_journal_only_events_acknowledged_before_the_first_load_survive(tmp_path: Path) -> None:
    """A restart used to number journal segments from 1 again while the store's position still named the
    last run's segment 1: replay then skipped events acknowledged before this run's first load."""
    live, crashed = tmp_path / "live", tmp_path / "crashed"
    build_runtime(embedded(live)).close()
    store = DuckDBEventStore(str(live / service.DUCKDB_FILE))
    writer = GroupCommitWriter(store, journal_dir=live / service.JOURNAL_DIR)
    assert writer.append(events("shop", 30, seed=1)).accepted == 30
    writer.close()
    store.close()
    crash_with_journal_only_events(live, crashed, 40, load_first=False)
    backup = service.create(embedded(crashed))
    assert backup.manifest["events"]["total"] == 70


def test_moved_backup_restores_and_rollups_rebuild_when_rowids_move(source: Source, tmp_path: Path) -> None:
    backup = service.create(source.settings, out=tmp_path / "elsewhere" / "b1")
    moved = tmp_path / "moved"
    shutil.move(backup.path, moved)  # load.sql names the old place; the import must read the new one
    # As if the import had numbered rows differently (a source with deleted rows): the watermark's event moved.
    manifest = json.loads((moved / "manifest.json").read_text())
    manifest["duckdb"]["watermarks"][0]["event_id"] = str(uuid.uuid4())
    (moved / "manifest.json").write_text(json.dumps(manifest))
    done = service.restore(moved, tmp_path / "restored")
    assert done.rollups_reset and done.replayed == 40
    restored, original = store_contents(embedded(tmp_path / "restored")), store_contents(source.settings)
    assert restored["user_days"] and restored == original  # rebuilt from the events: equal to the kept rollup


def test_damaged_backup_is_refused_before_anything_is_written(source: Source, tmp_path: Path) -> None:
    backup = service.create(source.settings)
    parquet = next((backup.path / "events").glob("events*.parquet"))
    data = bytearray(parquet.read_bytes())
    data[len(data) // 2] ^= 0xFF
    parquet.write_bytes(bytes(data))
    (backup.path / "secret_key").unlink()
    target = tmp_path / "restored"
    with pytest.raises(service.BackupError) as exc:
        service.restore(backup.path, target)
    assert exc.value.code == "backup_corrupt"
    assert sorted(exc.value.details) == [
        f"events/{parquet.name}: SHA-256 differs from the manifest",
        "secret_key: missing",
    ]
    assert not target.exists() and not list(tmp_path.glob(".restored.restore-*"))
    with pytest.raises(service.BackupError, match="not a huoli backup"):
        service.restore(tmp_path, tmp_path / "t2")


def test_non_empty_target_needs_force_and_force_keeps_other_files(source: Source, tmp_path: Path) -> None:
    backup = service.create(source.settings)
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    (target / "huoli.db-wal").write_text("stale")
    with pytest.raises(service.BackupError, match="not empty"):
        service.restore(backup.path, target)
    assert sorted(p.name for p in target.iterdir()) == ["huoli.db-wal", "notes.txt"]
    done = service.restore(backup.path, target, force=True)
    assert done.replaced == ["huoli.db-wal"]
    assert (target / "notes.txt").read_text() == "mine" and not (target / "huoli.db-wal").exists()
    assert sqlite_rows(target / "huoli.db") == sqlite_rows(source.settings.data_dir / "huoli.db")
    # A store still open (a running server) is never replaced.
    with (
        held_by_another_process(target / "events.duckdb") as pid,
        pytest.raises(service.BackupError, match=f"open in process {pid}"),
    ):
        service.restore(backup.path, target, force=True)
    assert sqlite_rows(target / "huoli.db") == sqlite_rows(source.settings.data_dir / "huoli.db")


def test_backup_refuses_while_the_store_is_open_and_leaves_nothing(source: Source) -> None:
    with (
        held_by_another_process(source.settings.data_dir / "events.duckdb") as pid,
        pytest.raises(service.BackupError, match=rf"open in another process \(PID {pid}\).*huoli serve"),
    ):
        service.create(source.settings)
    holder = duckdb.connect(str(source.settings.data_dir / "events.duckdb"))
    try:  # the same process (a runtime still open) is told so
        with pytest.raises(service.BackupError, match="open in this process"):
            service.create(source.settings)
    finally:
        holder.close()
    assert not list((source.settings.data_dir / "backups").iterdir())


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"database_url": "postgresql://postgres@127.0.0.1:5432/test"}, "pg_dump"),
        ({"event_store_url": "clickhouse://default:@127.0.0.1:8123/huoli"}, "BACKUP"),
        ({"event_store_url": "duckdb:///:memory:"}, "in-memory"),
    ],
)
def test_external_stores_are_refused_with_the_procedure(
    tmp_path: Path, overrides: dict[str, str], needle: str
) -> None:
    settings = embedded(tmp_path).model_copy(update=overrides)
    with pytest.raises(service.BackupError, match=needle) as exc:
        service.create(settings)
    assert exc.value.code == "backup_unsupported"
    assert not (tmp_path / "backups").exists()


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Settings]:
    settings = embedded(tmp_path / "small")
    build_runtime(settings).close()
    yield settings


def test_prune_keeps_the_newest_and_only_touches_backups(small: Settings, tmp_path: Path) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    made = [service.create(small, now=t0 + timedelta(days=d)) for d in (2, 0, 1, 3)]
    root = service.default_root(small)
    (root / "keep-me").mkdir()  # not a backup: no manifest
    (root / "keep-me" / "x").write_text("x")
    listed = service.list_backups(root)
    assert [b.path.name for b in listed] == [
        "20260101T000000Z",
        "20260102T000000Z",
        "20260103T000000Z",
        "20260104T000000Z",
    ]
    assert {b.path for b in listed} == {b.path for b in made}
    assert [b.path.name for b in service.prune(root, keep=2, dry_run=True)] == [
        "20260101T000000Z",
        "20260102T000000Z",
    ]
    assert len(service.list_backups(root)) == 4
    removed = service.prune(root, keep=2)
    assert [b.path.name for b in removed] == ["20260101T000000Z", "20260102T000000Z"]
    assert sorted(p.name for p in root.iterdir()) == ["20260103T000000Z", "20260104T000000Z", "keep-me"]
    assert service.prune(root, keep=2) == []
    with pytest.raises(service.BackupError):
        service.prune(root, keep=0)


def test_same_second_backups_get_distinct_names_and_out_must_be_new(small: Settings, tmp_path: Path) -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    first, second = service.create(small, now=t), service.create(small, now=t)
    assert (first.path.name, second.path.name) == ("20260101T000000Z", "20260101T000000Z-2")
    service.verify(first.path)
    service.verify(second.path / "manifest.json")
    (tmp_path / "empty").mkdir()
    assert service.create(small, out=tmp_path / "empty").path == tmp_path / "empty"
    with pytest.raises(service.BackupError, match="not an empty directory"):
        service.create(small, out=tmp_path / "empty")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "small"]  # no staging left behind


@pytest.mark.parametrize(
    ("data_dir", "url", "expected"),
    [
        ("var", None, "var/events.duckdb"),  # a relative data dir: the store under it, not /var
        ("/srv/huoli", None, "/srv/huoli/events.duckdb"),
        ("var", "duckdb:///elsewhere/e.duckdb", "elsewhere/e.duckdb"),
        ("var", "duckdb:////abs/e.duckdb", "/abs/e.duckdb"),
    ],
)
def test_backup_reads_the_event_store_file_the_store_opens(
    data_dir: str, url: str | None, expected: str
) -> None:
    from huoli.settings import Settings

    settings = Settings(data_dir=Path(data_dir), event_store_url=url or "", secret_key="k" * 32)
    sources = service.sources(settings)
    assert sources.duckdb == Path(expected)
    assert sources.journal == Path(expected + ".journal")
