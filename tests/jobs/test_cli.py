"""`huoli jobs …` as users run it: real processes on the embedded stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def huoli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "huoli.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_jobs_list_and_run(tmp_path: Path) -> None:
    env = {**os.environ, "HUOLI_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "200"}
    assert huoli("apps", "create", "shop", "--name", "Shop", env=env).returncode == 0
    r = huoli("jobs", "run", "loyalty.expire", "--app", "shop", env=env)
    assert r.returncode == 0, r.stderr
    shown = json.loads(r.stdout)
    assert (shown["app"], shown["status"], shown["result"]) == ("shop", "ok", {"points_expired": 0})
    r = huoli("jobs", "run", "auth.prune", env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["result"] == {"revocations": 0, "nonces": 0}, r.stderr
    r = huoli("jobs", "run", "loyalty.scan-tasks", env=env)  # a primary-queue job, every app in turn
    assert r.returncode == 0 and json.loads(r.stdout)["status"] == "ok", r.stderr
    r = huoli("jobs", "list", "--app", "shop", env=env)
    assert (
        r.returncode == 0
        and "loyalty.expire" in r.stdout
        and "ok" in r.stdout
        and "cron 5 0 * * *" in r.stdout
    )
    for args, message in (
        (("jobs", "run", "loyalty.nope"), "no job"),
        (("jobs", "run", "auth.prune", "--app", "shop"), "global job"),
        (("jobs", "run", "loyalty.expire", "--app", "ghost"), "ghost"),
        (("jobs", "list", "--app", "ghost"), "ghost"),
        (("worker", "--queue", "bogus"), "unknown queue"),
    ):
        r = huoli(*args, env=env)
        assert r.returncode == 1 and message in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
    # the old doors still work
    assert huoli("auth", "prune", env=env).returncode == 0
    assert huoli("promotions", "jobs", env=env).returncode == 0
