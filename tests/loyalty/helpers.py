"""Shared by the loyalty tests: a unit of work with its call context, races, tokens, signed calls."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.orm import Session
from tests.events.helpers import signed_headers

from huoli.auth.service import issue_session_token
from huoli.db import unit_of_work
from huoli.loyalty.context import Ctx, make_ctx, save_rules
from huoli.loyalty.schemas import LoyaltyRules
from huoli.runtime import Runtime


@contextmanager
def uow(runtime: Runtime, app_id: str, now: datetime | None = None) -> Iterator[tuple[Session, Ctx]]:
    with unit_of_work(runtime.sessions, app_id=app_id) as db:
        yield db, make_ctx(db, app_id=app_id, now=now or runtime.clock(), settings=runtime.settings)


def set_rules(runtime: Runtime, app_id: str, change: Callable[[LoyaltyRules], None]) -> LoyaltyRules:
    with uow(runtime, app_id) as (db, ctx):
        rules = ctx.rules.model_copy(deep=True)
        change(rules)
        save_rules(db, app_id, LoyaltyRules.model_validate(rules.model_dump()), ctx.now)
    return rules


def race(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """Run fn(i) on n threads released together; each result or the exception it raised."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def mp_headers(runtime: Runtime, app_id: str, user_id: str) -> dict[str, str]:
    token, _ = issue_session_token(
        secret=runtime.secret_key, app_id=app_id, user_id=user_id, now=runtime.clock(), ttl=timedelta(days=1)
    )
    return {"X-Huoli-App-Id": app_id, "Authorization": f"Bearer {token}"}


def signed_post(
    client: Any, app: Any, path: str, body: dict[str, Any], *, now: datetime | None = None
) -> Any:
    raw = orjson.dumps(body)
    ts = int((now or datetime.now(UTC)).timestamp())
    return client.post(path, content=raw, headers=signed_headers(app.id, app.server_secret, path, raw, ts=ts))


def admin(app: Any, role: str = "owner") -> dict[str, str]:
    return {"Authorization": f"Bearer {app.keys[role]}"}


def outbox(runtime: Runtime, app_id: str, name: str) -> list[dict[str, Any]]:
    """Properties of every `name` event the domain wrote to the outbox (not relayed yet in these tests)."""
    from sqlalchemy import select

    from huoli.events.models import OutboxEvent

    with unit_of_work(runtime.sessions, app_id=app_id) as db:
        rows = [orjson.loads(o.payload) for o in db.scalars(select(OutboxEvent).order_by(OutboxEvent.id))]
    out = []
    for row in rows:
        if row["name"] == name:
            props = orjson.loads(row["properties"]) if row["properties"] else {}
            for col in ("item_id", "order_id", "amount_fen", "coupon_id"):
                if row.get(col) is not None:
                    props[col] = row[col]
            out.append(props | {"user_id": row["user_id"]})
    return out


def stored(runtime: Runtime, app_id: str, name: str, expect: int, timeout: float = 5.0) -> int:
    """Wait until the outbox relay (running under the TestClient) delivered `expect` `name` events."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        n = runtime.store.count(app_id=app_id, name=name)
        if n >= expect or time.monotonic() > deadline:
            time.sleep(0.1)  # a little longer: a duplicate would show up now
            return runtime.store.count(app_id=app_id, name=name)
        time.sleep(0.02)
