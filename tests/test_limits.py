"""Request limits: body size (see also tests/test_deps.py) and request rates per key and per address."""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from tests.conftest import Clock

from huoli.app import create_app
from huoli.limits import Gcra, Rate, RedisGcra
from huoli.runtime import Runtime, build_runtime
from huoli.settings import Settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_gcra_allows_the_burst_then_the_rate() -> None:
    clock = FakeClock()
    gcra, rate, key = Gcra(clock), Rate(per_s=2, burst_s=2), ("k", "a")  # 4 at once, then 2 a second
    assert [gcra.check(key, rate) for _ in range(4)] == [0, 0, 0, 0]
    wait = gcra.check(key, rate)
    assert wait == pytest.approx(0.5)
    clock.now += 0.5
    assert gcra.check(key, rate) == 0 and gcra.check(key, rate) > 0
    assert gcra.check(("k", "b"), rate) == 0  # another caller has its own bucket
    clock.now += 100  # a long pause refills the burst, no more
    assert [gcra.check(key, rate) for _ in range(5)].count(0) == 4


@pytest.fixture
def limited(settings: Settings, clock: Clock) -> Iterator[Runtime]:
    rt = build_runtime(
        settings.model_copy(
            update={
                "rate_limit_admin_per_key": 1,
                "rate_limit_admin_per_ip": 100,
                "rate_limit_login_per_ip": 1,
                "rate_limit_burst_s": 3,
            }
        ),
        clock=clock,
    )
    yield rt
    rt.close()


def test_over_the_rate_answers_429_with_retry_after(limited: Runtime, make_app: Callable[..., Any]) -> None:
    app = make_app()
    owner = {"Authorization": f"Bearer {app.keys['owner']}"}
    analyst = {"Authorization": f"Bearer {app.keys['analyst']}"}
    with TestClient(create_app(runtime=limited)) as client:
        assert [client.get("/admin/app", headers=owner).status_code for _ in range(3)] == [200] * 3
        refused = client.get("/admin/app", headers=owner)
        assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
        assert refused.json()["details"]["scope"] == "key" and int(refused.headers["retry-after"]) >= 1
        assert client.get("/admin/app", headers=analyst).status_code == 200  # per key
        # the public login, per address
        logins = [
            client.post("/v1/auth/wechat", json={}, headers={"X-Huoli-App-Id": app.id}) for _ in range(4)
        ]
        assert [r.status_code == 429 for r in logins] == [False, False, False, True]
        assert client.get("/healthz").status_code == 200  # outside /admin and /v1: never limited


def test_exempt_addresses_have_no_per_ip_limit(settings: Settings, make_app: Callable[..., Any]) -> None:
    app = make_app()
    rt = build_runtime(
        settings.model_copy(
            update={
                "rate_limit_login_per_ip": 1,
                "rate_limit_burst_s": 1,
                "rate_limit_exempt_ips": ["testclient"],
            }
        )
    )
    try:
        with TestClient(create_app(runtime=rt)) as client:
            codes = {
                client.post("/v1/auth/wechat", json={}, headers={"X-Huoli-App-Id": app.id}).status_code
                for _ in range(5)
            }
        assert 429 not in codes
    finally:
        rt.close()


REDIS = "redis://127.0.0.1:6379/0"


def _prefix() -> str:
    return f"huoli:test-rl:{secrets.token_hex(4)}:"


def test_redis_buckets_follow_the_same_algorithm() -> None:
    prefix = _prefix()

    async def run() -> tuple[list[float], float, float]:
        shared = RedisGcra(REDIS, prefix=prefix)
        rate, key = Rate(per_s=2, burst_s=2), ("k", "a")  # 4 at once, then 2 a second
        burst = [await shared.check(key, rate) for _ in range(5)]
        other = await shared.check(("k", "b"), rate)
        await asyncio.sleep(0.6)
        after = await shared.check(key, rate)
        return burst, other, after

    # its own thread: a browser test may have left an event loop running in this worker's main thread
    with ThreadPoolExecutor(1) as own:
        burst, other, after = own.submit(asyncio.run, run()).result()
    assert burst[:4] == [0, 0, 0, 0] and 0.4 < burst[4] <= 0.5  # the 5th waits one interval
    assert other == 0  # another caller has its own bucket
    assert after == 0  # an interval later one more passes
    assert redis.Redis.from_url(REDIS).exists(f"{prefix}k:a")  # counted in Redis, not by the fallback


def test_processes_sharing_redis_share_one_bucket_per_key(
    settings: Settings, make_app: Callable[..., Any]
) -> None:
    """Two servers (two runtimes and apps, as two `--workers` processes) on one Redis: a key's burst is spent
    once across both, where per-process buckets would let it through twice."""
    app = make_app()
    owner = {"Authorization": f"Bearer {app.keys['owner']}"}
    shared = settings.model_copy(
        update={
            "rate_limit_admin_per_key": 1,
            "rate_limit_burst_s": 3,
            "rate_limit_redis_url": REDIS,
            "rate_limit_redis_prefix": _prefix(),  # key ids repeat across test databases
        }
    )
    rts = [build_runtime(shared) for _ in range(2)]
    try:
        a, b = (create_app(runtime=rt) for rt in rts)
        with TestClient(a) as ca, TestClient(b) as cb:
            codes = [c.get("/admin/app", headers=owner).status_code for c in (ca, cb, ca, cb, ca)]
        assert codes.count(200) == 3 and codes.count(429) == 2, codes
    finally:
        for rt in rts:
            rt.close()


def test_an_unreachable_redis_falls_back_to_counting_in_the_process(
    settings: Settings, make_app: Callable[..., Any]
) -> None:
    app = make_app()
    owner = {"Authorization": f"Bearer {app.keys['owner']}"}
    rt = build_runtime(
        settings.model_copy(
            update={
                "rate_limit_admin_per_key": 1,
                "rate_limit_burst_s": 3,
                "rate_limit_redis_url": f"redis://127.0.0.1:{_closed_port()}/0",
            }
        )
    )
    try:
        with TestClient(create_app(runtime=rt)) as client:
            codes = [client.get("/admin/app", headers=owner).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
    finally:
        rt.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # bound, never listening: connections are refused
