"""`huoli auth prune`: expired revocations and stale nonces go, live ones stay."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path


def test_prune_keeps_what_can_still_matter(tmp_path: Path) -> None:
    env = {**os.environ, "HUOLI_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "200"}

    def huoli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "huoli.cli", *args], env=env, capture_output=True, text=True, timeout=300
        )

    assert huoli("migrate").returncode == 0
    now = datetime.now(UTC)

    def at(delta: timedelta) -> str:
        return (now + delta).strftime("%Y-%m-%d %H:%M:%S.%f")

    con = sqlite3.connect(tmp_path / "var" / "huoli.db")
    with con:
        con.executemany(
            "INSERT INTO session_revocations (app_id, user_id, jti, revoked_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            [
                ("shop", "u1", "gone", at(-timedelta(days=8)), at(-timedelta(days=1))),
                ("shop", "u2", "live", at(-timedelta(days=1)), at(timedelta(days=6))),
                ("shop", "u3", None, at(-timedelta(hours=1)), at(timedelta(days=7))),
            ],
        )
        con.executemany(
            "INSERT INTO server_nonces (app_id, nonce, created_at) VALUES (?, ?, ?)",
            [
                ("shop", "old-nonce-1", at(-timedelta(hours=1))),
                ("shop", "new-nonce-1", at(-timedelta(minutes=1))),
            ],
        )
    r = huoli("auth", "prune")
    assert r.returncode == 0, r.stderr
    assert "pruned 1 expired session revocations and 1 old nonces" in r.stdout
    assert con.execute("SELECT jti FROM session_revocations ORDER BY id").fetchall() == [("live",), (None,)]
    assert con.execute("SELECT nonce FROM server_nonces").fetchall() == [("new-nonce-1",)]
    con.close()
