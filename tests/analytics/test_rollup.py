"""The user-day rollup: every routed metric gives the raw path's numbers on DuckDB, chdb and Spark; the
incremental refresh (incl. late events for old days) equals a full rebuild; the +08:00 day boundary."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from huoli.analytics import rollup
from huoli.analytics.engines import DuckDBEngine
from huoli.analytics.frame import Frame
from huoli.analytics.registry import METRICS
from huoli.analytics.service import parse
from huoli.analytics.timebase import day_number
from huoli.demo.generator import DemoSpec, generate
from huoli.events.catalog import CATALOG
from huoli.events.schema import EVENT_SCHEMA
from huoli.events.stores import DuckDBEventStore
from huoli.runtime import Runtime

from .conftest import Loader
from .fixtures import APP, at, ev, table

pytestmark = pytest.mark.timeout(1800)

TZ = "Asia/Shanghai"
END = dt.date(2026, 3, 21)
NOW = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
RANGE = {"start": "2026-03-01", "end": "2026-03-21"}
FILTER = [{"field": "scene_group", "op": "ne", "value": "ads"}]
# Every routed metric shape, plus filters and a breakdown that must send (parts of) them to the raw path.
CASES: list[tuple[str, dict[str, Any]]] = [
    ("activity", {}),
    ("activity", {"filters": FILTER}),
    ("activity", {"user_filters": [{"field": "first_channel", "op": "in", "value": ["ads", "share"]}]}),
    ("retention", {"periods": 14}),
    ("retention", {"cohort": "recurring", "period": "week", "periods": 2, "criterion": "on_or_after"}),
    ("retention", {"brackets": [[1, 1], [2, 7], [8, 14]]}),
    ("retention", {"preset": "wechat_new"}),
    ("retention", {"preset": "wechat_active", "start": "2026-03-10", "end": "2026-03-12"}),
    ("retention", {"period": "month", "periods": 1, "start": "2026-02-01"}),
    ("retention", {"periods": 7, "filters": FILTER}),
    ("retention", {"periods": 7, "breakdown": "channel"}),
    ("lifecycle", {}),
    ("lifecycle", {"period": "week", "start": "2026-02-02"}),
    ("lifecycle", {"period": "month", "start": "2026-01-01"}),
    ("lifecycle", {"filters": FILTER}),
    # Whole-range figures from the per-day counters; a breakdown or filter sends them to the raw path.
    ("conversion", {}),
    ("conversion", {"breakdown": "channel"}),
    ("interaction", {}),
    ("interaction", {"filters": FILTER}),
    ("acquisition", {}),
]
SPARK_CASES = [0, 1, 3, 6, 12, 15, 17]  # Spark plans each query in seconds: one or two per metric


@pytest.fixture(scope="module")
def log() -> pa.Table:
    spec = DemoSpec(users=600, days=60, end_date=END, app_id=APP, seed=7)
    return pa.Table.from_batches(list(generate(spec, batch_users=600)), schema=EVENT_SCHEMA)


def _run(engine: Any, metric: str, body: dict[str, Any], rollup_tz: str | None, tz: str = TZ) -> Any:
    req = parse(metric, body)
    frame = Frame(
        engine=engine,
        app_id=APP,
        query=req,
        tz=tz,
        now=NOW,
        known_events=frozenset(CATALOG),
        rollup_tz=rollup_tz,
    )
    return METRICS[metric].run(frame, req, None)


def _raw_and_rolled(engine: Any, cases: list[int]) -> list[tuple[Any, Any]]:
    assert rollup.prepare(engine, APP, TZ)
    out = []
    for i in cases:
        metric, extra = CASES[i]
        body = {**RANGE, **extra}
        out.append((_run(engine, metric, body, None), _run(engine, metric, body, TZ)))
    return out


@pytest.mark.slow
def test_rollup_equals_raw_on_every_engine(log: pa.Table, load: Loader) -> None:
    kind = load.engine_kind  # type: ignore[attr-defined]
    cases = SPARK_CASES if kind == "spark" else list(range(len(CASES)))
    engine = load(log)
    for i, (raw, rolled) in zip(cases, _raw_and_rolled(engine, cases), strict=True):
        assert raw == rolled, f"{kind}: {CASES[i]}"
    act = _run(engine, "activity", RANGE, TZ)
    assert max(r["dau"] for r in act["series"]) > 20  # not a vacuous comparison
    conv = _run(engine, "conversion", RANGE, TZ)[0]
    assert conv["gmv_fen"] > 0 and conv["order_users"] > 0 and conv["add_to_cart_rate"]
    (inter,) = _run(engine, "interaction", RANGE, TZ)
    assert inter["share"]["users"] > 0 and inter["favorite"]["events"] > 0


def _corrupt(engine: Any, sql: str) -> None:
    engine.con.execute(sql)


@pytest.mark.parametrize(
    ("metric", "body"),
    [
        ("activity", RANGE),
        ("retention", {**RANGE, "periods": 7}),
        ("retention", {**RANGE, "preset": "wechat_new"}),
        ("lifecycle", RANGE),
        ("conversion", RANGE),
        ("interaction", RANGE),
        ("acquisition", RANGE),
    ],
)
def test_routed_metrics_read_the_rollup(log: pa.Table, metric: str, body: dict[str, Any]) -> None:
    """A wrong rollup gives wrong numbers: proof that these metrics are answered from it."""
    engine = DuckDBEngine.from_arrow(log)
    assert rollup.prepare(engine, APP, TZ)
    good = _run(engine, metric, body, TZ)
    assert good == _run(engine, metric, body, None)
    # Drop a third of the rows of the range's days (and all open counts) from the rollup only.
    _corrupt(
        engine,
        f"DELETE FROM user_days WHERE hash(actor) % 3 = 0 AND day >= {day_number(dt.date(2026, 3, 1))}",
    )
    _corrupt(engine, "UPDATE user_days SET opens = 0 WHERE hash(actor) % 3 = 1")
    assert _run(engine, metric, body, TZ) != good
    assert _run(engine, metric, body, None) == good  # the raw path never reads it
    # Another timezone than the rollup's: raw path.
    assert _run(engine, metric, body, TZ, tz="Asia/Tokyo") == _run(
        engine, metric, body, None, tz="Asia/Tokyo"
    )


def _rollup_rows(con: Any) -> list[tuple[Any, ...]]:
    counters = "".join(f", {c}" for c in rollup.COUNTERS)
    return con.execute(
        "SELECT app_id, tz, actor, day, events, opens, epoch_us(first_ts), epoch_us(last_ts)"
        f"{counters} FROM user_days ORDER BY ALL"
    ).fetchall()


def _late_events() -> pa.Table:
    """New events ingested after the rest: a late one on an old day for an existing user (a new row and a
    merged row), a brand-new user whose first day is in the past, and today's activity."""
    return table(
        [
            ev("app_show", "late-1", at("2026-02-10", "23:59")),
            ev("page_view", "late-1", at("2026-02-11", "00:01")),
            ev("app_show", "late-1", at("2026-03-05", "09:00")),
        ]
    )


def test_incremental_refresh_equals_a_full_rebuild(log: pa.Table) -> None:
    ts = log.column("ts").cast(pa.int64()).to_numpy()
    cut = int(dt.datetime(2026, 3, 8, tzinfo=dt.UTC).timestamp() * 1_000_000)
    early, later = log.filter(pa.array(ts < cut)), log.filter(pa.array(ts >= cut))
    # An existing user's late events for old days, arriving with the later batch.
    old_user = log.column("user_id")[0].as_py()
    stray = table(
        [
            ev("app_show", old_user, at("2026-01-25", "08:00")),
            ev("add_to_cart", old_user, at("2026-02-20", "23:59")),
        ]
    )
    engine = DuckDBEngine.from_arrow(early)
    con = engine.con  # type: ignore[attr-defined]
    assert rollup.prepare(engine, APP, TZ)
    body = {**RANGE, "periods": 14}
    assert _run(engine, "retention", body, TZ) == _run(engine, "retention", body, None)
    for part in (later, stray, _late_events()):
        con.register("_more", part.select(EVENT_SCHEMA.names).cast(EVENT_SCHEMA))
        con.execute("INSERT INTO events SELECT * FROM _more")
        con.unregister("_more")
        assert rollup.refresh_duckdb(con.cursor(), APP, TZ, owner=engine) == part.num_rows
    assert rollup.refresh_duckdb(con.cursor(), APP, TZ, owner=engine) == 0  # nothing new: nothing changes
    full = DuckDBEngine.from_arrow(pa.concat_tables([early, later, stray, _late_events()]))
    assert rollup.prepare(full, APP, TZ)
    assert _rollup_rows(con) == _rollup_rows(full.con)  # type: ignore[attr-defined]
    for metric, extra in CASES:
        b = {**RANGE, **extra}
        assert _run(engine, metric, b, TZ) == _run(full, metric, b, None), (metric, extra)


def test_the_plus_eight_day_boundary(load: Loader) -> None:
    """23:59 and 00:01 in +08:00 are the same UTC day but two local days: two rollup rows, D1 retained."""
    rows = [
        ev("app_show", "u1", at("2026-03-01", "23:59")),
        ev("app_show", "u1", at("2026-03-02", "00:01")),
        ev("page_view", "u2", at("2026-03-02", "00:01")),
        ev("app_show", "u3", at("2026-03-01", "00:00")),
        ev("app_show", "u3", at("2026-03-02", "23:59:59")),
    ]
    engine = load(table(rows))
    assert rollup.prepare(engine, APP, TZ)
    body = {"start": "2026-03-01", "end": "2026-03-02"}
    act = _run(engine, "activity", body, TZ)
    assert [r["dau"] for r in act["series"]] == [2, 3]
    assert [r["mau"] for r in act["series"]] == [2, 3]
    ret = _run(engine, "retention", {**body, "periods": 1}, TZ)
    assert [(r["size"], r["retained"]) for r in ret["rows"]] == [(2, [2, 2]), (1, [1, 0])]
    opens = _run(engine, "retention", {**body, "preset": "wechat_new"}, TZ)
    assert [r["size"] for r in opens["rows"]] == [2]  # u2 never opened: not in the opens cohort
    life = _run(engine, "lifecycle", body, TZ)
    assert [(r["new"], r["returning"]) for r in life["rows"]] == [(2, 0), (1, 2)]
    for metric, b in (("activity", body), ("retention", {**body, "periods": 1}), ("lifecycle", body)):
        assert _run(engine, metric, b, TZ) == _run(engine, metric, b, None)


def test_the_event_store_rollup_is_incremental_and_persistent(tmp_path: Any) -> None:
    path = str(tmp_path / "events.duckdb")
    store = DuckDBEventStore(path)
    store.append([table([ev("app_show", "u1", at("2026-03-01", "10:00"))])])
    engine = DuckDBEngine(store)
    assert rollup.prepare(engine, APP, TZ)
    body = {"start": "2026-03-01", "end": "2026-03-02"}
    assert [r["dau"] for r in _run(engine, "activity", body, TZ)["series"]] == [1, 0]
    store.append([table([ev("app_show", "u2", at("2026-03-02", "00:01")), *_late_events().to_pylist()])])
    store.close()
    store = DuckDBEventStore(path)  # the rollup and its watermark survive a restart
    engine = DuckDBEngine(store)
    state = store.query("SELECT watermark FROM user_days_state").column(0).to_pylist()
    assert state == [0]
    assert rollup.prepare(engine, APP, TZ)
    assert [r["dau"] for r in _run(engine, "activity", body, TZ)["series"]] == [1, 1]
    life = _run(engine, "lifecycle", {"start": "2026-02-10", "end": "2026-02-11"}, TZ)
    assert [r["new"] for r in life["rows"]] == [1, 0] and life == _run(
        engine, "lifecycle", {"start": "2026-02-10", "end": "2026-02-11"}, None
    )
    store.close()


def test_service_refreshes_the_rollup_before_each_metric(
    client: TestClient, runtime: Runtime, make_app: Callable[..., Any], clock: Any
) -> None:
    clock.set(dt.datetime(2026, 3, 3, 8, tzinfo=dt.UTC))
    app = make_app()
    runtime.store.append([table([ev("app_show", "u1", at("2026-03-02", "10:00"), app_id=app.id)])])
    body = {"start": "2026-03-01", "end": "2026-03-03"}

    def series(extra: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        r = client.post(
            "/admin/analytics/activity",
            json={**body, **(extra or {})},
            headers={"Authorization": f"Bearer {app.keys['analyst']}"},
        )
        assert r.status_code == 200, r.text
        result: list[dict[str, Any]] = r.json()["result"]["series"]
        return result

    assert [r["dau"] for r in series()] == [0, 1, 0]
    # A late event for an old day, then today's: both counted on the next request.
    runtime.store.append(
        [
            table(
                [
                    ev("app_show", "u2", at("2026-03-01", "23:59"), app_id=app.id),
                    ev("app_show", "u3", at("2026-03-03", "00:01"), app_id=app.id),
                ]
            )
        ]
    )
    again = series()
    assert [r["dau"] for r in again] == [1, 1, 1] and [r["mau"] for r in again] == [1, 2, 3]
    rows = runtime.store.query("SELECT count(*) FROM user_days WHERE app_id = ?", [app.id]).column(0)
    assert rows.to_pylist() == [3]
    # Another timezone than the app's takes the raw path and agrees with the day boundary there.
    assert [r["dau"] for r in series({"tz": "UTC"})] == [1, 2, 0]


def test_refreshes_racing_with_ingestion_equal_a_rebuild(log: pa.Table, tmp_path: Any) -> None:
    """Appends on one thread, two threads refreshing meanwhile: every event is folded in exactly once."""
    import threading

    store = DuckDBEventStore(str(tmp_path / "events.duckdb"))
    engine = DuckDBEngine(store)
    batches = [log.slice(i, 4000) for i in range(0, log.num_rows, 4000)]
    done = threading.Event()
    errors: list[BaseException] = []
    folds: list[int] = []

    def ingest() -> None:
        try:
            for b in batches:
                store.append([b])
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            done.set()

    def refresh() -> None:
        try:
            while not done.is_set():
                cur = store.cursor()
                folds.append(rollup.refresh_duckdb(cur, APP, TZ, owner=store))
                cur.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=ingest),
        threading.Thread(target=refresh),
        threading.Thread(target=refresh),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors
    assert sum(n > 0 for n in folds) >= 3  # the refreshes really did interleave with the appends
    rollup.prepare(engine, APP, TZ)
    folded = store.query("SELECT sum(events) AS n FROM user_days").column(0).to_pylist()
    assert folded == [log.num_rows]
    full = DuckDBEngine.from_arrow(log)
    assert rollup.prepare(full, APP, TZ)
    con = store.cursor()
    assert _rollup_rows(con) == _rollup_rows(full.con)  # type: ignore[attr-defined]
    con.close()
    store.close()


def test_a_rollup_of_an_earlier_shape_is_rebuilt(log: pa.Table) -> None:
    """A store whose user_days predates the counters (other columns) is rebuilt from the events, not read."""
    engine = DuckDBEngine.from_arrow(log)
    con = engine.con  # type: ignore[attr-defined]
    con.execute(
        "CREATE TABLE user_days (app_id VARCHAR NOT NULL, tz VARCHAR NOT NULL, actor VARCHAR NOT NULL, "
        "day BIGINT NOT NULL, events BIGINT NOT NULL, opens BIGINT NOT NULL, first_ts TIMESTAMPTZ NOT NULL, "
        "last_ts TIMESTAMPTZ NOT NULL)"
    )
    con.execute(
        "CREATE TABLE user_days_state (app_id VARCHAR, tz VARCHAR, watermark BIGINT, PRIMARY KEY (app_id, tz))"
    )
    con.execute(
        f"INSERT INTO user_days_state VALUES ('{APP}', '{TZ}', 1000000000)"
    )  # "up to date", and empty
    assert rollup.prepare(engine, APP, TZ)
    columns = [d[0] for d in con.execute("SELECT * FROM user_days LIMIT 0").description]
    assert columns == rollup.ROLLUP_SCHEMA.names
    assert con.execute("SELECT count(*) FROM user_days").fetchall()[0][0] > 1000  # rebuilt from the events
    for metric in ("activity", "interaction", "conversion"):
        assert _run(engine, metric, RANGE, TZ) == _run(engine, metric, RANGE, None), metric


def _sessions_log() -> list[dict[str, Any]]:
    """Sessions around the edges of the range 2026-03-02..03 (+08:00), by hand."""

    def pv(user: str, day: str, hm: str, sess: str, page: str | None) -> dict[str, Any]:
        return ev("page_view", user, at(day, hm), session_id=sess, page=page)

    return [
        # s1 starts before the range: only its two page views on 03-02 count (two pages, no open).
        ev("app_show", "u1", at("2026-03-01", "23:50"), session_id="s1"),
        pv("u1", "2026-03-01", "23:55", "s1", "pages/a"),
        pv("u1", "2026-03-02", "00:05", "s1", "pages/b"),
        pv("u1", "2026-03-02", "00:10", "s1", "pages/a"),
        # s2 runs past the range: its launch and one view count, so inside the range it bounced.
        ev("app_launch", "u2", at("2026-03-03", "23:58"), session_id="s2"),
        pv("u2", "2026-03-03", "23:59", "s2", "pages/c"),
        pv("u2", "2026-03-04", "00:01", "s2", "pages/c"),
        # s3 inside: two warm starts (shows win over the launch), three views of two pages.
        ev("app_launch", "u3", at("2026-03-02", "09:00"), session_id="s3"),
        ev("app_show", "u3", at("2026-03-02", "09:00:01"), session_id="s3"),
        ev("app_show", "u3", at("2026-03-02", "09:20"), session_id="s3"),
        pv("u3", "2026-03-02", "09:01", "s3", "pages/a"),
        pv("u3", "2026-03-02", "09:02", "s3", "pages/a"),
        pv("u3", "2026-03-02", "09:03", "s3", "pages/b"),
        # s4 crosses the midnight inside the range, one page on both days (distinct pages do not add up),
        # and its person signs in halfway (another actor, the same session).
        pv("u4", "2026-03-02", "23:59", "s4", "pages/d"),
        pv("u4-signed-in", "2026-03-03", "00:01", "s4", "pages/d"),
        # Opens without a session id are sessions of their own; a page view without one is in no session.
        ev("app_show", "u5", at("2026-03-03", "10:00")),
        ev("app_show", "u5", at("2026-03-03", "11:00")),
        ev("page_view", "u5", at("2026-03-03", "10:01"), page="pages/e"),
        # s6: a page view without a page: a view, no page.
        pv("u6", "2026-03-02", "12:00", "s6", None),
        # s7 spans the whole range and beyond: one view inside it.
        ev("app_show", "u7", at("2026-03-01", "23:00"), session_id="s7"),
        pv("u7", "2026-03-02", "12:00", "s7", "pages/f"),
        pv("u7", "2026-03-04", "01:00", "s7", "pages/g"),
        # Outside the range entirely.
        ev("app_show", "u8", at("2026-03-05", "10:00"), session_id="s8"),
        pv("u8", "2026-03-05", "10:01", "s8", "pages/a"),
    ]


SESSION_RANGE = {"start": "2026-03-02", "end": "2026-03-03"}


def test_session_figures_at_the_range_edges(load: Loader) -> None:
    """Opens, visit depth and bounce from the session rollup equal the raw path on every engine, also for
    sessions that cross the range's first or last midnight (they count only their events inside it)."""
    engine = load(table(_sessions_log()))
    assert rollup.prepare(engine, APP, TZ)
    (rolled,) = _run(engine, "activity", SESSION_RANGE, TZ)["totals"]
    (raw,) = _run(engine, "activity", SESSION_RANGE, None)["totals"]
    assert rolled == raw
    # sessions with a view inside: s1 (2 views, 2 pages), s2 (1, 1), s3 (3, 2), s4 (2, 1), s6 (1, 0),
    # s7 (1, 1): 7 pages over 6 sessions, 3 of a single view; opens: s2 1 + s3 2 + u5's two.
    assert rolled["opens"] == 5
    assert rolled["visit_depth"] == pytest.approx(7 / 6)
    assert rolled["bounce_rate"] == pytest.approx(3 / 6)
    # One day inside the range: s4 is then an edge session too.
    day = {"start": "2026-03-03", "end": "2026-03-03"}
    assert _run(engine, "activity", day, TZ)["totals"] == _run(engine, "activity", day, None)["totals"]


def test_the_session_rollup_is_read_and_merged_exactly() -> None:
    rows = _sessions_log()
    engine = DuckDBEngine.from_arrow(table(rows[:12]))
    con = engine.con  # type: ignore[attr-defined]
    assert rollup.prepare(engine, APP, TZ)
    # The rest arrives later, some of it into sessions already in the rollup (s3 gets a page it had and a
    # new one; s1 and s2 late views): each touched session is recomputed, not summed into.
    late = [
        *rows[12:],
        ev("page_view", "u3", at("2026-03-02", "09:30"), session_id="s3", page="pages/a"),
        ev("page_view", "u3", at("2026-03-02", "09:31"), session_id="s3", page="pages/h"),
        ev("page_view", "u1", at("2026-03-02", "00:20"), session_id="s1", page="pages/c"),
    ]
    con.register("_more", table(late))
    con.execute("INSERT INTO events SELECT * FROM _more")
    assert rollup.refresh_duckdb(con.cursor(), APP, TZ, owner=engine) == len(late)
    full = DuckDBEngine.from_arrow(table(rows + late[len(rows) - 12 :]))
    assert rollup.prepare(full, APP, TZ)
    sql = "SELECT * EXCLUDE (first_ts, last_ts), epoch_us(first_ts), epoch_us(last_ts) FROM user_sessions ORDER BY ALL"
    assert con.execute(sql).fetchall() == full.con.execute(sql).fetchall()  # type: ignore[attr-defined]
    s3 = con.execute("SELECT shows, launches, views, pages FROM user_sessions WHERE sess = 's3'").fetchall()
    assert s3 == [(2, 1, 5, 3)]
    good = _run(engine, "activity", SESSION_RANGE, TZ)["totals"]
    assert good == _run(engine, "activity", SESSION_RANGE, None)["totals"]
    # A wrong session rollup gives wrong figures: proof they are read from it.
    con.execute("UPDATE user_sessions SET pages = pages + 1, shows = shows + 1 WHERE sess = 's3'")
    (bad,) = _run(engine, "activity", SESSION_RANGE, TZ)["totals"]
    assert (bad["opens"], bad["visit_depth"]) != (good[0]["opens"], good[0]["visit_depth"])


def test_session_figures_of_a_filtered_question_read_the_event_store(tmp_path: Any) -> None:
    """A filter sends the session figures to the raw path, whose session key falls back to the event id:
    the store keeps event ids as UUIDs, which DuckDB refused to mix with text session ids (a 500)."""
    store = DuckDBEventStore(str(tmp_path / "events.duckdb"))
    store.append(
        [
            table(
                [
                    ev("app_show", "u1", at("2026-03-01", "10:00")),
                    ev("app_show", "u2", at("2026-03-01", "11:00")),
                ]
            )
        ]
    )
    engine = DuckDBEngine(store)
    day = {"start": "2026-03-01", "end": "2026-03-01"}
    for extra in ({"filters": [{"field": "name", "value": "app_show"}]}, {"user_filters": [
        {"field": "first_channel", "op": "is_not_set"}
    ]}):  # fmt: skip
        series = _run(engine, "activity", day | extra, None)["series"]
        assert [(d["dau"], d["opens"]) for d in series] == [(2, 2)], extra
    store.close()
