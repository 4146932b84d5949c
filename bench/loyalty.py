"""Loyalty speed targets on PostgreSQL (issue 6).

1. Check-in + points earn over HTTP: `huoli serve` on PostgreSQL, an open-loop load at the target rate
   (half `POST /v1/loyalty/checkin` by distinct members with session tokens, half signed
   `POST /v1/server/loyalty/orders/paid` with distinct orders), latency measured from each request's scheduled
   send time. Target ≥ 500 requests/s sustained with p99 < 50 ms.
2. Leaderboard over N members (default 1,000,000): top-100 + "my rank" for random members, on the SQL store
   (PostgreSQL, indexed) and on Redis sorted sets. Target < 50 ms per call.

Run: `python bench/loyalty.py [--no-write] [--seconds 20] [--rate 500] [--members 1000000] [--no-boards]`.
Each HTTP phase also reports the server process's CPU time per request (utime + stime from /proc), the
figure that doesn't depend on other load on the machine.
Uses HUOLI_DATABASE_URL when it is a PostgreSQL URL, else HUOLI_TEST_PG_URL / the local test server; the
bench works in a private schema it drops afterwards. Redis: 127.0.0.1:6379 db 14, keys under bench:<random>.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CpuBudget, client_gc_paused, markdown_table, settle, write_section
from huoli.auth.service import issue_session_token, sign_request
from load_ingest import Connection

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
SECRET = "bench-loyalty-secret"
APP = "bench"


def pg_base_url() -> str:
    url = os.environ.get("HUOLI_DATABASE_URL", "")
    return url if url.startswith("postgres") else os.environ.get("HUOLI_TEST_PG_URL", PG_DEFAULT)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def request(method: str, path: str, port: int, headers: dict[str, str], body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (head + "\r\n").encode() + body


def build_requests(n: int, port: int, server_secret: str, phase: str) -> list[bytes]:
    """Alternating check-ins (a new member each) and signed paid orders (a new order each); `phase` keeps
    the members of each load phase distinct (a repeat would measure the idempotent replay path)."""
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        if i % 2 == 0:
            token, _ = issue_session_token(
                secret=SECRET, app_id=APP, user_id=f"u_c{phase}_{i}", now=now, ttl=timedelta(hours=1)
            )
            out.append(
                request(
                    "POST",
                    "/v1/loyalty/checkin",
                    port,
                    {"X-Huoli-App-Id": APP, "Authorization": f"Bearer {token}"},
                )
            )
        else:
            path = "/v1/server/loyalty/orders/paid"
            body = orjson.dumps(
                {
                    "user_id": f"u_o{i % 5000}",
                    "order_id": f"o{i}-{uuid.uuid4().hex[:8]}",
                    "amount_fen": 1000 + i % 50_000,
                }
            )
            ts, nonce = str(int(now.timestamp())), secrets.token_hex(8)
            sig = sign_request(
                secret=server_secret, method="POST", path=path, timestamp=ts, nonce=nonce, body=body
            )
            out.append(
                request(
                    "POST",
                    path,
                    port,
                    {
                        "X-Huoli-App-Id": APP,
                        "Content-Type": "application/json",
                        "X-Huoli-Timestamp": ts,
                        "X-Huoli-Nonce": nonce,
                        "X-Huoli-Signature": sig,
                    },
                    body,
                )
            )
    return out


async def load(
    port: int, requests: list[bytes], rate: float | None, seconds: float, concurrency: int
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    next_index = 0
    started = time.perf_counter()
    deadline = started + seconds

    async def worker() -> None:
        nonlocal errors, next_index
        conn = Connection("127.0.0.1", port)
        while next_index < len(requests):
            index = next_index
            next_index += 1
            if rate is not None:
                scheduled = started + index / rate
                if scheduled >= deadline:
                    return
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                scheduled = time.perf_counter()
                if scheduled >= deadline:
                    return
            status, _ = await conn.post(requests[index])
            latencies.append(time.perf_counter() - scheduled)
            errors += status != 200

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0

    return {
        "mode": f"open {rate:.0f}/s" if rate else f"closed c={concurrency}",
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50": pct(0.5),
        "p99": pct(0.99),
        "max": latencies[-1] * 1000 if latencies else 0.0,
    }


def bench_http(env: dict[str, str], server_secret: str, seconds: float, rate: float) -> list[dict[str, Any]]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "huoli.cli", "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL
    )
    try:
        for _ in range(600):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        settle(server.pid)
        warm = build_requests(200, port, server_secret, "warm")
        asyncio.run(load(port, warm, None, 5, 8))
        results = []
        for mode_rate, conc in ((None, 16), (rate, 64)):
            n = int(seconds * (mode_rate or 1500)) + 100
            reqs = build_requests(n, port, server_secret, str(len(results)))
            budget = CpuBudget(server.pid)
            cpu = budget.snapshot()
            with client_gc_paused():
                result = asyncio.run(load(port, reqs, mode_rate, seconds, conc))
            result.update(budget.per_request(cpu, result["requests"]))
            results.append(result)
        return results
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def fill_sql(engine: sa.Engine, members: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO loyalty_board_scores (app_id, board, period, user_id, score, updated_at) "
                "SELECT :app, 'bench', 'all', 'u' || g, (random() * random() * 100000)::bigint, now() "
                "FROM generate_series(1, :n) g"
            ),
            {"app": APP, "n": members},
        )
        # The per-score counts as the compact job leaves them (writing 1M members through the service
        # would measure the writes, not the reads).
        conn.execute(
            sa.text(
                "INSERT INTO loyalty_board_counts (app_id, board, period, score, n) "
                "SELECT app_id, board, period, score, count(*) FROM loyalty_board_scores "
                "WHERE app_id = :app AND board = 'bench' GROUP BY app_id, board, period, score"
            ),
            {"app": APP},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE loyalty_board_scores"))
        conn.execute(sa.text("VACUUM ANALYZE loyalty_board_counts"))


def check_ranks(engine: sa.Engine, runtime: Any, users: list[str]) -> None:
    """The timed answer must be the right one: compare "my rank" with a plain count for a few members."""
    from huoli.db import unit_of_work
    from huoli.loyalty import leaderboards
    from huoli.loyalty.context import make_ctx

    for user in users:
        with engine.connect() as conn:
            want = (
                1
                + conn.execute(
                    sa.text(
                        "SELECT count(*) FROM loyalty_board_scores WHERE app_id = :a AND board = 'bench' "
                        "AND period = 'all' AND score > (SELECT score FROM loyalty_board_scores WHERE app_id = :a "
                        "AND board = 'bench' AND period = 'all' AND user_id = :u)"
                    ),
                    {"a": APP, "u": user},
                ).scalar_one()
            )
        with unit_of_work(runtime.sessions, app_id=APP) as db:
            ctx = make_ctx(db, app_id=APP, now=datetime.now(UTC), settings=runtime.settings)
            me = leaderboards.standings(db, ctx, board="bench", period="all", top=1, user_id=user).me
        assert me is not None and me.rank == want, (user, me, want)


def time_calls(fn: Any, users: list[str]) -> dict[str, float]:
    fn(users[0])
    times = []
    for u in users:
        t = time.perf_counter()
        fn(u)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {
        "median": statistics.median(times),
        "p99": times[min(len(times) - 1, int(0.99 * len(times)))],
        "max": times[-1],
    }


def bench_boards(runtime: Any, members: int, samples: int) -> list[list[object]]:
    from huoli.db import unit_of_work
    from huoli.loyalty import leaderboards
    from huoli.loyalty.context import make_ctx

    rng = random.Random(7)
    users = [f"u{rng.randint(1, members)}" for _ in range(samples)]
    rows: list[list[object]] = []

    def call(user: str) -> None:
        with unit_of_work(runtime.sessions, app_id=APP) as db:
            ctx = make_ctx(db, app_id=APP, now=datetime.now(UTC), settings=runtime.settings)
            out = leaderboards.standings(db, ctx, board="bench", period="all", top=100, user_id=user)
            assert len(out.top) == 100 and out.me is not None

    fill_sql(runtime.engine, members)
    check_ranks(runtime.engine, runtime, users[:3])
    t = time_calls(call, users)
    rows.append(["SQL (PostgreSQL)", f"{members:,}", f"{t['median']:.1f}", f"{t['p99']:.1f}", "< 50 ms"])

    import redis

    from huoli.loyalty.context import save_rules

    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    r = redis.Redis.from_url("redis://127.0.0.1:6379/14")
    with unit_of_work(runtime.sessions, app_id=APP) as db:
        ctx = make_ctx(db, app_id=APP, now=datetime.now(UTC), settings=runtime.settings)
        rules = ctx.rules.model_copy(deep=True)
        rules.leaderboards.backend, rules.leaderboards.redis_url = "redis", "redis://127.0.0.1:6379/14"
        rules.leaderboards.key_prefix = prefix
        save_rules(db, APP, rules, ctx.now)
    key = f"{prefix}lb:{APP}:bench:all"
    try:
        with runtime.engine.connect() as conn:
            result = conn.execute(
                sa.text(
                    "SELECT user_id, score FROM loyalty_board_scores WHERE app_id = :a AND board = 'bench'"
                ),
                {"a": APP},
            )
            while chunk := result.fetchmany(50_000):
                r.zadd(key, {u: s for u, s in chunk})
        check_ranks(runtime.engine, runtime, users[:3])
        t = time_calls(call, users)
        rows.append(["Redis sorted set", f"{members:,}", f"{t['median']:.1f}", f"{t['p99']:.1f}", "< 50 ms"])
    finally:
        for k in r.scan_iter(f"{prefix}*"):
            r.delete(k)
        r.close()
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=20, help="length of each HTTP load phase")
    p.add_argument("--rate", type=float, default=500, help="open-loop target, requests/s")
    p.add_argument("--members", type=int, default=1_000_000, help="leaderboard members")
    p.add_argument("--samples", type=int, default=200, help="leaderboard calls timed")
    p.add_argument("--no-write", action="store_true", help="print, don't update docs/benchmarks.md")
    p.add_argument(
        "--workers",
        type=int,
        default=3,
        help="`huoli serve --workers` (1 = one process; cores + 1 on PostgreSQL)",
    )
    p.add_argument("--no-boards", action="store_true", help="HTTP part only (skip the leaderboard part)")
    a = p.parse_args()

    from huoli.apps import service as apps
    from huoli.apps.schemas import AppCreate
    from huoli.db import normalise_url, unit_of_work
    from huoli.runtime import build_runtime
    from huoli.settings import Settings

    base = pg_base_url()
    schema = f"bench_loyalty_{secrets.token_hex(4)}"
    admin = sa.create_engine(normalise_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}"
    scratch = Path(tempfile.mkdtemp(prefix="huoli-bench-loyalty-"))
    env = {
        **os.environ,
        "HUOLI_DATA_DIR": str(scratch / "var"),
        "HUOLI_SECRET_KEY": SECRET,
        "HUOLI_DATABASE_URL": url,
        "HUOLI_WORKERS": str(a.workers),
    }
    try:
        settings = Settings(
            data_dir=scratch / "var",
            database_url=url,
            secret_key=SECRET,
            event_store_url=f"duckdb:///{scratch / 'board-events.duckdb'}",
        )
        runtime = build_runtime(settings)
        with unit_of_work(runtime.sessions) as db:
            server_secret = apps.create(db=db, app_in=AppCreate(id=APP, name=APP)).server_secret
        http = bench_http(env, server_secret, a.seconds, a.rate)
        boards = [] if a.no_boards else bench_boards(runtime, a.members, a.samples)
        runtime.close()
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()

    body = [
        f"Check-in + points earn over HTTP (`huoli serve --workers {a.workers}`, PostgreSQL): half"
        " `POST /v1/loyalty/checkin` (a new member each), half signed `POST /v1/server/loyalty/orders/paid`"
        " (a new order each). Open loop: latency from each request's scheduled send time. Target ≥ 500 req/s"
        " sustained, p99 < 50 ms. The CPU columns are each party's CPU time per request; cores ÷ their sum is"
        " the most this machine can serve with the load generator on it.",
        "",
        *markdown_table(
            [
                "Load",
                "Requests",
                "Errors",
                "Req/s",
                "p50 ms",
                "p99 ms",
                "max ms",
                "CPU ms/req: server / PostgreSQL / client",
                "machine ceiling req/s",
            ],
            [
                [
                    h["mode"],
                    h["requests"],
                    h["errors"],
                    f"{h['rps']:.0f}",
                    f"{h['p50']:.1f}",
                    f"{h['p99']:.1f}",
                    f"{h['max']:.1f}",
                    f"{h['server_ms']:.1f} / {h['pg_ms']:.1f} / {h['client_ms']:.1f}",
                    f"{h['ceiling_rps']:.0f}",
                ]
                for h in http
            ],
        ),
        "",
    ]
    if boards:
        body += [
            f"Leaderboard top-100 + my rank ({a.samples} random members, in-process service call incl. its unit"
            " of work). Target < 50 ms.",
            "",
            *markdown_table(["Backend", "Members", "median ms", "p99 ms", "Target"], boards),
            "",
        ]
    write_section(
        "loyalty",
        "Loyalty: check-in, points earn, leaderboards",
        f"python bench/loyalty.py --workers {a.workers}",
        body,
        write=not a.no_write and not a.no_boards,  # a partial run never replaces the recorded section
    )


if __name__ == "__main__":
    main()
