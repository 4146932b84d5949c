"""`huoli serve --workers N`: one primary process and N-1 request workers on one port.

DuckDB allows one writing process per file, and one Python process is bound by its GIL (about 200–250
hot-path requests/s measured, docs/benchmarks.md). So:

- the **primary** (the process `huoli serve` starts) owns the event store, the ingestion journal, the outbox
  relay and the analytics; it answers every route, on the public socket and on a private Unix socket;
- each **worker** (a spawned process) listens on the same port (its own SO_REUSEPORT socket, so the kernel
  spreads connections evenly) and answers the mini-program and signed-server calls (`/v1/…`) itself, on
  the operational database only; anything that needs the event
  store (`/v1/events`, `/v1/server/events`, `/admin/…`, the console, `/healthz`) it forwards unchanged to the
  primary over the Unix socket (`PrimaryProxy`);
- domain events written by workers go through the transactional outbox, which the primary relays, so the
  one event log stays whole; the in-process caches already expire on a TTL (flags, apps, loyalty rules,
  promotion definitions), so a change made through one process reaches the others within that TTL.

The primary restarts a worker that dies; a worker stops when its primary is gone. Several processes on
SQLite serialise their writes on the file lock (busy timeout 30 s); the multi-process shape is meant for
PostgreSQL (docs/architecture.md).
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from huoli.app import create_app
from huoli.jobs.queue import Consumers, queue_for, serve_queues
from huoli.runtime import Runtime, build_worker_runtime
from huoli.settings import Settings

log = logging.getLogger(__name__)

# Ingestion needs the journal and the store's dedup index, which live in the primary alone.
_PRIMARY_V1 = ("/v1/events", "/v1/server/events")
# Hop-by-hop headers (RFC 9110 §7.6.1): each connection has its own.
_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"upgrade", b"te", b"trailer"}


class _ClientGone(Exception):
    """The caller disconnected before its request body was complete."""


def served_by_worker(path: str) -> bool:
    """True for the paths a worker answers itself: the mini-program and signed-server API, minus ingestion."""
    return path.startswith("/v1/") and not any(path == p or path.startswith(p + "/") for p in _PRIMARY_V1)


class PrimaryProxy:
    """ASGI wrapper for a worker: answers `/v1/…` locally, streams every other request to the primary."""

    def __init__(self, app: Any, uds_path: str, *, timeout_s: float = 600.0) -> None:
        self.app = app
        self.uds_path = uds_path
        self.timeout_s = timeout_s
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:  # made on the worker's own event loop, on first use
            self._client = httpx.AsyncClient(
                transport=httpx.AsyncHTTPTransport(uds=self.uds_path),
                base_url="http://primary",
                timeout=httpx.Timeout(self.timeout_s, connect=5.0),
            )
        return self._client

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            try:
                await self.app(scope, receive, send)
            finally:
                if self._client is not None:
                    await self._client.aclose()
            return
        if scope["type"] != "http" or served_by_worker(scope["path"]):
            await self.app(scope, receive, send)
            return
        await self._forward(scope, receive, send)

    async def _forward(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def body() -> AsyncIterator[bytes]:
            # Streamed, not buffered: the primary applies its own size caps as the bytes arrive.
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _ClientGone
                yield message.get("body", b"")
                if not message.get("more_body"):
                    return

        headers = [
            (k, v) for k, v in scope["headers"] if k.lower() not in _HOP and k.lower() != b"x-forwarded-for"
        ]
        client = scope.get("client")
        # The caller's address (informational: the primary trusts no forwarded header on its socket).
        if client:
            headers.append((b"x-forwarded-for", str(client[0]).encode()))
        path = scope.get("raw_path") or scope["path"].encode()
        if scope.get("query_string"):
            path += b"?" + scope["query_string"]
        http = self._http()
        request = http.build_request(scope["method"], path.decode("latin-1"), headers=headers, content=body())
        try:
            response = await http.send(request, stream=True)
        except _ClientGone:
            return  # nobody to answer; the primary saw a cut-off body and dropped it
        except httpx.TransportError as exc:
            answer = (
                b'{"code":"primary_unavailable","message":"the primary process is not answering: '
                + type(exc).__name__.encode()
                + b'","details":null}'
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [(b"content-type", b"application/json"), (b"retry-after", b"1")],
                }
            )
            await send({"type": "http.response.body", "body": answer})
            return
        try:
            # date and server: this process's uvicorn adds its own
            drop = _HOP | {b"date", b"server"}
            out = [(k, v) for k, v in response.headers.raw if k.lower() not in drop]
            await send({"type": "http.response.start", "status": response.status_code, "headers": out})
            async for chunk in response.aiter_raw():  # raw: a gzip answer passes through as sent
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()


def _uvicorn_config(app: Any) -> Any:
    import uvicorn

    return uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")


def freeze_startup_objects() -> None:
    # A process-level choice: startup objects (modules, ORM and pydantic metadata) never die, so keep them
    # out of GC scans, whose full passes otherwise stall requests under load.
    gc.collect()
    gc.freeze()


# The event loop runs the hot routes (deps.run_hot) and needs the GIL back after every PostgreSQL round trip;
# while a background thread runs Python (the primary's outbox relay, the event writer) each of those waits up
# to the switch interval: 5 ms by default, so up to ~45 ms for a check-in's 9 round trips. Measured at 500/s
# with 3 processes, alternated: p99 40–44 ms at 5 ms, 21–24 ms at 0.5 ms (docs/benchmarks.md).
SWITCH_INTERVAL_S = 0.0005


def _run(app: Any, sockets: list[socket.socket]) -> None:
    import signal

    import uvicorn

    freeze_startup_objects()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    # uvicorn stops gracefully on SIGINT/SIGTERM, then raises the signal again under the handler it found: with
    # Python's defaults that kills the process before the caller's cleanup (stopping workers, closing the
    # stores). Under a no-op handler, run() returns and the cleanup runs.
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        uvicorn.Server(_uvicorn_config(app)).run(sockets=sockets)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _watch_parent(parent: int) -> None:
    """A worker must not outlive its primary (kill -9 of `huoli serve`): stop when the parent changes."""
    import signal

    def loop() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's graceful stop

    threading.Thread(target=loop, name="huoli-parent-watch", daemon=True).start()


def worker_main(argv: list[str] | None = None) -> None:
    """A worker process: `python -m huoli.serving --host H --port P --primary PATH --parent PID`, settings on
    stdin; it listens on its own SO_REUSEPORT socket beside the primary's."""
    import argparse

    p = argparse.ArgumentParser(prog="huoli.serving")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--primary", required=True, help="the primary's Unix socket")
    p.add_argument("--parent", type=int, required=True)
    a = p.parse_args(argv)
    # The primary's settings exactly (a pipe, not argv or the environment: they hold secrets).
    settings = Settings(**json.loads(sys.stdin.read()))
    _watch_parent(a.parent)
    rt = build_worker_runtime(settings)
    sock = bind(a.host, a.port, shared=True, check_free=False)  # last: accept only once ready to answer
    try:
        _run(PrimaryProxy(create_app(settings, runtime=rt), a.primary), [sock])
    finally:
        rt.close()


def bind(host: str, port: int, *, shared: bool = False, check_free: bool = True) -> socket.socket:
    """The listening socket. `shared`: SO_REUSEPORT, so each process has its own socket on the port and the
    kernel spreads new connections evenly over them (with one socket for all, the process that answered last
    tends to win every accept: measured, one of three processes took 24 of 24 connections)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if shared and check_free:  # SO_REUSEPORT would also share the port with another server of ours: refuse
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
            port = probe.getsockname()[1]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


class Supervisor:
    """Starts the workers, starts a new one when one dies (backing off while they die at start-up), and stops
    them all at the end."""

    QUICK_EXIT_S = 10.0  # a worker that dies sooner than this is failing to start, not crashing once

    def __init__(self, settings: Settings, sock: socket.socket, uds_path: str, count: int) -> None:
        self._settings_json = settings.model_dump_json().encode()
        self._sock = sock
        self._uds_path = uds_path
        self._count = count
        self._procs: list[tuple[subprocess.Popen[bytes], float]] = []
        self._stopping = threading.Event()
        self._backoff_s = 0.0
        self._watch = threading.Thread(target=self._watch_loop, name="huoli-workers", daemon=True)

    def _spawn(self) -> tuple[subprocess.Popen[bytes], float]:
        # A fresh interpreter: not fork (this process holds DB connections and threads), not multiprocessing's
        # spawn (it re-runs the CLI module as __main__, whose domain imports are circular from there).
        host, port = self._sock.getsockname()[:2]
        proc = subprocess.Popen(
            [sys.executable, "-m", "huoli.serving", "--host", host, "--port", str(port),
             "--primary", self._uds_path, "--parent", str(os.getpid())],
            stdin=subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdin is not None
        proc.stdin.write(self._settings_json)
        proc.stdin.close()
        return proc, time.monotonic()

    def start(self) -> None:
        self._procs = [self._spawn() for _ in range(self._count)]
        self._watch.start()

    def _watch_loop(self) -> None:
        while not self._stopping.wait(0.5):
            for i, (proc, started) in enumerate(self._procs):
                if proc.poll() is None:
                    continue
                quick = time.monotonic() - started < self.QUICK_EXIT_S
                self._backoff_s = min(30.0, max(1.0, self._backoff_s * 2)) if quick else 0.0
                log.warning(
                    "worker %s exited with %s; starting another in %.0f s",
                    proc.pid,
                    proc.returncode,
                    self._backoff_s,
                )
                if self._stopping.wait(self._backoff_s):
                    return
                self._procs[i] = self._spawn()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stopping.set()
        for proc, _ in self._procs:
            if proc.poll() is None:
                proc.terminate()  # SIGTERM: uvicorn finishes in-flight requests, then the lifespan flushes
        deadline = time.monotonic() + timeout_s
        for proc, _ in self._procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def serve(settings: Settings, rt: Runtime, public: socket.socket, workers: int = 1) -> None:
    """Run the primary here on `rt` and `workers - 1` worker processes on `public`; returns when it stops."""
    api = create_app(settings, runtime=rt)
    # The job consumers run in the primary only: it owns the event store some jobs read.
    jobs = Consumers(queue_for(rt), serve_queues(settings))
    jobs.start()
    try:
        _serve(api, settings, public, workers)
    finally:
        jobs.stop()


def _serve(api: Any, settings: Settings, public: socket.socket, workers: int) -> None:
    if workers <= 1:  # one process: no workers to forward, so no private socket either
        try:
            _run(api, [public])
        finally:
            public.close()
        return
    uds_dir = Path(tempfile.mkdtemp(prefix="huoli-"))  # short path: Unix socket paths are capped at 108 bytes
    uds_path = str(uds_dir / "primary.sock")
    private = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    private.bind(uds_path)
    private.listen(2048)
    supervisor = Supervisor(settings, public, uds_path, workers - 1)
    try:
        supervisor.start()  # after the primary's migrations (the caller built rt) and before it serves
        _run(api, [public, private])
    finally:
        supervisor.stop()
        with contextlib.suppress(OSError):
            private.close()
            public.close()
        shutil.rmtree(uds_dir, ignore_errors=True)


if __name__ == "__main__":
    worker_main()
