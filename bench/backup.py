"""Backup and restore of the embedded stores on a generated event history (issue 20).

Builds a data dir with the demo app and about `--events` demo events (default 1,000,000) plus their analytics
rollup, then times `huoli backup create` (service.create) and `huoli backup restore` and reports sizes. For the
choice of method it also times the two alternatives on the same DuckDB file: ATTACH + COPY FROM DATABASE into
a new DuckDB file, and a plain file copy (only possible with no process holding the file, as for a backup).

Run: `python bench/backup.py [--events 1000000] [--no-write] [--keep DIR]`. With writing on, the result
replaces the text between the bench markers in docs/reliability.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, markdown_table
from huoli.analytics import rollup
from huoli.backup import service
from huoli.demo.generator import DemoSpec, write_parquet_parallel
from huoli.demo.service import ensure_app_and_keys
from huoli.events.importer import import_file, load_mapping
from huoli.runtime import build_runtime
from huoli.settings import Settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"
BEGIN, END = "<!-- bench:backup:begin -->", "<!-- bench:backup:end -->"
T = TypeVar("T")
EVENTS_PER_USER = 100  # the demo mix over 30 days, measured: ~100 events per acquired user


def mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def build(data_dir: Path, events: int, scratch: Path) -> tuple[Settings, int]:
    settings = Settings(data_dir=data_dir, database_url="", event_store_url="", secret_key="")
    spec = DemoSpec(users=max(1, events // EVENTS_PER_USER), days=30)
    files = write_parquet_parallel(spec, scratch / "parquet", workers=2)
    rt = build_runtime(settings)
    try:
        ensure_app_and_keys(rt)
        import_file(
            store=rt.store,
            path=scratch / "parquet" / "part-*.parquet",
            mapping=load_mapping("huoli_parquet"),
            app_id=spec.app_id,
            now=rt.clock(),
        )
        rollup.refresh_duckdb(rt.store.cursor(), spec.app_id, spec.tz)
        stored = rt.store.count(app_id=spec.app_id)
    finally:
        rt.close()
    shutil.rmtree(scratch / "parquet")
    assert stored == files.events, (stored, files.events)
    return settings, stored


def timed(fn: Callable[[], T]) -> tuple[T, list[str]]:
    """Wall time and this process's CPU time (DuckDB's threads included): the CPU figure moves less when
    other work shares the machine."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, [f"{time.perf_counter() - wall:.1f} s", f"{time.process_time() - cpu:.1f} s"]


def alternatives(store: Path, scratch: Path) -> list[list[object]]:
    target = scratch / "copy-from-database.duckdb"

    def copy_from_database() -> None:
        con = duckdb.connect()
        con.execute(f"ATTACH '{store}' AS src (READ_ONLY)")
        con.execute(f"ATTACH '{target}' AS dst")
        con.execute("COPY FROM DATABASE src TO dst")
        con.close()

    _, copy_time = timed(copy_from_database)
    plain = scratch / "plain.duckdb"
    _, plain_time = timed(lambda: shutil.copyfile(store, plain))
    return [
        [
            "alternative: ATTACH + COPY FROM DATABASE into a new .duckdb",
            *copy_time,
            mib(target.stat().st_size),
        ],
        ["alternative: plain copy of events.duckdb", *plain_time, mib(plain.stat().st_size)],
    ]


def measure(n: int, work: Path) -> list[str]:
    settings, events = build(work / "var", n, work)
    src = service.sources(settings)
    store_bytes, db_bytes = src.duckdb.stat().st_size, src.sqlite.stat().st_size
    backup, create_time = timed(lambda: service.create(settings))
    parquet = sum(f["bytes"] for name, f in backup.manifest["files"].items() if name.startswith("events/"))
    restored, restore_time = timed(lambda: service.restore(backup.path, work / "restored"))
    assert sum(restored.events_by_app.values()) == events
    rows: list[list[object]] = [
        [
            "`huoli backup create`: SQLite backup, EXPORT DATABASE (Parquet, zstd), journal, SHA-256, fsync",
            *create_time,
            f"{mib(backup.total_bytes)} (events/ {mib(parquet)})",
        ],
        [
            "`huoli backup restore`: verify, IMPORT DATABASE, journal replay, count checks, fsync",
            *restore_time,
            f"{mib((work / 'restored' / service.DUCKDB_FILE).stat().st_size)} events.duckdb",
        ],
        *alternatives(src.duckdb, work),
    ]
    return [
        f"**{events:,} events** (demo history, 30 days, with its user-day and session rollups): source "
        f"events.duckdb {mib(store_bytes)}, huoli.db {mib(db_bytes)}; load average {os.getloadavg()[0]:.1f} "
        "at the end.",
        "",
        *markdown_table(["step", "wall", "CPU", "size"], rows),
        "",
    ]


def write_doc(section: str) -> None:
    text = DOC.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{DOC} has no {BEGIN} … {END} markers")
    DOC.write_text(text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--events",
        type=int,
        nargs="+",
        default=[1_000_000],
        help="about this many demo events (one run each)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/reliability.md alone")
    parser.add_argument("--keep", type=Path, default=None, help="work here and keep the files")
    args = parser.parse_args(argv)

    body: list[str] = []
    for n in args.events:
        work = args.keep / str(n) if args.keep else Path(tempfile.mkdtemp(prefix="huoli-bench-backup-"))
        try:
            body += measure(n, work)
        finally:
            if args.keep is None:
                shutil.rmtree(work, ignore_errors=True)  # scratch data only
    command = "python bench/backup.py --events " + " ".join(str(n) for n in args.events)
    section = "\n".join([BEGIN, f"Measured with `{command}` on {machine()}.", "", *body, END])
    print(section)
    if not args.no_write:
        write_doc(section)


if __name__ == "__main__":
    main()
