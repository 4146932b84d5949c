"""Promotions bench: flash-sale attempts per second with zero oversell, and coupon validate + lock latency.

Against a real `huoli serve` on PostgreSQL (HUOLI_DATABASE_URL, default the local test server, in a fresh
schema that is dropped afterwards), driven from this process with the raw keep-alive HTTP client of
bench/load_ingest.py:

1. Flash sale (秒杀): `--flash-seconds` of closed-loop attempts, each by a distinct logged-in user, on 5 items
   whose total stock is a tenth of the prebuilt users (both the winning and the sold-out path run). Target
   ≥ 1,000 attempts/s. Afterwards the database is checked: per item stock + reservations == initial stock,
   stock ≥ 0, no user twice, and the number of 200 answers equals the reservations.
2. Coupons: open loop at `--coupon-rate` requests/s of POST /v1/promotions/coupons/lock (validate against a
   cart + reserve), each for a distinct order and coupon. Target p99 < 30 ms at 300 req/s.

`--redis` runs the flash workload through the Redis gate too (HUOLI_REDIS_URL, default 127.0.0.1:6379).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import sqlalchemy as sa

from common import CpuBudget, client_gc_paused, markdown_table, settle, write_section
from huoli.apps import service as apps
from huoli.apps.schemas import AppCreate
from huoli.auth.service import issue_session_token
from huoli.db import normalise_url, unit_of_work
from huoli.promotions import coupons, flashsale
from huoli.promotions.models import FlashItem, FlashReservation
from huoli.promotions.schemas import CouponTemplateIn, FlashItemIn, FlashSessionIn
from huoli.runtime import build_runtime
from huoli.settings import Settings
from huoli.work import Caller, open_work
from load_ingest import Connection

ROOT = Path(__file__).resolve().parents[1]
APP = "bench"
SECRET = "bench-secret-key"
DEFAULT_PG = os.environ.get("HUOLI_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def request(host: str, port: int, path: str, token: str, body: dict[str, Any]) -> bytes:
    raw = orjson.dumps(body)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"X-Huoli-App-Id: {APP}\r\nAuthorization: Bearer {token}\r\nContent-Length: {len(raw)}\r\n\r\n"
    )
    return head.encode() + raw


async def drive(
    port: int, requests: list[bytes], *, seconds: float, concurrency: int, rate: float | None
) -> dict[str, Any]:
    """Closed loop (rate None) or open loop (latency from each request's scheduled time)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    done_at: list[tuple[float, int]] = []  # (completion time, status): the phase while stock lasted
    next_index = 0
    started = time.perf_counter()
    deadline = started + seconds

    async def worker() -> None:
        nonlocal next_index
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
            now = time.perf_counter()
            latencies.append(now - scheduled)
            done_at.append((now, status))
            statuses[status] = statuses.get(status, 0) + 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    last_win = max((t for t, st in done_at if st == 200), default=started)
    selling = [st for t, st in done_at if t <= last_win]
    latencies.sort()

    def pct(p: float) -> float:
        return (
            round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1) if latencies else 0.0
        )

    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 2),
        "per_s": round(len(latencies) / elapsed),
        "selling_s": round(last_win - started, 2),
        "selling_per_s": round(len(selling) / (last_win - started)) if last_win > started else 0,
        "statuses": statuses,
        "exhausted": len(latencies) >= len(requests),
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "max_ms": pct(1.0),
    }


def setup(settings: Settings, *, users: int, items: int, stock: int, coupons_needed: int) -> dict[str, Any]:
    """App, users' session tokens, flash items, and one claimed coupon per coupon request (in the service)."""
    rt = build_runtime(settings)
    now = datetime.now(UTC)
    try:
        with unit_of_work(rt.sessions) as db:
            apps.create(db=db, app_in=AppCreate(id=APP, name=APP))
        tokens = [
            issue_session_token(secret=SECRET, app_id=APP, user_id=f"u{i}", now=now, ttl=timedelta(hours=2))[
                0
            ]
            for i in range(max(users, coupons_needed))
        ]
        with open_work(rt, APP, Caller("cli"), now=now) as work:
            flashsale.create_session(
                work,
                spec=FlashSessionIn(
                    id="s",
                    name="bench",
                    starts_at=now - timedelta(minutes=1),
                    ends_at=now + timedelta(hours=2),
                ),
            )
            for k in range(items):
                flashsale.create_item(
                    work,
                    spec=FlashItemIn(
                        id=f"f{k}",
                        session_id="s",
                        item_id=f"sku{k}",
                        price_fen=100,
                        original_price_fen=1000,
                        stock=stock,
                    ),
                )
            coupons.create_template(
                work,
                spec=CouponTemplateIn(
                    id="c",
                    name="满100减20",
                    kind="threshold",
                    amount_fen=2000,
                    threshold_fen=10000,
                    valid_days=7,
                ),
            )
        coupon_ids = []
        with open_work(rt, APP, Caller("cli"), now=now) as work:
            for i in range(coupons_needed):
                c, _ = coupons.claim(work, template_id="c", user_id=f"u{i}", claim_key=f"bench:{i}")
                coupon_ids.append(c.id)
        return {"tokens": tokens, "coupon_ids": coupon_ids}
    finally:
        rt.close()


def verify_flash(settings: Settings, items: int, stock: int, won: int) -> dict[str, Any]:
    rt = build_runtime(settings, run_migrations=False)
    try:
        with unit_of_work(rt.sessions, app_id=APP) as db:
            left = {i.id: i.stock for i in db.scalars(sa.select(FlashItem))}
            held = dict(
                db.execute(
                    sa.select(FlashReservation.flash_item_id, sa.func.count()).group_by(
                        FlashReservation.flash_item_id
                    )
                ).all()
            )
            dup = db.scalar(
                sa.select(sa.func.count()).select_from(
                    sa.select(FlashReservation.user_id)
                    .group_by(FlashReservation.flash_item_id, FlashReservation.user_id)
                    .having(sa.func.count() > 1)
                    .subquery()
                )
            )
        consistent = all(
            left[f"f{k}"] + held.get(f"f{k}", 0) == stock and left[f"f{k}"] >= 0 for k in range(items)
        )
        reserved = sum(held.values())
        return {
            "oversold": not consistent or dup != 0,
            "reserved": reserved,
            "answers_match": reserved == won,
            "stock_left": sum(left.values()),
        }
    finally:
        rt.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    p.add_argument("--flash-seconds", type=float, default=15)
    p.add_argument("--flash-users", type=int, default=40_000)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--coupon-seconds", type=float, default=15)
    p.add_argument("--coupon-rate", type=float, default=300)
    p.add_argument(
        "--workers",
        type=int,
        default=3,
        help="`huoli serve --workers` (1 = one process; cores + 1 on PostgreSQL)",
    )
    p.add_argument("--redis", action="store_true", help="also run the flash workload through the Redis gate")
    a = p.parse_args()

    base = os.environ.get("HUOLI_DATABASE_URL") or DEFAULT_PG
    if not base.startswith("postgres"):
        sys.exit("bench/promotions.py measures PostgreSQL: set HUOLI_DATABASE_URL=postgresql://…")
    admin = sa.create_engine(normalise_url(base), isolation_level="AUTOCOMMIT")
    scratch = Path(tempfile.mkdtemp(prefix="huoli-bench-promo-"))
    rows: list[list[object]] = []
    for gate in [False, True] if a.redis else [False]:
        # a fresh schema per pass, dropped afterwards: the bench never touches existing data
        schema = f"bench_promo_{secrets.token_hex(4)}"
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
        try:
            rows += run_once(a, url, scratch / ("redis" if gate else "db"), gate)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()
    body = [
        "Workloads: (1) 秒杀 attempts, closed loop, each by a distinct logged-in user, total stock = a tenth of "
        "the prebuilt users (demand far above supply, like the 2,000-for-100 correctness test), then the "
        "database is checked for oversell; (2) coupon validate + lock (POST "
        "/v1/promotions/coupons/lock) open loop, a distinct order and coupon per request. Server: "
        + (f"`huoli serve --workers {a.workers}`." if a.workers > 1 else "one `huoli serve` process."),
        "",
        *markdown_table(["workload", "target", "result", "p50 ms", "p99 ms", "check"], rows),
    ]
    cmd = f"python bench/promotions.py --workers {a.workers}" + (" --redis" if a.redis else "")
    write_section("promotions", "Promotions: flash sale and coupon checkout", cmd, body, write=not a.no_write)


def run_once(a: argparse.Namespace, url: str, scratch: Path, gate: bool) -> list[list[object]]:
    env = {
        **os.environ,
        "HUOLI_DATA_DIR": str(scratch / "var"),
        "HUOLI_DATABASE_URL": url,
        "HUOLI_SECRET_KEY": SECRET,
        "HUOLI_WORKERS": str(a.workers),
    }
    if gate:
        env["HUOLI_REDIS_URL"] = os.environ.get("HUOLI_REDIS_URL", "redis://127.0.0.1:6379/0")
    else:
        env.pop("HUOLI_REDIS_URL", None)
    # The server's data dir: both read the encryption key generated there (the app's secrets are stored encrypted).
    settings = Settings(
        data_dir=scratch / "var", database_url=url, event_store_url="duckdb:///:memory:", secret_key=SECRET
    )
    items = 5
    # Enough distinct users that the run never runs out; stock is a tenth of them: a 秒杀 has far more
    # attempts than units (the correctness test uses 2,000 for 100), so both the winning path (four
    # statements and an event) and the sold-out path (one read) are part of the measured mix.
    users = min(a.flash_users, int(a.flash_seconds * 3000))
    stock = max(1, users // (10 * items))
    coupon_requests = int(a.coupon_seconds * a.coupon_rate) + 10
    data = setup(settings, users=users, items=items, stock=stock, coupons_needed=coupon_requests)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "huoli.cli", "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL
    )
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        settle(server.pid)
        if gate:
            import redis

            from huoli.promotions.flashsale import RedisGate

            g = RedisGate(redis.Redis.from_url(env["HUOLI_REDIS_URL"]))
            for k in range(items):
                g.load(APP, f"f{k}", stock)
        flash_reqs = [
            request(
                "127.0.0.1", port, f"/v1/promotions/flash/items/f{i % items}/attempt", data["tokens"][i], {}
            )
            for i in range(users)
        ]
        budget = CpuBudget(server.pid)
        cpu0 = budget.snapshot()
        with client_gc_paused():
            flash = asyncio.run(
                drive(port, flash_reqs, seconds=a.flash_seconds, concurrency=a.concurrency, rate=None)
            )
        flash_cpu = budget.per_request(cpu0, flash["requests"])
        won = flash["statuses"].get(200, 0)
        check = verify_flash(settings, items, stock, won)
        cart = [{"item_id": "sku", "price_fen": 6000, "quantity": 2}]
        lock_reqs = [
            request(
                "127.0.0.1",
                port,
                "/v1/promotions/coupons/lock",
                data["tokens"][i],
                {"order_id": f"o{i}", "coupon_ids": [cid], "cart": cart},
            )
            for i, cid in enumerate(data["coupon_ids"])
        ]
        cpu0 = budget.snapshot()
        with client_gc_paused():
            lock = asyncio.run(
                drive(port, lock_reqs, seconds=a.coupon_seconds, concurrency=64, rate=a.coupon_rate)
            )
        lock_cpu = budget.per_request(cpu0, lock["requests"])
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    label = "Redis gate" if gate else "DB path"
    flash_ok = not check["oversold"] and check["answers_match"]
    return [
        [
            f"秒杀 attempts ({label}, {a.concurrency} in flight, {items}×{stock} units)",
            "≥ 1,000 attempts/s, zero oversell",
            f"{flash['per_s']:,} attempts/s over {flash['seconds']} s; while stock lasted (first "
            f"{flash['selling_s']} s, the contended path) {flash['selling_per_s']:,} attempts/s ({won:,} won, "
            f"statuses {flash['statuses']}; "
            f"{CpuBudget.describe(flash_cpu)})"
            + (" — ran out of prebuilt users" if flash["exhausted"] else ""),
            flash["p50_ms"],
            flash["p99_ms"],
            "no oversell, answers = reservations" if flash_ok else f"FAILED {check}",
        ],
        [
            f"coupon validate + lock at {a.coupon_rate:g}/s ({label} server)",
            "p99 < 30 ms",
            f"{lock['per_s']:,} req/s, statuses {lock['statuses']}; {CpuBudget.describe(lock_cpu)}",
            lock["p50_ms"],
            lock["p99_ms"],
            "all 200" if set(lock["statuses"]) == {200} else "errors",
        ],
    ]


if __name__ == "__main__":
    main()
