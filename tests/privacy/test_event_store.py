"""Erasure in the event stores: after a person's events are deleted from DuckDB, the analytics rollups equal a
rebuild from the remaining events — when the deleted events were the newest (DuckDB may hand their rowids out
again) and when others' events follow them (a vacuum would renumber those), across a checkpoint and a restart,
with events a refresh had not folded in yet, sessions shared with another person, two timezones and another
app. On ClickHouse (the fake server, chdb) the lightweight DELETE."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from tests.fakes.clickhouse_server import FakeClickHouse

from huoli.analytics import privacy as rollups
from huoli.analytics import rollup
from huoli.events import privacy as events
from huoli.events.schema import EVENT_SCHEMA
from huoli.events.stores import ClickHouseEventStore, DuckDBEventStore, EventStore

APP, OTHER = "shop", "elsewhere"
ZONES = ("Asia/Shanghai", "UTC")
T0 = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


def ev(
    name: str,
    at: datetime,
    *,
    app: str = APP,
    user: str | None = None,
    device: str | None = None,
    session: str | None = None,
    page: str | None = None,
) -> dict[str, Any]:
    return {
        "app_id": app,
        "event_id": str(uuid.uuid4()),
        "name": name,
        "ts": at,
        "user_id": user,
        "anonymous_id": device,
        "session_id": session,
        "page": page,
        "source": "client",
        "received_at": at,
    }


def table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=EVENT_SCHEMA)


def visit(user: str | None, device: str, session: str, at: datetime, app: str = APP) -> list[dict[str, Any]]:
    return [
        ev("app_show", at, app=app, user=user, device=device, session=session),
        ev(
            "page_view",
            at + timedelta(seconds=5),
            app=app,
            user=user,
            device=device,
            session=session,
            page="p/a",
        ),
        ev(
            "page_view",
            at + timedelta(seconds=9),
            app=app,
            user=user,
            device=device,
            session=session,
            page="p/b",
        ),
        ev("app_hide", at + timedelta(seconds=30), app=app, user=user, device=device, session=session),
    ]


def flood(store: DuckDBEventStore, n: int, user: str, at: datetime) -> None:
    """n page views of `user` in one go: enough rows to fill DuckDB row groups (122,880 rows each)."""
    cols = {
        "app_id": f"'{APP}'", "event_id": "uuid()::VARCHAR", "name": "'page_view'",
        "ts": f"TIMESTAMPTZ '{at.isoformat()}' + to_seconds(i)", "user_id": f"'{user}'", "anonymous_id": "NULL",
        "session_id": "'s-flood'", "page": "'p/f'", "source": "'import'",
        "received_at": f"TIMESTAMPTZ '{at.isoformat()}'",
    }  # fmt: skip
    select = ", ".join(f"{cols.get(c, 'NULL')} AS {c}" for c in EVENT_SCHEMA.names)
    assert store.bulk_insert(f"SELECT {select} FROM range({n}) t(i)") == n


def refresh(store: DuckDBEventStore) -> None:
    for app in (APP, OTHER):
        for tz in ZONES:
            rollup.refresh_duckdb(store.cursor(), app, tz, owner=store)


def snapshot(con: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {
        t: sorted(con.execute(f"SELECT * EXCLUDE (app_id), app_id FROM {t}").fetchall(), key=repr)
        for t in (rollup.USER_DAYS, rollup.USER_SESSIONS)
    }


def rebuilt(store: DuckDBEventStore) -> dict[str, list[tuple[Any, ...]]]:
    """The rollups built from scratch in a fresh database from the events the store holds now."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("_now", store.query("SELECT * FROM events"))
    con.execute("CREATE TABLE events AS SELECT * FROM _now")
    for app in (APP, OTHER):
        for tz in ZONES:
            rollup.refresh_duckdb(con.cursor(), app, tz, owner=con)
    return snapshot(con)


def erase(store: EventStore, user: str, known: list[str]) -> tuple[int, dict[str, int]]:
    person = events.identify(store, app_id=APP, user_id=user, known=known)
    with rollups.held(store):
        found = rollups.footprint(store, person)
        n = events.erase_events(store, person)
        return n, rollups.erase_rollups(store, person, found)


@pytest.mark.parametrize("newest", [True, False], ids=["her-events-newest", "others-after-hers"])
def test_rollups_equal_a_rebuild_after_an_erasure(tmp_path: Path, newest: bool) -> None:
    path = str(tmp_path / "events.duckdb")
    store = DuckDBEventStore(path)
    day = timedelta(days=1)
    first = [
        ev("app_launch", T0, device="dA", session="s-pre"),  # alice before logging in
        *visit("alice", "dA", "s-1", T0 + timedelta(hours=1)),
        *visit("bob", "dB", "s-2", T0 + timedelta(hours=2)),
        *visit(None, "dC", "s-3", T0 + timedelta(hours=3)),  # carol never logs in
        *visit("bob", "dB", "s-9", T0, app=OTHER),
    ]
    store.append([table(first)])
    # A session both alice and bob have events in (a shared device): bob's part must stay in the rollup.
    store.append(
        [table(visit("alice", "dA", "s-shared", T0 + day) + visit("bob", "dB", "s-shared", T0 + day))]
    )
    refresh(store)
    store.append(
        [table([*visit("bob", "dB", "s-4", T0 + 2 * day), ev("app_show", T0 + 2 * day, user="alice")])]
    )
    refresh(store)  # Asia/Shanghai and UTC both folded in up to here
    store.append([table(visit("alice", "dA", "s-5", T0 + 2 * day))])  # not folded in yet
    late = table(visit("bob", "dB", "s-10", T0 + 3 * day, app=OTHER))  # another app's, not folded in yet
    if newest:
        store.append([late])
    # Whole row groups of hers: the newest rows (their rowids may be handed out again), or followed by others'
    # (a vacuum would renumber those).
    flood(store, 130_000, "alice", T0 + 3 * day)
    if not newest:
        store.append([late])
    rollup.refresh_duckdb(store.cursor(), APP, "UTC", owner=store)  # one timezone current, one behind

    n, removed = erase(store, "alice", known=["dA"])
    assert n == 1 + 4 + 4 + 1 + 4 + 130_000
    assert removed[rollup.USER_DAYS] > 0 and removed[rollup.USER_SESSIONS] > 0
    assert events.count_events(store, events.Person(APP, "alice", ("dA",))) == 0
    store.close()  # a checkpoint: DuckDB drops the emptied row groups here

    store = DuckDBEventStore(path)
    store.append([table(visit("bob", "dB", "s-6", T0 + 4 * day) + visit(None, "dC", "s-7", T0 + 4 * day))])
    refresh(store)
    got = snapshot(store.cursor())
    assert got == rebuilt(store)
    actors = {r[1] for r in got[rollup.USER_DAYS]}  # (tz, actor, …)
    assert "alice" not in actors and "dA" not in actors and {"bob", "dC"} <= actors
    sessions = {r[1] for r in got[rollup.USER_SESSIONS]}
    assert "s-shared" in sessions and not {"s-1", "s-5", "s-flood"} & sessions
    store.close()


def test_no_rollup_yet_and_nothing_to_erase(tmp_path: Path) -> None:
    store = DuckDBEventStore(str(tmp_path / "events.duckdb"))
    store.append([table(visit("bob", "dB", "s-2", T0))])
    assert erase(store, "alice", known=[]) == (0, {})  # no analytics request built a rollup: nothing to do
    refresh(store)
    assert erase(store, "nobody", known=[]) == (0, {rollup.USER_DAYS: 0, rollup.USER_SESSIONS: 0})
    assert snapshot(store.cursor()) == rebuilt(store)
    store.close()


def test_clickhouse_erasure_is_a_lightweight_delete(clickhouse_server: FakeClickHouse) -> None:
    store = ClickHouseEventStore.from_url(clickhouse_server.url())
    try:
        store.append([table([*visit("alice", "dA", "s-1", T0), ev("app_launch", T0, device="dA")])])
        store.append([table(visit("bob", "dA", "s-2", T0) + visit("bob", "dB", "s-3", T0))])
        person = events.identify(store, app_id=APP, user_id="alice", known=[])
        assert person.anonymous_ids == ("dA",)
        exported = events.export_events(store, person)
        assert len(exported) == 5 and {e["user_id"] for e in exported} == {"alice", None}
        assert all(isinstance(e["event_id"], str) and isinstance(e["ts"], str) for e in exported)
        assert erase(store, "alice", known=[]) == (5, {})  # no rollups kept in ClickHouse
        assert any(
            q.lstrip().upper().startswith("DELETE FROM EVENTS WHERE") for q in clickhouse_server.requests
        )
        assert events.count_events(store, person) == 0
        # Bob's events stay, his events on the shared device dA included (they carry his user id).
        assert store.count(app_id=APP) == 8
        assert erase(store, "alice", known=["dA"]) == (0, {})
    finally:
        store.close()
