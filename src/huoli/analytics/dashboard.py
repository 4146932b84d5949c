"""The console dashboard's figures in one request: only the parts of each metric the dashboard draws, run
concurrently (DuckDB answers each query on its own cursor), each part cached while the app's event count is
unchanged — and for at most FRESH_FOR_S once it moves, so a live app's dashboard is at most a minute old.

Same definitions as the metrics (docs/metrics.md); the parts are the metrics' own functions, declared by each
metric's module (`@metric(dashboard=[Part(...)])`, found through registry.py), so a figure here equals the one
`POST /admin/analytics/<metric>` gives for the same range."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pydantic import Field

from huoli.analytics import rollup
from huoli.analytics.engines import DuckDBEngine
from huoli.analytics.frame import Frame, MetricQuery
from huoli.analytics.registry import Part, Strict, dashboard_parts
from huoli.analytics.service import engine_for, known_events, make_frame, parse_model, prepare_rollup
from huoli.events.catalog import CATALOG
from huoli.events.schema import EVENT_SCHEMA

if TYPE_CHECKING:
    from huoli.apps.models import App
    from huoli.runtime import Runtime

log = logging.getLogger(__name__)

DEFAULT_FUNNEL = ["app_show", "view_item", "add_to_cart", "order_paid"]


class DashboardRequest(MetricQuery, Strict):
    funnel: list[str] = Field(default_factory=lambda: list(DEFAULT_FUNNEL), min_length=2, max_length=8)


# Every metric's dashboard parts ("activity.series", "funnel", …; Part is registry.Part), each a job for the
# pool: costliest first, so the pool's workers finish together.
PARTS: dict[str, Part] = dashboard_parts()

# Live apps add events every second: a part up to this old is served even when the event count moved on.
FRESH_FOR_S = 60.0


@dataclass
class _Entry:
    version: int
    at: float  # time.monotonic() when computed
    as_of: dt.datetime
    result: Any


class PartCache:
    """Dashboard parts by request: valid while the app's event count is unchanged, or for FRESH_FOR_S."""

    def __init__(self, size: int = 512) -> None:
        self._data: OrderedDict[tuple[Any, ...], _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.size = size

    def get(self, key: tuple[Any, ...], version: int) -> _Entry | None:
        with self._lock:
            hit = self._data.get(key)
            if hit is None or (hit.version != version and time.monotonic() - hit.at > FRESH_FOR_S):
                return None
            self._data.move_to_end(key)
            return hit

    def put(self, key: tuple[Any, ...], entry: _Entry) -> None:
        with self._lock:
            self._data[key] = entry
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


# Shared by all requests; DuckDB already spreads one query over the cores, so one query per core at most.
POOL_SIZE = min(4, os.cpu_count() or 1)
_pool = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="dashboard")
# In the runtime's caches (a new runtime never sees another one's parts).
PARTS_CACHE = "analytics.dashboard_parts"


def run(runtime: Runtime, app: App, body: dict[str, Any]) -> dict[str, Any]:
    req = parse_model(DashboardRequest, body)
    tz = req.tz or app.timezone
    now = runtime.clock()
    engine = engine_for(runtime)
    names = known_events(runtime, app.id)
    frame0 = make_frame(runtime, app, req, engine=engine, tz=tz, now=now, names=names)
    for i, e in enumerate(req.funnel):
        frame0.check_event(e, f"funnel.{i}")
    today = now.astimezone(frame0.tb.zone).date().isoformat()
    # Events are only ever added, so the app's event count versions every figure ("today" is in the key
    # for the retention cells that stay null until their day is over).
    version = runtime.store.count(app_id=app.id)
    cache = runtime.caches.get(PARTS_CACHE, PartCache)
    started = time.perf_counter()
    # Once per request, before the parts run concurrently: they read the rollup, never write it.
    rollup_tz = prepare_rollup(engine, app, tz)

    jobs: list[tuple[str, str, DashboardRequest]] = []
    previous = DashboardRequest.model_validate(req.previous().model_dump())
    for name, job in PARTS.items():
        jobs.append((name, "result", req))
        if req.compare and job.with_previous:
            jobs.append((name, "previous", previous))

    def one(name: str, q: DashboardRequest) -> tuple[_Entry, float, bool]:
        key = (
            app.id,
            name,
            tz,
            today,
            json.dumps(q.model_dump(mode="json", exclude={"compare"}), sort_keys=True),
        )
        hit = cache.get(key, version)
        if hit is not None:
            return hit, 0.0, True
        t0 = time.perf_counter()
        frame = make_frame(runtime, app, q, engine=engine, tz=tz, now=now, names=names, rollup_tz=rollup_tz)
        entry = _Entry(version, time.monotonic(), now, PARTS[name].fn(frame, q))
        cache.put(key, entry)
        return entry, (time.perf_counter() - t0) * 1000, False

    futures = [(name, slot, q, _pool.submit(one, name, q)) for name, slot, q in jobs]
    parts: dict[str, dict[str, Any]] = {}
    timings: dict[str, float] = {}
    hits = 0
    as_of = now
    for name, slot, q, fut in futures:
        entry, ms, hit = fut.result()
        hits += hit
        as_of = min(as_of, entry.as_of)
        job = PARTS[name]
        part = parts.setdefault(job.part, {})
        if slot == "previous":
            part = part.setdefault("previous", {"start": q.start.isoformat(), "end": q.end.isoformat()})
        if job.key is None:
            part["result"] = entry.result
        else:
            part.setdefault("result", {})[job.key] = entry.result
        timings[f"{name}.{slot}"] = round(ms, 1)
    return {
        "app_id": app.id,
        "tz": tz,
        "start": req.start.isoformat(),
        "end": req.end.isoformat(),
        "compare": req.compare,
        "engine": engine.name,
        "parts": parts,
        "timings_ms": timings,
        "cached_parts": hits,
        "as_of": as_of.isoformat(),  # when the oldest part was computed (cached parts are up to a minute old)
        "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
    }


_warmed = threading.Event()


def warm_up(tz: str) -> None:
    """Runs every part once over an empty in-memory event log, so the SQL templates of the dashboard's
    queries exist before the first real dashboard (compiling them is ~40 % of a cold one's work)."""
    import pyarrow as pa

    engine = DuckDBEngine.from_arrow(pa.Table.from_pylist([], schema=EVENT_SCHEMA))
    now = dt.datetime.now(dt.UTC)
    end = now.astimezone(ZoneInfo(tz)).date()
    req = DashboardRequest(start=end - dt.timedelta(days=6), end=end)
    rollup.delta_sql("warm-up", tz, end, end)  # the refresh's own queries
    rollup.delta_sessions_sql("warm-up", tz, end, end)
    rolled = tz if rollup.prepare(engine, "warm-up", tz) else None
    # Both shapes of the routed parts: over the user-day rollup (the app's timezone) and over the events;
    # and a range ending today or before it (equal day literals share one placeholder: another shape).
    for rollup_tz, later in ((rolled, 0), (rolled, 30), (None, 0)):
        frame = Frame(
            engine=engine,
            app_id="warm-up",
            query=req,
            tz=tz,
            now=now + dt.timedelta(days=later),
            known_events=frozenset(CATALOG),
            rollup_tz=rollup_tz,
        )
        for job in PARTS.values():
            job.fn(frame, req)


def warm_up_in_background(tz: str) -> None:
    """Once per process (a server start), on a daemon thread; a failure only costs the head start."""
    if _warmed.is_set():
        return
    _warmed.set()

    def run() -> None:
        try:
            warm_up(tz)
        except Exception:  # the first dashboard compiles its queries itself
            log.warning("dashboard warm-up failed", exc_info=True)

    threading.Thread(target=run, name="dashboard-warm-up", daemon=True).start()
