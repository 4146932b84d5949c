"""Online backups inside the serving process: consistent under live ingestion, restorable by the CLI, run by
the jobs machinery, and behind owner / operator roles on the admin API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import orjson
import pytest
from tests.browser.fixtures import LiveServer, client_event
from tests.jobs.helpers import drain, runs

from huoli.backup import service
from huoli.jobs import runner
from huoli.jobs.queue import queue_for
from huoli.settings import Settings


def huoli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HUOLI_")}
    return subprocess.run(
        [sys.executable, "-m", "huoli.cli", *args],
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


class Ingest:
    """A thread posting small batches through POST /v1/events, remembering what was acknowledged and when."""

    def __init__(self, server: LiveServer, app_id: str) -> None:
        self.server, self.app_id = server, app_id
        self.acked: list[tuple[float, str]] = []  # (monotonic time of the 200, event_id)
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        now = datetime.now(UTC)
        with httpx.Client(base_url=self.server.url, timeout=30) as http:
            while not self._stop.is_set():
                batch = [
                    client_event(
                        "page_view", now - timedelta(minutes=len(self.acked) % 600), anonymous_id=f"a{i}"
                    )
                    for i in range(20)
                ]
                started = time.monotonic()
                r = http.post(
                    "/v1/events",
                    content=orjson.dumps({"events": batch}),
                    headers={"X-Huoli-App-Id": self.app_id, "Content-Type": "application/json"},
                )
                done = time.monotonic()
                if r.status_code != 200:
                    self.errors.append(r.text)
                    continue
                self.latencies.append(done - started)
                self.acked.extend((done, e["event_id"]) for e in batch)

    def __enter__(self) -> Ingest:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def restored_ids(data_dir: Path) -> list[str]:
    con = duckdb.connect(str(data_dir / service.DUCKDB_FILE), read_only=True)
    try:
        return [str(r[0]) for r in con.execute("SELECT event_id::VARCHAR FROM events").fetchall()]
    finally:
        con.close()


def test_online_backup_under_live_ingestion_restores_every_acknowledged_event(
    live_server: LiveServer, tmp_path: Path
) -> None:
    live_server.make_app("shop")
    with Ingest(live_server, "shop") as ingest:
        while len(ingest.acked) < 2000:  # some history loaded into DuckDB, some still only journaled
            time.sleep(0.05)
        started = time.monotonic()
        backup = service.create_online(live_server.runtime, out=tmp_path / "b1")
        returned = time.monotonic()
        time.sleep(0.3)  # keep ingesting after the backup: none of that may leak into it
    assert not ingest.errors
    before = {e for t, e in ingest.acked if t <= started}
    m = backup.manifest
    assert m["mode"] == "online" and m["online"]["loader_paused_s"] == 0.0
    assert m["events"]["total"] >= len(before)
    service.verify(backup.path)

    r = huoli("backup", "restore", str(backup.path), "--data-dir", str(tmp_path / "restored"))
    assert r.returncode == 0, r.stderr
    ids = restored_ids(tmp_path / "restored")
    assert len(ids) == len(set(ids)) == m["events"]["total"] == m["events"]["by_app"]["shop"]
    assert before <= set(ids)  # every event acknowledged before the backup began is in it
    sent = {e for _, e in ingest.acked}
    assert set(ids) <= sent
    assert len(set(ids)) < len(sent)  # the events acknowledged after it are not (the test did ingest more)
    during = [
        lat for (lat, (t, _)) in zip(ingest.latencies, ingest.acked[::20], strict=False) if started <= t
    ]
    assert returned > started and (max(during) if during else 0) < 5.0  # ingestion never waited on the backup


def test_journal_segments_are_kept_while_held(tmp_path: Path) -> None:
    from huoli.events.journal import Journal

    j = Journal(tmp_path / "j")
    for n in (1, 2, 3):
        (tmp_path / "j" / f"{n:012d}.journal").write_bytes(b"")
    with j.hold():
        j.drop_before(3)
        assert j.segments() == [1, 2, 3]  # the backup copies them meanwhile
    assert j.segments() == [3]


def test_backup_job_runs_through_the_queue_with_retention(live_server: LiveServer, tmp_path: Path) -> None:
    rt = live_server.runtime
    rt.settings = rt.settings.model_copy(update={"backup_keep": 2})
    live_server.make_app("shop")
    live_server.post_events("shop", [client_event("page_view", datetime.now(UTC)) for _ in range(5)])
    queue = queue_for(rt)
    for i in range(3):
        outcome = runner.run(
            rt, queue.job("backup.create"), app_id=None, period=f"manual:t{i}", trigger="cli"
        )
        assert outcome.status == "ok", outcome.error
        time.sleep(1.05)  # backup names are UTC seconds
    done = [r for r in runs(rt, "backup.create") if r.status == "ok"]
    assert len(done) == 3 and done[-1].result is not None
    assert done[-1].result["events"] == 5 and len(done[-1].result["pruned"]) == 1
    listed = service.list_backups(service.default_root(rt.settings))
    assert len(listed) == 2 and all(b.manifest["mode"] == "online" for b in listed)

    # and queued by the API, run by the primary queue's consumer
    owner = live_server.keys["shop"]["owner"]
    r = live_server.api(owner, "POST", "/admin/backups")
    assert r.status_code == 202, r.text
    assert r.json()["job"] == "backup.create" and r.json()["status"] == "queued"
    drain(rt, queue)
    listing = live_server.api(owner, "GET", "/admin/backups").json()
    assert len(listing["backups"]) == 2 and listing["keep"] == 2
    assert listing["last_run"]["status"] == "ok" and listing["backups"][0]["verified"]["ok"] is True
    assert listing["backups"][0]["events"] == 5 and listing["backups"][0]["mode"] == "online"


def test_schedule_comes_from_the_settings(tmp_path: Path) -> None:
    from huoli.jobs.registry import discover

    off = discover().configured(Settings(data_dir=tmp_path)).get("backup.create")
    assert off is not None and off.schedule is None
    on = discover().configured(Settings(data_dir=tmp_path, backup_schedule="0 3 * * *")).get("backup.create")
    assert on is not None and on.schedule is not None and on.schedule.describe() == "cron 0 3 * * *"
    with pytest.raises(ValueError, match="five fields"):
        Settings(data_dir=tmp_path, backup_schedule="0 3 *")


def test_api_roles_verify_and_bad_names(live_server: LiveServer, tmp_path: Path) -> None:
    keys = live_server.make_app("shop")
    live_server.post_events("shop", [client_event("page_view", datetime.now(UTC)) for _ in range(3)])
    for role in ("analyst", "operator"):
        r = live_server.api(keys[role], "POST", "/admin/backups")
        assert r.status_code == 403, r.text
    assert live_server.api(keys["analyst"], "GET", "/admin/backups").status_code == 403
    assert live_server.api(keys["operator"], "GET", "/admin/backups").json()["can_create"] is False
    assert live_server.api(keys["owner"], "GET", "/admin/backups").json()["can_create"] is True

    backup = service.create_online(live_server.runtime)
    name = backup.path.name
    r = live_server.api(keys["operator"], "POST", f"/admin/backups/{name}/verify")
    assert r.status_code == 200 and r.json()["verified"]["ok"] is True and r.json()["events"] == 3
    (backup.path / service.SQLITE_FILE).write_bytes(b"damaged")
    r = live_server.api(keys["operator"], "POST", f"/admin/backups/{name}/verify")
    assert r.status_code == 200 and r.json()["verified"]["ok"] is False
    assert any("huoli.db" in p for p in r.json()["verified"]["problems"])
    listed = live_server.api(keys["owner"], "GET", "/admin/backups").json()["backups"]
    assert listed[0]["verified"]["ok"] is False

    assert live_server.api(keys["operator"], "POST", "/admin/backups/nope/verify").status_code == 404
    assert live_server.api(keys["operator"], "POST", "/admin/backups/..%2Fx/verify").status_code in (404, 422)
    assert live_server.api(keys["operator"], "POST", "/admin/backups/.verified/verify").status_code == 422

    trail = live_server.api(keys["owner"], "GET", "/admin/audit").json()["items"]
    actions = json.dumps(trail)
    assert "/admin/backups/{name}/verify" in actions


@pytest.mark.parametrize(
    "overrides",
    [
        {"database_url": "postgresql+psycopg://u:p@127.0.0.1:1/x"},
        {"event_store_url": "clickhouse://u:p@127.0.0.1:1/x"},
    ],
)
def test_external_stores_answer_409_with_the_right_tool(
    live_server: LiveServer, overrides: dict[str, Any]
) -> None:
    keys = live_server.make_app("shop")
    rt = live_server.runtime
    real = rt.settings
    rt.settings = real.model_copy(update=overrides)  # only what the routes read: the URLs
    try:
        for method, path in (("GET", "/admin/backups"), ("POST", "/admin/backups")):
            r = live_server.api(keys["owner"], method, path)
            assert r.status_code == 409, r.text
            body = r.json()
            text = body.get("message") or body.get("error", {}).get("message", "")
            assert "pg_dump" in text or "BACKUP" in text, body
    finally:
        rt.settings = real


def test_a_second_backup_at_the_same_time_is_refused(live_server: LiveServer) -> None:
    live_server.make_app("shop")
    assert service._online_lock.acquire(blocking=False)
    try:
        with pytest.raises(service.BackupError, match="already running"):
            service.create_online(live_server.runtime)
    finally:
        service._online_lock.release()
