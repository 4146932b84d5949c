"""insert_or_ignore: the one idempotent insert every domain uses (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from tests.conftest import PG_URL

import huoli.db as db
from huoli.db import insert_or_ignore, normalise_url, unit_of_work
from huoli.loyalty.models import PointsTransfer
from huoli.runtime import Runtime
from huoli.tenancy import CrossAppWrite

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def transfer(app_id: str, key: str, points: int = 10) -> dict[str, Any]:
    return {
        "app_id": app_id,
        "user_id": "u1",
        "kind": "earn",
        "reason": "order",
        "points": points,
        "business_key": key,
        "ref": None,
        "local_date": date(2026, 11, 20),
        "note": None,
        "created_at": NOW,
    }


def test_first_insert_wins_and_returning_gives_its_id(runtime: Runtime, make_app: Callable[..., Any]) -> None:
    app = make_app()
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        first = insert_or_ignore(
            db, PointsTransfer, transfer(app.id, "k1"), ["app_id", "business_key"], returning="id"
        )
        again = insert_or_ignore(
            db, PointsTransfer, transfer(app.id, "k1", 99), ["app_id", "business_key"], returning="id"
        )
        other = insert_or_ignore(db, PointsTransfer, transfer(app.id, "k2"))  # any unique key
        assert isinstance(first, int) and again is None and other is True
        assert insert_or_ignore(db, PointsTransfer, transfer(app.id, "k2")) is False
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        rows = db.execute(
            select(PointsTransfer.business_key, PointsTransfer.points).order_by(PointsTransfer.id)
        ).all()
        assert [tuple(r) for r in rows] == [("k1", 10), ("k2", 10)]


def test_pending_orm_rows_are_flushed_first(runtime: Runtime, make_app: Callable[..., Any]) -> None:
    app = make_app()
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        db.add(PointsTransfer(**transfer(app.id, "k1")))
        # Core statements don't autoflush: without the flush this insert would win the key.
        assert (
            insert_or_ignore(db, PointsTransfer, transfer(app.id, "k1", 5), ["app_id", "business_key"])
            is False
        )
        assert db.scalar(select(func.sum(PointsTransfer.points))) == 10


def test_bad_calls_are_refused_and_change_nothing(runtime: Runtime, make_app: Callable[..., Any]) -> None:
    a, b = make_app(), make_app()
    with unit_of_work(runtime.sessions, app_id=a.id) as db:
        with pytest.raises(CrossAppWrite):
            insert_or_ignore(db, PointsTransfer, transfer(b.id, "k1"))
        with pytest.raises(ValueError, match="no columns"):
            insert_or_ignore(db, PointsTransfer, transfer(a.id, "k1") | {"pionts": 1})
    with unit_of_work(runtime.sessions) as db:
        assert db.scalar(select(func.count()).select_from(PointsTransfer)) == 0


def _backend_pid(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def _kill_backend(pid: int) -> None:
    admin = sa.create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT pg_terminate_backend({pid})").scalar_one()
    admin.dispose()


def test_a_dropped_idle_connection_is_replaced_but_a_busy_one_is_not_pinged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pooled PostgreSQL connections are pinged only after IDLE_PING_S unused: a connection the server
    dropped while idle is replaced unnoticed; one returned moments ago goes straight back to work, which is
    why a connection dropped in that moment surfaces as an error (the ping really is what saves the first)."""
    engine = db.make_engine(PG_URL, pool_size=1)
    try:
        first = _backend_pid(engine)
        _kill_backend(first)
        monkeypatch.setattr(db, "IDLE_PING_S", 0.0)  # the connection has now been idle long enough
        second = _backend_pid(engine)
        assert second != first
        monkeypatch.setattr(db, "IDLE_PING_S", 3600.0)  # returned moments ago: no ping
        _kill_backend(second)
        with pytest.raises(sa.exc.OperationalError):
            _backend_pid(engine)
        assert _backend_pid(engine) not in (first, second)  # the pool discarded the broken one itself
    finally:
        engine.dispose()


_STAMP = (
    sa.text("SELECT :n + 1 AS next, :at AS at, :day AS day")
    .bindparams(
        sa.bindparam("n", type_=sa.Integer()),
        sa.bindparam("at", type_=db.UTCDateTime()),
        sa.bindparam("day", type_=sa.Date()),
    )
    .columns(next=sa.Integer(), at=db.UTCDateTime(), day=sa.Date())
)


def test_run_answers_as_sqlalchemy_would(runtime: Runtime, make_app: Callable[..., Any]) -> None:
    """db.run: the hot paths' statements on the driver directly (PostgreSQL), else through SQLAlchemy. Same
    rows either way (by index and by name), datetimes in UTC, SQLAlchemy's exception classes, and the
    engine's cursor listeners still see each statement."""
    app = make_app()
    shanghai = NOW.astimezone(ZoneInfo("Asia/Shanghai"))
    seen: list[str] = []

    def listen(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        seen.append(statement)

    sa.event.listen(runtime.engine, "before_cursor_execute", listen)
    try:
        with unit_of_work(runtime.sessions, app_id=app.id) as s:
            params = {"n": 41, "at": shanghai, "day": date(2026, 11, 20)}
            row = db.run(s, _STAMP, params)[0]
            via_sqlalchemy = s.connection().execute(_STAMP, params).one()
    finally:
        sa.event.remove(runtime.engine, "before_cursor_execute", listen)
    assert (row[0], row.next, row.day) == (42, 42, date(2026, 11, 20))
    assert row.at == NOW and row.at.utcoffset() == via_sqlalchemy.at.utcoffset()
    assert tuple(row) == tuple(via_sqlalchemy)
    assert sum(st.startswith("SELECT") for st in seen) == 2  # run's statement and SQLAlchemy's
    with (
        unit_of_work(runtime.sessions, app_id=app.id) as s,
        pytest.raises(sa.exc.StatementError, match="naive"),
    ):
        db.run(s, _STAMP, {"n": 1, "at": datetime(2026, 11, 20, 8, 0), "day": date(2026, 11, 20)})
    # A unique-key violation is SQLAlchemy's IntegrityError (what callers and the API's handler catch).
    insert = sa.text(
        "INSERT INTO loyalty_transfers (app_id, user_id, kind, reason, points, business_key, local_date, "
        "created_at) VALUES (:app_id, :user_id, :kind, :reason, :points, :business_key, :local_date, :created_at)"
    ).bindparams(sa.bindparam("created_at", type_=db.UTCDateTime()))
    values = {k: v for k, v in transfer(app.id, "dup").items() if k not in ("ref", "note")}
    with unit_of_work(runtime.sessions, app_id=app.id) as s:
        db.run(s, insert, values)
    with pytest.raises(sa.exc.IntegrityError), unit_of_work(runtime.sessions, app_id=app.id) as s:
        db.run(s, insert, values)
    with unit_of_work(runtime.sessions, app_id=app.id) as s:
        assert s.scalar(select(func.count()).select_from(PointsTransfer)) == 1
