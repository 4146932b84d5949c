"""Acknowledged means durable for operator writes too: kill -9 `huoli serve` while writers create API keys
and adjust points, then count what the database holds against what was answered 2xx."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from tests.browser.fixtures import _free_port

from huoli.db import normalise_url

pytestmark = pytest.mark.slow


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "huoli.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not start")


def test_no_acknowledged_operator_write_lost_on_kill_9(
    tmp_path: Path, database_url: str, make_app: Callable[..., Any]
) -> None:
    app = make_app()
    env = {
        **os.environ,
        "HUOLI_DATA_DIR": str(
            tmp_path / "var"
        ),  # the test runtime's: the encryption key of the app's secrets
        "HUOLI_DATABASE_URL": database_url,
        # the test's own runtime holds tmp_path/events.duckdb: the server gets an event store of its own
        "HUOLI_EVENT_STORE_URL": f"duckdb:///{tmp_path / 'server-events.duckdb'}",
        "HUOLI_SECRET_KEY": "kill9-test-secret",
        "HUOLI_RATE_LIMIT_ADMIN_PER_KEY": "0",
    }
    port = _free_port()
    server = _serve(env, port)
    base, owner = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {app.keys['owner']}"}
    answers: list[tuple[str, str, int]] = []
    stop = threading.Event()

    def writer(w: int) -> None:
        i = 0
        with httpx.Client(base_url=base, headers=owner, timeout=10) as c:
            while not stop.is_set():
                i += 1
                name = f"k{w}-{i}"
                try:
                    if i % 2:
                        r = c.post("/admin/keys", json={"name": name, "role": "analyst"})
                        answers.append(("key", name, r.status_code))
                    else:
                        body = {"points": 1, "key": name, "note": "kill -9"}
                        r = c.post("/admin/loyalty/members/m1/adjust", json=body)
                        answers.append(("adjust", name, r.status_code))
                except httpx.TransportError:
                    return  # the server died mid-request: this write was never acknowledged

    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sum(c < 300 for _, _, c in answers) < 200:
        time.sleep(0.02)
    server.send_signal(signal.SIGKILL)
    server.wait()
    stop.set()
    for t in threads:
        t.join(timeout=15)

    codes = [c for _, _, c in answers]
    assert set(codes) <= {200, 201}, sorted(set(codes))
    acked_keys = {n for kind, n, c in answers if kind == "key" and c == 201}
    acked_adjusts = {n for kind, n, c in answers if kind == "adjust" and c == 200}
    assert len(acked_keys) + len(acked_adjusts) >= 200, "too few writes before the kill for a meaningful test"

    direct = sa.create_engine(normalise_url(database_url))
    with direct.connect() as conn:
        keys = set(
            conn.execute(sa.text("SELECT name FROM api_keys WHERE app_id = :a"), {"a": app.id}).scalars()
        )
        transfers = list(
            conn.execute(
                sa.text("SELECT business_key FROM loyalty_transfers WHERE app_id = :a"), {"a": app.id}
            ).scalars()
        )
    direct.dispose()
    lost = sorted(acked_keys - keys) + sorted(n for n in acked_adjusts if not any(n in b for b in transfers))
    acked = len(acked_keys) + len(acked_adjusts)
    stored_unacked = len(keys - acked_keys - set(app.keys)) + sum(
        1 for b in transfers if not any(n in b for n in acked_adjusts)
    )
    print(f"kill -9: {acked} writes acknowledged, {len(lost)} lost, {stored_unacked} stored unanswered")
    assert lost == []
    # the restarted server reads what it committed before the kill
    server = _serve(env, port)
    try:
        r = httpx.get(f"{base}/admin/loyalty/members/m1/ledger", headers=owner, timeout=10)
        assert r.status_code == 200, r.text
        assert r.json()["balance"]["available"] == len(transfers)  # one point per stored adjustment
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
