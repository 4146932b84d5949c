"""`make bench`: the foundation's speed targets, measured as users run them, written to docs/benchmarks.md.

1. Generator: `huoli demo generate --users U --days 30 --out DIR` (target: 100M events in < 5 min).
2. Bulk import: `huoli import DIR/part-*.parquet --mapping huoli_parquet` into a fresh store (≥ 1M events/s).
3. HTTP ingestion: `huoli serve` (one process) and bench/load_ingest.py from a second process, batches of
   100: closed loop (max throughput) and open loop at 200 batches/s = 20,000 events/s (p99 < 100 ms).

`--users 1000000` is the full-size run (~107M events, ~4 GB of scratch disk, ~5 minutes); the default is a
tenth of that. Scratch data goes to a temporary directory and is deleted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
HUOLI = [sys.executable, "-m", "huoli.cli"]
MARK_BEGIN = "<!-- bench:begin -->"
MARK_END = "<!-- bench:end -->"


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
    import duckdb
    import pyarrow

    return (
        f"{os.cpu_count()} vCPU ({cpu}), {mem_kb / 1024 / 1024:.0f} GiB RAM, {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}, DuckDB {duckdb.__version__}, "
        f"pyarrow {pyarrow.__version__}"
    )


def run(args: list[str], env: dict[str, str]) -> tuple[str, float]:
    started = time.perf_counter()
    proc = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    return proc.stdout + proc.stderr, time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_ingest(env: dict[str, str], seconds: float) -> list[dict[str, object]]:
    port = free_port()
    server = subprocess.Popen([*HUOLI, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        results = []
        load = [
            sys.executable,
            str(ROOT / "bench" / "load_ingest.py"),
            "--url",
            f"http://127.0.0.1:{port}",
            "--app",
            "bench",
        ]
        for extra in (
            ["--concurrency", "16"],
            ["--concurrency", "64", "--rate", "200"],
            ["--concurrency", "64", "--rate", "250"],
        ):
            prebuilt = int(seconds * 260) + 100
            out, _ = run([*load, "--seconds", str(seconds), "--prebuilt", str(prebuilt), *extra], env)
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=100_000, help="generator users (1,000,000 ≈ 107M events)")
    p.add_argument("--seconds", type=float, default=20, help="length of each HTTP load phase")
    p.add_argument("--no-write", action="store_true", help="print, don't update docs/benchmarks.md")
    a = p.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="huoli-bench-"))
    env = {**os.environ, "HUOLI_DATA_DIR": str(scratch / "var"), "HUOLI_SECRET_KEY": "bench"}
    rows: list[tuple[str, str, str, str]] = []
    try:
        out, secs = run(
            [
                *HUOLI,
                "demo",
                "generate",
                "--users",
                str(a.users),
                "--days",
                "30",
                "--out",
                str(scratch / "gen"),
                "--workers",
                "2",
            ],
            env,
        )
        events = int(re.search(r"([\d,]+) events", out).group(1).replace(",", ""))  # type: ignore[union-attr]
        rows.append(
            (
                "Generator",
                f"{events:,} events ({a.users:,} users × 30 days), 2 workers",
                f"{secs:.1f} s wall, {events / secs:,.0f} events/s; 100M would take {1e8 / (events / secs):.0f} s",
                "100M events < 300 s",
            )
        )
        run([*HUOLI, "apps", "create", "bench", "--name", "bench"], env)
        out, secs = run(
            [
                *HUOLI,
                "import",
                str(scratch / "gen" / "part-*.parquet"),
                "--mapping",
                "huoli_parquet",
                "--app",
                "bench",
            ],
            env,
        )
        rows.append(
            (
                "Bulk import (Parquet → DuckDB)",
                f"{events:,} events, `huoli import --mapping huoli_parquet`",
                f"{secs:.1f} s wall incl. CLI start, {events / secs:,.0f} events/s",
                "≥ 1,000,000 events/s",
            )
        )
        shutil.rmtree(scratch / "gen", ignore_errors=True)
        for r in bench_ingest(env, a.seconds):
            mode = (
                "closed loop, 16 in flight"
                if r["mode"] == "closed"
                else f"open loop, {r['target_batches_per_s']:.0f} batches/s"
            )
            rows.append(
                (
                    f"HTTP ingestion ({mode})",
                    f"{r['requests']:,} batches of 100 in {r['seconds']} s",
                    f"{r['events_per_s']:,} events/s; p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms, p99 {r['p99_ms']} ms",
                    "≥ 20,000 events/s with p99 < 100 ms",
                )
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    table = ["| Benchmark | Workload | Result | Target |", "|---|---|---|---|"]
    table += [f"| {b} | {w} | {r} | {t} |" for b, w, r, t in rows]
    section = "\n".join(
        [
            MARK_BEGIN,
            f"Run {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} with `python bench/run.py --users {a.users}`",
            f"on {machine()}.",
            "",
            *table,
            MARK_END,
        ]
    )
    print(section)
    if not a.no_write:
        doc = ROOT / "docs" / "benchmarks.md"
        text = doc.read_text() if doc.exists() else ""
        if MARK_BEGIN in text:
            text = text[: text.index(MARK_BEGIN)] + section + text[text.index(MARK_END) + len(MARK_END) :]
        else:
            text += "\n" + section + "\n"
        doc.write_text(text)


if __name__ == "__main__":
    main()
