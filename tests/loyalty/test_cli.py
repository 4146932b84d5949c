"""`huoli loyalty …` as users run it: real processes on the embedded stores."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def huoli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "huoli.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_adjust_ledger_and_jobs(tmp_path: Path) -> None:
    env = {**os.environ, "HUOLI_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "200"}
    assert huoli("apps", "create", "shop", "--name", "Shop", env=env).returncode == 0
    r = huoli("loyalty", "adjust", "--app", "shop", "--user", "u1", "--points", "40", "--key", "k1", env=env)
    assert r.returncode == 0 and "balance 40" in r.stdout, r.stderr
    r = huoli("loyalty", "adjust", "--app", "shop", "--user", "u1", "--points", "40", "--key", "k1", env=env)
    assert "balance 40" in r.stdout  # same key: applied once
    r = huoli("loyalty", "adjust", "--app", "shop", "--user", "u1", "--points", "-99", "--key", "k2", env=env)
    assert r.returncode == 1 and "not enough points" in r.stderr and "Traceback" not in r.stderr
    r = huoli("loyalty", "ledger", "--app", "shop", "--user", "u1", env=env)
    assert r.returncode == 0 and "available 40" in r.stdout and "admin:k1" in r.stdout
    for job in ("expire", "warn-expiring", "tiers", "scan-tasks"):
        r = huoli("loyalty", "job", job, "--app", "shop", env=env)
        assert r.returncode == 0, (job, r.stderr)
    r = huoli("loyalty", "job", "bogus", "--app", "shop", env=env)
    assert r.returncode == 1 and "no job" in r.stderr
