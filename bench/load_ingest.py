"""Load generator for HTTP ingestion: run as its own process against a running huoli server.

Pre-builds distinct batches (unique event ids, realistic catalog events) so the server does real work,
then keeps `--concurrency` requests in flight for `--seconds` and reports throughput and latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import uuid
from datetime import UTC, datetime

import httpx
import orjson

PAGES = ["pages/index/index", "pages/item/detail", "pages/cart/index", "pages/user/index", "pages/search/index"]


def make_batch(size: int, rng: random.Random, now_ms: int) -> bytes:
    events = []
    for i in range(size):
        kind = rng.random()
        e: dict[str, object] = {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "ts": now_ms - rng.randint(0, 60_000),
            "anonymous_id": f"a{rng.randint(1, 50_000)}",
            "session_id": f"s{rng.randint(1, 200_000)}",
            "scene": rng.choice([1001, 1007, 1089, 1047]),
            "channel": rng.choice(["organic", "share", "ads_wechat"]),
        }
        if kind < 0.45:
            e.update(name="page_view", page=rng.choice(PAGES), properties={"referrer_page": PAGES[0]})
        elif kind < 0.85:
            e.update(name="page_leave", page=rng.choice(PAGES), properties={"duration_ms": rng.randint(500, 90_000)})
        elif kind < 0.95:
            e.update(name="view_item", page=PAGES[1], properties={"item_id": f"sku{rng.randint(1, 2000)}"})
        else:
            e.update(name="search", properties={"keyword": rng.choice(["茶", "杯子", "coffee"]), "n": i})
        events.append(e)
    return orjson.dumps({"events": events, "sent_at": now_ms})


async def run(url: str, app: str, seconds: float, concurrency: int, batch: int, prebuilt: int) -> dict[str, float]:
    rng = random.Random(7)
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    bodies = [make_batch(batch, rng, now_ms) for _ in range(prebuilt)]
    latencies: list[float] = []
    accepted = errors = 0
    next_body = 0
    headers = {"X-Huoli-App-Id": app, "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal accepted, errors, next_body
            while time.perf_counter() < deadline and next_body < len(bodies):
                body = bodies[next_body]
                next_body += 1
                t0 = time.perf_counter()
                r = await client.post("/v1/events", content=body, headers=headers)
                latencies.append(time.perf_counter() - t0)
                if r.status_code == 200:
                    accepted += r.json()["accepted"]
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "seconds": elapsed,
        "requests": len(latencies),
        "errors": errors,
        "events_accepted": accepted,
        "events_per_s": accepted / elapsed,
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "max_ms": latencies[-1] * 1000,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--url", default="http://127.0.0.1:8000")
    p.add_argument("--app", default="bench")
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--prebuilt", type=int, default=8000)
    a = p.parse_args()
    print(json.dumps(asyncio.run(run(a.url, a.app, a.seconds, a.concurrency, a.batch, a.prebuilt))))


if __name__ == "__main__":
    main()
