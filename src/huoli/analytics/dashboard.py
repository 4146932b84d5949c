"""The console dashboard's figures in one request: only the parts of each metric the dashboard draws, run
concurrently (DuckDB answers each query on its own cursor), each part cached until the app's events change.

Same definitions as the metrics (docs/metrics.md); the parts are the metrics' own functions, so a figure here
equals the one `POST /admin/analytics/<metric>` gives for the same range."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from pydantic import Field

from huoli.analytics import acquisition, activity, funnels, lifecycle, retention, value
from huoli.analytics.frame import Frame, MetricQuery
from huoli.analytics.funnels import FunnelSpec
from huoli.analytics.retention import RetentionSpec
from huoli.analytics.service import _Cache, _Strict, engine_for, known_events, make_frame, parse_model

if TYPE_CHECKING:
    from huoli.apps.models import App
    from huoli.runtime import Runtime

DEFAULT_FUNNEL = ["app_show", "view_item", "add_to_cart", "order_paid"]


class DashboardRequest(MetricQuery, _Strict):
    funnel: list[str] = Field(default_factory=lambda: list(DEFAULT_FUNNEL), min_length=2, max_length=8)


def _funnel(frame: Frame, req: DashboardRequest) -> Any:
    return funnels.compute(frame, FunnelSpec.model_validate({"steps": [{"event": e} for e in req.funnel]}))


def _activity(frame: Frame, req: DashboardRequest) -> Any:
    # The dashboard draws DAU/WAU/MAU and the range totals, not the per-day access table or frequency.
    return {"series": activity.active_users(frame), "totals": activity.totals(frame)}


# name → (function, also for the previous period when comparing)
PARTS: dict[str, tuple[Callable[[Frame, DashboardRequest], Any], bool]] = {
    "activity": (_activity, True),
    "acquisition": (lambda f, r: {"new_users": acquisition.new_users(f, ("by_channel",))}, True),
    "funnel": (_funnel, True),
    "lifecycle": (lambda f, r: lifecycle.compute(f, "day"), False),
    "conversion": (lambda f, r: value.conversion(f), True),
    "interaction": (lambda f, r: value.interaction(f), False),
    "retention": (lambda f, r: retention.compute(f, RetentionSpec(preset="wechat_new")), False),
}

# Shared by all requests; DuckDB already spreads one query over the cores, so one query per core at most.
_pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="dashboard")
_caches: dict[int, _Cache] = {}


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
    # Events only ever get added, so the app's event count versions every figure (plus "today" for
    # the retention cells that are null until their day is over).
    version = runtime.store.count(app_id=app.id)
    cache = _caches.setdefault(id(runtime.store), _Cache(size=512))
    started = time.perf_counter()

    jobs: list[tuple[str, str, DashboardRequest]] = []
    previous = DashboardRequest.model_validate(req.previous().model_dump())
    for name, (_, with_previous) in PARTS.items():
        jobs.append((name, "result", req))
        if req.compare and with_previous:
            jobs.append((name, "previous", previous))

    def one(name: str, q: DashboardRequest) -> tuple[Any, float, bool]:
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
        frame = make_frame(runtime, app, q, engine=engine, tz=tz, now=now, names=names)
        result = PARTS[name][0](frame, q)
        cache.put(key, version, result)
        return result, (time.perf_counter() - t0) * 1000, False

    futures = [(name, slot, q, _pool.submit(one, name, q)) for name, slot, q in jobs]
    parts: dict[str, dict[str, Any]] = {}
    timings: dict[str, float] = {}
    hits = 0
    for name, slot, q, fut in futures:
        result, ms, hit = fut.result()
        hits += hit
        part = parts.setdefault(name, {})
        part[slot] = (
            result
            if slot == "result"
            else {"start": q.start.isoformat(), "end": q.end.isoformat(), "result": result}
        )
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
        "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
    }
