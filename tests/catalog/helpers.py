"""Calls the catalog tests share: signed sync calls, operator headers, the events the sync logged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi.testclient import TestClient
from tests.events.helpers import signed_headers
from tests.loyalty.helpers import mp_headers

from huoli.db import insert_or_ignore, unit_of_work
from huoli.runtime import Runtime
from huoli.users.models import User

ITEMS, STOCK, CATEGORIES = (
    "/v1/server/catalog/items/batch",
    "/v1/server/catalog/stock",
    "/v1/server/catalog/categories/batch",
)


def signed(client: TestClient, app: Any, path: str, body: dict[str, Any]) -> Any:
    raw = orjson.dumps(body)
    return client.post(path, content=raw, headers=signed_headers(app.id, app.server_secret, path, raw))


def admin(app: Any, role: str = "operator") -> dict[str, str]:
    return {"Authorization": f"Bearer {app.keys[role]}"}


def member(runtime: Runtime, app_id: str, user_id: str) -> dict[str, str]:
    """A logged-in mini-program user's headers (and the users row promotions' rules read)."""
    now = datetime.now(UTC)
    row = {"id": user_id, "app_id": app_id, "openid": f"o_{user_id}", "created_at": now, "last_login_at": now}
    with unit_of_work(runtime.sessions, app_id=app_id) as db:
        insert_or_ignore(db, User, row, ["id"])
    return mp_headers(runtime, app_id, user_id)
