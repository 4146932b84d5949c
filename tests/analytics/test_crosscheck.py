"""Cross-checks on real public data (../shared/data): huoli's metrics against a straightforward pandas
implementation written from the definitions in docs/metrics.md, and the sequential funnel against
ClickHouse's own windowFunnel (chdb). Numbers must agree exactly."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from huoli.analytics import value
from huoli.analytics.engines import ChdbEngine, DuckDBEngine
from huoli.analytics.frame import EventSelector, Frame, MetricQuery
from huoli.analytics.metrics import activity, lifecycle, retention
from huoli.analytics.metrics import funnel as funnels
from huoli.analytics.metrics.funnel import FunnelSpec
from huoli.analytics.metrics.retention import RetentionSpec
from huoli.events.catalog import CATALOG
from huoli.events.importer import import_file, load_mapping
from huoli.events.stores import DuckDBEventStore

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
TB_NAMES = {"pv": "view_item", "cart": "add_to_cart", "fav": "favorite", "buy": "order_paid"}


@pytest.fixture(scope="module")
def taobao(shared_data: Path) -> Iterator[tuple[DuckDBEventStore, pd.DataFrame]]:
    path = shared_data / "taobao_userbehavior_timeslice.csv"
    store = DuckDBEventStore(":memory:")
    import_file(store=store, path=path, mapping=load_mapping("taobao_userbehavior"), app_id="tb", now=NOW)
    df = pd.read_csv(path, header=None, names=["user", "item", "cat", "behavior", "unix"])
    df = df[df.behavior.isin(list(TB_NAMES))].drop_duplicates()  # the importer keys each distinct row once
    df["actor"] = "tb" + df.user.astype(str)
    df["name"] = df.behavior.map(TB_NAMES)
    df["ts"] = pd.to_datetime(df.unix, unit="s", utc=True)
    df["day"] = df.ts.dt.tz_convert("Asia/Shanghai").dt.date
    yield store, df
    store.close()


def _frame(
    engine: Any, app: str, start: dt.date, end: dt.date, tz: str = "Asia/Shanghai", **kw: Any
) -> Frame:
    return Frame(
        engine=engine, app_id=app, query=MetricQuery(start=start, end=end, tz=tz, **kw), tz=tz, now=NOW,
        known_events=frozenset(CATALOG),
    )  # fmt: skip


def _range(df: pd.DataFrame) -> tuple[dt.date, dt.date]:
    return min(df.day), max(df.day)


def test_taobao_dau_and_lifecycle(taobao: tuple[DuckDBEventStore, pd.DataFrame]) -> None:
    store, df = taobao
    start, end = _range(df)
    f = _frame(DuckDBEngine(store), "tb", start, end)
    got = {r["date"]: r["dau"] for r in activity.active_users(f)}
    want = df.groupby("day").actor.nunique()
    assert got == {d.isoformat(): int(n) for d, n in want.items()} | {
        k: 0 for k in got if dt.date.fromisoformat(k) not in want.index
    }
    assert sum(got.values()) > 1000
    # Lifecycle per day, from the definitions.
    active = df.groupby("day").actor.apply(set).to_dict()
    first = df.groupby("actor").day.min()
    rows = {r["period"]: r for r in lifecycle.compute(f)["rows"]}
    for d in sorted(active):
        prev = active.get(d - dt.timedelta(days=1), set())
        now = active[d]
        new = {a for a in now if first[a] == d}
        expect = {
            "new": len(new),
            "returning": len(now & prev),
            "resurrecting": len(now - prev - new),
            "dormant": len(prev - now),
        }
        assert {k: rows[d.isoformat()][k] for k in expect} == expect, d


def test_taobao_retention(taobao: tuple[DuckDBEventStore, pd.DataFrame]) -> None:
    store, df = taobao
    start, end = _range(df)
    f = _frame(DuckDBEngine(store), "tb", start, end)
    out = retention.compute(f, RetentionSpec(periods=7))
    first = df.groupby("actor").day.min().rename("cohort")
    days = df[["actor", "day"]].drop_duplicates().join(first, on="actor")
    days["n"] = (pd.to_datetime(days.day) - pd.to_datetime(days.cohort)).dt.days
    checked = 0
    for row in out["rows"]:
        c = dt.date.fromisoformat(row["cohort"])
        sub = days[days.cohort == c]
        assert row["size"] == sub.actor.nunique()
        for n, v in enumerate(row["retained"]):
            if v is not None:
                assert v == sub[sub.n == n].actor.nunique(), (c, n)
                checked += 1
    assert checked > 5


def _pandas_funnel(
    df: pd.DataFrame, steps: list[str], window: pd.Timedelta, start: dt.date, end: dt.date
) -> list[int]:
    """The definition, literally, with pandas merges: each user's first step-1 event in the range anchors;
    each next step is the earliest matching event at or after the previous one, within the window."""
    s1 = df[(df.name == steps[0]) & (df.day >= start) & (df.day <= end)]
    reached = s1.groupby("actor").ts.min().rename("t").reset_index()
    reached["anchor"] = reached.t
    counts = [len(reached)]
    for name in steps[1:]:
        cand = df[df.name == name][["actor", "ts"]].merge(reached, on="actor")
        cand = cand[(cand.ts >= cand.t) & (cand.ts <= cand.anchor + window)]
        reached = cand.groupby("actor").agg(t=("ts", "min"), anchor=("anchor", "first")).reset_index()
        counts.append(len(reached))
    return counts


def test_taobao_funnel_against_pandas_and_window_funnel(
    taobao: tuple[DuckDBEventStore, pd.DataFrame], chdb_engine: ChdbEngine
) -> None:
    store, df = taobao
    start, end = _range(df)
    steps = ["view_item", "add_to_cart", "order_paid"]
    spec = FunnelSpec(steps=[EventSelector(event=s) for s in steps], window_seconds=6 * 3600)
    got = [s["users"] for s in funnels.compute(_frame(DuckDBEngine(store), "tb", start, end), spec)["steps"]]
    assert got == _pandas_funnel(df, steps, pd.Timedelta(hours=6), start, end)
    assert got[2] > 10
    # ClickHouse's windowFunnel on the same events, each user's first step-1 event as the only step 1.
    chdb_engine.session.query("TRUNCATE TABLE events")
    chdb_engine.load_arrow(store.query("SELECT * FROM events"))
    levels = chdb_engine.native(
        f"""
        WITH anchors AS (
            SELECT user_id, min(ts) AS a FROM events
            WHERE app_id = 'tb' AND name = 'view_item'
              AND toDate(ts, 'Asia/Shanghai') BETWEEN '{start}' AND '{end}'
            GROUP BY user_id
        )
        SELECT level, count() AS users FROM (
            SELECT e.user_id, windowFunnel({6 * 3600})(toUInt32(toUnixTimestamp(e.ts)),
                e.ts = anchors.a AND e.name = 'view_item', e.name = 'add_to_cart', e.name = 'order_paid') AS level
            FROM events AS e INNER JOIN anchors ON e.user_id = anchors.user_id
            WHERE e.app_id = 'tb' AND e.ts >= anchors.a
            GROUP BY e.user_id
        ) GROUP BY level ORDER BY level
        """
    ).to_pylist()
    reached = {int(r["level"]): int(r["users"]) for r in levels}
    wf = [sum(u for lv, u in reached.items() if lv >= k) for k in (1, 2, 3)]
    assert got == wf


@pytest.fixture(scope="module")
def retail(shared_data: Path) -> Iterator[tuple[DuckDBEventStore, pd.DataFrame]]:
    path = shared_data / "online_retail.csv.gz"
    store = DuckDBEventStore(":memory:")
    import_file(store=store, path=path, mapping=load_mapping("online_retail"), app_id="uk", now=NOW)
    df = pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str, "UnitPrice": str})
    yield store, df
    store.close()


def test_online_retail_value(retail: tuple[DuckDBEventStore, pd.DataFrame]) -> None:
    store, df = retail
    # An invoice's amount is the sum of its lines as listed (repeated lines included), each line rounded
    # half away from zero to whole pence — exact decimal arithmetic, as the mapping defines it.
    df["line_pence"] = [
        int((abs(q * Decimal(p)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        for q, p in zip(df.Quantity, df.UnitPrice, strict=False)
    ]
    df["UnitPrice"] = df.UnitPrice.astype(float)
    df["local"] = pd.to_datetime(df.InvoiceDate)
    inv = df.groupby("InvoiceNo").agg(
        total=("line_pence", "sum"),
        value=("Quantity", lambda q: 0),
        first=("local", "min"),
        cust=("CustomerID", "first"),
    )
    signed = df.assign(v=df.Quantity * df.UnitPrice).groupby("InvoiceNo").v.sum()
    paid = inv[(~inv.index.str.startswith("C")) & (signed >= 0)].copy()
    paid["actor"] = [
        ("c" + c.replace(".0", "")) if isinstance(c, str) else "guest-" + i
        for i, c in zip(paid.index, paid.cust, strict=False)
    ]
    paid["day"] = paid["first"].dt.date
    start, end = dt.date(2011, 3, 1), dt.date(2011, 5, 31)
    sel = paid[(paid.day >= start) & (paid.day <= end)]
    f = _frame(DuckDBEngine(store), "uk", start, end, tz="Europe/London")
    (c,) = value.conversion(f)
    assert c["orders"] == len(sel)
    assert c["gmv_fen"] == int(sel.total.sum())
    per_actor = sel.groupby("actor").size()
    assert c["order_users"] == len(per_actor)
    assert c["repurchase_rate"] == pytest.approx((per_actor >= 2).sum() / len(per_actor), abs=0)
    assert c["aov_fen"] == pytest.approx(sel.total.sum() / len(sel), abs=0)
    assert c["orders"] > 5000
