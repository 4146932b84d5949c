"""App scoping is enforced by the session, on both databases: no query of a scoped session crosses apps."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select, update

import huoli
from huoli.apps.models import ApiKey
from huoli.db import unit_of_work
from huoli.runtime import Runtime
from huoli.tenancy import CrossAppWrite, UnscopedQuery, check_scoped, execute_scoped, scoped_sql
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


def test_hand_written_sql_must_name_the_app_for_every_app_table(runtime: Runtime, make_app) -> None:  # type: ignore[no-untyped-def]
    make_app("alpha")
    make_app("beta")
    refused = [
        "DELETE FROM loyalty_board_counts WHERE id <= :top",
        "UPDATE loyalty_board_scores SET score = 0 WHERE user_id = :u",
        "SELECT * FROM users u JOIN loyalty_board_scores s ON s.user_id = u.id WHERE u.app_id = :app",
        "INSERT INTO loyalty_board_counts (app_id, board, period, score, n) VALUES (:other, 'b', 'p', 1, 1)",
    ]
    for sql in refused:
        with pytest.raises(UnscopedQuery):
            check_scoped(scoped_sql(sql))
    check_scoped(
        scoped_sql(
            "SELECT count(*) FROM users u JOIN loyalty_board_scores s ON s.app_id = :app WHERE u.app_id = :app"
        )
    )
    with unit_of_work(runtime.sessions, app_id="alpha") as db:
        db.add(User(id="u1", openid="o1"))
    with unit_of_work(runtime.sessions, app_id="beta") as db:
        db.add(User(id="u2", openid="o1"))
    with unit_of_work(runtime.sessions, app_id="alpha") as db:
        # `:app` comes from the session; a caller cannot pass another
        assert execute_scoped(db, "SELECT count(*) FROM users WHERE app_id = :app").scalar_one() == 1
        with pytest.raises(UnscopedQuery):
            execute_scoped(db, "SELECT count(*) FROM users WHERE app_id = :app", {"app": "beta"})
        gone = execute_scoped(db, "DELETE FROM users WHERE app_id = :app AND id IN ('u1', 'u2')")
        assert gone.rowcount == 1  # its own row only
    with unit_of_work(runtime.sessions) as db, pytest.raises(UnscopedQuery):
        execute_scoped(db, "SELECT count(*) FROM users WHERE app_id = :app")  # an unscoped session
    with unit_of_work(runtime.sessions, app_id="beta") as db:
        assert [u.id for u in db.scalars(select(User))] == ["u2"]  # beta's row survived alpha's delete


def test_hand_written_sql_lives_in_repositories() -> None:
    """`text()` outside a domain's repository.py would bypass the scoping check; infrastructure that runs no
    app query (health check, migrations) is listed by name."""
    src = Path(huoli.__file__).parent
    allowed = {"tenancy.py", "app.py", "migrate.py", "db.py"}
    offenders = [
        str(p.relative_to(src))
        for p in src.rglob("*.py")
        if p.name != "repository.py"
        and str(p.relative_to(src)) not in allowed
        and "migrations" not in p.parts
        and re.search(r"\btext\(\s*[\"'f]", p.read_text())
    ]
    assert offenders == []
