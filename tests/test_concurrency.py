"""Races that must resolve in the database, on SQLite and PostgreSQL: one winner, no errors, no duplicates."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from huoli.auth.service import sign_request, verify_signed_request
from huoli.db import unit_of_work
from huoli.errors import Unauthorized
from huoli.events import service as events
from huoli.events.models import OutboxEvent
from huoli.runtime import Runtime
from huoli.users import service as users
from huoli.users.models import User
from huoli.wechat.client import WeChatClient
from huoli.work import Caller, open_work

WX_APPID, WX_SECRET = "wx00000000000000bb", "race-secret-0123456789"


def race(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """Run fn(i) on n threads released together; returns each result or the exception it raised."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_first_logins_create_one_user(runtime: Runtime, make_app, fake_wechat) -> None:  # type: ignore[no-untyped-def]
    fake_wechat.register_app(WX_APPID, WX_SECRET)
    make_app("shop", wx_appid=WX_APPID, wx_secret=WX_SECRET)
    codes = [fake_wechat.issue_code("oRACE", appid=WX_APPID) for _ in range(8)]
    client = WeChatClient(appid=WX_APPID, secret=WX_SECRET, base_url=fake_wechat.url)

    def login(i: int) -> users.LoginResult:
        wx = users.exchange_code(client, codes[i])
        with open_work(runtime, "shop", Caller("user")) as work:
            return users.record_login(work, wx=wx, anonymous_id=f"dev{i}", secret_key=runtime.secret_key)

    results = race(8, login)
    client.close()
    assert all(isinstance(r, users.LoginResult) for r in results), [
        r for r in results if not isinstance(r, users.LoginResult)
    ]
    assert len({r.user_id for r in results}) == 1
    assert sum(r.is_new for r in results) == 1, [(r.is_new, r.user_id) for r in results]
    with unit_of_work(runtime.sessions) as db:
        assert db.scalar(select(func.count()).select_from(User)) == 1


def test_a_signed_request_replayed_concurrently_is_accepted_once(runtime: Runtime, make_app) -> None:  # type: ignore[no-untyped-def]
    shop = make_app("shop")
    now = datetime.now(UTC)
    ts, nonce, body = str(int(now.timestamp())), "race-nonce-1", b'{"events": []}'
    sig = sign_request(
        secret=shop.server_secret,
        method="POST",
        path="/v1/server/events",
        timestamp=ts,
        nonce=nonce,
        body=body,
    )

    def call(_: int) -> str:
        with unit_of_work(runtime.sessions, app_id="shop") as db:
            verify_signed_request(
                db=db,
                secret=shop.server_secret,
                app_id="shop",
                method="POST",
                path="/v1/server/events",
                timestamp=ts,
                nonce=nonce,
                signature=sig,
                body=body,
                now=now,
                skew=runtime.settings.signature_skew,
            )
        return "ok"

    results = race(8, call)
    assert results.count("ok") == 1
    assert all(isinstance(r, Unauthorized) and r.code == "replayed_request" for r in results if r != "ok"), (
        results
    )


def test_concurrent_emits_of_one_key_write_one_event(runtime: Runtime, make_app) -> None:  # type: ignore[no-untyped-def]
    make_app("shop")

    def emit(_: int) -> str:
        with unit_of_work(runtime.sessions, app_id="shop") as db:
            return events.emit(
                db=db,
                app_id="shop",
                name="checkin",
                ts=datetime.now(UTC),
                idempotency_key="checkin:u1:2026-11-22",
                user_id="u1",
                settings=runtime.settings,
            )

    results = race(8, emit)
    assert len(set(results)) == 1 and isinstance(results[0], str), results
    with unit_of_work(runtime.sessions) as db:
        assert db.scalar(select(func.count()).select_from(OutboxEvent)) == 1


def test_order_paid_and_admin_adjustment_of_one_member_under_load_never_hang(
    runtime: Runtime, make_app: Callable[..., Any]
) -> None:
    """Issue 20 (critical): a signed order-paid (a hot route, on the event loop on PostgreSQL) and an admin
    points adjustment for the same member, many at once, on a real server: each answers, health checks
    answer throughout, and every point is counted once."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    import httpx
    import orjson
    import uvicorn
    from tests.browser.fixtures import _free_port
    from tests.events.helpers import signed_headers

    from huoli.app import create_app

    app = make_app()
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime=runtime), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    base = f"http://127.0.0.1:{port}"
    paid_path = "/v1/server/loyalty/orders/paid"
    rounds = 40

    def order_paid(i: int) -> int:
        raw = orjson.dumps({"user_id": "m1", "order_id": f"o{i}", "amount_fen": 1000})
        headers = signed_headers(app.id, app.server_secret, paid_path, raw)
        return httpx.post(base + paid_path, content=raw, headers=headers, timeout=20).status_code

    def adjust(i: int) -> int:
        return httpx.post(
            f"{base}/admin/loyalty/members/m1/adjust",
            json={"points": 1, "key": f"adj{i}", "note": "goodwill"},
            headers={"Authorization": f"Bearer {app.keys['owner']}"},
            timeout=20,
        ).status_code

    health: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        while not stop.is_set():
            t = time.monotonic()
            ok = httpx.get(base + "/healthz", timeout=20).status_code == 200
            health.append(time.monotonic() - t if ok else float("inf"))
            time.sleep(0.05)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        with ThreadPoolExecutor(16) as pool:  # the two kinds interleaved, as a busy shop sends them
            calls = [pool.submit(fn, i) for i in range(rounds) for fn in (order_paid, adjust)]
            answers = [c.result() for c in calls]
            statuses = answers[0::2], answers[1::2]
    finally:
        stop.set()
        prober.join()
        server.should_exit = True
        thread.join(timeout=30)
    assert statuses == ([200] * rounds, [200] * rounds)
    assert health and max(health) < 5, f"health check took {max(health):.1f} s"
    with TestClient(create_app(runtime=runtime)) as client:
        balance = client.get(
            "/admin/loyalty/members/m1/ledger", headers={"Authorization": f"Bearer {app.keys['owner']}"}
        )
    assert balance.status_code == 200, balance.text
    b = balance.json()["balance"]
    orders_points = b["available"] + b["pending"] - rounds  # each adjustment gave 1 point
    assert orders_points > 0 and orders_points % rounds == 0, b  # every order earned the same, once
