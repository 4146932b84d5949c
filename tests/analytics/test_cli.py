"""`huoli metrics …` end to end: a real data directory, an import, table / CSV / JSON output, bad input."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import typer

from huoli.analytics import cli as analytics_cli

from .fixtures import at, ev, table


def huoli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "huoli.cli", *args], env=env, capture_output=True, text=True, timeout=240
    )


def test_metrics_cli(tmp_path: Path) -> None:
    env = {**os.environ, "HUOLI_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "200"}
    assert huoli("apps", "create", "shop", "--name", "Shop", env=env).returncode == 0
    rows = [
        ev("app_show", u, at(d, "10:00"), app_id="shop")
        for d, u in (("2026-03-01", "u1"), ("2026-03-01", "u2"), ("2026-03-02", "u1"))
    ]
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
    bad = huoli(
        "metrics",
        "funnel",
        *common,
        "--spec",
        '{"steps": [{"event": "app_show"}, {"event": "warp"}]}',
        env=env,
    )
    assert bad.returncode == 1 and "unknown event 'warp'" in bad.stderr and "steps[1].event" in bad.stderr
    bad = huoli(
        "metrics", "activity", "--app", "shop", "--start", "2026-03-05", "--end", "2026-03-01", env=env
    )
    assert bad.returncode == 1 and "before start" in bad.stderr


def test_breakdowns_and_clear_errors(tmp_path: Path) -> None:
    """`huoli metrics activity --breakdown user.first_channel` (issue 23: a traceback on the event store's UUID
    ids) shows the per-value totals; input the metric cannot take is one error line and exit 1."""
    env = {**os.environ, "HUOLI_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "200"}
    assert huoli("apps", "create", "shop", "--name", "Shop", env=env).returncode == 0
    rows = [
        ev("app_show", u, at(d, "10:00"), app_id="shop", channel=ch, session_id=f"{u}{d}")
        for d, u, ch in (
            ("2026-03-01", "u1", "ads"),
            ("2026-03-01", "u2", "kol"),
            ("2026-03-02", "u1", "kol"),
        )
    ]
    pq.write_table(table(rows), tmp_path / "ev.parquet")
    r = huoli("import", str(tmp_path / "ev.parquet"), "--mapping", "huoli_parquet", "--app", "shop", env=env)
    assert r.returncode == 0, r.stderr
    common = ["--app", "shop", "--start", "2026-03-01", "--end", "2026-03-02", "--format", "csv"]
    for breakdown, want in (
        ("user.first_channel", {"ads": "1", "kol": "1"}),
        ("channel", {"ads": "1", "kol": "2"}),
    ):
        r = huoli("metrics", "activity", *common, "--breakdown", breakdown, env=env)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
        assert {g["breakdown"]: g["active_users"] for g in csv.DictReader(io.StringIO(r.stdout))} == want
    r = huoli("metrics", "retention", *common, "--breakdown", "user.first_channel", env=env)
    assert r.returncode == 0, r.stderr
    for args, message in (
        (["--spec", f"@{tmp_path / 'missing.json'}"], "cannot read it"),
        (["--breakdown", "user.first_city"], "unknown user property 'first_city'"),
        (["--tz", "Mars/Olympus"], "not an IANA timezone"),
        (["--spec", '{"periods": -1}'], "periods"),
    ):
        bad = huoli("metrics", "retention", *common, *args, env=env)
        assert bad.returncode == 1 and message in bad.stderr and "Traceback" not in bad.stderr, (
            args,
            bad.stderr,
        )


def test_a_failing_metric_is_one_error_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failure that is no HuoliError (an engine error) still ends the command cleanly: exit 1, no traceback."""

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("Binder Error: Cannot mix values of type VARCHAR and UUID\nLINE 1: …")

    monkeypatch.setattr(analytics_cli.service, "run", broken)
    with pytest.raises(typer.Exit) as exc:
        analytics_cli._run(None, None, "activity", {})  # type: ignore[arg-type]
    assert exc.value.exit_code == 1
    err = " ".join(capsys.readouterr().err.split())  # (rich wraps long lines)
    assert "activity failed: RuntimeError: Binder Error: Cannot mix values of type VARCHAR and UUID" in err
    assert "LINE 1" not in err and "Traceback" not in err
