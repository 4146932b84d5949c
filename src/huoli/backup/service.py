"""Backups of the embedded stores, and their restore into a new data directory (docs/reliability.md).

One backup is a directory (0700, files 0600):
- ``huoli.db``: the SQLite operational database, copied with SQLite's online backup API;
- ``events/``: the DuckDB event store as ``EXPORT DATABASE … (FORMAT parquet, COMPRESSION zstd)`` — every
  table (events, the journal position, the analytics rollups) read in one statement, so from one snapshot;
- ``events.journal/``: the ingestion journal's segments from the store's loaded position on, i.e. every
  acknowledged event DuckDB did not hold yet;
- ``secret_key``: the generated key that signs session tokens (absent when HUOLI_SECRET_KEY sets it);
- ``encryption_key``: the generated keys that decrypt the secrets stored in the database (absent when
  HUOLI_ENCRYPTION_KEYS sets them: then the backup's secrets are unreadable without those keys);
- ``manifest.json``, written last: row counts per table, event counts per app, versions, a size and a SHA-256
  per file.

Consistency: `create` opens the DuckDB file read-only first and keeps it open to the end. That holds DuckDB's
file lock, so no huoli process that owns the event store (the server, or any command that builds a runtime)
can start meanwhile, and nothing writes SQLite, the journal or DuckDB while they are copied: the four parts
are one point in time. The same lock is why a backup cannot run while `huoli serve` does (see `_open_store`).

Parquet rather than a DuckDB file (ATTACH + COPY FROM DATABASE): a backup must outlive the DuckDB version that
wrote it, and DuckDB's storage format is only readable by the same or newer releases, while Parquet is read by
every DuckDB and by other tools (one app's events can be pulled from a backup with any Parquet reader). Both
cost about the same CPU to make and the Parquet is ~40% smaller (bench/backup.py); the price is a re-import on
restore.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow.compute as pc
from sqlalchemy.engine import make_url

from huoli.errors import HuoliError
from huoli.events.journal import Journal, Position
from huoli.events.stores import DuckDBEventStore, duckdb_path
from huoli.events.writer import GroupCommitWriter
from huoli.fileperms import DIR_MODE, FILE_MODE, mkdir_private
from huoli.settings import Settings

if TYPE_CHECKING:
    from huoli.runtime import Runtime

FORMAT = "huoli-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "huoli.db"
EVENTS_EXPORT = "events"
JOURNAL_COPY = "events.journal"
SECRET_FILE = "secret_key"
ENCRYPTION_KEY_FILE = "encryption_key"
DUCKDB_FILE = "events.duckdb"
JOURNAL_DIR = DUCKDB_FILE + ".journal"  # where the writer looks for it beside the store (store.journal_dir)
ROLLUP_TABLES = ("user_days", "user_sessions")
ROLLUP_STATE = "user_days_state"
DOCS = "docs/reliability.md#backup-and-restore"
EXPORT_OPTIONS = "FORMAT parquet, COMPRESSION zstd"
# What a forced restore replaces in a data dir; anything else there (demo files, backups/) stays.
STORE_ENTRIES = (
    SQLITE_FILE,
    f"{SQLITE_FILE}-wal",
    f"{SQLITE_FILE}-shm",
    f"{SQLITE_FILE}-journal",
    DUCKDB_FILE,
    f"{DUCKDB_FILE}.wal",
    JOURNAL_DIR,
    SECRET_FILE,
    ENCRYPTION_KEY_FILE,
)


_BACKENDS = {"postgresql": "PostgreSQL", "mysql": "MySQL"}


class BackupError(HuoliError):
    code = "backup_failed"


@dataclass(frozen=True)
class Sources:
    """Where this deployment's embedded stores are, resolved from the settings as the runtime does."""

    data_dir: Path
    sqlite: Path
    duckdb: Path
    journal: Path
    secret: Path | None  # None: HUOLI_SECRET_KEY sets the key, there is no file to copy
    encryption_key: Path | None  # None: HUOLI_ENCRYPTION_KEYS sets the keys
    custom_urls: bool


@dataclass(frozen=True)
class Backup:
    path: Path
    manifest: dict[str, Any]

    @property
    def created_at(self) -> str:
        return str(self.manifest.get("created_at", ""))

    @property
    def events(self) -> int:
        return int(self.manifest.get("events", {}).get("total", 0))

    @property
    def total_bytes(self) -> int:
        return int(self.manifest.get("total_bytes", 0))


@dataclass(frozen=True)
class Restored:
    data_dir: Path
    manifest: dict[str, Any]
    events_by_app: dict[str, int]
    replayed: int  # journaled events loaded into the restored store
    rollups_reset: bool  # analytics rollups dropped (rebuilt on the next request) because rowids moved
    seconds: float
    replaced: list[str] = field(default_factory=list)


# --- where things are ---------------------------------------------------------------------------------


def sources(settings: Settings) -> Sources:
    """The files to back up, or a BackupError naming the external store and the doc for it."""
    db_url = settings.resolved_database_url()
    store_url = settings.resolved_event_store_url()
    external = []
    if not db_url.startswith("sqlite"):
        external.append(
            f"the operational database is {_BACKENDS.get(make_url(db_url).get_backend_name(), db_url.split(':')[0])} "
            "(HUOLI_DATABASE_URL): "
            "back it up with pg_dump"
        )
    if not store_url.startswith("duckdb://"):
        external.append("the event store is ClickHouse (HUOLI_EVENT_STORE_URL): back it up with BACKUP … TO")
    if external:
        raise BackupError(
            "`huoli backup` copies the embedded stores (SQLite and DuckDB) only; "
            + "; ".join(external)
            + " — see docs/reliability.md#postgresql-and-clickhouse",
            code="backup_unsupported",
        )
    sqlite_path = make_url(db_url).database or ""
    duck_path = duckdb_path(store_url)  # the file the store opens, read the same way
    if sqlite_path in ("", ":memory:") or duck_path == ":memory:":
        raise BackupError("in-memory stores keep nothing on disk to back up", code="backup_unsupported")
    duck = Path(duck_path)
    return Sources(
        data_dir=settings.data_dir,
        sqlite=Path(sqlite_path),
        duckdb=duck,
        journal=Path(str(duck) + ".journal"),
        secret=None if settings.secret_key else settings.data_dir / SECRET_FILE,
        encryption_key=None if settings.encryption_keys.strip() else settings.encryption_key_file,
        custom_urls=bool(settings.database_url or settings.event_store_url),
    )


def default_root(settings: Settings) -> Path:
    return settings.data_dir / "backups"


# --- small file helpers -------------------------------------------------------------------------------


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _walk_files(root: Path) -> Iterator[Path]:
    for dirpath, _dirs, files in os.walk(root):
        for name in sorted(files):
            yield Path(dirpath) / name


def _lock_down(root: Path) -> None:
    """0700 directories, 0600 files: a backup holds key hashes, secrets and every user's events."""
    root.chmod(DIR_MODE)
    for dirpath, dirs, files in os.walk(root):
        for d in dirs:
            (Path(dirpath) / d).chmod(DIR_MODE)
        for f in files:
            (Path(dirpath) / f).chmod(FILE_MODE)


def _fsync_tree(root: Path) -> None:
    """Make the copy survive a power loss before it is reported (or renamed into place)."""
    for dirpath, _dirs, files in os.walk(root, topdown=False):
        for f in files:
            fd = os.open(Path(dirpath) / f, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in _walk_files(path)) if path.is_dir() else 0


def _version() -> str:
    try:
        return metadata.version("huoli")
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


# --- reading the stores -------------------------------------------------------------------------------


def _open_store(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection that also holds DuckDB's lock on the file until closed."""
    if not path.exists():
        if not path.parent.is_dir():
            raise BackupError(
                f"no event store at {path}: nothing to back up (has huoli run on this data dir?)"
            )
        # Apps and keys commands work on the operational database alone: no event yet is an empty store.
        DuckDBEventStore(str(path)).close()
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.ConnectionException:  # this very process has the file open (a runtime still running)
        raise BackupError(
            f"the event store {path} is open in this process: close its runtime before backing up"
        ) from None
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" not in text.lower():
            raise BackupError(f"cannot open the event store {path}: {text.splitlines()[0]}") from None
        pid = re.search(r"PID (\d+)", text)
        raise BackupError(
            f"the event store {path} is open in another process{f' (PID {pid.group(1)})' if pid else ''}, "
            "most likely `huoli serve`: DuckDB lets one process hold a file it writes, and no other process "
            "can read it meanwhile, not even read-only. Stop the server, run the backup, start it again "
            f"(how long that takes: {DOCS})."
        ) from None
    con.execute("SET TimeZone = 'UTC'")
    return con


def _duckdb_tables(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() "
        "WHERE database_name = current_database() AND NOT temporary ORDER BY schema_name, table_name"
    ).fetchall()
    counts = {}
    for schema, table in rows:
        name = table if schema == "main" else f"{schema}.{table}"
        result = con.execute(f"SELECT count(*) FROM {_ident(schema)}.{_ident(table)}").fetchone()
        counts[name] = int(result[0]) if result else 0
    return counts


def _rowid_marks(con: duckdb.DuckDBPyConnection, tables: dict[str, int]) -> dict[str, Any]:
    """What the analytics rollups need to stay valid after a re-import.

    Their watermark is an events `rowid` (analytics/rollup.py); an import renumbers rows from 0 in file order,
    so the restore checks that each watermark still points at the same event, and rebuilds the rollups if not.
    """
    if "events" not in tables:
        return {"max_rowid": -1, "watermarks": []}
    row = con.execute("SELECT max(rowid) FROM events").fetchone()
    max_rowid = int(row[0]) if row and row[0] is not None else -1
    marks = []
    if ROLLUP_STATE in tables:
        for app_id, tz, watermark in con.execute(
            f"SELECT app_id, tz, watermark FROM {ROLLUP_STATE} ORDER BY app_id, tz"
        ).fetchall():
            hit = con.execute("SELECT event_id::VARCHAR FROM events WHERE rowid = ?", [watermark]).fetchone()
            marks.append(
                {"app_id": app_id, "tz": tz, "watermark": int(watermark), "event_id": hit[0] if hit else None}
            )
    return {"max_rowid": max_rowid, "watermarks": marks}


def _events_by_app(con: duckdb.DuckDBPyConnection, tables: dict[str, int]) -> dict[str, int]:
    if "events" not in tables:
        return {}
    rows = con.execute("SELECT app_id, count(*) FROM events GROUP BY app_id ORDER BY app_id").fetchall()
    return {str(a): int(n) for a, n in rows}


def _journal_position(con: duckdb.DuckDBPyConnection, tables: dict[str, int]) -> Position:
    if "journal_state" not in tables:
        return (0, 0)
    row = con.execute("SELECT segment, byte_offset FROM journal_state WHERE id = 1").fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def _sqlite_tables(con: sqlite3.Connection) -> dict[str, int]:
    names = [
        r[0]
        for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    return {n: int(con.execute(f"SELECT count(*) FROM {_ident(n)}").fetchone()[0]) for n in names}


def _alembic(con: sqlite3.Connection, tables: dict[str, int]) -> list[str]:
    if "alembic_version" not in tables:
        return []
    return sorted(r[0] for r in con.execute("SELECT version_num FROM alembic_version"))


def _pending(journal_dir: Path, start: Position) -> Counter[str]:
    """Events per app in the journal past the store's position: acknowledged, not yet in DuckDB.

    Runs the writer's own replay over the backup's copy, so it counts exactly what a restore will load (and
    cuts a torn, never-acknowledged tail off the copy, as the server's start-up would).
    """
    counts: Counter[str] = Counter()
    if not journal_dir.is_dir():
        return counts
    for table, _position in Journal(journal_dir).replay(start):
        for entry in pc.value_counts(table.column("app_id")).to_pylist():
            counts[str(entry["values"])] += int(entry["counts"])
    return counts


# --- create -------------------------------------------------------------------------------------------


def _target(root: Path, now: datetime) -> Path:
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    path, n = root / stamp, 1
    while path.exists():
        n += 1
        path = root / f"{stamp}-{n}"
    return path


def _new_target(settings: Settings, out: Path | None, now: datetime) -> Path:
    if out is None:
        root = default_root(settings)
        mkdir_private(root)
        return _target(root, now)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupError(f"{out} exists and is not an empty directory: choose a new --out")
    mkdir_private(out.parent)
    return out


def _build(
    settings: Settings, out: Path | None, now: datetime | None, fill: Callable[[Path], dict[str, Any]]
) -> Backup:
    """Fill a staging directory beside the target, checksum it, write the manifest last, rename into place."""
    started = time.monotonic()
    now = now or datetime.now(UTC)
    target = _new_target(settings, out, now)
    # Built beside the target and renamed into place at the end: an interrupted backup never looks complete.
    staging = target.parent / f".{target.name}.partial-{secrets.token_hex(4)}"
    mkdir_private(staging)
    try:
        manifest = fill(staging)
        manifest["created_at"] = now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        _lock_down(staging)
        files = {
            p.relative_to(staging).as_posix(): {"bytes": p.stat().st_size, "sha256": _sha256(p)}
            for p in _walk_files(staging)
        }
        manifest["files"] = files
        manifest["total_bytes"] = sum(f["bytes"] for f in files.values())
        manifest["seconds"] = round(time.monotonic() - started, 3)
        _write_private(staging / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False).encode())
        _fsync_tree(staging)
        if target.exists():
            target.rmdir()  # the empty --out directory checked above
        os.rename(staging, target)
        _fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Backup(target, manifest)


def create(settings: Settings, *, out: Path | None = None, now: datetime | None = None) -> Backup:
    """Back up SQLite, DuckDB, the journal and the secret key into `out` (default: data_dir/backups/<UTC>)."""
    src = sources(settings)
    if not src.sqlite.exists():
        raise BackupError(f"no operational database at {src.sqlite}: nothing to back up")
    return _build(settings, out, now, lambda staging: _fill(src, staging, settings))


@dataclass(frozen=True)
class _DuckPart:
    tables: dict[str, int]
    position: Position
    stored: dict[str, int]
    rowids: dict[str, Any]


def _copy_sqlite(src: Sources, staging: Path) -> tuple[dict[str, int], list[str]]:
    # SQLite's online backup: a consistent snapshot even while the server (or `huoli migrate`) writes.
    try:
        source = sqlite3.connect(f"{src.sqlite.absolute().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open the operational database {src.sqlite}: {exc}") from None
    dest = sqlite3.connect(staging / SQLITE_FILE)
    try:
        source.backup(dest)
        tables = _sqlite_tables(dest)
        return tables, _alembic(dest, tables)
    finally:
        dest.close()
        source.close()


def _read_duck(con: duckdb.DuckDBPyConnection) -> _DuckPart:
    tables = _duckdb_tables(con)
    return _DuckPart(
        tables, _journal_position(con, tables), _events_by_app(con, tables), _rowid_marks(con, tables)
    )


def _copy_journal(journal: Path, staging: Path, start: Position, cut: Position | None = None) -> list[str]:
    """Copy the segments from the store's loaded position on; with `cut`, only up to it (online: the end of
    the last acknowledged record, so a record being appended meanwhile is not copied half-written)."""
    # Segments before the loaded position hold only loaded events (the writer drops them on its next load).
    segments = sorted(journal.glob("*.journal")) if journal.is_dir() else []
    copy_dir = staging / JOURNAL_COPY
    mkdir_private(copy_dir)
    copied = []
    for seg in segments:
        number = int(seg.name.removesuffix(".journal"))
        if number < start[0] or (cut is not None and number > cut[0]):
            continue
        if cut is not None and number == cut[0]:
            with open(seg, "rb") as fh, open(copy_dir / seg.name, "wb") as dst:
                dst.write(fh.read(cut[1]))
        else:
            shutil.copyfile(seg, copy_dir / seg.name)
        copied.append(seg.name)
    return copied


def _copy_keys(src: Sources, staging: Path) -> tuple[str, str]:
    secret = "settings" if src.secret is None else "absent"
    if src.secret is not None and src.secret.exists():
        shutil.copyfile(src.secret, staging / SECRET_FILE)
        secret = "file"
    encryption = "settings" if src.encryption_key is None else "absent"
    if src.encryption_key is not None and src.encryption_key.exists():
        shutil.copyfile(src.encryption_key, staging / ENCRYPTION_KEY_FILE)
        encryption = "file"
    return secret, encryption


def _fill(src: Sources, staging: Path, settings: Settings) -> dict[str, Any]:
    duck = _open_store(src.duckdb)  # first: its lock keeps every huoli writer out until we are done
    try:
        if settings.duckdb_threads:
            duck.execute(f"SET threads = {int(settings.duckdb_threads)}")
        sqlite_part = _copy_sqlite(src, staging)
        part = _read_duck(duck)
        copied = _copy_journal(src.journal, staging, part.position)
        export = staging / EVENTS_EXPORT
        mkdir_private(export)
        duck.execute(f"EXPORT DATABASE {_quote(str(export))} ({EXPORT_OPTIONS})")
    finally:
        duck.close()
    return _manifest(src, staging, sqlite_part, part, copied, _copy_keys(src, staging), mode="offline")


def _manifest(
    src: Sources,
    staging: Path,
    sqlite_part: tuple[dict[str, int], list[str]],
    part: _DuckPart,
    copied: list[str],
    keys: tuple[str, str],
    *,
    mode: str,
) -> dict[str, Any]:
    pending = _pending(staging / JOURNAL_COPY, part.position)
    by_app = Counter(part.stored)
    by_app.update(pending)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "mode": mode,
        "huoli_version": _version(),
        "duckdb_version": duckdb.__version__,
        "sqlite_version": sqlite3.sqlite_version,
        "source": {
            "data_dir": str(src.data_dir.absolute()),
            "database": str(src.sqlite.absolute()),
            "event_store": str(src.duckdb.absolute()),
            "custom_urls": src.custom_urls,
            "bytes": {
                "database": _tree_bytes(src.sqlite),
                "event_store": _tree_bytes(src.duckdb) + _tree_bytes(Path(f"{src.duckdb}.wal")),
                "journal": _tree_bytes(src.journal),
            },
        },
        "sqlite": {"tables": sqlite_part[0], "alembic_revisions": sqlite_part[1]},
        "duckdb": {
            "method": f"EXPORT DATABASE ({EXPORT_OPTIONS})",
            "tables": part.tables,
            "journal_position": list(part.position),
            **part.rowids,
        },
        "journal": {
            "segments": copied,
            "pending_events": sum(pending.values()),
            "pending_by_app": dict(sorted(pending.items())),
        },
        "events": {
            "stored": sum(part.stored.values()),
            "journal_pending": sum(pending.values()),
            "total": sum(by_app.values()),
            "by_app": dict(sorted(by_app.items())),
        },
        "secret_key": keys[0],
        "encryption_key": keys[1],
    }


# --- online: inside `huoli serve`, which owns the event store ------------------------------------------

_online_lock = threading.Lock()


def create_online(runtime: Runtime, *, out: Path | None = None, now: datetime | None = None) -> Backup:
    """The same backup as `create`, made inside the process that owns the event store while it serves.

    Order (docs/reliability.md#online-backups): (1) SQLite through its online backup API; (2) hold the
    journal's segments (the loader keeps loading, it only defers deleting); (3) in one DuckDB transaction on a
    cursor of the server's own connection, read the loaded journal position, the counts, and EXPORT DATABASE:
    one snapshot, so the position and the tables agree; (4) copy the journal from that position up to the end
    of the last acknowledged record. Every event acknowledged before (4) is in the export or in the copy; an
    outbox row relayed after (1) may be in both the outbox and the events, and the relay's deterministic
    event_id makes the store drop the second copy after a restore.
    """
    settings = runtime.settings
    src = sources(settings)
    store = runtime.store
    if not runtime.primary or not isinstance(store, DuckDBEventStore):
        raise BackupError(
            "an online backup runs in the process that owns the event store (`huoli serve`, primary queue)",
            code="backup_unsupported",
        )
    if not _online_lock.acquire(blocking=False):
        raise BackupError("a backup is already running in this server", code="backup_busy")
    try:

        def fill(staging: Path) -> dict[str, Any]:
            t0 = time.monotonic()
            sqlite_part = _copy_sqlite(src, staging)  # first: an outbox row relayed later is deduplicated
            journal = runtime.writer.journal
            t1 = time.monotonic()
            with journal.hold() if journal is not None else nullcontext():
                con = store.cursor()
                try:
                    con.execute("BEGIN TRANSACTION")  # read-only: never conflicts with the loader's inserts
                    part = _read_duck(con)
                    export = staging / EVENTS_EXPORT
                    mkdir_private(export)
                    con.execute(f"EXPORT DATABASE {_quote(str(export))} ({EXPORT_OPTIONS})")
                    con.execute("COMMIT")
                finally:
                    con.close()
                t2 = time.monotonic()
                cut = runtime.writer.acknowledged_position()
                copied = _copy_journal(src.journal, staging, part.position, cut) if cut else []
                if not copied:
                    mkdir_private(staging / JOURNAL_COPY)
                t3 = time.monotonic()
            manifest = _manifest(
                src, staging, sqlite_part, part, copied, _copy_keys(src, staging), mode="online"
            )
            manifest["online"] = {
                "sqlite_s": round(t1 - t0, 3),
                "duckdb_snapshot_s": round(t2 - t1, 3),
                "journal_copy_s": round(t3 - t2, 3),
                "journal_cut": list(cut) if cut else None,
                "loader_paused_s": 0.0,  # the loader never waits: only its segment deletions do (hold)
            }
            return manifest

        return _build(settings, out, now, fill)
    finally:
        _online_lock.release()


# --- verify, list, prune ------------------------------------------------------------------------------


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the backup at `path` (its directory or its manifest.json)."""
    file = path if path.name == MANIFEST else path / MANIFEST
    if not file.is_file():
        raise BackupError(f"{path} is not a huoli backup: no {MANIFEST} (an interrupted backup has none)")
    try:
        manifest = json.loads(file.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"cannot read {file}: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{file} is not a huoli backup manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(
            f"{file} has backup format {manifest.get('format_version')!r}; this huoli reads {FORMAT_VERSION}"
        )
    missing = [k for k in ("created_at", "files", "sqlite", "duckdb", "events") if k not in manifest]
    if missing:
        raise BackupError(f"{file} lacks {', '.join(missing)}: not a complete huoli backup manifest")
    return manifest


def verify(path: Path) -> Backup:
    """Check every file against the manifest's size and SHA-256; BackupError lists what differs."""
    directory = path.parent if path.name == MANIFEST else path
    manifest = read_manifest(directory)
    problems = []
    for rel, expected in sorted(manifest.get("files", {}).items()):
        file = directory / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute() or not file.is_file():
            problems.append(f"{rel}: missing")
        elif file.stat().st_size != expected["bytes"]:
            problems.append(f"{rel}: {file.stat().st_size} bytes, manifest says {expected['bytes']}")
        elif _sha256(file) != expected["sha256"]:
            problems.append(f"{rel}: SHA-256 differs from the manifest")
    if not manifest.get("files"):
        problems.append(f"{MANIFEST}: lists no files")
    if problems:
        raise BackupError(
            f"backup {directory} is damaged ({len(problems)} of {len(manifest.get('files', {}))} files)",
            details=problems,
            code="backup_corrupt",
        )
    return Backup(directory, manifest)


def list_backups(root: Path) -> list[Backup]:
    """Complete backups under `root`, oldest first (directories without a readable manifest are skipped)."""
    if not root.is_dir():
        return []
    found = []
    for d in root.iterdir():
        if d.is_dir() and not d.name.startswith("."):
            try:
                found.append(Backup(d, read_manifest(d)))
            except BackupError:
                continue
    return sorted(found, key=lambda b: (b.created_at, b.path.name))


def prune(root: Path, *, keep: int, dry_run: bool = False) -> list[Backup]:
    """Delete all but the `keep` newest backups under `root`; returns the ones removed (or to remove)."""
    if keep < 1:
        raise BackupError("--keep must be at least 1: pruning never deletes the last backup")
    backups = list_backups(root)
    doomed = backups[: max(0, len(backups) - keep)]
    if not dry_run:
        for b in doomed:
            shutil.rmtree(b.path)
    return doomed


# --- restore ------------------------------------------------------------------------------------------


def _check_not_in_use(data_dir: Path) -> None:
    """Refuse to replace the stores of a data dir a running huoli still has open."""
    store = data_dir / DUCKDB_FILE
    if not store.exists():
        return
    try:
        duckdb.connect(str(store)).close()
    except (duckdb.IOException, duckdb.ConnectionException) as exc:
        pid = re.search(r"PID (\d+)", str(exc))
        raise BackupError(
            f"{store} is open in {'process ' + pid.group(1) if pid else 'another connection'} "
            "(a running `huoli serve`?): stop it before restoring over its data directory"
        ) from None


def _import_events(backup: Path, staging: Path, manifest: dict[str, Any], threads: int | None) -> bool:
    """IMPORT DATABASE into a new DuckDB file, check every table's count; True if the rollups were reset."""
    con = duckdb.connect(str(staging / DUCKDB_FILE))
    try:
        con.execute("SET TimeZone = 'UTC'")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        con.execute(f"IMPORT DATABASE {_quote(str(backup / EVENTS_EXPORT))}")
        expected = manifest["duckdb"]["tables"]
        got = _duckdb_tables(con)
        if got != expected:
            diff = sorted(f"{t}: {got.get(t)} rows, backup had {expected.get(t)}" for t in {*got, *expected})
            raise BackupError("the restored event store differs from the backup", details=diff)
        marks = _rowid_marks(con, got)
        aligned = marks["max_rowid"] == manifest["duckdb"]["max_rowid"] and all(
            m == n for m, n in zip(marks["watermarks"], manifest["duckdb"]["watermarks"], strict=True)
        )
        if aligned:
            return False
        # Derived data: dropped with its watermarks, the next analytics request rebuilds it from the events.
        for table in ROLLUP_TABLES:
            con.execute(f"DROP TABLE IF EXISTS {table}")
        if ROLLUP_STATE in got:
            con.execute(f"DELETE FROM {ROLLUP_STATE}")
        return True
    finally:
        con.close()


def _replay(staging: Path, threads: int | None) -> tuple[dict[str, int], int]:
    """Load the restored journal into the restored store with the writer's own recovery, as a start would."""
    store = DuckDBEventStore(str(staging / DUCKDB_FILE), threads=threads)
    try:
        before = int(store.query("SELECT count(*) AS n FROM events").column("n")[0].as_py())
        GroupCommitWriter(store, journal_dir=staging / JOURNAL_DIR).close()
        rows = store.query(
            "SELECT app_id, count(*) AS n FROM events GROUP BY app_id ORDER BY app_id"
        ).to_pylist()
    finally:
        store.close()
    by_app = {str(r["app_id"]): int(r["n"]) for r in rows}
    return by_app, sum(by_app.values()) - before


def restore(backup: Path, data_dir: Path, *, force: bool = False, threads: int | None = None) -> Restored:
    """Restore a verified backup into `data_dir` (new or empty; with force, replace its huoli stores)."""
    started = time.monotonic()
    data_dir = data_dir.expanduser().absolute()
    if data_dir.exists() and not data_dir.is_dir():
        raise BackupError(f"{data_dir} is a file, not a data directory")
    present = sorted(p.name for p in data_dir.iterdir()) if data_dir.exists() else []
    if present and not force:  # checked before the checksums: instant, and the likelier mistake
        shown = ", ".join(present[:5]) + (", …" if len(present) > 5 else "")
        raise BackupError(
            f"{data_dir} is not empty ({shown}): restore into a new or empty directory, or pass --force to "
            f"replace its huoli stores ({', '.join(STORE_ENTRIES)}; other files are kept)"
        )
    try:
        checked = verify(backup)
    except BackupError as exc:
        raise BackupError(
            f"{exc.message}: nothing was restored", details=exc.details, code=exc.code
        ) from None
    backup, manifest = checked.path, checked.manifest
    if data_dir.resolve().is_relative_to(backup.resolve()):
        raise BackupError("a backup cannot be restored into itself")
    if present:
        _check_not_in_use(data_dir)
    mkdir_private(data_dir.parent)
    staging = data_dir.parent / f".{data_dir.name}.restore-{secrets.token_hex(4)}"
    mkdir_private(staging)
    try:
        shutil.copyfile(backup / SQLITE_FILE, staging / SQLITE_FILE)
        con = sqlite3.connect(staging / SQLITE_FILE)
        try:
            check = con.execute("PRAGMA quick_check").fetchone()
            tables = _sqlite_tables(con)
        finally:
            con.close()
        if not check or check[0] != "ok":
            raise BackupError(f"the backup's operational database fails SQLite's check: {check}")
        if tables != manifest["sqlite"]["tables"]:
            raise BackupError("the restored operational database differs from the backup's counts")
        rollups_reset = _import_events(backup, staging, manifest, threads)
        if (backup / JOURNAL_COPY).is_dir():
            shutil.copytree(backup / JOURNAL_COPY, staging / JOURNAL_DIR)
        if (backup / SECRET_FILE).is_file():
            shutil.copyfile(backup / SECRET_FILE, staging / SECRET_FILE)
        if (backup / ENCRYPTION_KEY_FILE).is_file():
            shutil.copyfile(backup / ENCRYPTION_KEY_FILE, staging / ENCRYPTION_KEY_FILE)
        by_app, replayed = _replay(staging, threads)
        expected = {str(k): int(v) for k, v in manifest["events"]["by_app"].items()}
        if by_app != expected:
            diff = sorted(
                f"{a}: {by_app.get(a, 0)} events, backup had {expected.get(a, 0)}"
                for a in {*by_app, *expected}
            )
            raise BackupError("the restored events differ from the backup's counts", details=diff)
        _lock_down(staging)
        _fsync_tree(staging)
        replaced = _install(staging, data_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Restored(
        data_dir=data_dir,
        manifest=manifest,
        events_by_app=by_app,
        replayed=replayed,
        rollups_reset=rollups_reset,
        seconds=round(time.monotonic() - started, 3),
        replaced=replaced,
    )


def _install(staging: Path, data_dir: Path) -> list[str]:
    """Move the restored stores into place; returns the entries of the data dir that were replaced."""
    if not data_dir.exists():
        os.rename(staging, data_dir)
        _fsync_dir(data_dir.parent)
        return []
    replaced = []
    # Stale companions first (an old SQLite -wal or DuckDB .wal would be replayed onto the restored files).
    for name in STORE_ENTRIES:
        old = data_dir / name
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
            replaced.append(name)
        elif old.exists() or old.is_symlink():
            old.unlink()
            replaced.append(name)
    for entry in sorted(staging.iterdir()):
        os.replace(entry, data_dir / entry.name)
    staging.rmdir()
    data_dir.chmod(DIR_MODE)
    _fsync_dir(data_dir)
    return replaced
