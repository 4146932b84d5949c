"""`huoli diagnose` end to end on the `huoli demo` data: table, JSON and Markdown output, bad arguments."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path


def huoli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "huoli.cli", *args], env=env, capture_output=True, text=True, timeout=280
    )


def test_diagnose_cli_on_demo_data(tmp_path: Path) -> None:
    env = {**os.environ, "HUOLI_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "220"}
    # The demo history stagnates in its last third (docs/diagnosis.md#on-the-demo-data) and ends yesterday
    # (the demo's own choice since its end_date): without --end the doctor finds that last day with events.
    r = huoli("demo", "run", "--users", "3000", "--days", "30", "--no-serve", env=env)
    assert r.returncode == 0, r.stderr
    r = huoli("diagnose", "--app", "demo", "--format", "json", env=env)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert (
        d["end_source"] == "last_event_day"
        and d["end"] == d["data"]["last_event_day"]
        and d["data"]["enough"]
    )
    end = dt.date.fromisoformat(d["end"])
    assert d["data"]["history_days"] >= 28
    day = lambda n: (end - dt.timedelta(days=n)).isoformat()  # noqa: E731
    r = huoli("diagnose", "--app", "demo", "--end", end.isoformat(), "--format", "json", env=env)
    assert r.returncode == 0, r.stderr
    named = json.loads(r.stdout)
    assert named["findings"] == d["findings"] and named["end_source"] == "given"
    d = named
    assert d["current"] == [day(6), day(0)]
    # 30 days of history: the oldest baseline window would start before the first event, so it is dropped.
    assert d["baseline"] == [day(27), day(7)] and d["notes"]
    ids = {f["id"] for f in d["findings"]}
    # The demo generator slows acquisition and activity in its last third: the doctor must see it.
    assert {"churn.new_users", "activity.opens_per_user"} <= ids, ids
    assert len(d["checked"]) >= 18
    r = huoli("diagnose", "--app", "demo", "--end", end.isoformat(), env=env)
    assert r.returncode == 0 and "churn.new_users" in r.stdout and "checks ran" in r.stdout, r.stdout
    r = huoli("diagnose", "--app", "demo", "--end", end.isoformat(), "--format", "markdown", env=env)
    assert r.returncode == 0 and r.stdout.startswith("# Diagnosis · demo")
    # severities in words, rates as percentages, p-values never "0" (issue 23)
    assert "| High |" in r.stdout or "| Warning |" in r.stdout
    assert "`churn.new_users`" in r.stdout
    assert "p(BH) < 0.001" in r.stdout and "p(BH) = 0 |" not in r.stdout
    assert re.search(r"\| \d+\.\d% \|", r.stdout), r.stdout  # a rate finding reads as a percentage
    r = huoli("diagnose", "--app", "demo", "--end", end.isoformat(), "--lang", "zh", env=env)
    assert r.returncode == 0 and "严重度" in r.stdout and "发现" in r.stdout, r.stdout
    assert "严重" in r.stdout or "警告" in r.stdout

    r = huoli("diagnose", "--app", "demo", env=env)
    assert f"the window ends on the last day with events, {end}" in r.stdout, r.stdout

    # An app without events: "not enough data", with how much is needed and how much there is.
    assert huoli("apps", "create", "fresh", "--name", "Fresh", env=env).returncode == 0
    r = huoli("diagnose", "--app", "fresh", env=env)
    assert r.returncode == 0 and "Not enough data" in r.stdout and "no problems" not in r.stdout, r.stdout
    r = huoli("diagnose", "--app", "fresh", "--lang", "zh", env=env)
    assert "数据不足" in r.stdout and "14 天" in r.stdout, r.stdout

    bad = huoli("diagnose", "--app", "demo", "--end", "15/11/2026", env=env)
    assert bad.returncode == 1 and "--end must be a date" in bad.stderr
    bad = huoli("diagnose", "--app", "nope", env=env)
    assert bad.returncode == 1 and "nope" in bad.stderr
    bad = huoli("diagnose", "--app", "demo", "--end", end.isoformat(), "--tz", "Mars/Base", env=env)
    assert bad.returncode == 1 and "tz" in bad.stderr
    bad = huoli("diagnose", "--app", "demo", "--format", "yaml", env=env)
    assert bad.returncode == 2
