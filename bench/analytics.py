"""`make bench` (analytics): the issue's questions on a generated log, huoli on each engine vs chdb running
hand-written native ClickHouse SQL on the same data.

Workload: `huoli demo generate --users U --days 60 --activity A` (the issue's shape: 3,000,000 light users at
activity 0.04 ≈ 100M events; `--users 650000 --activity 1` is the same volume from fewer, heavier users),
imported into DuckDB with `huoli import`, loaded into a chdb MergeTree table, and read by Spark local[2] from
the same Parquet.
Questions (range = the last 30 or 60 local days):
  funnel     5 steps (app_show → page_view → view_item → add_to_cart → order_paid), 7-day window
  retention  D0–D30 daily first-time retention matrix (cohorts: the first 30 days)
  dau        DAU / WAU / MAU for each of the 60 days
  dashboard  the console's home page (huoli.analytics.dashboard): headline activity, DAU/WAU/MAU, a 4-step
             funnel, lifecycle, new-user retention, conversion, new users by channel and interaction for the
             last 30 days, and the previous 30 where the page compares; its cache is not used
Each engine runs in its own process so peak memory (ru_maxrss) is its own. Writes its section of
docs/benchmarks.md unless --no-write.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import markdown_table, write_section

END = dt.date(2026, 11, 15)
DAYS = 60
APP = "demo"
STEPS = ["app_show", "page_view", "view_item", "add_to_cart", "order_paid"]
TARGETS = {"funnel": "≤ 5 s", "retention": "≤ 5 s", "dau": "≤ 5 s", "dashboard": "≤ 15 s"}


def _requests() -> dict[str, list[tuple[str, dict[str, Any]]]]:
    first = (END - dt.timedelta(days=DAYS - 1)).isoformat()
    mid = (END - dt.timedelta(days=29)).isoformat()
    last = END.isoformat()
    cohort_end = (END - dt.timedelta(days=30)).isoformat()
    return {
        "funnel": [
            (
                "funnel",
                {
                    "start": mid,
                    "end": last,
                    "steps": [{"event": s} for s in STEPS],
                    "window_seconds": 7 * 86400,
                },
            )
        ],
        "retention": [("retention", {"start": first, "end": cohort_end, "periods": 30})],
        "dau": [("activity_dau", {"start": first, "end": last})],
        # The console's home page: every part of huoli.analytics.dashboard, this period and the previous one.
        "dashboard": [("dashboard", {"start": mid, "end": last, "compare": True})],
    }


def _peak_rss_gib() -> float:
    """This process's own peak RSS (VmHWM): ru_maxrss survives exec, so a child would report the parent's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024 / 1024, 2)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024, 2)


def run_huoli(engine_kind: str, data: str, raw: bool = False) -> dict[str, Any]:
    """In a child process: every question on one engine; returns seconds per question and peak RSS.
    The user-day rollup is built first and timed on its own (`rollup`: DuckDB's is the first build of
    the persistent table, then `rollup_noop` an up-to-date refresh, what each request pays); raw=True skips it."""
    from huoli.analytics import activity, dashboard, rollup
    from huoli.analytics.engines import ChdbEngine, DuckDBEngine, SparkEngine
    from huoli.analytics.frame import Frame
    from huoli.analytics.service import METRICS, parse
    from huoli.events.catalog import CATALOG
    from huoli.events.stores import DuckDBEventStore

    if engine_kind == "duckdb":
        engine: Any = DuckDBEngine(DuckDBEventStore(str(Path(data) / "events.duckdb")))
    elif engine_kind == "chdb":
        engine = ChdbEngine(str(Path(data) / "chdb"))
    else:
        spark = SparkEngine.local_session(2)
        spark.sparkContext.setLogLevel("ERROR")
        engine = SparkEngine(spark)
        engine.register_parquet(str(Path(data) / "parquet"))
    now = dt.datetime.combine(END + dt.timedelta(days=1), dt.time(12), tzinfo=dt.UTC)
    out: dict[str, Any] = {}
    checks: dict[str, Any] = {}
    rollup_tz = None
    if not raw:
        started = time.perf_counter()
        rollup_tz = "Asia/Shanghai" if rollup.prepare(engine, APP, "Asia/Shanghai") else None
        out["rollup"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        rollup.prepare(engine, APP, "Asia/Shanghai")
        out["rollup_noop"] = round(time.perf_counter() - started, 2)
    for q, reqs in _requests().items():
        if engine_kind == "spark" and q == "dashboard":
            continue
        started = time.perf_counter()

        def one(metric: str, body: dict[str, Any], q: str = q) -> None:
            name = "activity" if metric == "activity_dau" else metric
            req = body["request"] if metric.startswith("part:") else parse(name, body)
            frame = Frame(
                engine=engine,
                app_id=APP,
                query=req,
                tz="Asia/Shanghai",
                now=now,
                known_events=frozenset(CATALOG),
                rollup_tz=rollup_tz,
            )
            if metric.startswith("part:"):
                res: Any = dashboard.PARTS[metric[5:]].fn(frame, req)
            elif metric == "activity_dau":
                res = activity.active_users(frame)
                checks[q] = [sum(r["dau"] for r in res), res[-1]["mau"]]
            else:
                res = METRICS[name].run(frame, req, None)
                if q == "funnel":
                    checks[q] = [s["users"] for s in res["steps"]]
                elif q == "retention":
                    checks[q] = [
                        sum(r["size"] for r in res["rows"]),
                        sum(r["retained"][1] or 0 for r in res["rows"]),
                    ]

        if q == "dashboard":
            # What dashboard.run does, without its cache: each part for this period and (where the console
            # compares) the previous one; on DuckDB concurrently, as the server runs them.
            (_, body), jobs = reqs[0], []
            req = dashboard.DashboardRequest.model_validate(body)
            for name, part in dashboard.PARTS.items():
                jobs.append((f"part:{name}", {"request": req}))
                if part.with_previous:
                    jobs.append((f"part:{name}", {"request": req.previous()}))
            if engine_kind == "duckdb":
                from concurrent.futures import ThreadPoolExecutor

                # dashboard.run's pool: one query per core (DuckDB spreads each over the cores already)
                with ThreadPoolExecutor(dashboard.POOL_SIZE) as pool:
                    list(pool.map(lambda mb: one(*mb), jobs))
            else:
                for metric, job in jobs:
                    one(metric, job)
        else:
            for metric, body in reqs:
                one(metric, body)
        out[q] = round(time.perf_counter() - started, 2)
    out["peak_rss_gib"] = _peak_rss_gib()
    out["checks"] = checks
    return out


def run_native(data: str) -> dict[str, Any]:
    """chdb with hand-written ClickHouse SQL: windowFunnel, retention, uniqExact."""
    from huoli.analytics.engines import ChdbEngine

    ch = ChdbEngine(str(Path(data) / "chdb"))
    first = END - dt.timedelta(days=DAYS - 1)
    mid = END - dt.timedelta(days=29)
    cohort_end = END - dt.timedelta(days=30)
    local = "toDate(ts, 'Asia/Shanghai')"
    conds = ", ".join(f"name = '{s}'" for s in STEPS)
    sql = {
        "funnel": f"""
            SELECT level, count() AS users FROM (
              SELECT user_id, windowFunnel({7 * 86400})(toUInt32(toUnixTimestamp(ts)), {conds}) AS level
              FROM events WHERE app_id = '{APP}' AND name IN ({", ".join(repr(s) for s in STEPS)})
                AND ts >= toDateTime('{mid}', 'Asia/Shanghai')
                AND ts < toDateTime('{END + dt.timedelta(days=8)}', 'Asia/Shanghai')
              GROUP BY user_id) GROUP BY level""",
        "retention": f"""
            WITH u AS (SELECT user_id, min({local}) AS c FROM events WHERE app_id = '{APP}' GROUP BY user_id
                       HAVING c BETWEEN '{first}' AND '{cohort_end}')
            SELECT c, count() AS size, sumForEach(r) AS kept FROM (
              SELECT e.user_id, u.c, retention({", ".join(f"e.d = u.c + {k}" for k in range(31))}) AS r
              FROM (SELECT DISTINCT user_id, {local} AS d FROM events WHERE app_id = '{APP}') AS e
              INNER JOIN u ON e.user_id = u.user_id GROUP BY e.user_id, u.c) GROUP BY c""",
        "dau": f"""
            SELECT d + k AS day, uniqExact(user_id) AS users, k < 1 AS is_d, k < 7 AS is_w FROM (
              SELECT DISTINCT user_id, {local} AS d FROM events WHERE app_id = '{APP}'
                AND ts >= toDateTime('{first - dt.timedelta(days=29)}', 'Asia/Shanghai'))
            ARRAY JOIN range(30) AS k GROUP BY day, is_d, is_w""",
    }
    out: dict[str, Any] = {}
    checks: dict[str, Any] = {}
    for q, text in sql.items():
        started = time.perf_counter()
        rows = ch.native(text).to_pylist()
        out[q] = round(time.perf_counter() - started, 2)
        if q == "funnel":
            lv = {int(r["level"]): int(r["users"]) for r in rows}
            checks[q] = [sum(u for k, u in lv.items() if k >= i) for i in range(1, len(STEPS) + 1)]
    out["peak_rss_gib"] = _peak_rss_gib()
    out["checks"] = checks
    return out


def child(kind: str, data: str, timeout: float, raw: bool = False) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--data", data, *(["--raw"] if raw else [])],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        return {
            "error": proc.stderr.strip().splitlines()[-1]
            if proc.stderr.strip()
            else f"exit {proc.returncode}"
        }
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def prepare(
    users: int, scratch: Path, workers: int | None = None, activity: float = 1.0
) -> tuple[int, dict[str, float]]:
    env = {**os.environ, "HUOLI_DATA_DIR": str(scratch / "var")}
    huoli = [sys.executable, "-m", "huoli.cli"]
    times: dict[str, float] = {}
    t = time.perf_counter()
    subprocess.run(
        [*huoli, "demo", "generate", "--users", str(users), "--days", str(DAYS),
         "--activity", str(activity), "--out", str(scratch / "parquet"),
         *(["--workers", str(workers)] if workers else [])],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    times["generate"] = time.perf_counter() - t
    from huoli.analytics.engines import ChdbEngine
    from huoli.events.stores import DuckDBEventStore

    files = sorted((scratch / "parquet").glob("*.parquet"))
    t = time.perf_counter()
    store = DuckDBEventStore(str(scratch / "events.duckdb"))
    glob = str(scratch / "parquet" / "*.parquet")
    store.bulk_insert(f"SELECT * FROM read_parquet('{glob}')")
    n = store.count(app_id=APP)
    store.close()
    times["duckdb load"] = time.perf_counter() - t
    t = time.perf_counter()
    ch = ChdbEngine(str(scratch / "chdb"))
    ch.load_parquet(files)
    ch.close()
    times["chdb load"] = time.perf_counter() - t
    return n, times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--users", type=int, default=3_000_000, help="generated users (3M at activity 0.04 ≈ 100M events)"
    )
    p.add_argument(
        "--activity",
        type=float,
        default=0.04,
        help="how often users come back (demo generator; 1.0 ≈ 150 events per user over 60 days)",
    )
    p.add_argument("--spark-timeout", type=float, default=1800)
    p.add_argument("--no-spark", action="store_true")
    p.add_argument("--no-write", action="store_true")
    p.add_argument(
        "--raw", action="store_true", help="huoli without the user-day rollup (every metric scans events)"
    )
    p.add_argument(
        "--scratch",
        help="keep the generated data here and reuse it when present (compare runs on the same data); "
        "the DuckDB file then keeps its rollup, so a second run times an up-to-date refresh, not a build",
    )
    p.add_argument("--workers", type=int, help="processes generating the data (default: CPU count)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        res = run_native(a.data) if a.child == "native" else run_huoli(a.child, a.data, a.raw)
        print(json.dumps(res))
        return
    keep = a.scratch is not None
    scratch = Path(a.scratch) if keep else Path(tempfile.mkdtemp(prefix="huoli-bench-analytics-"))
    try:
        reused = keep and (scratch / "ready.json").exists()
        shape = {"users": a.users, "activity": a.activity}
        if reused:
            ready = json.loads((scratch / "ready.json").read_text())  # the same data as a previous run
            if not isinstance(ready, dict) or ready.get("shape") != shape:
                sys.exit(f"{scratch} holds data of another shape ({ready}); use another --scratch")
            n, load = ready["events"], ready["load"]
        else:
            scratch.mkdir(parents=True, exist_ok=True)
            n, load = prepare(a.users, scratch, a.workers, a.activity)
            (scratch / "ready.json").write_text(json.dumps({"events": n, "load": load, "shape": shape}))
        results = {k: child(k, str(scratch), 3600, a.raw) for k in ("duckdb", "chdb", "native")}
        if not a.no_spark:
            results["spark"] = child("spark", str(scratch), a.spark_timeout, a.raw)
    finally:
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)
    duck, ch, nat = results["duckdb"], results["chdb"], results["native"]
    rows = []
    for q in ("funnel", "retention", "dau", "dashboard"):
        d, c, nv = duck.get(q), ch.get(q), nat.get(q)
        ratio = f"{d / nv:.2f}" if d is not None and nv else "—"
        sp = results.get("spark", {}).get(q, "—")
        rows.append(
            [
                q,
                f"{d} s" if d is not None else "—",
                f"{c} s" if c is not None else "—",
                f"{nv} s" if nv else "—",
                ratio,
                f"{sp} s" if sp != "—" else "—",
                TARGETS[q],
            ]
        )
    body = [
        f"{n:,} events, {a.users:,} users, {DAYS} days (demo generator, activity {a.activity}); loads: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in load.items())
        + ".",
        "",
        *markdown_table(
            [
                "Question",
                "huoli · DuckDB",
                "huoli · chdb",
                "chdb native SQL",
                "huoli/native (DuckDB)",
                "huoli · Spark local[2]",
                "Target",
            ],
            rows,
        ),
        "",
        "Dashboard: the console's home page, every part of `huoli.analytics.dashboard` for the last 30 days and,"
        " where the page compares, the previous 30 (its cache not used); earlier runs timed five whole metrics"
        " (activity, acquisition, lifecycle, conversion, interaction) with compare instead.",
        "",
        "User-day rollup: "
        + (
            "not used (--raw)."
            if a.raw
            else (
                f"DuckDB's persistent rollup came with the reused data (--scratch; {duck.get('rollup')} s here,"
                " a refresh unless this huoli changed the rollup's columns)"
                if reused
                else f"built in DuckDB {duck.get('rollup')} s (persistent)"
            )
            + f"; an up-to-date refresh {duck.get('rollup_noop')} s; chdb {ch.get('rollup')} s (full build)"
            + (f", Spark {results['spark'].get('rollup')} s (an in-query view)" if "spark" in results else "")
            + "; not included in the times above."
        ),
        "",
        f"Peak RSS: DuckDB {duck.get('peak_rss_gib')} GiB, chdb {ch.get('peak_rss_gib')} GiB, "
        f"native {nat.get('peak_rss_gib')} GiB"
        + (f", Spark driver {results['spark'].get('peak_rss_gib')} GiB" if "spark" in results else "")
        + " (target < 8 GB).",
        "",
        f"Result checks (funnel step users): DuckDB {duck.get('checks', {}).get('funnel')}, "
        f"chdb {ch.get('checks', {}).get('funnel')}, windowFunnel {nat.get('checks', {}).get('funnel')} "
        "(windowFunnel re-anchors on later step-1 events, so it may count more).",
        *(f"Errors: {k}: {v['error']}" for k, v in results.items() if "error" in v),
    ]
    write_section(
        "analytics",
        "Analytics engine",
        f"python bench/analytics.py --users {a.users} --activity {a.activity}" + (" --raw" if a.raw else ""),
        body,
        write=not a.no_write,
    )


if __name__ == "__main__":
    main()
