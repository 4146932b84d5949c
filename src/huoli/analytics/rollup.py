"""The user-day rollup (docs/metrics.md#the-user-day-rollup): one row per (app, timezone, actor, local day)
with that day's event count, open events and first/last event time — what DAU/WAU/MAU, calendar-day
retention and lifecycle need, about an order of magnitude fewer rows than the events.

- DuckDB (the event store, or a private in-memory engine): a real table `user_days` kept incrementally.
  A watermark per (app, timezone) is the highest event `rowid` folded in; DuckDB appends rows in commit
  order, so `rowid > watermark` is exactly the events ingested since, whatever their event time (late
  events land on their own old day). Their per-(actor, day) aggregates are merged into the rows of the
  same keys (sum of counts, min/max of times): only touched keys change, and the result equals a rebuild.
- ClickHouse / chdb: the same table built in full from the events (no ingestion-order column to resume
  from); the event store's ClickHouse backend does not route to it.
- Spark (batch): a temporary view aggregating the events in-query; nothing is persisted.

Beside it, the session rollup `user_sessions`: one row per (app, timezone, session) with the session's first
and last local day, its opens and its page views and distinct pages — what opens (打开次数), visit depth and
bounce rate need, which per-day rows cannot hold (a session's distinct pages do not add up across days).
Kept with the same watermark in the same transaction; a session touched by new events is recomputed from
its events (bounded by its first and last time), so it always equals a rebuild.
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from typing import TYPE_CHECKING, Any

import ibis
import pyarrow as pa

from huoli.analytics.engines import ChdbEngine, SparkEngine, as_text, compile_sql, events_table
from huoli.analytics.timebase import TimeBase
from huoli.events.schema import EVENTS_TABLE

if TYPE_CHECKING:
    import duckdb

USER_DAYS = "user_days"
OPEN_EVENTS = ["app_show", "app_launch"]
# Events that count as taking part in a promotion (the promotions domain's events plus coupon claims).
PROMOTION_EVENTS = [
    "coupon_claimed",
    "flashsale_reserved",
    "group_opened",
    "group_joined",
    "bargain_started",
    "bargain_helped",
    "referral_bound",
]
# Per-(actor, day) counters the headline activity, conversion and interaction figures sum when a question has
# no filter or breakdown: column → (the events it covers, the field it sums or None to count them).
COUNTERS: dict[str, tuple[list[str], str | None]] = {
    "page_views": (["page_view"], None),
    "stay_ms": (["app_hide"], "duration_ms"),
    "shares": (["share"], None),
    "share_opens": (["share_open"], None),
    "favorites": (["favorite"], None),
    "comments": (["comment"], None),
    "carts": (["add_to_cart"], None),
    "paid": (["order_paid"], None),
    "gmv_fen": (["order_paid"], "amount_fen"),
    "refunds_fen": (["order_refunded"], "amount_fen"),
    "promos": (PROMOTION_EVENTS, None),
}

# Nullable as Ibis sees it (like the events): non-null types would not union with computed columns.
ROLLUP_SCHEMA = pa.schema(
    [
        pa.field("app_id", pa.string()),
        pa.field("tz", pa.string()),
        pa.field("actor", pa.string()),
        pa.field("day", pa.int64()),
        pa.field("events", pa.int64()),
        pa.field("opens", pa.int64()),
        pa.field("first_ts", pa.timestamp("us", tz="UTC")),
        pa.field("last_ts", pa.timestamp("us", tz="UTC")),
        *(pa.field(c, pa.int64()) for c in COUNTERS),
    ]
)
_DUCKDB_DDL = (
    f"CREATE TABLE IF NOT EXISTS {USER_DAYS} (app_id VARCHAR NOT NULL, tz VARCHAR NOT NULL, "
    "actor VARCHAR NOT NULL, day BIGINT NOT NULL, events BIGINT NOT NULL, opens BIGINT NOT NULL, "
    "first_ts TIMESTAMPTZ NOT NULL, last_ts TIMESTAMPTZ NOT NULL"
    + "".join(f", {c} BIGINT NOT NULL" for c in COUNTERS)
    + ")"
)
_STATE_DDL = (
    "CREATE TABLE IF NOT EXISTS user_days_state (app_id VARCHAR NOT NULL, tz VARCHAR NOT NULL, "
    "watermark BIGINT NOT NULL, PRIMARY KEY (app_id, tz))"
)
_CLICKHOUSE_DDL = (
    f"CREATE TABLE IF NOT EXISTS {USER_DAYS} (app_id String, tz String, actor String, day Int64, "
    "events Int64, opens Int64, first_ts DateTime64(6, 'UTC'), last_ts DateTime64(6, 'UTC')"
    + "".join(f", {c} Int64" for c in COUNTERS)
    + ") ENGINE = MergeTree ORDER BY (app_id, tz, day, actor)"
)


USER_SESSIONS = "user_sessions"
SESSIONS_SCHEMA = pa.schema(
    [
        pa.field("app_id", pa.string()),
        pa.field("tz", pa.string()),
        pa.field("sess", pa.string()),
        pa.field("first_day", pa.int64()),
        pa.field("last_day", pa.int64()),
        pa.field("first_ts", pa.timestamp("us", tz="UTC")),
        pa.field("last_ts", pa.timestamp("us", tz="UTC")),
        pa.field("shows", pa.int64()),
        pa.field("launches", pa.int64()),
        pa.field("views", pa.int64()),
        pa.field("pages", pa.int64()),
    ]
)
_SESSION_COUNTS = ("shows", "launches", "views", "pages")
_SESSIONS_DDL = (
    f"CREATE TABLE IF NOT EXISTS {USER_SESSIONS} (app_id VARCHAR NOT NULL, tz VARCHAR NOT NULL, "
    "sess VARCHAR NOT NULL, first_day BIGINT NOT NULL, last_day BIGINT NOT NULL, first_ts TIMESTAMPTZ NOT NULL, "
    "last_ts TIMESTAMPTZ NOT NULL" + "".join(f", {c} BIGINT NOT NULL" for c in _SESSION_COUNTS) + ")"
)
_SESSIONS_CLICKHOUSE_DDL = (
    f"CREATE TABLE IF NOT EXISTS {USER_SESSIONS} (app_id String, tz String, sess String, first_day Int64, "
    "last_day Int64, first_ts DateTime64(6, 'UTC'), last_ts DateTime64(6, 'UTC')"
    + "".join(f", {c} Int64" for c in _SESSION_COUNTS)
    + ") ENGINE = MergeTree ORDER BY (app_id, tz, first_day, sess)"
)


def user_days_table() -> ibis.Table:
    """The unbound rollup the routed metrics read (one row per app, tz, actor, local day)."""
    return ibis.table(ibis.Schema.from_pyarrow(ROLLUP_SCHEMA), name=USER_DAYS)


def aggregate(source: ibis.Table, app_id: str, tz: str, first: dt.date, last: dt.date) -> ibis.Table:
    """The rollup rows of `source` (events of any subset): local days by the same arithmetic as Frame.events,
    with the zone's offsets for first..last (the span of the events' local dates)."""
    t = source.filter(source.app_id == app_id)
    t = t.mutate(actor=ibis.coalesce(t.user_id, t.anonymous_id)).filter(lambda x: x.actor.notnull())
    t = t.mutate(day=TimeBase(tz).day(t.ts, first, last))
    agg = t.group_by("actor", "day").aggregate(
        events=t.count(),
        opens=t.name.isin(OPEN_EVENTS).cast("int64").sum(),
        first_ts=t.ts.min(),
        last_ts=t.ts.max(),
        **{c: _counter(t, c) for c in COUNTERS},
    )
    return agg.select(
        app_id=ibis.literal(app_id),
        tz=ibis.literal(tz),
        actor="actor",
        day=agg.day.cast("int64"),
        events=agg.events.cast("int64"),
        opens=agg.opens.cast("int64"),
        first_ts="first_ts",
        last_ts="last_ts",
        **{c: agg[c].cast("int64") for c in COUNTERS},
    )


def user_sessions_table() -> ibis.Table:
    """The unbound session rollup (one row per app, tz, session)."""
    return ibis.table(ibis.Schema.from_pyarrow(SESSIONS_SCHEMA), name=USER_SESSIONS)


def session_events(t: ibis.Table) -> ibis.Table:
    """The events behind the session figures, with `sess`: opens (app_show / app_launch; one without a
    session id is a session of its own) and page views that carry a session id."""
    t = t.filter(t.name.isin([*OPEN_EVENTS, "page_view"]))
    t = t.filter((t.name != "page_view") | t.session_id.notnull())
    return t.mutate(sess=ibis.coalesce(t.session_id, as_text(t.event_id)))


def session_stats(t: ibis.Table, by: list[str], *, spans: bool = False) -> ibis.Table:
    """Per (`by`, sess) of session_events rows: shows, launches, views and distinct (non-null) pages, and with
    spans=True the first/last `day` and `ts`. Pages per (sess, page) first: a grouped COUNT(DISTINCT) is
    several times slower in DuckDB."""
    t = t.mutate(pkey=ibis.ifelse(t.name == "page_view", t.page, ibis.null("string")))
    span = {"first_day": t.day.min(), "last_day": t.day.max(), "first_ts": t.ts.min(), "last_ts": t.ts.max()}
    per_page = t.group_by([*by, "sess", "pkey"]).aggregate(
        shows=(t.name == "app_show").sum(),
        launches=(t.name == "app_launch").sum(),
        views=(t.name == "page_view").sum(),
        **(span if spans else {}),
    )
    p = per_page
    fold = {"first_day": p.first_day.min(), "last_day": p.last_day.max(), "first_ts": p.first_ts.min(),
            "last_ts": p.last_ts.max()} if spans else {}  # fmt: skip
    return p.group_by([*by, "sess"]).aggregate(
        shows=p.shows.sum(), launches=p.launches.sum(), views=p.views.sum(), pages=p.pkey.count(), **fold
    )


def aggregate_sessions(source: ibis.Table, app_id: str, tz: str, first: dt.date, last: dt.date) -> ibis.Table:
    """The session-rollup rows of `source` (events of whole sessions): local days by Frame.events' arithmetic,
    the same actor filter (events without a person are in no figure)."""
    t = source.filter(source.app_id == app_id)
    t = t.filter(ibis.coalesce(t.user_id, t.anonymous_id).notnull())
    t = session_events(t)
    agg = session_stats(t.mutate(day=TimeBase(tz).day(t.ts, first, last)), [], spans=True)
    return agg.select(
        app_id=ibis.literal(app_id),
        tz=ibis.literal(tz),
        sess="sess",
        first_day=agg.first_day.cast("int64"),
        last_day=agg.last_day.cast("int64"),
        first_ts="first_ts",
        last_ts="last_ts",
        **{c: agg[c].cast("int64") for c in _SESSION_COUNTS},
    )


def counter_hit(t: ibis.Table, counter: str) -> ibis.BooleanValue:
    """Whether an event of `t` counts toward `counter` (COUNTERS): the one definition the rollup is built
    with and the raw path of every routed figure uses, so the two agree by construction."""
    names, _ = COUNTERS[counter]
    return t.name.isin(names) if len(names) > 1 else t.name == names[0]


def counter_value(t: ibis.Table, counter: str) -> ibis.IntegerValue:
    """An event's contribution to `counter`: 1 (or its field) when it counts, else 0 (or NULL)."""
    _, field = COUNTERS[counter]
    hit = counter_hit(t, counter)
    return hit.cast("int64") if field is None else ibis.ifelse(hit, t[field].cast("int64"), None)


def _counter(t: ibis.Table, counter: str) -> ibis.IntegerValue:
    # 0, not NULL, for a day without such an event (or without the field): sums of sums stay plain sums.
    return counter_value(t, counter).sum().fill_null(0)


def _src() -> ibis.Table:
    return ibis.table(events_table().schema(), name="_rollup_src")


def delta_sql(app_id: str, tz: str, first: dt.date, last: dt.date) -> str:
    """DuckDB SQL aggregating the `_rollup_src` view (the new events) into rollup rows; templated like every
    metric query, so a refresh does not pay Ibis' compile time (dashboard.warm_up compiles it once)."""
    return compile_sql(aggregate(_src(), app_id, tz, first, last), "duckdb")


def delta_sessions_sql(app_id: str, tz: str, first: dt.date, last: dt.date) -> str:
    """Like delta_sql, for the session rollup rows of the `_rollup_src` view."""
    return compile_sql(aggregate_sessions(_src(), app_id, tz, first, last), "duckdb")


def _span(lo: Any, hi: Any) -> tuple[dt.date, dt.date]:
    """Local-date bounds for events with UTC times lo..hi: one day of margin covers any UTC offset."""
    return lo.date() - dt.timedelta(days=1), hi.date() + dt.timedelta(days=1)


def _from_us(us: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(us))


# One lock per DuckDB database: two refreshes of the same rollup must not merge the same events twice.
_locks: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def _lock_for(owner: Any) -> threading.Lock:
    with _locks_guard:
        lock = _locks.get(owner)
        if lock is None:
            lock = _locks[owner] = threading.Lock()
        return lock


# Databases whose rollup table was checked for an earlier huoli's shape (_upgrade_duckdb) in this process.
_shape_checked: weakref.WeakSet[Any] = weakref.WeakSet()


def refresh_duckdb(con: duckdb.DuckDBPyConnection, app_id: str, tz: str, *, owner: Any = None) -> int:
    """Bring the (app, tz) rollup up to date with every event committed before this call; returns the
    number of new events folded in. `con` must be a cursor of its own (this runs one transaction on it);
    `owner` is the object whose lock serialises refreshes of that database (default: the connection)."""
    TimeBase(tz)  # a bad timezone is a request error before any DDL runs
    key = owner if owner is not None else con
    with _lock_for(key):
        con.execute(_STATE_DDL)
        if key not in _shape_checked:  # once per database object, not on every request's refresh
            _upgrade_duckdb(con)
            _shape_checked.add(key)
        con.execute(_DUCKDB_DDL)
        con.execute(_SESSIONS_DDL)
        con.execute("BEGIN TRANSACTION")
        try:
            n = _refresh_in_transaction(con, app_id, tz)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return n


def _upgrade_duckdb(con: duckdb.DuckDBPyConnection) -> None:
    """Rollups written by an earlier huoli (other columns, or no session rollup beside the user days) are
    derived data: drop them, and the next refresh rebuilds both from the events (one watermark)."""

    def columns(table: str) -> list[str]:
        sql = "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position"
        return [r[0] for r in con.execute(sql, [table]).fetchall()]

    days, sessions = columns(USER_DAYS), columns(USER_SESSIONS)
    if (days or sessions) and (days != ROLLUP_SCHEMA.names or sessions != SESSIONS_SCHEMA.names):
        con.execute(f"DROP TABLE IF EXISTS {USER_DAYS}")
        con.execute(f"DROP TABLE IF EXISTS {USER_SESSIONS}")
        con.execute("DELETE FROM user_days_state")


def _refresh_in_transaction(con: duckdb.DuckDBPyConnection, app_id: str, tz: str) -> int:
    row = con.execute(
        "SELECT watermark FROM user_days_state WHERE app_id = ? AND tz = ?", [app_id, tz]
    ).fetchone()
    lo = int(row[0]) if row else -1
    hi_row = con.execute(f"SELECT max(rowid) FROM {EVENTS_TABLE}").fetchone()
    hi = int(hi_row[0]) if hi_row and hi_row[0] is not None else -1
    if hi <= lo:
        return 0
    # The events ingested since the watermark (rowid order = commit order), of this app only. Temp objects
    # live in the refresh's transaction: a failure rolls them back, so they are dropped on success only (a
    # DROP in the aborted transaction would hide the real error).
    app_lit = app_id.replace("'", "''")
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW _rollup_src AS SELECT * FROM {EVENTS_TABLE} "
        f"WHERE rowid > {lo} AND rowid <= {hi} AND app_id = '{app_lit}'"
    )
    n, us_lo, us_hi = con.execute(  # type: ignore[misc]
        "SELECT count(*), epoch_us(min(ts)), epoch_us(max(ts)) FROM _rollup_src"
    ).fetchone()
    if n:
        first, last = _span(_from_us(us_lo), _from_us(us_hi))
        sql = delta_sql(app_id, tz, first, last)
        sessions_sql = delta_sessions_sql(app_id, tz, first, last)
        if lo < 0:
            # First build: no rows to merge with; sorted by day so range reads skip by zone maps.
            con.execute(f"INSERT INTO {USER_DAYS} SELECT * FROM ({sql}) ORDER BY day")
            con.execute(f"INSERT INTO {USER_SESSIONS} SELECT * FROM ({sessions_sql}) ORDER BY first_day")
        else:
            _merge(con, sql)
            _merge_sessions(con, sessions_sql, app_id, tz, hi)
    con.execute("DROP VIEW IF EXISTS _rollup_src")
    con.execute("INSERT OR REPLACE INTO user_days_state VALUES (?, ?, ?)", [app_id, tz, hi])
    return int(n)


def _merge(con: duckdb.DuckDBPyConnection, delta_sql: str) -> None:
    """Fold new per-(actor, day) aggregates into the stored rows of the same keys (and add new keys)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _rollup_delta AS {delta_sql}")
    keys = "u.app_id = d.app_id AND u.tz = d.tz AND u.actor = d.actor AND u.day = d.day"
    lo_day, hi_day = con.execute("SELECT min(day), max(day) FROM _rollup_delta").fetchone()  # type: ignore[misc]
    near = f"u.day BETWEEN {int(lo_day)} AND {int(hi_day)}"  # lets the scan skip far-off days
    counters = "".join(f", d.{c} + coalesce(u.{c}, 0) AS {c}" for c in COUNTERS)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _rollup_merged AS
        SELECT d.app_id, d.tz, d.actor, d.day,
               d.events + coalesce(u.events, 0) AS events,
               d.opens + coalesce(u.opens, 0) AS opens,
               CASE WHEN u.first_ts IS NULL OR d.first_ts < u.first_ts THEN d.first_ts ELSE u.first_ts END
                 AS first_ts,
               CASE WHEN u.last_ts IS NULL OR d.last_ts > u.last_ts THEN d.last_ts ELSE u.last_ts END
                 AS last_ts{counters}
        FROM _rollup_delta d LEFT JOIN (SELECT * FROM {USER_DAYS} u WHERE {near}) u ON {keys}
        """
    )
    con.execute(f"DELETE FROM {USER_DAYS} u USING _rollup_delta d WHERE {near} AND {keys}")
    con.execute(f"INSERT INTO {USER_DAYS} SELECT * FROM _rollup_merged")
    con.execute("DROP TABLE IF EXISTS _rollup_delta")
    con.execute("DROP TABLE IF EXISTS _rollup_merged")


def _merge_sessions(con: duckdb.DuckDBPyConnection, sessions_sql: str, app_id: str, tz: str, hi: int) -> None:
    """Recompute every session the new events touch from all of its events up to the watermark `hi`. Its
    distinct pages do not add up, so the stored row is replaced, not summed into; its events lie between the
    stored row's first and last time and the new events', which bounds the scan (the events table is
    roughly in time order, so zone maps skip the rest)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _sess_delta AS {sessions_sql}")
    app_lit, tz_lit = app_id.replace("'", "''"), tz.replace("'", "''")
    keys = f"u.app_id = '{app_lit}' AND u.tz = '{tz_lit}' AND u.sess = d.sess"
    lo_us, hi_us = con.execute(  # type: ignore[misc]
        "SELECT epoch_us(min(least(d.first_ts, coalesce(u.first_ts, d.first_ts)))), "
        "epoch_us(max(greatest(d.last_ts, coalesce(u.last_ts, d.last_ts)))) "
        f"FROM _sess_delta d LEFT JOIN {USER_SESSIONS} u ON {keys}"
    ).fetchone()
    if lo_us is None:
        con.execute("DROP TABLE _sess_delta")
        return
    lo_ts, hi_ts = _from_us(lo_us).isoformat(), _from_us(hi_us).isoformat()
    # The touched sessions' whole event history (rowid ≤ hi: what this refresh's watermark covers).
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW _rollup_src AS SELECT * FROM {EVENTS_TABLE} "
        f"WHERE rowid <= {hi} AND app_id = '{app_lit}' AND ts >= TIMESTAMPTZ '{lo_ts}' "
        f"AND ts <= TIMESTAMPTZ '{hi_ts}' "
        "AND session_id IN (SELECT sess FROM _sess_delta)"  # not coalesce(…, event_id): 7× slower scan
    )
    first, last = _span(_from_us(lo_us), _from_us(hi_us))
    full_sql = delta_sessions_sql(app_id, tz, first, last)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _sess_full AS {full_sql}")
    con.execute(f"DELETE FROM {USER_SESSIONS} u USING _sess_delta d WHERE {keys}")
    # An open without a session id is a session of one event, complete in the delta already.
    con.execute(
        f"INSERT INTO {USER_SESSIONS} SELECT * FROM _sess_full UNION ALL "
        "SELECT * FROM _sess_delta WHERE sess NOT IN (SELECT sess FROM _sess_full)"
    )
    con.execute("DROP TABLE IF EXISTS _sess_delta")
    con.execute("DROP TABLE IF EXISTS _sess_full")


def build_clickhouse(run: Any, app_id: str, tz: str) -> None:
    """chdb / ClickHouse: (re)build the (app, tz) rollups in full from the events with `run(sql)`."""
    app, zone = _ch_quote(app_id), _ch_quote(tz)
    for table, schema, ddl in (
        (USER_DAYS, ROLLUP_SCHEMA, _CLICKHOUSE_DDL),
        (USER_SESSIONS, SESSIONS_SCHEMA, _SESSIONS_CLICKHOUSE_DDL),
    ):
        have = run(
            "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = "
            f"'{table}' ORDER BY position"
        ).to_pylist()
        if have and [r["name"] for r in have] != schema.names:  # an earlier huoli's rollup: rebuilt
            run(f"DROP TABLE {table}")
        run(ddl)
        run(
            f"ALTER TABLE {table} DELETE WHERE app_id = '{app}' AND tz = '{zone}' SETTINGS mutations_sync = 2"
        )
    span = run(
        f"SELECT min(ts) AS lo, max(ts) AS hi, count() AS n FROM {EVENTS_TABLE} WHERE app_id = '{app}'"
    ).to_pylist()
    if not span or not span[0]["n"]:
        return
    first, last = _span(span[0]["lo"], span[0]["hi"])
    for table, build in ((USER_DAYS, aggregate), (USER_SESSIONS, aggregate_sessions)):
        sql = compile_sql(build(events_table(), app_id, tz, first, last), "clickhouse")
        run(f"INSERT INTO {table} SELECT * FROM ({sql})")


def _ch_quote(s: str) -> str:
    return s.replace("\\", "\\\\").replace("'", "\\'")


def register_spark(spark: Any, app_id: str, tz: str) -> None:
    """Spark (batch): `user_days` and `user_sessions` as temporary views that aggregate the `events` view
    in-query."""
    span = spark.sql(f"SELECT min(ts) AS lo, max(ts) AS hi FROM {EVENTS_TABLE}").collect()[0]
    if span["lo"] is None:
        lo = hi = dt.datetime(1970, 1, 2, tzinfo=dt.UTC)
    else:
        lo, hi = span["lo"], span["hi"]
    first, last = _span(lo, hi)
    for table, build in ((USER_DAYS, aggregate), (USER_SESSIONS, aggregate_sessions)):
        sql = compile_sql(build(events_table(), app_id, tz, first, last), "pyspark")
        spark.sql(sql).createOrReplaceTempView(table)


def prepare(engine: Any, app_id: str, tz: str) -> bool:
    """Make `user_days` and `user_sessions` current for (app, tz) on `engine`; False when the engine has no
    rollup (raw path)."""
    if isinstance(engine, ChdbEngine):
        # Straight to the session: DDL and mutations take no query-level SETTINGS suffix.
        build_clickhouse(lambda sql: engine.session.query(sql, "ArrowTable"), app_id, tz)
        return True
    if isinstance(engine, SparkEngine):
        register_spark(engine.spark, app_id, tz)
        return True
    store = getattr(engine, "store", None)
    if store is not None and getattr(store, "dialect", None) == "duckdb":
        cur, owner = store.cursor(), store  # cursor() first loads acknowledged events (before_read)
    elif (con := getattr(engine, "con", None)) is not None:  # DuckDBEngine.from_arrow: in-memory
        cur, owner = con.cursor(), engine
    else:
        return False
    try:
        refresh_duckdb(cur, app_id, tz, owner=owner)
    finally:
        cur.close()
    return True


def forget_before(con: duckdb.DuckDBPyConnection, app_id: str, cutoff: dt.datetime) -> dict[str, int]:
    """Retention: after the app's events with ts before `cutoff` were deleted, its rollup rows built only from
    such events go, and a row that also holds later events (an actor's local day or a session spanning the
    cutoff, e.g. in another timezone than the app's) is computed again from the remaining events up to its
    watermark, so the rollups equal a rebuild. Returns the rows deleted per table. `con` is a cursor of its
    own; the caller holds the rollup lock (analytics.privacy.held)."""
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    if not {"user_days_state", USER_DAYS, USER_SESSIONS} <= tables:
        return {}  # no analytics request has built a rollup yet
    counts = {USER_DAYS: 0, USER_SESSIONS: 0}
    con.execute("BEGIN TRANSACTION")
    try:
        states = con.execute(
            "SELECT tz, watermark FROM user_days_state WHERE app_id = ?", [app_id]
        ).fetchall()
        for tz, watermark in states:
            counts[USER_DAYS] += _forget_days(con, app_id, tz, int(watermark), cutoff)
            counts[USER_SESSIONS] += _forget_sessions(con, app_id, tz, int(watermark), cutoff)
        # Deleted events may have been the newest (late ones with an old ts): their rowids can be handed out
        # again, so a watermark above the highest remaining rowid comes down to it (as after an erasure).
        top = con.execute(f"SELECT coalesce(max(rowid), -1) FROM {EVENTS_TABLE}").fetchall()[0][0]
        con.execute("UPDATE user_days_state SET watermark = ? WHERE watermark > ?", [top, top])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts


def _remaining(app_id: str, watermark: int, cutoff: dt.datetime, hi_us: int, which: str) -> str:
    """The `_rollup_src` view: the app's events from the cutoff on that the (app, tz) rollup had folded in,
    restricted by `which` (a condition on the events)."""
    app_lit = app_id.replace("'", "''")
    return (
        f"CREATE OR REPLACE TEMP VIEW _rollup_src AS SELECT * FROM {EVENTS_TABLE} "
        f"WHERE rowid <= {int(watermark)} AND app_id = '{app_lit}' "
        f"AND ts >= TIMESTAMPTZ '{cutoff.astimezone(dt.UTC).isoformat()}' "
        f"AND ts <= TIMESTAMPTZ '{_from_us(hi_us).isoformat()}' AND {which}"
    )


def _forget_days(
    con: duckdb.DuckDBPyConnection, app_id: str, tz: str, watermark: int, cutoff: dt.datetime
) -> int:
    gone = con.execute(
        f"DELETE FROM {USER_DAYS} WHERE app_id = ? AND tz = ? AND last_ts < ?", [app_id, tz, cutoff]
    ).fetchall()[0][0]
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _retain_days AS SELECT actor, day, last_ts FROM {USER_DAYS} "
        "WHERE app_id = ? AND tz = ? AND first_ts < ?",
        [app_id, tz, cutoff],
    )
    (hi_us,) = con.execute("SELECT epoch_us(max(last_ts)) FROM _retain_days").fetchone()  # type: ignore[misc]
    if hi_us is not None:
        # Days spanning the cutoff: their remaining events (at least the one at last_ts) make the new row.
        con.execute(
            _remaining(
                app_id,
                watermark,
                cutoff,
                hi_us,
                "coalesce(user_id, anonymous_id) IN (SELECT actor FROM _retain_days)",
            )
        )
        us_lo, us_hi = con.execute(  # type: ignore[misc]
            "SELECT epoch_us(min(ts)), epoch_us(max(ts)) FROM _rollup_src"
        ).fetchone()
        first, last = _span(_from_us(us_lo), _from_us(us_hi))
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _retain_new AS SELECT d.* FROM ({delta_sql(app_id, tz, first, last)}) d "
            "JOIN _retain_days r ON d.actor = r.actor AND d.day = r.day"
        )
        con.execute(
            f"DELETE FROM {USER_DAYS} u USING _retain_days r "
            "WHERE u.app_id = ? AND u.tz = ? AND u.actor = r.actor AND u.day = r.day",
            [app_id, tz],
        )
        con.execute(f"INSERT INTO {USER_DAYS} SELECT * FROM _retain_new")
        con.execute("DROP VIEW IF EXISTS _rollup_src")
        con.execute("DROP TABLE IF EXISTS _retain_new")
    con.execute("DROP TABLE IF EXISTS _retain_days")
    return int(gone)


def _forget_sessions(
    con: duckdb.DuckDBPyConnection, app_id: str, tz: str, watermark: int, cutoff: dt.datetime
) -> int:
    gone = con.execute(
        f"DELETE FROM {USER_SESSIONS} WHERE app_id = ? AND tz = ? AND last_ts < ?", [app_id, tz, cutoff]
    ).fetchall()[0][0]
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _retain_sess AS SELECT sess, last_ts FROM {USER_SESSIONS} "
        "WHERE app_id = ? AND tz = ? AND first_ts < ?",
        [app_id, tz, cutoff],
    )
    (hi_us,) = con.execute("SELECT epoch_us(max(last_ts)) FROM _retain_sess").fetchone()  # type: ignore[misc]
    if hi_us is not None:
        # Sessions spanning the cutoff (they have a session id: an open without one is a single event).
        con.execute(
            f"DELETE FROM {USER_SESSIONS} u USING _retain_sess r WHERE u.app_id = ? AND u.tz = ? AND u.sess = r.sess",
            [app_id, tz],
        )
        con.execute(
            _remaining(app_id, watermark, cutoff, hi_us, "session_id IN (SELECT sess FROM _retain_sess)")
        )
        n, us_lo, us_hi = con.execute(  # type: ignore[misc]
            "SELECT count(*), epoch_us(min(ts)), epoch_us(max(ts)) FROM _rollup_src"
        ).fetchone()
        if n:
            first, last = _span(_from_us(us_lo), _from_us(us_hi))
            con.execute(
                f"INSERT INTO {USER_SESSIONS} SELECT * FROM ({delta_sessions_sql(app_id, tz, first, last)})"
            )
        con.execute("DROP VIEW IF EXISTS _rollup_src")
    con.execute("DROP TABLE IF EXISTS _retain_sess")
    return int(gone)
