"""App scoping is enforced by the session, on both databases: no query of a scoped session crosses apps."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from huoli.apps.models import ApiKey
from huoli.db import unit_of_work
from huoli.runtime import Runtime
from huoli.tenancy import CrossAppWrite
from huoli.users.models import User


def test_scoped_session_sees_only_its_app(runtime: Runtime, make_app) -> None:  # type: ignore[no-untyped-def]
    a, b = make_app("alpha"), make_app("beta")
    with unit_of_work(runtime.sessions, app_id=a.id) as db:
        keys = db.scalars(select(ApiKey)).all()
        assert {k.app_id for k in keys} == {"alpha"} and len(keys) == 3
        # Even an explicit filter for the other app finds nothing.
        assert db.scalars(select(ApiKey).where(ApiKey.app_id == b.id)).all() == []
        # Primary-key lookups of another app's rows come back empty too.
        other_key_id = b.keys["owner"].split("_", 1)[1].split(".")[0]
        assert db.scalar(select(ApiKey).where(ApiKey.id == other_key_id)) is None
        # Bulk updates are scoped: renaming "all" keys touches only this app's.
        db.execute(update(ApiKey).values(name="renamed"))
    with unit_of_work(runtime.sessions, app_id=b.id) as db:
        assert {k.name for k in db.scalars(select(ApiKey))} == {"owner", "operator", "analyst"}


def test_scoped_session_refuses_writes_for_another_app(runtime: Runtime, make_app) -> None:  # type: ignore[no-untyped-def]
    make_app("alpha")
    make_app("beta")
    with pytest.raises(CrossAppWrite), unit_of_work(runtime.sessions, app_id="alpha") as db:
        db.add(User(id="u1", app_id="beta", openid="o1"))
    with unit_of_work(runtime.sessions) as db:
        assert db.scalars(select(User)).all() == []
    # A row without app_id gets the session's app.
    with unit_of_work(runtime.sessions, app_id="alpha") as db:
        db.add(User(id="u2", openid="o2"))
    with unit_of_work(runtime.sessions) as db:
        assert [(u.id, u.app_id) for u in db.scalars(select(User))] == [("u2", "alpha")]


def test_unit_of_work_rolls_back_everything(runtime: Runtime, make_app) -> None:  # type: ignore[no-untyped-def]
    make_app("alpha")
    with pytest.raises(RuntimeError), unit_of_work(runtime.sessions, app_id="alpha") as db:
        db.add(User(id="u1", openid="o1"))
        db.flush()
        raise RuntimeError("boom after the write")
    with unit_of_work(runtime.sessions) as db:
        assert db.scalars(select(User)).all() == []
