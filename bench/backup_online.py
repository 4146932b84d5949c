"""Online backup while `huoli serve` ingests: how long it takes, how long the loader waits (it should not), and
the latency of POST /v1/events before and during it. `python bench/backup_online.py --events 1000000`."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backup import build
from huoli.app import create_app
from huoli.backup import service
from huoli.runtime import build_runtime


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        settings, stored = build(work / "var", args.events, work)
        rt = build_runtime(settings)
        server = uvicorn.Server(uvicorn.Config(create_app(runtime=rt), port=8931, log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        app_id = "demo"
        lat: list[tuple[float, float]] = []
        stop = threading.Event()

        def ingest() -> None:
            with httpx.Client(base_url="http://127.0.0.1:8931", timeout=60) as http:
                while not stop.is_set():
                    now = datetime.now(UTC)
                    batch = [
                        {
                            "event_id": str(uuid.uuid4()),
                            "name": "app_show",
                            "ts": int((now - timedelta(seconds=i)).timestamp() * 1000),
                            "anonymous_id": f"b{i}",
                            "session_id": "s",
                        }
                        for i in range(20)
                    ]
                    t0 = time.monotonic()
                    r = http.post(
                        "/v1/events",
                        content=orjson.dumps({"events": batch}),
                        headers={"X-Huoli-App-Id": app_id, "Content-Type": "application/json"},
                    )
                    assert r.status_code == 200, r.text
                    lat.append((t0, time.monotonic() - t0))

        thread = threading.Thread(target=ingest, daemon=True)
        thread.start()
        time.sleep(5)
        t_start = time.monotonic()
        backup = service.create_online(rt, out=work / "backup")
        t_end = time.monotonic()
        time.sleep(2)
        stop.set()
        thread.join()
        server.should_exit = True
        time.sleep(1)
        rt.close()
        before = [d for t, d in lat if t < t_start]
        during = [d for t, d in lat if t_start <= t < t_end]
        o = backup.manifest["online"]
        print(
            f"{stored:,} demo events; backup {backup.events:,} events "
            f"({backup.manifest['events']['journal_pending']:,} from the journal), {backup.total_bytes / 2**20:.1f} MiB"
        )
        print(
            f"online backup: {t_end - t_start:.2f} s wall (SQLite {o['sqlite_s']} s, DuckDB snapshot+export "
            f"{o['duckdb_snapshot_s']} s, journal {o['journal_copy_s']} s); loader paused {o['loader_paused_s']} s"
        )
        for label, xs in (("before", before), ("during", during)):
            print(
                f"POST /v1/events (20 events) {label}: n={len(xs)} p50 {pct(xs, 0.5):.1f} ms, "
                f"p99 {pct(xs, 0.99):.1f} ms, "
                f"max {max(xs) * 1000:.1f} ms, mean {statistics.mean(xs) * 1000:.1f} ms"
            )


if __name__ == "__main__":
    main()
