"""First visits of GET /v1/flags read in batches (flags.loader): right answers per user, fewer reads than
users, and a failed read answers every waiting request instead of hanging them (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from tests.flags.helpers import admin, attach_experiment, user_headers

from huoli.app import create_app
from huoli.db import unit_of_work
from huoli.flags import exposures, loader, service, writer
from huoli.flags.schemas import PreferencesIn
from huoli.runtime import Runtime

USERS = 60


def _theme_experiment(runtime: Runtime, app_id: str) -> None:
    # A new user always gets dark: light can only come from a sticky row.
    attach_experiment(
        runtime,
        app_id,
        flag="theme",
        key="theme-test",
        variations=["light", "dark"],
        meta_keys=["light", "dark"],
        weights=[0.0, 1.0],
    )


def _get_all(runtime: Runtime, app_id: str, users: list[str]) -> list[httpx.Response]:
    """Concurrent GET /v1/flags for `users`, on an event loop of their own thread (a browser test earlier in
    the session may have left one running on the main thread, where asyncio.run refuses to start)."""

    async def run() -> list[httpx.Response]:
        # As a server would: an exception in the app is a 500 answer, not raised into the client.
        transport = httpx.ASGITransport(app=create_app(runtime=runtime), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://huoli") as http:
            return await asyncio.gather(
                *(http.get("/v1/flags", headers=user_headers(runtime, app_id, u)) for u in users)
            )

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


def test_concurrent_first_visits_are_read_in_batches_with_each_users_state(  # type: ignore[no-untyped-def]
    runtime: Runtime, make_app, client
) -> None:
    shop = make_app("shop")
    op = shop.keys["operator"]
    body = {"key": "theme", "type": "string", "default_value": "light"}
    assert client.post("/admin/flags", json=body, headers=admin(op)).status_code == 201
    _theme_experiment(runtime, shop.id)
    users = [f"u{i}" for i in range(USERS)]
    with unit_of_work(runtime.sessions, app_id=shop.id) as db:
        for i, u in enumerate(users):
            if i % 2 == 0:  # half have preferences
                prefs = PreferencesIn(font_size="large" if i % 4 == 0 else "small")
                service.set_preferences(
                    db=db,
                    app_id=shop.id,
                    user_id=u,
                    prefs_in=prefs,
                    now=runtime.clock(),
                    settings=runtime.settings,
                )
            if i % 3 == 0:  # a third were put in "light" before the weights moved
                docs = {
                    f"id||{u}": {
                        "attributeName": "id",
                        "attributeValue": u,
                        "assignments": {"theme-test__0": "light"},
                    }
                }
                exposures.save_sticky(db, shop.id, u, docs, runtime.clock())
    service.cache_for(runtime.sessions).state = service._UserState()  # nothing cached: every visit is a first

    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "user_preferences" in statement:
            reads.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        answers = _get_all(runtime, shop.id, users)
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)

    for i, (u, r) in enumerate(zip(users, answers, strict=True)):
        assert r.status_code == 200, r.text
        got = r.json()
        want_font = None if i % 2 else ("large" if i % 4 == 0 else "small")
        assert (got["preferences"] or {}).get("font_size") == want_font, u
        assert got["flags"]["theme"] == ("light" if i % 3 == 0 else "dark"), u
        assert got["experiments"] == {"theme-test": "light" if i % 3 == 0 else "dark"}, u
    # Sixty users, a handful of reads: without batching this is one read per user.
    assert 1 <= len(reads) <= USERS // 4, len(reads)
    writer.flush_all()


def test_a_failed_batch_read_fails_each_waiting_request(
    runtime: Runtime, make_app, client, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    shop = make_app("shop")
    assert (
        client.post(
            "/admin/flags",
            json={"key": "x", "type": "bool", "default_value": False},
            headers=admin(shop.keys["operator"]),
        ).status_code
        == 201
    )

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("database unavailable")

    monkeypatch.setattr(service, "load_states", broken)
    service.cache_for(runtime.sessions).state = service._UserState()
    answers = _get_all(runtime, shop.id, ["a", "b", "c"])
    assert [r.status_code for r in answers] == [500, 500, 500]
    monkeypatch.undo()
    # The loader recovers: the next visit reads again and succeeds.
    again = _get_all(runtime, shop.id, ["a"])
    assert again[0].status_code == 200 and again[0].json()["flags"] == {"x": False}
    assert loader.loader_for(runtime.sessions) is loader.loader_for(runtime.sessions)


@pytest.fixture(autouse=True)
def _flush_writes() -> Any:
    yield
    writer.flush_all()


def test_batched_reads_stay_inside_their_app(runtime: Runtime, make_app, client) -> None:  # type: ignore[no-untyped-def]
    # The batch reads are Core statements that write the app filter themselves (no tenancy listener).
    shop, other = make_app("shop"), make_app("other")
    with unit_of_work(runtime.sessions, app_id=shop.id) as db:
        service.set_preferences(
            db=db,
            app_id=shop.id,
            user_id="u1",
            prefs_in=PreferencesIn(theme="dark"),
            now=runtime.clock(),
            settings=runtime.settings,
        )
    service.cache_for(runtime.sessions).state = service._UserState()
    mine, theirs = (
        _get_all(runtime, shop.id, ["u1"])[0],
        _get_all(runtime, other.id, ["u1"])[0],
    )
    assert mine.json()["preferences"]["theme"] == "dark"
    assert theirs.status_code == 200 and theirs.json()["preferences"] is None
