"""Private files: what huoli creates in its data directory is 0700 (directories) and 0600 (files)."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import sqlalchemy as sa
from tests.events.test_journal import events

from huoli.db import make_engine
from huoli.events.journal import Journal
from huoli.events.stores import DuckDBEventStore
from huoli.fileperms import create_private, mkdir_private, replace_private
from huoli.settings import Settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_only_the_directories_it_creates_are_made_private(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    mkdir_private(tmp_path / "a" / "b")
    assert (mode(tmp_path), mode(tmp_path / "a"), mode(tmp_path / "a" / "b")) == (0o755, 0o700, 0o700)


def test_a_generated_file_is_private_written_once_and_never_seen_half_written(tmp_path: Path) -> None:
    path = tmp_path / "var" / "key"
    results: list[bool] = []
    threads = [
        threading.Thread(target=lambda i=i: results.append(create_private(path, f"key-{i}".encode() * 100)))
        for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]  # one writer won; the others kept its file
    assert path.read_text() in {f"key-{i}" * 100 for i in range(8)}  # one writer's whole file
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["key"]  # no temporary file left
    replace_private(path, b"new")
    assert path.read_text() == "new" and mode(path) == 0o600


def test_settings_keys_files_are_private(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "var", secret_key="", encryption_keys="")
    s.resolved_secret_key()
    keys = s.resolved_encryption_keys()
    assert len(keys) == 1 and Settings(data_dir=tmp_path / "var").resolved_encryption_keys() == keys
    assert mode(tmp_path / "var") == 0o700
    assert mode(tmp_path / "var" / "secret_key") == mode(tmp_path / "var" / "encryption_key") == 0o600


def test_the_sqlite_database_and_its_wal_are_private(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'huoli.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (a INTEGER)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        files = sorted(p.name for p in (tmp_path / "var").iterdir())
        assert files == ["huoli.db", "huoli.db-shm", "huoli.db-wal"]
        assert {mode(tmp_path / "var" / f) for f in files} == {0o600}
    engine.dispose()
    assert mode(tmp_path / "var") == 0o700


def test_the_event_store_and_the_journal_are_private(tmp_path: Path) -> None:
    store = DuckDBEventStore(str(tmp_path / "var" / "events.duckdb"))
    store.close()
    assert mode(tmp_path / "var") == 0o700 and mode(tmp_path / "var" / "events.duckdb") == 0o600
    journal = Journal(tmp_path / "var" / "events.duckdb.journal")
    journal.start_appending()
    journal.append(events(3))
    journal.close()
    assert mode(tmp_path / "var" / "events.duckdb.journal") == 0o700
    assert {mode(p) for p in (tmp_path / "var" / "events.duckdb.journal").iterdir()} == {0o600}
