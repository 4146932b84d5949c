"""Engine, ORM base and the transaction boundary: one unit of work per request or job.

Services never commit; the boundary that opened the unit of work commits once or rolls back, so use cases
from several domains (spend points + decrement stock + record the event) compose atomically.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, StatementError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from huoli.caches import INFO_KEY, Caches
from huoli.crypto import Keyring, attach
from huoli.fileperms import create_private
from huoli.tenancy import CrossAppWrite

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which has no tz) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else _aware(value).astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else _in_utc(value)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime refused: huoli stores timezone-aware instants only")
    return value


def _in_utc(value: datetime) -> datetime:
    """A stored instant as read back: naive ones (SQLite keeps no zone) are UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def normalise_url(url: str) -> str:
    """Accept plain postgresql:// URLs (as libpq users write them) and pick the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


@dataclass(frozen=True)
class Timeouts:
    """Bounds on every wait in the database: nothing waits for a lock or runs a statement without one."""

    lock_ms: int = 10_000
    statement_ms: int | None = 60_000  # None: no statement bound (migrations)
    idle_in_transaction_ms: int | None = 60_000


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    timeouts: Timeouts | None = None,
    keyring: Keyring | None = None,
    **kwargs: Any,
) -> Engine:
    """An engine for huoli; `keyring` encrypts and decrypts its EncryptedString columns (crypto.py)."""
    engine = _make_engine(url, pool_size=pool_size, timeouts=timeouts or Timeouts(), **kwargs)
    if keyring is not None:
        attach(engine, keyring)
    return engine


def _make_engine(url: str, *, pool_size: int, timeouts: Timeouts, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:" and not path.startswith("file:") and not Path(path).exists():
            # 0600 before SQLite opens it: its -wal and -shm files copy the database file's mode.
            create_private(Path(path), b"")
        busy_s = timeouts.lock_ms / 1000
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_s}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # WAL lets readers run during writes; FULL sync so an acknowledged commit survives power loss too.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(timeouts.lock_ms)}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin_immediate(conn: Any) -> None:
            # Take the write lock at BEGIN so read-then-write use cases can't interleave (no lost updates).
            # Declared read-only work (see read_only) skips it: WAL readers need no lock, hot paths don't queue.
            if conn.get_execution_options().get("huoli_read_only"):
                return
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        # Let SQLAlchemy emit BEGIN (above) instead of pysqlite's implicit, deferred one.
        @event.listens_for(engine, "connect")
        def _sqlite_autocommit_driver(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        return engine
    # pool_size covers the request threads (the app caps them to it); the overflow serves background threads
    # (relay, flag reads, exposure writes). Overflow connections close when returned, and a backend started
    # and ended per request cost more CPU than the request (measured: PostgreSQL's CPU per request went
    # negative in a tree sum, its backends exiting faster than they were counted).
    kwargs.setdefault("max_overflow", 10)
    # libpq waits for a TCP connect without a bound by default
    kwargs.setdefault("connect_args", {}).setdefault("connect_timeout", 10)
    engine = create_engine(url, pool_size=pool_size, **kwargs)
    _ping_when_idle(engine)
    _bound_waits(engine, timeouts)
    return engine


def _bound_waits(engine: Engine, timeouts: Timeouts) -> None:
    """Session settings on every new PostgreSQL connection (SQLAlchemy's documented connect-event recipe):
    lock and statement waits end with an error instead of never, and a transaction left idle is ended."""
    settings = {
        "lock_timeout": timeouts.lock_ms,
        "statement_timeout": timeouts.statement_ms or 0,
        "idle_in_transaction_session_timeout": timeouts.idle_in_transaction_ms or 0,
    }
    sql = "; ".join(f"SET {name} = {int(ms)}" for name, ms in settings.items())

    @event.listens_for(engine, "connect")
    def _set_timeouts(dbapi_conn: Any, _record: Any) -> None:
        autocommit = dbapi_conn.autocommit
        dbapi_conn.autocommit = True
        with dbapi_conn.cursor() as cur:
            cur.execute(sql)
        dbapi_conn.autocommit = autocommit


# PostgreSQL: lock_not_available (lock_timeout), query_canceled (statement_timeout), serialization_failure,
# deadlock_detected
_TRANSIENT = {"55P03", "57014", "40001", "40P01"}


def transient_failure(exc: BaseException) -> bool:
    """Whether a database error means a wait hit its bound or the database gave this transaction up to let
    another go on: it was rolled back (nothing written) and may simply be tried again."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) in _TRANSIENT:
        return True
    return orig is not None and "database is locked" in str(orig)  # SQLite's busy timeout


# The engine a hot unit of work on the event loop runs on (deps.run_hot); None elsewhere.
_LOOP_BIND: ContextVar[Engine | None] = ContextVar("huoli_loop_bind", default=None)


class RoutedSession(Session):
    """A Session that uses the event loop's engine (short lock bound) while deps.run_hot runs a unit of work
    there: the unit's code stays the same wherever it runs (SQLAlchemy's documented get_bind override)."""

    def get_bind(self, *args: Any, **kwargs: Any) -> Any:
        bind = _LOOP_BIND.get()
        return bind if bind is not None else super().get_bind(*args, **kwargs)


@contextmanager
def on_engine(engine: Engine) -> Iterator[None]:
    """Sessions opened inside this block run on `engine`."""
    token = _LOOP_BIND.set(engine)
    try:
        yield
    finally:
        _LOOP_BIND.reset(token)


# A pooled connection unused this long is pinged before reuse (the server may have dropped it); a busier one
# is not: pinging on every checkout cost a round trip per request, a tenth of a check-in's statements.
IDLE_PING_S = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's pessimistic disconnect handling (pool_pre_ping), for idle connections only: the
    documented checkout-event recipe, where DisconnectionError makes the pool replace the connection."""

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn: Any, record: Any) -> None:
        record.info["huoli_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("huoli_idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_S:
            return  # new, or returned moments ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc


def make_session_factory(engine: Engine, caches: Caches | None = None) -> sessionmaker[Session]:
    # Every session gets the runtime's caches in its info (sessionmaker copies `info` into each session).
    return sessionmaker(
        bind=engine, class_=RoutedSession, expire_on_commit=False, info={INFO_KEY: caches or Caches()}
    )


@contextmanager
def unit_of_work(factory: sessionmaker[Session], *, app_id: str | None = None) -> Iterator[Session]:
    """The one transaction boundary: commit on success, roll back on any exception.

    `app_id` scopes every ORM query of the session to one app (see tenancy.py).
    """
    session = factory()
    if app_id is not None:
        session.info["app_id"] = app_id
    try:
        with session.begin():
            yield session
    finally:
        session.close()


@contextmanager
def single_statement(factory: sessionmaker[Session], *, app_id: str | None = None) -> Iterator[Session]:
    """A unit of work whose writes are one statement. On PostgreSQL it runs outside a transaction (the
    statement is atomic by itself), so the row locks it takes are released when it ends, not at a commit
    that waits for this thread to get the GIL back; on SQLite it is an ordinary transaction."""
    session = factory()
    if app_id is not None:
        session.info["app_id"] = app_id
    try:
        with session.begin():
            if session.get_bind().dialect.name == "postgresql":
                session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            yield session
    finally:
        session.close()


@contextmanager
def read_only(factory: sessionmaker[Session], *, app_id: str | None = None) -> Iterator[Session]:
    """A session for reads only (app-scoped like unit_of_work): on SQLite it takes no write lock, each
    statement sees the latest commit. Never write through it."""
    session = factory()
    if app_id is not None:
        session.info["app_id"] = app_id
    session.info["read_only"] = True
    event.listen(session, "before_flush", _refuse_writes)
    try:
        session.connection(execution_options={"huoli_read_only": True})
        yield session
    finally:
        session.rollback()
        session.close()


def _refuse_writes(session: Session, *_: Any) -> None:
    # SQLite runs a read-only session without a transaction (each statement commits by itself) and
    # PostgreSQL rolls it back: a write here would be half-kept or silently lost, so it is a bug to refuse.
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("write through a read-only session (use unit_of_work)")


# (id of the statement, parameter names) -> (the statement, kept so its id is never reused; its SQL and the
# literal values it binds itself, or None)
_DRIVER_SQL: dict[tuple[int, tuple[str, ...]], tuple[Any, tuple[str, dict[str, Any]] | None]] = {}


def _driver_sql(stmt: Any, dialect: Any, keys: tuple[str, ...]) -> tuple[str, dict[str, Any]] | None:
    """The statement compiled once for psycopg with the literals it binds itself (`status == 'available'`),
    or None when SQLAlchemy must run it: a bound type needs a conversion psycopg doesn't do the same way
    (UTCDateTime's rules `run` applies itself; a bool is a bool to both), or a bound value is a column
    default SQLAlchemy computes at execution."""
    key = (id(stmt), keys)
    known = _DRIVER_SQL.get(key)
    if known is not None:
        return known[1]
    compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
    plain = all(
        isinstance(b.type, UTCDateTime | Boolean)
        or b.type.dialect_impl(dialect).bind_processor(dialect) is None
        for b in compiled.binds.values()
    )
    sql = compiled.string
    literals = {  # SQLAlchemy lists anonymous binds under internal names too: keep the ones the SQL names
        name: b.value
        for name, b in compiled.binds.items()
        if name not in keys and b.value is not None and b.callable is None and f"%({name})s" in sql
    }
    filled = all(f"%({name})s" not in sql or name in keys or name in literals for name in compiled.binds)
    shape = (sql, literals) if plain and filled else None
    _DRIVER_SQL[key] = (stmt, shape)
    return shape


def run(db: Session, stmt: Any, params: dict[str, Any]) -> list[Any]:
    """Execute a prebuilt Core or text statement in the session's transaction; its rows (index and
    attribute access). On PostgreSQL it goes to the driver directly, compiled once, which psycopg prepares
    after a few runs as it does under SQLAlchemy: SQLAlchemy's per-execution work (cache key, parameters,
    execution context, result proxy) was half a hot statement's client CPU (measured: 135 → 69 µs on a
    trivial statement). Datetimes keep UTCDateTime's rules (naive refused, results in UTC), and the
    engine's before_cursor_execute listeners still see the statement."""
    conn = db.connection()
    shape = _driver_sql(stmt, conn.dialect, tuple(params)) if conn.dialect.name == "postgresql" else None
    if shape is None:
        result = conn.execute(stmt, params)
        return list(result) if result.returns_rows else []
    sql, literals = shape
    if literals:
        params = literals | params
    for value in params.values():
        if isinstance(value, datetime):
            try:
                _aware(value)
            except ValueError as refused:  # UTCDateTime's refusal, wrapped as SQLAlchemy wraps it
                raise StatementError(str(refused), sql, params, refused) from refused
    from psycopg.rows import namedtuple_row

    driver: Any = conn.connection.driver_connection
    with driver.cursor(row_factory=namedtuple_row) as cur:
        if conn.dispatch.before_cursor_execute:  # statement counters, tracing
            conn.dispatch.before_cursor_execute(conn, cur, sql, params, None, False)
        try:
            cur.execute(sql, params)
            rows = cur.fetchall() if cur.description else []
        except conn.dialect.loaded_dbapi.Error as exc:
            # As SQLAlchemy would: its exception classes (IntegrityError…), a dead connection invalidated.
            if conn.dialect.is_disconnect(exc, driver, cur):
                conn.invalidate(exc)
            raise DBAPIError.instance(sql, params, exc, conn.dialect.loaded_dbapi.Error) from exc
    if any(isinstance(v, datetime) for r in rows for v in r):
        rows = [type(r)(*(_in_utc(v) if isinstance(v, datetime) else v for v in r)) for r in rows]
    return rows


_IGNORE_STATEMENTS: dict[tuple[str, Any, tuple[str, ...] | None, str | None], Any] = {}


def _ignore_statement(
    dialect: str, model: type[Base], conflict: tuple[str, ...] | None, ret: str | None
) -> Any:
    """INSERT … ON CONFLICT DO NOTHING [RETURNING], built once per shape and executed with bound values:
    a statement carrying its own `.values()` is re-coerced and re-keyed on every call (~half the CPU of a
    check-in on the ORM path)."""
    key = (dialect, model, conflict, ret)
    stmt = _IGNORE_STATEMENTS.get(key)
    if stmt is None:
        table: Any = model.__table__
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            stmt = pg_insert(table)
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(table)
        else:  # pragma: no cover - huoli supports exactly these two
            raise NotImplementedError(dialect)
        stmt = stmt.on_conflict_do_nothing(index_elements=list(conflict) if conflict else None)
        # RETURNING rather than rowcount: psycopg reports -1 for rowcount on this path.
        returning = [table.c[ret]] if ret else list(table.primary_key.columns)
        stmt = _IGNORE_STATEMENTS[key] = stmt.returning(*returning)
    return stmt


def insert_or_ignore(
    db: Session,
    model: type[Base],
    values: dict[str, Any],
    conflict: list[str] | None = None,
    *,
    returning: str | None = None,
) -> Any:
    """INSERT … ON CONFLICT DO NOTHING on SQLite and PostgreSQL. Returns whether this call inserted the row,
    or with `returning` that column of the inserted row (None when it already existed).

    The database decides who wins a race on a unique key (check-then-insert would let two concurrent callers
    both pass the check), so idempotency keys and natural keys are safe under concurrency. `conflict=None`
    ignores a clash on any unique key (the caller then looks up which one it hit).
    It runs as a Core statement on the session's connection, so it checks the app scope itself.
    """
    if db.info.get("read_only"):
        raise RuntimeError("write through a read-only session (use unit_of_work)")
    scope = db.info.get("app_id")
    if scope is not None and "app_id" in values and values["app_id"] != scope:
        raise CrossAppWrite(f"{model.__name__} of app {values['app_id']!r} in a session scoped to {scope!r}")
    if db.new or db.dirty or db.deleted:
        db.flush()  # Core statements don't autoflush; keep pending ORM rows ahead of this insert
    table: Any = model.__table__
    unknown = [k for k in values if k not in table.c]
    if unknown:  # Core silently drops keys that name no column; a typo must not lose data
        raise ValueError(f"{model.__name__} has no columns {unknown}")
    stmt = _ignore_statement(
        db.get_bind().dialect.name, model, tuple(conflict) if conflict else None, returning
    )
    rows = run(db, stmt, values)
    row = rows[0] if rows else None
    if returning is None:
        return row is not None
    return None if row is None else row[0]
