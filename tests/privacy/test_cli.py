"""`huoli privacy …` as operators run it: real processes on the embedded stores."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path


def huoli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "huoli.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_export_erase_and_list_from_the_command_line(tmp_path: Path) -> None:
    env = {**os.environ, "HUOLI_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "200"}
    assert huoli("apps", "create", "shop", "--name", "Shop", env=env).returncode == 0
    r = huoli("loyalty", "adjust", "--app", "shop", "--user", "u1", "--points", "40", "--key", "k1", env=env)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "u1.json"
    r = huoli("privacy", "export", "--app", "shop", "--user", "u1", "--out", str(out), env=env)
    assert r.returncode == 0 and "privacy request 1" in r.stderr, r.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    doc = json.loads(out.read_text())
    assert [t["points"] for t in doc["operational"]["loyalty"]["loyalty_transfers"]] == [40]
    assert doc["operational"]["events"]["event_outbox"]  # the points event, not relayed (no server ran)
    again = huoli("privacy", "export", "--app", "shop", "--user", "u1", "--out", str(out), env=env)
    assert again.returncode == 1 and "exists" in again.stderr and "Traceback" not in again.stderr

    refused = huoli("privacy", "erase", "--app", "shop", "--user", "u1", env=env)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    r = huoli("privacy", "erase", "--app", "shop", "--user", "u1", "--yes", env=env)
    assert r.returncode == 0 and "privacy request 2: completed" in r.stdout, r.stderr
    assert '"loyalty_transfers": 1' in r.stdout and '"event_outbox": 1' in r.stdout
    r = huoli("privacy", "export", "--app", "shop", "--user", "u1", env=env)
    doc = json.loads(r.stdout)
    assert not any(rows for tables in doc["operational"].values() for rows in tables.values())
    unknown = huoli("privacy", "erase", "--app", "nope", "--user", "u1", "--yes", env=env)
    assert unknown.returncode == 1 and "unknown app" in unknown.stderr

    r = huoli("privacy", "requests", "--app", "shop", "--json", env=env)
    listed = json.loads(r.stdout)
    assert [(x["id"], x["kind"], x["status"]) for x in listed] == [
        (3, "export", "completed"),
        (2, "erasure", "completed"),
        (1, "export", "completed"),
    ]
    assert all(x["requested_by"].startswith("cli:") for x in listed)
