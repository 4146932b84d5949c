"""The flash-sale route through the Redis gate when HUOLI_REDIS_URL is set (Redis on 127.0.0.1:6379)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from huoli.auth.service import issue_session_token
from huoli.db import unit_of_work
from huoli.promotions.common import get_named
from huoli.promotions.models import FlashItem, FlashReservation
from huoli.runtime import Runtime


def test_attempts_go_through_the_gate_and_settle_in_the_database(
    client: TestClient, runtime: Runtime, make_app
) -> None:  # type: ignore[no-untyped-def]
    r = redis.Redis(host="127.0.0.1", port=6379)
    try:
        r.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis not reachable on 127.0.0.1:6379: {exc}")
    app = make_app(f"gate{secrets.token_hex(3)}")  # unique keys: other suites may share this Redis
    runtime.settings.redis_url = "redis://127.0.0.1:6379/0"
    admin = {"Authorization": f"Bearer {app.keys['operator']}"}
    now = datetime.now(UTC)
    client.post(
        "/admin/promotions/flash/sessions",
        headers=admin,
        json={
            "id": "s",
            "name": "s",
            "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(),
        },
    )
    assert (
        client.post(
            "/admin/promotions/flash/items",
            headers=admin,
            json={
                "id": "f",
                "session_id": "s",
                "item_id": "sku",
                "price_fen": 1,
                "original_price_fen": 2,
                "stock": 3,
            },
        ).status_code
        == 201
    )
    stock_key = f"huoli:flash:{app.id}:f:stock"
    assert int(r.get(stock_key)) == 3  # type: ignore[arg-type]
    codes = []
    # u0 tries twice while stock is left (refused by the gate's user set); once sold out, every attempt —
    # repeat or not — answers sold_out from the process's cache, as on the database path.
    for user in ["u0", "u1", "u0", "u2", "u3", "u1"]:
        token, _ = issue_session_token(
            secret=runtime.secret_key, app_id=app.id, user_id=user, now=now, ttl=timedelta(hours=1)
        )
        resp = client.post(
            "/v1/promotions/flash/items/f/attempt",
            json={},
            headers={"X-Huoli-App-Id": app.id, "Authorization": f"Bearer {token}"},
        )
        codes.append(resp.status_code if resp.status_code == 200 else resp.json()["code"])
    assert codes == [200, 200, "already_attempted", 200, "sold_out", "sold_out"]
    assert int(r.get(stock_key)) == 0  # type: ignore[arg-type]
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        assert get_named(db, FlashItem, "f").stock == 0  # type: ignore[union-attr]
        assert db.scalar(select(func.count()).select_from(FlashReservation)) == 3
    r.delete(stock_key, f"huoli:flash:{app.id}:f:users")
    r.close()
