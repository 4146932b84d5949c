"""`huoli diagnose` end to end on the `huoli demo` data: table, JSON and Markdown output, bad arguments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def huoli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "huoli.cli", *args], env=env, capture_output=True, text=True, timeout=280
    )


def test_diagnose_cli_on_demo_data(tmp_path: Path) -> None:
    env = {**os.environ, "HUOLI_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "220"}
    # The demo history ends 2026-11-15 and stagnates in its last third (docs/diagnosis.md#on-the-demo-data).
    r = huoli("demo", "run", "--users", "3000", "--days", "30", "--no-serve", env=env)
    assert r.returncode == 0, r.stderr
    r = huoli("diagnose", "--app", "demo", "--end", "2026-11-15", "--format", "json", env=env)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["current"] == ["2026-11-09", "2026-11-15"]
    # 30 days of history: the oldest baseline window would start before the first event, so it is dropped.
    assert d["baseline"] == ["2026-10-19", "2026-11-08"] and d["notes"]
    ids = {f["id"] for f in d["findings"]}
    # The demo generator slows acquisition and activity in its last third: the doctor must see it.
    assert {"churn.new_users", "activity.opens_per_user"} <= ids, ids
    assert len(d["checked"]) >= 18
    r = huoli("diagnose", "--app", "demo", "--end", "2026-11-15", env=env)
    assert r.returncode == 0 and "churn.new_users" in r.stdout and "checks ran" in r.stdout, r.stdout
    r = huoli("diagnose", "--app", "demo", "--end", "2026-11-15", "--format", "markdown", env=env)
    assert r.returncode == 0 and r.stdout.startswith("# Diagnosis · demo")
    assert "| high |" in r.stdout or "| medium |" in r.stdout
    assert "`churn.new_users`" in r.stdout

    bad = huoli("diagnose", "--app", "demo", "--end", "15/11/2026", env=env)
    assert bad.returncode == 1 and "--end must be a date" in bad.stderr
    bad = huoli("diagnose", "--app", "nope", env=env)
    assert bad.returncode == 1 and "nope" in bad.stderr
    bad = huoli("diagnose", "--app", "demo", "--end", "2026-11-15", "--tz", "Mars/Base", env=env)
    assert bad.returncode == 1 and "tz" in bad.stderr
    bad = huoli("diagnose", "--app", "demo", "--format", "yaml", env=env)
    assert bad.returncode == 2
