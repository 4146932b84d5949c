"""The loyalty domain's hand-written SQL: every statement goes through `tenancy.execute_scoped`, which binds the
session's app and refuses a statement that could reach another app's rows."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, String, Text, TextClause, TextualSelect, bindparam
from sqlalchemy.orm import Session

from huoli.db import UTCDateTime, run
from huoli.loyalty import models  # noqa: F401  (the tables the statements name are registered before a check)
from huoli.tenancy import CrossAppWrite, execute_scoped, scoped_params, scoped_sql

# A data-modifying CTE sees one snapshot: a delta committed meanwhile is neither deleted nor lost.
_COMPACT_PG = (
    "WITH gone AS (DELETE FROM loyalty_board_counts WHERE app_id = :app AND id <= :top "
    "RETURNING board, period, score, n), "
    "kept AS (INSERT INTO loyalty_board_counts (app_id, board, period, score, n) "
    "SELECT :app, board, period, score, sum(n) FROM gone GROUP BY board, period, score "
    "HAVING sum(n) <> 0 RETURNING 1) "
    "SELECT (SELECT count(*) FROM gone)"
)
_FOLD_SQLITE = (
    "INSERT INTO loyalty_board_counts (app_id, board, period, score, n) "
    "SELECT :app, board, period, score, sum(n) FROM loyalty_board_counts WHERE app_id = :app AND id <= :top "
    "GROUP BY board, period, score HAVING sum(n) <> 0"
)
_DELETE_SQLITE = "DELETE FROM loyalty_board_counts WHERE app_id = :app AND id <= :top RETURNING id"


def fold_board_counts(db: Session, top: int) -> int:
    """Fold the app's leaderboard count deltas with id <= top into one row per (board, period, score); returns
    the delta rows folded. One statement on PostgreSQL; SQLite runs the two halves in its serialised
    transaction."""
    if db.get_bind().dialect.name == "postgresql":
        return int(execute_scoped(db, _COMPACT_PG, {"top": top}).scalar_one())
    execute_scoped(db, _FOLD_SQLITE, {"top": top})
    return len(execute_scoped(db, _DELETE_SQLITE, {"top": top}).all())


@functools.cache
def _record_stmt(n: int, mode: str) -> TextClause:
    values = ", ".join(f"(:app, :board, :p{i}, :user, :v, NULL, :now)" for i in range(n))
    grown = "t.score + EXCLUDED.score" if mode == "add" else "GREATEST(t.score, EXCLUDED.score)"
    return scoped_sql(
        "WITH up AS (INSERT INTO loyalty_board_scores AS t "
        f"(app_id, board, period, user_id, score, prev, updated_at) VALUES {values} "
        "ON CONFLICT (app_id, board, period, user_id) DO UPDATE "
        f"SET prev = t.score, score = {grown}, updated_at = EXCLUDED.updated_at "
        "RETURNING period, score, prev, (xmax = 0) AS inserted) "
        "INSERT INTO loyalty_board_counts (app_id, board, period, score, n) "
        "SELECT :app, :board, period, score, 1 FROM up WHERE inserted OR score <> prev "
        "UNION ALL SELECT :app, :board, period, prev, -1 FROM up WHERE NOT inserted AND score <> prev"
    )


def record_score_pg(db: Session, n: int, mode: str, params: dict[str, Any]) -> None:
    """PostgreSQL: upsert the member's scores of n periods (:p0…) and append the matching count deltas in one
    statement — the upsert keeps the old score in `prev` and reports whether it inserted. Hot (every
    check-in and earn): the statement is built and checked once per shape and runs through `db.run`."""
    stmt = _record_stmt(n, mode)
    run(db, stmt, scoped_params(db, stmt, params))


# Today's row with streak and total carried from the member's latest earlier row, in one statement (the
# unique key still decides a double tap). `run_from` is yesterday, or today when a reset cycle starts.
_INSERT_TODAY = (
    "INSERT INTO loyalty_checkins (app_id, user_id, local_date, streak, total, makeup, created_at) "
    "SELECT :app_id, :user_id, :today, CASE WHEN p.local_date = :run_from THEN p.streak + 1 ELSE 1 END, "
    "coalesce(p.total, 0) + 1, :makeup, :now FROM (SELECT 1 AS one) AS o LEFT JOIN "
    "(SELECT local_date, streak, total FROM loyalty_checkins WHERE app_id = :app_id AND user_id = :user_id "
    "AND local_date < :today ORDER BY local_date DESC LIMIT 1) AS p ON 1 = 1 WHERE 1 = 1 "
    "ON CONFLICT (app_id, user_id, local_date) DO NOTHING RETURNING streak, total"
)
_BINDS = (
    bindparam("today", type_=Date()),
    bindparam("run_from", type_=Date()),
    bindparam("makeup", type_=Boolean()),
    bindparam("now", type_=UTCDateTime()),
)
_CHECK_IN = {
    "sqlite": scoped_sql(_INSERT_TODAY + ", 1 AS won").bindparams(*_BINDS),
    # PostgreSQL also answers a repeat in the same round trip: today's row as the statement's snapshot
    # saw it (a row a concurrent tap committed meanwhile is not in it: then no row, and it is read again).
    "postgresql": scoped_sql(
        f"WITH ins AS ({_INSERT_TODAY}) SELECT streak, total, 1 AS won FROM ins UNION ALL "
        "SELECT streak, total, 0 FROM loyalty_checkins WHERE app_id = :app_id AND user_id = :user_id "
        "AND local_date = :today AND NOT EXISTS (SELECT 1 FROM ins)"
    ).bindparams(*_BINDS),
}


def insert_checkin(db: Session, params: dict[str, Any]) -> list[Any]:
    """Insert today's check-in (streak and total carried); rows (streak, total, won) — none when today's row
    already existed and a concurrent tap committed it after this statement's snapshot (PostgreSQL)."""
    stmt = _CHECK_IN[db.get_bind().dialect.name]
    return run(db, stmt, scoped_params(db, stmt, params))


_LOCK_CTE = (
    "a AS (INSERT INTO loyalty_accounts (app_id, user_id, debt, created_at) "
    "VALUES (:app_id, :user_id, 0, :created_at) "
    "ON CONFLICT (app_id, user_id) DO UPDATE SET debt = loyalty_accounts.debt RETURNING debt)"
)


@functools.cache
def _earn_stmt(lock: bool) -> TextClause:
    account = _LOCK_CTE if lock else "a AS (SELECT :debt AS debt)"
    return scoped_sql(
        f"WITH {account}, t AS (INSERT INTO loyalty_transfers "
        "(app_id, user_id, kind, reason, points, business_key, ref, local_date, note, created_at) "
        "SELECT :app_id, :user_id, :kind, :reason, :points, :business_key, :ref, :local_date, :note, "
        ":created_at FROM a ON CONFLICT (app_id, business_key) DO NOTHING RETURNING id), "
        "l AS (INSERT INTO loyalty_lots "
        "(app_id, user_id, transfer_id, points, remaining, available_at, expires_at, expiry_warned) "
        "SELECT :app_id, :user_id, t.id, :points, :points - least(a.debt, :points), :available_at, "
        ":expires_at, false FROM t, a WHERE :points > 0) "
        "SELECT (SELECT id FROM t) AS id, (SELECT debt FROM a) AS debt"
    ).bindparams(
        *([] if lock else [bindparam("debt", type_=BigInteger())]),
        bindparam("points", type_=BigInteger()),
        bindparam("ref", type_=String()),
        bindparam("note", type_=Text()),
        bindparam("local_date", type_=Date()),
        bindparam("created_at", type_=UTCDateTime()),
        bindparam("available_at", type_=UTCDateTime()),
        bindparam("expires_at", type_=UTCDateTime()),
    )


def _without_app(db: Session, values: dict[str, Any]) -> dict[str, Any]:
    """Row values built for the ORM carry app_id; the statement takes the session's, which must agree."""
    if values.get("app_id", db.info.get("app_id")) != db.info.get("app_id"):
        raise CrossAppWrite(
            f"a row of app {values['app_id']!r} in a session scoped to {db.info.get('app_id')!r}"
        )
    return {k: v for k, v in values.items() if k != "app_id"}


def insert_earn_pg(db: Session, values: dict[str, Any], *, lock: bool) -> tuple[int | None, int]:
    """PostgreSQL: the earn's transfer and its lot (only when the transfer's key was new; debt is paid first)
    in one round trip; with `lock`, the same statement first takes the account lock (an earn without a daily
    cap reads nothing under it but the debt): the transfer insert selects from it, so it runs after the
    lock. Returns (transfer id or None, debt)."""
    stmt = _earn_stmt(lock)
    row = run(db, stmt, scoped_params(db, stmt, _without_app(db, values)))[0]
    return (None if row.id is None else int(row.id)), int(row.debt)


@functools.cache
def _growth_stmt(windowed: bool) -> TextualSelect:
    window = " AND created_at > :since" if windowed else ""
    member = "FROM loyalty_members WHERE app_id = :app_id AND user_id = :user_id"
    return scoped_sql(
        "WITH g AS (INSERT INTO loyalty_growth (app_id, user_id, entry_key, source, amount, created_at) "
        "VALUES (:app_id, :user_id, :entry_key, :source, :amount, :created_at) "
        "ON CONFLICT (app_id, entry_key) DO NOTHING RETURNING amount), "
        "m AS (INSERT INTO loyalty_members (app_id, user_id, tier, tier_since, qualified_at) "
        "SELECT :app_id, :user_id, :first, :created_at, :created_at FROM g "
        "ON CONFLICT (app_id, user_id) DO NOTHING RETURNING tier, qualified_at) "
        "SELECT (SELECT amount FROM g) AS added, "
        f"coalesce((SELECT tier FROM m), (SELECT tier {member})) AS tier, "
        f"coalesce((SELECT qualified_at FROM m), (SELECT qualified_at {member})) AS qualified_at, "
        "(SELECT coalesce(sum(amount), 0) FROM loyalty_growth "
        f"WHERE app_id = :app_id AND user_id = :user_id{window}) AS growth"
    ).columns(qualified_at=UTCDateTime())


def add_growth_pg(db: Session, params: dict[str, Any], *, windowed: bool) -> Any:
    """PostgreSQL: insert a growth entry, create the member on its first entry and read tier and growth, in
    one round trip; the row (added, tier, qualified_at, growth)."""
    stmt = _growth_stmt(windowed)
    return run(db, stmt, scoped_params(db, stmt, _without_app(db, params)))[0]
