"""deps.run_hot: where a hot route's unit of work runs (the event loop or a request thread)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from tests.conftest import Clock
from tests.loyalty.helpers import mp_headers

from huoli.app import create_app
from huoli.apps import service as apps
from huoli.apps.schemas import AppCreate
from huoli.db import unit_of_work
from huoli.runtime import Runtime, build_runtime
from huoli.settings import Settings


@pytest.fixture(params=[None, True, False], ids=["default", "on-loop", "on-threads"])
def hot_runtime(request: pytest.FixtureRequest, settings: Settings, clock: Clock) -> Iterator[Runtime]:
    rt = build_runtime(settings.model_copy(update={"hot_routes_on_loop": request.param}), clock=clock)
    yield rt
    rt.close()


def where_statements_run(rt: Runtime, table: str, call: Callable[[], object]) -> set[str]:
    """'loop' or 'thread' for each statement on `table` that `call` runs (the relay's own are left out)."""
    seen: set[str] = set()

    def note(conn, cursor, statement, *_):  # type: ignore[no-untyped-def]
        if table in statement:
            try:
                asyncio.get_running_loop()
                seen.add("loop")
            except RuntimeError:  # no event loop in this thread: a request thread
                seen.add("thread")

    event.listen(rt.engine, "before_cursor_execute", note)
    try:
        call()
    finally:
        event.remove(rt.engine, "before_cursor_execute", note)
    return seen


def test_hot_routes_run_on_the_loop_with_postgresql_and_on_threads_with_sqlite(hot_runtime: Runtime) -> None:
    choice = hot_runtime.settings.hot_routes_on_loop
    on_loop = choice if choice is not None else hot_runtime.engine.dialect.name == "postgresql"
    with unit_of_work(hot_runtime.sessions) as db:
        apps.create(db=db, app_in=AppCreate(id="shop", name="shop"))
    with TestClient(create_app(runtime=hot_runtime)) as client:
        answers = []
        seen = where_statements_run(
            hot_runtime,
            "loyalty_checkins",
            lambda: answers.append(
                client.post("/v1/loyalty/checkin", headers=mp_headers(hot_runtime, "shop", "u1"))
            ),
        )
        # The answer is the same either way, errors included.
        assert answers[0].status_code == 200 and answers[0].json()["checked_in"] is True
        assert client.post("/v1/loyalty/checkin", headers={"X-Huoli-App-Id": "shop"}).status_code == 401
        again = client.post("/v1/loyalty/checkin", headers=mp_headers(hot_runtime, "shop", "u1")).json()
        assert again["checked_in"] is False and again["points"] == 0
        # An error raised inside the unit of work reaches the caller as the same 4xx.
        lock = {
            "order_id": "o1",
            "coupon_ids": ["nope"],
            "cart": [{"item_id": "s", "price_fen": 100, "quantity": 1}],
        }
        bad = client.post(
            "/v1/promotions/coupons/lock", headers=mp_headers(hot_runtime, "shop", "u1"), json=lock
        )
        assert bad.status_code == 404 and bad.json()["code"] == "coupon_not_found", bad.text
    assert seen == ({"loop"} if on_loop else {"thread"})
