"""Alembic migrations apply and roll back on both databases, and match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from huoli import migrate
from huoli.db import make_engine
from huoli.models import Base


def test_upgrade_matches_models_and_downgrades(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    assert migrate.current(engine), "no revision applied"
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
    assert {"apps", "api_keys", "users", "event_outbox", "server_nonces"} <= set(
        inspect(engine).get_table_names()
    )
    migrate.downgrade(engine, "base")
    assert "apps" not in inspect(engine).get_table_names()
    migrate.upgrade(engine)
    engine.dispose()
