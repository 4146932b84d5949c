"""`huoli serve --workers N`: the real command, one primary and workers on one port (SQLite, PostgreSQL).

What a user needs from it: requests land in several processes; whichever process answers, events reach the
one event log (ingestion forwarded to the primary, domain events through the outbox the primary relays);
once-per-day rules hold across processes; a dead worker is replaced; stopping stops every process.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from huoli.auth.service import issue_session_token
from huoli.errors import HuoliError
from huoli.runtime import PrimaryOnly, PrimaryOnlyResource
from huoli.serving import PrimaryProxy, served_by_worker

SECRET = "serving-test-secret-of-32-bytes-or-more"


def test_workers_answer_the_mini_program_api_and_forward_the_rest() -> None:
    for path in ("/v1/flags", "/v1/loyalty/checkin", "/v1/server/loyalty/orders/paid", "/v1/promotions/x"):
        assert served_by_worker(path), path
    for path in (
        "/v1/events",
        "/v1/server/events",
        "/admin/analytics/retention",
        "/healthz",
        "/console/",
        "/docs",
    ):
        assert not served_by_worker(path), path
    assert served_by_worker("/v1/eventsx")  # a prefix match must not swallow a different route


def test_a_worker_names_the_mistake_when_a_route_reaches_for_the_event_store() -> None:
    store = PrimaryOnlyResource("event store")
    with pytest.raises(PrimaryOnly, match=r"primary process.*event store\.query") as info:
        store.query("SELECT 1")
    assert isinstance(info.value, HuoliError) and info.value.code == "primary_only"


def test_the_proxy_answers_503_when_the_primary_is_gone(tmp_path: Path) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:  # never reached for a forwarded path
        raise AssertionError("forwarded paths must not reach the worker's app")

    proxy = PrimaryProxy(app, str(tmp_path / "missing.sock"))
    sent: list[dict[str, Any]] = []

    async def run() -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": "/admin/flags", "headers": [], "query_string": b""}
        await proxy(scope, receive, send)
        await proxy._http().aclose()

    # On a thread of its own: a browser test earlier in the session may leave an event loop running on the
    # main thread, where asyncio.run refuses to start.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()
    assert sent[0]["status"] == 503
    assert orjson.loads(sent[1]["body"])["code"] == "primary_unavailable"


def test_serve_refuses_a_port_another_server_holds_even_one_that_would_share_it(tmp_path: Path) -> None:
    # SO_REUSEPORT lets any socket of the same user that also asks for it join the port: a second huoli would
    # silently take half of the first one's connections. Both kinds of holder must be refused.
    for reuse in (False, True):
        holder = socket.socket()
        if reuse:
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {**os.environ, "HUOLI_DATA_DIR": str(tmp_path / f"var{reuse}"), "HUOLI_SECRET_KEY": SECRET}
        try:
            r = subprocess.run(
                [sys.executable, "-m", "huoli.cli", "serve", "--port", str(port), "--workers", "2"],
                env=env, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
        finally:
            holder.close()
        assert r.returncode == 1, (reuse, r.stdout, r.stderr)
        assert f"cannot listen on 127.0.0.1:{port}" in r.stderr


# --- the real command -------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat[1]) == pid and b"huoli.serving" in cmdline:
                out.append(int(entry.name))
    return sorted(out)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _listeners(port: int) -> int:
    """Listening sockets on the port: each process opens its own (SO_REUSEPORT) once it is ready."""
    rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    return sum(1 for f in rows if int(f[1].split(":")[1], 16) == port and f[3] == "0A")


def _connection_owners(pid_list: list[int], port: int) -> dict[int, int]:
    """How many established connections to `port` each process holds (socket inodes ↔ /proc/net/tcp)."""
    inodes: dict[str, int] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if int(f[1].split(":")[1], 16) == port and f[3] == "01":  # local port, ESTABLISHED
            inodes[f[9]] = 0
    owners: dict[int, int] = {}
    for pid in pid_list:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                owners[pid] = owners.get(pid, 0) + 1
    return owners


@pytest.fixture
def served(tmp_path: Path, database_url: str) -> Iterator[dict[str, Any]]:
    env = {
        **os.environ,
        "HUOLI_DATA_DIR": str(tmp_path / "var"),
        "HUOLI_DATABASE_URL": database_url,
        "HUOLI_SECRET_KEY": SECRET,
    }
    cli = [sys.executable, "-m", "huoli.cli"]
    subprocess.run(
        [*cli, "apps", "create", "shop", "--name", "Shop"], env=env, check=True, capture_output=True
    )
    key = subprocess.run(
        [*cli, "keys", "create", "--app", "shop", "--role", "owner"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[-1]
    port = _free_port()
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port), "--workers", "3"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while _listeners(port) < 3 or not _all_up(base):
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            assert time.monotonic() < deadline, "server with workers did not start"
            time.sleep(0.2)
        yield {"base": base, "port": port, "server": server, "key": key}
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
        for pid in _children(server.pid):
            os.kill(pid, signal.SIGKILL)


def _all_up(base: str) -> bool:
    # A worker is up when it answers a /v1 call; new connections spread over the processes that accept.
    try:
        return all(
            httpx.get(f"{base}/v1/flags", headers={"X-Huoli-App-Id": "shop"}, timeout=2).status_code == 200
            for _ in range(6)
        )
    except httpx.TransportError:
        return False


def _member(user: str) -> dict[str, str]:
    token, _ = issue_session_token(
        secret=SECRET, app_id="shop", user_id=user, now=datetime.now(UTC), ttl=timedelta(hours=1)
    )
    return {"X-Huoli-App-Id": "shop", "Authorization": f"Bearer {token}"}


def _count(base: str, key: str, name: str) -> int:
    start = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    r = httpx.get(
        f"{base}/admin/events/summary", params={"start": start}, headers={"Authorization": f"Bearer {key}"}
    )
    assert r.status_code == 200, r.text
    return sum(row["events"] for row in r.json() if row["name"] == name)


@pytest.mark.slow
def test_workers_share_the_load_and_the_event_log(served: dict[str, Any]) -> None:
    base, port, server = served["base"], served["port"], served["server"]
    pids = [server.pid, *_children(server.pid)]
    assert len(pids) == 3
    # 24 keep-alive connections, opened one after another: the processes race to accept each.
    clients = [httpx.Client(base_url=base, timeout=30) for _ in range(24)]
    try:
        for c in clients:
            assert c.get("/v1/flags", headers={"X-Huoli-App-Id": "shop"}).status_code == 200
        owners = _connection_owners(pids, port)
        assert sum(owners.values()) >= 24, (
            owners
        )  # ours, plus any earlier probe the server has not reaped yet
        assert len(owners) >= 2 and set(owners) - {server.pid}, f"one process took every connection: {owners}"

        # Each member taps check-in twice at once over two connections (often two processes): rewarded once.
        results: dict[str, list[dict[str, Any]]] = {}
        events_sent = 0
        lock = threading.Lock()

        def member(i: int) -> None:
            nonlocal events_sent
            user = f"m{i}"
            taps: list[dict[str, Any]] = []

            def tap(c: httpx.Client) -> None:
                r = c.post("/v1/loyalty/checkin", headers=_member(user))
                assert r.status_code == 200, r.text
                taps.append(r.json())

            pair = [threading.Thread(target=tap, args=(clients[(i + k * 12) % 24],)) for k in range(2)]
            for t in pair:
                t.start()
            for t in pair:
                t.join()
            batch = [
                {"event_id": str(uuid.uuid4()), "name": "page_view", "ts": int(time.time() * 1000),
                 "session_id": f"s{i}", "page": "pages/index/index"}
                for _ in range(5)
            ]  # fmt: skip
            r = clients[(i + 5) % 24].post(
                "/v1/events", content=orjson.dumps({"events": batch}), headers=_member(user)
            )
            assert r.status_code == 200 and r.json()["accepted"] == 5, r.text
            with lock:
                results[user] = taps
                events_sent += 5

        # Sequential members, concurrent taps: clients are not shared between threads at the same moment.
        for i in range(12):
            member(i)
        # Forwarding passes bodies and headers through unchanged: a gzip batch as the SDK sends it from every
        # connection, and an oversized body that the primary refuses with its own answer.
        for i, c in enumerate(clients):
            batch = [
                {"event_id": str(uuid.uuid4()), "name": "page_view", "ts": int(time.time() * 1000),
                 "session_id": f"g{i}", "page": "pages/index/index"}
            ]  # fmt: skip
            r = c.post(
                "/v1/events",
                content=gzip.compress(orjson.dumps({"events": batch})),
                headers={**_member(f"g{i}"), "Content-Encoding": "gzip", "Content-Type": "application/json"},
            )
            assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
            events_sent += 1
        huge = clients[0].post(
            "/v1/events", content=b"[" + b"0," * 3_000_000 + b"0]", headers={"X-Huoli-App-Id": "shop"}
        )
        assert huge.status_code == 413, huge.text
        for user, taps in results.items():
            assert sorted(t["checked_in"] for t in taps) == [False, True], (user, taps)
            assert sum(t["points"] for t in taps) == 5, (user, taps)
    finally:
        for c in clients:
            c.close()

    # Forwarded ingestion and the workers' outbox both end in the one event log, each event once.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if (
            _count(base, served["key"], "checkin") >= 12
            and _count(base, served["key"], "page_view") >= events_sent
        ):
            break
        time.sleep(0.2)
    time.sleep(1.5)  # one more relay pass: a duplicate would show now
    assert _count(base, served["key"], "checkin") == 12
    assert _count(base, served["key"], "page_view") == events_sent


@pytest.mark.slow
def test_a_dead_worker_is_replaced_and_stopping_stops_every_process(served: dict[str, Any]) -> None:
    base, server = served["base"], served["server"]
    before = _children(server.pid)
    os.kill(before[0], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while True:
        now = _children(server.pid)
        if len(now) == 2 and before[0] not in now and all(_alive(p) for p in now):
            break
        assert time.monotonic() < deadline, f"no replacement for worker {before[0]}: {now}"
        time.sleep(0.2)
    deadline = time.monotonic() + 30
    while _listeners(served["port"]) < 3 or not _all_up(base):
        assert time.monotonic() < deadline, "the replacement worker never answered"
        time.sleep(0.2)
    r = httpx.post(f"{base}/v1/loyalty/checkin", headers=_member("after"))
    assert r.status_code == 200 and r.json()["checked_in"] is True

    workers = _children(server.pid)
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=60) == 0
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in workers):
        assert time.monotonic() < deadline, "workers outlived the server"
        time.sleep(0.1)


@pytest.mark.slow
def test_workers_stop_when_the_primary_is_killed(served: dict[str, Any]) -> None:
    server = served["server"]
    workers = _children(server.pid)
    server.send_signal(signal.SIGKILL)
    server.wait()
    deadline = time.monotonic() + 15
    while any(_alive(p) for p in workers):
        assert time.monotonic() < deadline, "workers kept serving after the primary died"
        time.sleep(0.1)
