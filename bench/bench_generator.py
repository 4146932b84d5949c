"""Benchmark the demo generator end to end: generate N users × D days and write zstd Parquet.

Usage: python bench/bench_generator.py --users 100000 --days 30 [--workers 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from huoli.demo.generator import DemoSpec, write_parquet_parallel


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workers", type=int, default=2, help="at most 2 on the reference machine")
    parser.add_argument("--keep", type=Path, default=None, help="write here and keep the files")
    args = parser.parse_args(argv)

    spec = DemoSpec(users=args.users, days=args.days, seed=args.seed)
    directory = args.keep if args.keep else Path(tempfile.mkdtemp(prefix="huoli-bench-"))
    try:
        result = write_parquet_parallel(spec, directory, workers=args.workers)
        size = sum(f.stat().st_size for f in result.files)
    finally:
        if args.keep is None:
            shutil.rmtree(directory, ignore_errors=True)  # benchmark output is scratch data
    print(f"users={args.users} days={args.days} workers={args.workers} files={len(result.files)}")
    rate = result.events / result.seconds
    print(f"events={result.events:,} seconds={result.seconds:.1f} events/s={rate:,.0f}")
    print(f"parquet={size / 1e6:,.0f} MB ({size / max(result.events, 1):.1f} bytes/event)")


if __name__ == "__main__":
    main()
