"""Experiments over imported or backfilled history: metric windows follow each user's first exposure (never the
experiment's start), a past start can be recorded, results can be read as of any time, and the exposures the
analysis leaves out (anonymous, several variants) are counted. The real-data test imports UCI Online Retail
with the built-in recipe and checks every metric against an independent pandas computation."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from tests.experiments.helpers import put_events
from tests.flags.helpers import admin

from huoli.events.importer import import_file, load_mapping
from huoli.events.stores import DuckDBEventStore
from huoli.experiments.models import Experiment
from huoli.experiments.results import analyse, summarise
from huoli.experiments.schemas import MetricDef
from huoli.runtime import Runtime

HISTORY = datetime(2025, 3, 1, 4, 0, tzinfo=UTC)


def _experiment(metrics: list[MetricDef], started_at: datetime) -> Experiment:
    return Experiment(
        app_id="shop",
        key="exp",
        status="running",
        started_at=started_at,
        stats={"method": "frequentist", "alpha": 0.05, "min_users_per_variant": 1},
        variants=[{"key": "a", "weight": 0.5}, {"key": "b", "weight": 0.5}],
        metrics=[{"role": "primary", **m.model_dump(mode="json")} for m in metrics],
    )


def test_metrics_count_from_each_users_exposure_even_when_started_long_after(tmp_path: Path) -> None:
    """The defect: started_at is set when the experiment is started (after the import), and events before
    started_at − 1 day were ignored, so every metric over imported history was 0."""
    store = DuckDBEventStore(str(tmp_path / "e.duckdb"), threads=1)
    rows: list[tuple[str, str, datetime, dict[str, Any]]] = []
    expect: dict[str, dict[str, int]] = {v: {"n": 0, "in_window": 0, "any_time": 0, "early": 0} for v in "ab"}
    for i in range(40):
        user, variant, case = f"u{i}", "ab"[i % 2], (i // 2) % 4
        t0 = HISTORY + timedelta(hours=i)
        rows.append((user, "experiment_exposure", t0, {"experiment": "exp", "variant": variant}))
        order = {"order_id": f"o{i}", "amount_fen": 100}
        e = expect[variant]
        e["n"] += 1
        if case == 0:  # an hour after the user's own exposure: counts
            rows.append((user, "order_paid", t0 + timedelta(hours=1), order))
            e["in_window"] += 1
            e["any_time"] += 1
            e["early"] += 1
        elif case == 1:  # before the user's exposure: never counts
            rows.append((user, "order_paid", t0 - timedelta(hours=1), order))
        elif case == 2:  # 8 days later: outside a 7-day window, inside "no window"
            rows.append((user, "order_paid", t0 + timedelta(days=8), order))
            e["any_time"] += 1
    put_events(store, "shop", rows)
    started = HISTORY + timedelta(days=90)  # started (and so stamped) three months after the history
    as_of = started + timedelta(hours=1)
    paid7 = MetricDef(key="paid7", kind="conversion", event="order_paid", window_days=7)
    exp7 = _experiment([paid7], started)
    first = analyse(exp7, summarise(store, exp7, as_of=as_of, tz="Asia/Shanghai"))["metrics"][0]
    got = {v["variant"]: v["value"] for v in first["variants"]}
    assert got == {v: expect[v]["in_window"] / expect[v]["n"] for v in "ab"} and all(got.values())
    # No window (window_days null): every order from the user's exposure up to as_of.
    metrics = [paid7, MetricDef(key="paid", kind="conversion", event="order_paid", window_days=None)]
    exp = _experiment(metrics, started)
    out = analyse(exp, summarise(store, exp, as_of=as_of, tz="Asia/Shanghai"))
    for m, col in zip(out["metrics"], ("in_window", "any_time"), strict=True):
        got = {v["variant"]: v["value"] for v in m["variants"]}
        assert got == {v: expect[v][col] / expect[v]["n"] for v in "ab"}, m["key"]
    # As of 5 days after the history: the open window stops at as_of, so the 8-day orders are not there yet.
    early = analyse(exp, summarise(store, exp, as_of=HISTORY + timedelta(days=5), tz="Asia/Shanghai"))
    assert {v["variant"]: v["value"] for v in early["metrics"][1]["variants"]} == {
        v: expect[v]["early"] / expect[v]["n"] for v in "ab"
    }
    store.close()


# --- the API: a past start, as_of, field-level errors ---------------------------------------------------


@pytest.fixture
def shop(make_app, client: TestClient):  # type: ignore[no-untyped-def]
    app = make_app("shop")
    r = client.post(
        "/admin/flags",
        json={"key": "coupon", "type": "string", "default_value": "none"},
        headers=admin(app.keys["operator"]),
    )
    assert r.status_code == 201
    return app


def _spec(key: str, metrics: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "key": key,
        "name": key,
        "flag": "coupon",
        "variants": [
            {"key": "a", "value": "gift", "weight": 0.5},
            {"key": "b", "value": "discount", "weight": 0.5},
        ],
        "metrics": {"primary": metrics},
        "stats": {"method": "frequentist", "min_users_per_variant": 1},
    }


def test_a_past_start_is_recorded_and_a_future_one_refused(
    client: TestClient, runtime: Runtime, shop, clock
) -> None:  # type: ignore[no-untyped-def]
    clock.set(datetime(2025, 6, 1, 4, 0, tzinfo=UTC))
    op = admin(shop.keys["operator"])
    body = _spec("backfill", [{"key": "paid", "kind": "conversion", "event": "order_paid"}])
    assert client.post("/admin/experiments", json=body, headers=op).status_code == 201
    start = "/admin/experiments/backfill/start"
    for bad, why in (
        ("2025-06-02T00:00:00+08:00", "in the future"),
        ("last tuesday", "datetime"),
    ):
        r = client.post(start, json={"started_at": bad}, headers=op)
        assert r.status_code == 422, r.text
        assert [d["field"] for d in r.json()["details"]] == ["started_at"] and why in r.text
    assert client.post(start, json={"started": "2025-03-01"}, headers=op).status_code == 422  # unknown field
    assert client.get("/admin/experiments/backfill", headers=op).json()["status"] == "draft"
    # No offset: the app's timezone (Asia/Shanghai).
    r = client.post(start, json={"started_at": "2025-03-01T00:00:00"}, headers=op)
    assert r.status_code == 200, r.text
    assert datetime.fromisoformat(r.json()["started_at"]) == datetime(2025, 2, 28, 16, 0, tzinfo=UTC)
    again = client.post(start, json={"started_at": "2025-04-01T00:00:00+08:00"}, headers=op)
    assert again.status_code == 409 and again.json()["code"] == "already_running"
    assert client.post(start, headers=op).status_code == 200  # starting a running experiment is a no-op

    # Backfilled exposures and orders from March: non-zero results, as of any time.
    rows: list[tuple[str, str, datetime, dict[str, Any]]] = []
    for i in range(60):
        t0 = datetime(2025, 3, 1, 4, 0, tzinfo=UTC) + timedelta(hours=i)
        rows.append((f"u{i}", "experiment_exposure", t0, {"experiment": "backfill", "variant": "ab"[i % 2]}))
        if i % 3 == 0:
            rows.append(
                (f"u{i}", "order_paid", t0 + timedelta(hours=2), {"order_id": f"o{i}", "amount_fen": 1})
            )
    guest = {"experiment": "backfill", "variant": "a"}
    rows.append(("anon:guest-1", "experiment_exposure", datetime(2025, 3, 1, 5, tzinfo=UTC), guest))
    put_events(runtime, shop.id, rows)
    results = "/admin/experiments/backfill/results"
    r = client.get(results, params={"as_of": "yesterday"}, headers=op)
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "as_of"
    res = client.get(results, params={"as_of": "2025-03-01", "timeseries": "true"}, headers=op).json()
    assert res["as_of"] == "2025-03-02T00:00:00+08:00"  # a date: the end of that local day
    # Exposures 04:00–15:00 UTC are before the end of 1 March in Shanghai (16:00 UTC).
    assert res["exposures"]["users"] == 12 and res["exposures"]["anonymous_skipped"] == 1
    assert [p["date"] for p in res["timeseries"]] == ["2025-03-01"]
    now = client.get(results, params={"timeseries": "true"}, headers=op).json()
    assert sum(now["srm"]["users"].values()) == 60
    paid = now["metrics"][0]["variants"]
    assert [v["value"] for v in paid] == [10 / 30, 10 / 30]
    assert len(now["timeseries"]) == 31 and now["timeseries"][-1]["date"] == "2025-06-01"
    naive = client.get(results, params={"as_of": "2025-03-01T12:00:00"}, headers=op).json()
    assert naive["as_of"] == "2025-03-01T12:00:00+08:00"


# --- real data: UCI Online Retail imported with its recipe, exposures backfilled ----------------------------

START = datetime(2011, 9, 1, 0, 0, tzinfo=UTC) - timedelta(hours=1)  # 2011-09-01 00:00 in London (BST)
AS_OF = datetime(2011, 11, 15, 0, 0, tzinfo=UTC)
WINDOW = timedelta(days=30)


def _variant(user: str) -> str:
    return "ab"[hashlib.sha256(user.encode()).digest()[0] & 1]


@pytest.fixture(scope="module")
def invoices(shared_data: Path) -> pd.DataFrame:
    """One row per paid invoice, from the raw CSV with pandas (independently of the importer's SQL)."""
    df = pd.read_csv(
        shared_data / "online_retail.csv.gz", dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str}
    )
    df["ts"] = pd.to_datetime(df["InvoiceDate"]).dt.tz_localize("Europe/London").dt.tz_convert("UTC")
    milli = df["Quantity"] * (df["UnitPrice"] * 1000).round().astype(
        "int64"
    )  # exact: prices have ≤ 3 decimals
    df["milli"], df["fen"] = milli, (milli.abs() + 5) // 10  # pence, rounded half up per line
    inv = df.groupby("InvoiceNo").agg(
        ts=("ts", "min"), customer=("CustomerID", "first"), milli=("milli", "sum"), fen=("fen", "sum")
    )
    paid = inv[~inv.index.str.startswith("C") & (inv["milli"] >= 0)].copy()
    paid["user"] = "c" + paid["customer"].str.replace(".0", "", regex=False)
    return paid.reset_index()


def _backfilled_exposures(paid: pd.DataFrame) -> list[tuple[str, str, datetime, dict[str, Any]]]:
    """A post-purchase coupon test: a customer is exposed on the thank-you page of their first order since the
    start (a second later); guests (no customer id) anonymously; every 41st customer again at their next order
    with the other variant (a user in both variants)."""
    after = paid[paid["ts"] >= START].sort_values(["ts", "InvoiceNo"])
    rows: list[tuple[str, str, datetime, dict[str, Any]]] = []
    for inv in after[after["customer"].isna()].itertuples():
        props = {"experiment": "coupon", "variant": _variant(inv.InvoiceNo)}
        ts = inv.ts.to_pydatetime() + timedelta(seconds=1)
        rows.append((f"anon:guest-{inv.InvoiceNo}", "experiment_exposure", ts, props))
    for user, orders in after[after["customer"].notna()].groupby("user"):
        variant = _variant(str(user))
        for k, inv in enumerate(orders.itertuples()):
            if k == 0 or (k == 1 and int(str(user)[1:]) % 41 == 0):
                v = variant if k == 0 else "ba"["ab".index(variant)]
                ts = inv.ts.to_pydatetime() + timedelta(seconds=1)
                rows.append((str(user), "experiment_exposure", ts, {"experiment": "coupon", "variant": v}))
    return rows


def _expected(
    paid: pd.DataFrame, exposures: list[tuple[str, str, datetime, dict[str, Any]]]
) -> dict[str, Any]:
    """Per-variant values computed with pandas from the invoices and the exposure rows."""
    ex = pd.DataFrame(
        [(u, ts, p["variant"]) for u, _, ts, p in exposures if ts < AS_OF], columns=["user", "ts", "variant"]
    )
    anonymous = int(ex["user"].str.startswith("anon:").sum())
    ex = ex[~ex["user"].str.startswith("anon:")]
    per_user = ex.groupby("user").agg(
        t0=("ts", "min"), variants=("variant", "nunique"), variant=("variant", "first")
    )
    multiple = int((per_user["variants"] > 1).sum())
    users = per_user[per_user["variants"] == 1]
    orders = paid[paid["user"].isin(users.index) & (paid["ts"] < AS_OF)].join(users, on="user")
    orders = orders[orders["ts"] >= orders["t0"]]
    window = orders[orders["ts"] < orders["t0"] + WINDOW]
    out: dict[str, Any] = {"anonymous": anonymous, "multiple": multiple, "variants": {}}
    for v, group in users.groupby("variant"):
        w = window[window["variant"] == v]
        n = len(group)
        out["variants"][v] = {
            "users": n,
            "repeat": w["user"].nunique() / n,
            "revenue": w["fen"].sum() / n,
            "aov": w["fen"].sum() / len(w),
            "revenue_to_date": orders[orders["variant"] == v]["fen"].sum() / n,
        }
    return out


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the event store is what is under test
def test_imported_online_retail_with_a_past_start_matches_pandas(
    client: TestClient, runtime: Runtime, shop, invoices: pd.DataFrame, shared_data: Path
) -> None:  # type: ignore[no-untyped-def]
    op = admin(shop.keys["operator"])
    imported = import_file(
        store=runtime.store,
        path=shared_data / "online_retail.csv.gz",
        mapping=load_mapping("online_retail"),
        app_id=shop.id,
        now=runtime.clock(),
    )
    assert imported.rejected == 0
    exposures = _backfilled_exposures(invoices)
    put_events(runtime, shop.id, exposures)
    metrics = [
        {"key": "repeat", "kind": "conversion", "event": "order_paid", "window_days": 30},
        {
            "key": "revenue",
            "kind": "mean",
            "event": "order_paid",
            "property": "amount_fen",
            "window_days": 30,
        },
        {
            "key": "aov",
            "kind": "ratio",
            "event": "order_paid",
            "property": "amount_fen",
            "denominator_event": "order_paid",
            "window_days": 30,
        },
        {"key": "revenue_to_date", "kind": "mean", "event": "order_paid", "property": "amount_fen"},
    ]
    metrics[-1]["window_days"] = None  # no window: from each user's exposure to as_of
    body = _spec("coupon", metrics[:1])
    body["metrics"]["secondary"] = metrics[1:]
    assert client.post("/admin/experiments", json=body, headers=op).status_code == 201
    r = client.post(
        "/admin/experiments/coupon/start", json={"started_at": "2011-09-01T00:00:00+01:00"}, headers=op
    )
    assert r.status_code == 200 and datetime.fromisoformat(r.json()["started_at"]) == START
    res = client.get(
        "/admin/experiments/coupon/results", params={"as_of": AS_OF.isoformat()}, headers=op
    ).json()
    want = _expected(invoices, exposures)
    assert res["exposures"]["anonymous_skipped"] == want["anonymous"] > 0
    assert res["exposures"]["multiple_variants"] == want["multiple"] > 0
    assert res["srm"]["users"] == {v: want["variants"][v]["users"] for v in "ab"}
    assert res["exposures"]["users"] == sum(res["srm"]["users"].values()) > 1000
    for m in res["metrics"]:
        for v in m["variants"]:
            expected = want["variants"][v["variant"]][m["key"]]
            assert expected > 0 and v["value"] == pytest.approx(expected, rel=1e-12), (m["key"], v["variant"])
