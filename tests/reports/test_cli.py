"""`huoli report` end to end in a real data directory: both files written and printed, the default week,
and every bad input is a message with a non-zero exit."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
from tests.analytics.fixtures import table

from huoli.reports.weeks import last_complete_week

from .helpers import WEEK, rows


def huoli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "huoli.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_report_cli(tmp_path: Path) -> None:
    env = {**os.environ, "HUOLI_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "200"}
    assert huoli("apps", "create", "shop", "--name", "Shop", env=env).returncode == 0
    pq.write_table(table(rows("shop")), tmp_path / "ev.parquet")
    r = huoli("import", str(tmp_path / "ev.parquet"), "--mapping", "huoli_parquet", "--app", "shop", env=env)
    assert r.returncode == 0, r.stderr

    out = tmp_path / "reports"
    r = huoli("report", "--app", "shop", "--week", WEEK, "--out", str(out), "--lang", "en", env=env)
    assert r.returncode == 0, r.stderr
    html, md = out / f"report-{WEEK}.html", out / f"report-{WEEK}.md"
    assert r.stdout.split() == [str(html), str(md)]
    assert 'data-week="2026-W10"' in html.read_text("utf-8")
    assert "| WAU | 3 | 3 | +0.0% |" in md.read_text("utf-8")

    # default: the last complete ISO week in the app timezone (Asia/Shanghai), into the working directory
    r = subprocess.run(
        [sys.executable, "-m", "huoli.cli", "report", "--app", "shop"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    expected = last_complete_week(dt.datetime.now(dt.UTC), "Asia/Shanghai").label
    assert (tmp_path / f"report-{expected}.html").exists() and (tmp_path / f"report-{expected}.md").exists()

    for args, message in (
        (["--week", "2025-W53"], "2025 has ISO weeks 1–52"),
        (["--week", "47"], "expected an ISO week"),
        (["--week", "2099-W01"], "has not ended yet"),
        (["--lang", "fr"], "unknown language"),
    ):
        r = huoli("report", "--app", "shop", "--out", str(tmp_path / "bad"), *args, env=env)
        assert r.returncode == 1 and message in r.stderr, (args, r.stderr)
    assert not (tmp_path / "bad").exists()  # nothing written on a refusal
    r = huoli("report", "--app", "nope", "--week", WEEK, env=env)
    assert r.returncode == 1 and "nope" in r.stderr
