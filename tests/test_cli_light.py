"""What `huoli` loads and locks per command: help and the operational commands start without the analytics or
event-store stack, and the commands that only touch the operational database run beside `huoli serve`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

# What `huoli --help` must not import: the event store, analytics and HTTP stacks (seconds of start-up).
HEAVY = ("duckdb", "pyarrow", "ibis", "pandas", "scipy", "numpy", "fastapi", "sqlalchemy", "alembic", "huey")

_LOADED = """
import json, sys
sys.argv = ["huoli", *json.loads(sys.argv[1])]
from huoli.cli import app
try:
    app()
finally:
    print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})), file=sys.stderr)
"""


def loaded(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run `huoli ARGS` in a fresh interpreter; the top-level packages it had imported when it finished."""
    r = subprocess.run(
        [sys.executable, "-c", _LOADED, json.dumps(args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return r, set(json.loads(r.stderr.strip().splitlines()[-1]))


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "HUOLI_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "200"}


def test_help_imports_no_heavy_module(env: dict[str, str]) -> None:
    r, modules = loaded(["--help"], env)
    assert r.returncode == 0, r.stderr
    assert {"metrics", "report", "diagnose", "promotions", "apps", "import"} <= set(r.stdout.split())
    assert modules.isdisjoint(HEAVY), sorted(modules & set(HEAVY))


def test_apps_list_does_not_load_the_event_store_or_analytics(env: dict[str, str]) -> None:
    r, modules = loaded(["apps", "list"], env)
    assert r.returncode == 0, r.stderr
    assert "sqlalchemy" in modules  # it did read the database
    assert modules.isdisjoint({"duckdb", "pyarrow", "ibis", "pandas", "scipy", "numpy"}), modules


def test_a_domain_command_loads_its_domain(env: dict[str, str]) -> None:
    r, modules = loaded(["metrics", "--help"], env)
    assert r.returncode == 0, r.stderr
    assert "retention" in r.stdout and "ibis" in modules
    r, _ = loaded(["metricz"], env)  # a typo still gets the suggestion listing the lazy domain names
    assert r.returncode != 0 and "metrics" in r.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def huoli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "huoli.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_apps_and_keys_commands_run_beside_a_server(env: dict[str, str]) -> None:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "huoli.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        r = huoli("apps", "create", "beside", "--name", "Beside", env=env)
        assert r.returncode == 0, r.stderr
        r = huoli("keys", "create", "--app", "beside", "--role", "analyst", env=env)
        assert r.returncode == 0, r.stderr
        key = r.stdout.strip().splitlines()[-1]
        for args in (("apps", "list"), ("keys", "list", "--app", "beside")):
            r = huoli(*args, env=env)
            assert r.returncode == 0 and "beside" in r.stdout + " ".join(args), r.stderr
        # Domain commands on the operational database alone, too.
        r = huoli("flags", "set", "dark", "--app", "beside", "--type", "bool", "--default", "false", env=env)
        assert r.returncode == 0, r.stderr
        r = huoli("flags", "list", "--app", "beside", env=env)
        assert r.returncode == 0 and "dark" in r.stdout, r.stderr
        r = huoli("privacy", "requests", "--app", "beside", env=env)
        assert r.returncode == 0, r.stderr
        # The running server sees the app and accepts the new key (it holds the event store all along).
        got = httpx.get(
            f"http://127.0.0.1:{port}/admin/events/summary",
            params={"start": "2026-01-01T00:00:00+00:00"},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert got.status_code == 200, got.text
        # A command that does need the event store still says why it cannot open it.
        r = huoli("events", "count", "--app", "beside", env=env)
        assert r.returncode == 1 and "huoli serve" in r.stderr and "Traceback" not in r.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
