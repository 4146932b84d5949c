"""Shared fixtures: every storage-touching test runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from tests.fakes.wechat_server import fake_wechat, fake_wechat_server

from huoli.app import create_app
from huoli.apps import service as apps
from huoli.apps.schemas import ApiKeyCreate, AppCreate, Role
from huoli.db import normalise_url, unit_of_work
from huoli.runtime import Runtime, build_runtime
from huoli.settings import Settings

__all__ = ["fake_wechat", "fake_wechat_server"]
# Browser fixtures (Chromium, live server, signed-in console) for any domain's tests.
pytest_plugins = ["tests.browser.fixtures", "tests.fakes.clickhouse_server"]

PG_URL = os.environ.get("HUOLI_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data not found at {SHARED_DATA} (expected beside the project root)")
    return SHARED_DATA


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty operational database: a SQLite file, or a private schema on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'huoli.db'}"
        return
    schema = f"t_{secrets.token_hex(6)}"
    admin = sa.create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL not reachable at {PG_URL}: {exc}")
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


class Clock:
    """A settable clock for tests that need control over 'now' (token expiry, skew windows)."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(UTC)
        self.frozen = now is not None

    def __call__(self) -> datetime:
        return self.now if self.frozen else datetime.now(UTC)

    def set(self, now: datetime) -> None:
        self.now, self.frozen = now, True

    def advance(self, delta: timedelta) -> None:
        self.set(self() + delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(tmp_path: Path, database_url: str, fake_wechat_server: object) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        database_url=database_url,
        event_store_url=f"duckdb:///{tmp_path / 'events.duckdb'}",
        secret_key="test-secret-key-" + secrets.token_hex(8),
        wechat_api_base=fake_wechat_server.url,  # type: ignore[attr-defined]
        outbox_relay_interval_s=0.05,
    )


@pytest.fixture
def runtime(settings: Settings, clock: Clock) -> Iterator[Runtime]:
    rt = build_runtime(settings, clock=clock)
    yield rt
    rt.close()


@dataclass
class TestApp:
    id: str
    server_secret: str
    keys: dict[str, str]
    wx_appid: str | None


@pytest.fixture
def make_app(runtime: Runtime) -> Callable[..., TestApp]:
    counter = iter(range(1000))

    def make(
        app_id: str | None = None, *, wx_appid: str | None = None, wx_secret: str | None = None
    ) -> TestApp:
        app_id = app_id or f"app{next(counter)}"
        with unit_of_work(runtime.sessions) as db:
            created = apps.create(
                db=db, app_in=AppCreate(id=app_id, name=app_id, wx_appid=wx_appid, wx_secret=wx_secret)
            )
            secret = created.server_secret
        keys = {}
        with unit_of_work(runtime.sessions, app_id=app_id) as db:
            for role in Role:
                _, key = apps.issue_key(db=db, app_id=app_id, key_in=ApiKeyCreate(name=role.value, role=role))
                keys[role.value] = key
        return TestApp(id=app_id, server_secret=secret, keys=keys, wx_appid=wx_appid)

    return make


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=runtime)) as c:
        yield c
