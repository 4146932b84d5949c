"""`huoli import` says which timezone read the file's timestamps and which one makes local days."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "HUOLI_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "250"}


def huoli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "huoli.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_import_prints_the_timezones_it_used(env: dict[str, str], shared_data: Path, tmp_path: Path) -> None:
    assert (
        huoli("apps", "create", "uk", "--name", "UK shop", "--timezone", "Asia/Shanghai", env=env).returncode
        == 0
    )
    first_day = (
        'format = "csv"\n{zone}[read]\ntypes = {{ InvoiceNo = "VARCHAR", CustomerID = "VARCHAR" }}\n'
        '[[events]]\nwhere = "InvoiceDate < \'2010-12-02\'"\ngroup_by = "InvoiceNo"\n[events.columns]\n'
        'key = "InvoiceNo"\nname = "\'order_paid\'"\nts = "min(InvoiceDate)"\n'
        'anonymous_id = "InvoiceNo"\norder_id = "InvoiceNo"\n'
    )
    retail = str(shared_data / "online_retail.csv.gz")
    london = tmp_path / "london.toml"
    london.write_text(first_day.format(zone='timezone = "Europe/London"\n'))
    r = huoli("import", retail, "--mapping", str(london), "--app", "uk", env=env)
    assert r.returncode == 0, r.stderr
    said = " ".join(r.stdout.split())
    assert (
        "those without an offset read as Europe/London time (the mapping's timezone); "
        "local days: Asia/Shanghai (app uk)" in said
    )
    unzoned = tmp_path / "unzoned.toml"
    unzoned.write_text(first_day.format(zone=""))
    r = huoli("import", retail, "--mapping", str(unzoned), "--app", "uk", env=env)
    said = " ".join(r.stdout.split())
    assert "read as Asia/Shanghai time (app uk's timezone: the mapping sets none)" in said, r.stderr
    taobao = str(shared_data / "taobao_userbehavior_usersample.csv")
    r = huoli("import", taobao, "--mapping", "taobao_userbehavior", "--app", "uk", env=env)
    said = " ".join(r.stdout.split())
    assert "the source's carry their offset" in said and "Asia/Shanghai was not needed" in said, r.stderr
