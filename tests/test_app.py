"""The app's error handlers: database refusals answer the caller's 4xx or a 503, never a 500."""

from __future__ import annotations

from fastapi.testclient import TestClient

from huoli.app import create_app
from huoli.runtime import Runtime


def test_a_number_sqlite_cannot_bind_answers_422(runtime: Runtime) -> None:
    api = create_app(runtime=runtime)

    @api.get("/test-overflow")
    def overflow() -> None:
        raise OverflowError("Python int too large to convert to SQLite INTEGER")  # what sqlite3 raises

    with TestClient(api) as client:
        r = client.get("/test-overflow")
    assert r.status_code == 422 and r.json()["code"] == "invalid_value", r.text
