"""Privacy of the analytics rollups (DuckDB event store): an erased person's rows leave `user_days` and
`user_sessions` with their events, and the rollups stay equal to a rebuild from the events that remain.

- `user_days` rows are per actor (user id, or device id for anonymous events): the person's actors' rows go.
- `user_sessions` rows are per session: the sessions the person's events touched go, and any of them another
  person also had events in is computed again from those events (up to the watermark, as a refresh would).
- Watermarks: a refresh resumes after the highest events `rowid` it folded in. Deleting the newest events can
  let DuckDB hand their rowids out again (an emptied last row group is dropped at the next checkpoint), so a
  watermark above the highest remaining rowid comes down to it. The store never vacuums (store.py), so the
  rowids of the remaining events never move.

The event-store side runs under the rollup lock (`held`): a refresh in between would fold the person's events
back in. A ClickHouse store keeps no rollups (analytics builds them per request), so there is nothing to do.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from huoli.analytics import rollup
from huoli.events.privacy import Person
from huoli.events.schema import EVENTS_TABLE
from huoli.events.stores import DuckDBEventStore, EventStore

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

STATE = "user_days_state"


@dataclass(frozen=True)
class Footprint:
    """What a person's events put into the rollups; read before the events are deleted."""

    actors: list[str]
    sessions: list[str] = field(default_factory=list)


@contextmanager
def held(store: EventStore) -> Iterator[None]:
    """No rollup refresh runs meanwhile (the lock refresh_duckdb takes for this store)."""
    if not isinstance(store, DuckDBEventStore):
        yield
        return
    with rollup._lock_for(store):
        yield


def footprint(store: EventStore, person: Person) -> Footprint | None:
    if not isinstance(store, DuckDBEventStore):
        return None
    where, params = person.where()
    opens = ", ".join(f"'{n}'" for n in rollup.OPEN_EVENTS)
    # The session key of rollup.session_events: the session id, or an open's own event id without one.
    sessions = store.query(
        f"SELECT DISTINCT coalesce(session_id, CAST(event_id AS VARCHAR)) AS sess FROM {EVENTS_TABLE} "
        f"WHERE {where} AND (session_id IS NOT NULL OR name IN ({opens}))",
        params,
    ).column("sess")
    return Footprint(actors=[person.user_id, *person.anonymous_ids], sessions=sorted(sessions.to_pylist()))


def erase_rollups(store: EventStore, person: Person, found: Footprint | None) -> dict[str, int]:
    """Remove the person from the rollups; call after their events were deleted, inside `held`."""
    if found is None or not isinstance(store, DuckDBEventStore):
        return {}
    con = store.cursor()
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if STATE not in tables:
            return {}  # no analytics request has built a rollup yet
        con.execute("BEGIN TRANSACTION")
        try:
            counts = _erase(con, person.app_id, found, tables)
            con.execute("COMMIT")
            return counts
        except BaseException:
            con.execute("ROLLBACK")
            raise
    except Exception:
        # Derived data: rather than leave the person in it, drop it; the next analytics request rebuilds it.
        log.exception("removing an erased person from the rollups failed; dropping the rollups")
        for table in (rollup.USER_DAYS, rollup.USER_SESSIONS):
            con.execute(f"DROP TABLE IF EXISTS {table}")
        dropped = con.execute(f"DELETE FROM {STATE}").fetchall()[0][0]
        return {f"{STATE}:reset": int(dropped)}
    finally:
        con.close()


def _erase(con: duckdb.DuckDBPyConnection, app_id: str, found: Footprint, tables: set[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    if rollup.USER_DAYS in tables:
        marks = ", ".join("?" for _ in found.actors)
        counts[rollup.USER_DAYS] = con.execute(
            f"DELETE FROM {rollup.USER_DAYS} WHERE app_id = ? AND actor IN ({marks})", [app_id, *found.actors]
        ).fetchall()[0][0]
    if rollup.USER_SESSIONS in tables:
        counts[rollup.USER_SESSIONS] = _erase_sessions(con, app_id, found.sessions)
    top = con.execute(f"SELECT coalesce(max(rowid), -1) FROM {EVENTS_TABLE}").fetchall()[0][0]
    con.execute(f"UPDATE {STATE} SET watermark = ? WHERE watermark > ?", [top, top])
    return counts


def _erase_sessions(con: duckdb.DuckDBPyConnection, app_id: str, sessions: list[str]) -> int:
    if not sessions:
        return 0
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _privacy_sess AS SELECT unnest(?::VARCHAR[]) AS sess", [sessions]
    )
    gone = con.execute(
        f"DELETE FROM {rollup.USER_SESSIONS} WHERE app_id = ? AND sess IN (SELECT sess FROM _privacy_sess)",
        [app_id],
    ).fetchall()[0][0]
    app_lit = app_id.replace("'", "''")
    states = con.execute(f"SELECT tz, watermark FROM {STATE} WHERE app_id = ?", [app_id]).fetchall()
    for tz, watermark in states:
        # What other people did in those sessions, as far as this timezone's rollup had folded in.
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW _rollup_src AS SELECT * FROM {EVENTS_TABLE} "
            f"WHERE rowid <= {int(watermark)} AND app_id = '{app_lit}' "
            "AND session_id IN (SELECT sess FROM _privacy_sess)"
        )
        n, us_lo, us_hi = con.execute(  # type: ignore[misc]
            "SELECT count(*), epoch_us(min(ts)), epoch_us(max(ts)) FROM _rollup_src"
        ).fetchone()
        if n:
            first, last = rollup._span(rollup._from_us(us_lo), rollup._from_us(us_hi))
            sql = rollup.delta_sessions_sql(app_id, tz, first, last)
            con.execute(f"INSERT INTO {rollup.USER_SESSIONS} SELECT * FROM ({sql})")
    con.execute("DROP VIEW IF EXISTS _rollup_src")
    con.execute("DROP TABLE IF EXISTS _privacy_sess")
    return int(gone)


def forget_before(store: EventStore, app_id: str, cutoff: datetime) -> dict[str, int]:
    """Remove from the rollups what the app's events before `cutoff` contributed (retention deleted them)."""
    if not isinstance(store, DuckDBEventStore):
        return {}  # ClickHouse keeps no rollups (analytics builds them per request)
    con = store.cursor()
    try:
        return rollup.forget_before(con, app_id, cutoff)
    except Exception:
        # Derived data: rather than keep rows of deleted events, drop it; the next analytics request rebuilds.
        log.exception("removing expired events from the rollups failed; dropping the rollups")
        for table in (rollup.USER_DAYS, rollup.USER_SESSIONS):
            con.execute(f"DROP TABLE IF EXISTS {table}")
        con.execute(f"DELETE FROM {STATE}")
        return {f"{STATE}:reset": 1}
    finally:
        con.close()
