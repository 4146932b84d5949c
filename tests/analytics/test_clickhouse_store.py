"""Metrics on a ClickHouse event store: `engine_for` runs the Ibis-compiled ClickHouse SQL on the store's
server (the fake, chdb executing it) and gives the same numbers as DuckDB over the same events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from tests.analytics.test_engines_golden import CASES, RANGE, _same
from tests.fakes.clickhouse_server import FakeClickHouse

from huoli.analytics.engines import ClickHouseEngine, DuckDBEngine
from huoli.analytics.frame import Frame
from huoli.analytics.registry import METRICS
from huoli.analytics.service import engine_for, parse
from huoli.app import create_app
from huoli.apps import service as apps
from huoli.apps.schemas import ApiKeyCreate, AppCreate, Role
from huoli.db import unit_of_work
from huoli.demo.generator import DemoSpec, generate
from huoli.events.catalog import CATALOG
from huoli.events.schema import EVENT_SCHEMA
from huoli.runtime import Runtime, build_runtime
from huoli.settings import Settings

END = dt.date(2026, 3, 21)
# activity, activity by channel, retention, funnel by channel, strict funnel, lifecycle
PICKED = [0, 1, 4, 11, 12, 17]


def _runtime(tmp: Path, name: str, store_url: str) -> Runtime:
    rt = build_runtime(
        Settings(
            data_dir=tmp / name,
            database_url=f"sqlite:///{tmp / (name + '.db')}",
            event_store_url=store_url,
            secret_key="test-secret-key-analytics",
        )
    )
    with unit_of_work(rt.sessions) as db:
        apps.create(db=db, app_in=AppCreate(id="app1", name="app1"))
    return rt


@pytest.fixture(scope="module")
def runtimes(
    clickhouse_server: FakeClickHouse, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Runtime]]:
    spec = DemoSpec(users=150, days=40, end_date=END, app_id="app1", seed=11)
    log = pa.Table.from_batches(list(generate(spec, batch_users=150)), schema=EVENT_SCHEMA)
    tmp = tmp_path_factory.mktemp("ch-analytics")
    rts = {
        "duckdb": _runtime(tmp, "duck", f"duckdb:///{tmp / 'events.duckdb'}"),
        "clickhouse": _runtime(tmp, "ch", clickhouse_server.url()),
    }
    for rt in rts.values():
        (r,) = rt.store.append([log])
        assert r.accepted == log.num_rows > 1000
    yield rts
    for rt in rts.values():
        rt.close()


def _run(rt: Runtime, case: int) -> Any:
    metric, extra = CASES[case]
    req = parse(metric, {**RANGE, **extra})
    frame = Frame(
        engine=engine_for(rt),
        app_id="app1",
        query=req,
        tz="Asia/Shanghai",
        now=dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
        known_events=frozenset(CATALOG),
    )
    return METRICS[metric].run(frame, req, rt)


def test_engine_follows_the_store(runtimes: dict[str, Runtime]) -> None:
    assert isinstance(engine_for(runtimes["clickhouse"]), ClickHouseEngine)
    assert isinstance(engine_for(runtimes["duckdb"]), DuckDBEngine)


@pytest.mark.parametrize("case", PICKED, ids=[f"{CASES[i][0]}-{i}" for i in PICKED])
def test_same_numbers_as_duckdb(runtimes: dict[str, Runtime], case: int) -> None:
    duck = _run(runtimes["duckdb"], case)
    assert duck, "the fixture must produce a non-empty result"
    _same(duck, _run(runtimes["clickhouse"], case), "clickhouse")


def test_admin_analytics_route_runs_on_clickhouse(runtimes: dict[str, Runtime]) -> None:
    rt = runtimes["clickhouse"]
    with unit_of_work(rt.sessions, app_id="app1") as db:
        _, key = apps.issue_key(db=db, app_id="app1", key_in=ApiKeyCreate(name="an", role=Role.analyst))
    with TestClient(create_app(runtime=rt)) as client:
        r = client.post(
            "/admin/analytics/activity",
            json={**RANGE, "tz": "Asia/Shanghai"},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["engine"] == "clickhouse"
    assert max(row["dau"] for row in body["result"]["series"]) > 10
