"""Experiment results on a ClickHouse event store (our client against the fake server, chdb running the SQL)
equal DuckDB's on the same events, for every metric kind, CUPED, the +08:00 day boundary, users exposed to
several variants and anonymous exposures."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.fakes.clickhouse_server import FakeClickHouse

from huoli.events.ingest import Caller, validate_events
from huoli.events.stores import ClickHouseEventStore, DuckDBEventStore, EventStore
from huoli.experiments.models import Experiment
from huoli.experiments.results import analyse, summarise
from huoli.experiments.schemas import MetricDef

START = datetime(2026, 11, 1, 16, 0, tzinfo=UTC)  # 00:00 on 2 Nov in Shanghai
AS_OF = START + timedelta(days=6)
METRICS = [
    MetricDef(key="paid", kind="conversion", event="order_paid", window_days=3),
    MetricDef(key="gmv", kind="mean", event="order_paid", property="amount_fen", cuped=True),
    MetricDef(key="minutes", kind="mean", event="study", property="minutes"),  # a JSON property
    MetricDef(
        key="aov", kind="ratio", event="order_paid", property="amount_fen", denominator_event="order_paid"
    ),
    MetricDef(key="d1", kind="retention", retention_day=1),
    MetricDef(key="d2_study", kind="retention", event="study", retention_day=2),
]


def _events(seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []

    def add(user: str, name: str, ts: datetime, props: dict[str, Any] | None = None) -> None:
        row = {"event_id": str(uuid.uuid4()), "name": name, "ts": ts.isoformat(), "user_id": user}
        out.append(
            {**row, "properties": props or {}, **({"page": "pages/home"} if name == "page_view" else {})}
        )

    for i in range(300):
        user = f"u{i:03d}"
        variant = "b" if rng.random() < 0.5 else "a"
        t0 = START + timedelta(minutes=rng.randrange(0, 3 * 24 * 60))
        add(user, "experiment_exposure", t0, {"experiment": "exp", "variant": variant, "flag": "f"})
        if rng.random() < 0.2:  # a second exposure later: t0 and the variant come from the first
            add(
                user,
                "experiment_exposure",
                t0 + timedelta(hours=5),
                {"experiment": "exp", "variant": "a", "flag": "f"},
            )
        if i % 7 == 0:  # exposed to another experiment too: must not count here
            add(user, "experiment_exposure", t0, {"experiment": "other", "variant": "b", "flag": "g"})
        for _ in range(rng.randrange(0, 4)):  # before exposure (CUPED) and after, some past the window
            dt = timedelta(hours=rng.uniform(-14 * 24, 5 * 24))
            add(
                user,
                "order_paid",
                t0 + dt,
                {"order_id": str(uuid.uuid4()), "amount_fen": rng.randrange(100, 20000)},
            )
        if rng.random() < 0.5:
            minutes: Any = rng.choice([5, 12.5, "30", "7.25", "n/a"])  # numbers, numeric text, and junk (→ 0)
            add(user, "study", t0 + timedelta(hours=rng.uniform(0, 80)), {"minutes": minutes})
        # The local day boundary: 23:59 and 00:01 Shanghai time on exposure day + 1.
        local_midnight = (t0 + timedelta(hours=8)).replace(
            hour=0, minute=0, second=0, microsecond=0
        ) - timedelta(hours=8)
        if i % 3 == 0:
            add(user, "page_view", local_midnight + timedelta(days=1, minutes=-1))  # still day 0
        if i % 3 == 1:
            add(user, "page_view", local_midnight + timedelta(days=1, minutes=1))  # day 1
    add(
        "late",
        "experiment_exposure",
        AS_OF + timedelta(minutes=1),
        {"experiment": "exp", "variant": "a", "flag": "f"},
    )
    for i in range(17):  # visitors who never logged in: counted as skipped, never analysed
        out.append(
            {
                "event_id": str(uuid.uuid4()),
                "name": "experiment_exposure",
                "ts": (START + timedelta(hours=i)).isoformat(),
                "anonymous_id": f"anon-{i}",
                "properties": {"experiment": "exp", "variant": "ab"[i % 2], "flag": "f"},
            }
        )
    return out


def _exposure_counts(raw: list[dict[str, Any]]) -> tuple[int, int, int]:
    """(single-variant users, users seen in several variants, anonymous exposures) counted from the raw rows."""
    seen: dict[str, set[str]] = {}
    anonymous = 0
    for r in raw:
        if r["name"] != "experiment_exposure" or r["properties"]["experiment"] != "exp":
            continue
        if datetime.fromisoformat(r["ts"]) >= AS_OF:
            continue
        if r.get("user_id") is None:
            anonymous += 1
        else:
            seen.setdefault(r["user_id"], set()).add(r["properties"]["variant"])
    multiple = sum(1 for v in seen.values() if len(v) > 1)
    return len(seen) - multiple, multiple, anonymous


def _fill(store: EventStore, raw: list[dict[str, Any]]) -> None:
    batch = validate_events(
        raw,
        caller=Caller(app_id="shop", source="import"),
        now=AS_OF + timedelta(days=1),
        max_age=timedelta(days=3650),
        max_future=timedelta(days=1),
    )
    assert not batch.rejected, batch.rejected[:3]
    (r,) = store.append([batch.to_arrow()])
    assert r.accepted == len(raw)


def _experiment(metrics: list[MetricDef]) -> Experiment:
    return Experiment(
        app_id="shop",
        key="exp",
        started_at=START,
        stats={"cuped_days": 14, "method": "frequentist", "alpha": 0.05},
        variants=[{"key": "a", "weight": 0.5}, {"key": "b", "weight": 0.5}],
        metrics=[{"role": "primary", **m.model_dump(mode="json")} for m in metrics],
    )


@pytest.fixture
def stores(clickhouse_server: FakeClickHouse, tmp_path: Path) -> Any:
    raw = _events(7)
    duck = DuckDBEventStore(str(tmp_path / "e.duckdb"), threads=1)
    ch = ClickHouseEventStore.from_url(clickhouse_server.url())
    for s in (duck, ch):
        _fill(s, raw)
    yield duck, ch, raw
    duck.close()
    ch.close()


def test_results_on_clickhouse_equal_duckdb(stores: Any) -> None:
    duck, ch, _ = stores
    exp = _experiment(METRICS)
    want = summarise(duck, exp, as_of=AS_OF, tz="Asia/Shanghai", metrics=METRICS)
    got = summarise(ch, exp, as_of=AS_OF, tz="Asia/Shanghai", metrics=METRICS)
    assert set(want.rows) == set(got.rows) == {"a", "b"}
    single, multiple, anonymous = _exposure_counts(stores[2])
    assert multiple > 10 and single + multiple == 300  # the late exposure is after as_of
    assert sum(want.users(v) for v in "ab") == sum(got.users(v) for v in "ab") == single
    assert want.multiple == got.multiple == multiple
    assert want.anonymous == got.anonymous == anonymous == 17
    for v in "ab":
        w, g = want.rows[v], got.rows[v]
        assert set(w) == set(g)
        for col, value in w.items():
            if col == "variant":
                continue
            assert float(g[col] or 0) == pytest.approx(float(value or 0), rel=1e-12, abs=1e-9), (v, col)
    # The numbers are not trivially zero: every metric saw data.
    assert all(float(want.rows["a"][f"s{i}"] or 0) > 0 for i in range(len(METRICS)))
    assert float(want.rows["a"]["ps1"] or 0) > 0  # CUPED's pre-period


def test_unknown_store_dialect_is_refused() -> None:
    class Other:
        dialect = "spark"

    from huoli.errors import HuoliError

    with pytest.raises(HuoliError, match="not supported on a spark event store") as err:
        summarise(Other(), Experiment(app_id="a", key="k"), as_of=AS_OF, tz="Asia/Shanghai")  # type: ignore[arg-type]
    assert err.value.code == "not_supported"


def test_analysis_runs_on_clickhouse_summaries(stores: Any) -> None:
    _, ch, raw = stores
    exp = _experiment(METRICS[:1])
    out = analyse(exp, summarise(ch, exp, as_of=AS_OF, tz="Asia/Shanghai"))
    single, multiple, anonymous = _exposure_counts(raw)
    assert sum(out["srm"]["users"].values()) == out["exposures"]["users"] == single
    # GrowthBook's rule: users in several variants are excluded and, at ≥ 10 and ≥ 1 %, a warning.
    assert out["exposures"]["multiple_variants"] == multiple and out["exposures"]["multiple_excluded"]
    assert out["exposures"]["multiple_warning"] is True
    assert out["exposures"]["anonymous_skipped"] == anonymous
    assert [n["code"] for n in out["exposures"]["notes"]] == ["anonymous_exposures", "multiple_exposures"]
    assert out["metrics"][0]["comparisons"][0]["available"] is not False
