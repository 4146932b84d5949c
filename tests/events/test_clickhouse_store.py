"""The ClickHouse event store through our real client code against the fake server (chdb executes the SQL):
URLs and connection errors, literal binding, lost answers, journal replay, imports and the HTTP ingestion path."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.events.helpers import dumps, event
from tests.events.test_store import batch, ids
from tests.fakes.clickhouse_server import FakeClickHouse

from huoli.app import create_app
from huoli.apps import service as apps
from huoli.apps.schemas import ApiKeyCreate, AppCreate, Role
from huoli.db import unit_of_work
from huoli.events.importer import import_file, load_mapping
from huoli.events.journal import Journal
from huoli.events.stores import ClickHouseEventStore, ClickHouseURLError, open_store
from huoli.events.stores.clickhouse import bind
from huoli.events.writer import GroupCommitWriter
from huoli.runtime import Runtime, build_runtime
from huoli.settings import Settings


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("clickhouse://u:p@:8123/db", "has no host"),
        ("clickhouse://u:p@h:port/db", "bad port"),
        ("clickhouse://u:p@h:8123/my-db", "bad ClickHouse database name"),
        ("clickhouse://u:p@h:8123/db?compress=1", "unknown ClickHouse URL parameter"),
        ("clickhouse://u:p@h:8123/db?secure=maybe", "secure must be 0 or 1"),
    ],
)
def test_bad_urls_are_refused_before_connecting(url: str, message: str) -> None:
    with pytest.raises(ClickHouseURLError, match=message):
        open_store(url)


def test_unknown_scheme_names_both_backends() -> None:
    with pytest.raises(ValueError, match=r"duckdb:///.*clickhouse://"):
        open_store("mysql://u:p@h/db")


def test_wrong_password_and_no_server_are_clear(clickhouse_server: FakeClickHouse) -> None:
    bad = clickhouse_server.url("db1").replace(":s3cret@", ":wrong@")
    with pytest.raises(ConnectionError, match=r"127\.0\.0\.1:\d+/db1.*AUTHENTICATION_FAILED") as err:
        open_store(bad)
    assert "wrong" not in str(err.value).split("server response")[0]  # the password is not echoed by us
    with pytest.raises(ConnectionError, match="cannot open the ClickHouse event store"):
        open_store("clickhouse://default:x@127.0.0.1:9/db?secure=0")  # discard port: nothing listens


def test_question_marks_bind_as_clickhouse_literals() -> None:
    at = datetime(2026, 3, 1, 8, 0, 0, 5, tzinfo=UTC)
    sql = bind("SELECT '?' AS q, ? AS s, ? AS t, ? AS n, ? AS z", ["it's", at, 3, None])
    assert sql == (
        "SELECT '?' AS q, 'it\\'s' AS s, fromUnixTimestamp64Micro(1772352000000005, 'UTC') AS t, 3 AS n, NULL AS z"
    )
    with pytest.raises(ValueError, match="more parameters"):
        bind("SELECT ?", [1, 2])
    with pytest.raises(ValueError, match="naive"):
        bind("SELECT ?", [datetime(2026, 1, 1)])


def test_a_lost_insert_answer_never_doubles_events(clickhouse_server: FakeClickHouse) -> None:
    store = ClickHouseEventStore.from_url(clickhouse_server.url())
    rows = batch("a", ids(7), datetime.now(UTC))
    clickhouse_server.lose_next_answer()  # the INSERT runs, its answer is lost
    with pytest.raises(Exception, match="SOCKET_TIMEOUT"):
        store.insert(rows)
    store.insert(rows, journal_position=(1, 10))  # the retry first drops what the log holds
    assert store.count(app_id="a") == 7 and store.journal_position() == (1, 10)
    clickhouse_server.fail_next()  # refused before running: nothing stored, the retry stores all
    more = batch("a", ids(3), datetime.now(UTC))
    with pytest.raises(Exception, match="TABLE_IS_READ_ONLY"):
        store.insert(more)
    store.insert(more)
    assert store.count(app_id="a") == 10
    store.close()


def test_journal_replay_loads_acknowledged_events_once(
    clickhouse_server: FakeClickHouse, tmp_path: Path
) -> None:
    url, journal_dir = clickhouse_server.url(), tmp_path / "journal"
    now = datetime.now(UTC)
    # Acknowledged (fsync'd) but never loaded: the process died before its load thread ran.
    journal = Journal(journal_dir)
    journal.start_appending()
    first, second = batch("a", ids(20), now), batch("a", ids(5), now - timedelta(days=1))
    journal.append(first)
    journal.append(second)
    journal.close()
    # The dead process had loaded the first record's rows but not written the journal position.
    dead = ClickHouseEventStore.from_url(url)
    dead.insert(first)
    dead.close()
    store = ClickHouseEventStore.from_url(url)
    writer = GroupCommitWriter(store, journal_dir=journal_dir)
    assert store.count(app_id="a") == 25  # replayed, and the rows already in were not added twice
    assert store.journal_position() > (0, 0)
    (r,) = [writer.append(batch("a", ids(2), now))]
    assert r.accepted == 2
    writer.close()
    store.close()
    # A clean restart replays nothing more.
    store = ClickHouseEventStore.from_url(url)
    writer = GroupCommitWriter(store, journal_dir=journal_dir)
    assert store.count(app_id="a") == 27
    assert writer.append(first).duplicates == 20
    writer.close()
    store.close()


def test_import_fast_path_then_idempotent_reimport(
    clickhouse_server: FakeClickHouse, shared_data: Path
) -> None:
    store = ClickHouseEventStore.from_url(clickhouse_server.url())
    now = datetime(2026, 11, 22, tzinfo=UTC)
    path, mapping = shared_data / "taobao_userbehavior_usersample.csv", load_mapping("taobao_userbehavior")
    first = import_file(store=store, path=path, mapping=mapping, app_id="tb", now=now)
    assert (first.rows, first.accepted, first.rejected) == (
        4321,
        4321,
        0,
    )  # bulk_insert: DuckDB reads, CH stores
    again = import_file(store=store, path=path, mapping=mapping, app_id="tb", now=now)
    assert (again.accepted, again.duplicates) == (0, 4321)  # the exact check, in chunks, against ClickHouse
    rows = store.query("SELECT name, count() AS n FROM events WHERE app_id = ? GROUP BY name", ["tb"])
    assert {r["name"]: r["n"] for r in rows.to_pylist()} == {
        "view_item": 3926,
        "add_to_cart": 190,
        "favorite": 128,
        "order_paid": 77,
    }
    assert store.query("SELECT uniqExact(user_id) AS n FROM events").to_pylist() == [{"n": 43}]
    store.close()


@pytest.fixture
def ch_runtime(clickhouse_server: FakeClickHouse, tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(
        data_dir=tmp_path / "var",
        database_url=f"sqlite:///{tmp_path / 'huoli.db'}",
        event_store_url=clickhouse_server.url(),
        secret_key="test-secret-key-ch",
        outbox_relay_interval_s=0.05,
    )
    rt = build_runtime(settings)
    yield rt
    rt.close()


def test_ingestion_over_http_into_clickhouse(ch_runtime: Runtime) -> None:
    with unit_of_work(ch_runtime.sessions) as db:
        apps.create(db=db, app_in=AppCreate(id="shop", name="shop"))
    with unit_of_work(ch_runtime.sessions, app_id="shop") as db:
        _, key = apps.issue_key(db=db, app_id="shop", key_in=ApiKeyCreate(name="a", role=Role.analyst))
    assert isinstance(ch_runtime.store, ClickHouseEventStore)
    assert ch_runtime.writer is not None and (ch_runtime.settings.data_dir).exists()
    events = [
        event("app_launch", scene=1007),
        event("search", properties={"keyword": "茶"}),
        event("page_view"),
    ]
    with TestClient(create_app(runtime=ch_runtime)) as client:
        first = client.post(
            "/v1/events", content=dumps({"events": events}), headers={"X-Huoli-App-Id": "shop"}
        )
        assert first.json() == {"accepted": 3, "duplicates": 0, "rejected": []}, first.text
        again = client.post(
            "/v1/events", content=dumps({"events": events}), headers={"X-Huoli-App-Id": "shop"}
        )
        assert again.json() == {"accepted": 0, "duplicates": 3, "rejected": []}
        auth = {"Authorization": f"Bearer {key}"}
        summary = client.get("/admin/events/summary", headers=auth).json()
        assert sorted((r["name"], r["events"]) for r in summary) == [
            ("app_launch", 1),
            ("page_view", 1),
            ("search", 1),
        ]
        recent = client.get("/admin/events/recent?limit=5", headers=auth).json()
        assert {r["event_id"] for r in recent} == {e["event_id"] for e in events}
    assert ch_runtime.store.has_property(app_id="shop", key="keyword")
    assert not ch_runtime.store.has_property(app_id="shop", key="colour")
    stored = ch_runtime.store.query("SELECT scene FROM events WHERE name = ?", ["app_launch"]).to_pylist()
    assert stored == [{"scene": 1007}]
    assert str(uuid.UUID(recent[0]["event_id"])) == recent[0]["event_id"]


def test_portable_callers_work(clickhouse_server: FakeClickHouse) -> None:
    from huoli.experiments.service import _event_known, _traffic

    store = ClickHouseEventStore.from_url(clickhouse_server.url())
    now = datetime.now(UTC)
    store.append([batch("a", ids(3), now - timedelta(hours=1))])
    assert _event_known(store, "a", "favorite") and not _event_known(store, "a", "never_sent")
    assert _traffic(store, "a", 7, now) == 0  # anonymous events only: no user counts as traffic
    store.close()  # experiment results on ClickHouse: tests/experiments/test_results_engines.py
