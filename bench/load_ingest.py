"""Load generator for HTTP ingestion: run as its own process against a running huoli server.

Pre-builds distinct batches (unique event ids, realistic catalog events) so the server does real work,
then keeps `--concurrency` requests in flight for `--seconds` and reports throughput and latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime

import httpx
import orjson

PAGES = [
    "pages/index/index",
    "pages/item/detail",
    "pages/cart/index",
    "pages/user/index",
    "pages/search/index",
]


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
            e.update(
                name="page_leave",
                page=rng.choice(PAGES),
                properties={"duration_ms": rng.randint(500, 90_000)},
            )
        elif kind < 0.95:
            e.update(name="view_item", page=PAGES[1], properties={"item_id": f"sku{rng.randint(1, 2000)}"})
        else:
            e.update(name="search", properties={"keyword": rng.choice(["茶", "杯子", "coffee"]), "n": i})
        events.append(e)
    return orjson.dumps({"events": events, "sent_at": now_ms})


class Connection:
    """A minimal keep-alive HTTP/1.1 client over asyncio streams: the load generator should cost little CPU
    (like wrk), so the measurement is of the server, not of an HTTP client library."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, request: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        body = await self.reader.readexactly(length)
        return status, body


def build_request(host: str, port: int, app: str, body: bytes) -> bytes:
    head = (
        f"POST /v1/events HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"X-Huoli-App-Id: {app}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def run(
    url: str, app: str, seconds: float, concurrency: int, batch: int, prebuilt: int, rate: float | None
) -> dict[str, float]:
    """Closed loop (`rate` None: `concurrency` requests always in flight) or open loop (`rate` batches/s,
    latency measured from each request's scheduled time, so a stalled server can't hide its queue)."""
    parsed = httpx.URL(url)
    host, port = parsed.host, parsed.port or 80
    rng = random.Random(time.time_ns())  # fresh event ids on every run: repeats would measure the dedup path
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    requests = [build_request(host, port, app, make_batch(batch, rng, now_ms)) for _ in range(prebuilt)]
    latencies: list[float] = []
    timeline: list[tuple[float, float]] = []
    accepted = errors = 0
    next_index = 0
    started = time.perf_counter()
    deadline = started + seconds

    async def worker() -> None:
        nonlocal accepted, errors, next_index
        conn = Connection(host, port)
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
                if time.perf_counter() >= deadline:
                    return
                scheduled = time.perf_counter()
            status, body = await conn.post(requests[index])
            latencies.append(time.perf_counter() - scheduled)
            timeline.append((scheduled - started, latencies[-1]))
            if status == 200:
                accepted += orjson.loads(body)["accepted"]
            else:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    if os.environ.get("HUOLI_BENCH_TIMELINE"):
        per_second: dict[int, float] = {}
        for at, lat in timeline:
            per_second[int(at)] = max(per_second.get(int(at), 0.0), lat)
        print(" ".join(f"{s}:{v * 1000:.0f}" for s, v in sorted(per_second.items())), file=sys.stderr)

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "mode": "open" if rate else "closed",
        "target_batches_per_s": rate or 0,
        "concurrency": concurrency,
        "seconds": round(elapsed, 2),
        "requests": len(latencies),
        "errors": errors,
        "events_accepted": accepted,
        "events_per_s": round(accepted / elapsed),
        "p50_ms": round(pct(0.50), 1),
        "p95_ms": round(pct(0.95), 1),
        "p99_ms": round(pct(0.99), 1),
        "max_ms": round(latencies[-1] * 1000, 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--url", default="http://127.0.0.1:8000")
    p.add_argument("--app", default="bench")
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--prebuilt", type=int, default=8000)
    p.add_argument(
        "--rate", type=float, default=None, help="Open loop: batches per second (default closed loop)."
    )
    a = p.parse_args()
    result = asyncio.run(run(a.url, a.app, a.seconds, a.concurrency, a.batch, a.prebuilt, a.rate))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
