"""`huoli metrics …` end to end: a real data directory, an import, table / CSV / JSON output, bad input."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from .fixtures import at, ev, table


def huoli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "huoli.cli", *args], env=env, capture_output=True, text=True, timeout=240)


def test_metrics_cli(tmp_path: Path) -> None:
    env = {**os.environ, "HUOLI_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "200"}
    assert huoli("apps", "create", "shop", "--name", "Shop", env=env).returncode == 0
    rows = [ev("app_show", u, at(d, "10:00"), app_id="shop") for d, u in (("2026-03-01", "u1"), ("2026-03-01", "u2"), ("2026-03-02", "u1"))]
    pq.write_table(table(rows), tmp_path / "ev.parquet")
    r = huoli("import", str(tmp_path / "ev.parquet"), "--mapping", "huoli_parquet", "--app", "shop", env=env)
    assert r.returncode == 0, r.stderr
    common = ["--app", "shop", "--start", "2026-03-01", "--end", "2026-03-02"]
    r = huoli("metrics", "activity", *common, "--format", "csv", env=env)
    assert r.returncode == 0, r.stderr
    got = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [(g["date"], g["dau"]) for g in got] == [("2026-03-01", "2"), ("2026-03-02", "1")]
    r = huoli("metrics", "retention", *common, "--spec", '{"periods": 1}', "--format", "json", env=env)
    assert json.loads(r.stdout)["result"]["rows"][0]["retained"] == [2, 1]
    r = huoli("metrics", "lifecycle", *common, env=env)
    assert r.returncode == 0 and "resurrecting" in r.stdout
    bad = huoli("metrics", "funnel", *common, "--spec", '{"steps": [{"event": "app_show"}, {"event": "warp"}]}', env=env)
    assert bad.returncode == 1 and "unknown event 'warp'" in bad.stderr and "steps[1].event" in bad.stderr
    bad = huoli("metrics", "activity", "--app", "shop", "--start", "2026-03-05", "--end", "2026-03-01", env=env)
    assert bad.returncode == 1 and "before start" in bad.stderr
