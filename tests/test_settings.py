"""Settings come from HUOLI_* variables, then huoli.toml, then defaults; bad values are refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from huoli.settings import Settings


def test_defaults_are_embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert s.timezone == "Asia/Shanghai"
    assert s.resolved_database_url() == "sqlite:///var/huoli.db"
    assert s.resolved_event_store_url() == "duckdb:///var/events.duckdb"
    key = s.resolved_secret_key()
    assert len(key) > 40 and Settings().resolved_secret_key() == key  # generated once, then reused
    assert (tmp_path / "var" / "secret_key").stat().st_mode & 0o777 == 0o600


def test_env_overrides_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "huoli.toml").write_text(
        'timezone = "Asia/Tokyo"\ndatabase_url = "postgresql+psycopg://u@db/huoli"\nport = 9000\n'
    )
    assert (Settings().timezone, Settings().port) == ("Asia/Tokyo", 9000)
    assert Settings().resolved_database_url() == "postgresql+psycopg://u@db/huoli"
    monkeypatch.setenv("HUOLI_TIMEZONE", "Europe/London")
    assert Settings().timezone == "Europe/London"


def test_invalid_values_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValidationError, match="unknown IANA timezone"):
        Settings(timezone="Mars/Olympus")
    (tmp_path / "huoli.toml").write_text("no_such_setting = 1\n")
    with pytest.raises(ValidationError, match="no_such_setting"):
        Settings()


def test_encryption_keys_from_the_environment_or_generated_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    generated = Settings().resolved_encryption_keys()
    assert len(generated) == 1 and Settings().resolved_encryption_keys() == generated
    assert (tmp_path / "var" / "encryption_key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "var").stat().st_mode & 0o777 == 0o700
    monkeypatch.setenv("HUOLI_ENCRYPTION_KEYS", " new-key , old-key ,")
    assert Settings().resolved_encryption_keys() == ["new-key", "old-key"]  # newest first, file ignored


def test_a_relative_data_dir_keeps_every_default_file_under_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """duckdb:// URLs read like SQLAlchemy's sqlite:// ones: three slashes relative, four absolute."""
    from sqlalchemy.engine import make_url

    from huoli.backup.service import default_root
    from huoli.events.stores import duckdb_path

    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert Path(duckdb_path(s.resolved_event_store_url())) == Path("var/events.duckdb")
    assert make_url(s.resolved_database_url()).database == "var/huoli.db"
    assert make_url(s.resolved_jobs_url()).database == "var/jobs.db"
    assert default_root(s) == Path("var/backups")
    absolute = Settings(data_dir=tmp_path / "abs")
    assert duckdb_path(absolute.resolved_event_store_url()) == str(tmp_path / "abs" / "events.duckdb")
    assert make_url(absolute.resolved_database_url()).database == str(tmp_path / "abs" / "huoli.db")
    assert duckdb_path("duckdb:///:memory:") == ":memory:"
    for bad in ("duckdb://", "duckdb:///", "duckdb://var/events.duckdb"):
        with pytest.raises(ValueError, match="duckdb:///relative/path"):
            duckdb_path(bad)


def test_the_default_event_store_is_created_under_the_working_directory(tmp_path: Path) -> None:
    """Not /var/events.duckdb shared by every checkout on the machine (and unwritable without root)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUOLI_")}
    r = subprocess.run(
        [sys.executable, "-m", "huoli.cli", "events", "count", "--app", "nobody"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0 and r.stdout.strip() == "0", r.stderr
    assert {p.name for p in (tmp_path / "var").iterdir()} >= {"events.duckdb", "huoli.db"}
