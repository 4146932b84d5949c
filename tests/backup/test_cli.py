"""`huoli backup …` as operators run it: real processes, clear messages, non-zero exits, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest


def huoli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "huoli.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HUOLI_")}
    return {**clean, "HUOLI_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "200"}


def ok(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 0, r.stderr
    return r.stdout


def refused(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert r.returncode == 1, (r.stdout, r.stderr)
    text = " ".join(r.stderr.split())  # rich wraps long messages
    assert "Traceback" not in r.stderr
    for needle in needles:
        assert needle in text, text


def test_create_list_verify_restore_prune(env: dict[str, str], tmp_path: Path) -> None:
    ok(huoli("apps", "create", "shop", "--name", "我的小店", env=env))
    ok(huoli("keys", "create", "--app", "shop", "--role", "owner", env=env))
    # apps and keys commands use the operational database alone; the full runtime (as `huoli serve` opens it)
    # makes the event store and the session secret, which a backup then carries.
    ok(huoli("events", "relay", env=env))
    first = ok(huoli("backup", "create", env=env))
    assert "backup written to" in first and "secret key: file" in first
    ok(huoli("backup", "create", "--out", str(tmp_path / "extra"), env=env))
    ok(huoli("backup", "create", env=env))
    root = tmp_path / "var" / "backups"
    names = sorted(p.name for p in root.iterdir())
    assert len(names) == 2
    listing = ok(huoli("backup", "list", env=env))
    assert all(n in listing for n in names)
    assert "files match the manifest" in ok(huoli("backup", "verify", str(root / names[0]), env=env))

    restored = tmp_path / "restored"
    said = " ".join(
        ok(huoli("backup", "restore", str(root / names[-1]), "--data-dir", str(restored), env=env)).split()
    )
    assert "every count matches the backup" in said and f"HUOLI_DATA_DIR={restored}" in said
    there = {**env, "HUOLI_DATA_DIR": str(restored)}
    assert "我的小店" in ok(huoli("apps", "list", env=there))
    assert "owner" in ok(huoli("keys", "list", "--app", "shop", env=there))
    assert (restored / "secret_key").read_text() == (tmp_path / "var" / "secret_key").read_text()
    assert (restored / "encryption_key").read_text() == (tmp_path / "var" / "encryption_key").read_text()

    refused(
        huoli("backup", "restore", str(root / names[-1]), "--data-dir", str(restored), env=env),
        "is not empty",
        "--force",
    )
    said = ok(
        huoli("backup", "restore", str(tmp_path / "extra"), "--data-dir", str(restored), "--force", env=env)
    )
    assert "replaced: huoli.db" in said

    assert "would delete" in ok(huoli("backup", "prune", "--keep", "1", "--dry-run", env=env))
    assert len(list(root.iterdir())) == 2
    assert "deleted 1 backup(s); 1 kept" in ok(huoli("backup", "prune", "--keep", "1", env=env))
    assert [p.name for p in root.iterdir()] == [names[-1]]


def test_damaged_backup_and_bad_paths_fail_cleanly(env: dict[str, str], tmp_path: Path) -> None:
    ok(huoli("apps", "create", "shop", "--name", "Shop", env=env))
    backup = tmp_path / "b"
    ok(huoli("backup", "create", "--out", str(backup), env=env))
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["files"]["huoli.db"]["sha256"]
    with open(backup / "huoli.db", "r+b") as fh:
        fh.seek(200)
        fh.write(b"\x00garbage\x00")
    target = tmp_path / "restored"
    r = huoli("backup", "restore", str(backup), "--data-dir", str(target), env=env)
    refused(r, "is damaged", "huoli.db: SHA-256 differs from the manifest", "nothing was restored")
    assert not target.exists()
    refused(huoli("backup", "verify", str(backup), env=env), "is damaged")
    refused(
        huoli("backup", "restore", str(tmp_path), "--data-dir", str(target), env=env), "not a huoli backup"
    )


def test_create_while_the_store_is_open_says_why(env: dict[str, str], tmp_path: Path) -> None:
    ok(huoli("apps", "create", "shop", "--name", "Shop", env=env))
    holder = duckdb.connect(str(tmp_path / "var" / "events.duckdb"))  # what a running `huoli serve` holds
    try:
        r = huoli("backup", "create", env=env)
    finally:
        holder.close()
    refused(r, f"open in another process (PID {os.getpid()})", "huoli serve", "Stop the server")
    assert not list((tmp_path / "var" / "backups").iterdir())


@pytest.mark.parametrize(
    ("variable", "url", "needle"),
    [
        ("HUOLI_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test", "pg_dump"),
        ("HUOLI_EVENT_STORE_URL", "clickhouse://default:@127.0.0.1:8123/huoli", "BACKUP"),
    ],
)
def test_external_stores_point_to_their_tools(
    env: dict[str, str], variable: str, url: str, needle: str
) -> None:
    refused(huoli("backup", "create", env={**env, variable: url}), needle, "docs/reliability.md")
