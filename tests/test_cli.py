"""The `huoli` command as users run it: real processes, clear messages, non-zero exits, no tracebacks."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "HUOLI_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "200"}


def huoli(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "huoli.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def test_help_lists_every_command(env: dict[str, str]) -> None:
    r = huoli("--help", env=env)
    assert r.returncode == 0
    for command in ("serve", "import", "demo", "migrate", "apps", "keys", "events"):
        assert command in r.stdout
    for sub in (
        ("apps", "--help"),
        ("keys", "create", "--help"),
        ("import", "--help"),
        ("demo", "generate", "--help"),
    ):
        assert huoli(*sub, env=env).returncode == 0


def test_apps_and_keys_lifecycle(env: dict[str, str]) -> None:
    r = huoli("apps", "create", "shop", "--name", "My Shop", env=env)
    assert r.returncode == 0 and "server signing secret" in r.stdout
    r = huoli("keys", "create", "--app", "shop", "--role", "analyst", "--name", "bi", env=env)
    assert r.returncode == 0
    key = r.stdout.strip().splitlines()[-1]
    assert key.startswith("hlk_")
    listed = huoli("keys", "list", "--app", "shop", env=env)
    assert "analyst" in listed.stdout and key.split(".")[1] not in listed.stdout
    key_id = key.removeprefix("hlk_").split(".")[0]
    assert huoli("keys", "revoke", key_id, "--app", "shop", env=env).returncode == 0
    assert "shop" in huoli("apps", "list", env=env).stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("apps", "create", "Bad Id", "--name", "x"), "id:"),
        (("apps", "create", "ok-id", "--name", "x", "--timezone", "Mars/Base"), "unknown IANA timezone"),
        (("keys", "create", "--app", "missing", "--role", "owner"), "unknown app"),
        (("keys", "create", "--app", "missing", "--role", "god"), "god"),
        (("keys", "revoke", "nokey", "--app", "missing"), "unknown key"),
        (("import", "/no/such/file.csv", "--mapping", "online_retail", "--app", "shop"), "unknown app"),
        (("import", "/no/such/file.csv", "--mapping", "nope", "--app", "shop"), "neither a recipe"),
        (("demo", "generate", "--users", "0"), "greater than or equal to 1"),
        (("demo", "generate", "--activity", "0.5"), "--activity needs --out"),
        (("demo", "generate", "--activity", "0", "--out", "/tmp/never"), "activity must be in (0, 1]"),
    ],
)
def test_bad_input_fails_cleanly(env: dict[str, str], args: tuple[str, ...], message: str) -> None:
    r = huoli(*args, env=env)
    assert r.returncode != 0
    assert message in (r.stdout + r.stderr)
    assert "Traceback" not in r.stderr


def test_bad_settings_fail_cleanly(env: dict[str, str], tmp_path: Path) -> None:
    r = huoli("apps", "list", env={**env, "HUOLI_TIMEZONE": "Nowhere/Land"})
    assert r.returncode == 1 and "timezone" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "huoli.toml").write_text('timezone = "Asia/Tokyo"\nport = "eighty"\n')
    r = huoli("apps", "list", env=env, cwd=tmp_path)
    assert r.returncode == 1 and "port" in r.stderr


def test_import_recipe_with_progress_and_rerun(env: dict[str, str], shared_data: Path) -> None:
    assert huoli("apps", "create", "tb", "--name", "Taobao sample", env=env).returncode == 0
    path = str(shared_data / "taobao_userbehavior_usersample.csv")
    r = huoli("import", path, "--mapping", "taobao_userbehavior", "--app", "tb", env=env)
    assert r.returncode == 0, r.stderr
    assert "4,321 rows → 4,321 new events" in r.stdout
    r = huoli("import", path, "--mapping", "taobao_userbehavior", "--app", "tb", env=env)
    assert "0 new events, 4,321 already present" in r.stdout
    assert huoli("events", "count", "--app", "tb", "--name", "order_paid", env=env).stdout.strip() == "77"


def test_demo_is_deterministic_and_reused(env: dict[str, str], tmp_path: Path) -> None:
    r = huoli(
        "demo", "run", "--users", "300", "--days", "14", "--no-serve", "--end-date", "2026-11-15", env=env
    )
    assert r.returncode == 0, r.stderr
    assert "generated and loaded" in r.stdout
    keys = json.loads((tmp_path / "var" / "demo" / "keys.json").read_text())
    assert set(keys) == {"owner", "operator", "analyst"}
    r2 = huoli(
        "demo", "run", "--users", "300", "--days", "14", "--no-serve", "--end-date", "2026-11-15", env=env
    )
    assert "reused" in r2.stdout
    count = r.stdout.split("events")[0].split(":")[-1].strip()
    assert count in r2.stdout and int(count.replace(",", "")) > 1000
    assert json.loads((tmp_path / "var" / "demo" / "keys.json").read_text()) == keys
    # The tour points at the history's own last days (here --end-date; by default yesterday).
    assert "2026-11-02 – 2026-11-15" in r.stdout and "huoli diagnose --app demo --end 2026-11-15" in r.stdout
    assert "--week 2026-W46" in r.stdout


def stored_secrets(env: dict[str, str]) -> list[tuple[str, str | None, str]]:
    """(id, wx_secret, server_secret) as stored in the SQLite file, without decryption."""
    con = sqlite3.connect(Path(env["HUOLI_DATA_DIR"]) / "huoli.db")
    try:
        return con.execute("SELECT id, wx_secret, server_secret FROM apps ORDER BY id").fetchall()
    finally:
        con.close()


def test_the_app_secret_never_comes_from_the_command_line(env: dict[str, str], tmp_path: Path) -> None:
    wx = ("--wx-appid", "wx0123456789abcdef")
    r = huoli("apps", "create", "shop", "--name", "Shop", *wx, "--wx-secret", "visible-in-ps-0123", env=env)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "--wx-secret is no longer accepted" in " ".join(r.stderr.split())
    assert "--wx-secret-file" in huoli("apps", "create", "--help", env=env).stdout

    secret_file = tmp_path / "wx_secret"
    secret_file.write_text("from-a-file-0123456789\n")
    r = huoli("apps", "create", "shop", "--name", "Shop", *wx, "--wx-secret-file", str(secret_file), env=env)
    assert r.returncode == 0, r.stderr
    r = huoli(
        "apps", "create", "env-shop", "--name", "Env", env={**env, "HUOLI_WX_SECRET": "from-the-env-0123"}
    )
    assert r.returncode == 0, r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "huoli.cli", "apps", "set-wx-secret", "env-shop", "--wx-secret-file", "-"],
        input="from-stdin-0123456789\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    rows = stored_secrets(env)
    assert [r[0] for r in rows] == ["env-shop", "shop"]
    for _id, wx_secret, server_secret in rows:
        assert wx_secret and wx_secret.startswith("enc1:") and server_secret.startswith("enc1:")
    assert not any(s in str(rows) for s in ("from-a-file", "from-the-env", "from-stdin"))
    r = huoli("apps", "set-wx-secret", "shop", env=env)  # no file, no env, no terminal to ask on
    assert r.returncode == 1 and "no AppSecret given" in r.stderr


def test_secrets_rotate_to_a_new_key_then_drop_the_old_one(env: dict[str, str]) -> None:
    assert huoli("apps", "create", "shop", "--name", "Shop", env=env).returncode == 0
    printed = huoli("apps", "create", "other", "--name", "Other", env=env).stdout
    server_secret = printed.split("HMAC calls): ")[1].split()[0]
    key_file = Path(env["HUOLI_DATA_DIR"]) / "encryption_key"
    [old] = key_file.read_text().split()
    r = huoli("secrets", "add-key", env=env)
    assert r.returncode == 0 and "restart every huoli process" in " ".join(r.stdout.split()).lower()
    new, kept = key_file.read_text().split()
    assert kept == old and new != old and stat.S_IMODE(key_file.stat().st_mode) == 0o600

    refused = huoli(
        "secrets", "rotate", "--drop-old-keys", env={**env, "HUOLI_ENCRYPTION_KEYS": f"{new},{old}"}
    )
    assert refused.returncode == 1 and "remove the older ones" in " ".join(refused.stderr.split())
    r = huoli("secrets", "rotate", "--drop-old-keys", env=env)
    assert r.returncode == 0, r.stderr
    assert "apps.server_secret: 0 re-encrypted" in r.stdout  # the env run above already rotated them
    assert key_file.read_text().split() == [new]
    status = huoli("secrets", "status", env=env).stdout
    assert "apps.server_secret" in status and "(newest)" in status
    # Readable with the new key alone: the server secret signs as before.
    check = (
        "from huoli.cli import database; from huoli.db import make_session_factory, unit_of_work;"
        "from huoli.apps.service import get\n"
        "with database() as (s, e, k), unit_of_work(make_session_factory(e)) as db:"
        " print(get(db=db, app_id='other').server_secret)"
    )
    r = subprocess.run([sys.executable, "-c", check], env=env, capture_output=True, text=True, timeout=300)
    assert r.stdout.strip() == server_secret, r.stderr
    key = huoli("secrets", "generate-key", env=env).stdout.strip()
    r = huoli("apps", "list", env={**env, "HUOLI_ENCRYPTION_KEYS": key})  # the wrong key: a clear error
    assert r.returncode == 1 and "not among the configured keys" in " ".join(r.stderr.split())
    assert "Traceback" not in r.stderr
