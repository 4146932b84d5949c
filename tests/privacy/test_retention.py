"""Retention periods (privacy/retention.py) on SQLite and PostgreSQL with the DuckDB event store, and on
ClickHouse (the fake server): events before each app's cutoff (local midnight in its timezone) deleted, later
ones kept; the rollups equal a rebuild afterwards — days and sessions spanning the cutoff, a second timezone,
events not folded in yet, old events that are the newest rows, across a checkpoint; WeChat session keys past
their period deleted, fresh ones kept; dry runs change nothing; 0 disables; the audit trail; bad values; the
command line."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select, update
from tests.fakes.clickhouse_server import FakeClickHouse
from tests.privacy.test_event_store import (
    APP,
    OTHER,
    ev,
    flood,
    rebuilt,
    refresh,
    snapshot,
    table,
    visit,
)

from huoli.analytics import rollup
from huoli.apps.models import App
from huoli.audit.models import AuditEntry
from huoli.db import unit_of_work
from huoli.errors import ValidationFailed
from huoli.events.stores import ClickHouseEventStore, DuckDBEventStore
from huoli.privacy import retention
from huoli.runtime import Runtime
from huoli.settings import Settings
from huoli.users.models import WxSessionKey

# 12:00 in Shanghai. With 3 days: shop (Asia/Shanghai) keeps events from 2026-12-07 00:00 +08:00 =
# 2026-12-06 16:00 UTC; elsewhere (UTC) from 2026-12-07 00:00 UTC.
NOW = datetime(2026, 12, 10, 4, 0, tzinfo=UTC)
SHOP_CUT = datetime(2026, 12, 6, 16, 0, tzinfo=UTC)
OTHER_CUT = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)


def count(rt: Runtime, app: str, *, before: datetime | None = None) -> int:
    sql = "SELECT count(*) AS n FROM events WHERE app_id = ?" + (" AND ts < ?" if before else "")
    params: list[Any] = [app, before] if before else [app]
    return int(rt.store.query(sql, params).column("n")[0].as_py())


def audit_targets(rt: Runtime, app: str) -> list[dict[str, Any]]:
    with unit_of_work(rt.sessions, app_id=app) as db:
        rows = db.scalars(
            select(AuditEntry).where(AuditEntry.action == retention.ACTION).order_by(AuditEntry.id)
        ).all()
        return [{**r.target, "actor": f"{r.actor_kind}:{r.actor_id}"} for r in rows]


@pytest.fixture
def apps(runtime: Runtime, make_app: Any) -> None:
    make_app(APP)
    make_app(OTHER)
    with unit_of_work(runtime.sessions) as db:
        db.execute(update(App).where(App.id == OTHER).values(timezone="UTC"))


def seed(store: DuckDBEventStore) -> None:
    """Old, spanning and recent events of both apps; rollups in two zones, partly behind."""
    store.append(
        [
            table(
                [
                    *visit("alice", "dA", "s-old", datetime(2026, 12, 1, 3, tzinfo=UTC)),
                    # One session across shop's cutoff (and a UTC day of alice's across it, in the UTC rollup).
                    ev("app_show", SHOP_CUT - timedelta(minutes=5), user="alice", device="dA", session="s-x"),
                    ev("page_view", SHOP_CUT - timedelta(minutes=2), user="alice", session="s-x", page="p/a"),
                    ev("page_view", SHOP_CUT + timedelta(minutes=3), user="alice", session="s-x", page="p/b"),
                    ev("page_view", SHOP_CUT + timedelta(minutes=4), user="alice", session="s-x", page="p/a"),
                    *visit("bob", "dB", "s-new", datetime(2026, 12, 8, 3, tzinfo=UTC)),
                    ev("app_launch", datetime(2026, 12, 2, tzinfo=UTC), device="dC"),  # no session id
                    *visit("bob", "dB", "s-o1", OTHER_CUT - timedelta(hours=1), app=OTHER),
                    *visit("bob", "dB", "s-o2", OTHER_CUT + timedelta(hours=1), app=OTHER),
                ]
            )
        ]
    )
    refresh(store)
    # Not folded in yet: a late event with an old ts, a recent visit; then one zone brought up to date.
    store.append([table([ev("page_view", SHOP_CUT - timedelta(days=2), user="carol", session="s-late")])])
    store.append([table(visit("carol", "dK", "s-9", datetime(2026, 12, 9, tzinfo=UTC)))])
    rollup.refresh_duckdb(store.cursor(), APP, "UTC", owner=store)


def test_old_events_go_recent_stay_and_rollups_equal_a_rebuild(runtime: Runtime, apps: None) -> None:
    store = runtime.store
    assert isinstance(store, DuckDBEventStore)
    seed(store)
    shop_old, other_old = count(runtime, APP, before=SHOP_CUT), count(runtime, OTHER, before=OTHER_CUT)
    shop_all, other_all = count(runtime, APP), count(runtime, OTHER)
    assert shop_old == 4 + 2 + 1 + 1 and other_old == 4

    dry = retention.prune_events(runtime.sessions, store, days=3, now=NOW, dry_run=True)
    assert dry["apps"] == {
        APP: {"before": "2026-12-07T00:00:00+08:00", "events": shop_old},
        OTHER: {"before": "2026-12-07T00:00:00+00:00", "events": other_old},
    }
    assert count(runtime, APP) == shop_all and audit_targets(runtime, APP) == []  # a dry run changes nothing
    before_rollups = snapshot(store.cursor())

    done = retention.prune_events(runtime.sessions, store, days=3, now=NOW)
    assert done["total"] == shop_old + other_old
    assert done["apps"][APP]["events"] == shop_old and done["apps"][APP]["rollups"][rollup.USER_DAYS] > 0
    assert count(runtime, APP, before=SHOP_CUT) == 0 and count(runtime, APP) == shop_all - shop_old
    assert count(runtime, OTHER, before=OTHER_CUT) == 0 and count(runtime, OTHER) == other_all - other_old
    assert snapshot(store.cursor()) != before_rollups
    refresh(store)  # the events not folded in before (one zone behind, late ones) join the pruned rows
    got = snapshot(store.cursor())
    assert got == rebuilt(store)
    sessions = {r[1]: r for r in got[rollup.USER_SESSIONS] if r[-1] == APP}  # (tz, sess, …, app_id)
    assert (
        "s-old" not in sessions
        and "s-x" in sessions
        and "s-o1" not in {r[1] for r in got[rollup.USER_SESSIONS]}
    )
    assert sessions["s-x"][8] == 2  # views left of the session spanning the cutoff: the two after it

    # Idempotent: nothing left to delete, no new audit entry; then new events fold in on top of the rest.
    again = retention.prune_events(runtime.sessions, store, days=3, now=NOW)
    assert again["total"] == 0
    [entry] = audit_targets(runtime, APP)
    assert entry["kind"] == "events" and entry["events"] == shop_old and entry["actor"] == "system:retention"
    assert entry["before"] == "2026-12-07T00:00:00+08:00" and entry["tz"] == "Asia/Shanghai"
    store.append([table(visit("dave", "dD", "s-10", NOW))])
    refresh(store)
    assert snapshot(store.cursor()) == rebuilt(store)


def test_old_events_that_are_the_newest_rows_across_a_checkpoint(tmp_path: Path) -> None:
    """Deleted events at the end of the rowids (a late import): DuckDB may hand those rowids out again, so the
    watermark comes down; a vacuum would renumber others' — both would fold events wrongly without the fixes."""
    path = str(tmp_path / "events.duckdb")
    store = DuckDBEventStore(path)
    store.append([table(visit("bob", "dB", "s-1", SHOP_CUT + timedelta(hours=1)))])
    refresh(store)
    flood(store, 130_000, "alice", SHOP_CUT - timedelta(days=5))  # old events, the newest rows
    refresh(store)
    done = retention.expire_events(store, app_id=APP, cutoff=SHOP_CUT)
    assert done["events"] == 130_000
    store.close()  # a checkpoint: emptied row groups are dropped here
    store = DuckDBEventStore(path)
    store.append([table(visit("bob", "dB", "s-2", SHOP_CUT + timedelta(days=1)))])
    refresh(store)
    got = snapshot(store.cursor())
    assert got == rebuilt(store)
    assert {r[1] for r in got[rollup.USER_SESSIONS]} == {"s-1", "s-2"}
    store.close()


def test_no_rollups_yet(tmp_path: Path) -> None:
    store = DuckDBEventStore(str(tmp_path / "events.duckdb"))
    store.append([table(visit("bob", "dB", "s-1", SHOP_CUT - timedelta(days=1)))])
    assert retention.expire_events(store, app_id=APP, cutoff=SHOP_CUT) == {"events": 4, "rollups": {}}
    store.close()


def test_clickhouse_retention_is_a_lightweight_delete(clickhouse_server: FakeClickHouse) -> None:
    store = ClickHouseEventStore.from_url(clickhouse_server.url())
    try:
        store.append([table(visit("bob", "dB", "s-1", SHOP_CUT - timedelta(minutes=1)))])
        store.append(
            [table(visit("bob", "dB", "s-2", SHOP_CUT) + visit("bob", "dB", "s-3", SHOP_CUT, app=OTHER))]
        )
        assert retention.expire_events(store, app_id=APP, cutoff=SHOP_CUT + timedelta(seconds=10)) == {
            "events": 4 + 3,  # s-1, and s-2's show and two views (before the cutoff's 10 s)
            "rollups": {},
        }
        assert any(
            q.lstrip().upper().startswith("DELETE FROM EVENTS WHERE") for q in clickhouse_server.requests
        )
        assert store.count(app_id=APP) == 1 and store.count(app_id=OTHER) == 4
        assert store.delete_events_before(SHOP_CUT + timedelta(seconds=10), app_id=APP) == 0
    finally:
        store.close()


def keys(rt: Runtime) -> dict[str, datetime]:
    with unit_of_work(rt.sessions) as db:
        return {k.user_id: k.updated_at for k in db.scalars(select(WxSessionKey))}


def test_session_keys_past_their_period_go(runtime: Runtime, apps: None) -> None:
    with unit_of_work(runtime.sessions) as db:
        for user, app, age in (
            ("u_old", APP, timedelta(days=31)),
            ("u_edge", APP, timedelta(days=29, hours=23)),
            ("u_fresh", APP, timedelta(hours=1)),
            ("u_other_old", OTHER, timedelta(days=400)),
        ):
            db.add(WxSessionKey(user_id=user, app_id=app, session_key="k-" + user, updated_at=NOW - age))
    dry = retention.prune_session_keys(runtime.sessions, days=30, now=NOW, dry_run=True)
    assert dry["apps"] == {APP: 1, OTHER: 1} and len(keys(runtime)) == 4
    done = retention.prune_session_keys(runtime.sessions, days=30, now=NOW)
    assert done == {
        "enabled": True,
        "days": 30,
        "before": (NOW - timedelta(days=30)).isoformat(),
        "apps": {APP: 1, OTHER: 1},
        "total": 2,
    }
    assert set(keys(runtime)) == {"u_edge", "u_fresh"}
    [entry] = audit_targets(runtime, OTHER)
    assert entry["kind"] == "wx_session_keys" and entry["deleted"] == 1 and entry["days"] == 30
    assert retention.prune_session_keys(runtime.sessions, days=30, now=NOW)["total"] == 0  # idempotent
    assert len(audit_targets(runtime, APP)) == 1


def test_apply_retention_uses_the_settings_and_zero_disables(runtime: Runtime, apps: None) -> None:
    store = runtime.store
    assert isinstance(store, DuckDBEventStore)
    store.append([table(visit("bob", "dB", "s-1", SHOP_CUT - timedelta(days=1)))])
    with unit_of_work(runtime.sessions) as db:
        db.add(WxSessionKey(user_id="u1", app_id=APP, session_key="k", updated_at=NOW - timedelta(days=90)))
    assert runtime.settings.event_retention_days == 0  # the default: events are kept
    kept = retention.apply_retention(runtime, now=NOW)
    assert kept["events"] == {"enabled": False, "days": 0} and count(runtime, APP) == 4
    assert kept["wx_session_keys"]["total"] == 1  # 30 days by default

    runtime.settings = runtime.settings.model_copy(
        update={"event_retention_days": 3, "wx_session_key_retention_days": 0}
    )
    done = retention.apply_retention(runtime, now=NOW)
    assert done["events"]["total"] == 4 and count(runtime, APP) == 0
    assert done["wx_session_keys"] == {"enabled": False, "days": 0}


@pytest.mark.parametrize("days", [-1, 36_501, 1.5, True])
def test_bad_periods_are_clear_errors(runtime: Runtime, days: Any) -> None:
    for fn in (retention.prune_events, retention.prune_session_keys):
        with pytest.raises(ValidationFailed, match="whole number of days from 0"):
            if fn is retention.prune_events:
                retention.prune_events(runtime.sessions, runtime.store, days=days, now=NOW)
            else:
                retention.prune_session_keys(runtime.sessions, days=days, now=NOW)
    if isinstance(days, int) and not isinstance(days, bool):
        with pytest.raises(ValidationError, match="event_retention_days"):
            Settings(event_retention_days=days)
        with pytest.raises(ValidationError, match="wx_session_key_retention_days"):
            Settings(wx_session_key_retention_days=days)


# --- the command line -----------------------------------------------------------------------------------


def huoli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "huoli.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "var"
    env = {**os.environ, "HUOLI_DATA_DIR": str(data), "COLUMNS": "200"}
    assert huoli("apps", "create", "shop", "--name", "Shop", env=env).returncode == 0
    now = datetime.now(UTC)
    con = sqlite3.connect(data / "huoli.db")
    with con:
        con.executemany(
            "INSERT INTO wx_session_keys (app_id, user_id, session_key, updated_at) VALUES ('shop', ?, 'k', ?)",
            [
                (u, (now - age).strftime("%Y-%m-%d %H:%M:%S.%f"))
                for u, age in (("u_old", timedelta(days=40)), ("u_new", timedelta(days=1)))
            ],
        )
    store = DuckDBEventStore(str(data / "events.duckdb"))
    store.append(
        [table(visit("bob", "dB", "s-1", now - timedelta(days=20)) + visit("bob", "dB", "s-2", now))]
    )

    # By default events are kept and the event store is not even opened: it runs beside `huoli serve`.
    r = huoli("privacy", "retention", "--dry-run", env=env)
    assert r.returncode == 0, r.stderr
    assert "events kept forever (0), WeChat session keys 30 days" in r.stdout
    assert "WeChat session keys: would delete 1 not refreshed since" in r.stdout
    assert "events: kept (event_retention_days = 0)" in r.stdout

    # With events in their period, the store is needed: while another process holds it, a clear error, and
    # the session keys were pruned all the same.
    env_events = {**env, "HUOLI_EVENT_RETENTION_DAYS": "7"}
    r = huoli("privacy", "retention", env=env_events)
    assert r.returncode == 1 and "huoli serve" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert "WeChat session keys: deleted 1" in r.stdout
    assert [u for (u,) in con.execute("SELECT user_id FROM wx_session_keys")] == ["u_new"]
    store.close()

    r = huoli("privacy", "retention", "--dry-run", "--json", env=env_events)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (
        doc["dry_run"]
        and doc["events"]["apps"]["shop"]["events"] == 4
        and doc["wx_session_keys"]["total"] == 0
    )
    r = huoli("privacy", "retention", env=env_events)
    assert r.returncode == 0, r.stderr
    assert "events of shop: deleted 4 before" in r.stdout and "+08:00" in r.stdout
    r = huoli("privacy", "retention", env=env_events)
    assert r.returncode == 0 and "events of shop: deleted 0 before" in r.stdout
    store = DuckDBEventStore(str(data / "events.duckdb"))
    assert store.count(app_id="shop") == 4
    store.close()

    bad = huoli("privacy", "retention", env={**env, "HUOLI_EVENT_RETENTION_DAYS": "-1"})
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "event_retention_days" in bad.stderr and "greater than or equal to 0" in bad.stderr
    con.close()
