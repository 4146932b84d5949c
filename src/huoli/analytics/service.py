"""Runs a metric for an app: finds it in the registry (registry.py: one module per metric in metrics/),
validates the request, binds it to the engine, compares with the previous period, caches results for closed
periods in the runtime's caches. Routes and the CLI call `run`; nothing else formats."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from huoli.analytics import rollup
from huoli.analytics.engines import ClickHouseEngine, DuckDBEngine, Engine
from huoli.analytics.frame import EVENT_FIELDS, USER_FIELDS, Frame, MetricQuery
from huoli.analytics.models import ChannelCost
from huoli.analytics.registry import METRICS, Metric
from huoli.db import unit_of_work, utcnow
from huoli.errors import ValidationFailed
from huoli.events.catalog import CATALOG
from huoli.events.stores import ClickHouseEventStore

if TYPE_CHECKING:
    from huoli.apps.models import App
    from huoli.runtime import Runtime


Q = TypeVar("Q", bound=BaseModel)


def lookup(metric: str) -> Metric:
    """The registered metric called `metric`, or a 422 naming the ones there are."""
    m = METRICS.get(metric)
    if m is None:
        raise ValidationFailed(
            f"unknown metric {metric!r}",
            details=[{"field": "metric", "message": f"one of {sorted(METRICS)}"}],
        )
    return m


def parse(metric: str, body: dict[str, Any]) -> MetricQuery:
    return parse_model(lookup(metric).request, body)


def parse_model(model: type[Q], body: dict[str, Any]) -> Q:
    """Validates a request body; pydantic's errors become a 422 with one {field, message} each."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        details = [
            {
                "field": ".".join(str(p) for p in e["loc"]) or "(body)",
                "message": e["msg"].removeprefix("Value error, "),
            }
            for e in exc.errors()
        ]
        raise ValidationFailed("invalid metric request", details=details) from exc


class _Cache:
    """Results for closed periods (ended before the oldest event ingestion still accepts), keyed by the
    request and invalidated when the app's event count changes (imports can still add history)."""

    def __init__(self, size: int = 256) -> None:
        self._data: OrderedDict[tuple[Any, ...], tuple[int, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.size = size

    def get(self, key: tuple[Any, ...], version: int) -> Any | None:
        with self._lock:
            hit = self._data.get(key)
            if hit is None or hit[0] != version:
                return None
            self._data.move_to_end(key)
            return hit[1]

    def put(self, key: tuple[Any, ...], version: int, result: Any) -> None:
        with self._lock:
            self._data[key] = (version, result)
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


# Both per runtime (runtime.caches), never per `id(runtime.store)`: a later runtime can be given the same id.
RESULTS_CACHE = "analytics.results"
KNOWN_EVENTS_CACHE = "analytics.known_events"  # app id → (time.monotonic() when read, names)


def engine_for(runtime: Runtime) -> Engine:
    """The metrics run where the events are: DuckDB in-process, or the ClickHouse server of the store."""
    if runtime.store.dialect == "clickhouse":
        store = runtime.store
        assert isinstance(store, ClickHouseEventStore)
        return ClickHouseEngine(store.client, before_run=lambda: store.before_read())
    return DuckDBEngine(runtime.store)


def known_events(runtime: Runtime, app_id: str) -> frozenset[str]:
    """Catalog events plus every name this app has sent (refreshed each minute)."""
    known: dict[str, tuple[float, frozenset[str]]] = runtime.caches.get(KNOWN_EVENTS_CACHE, dict)
    hit = known.get(app_id)
    if hit and time.monotonic() - hit[0] < 60:
        return hit[1]
    rows = runtime.store.query("SELECT DISTINCT name FROM events WHERE app_id = ?", [app_id]).column(0)
    names = frozenset(CATALOG) | frozenset(rows.to_pylist())
    known[app_id] = (time.monotonic(), names)
    return names


def vocabulary(runtime: Runtime, app_id: str) -> dict[str, Any]:
    """What the console's builders offer in their pickers: event names (catalog and seen, with counts),
    the most viewed pages, and the fields a filter or breakdown may name."""
    seen = {
        r["name"]: int(r["n"])
        for r in runtime.store.query(
            "SELECT name, count(*) AS n FROM events WHERE app_id = ? GROUP BY name", [app_id]
        ).to_pylist()
    }
    pages = runtime.store.query(
        "SELECT page, count(*) AS n FROM events WHERE app_id = ? AND name = 'page_view' AND page IS NOT NULL "
        "GROUP BY page ORDER BY n DESC, page LIMIT 500",
        [app_id],
    ).to_pylist()
    names = sorted(set(CATALOG) | set(seen), key=lambda n: (-seen.get(n, 0), n))
    return {
        "events": [{"name": n, "events": seen.get(n, 0), "catalog": n in CATALOG} for n in names],
        "pages": [{"page": r["page"], "views": int(r["n"])} for r in pages],
        "fields": [*EVENT_FIELDS, "scene_group"],
        "user_fields": [f"user.{f}" for f in USER_FIELDS],
    }


def _property_checker(runtime: Runtime, app_id: str) -> Callable[[str], bool]:
    def exists(key: str) -> bool:
        return runtime.store.has_property(app_id=app_id, key=key)

    return exists


def make_frame(
    runtime: Runtime,
    app: App,
    q: MetricQuery,
    *,
    engine: Engine,
    tz: str,
    now: dt.datetime,
    names: frozenset[str],
    rollup_tz: str | None = None,
) -> Frame:
    return Frame(
        engine=engine,
        app_id=app.id,
        query=q,
        tz=tz,
        now=now,
        known_events=names,
        property_exists=_property_checker(runtime, app.id),
        rollup_tz=rollup_tz,
    )


def prepare_rollup(engine: Engine, app: App, tz: str) -> str | None:
    """Bring the app's user-day rollup up to date (events ingested since its watermark) and return the
    timezone it answers for; None (raw path) for another timezone than the app's or an engine without it
    (the ClickHouse store)."""
    if tz != app.timezone or engine.name != "duckdb":
        return None
    return tz if rollup.prepare(engine, app.id, tz) else None


def run(
    runtime: Runtime,
    app: App,
    metric: str,
    body: dict[str, Any],
    *,
    engine: Engine | None = None,
) -> dict[str, Any]:
    m = lookup(metric)
    req = parse_model(m.request, body)
    tz = req.tz or app.timezone
    now = runtime.clock()
    engine = engine or engine_for(runtime)
    names = known_events(runtime, app.id)

    rollup_tz: str | None = None

    def frame_for(q: MetricQuery) -> Frame:
        return make_frame(runtime, app, q, engine=engine, tz=tz, now=now, names=names, rollup_tz=rollup_tz)

    frame = frame_for(req)
    closed_before = (now.astimezone(frame.tb.zone) - runtime.settings.event_max_age).date()
    cacheable = req.end < closed_before and m.cacheable
    key = (app.id, metric, tz, json.dumps(req.model_dump(mode="json"), sort_keys=True))
    version = runtime.store.count(app_id=app.id) if cacheable else 0
    cache = runtime.caches.get(RESULTS_CACHE, _Cache)
    if cacheable and (hit := cache.get(key, version)) is not None:
        return {**hit, "cached": True}
    started = time.perf_counter()
    if m.rollup:  # docs/metrics.md#the-user-day-rollup
        rollup_tz = prepare_rollup(engine, app, tz)
        frame = frame_for(req)
    result = m.run(frame, req, runtime)
    out: dict[str, Any] = {
        "metric": metric,
        "app_id": app.id,
        "tz": tz,
        "start": req.start.isoformat(),
        "end": req.end.isoformat(),
        "engine": engine.name,
        "result": result,
    }
    if req.compare:
        prev = req.previous()
        out["previous"] = {
            "start": prev.start.isoformat(),
            "end": prev.end.isoformat(),
            "result": m.run(frame_for(prev), prev, runtime),
        }
    out["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 1)
    out["cached"] = False
    if cacheable:
        cache.put(key, version, out)
    return out


def channel_costs(runtime: Runtime, app_id: str, start: dt.date, end: dt.date) -> dict[str, int]:
    """Uploaded spend per channel over local days start..end, in fen (cost per acquired user reads it)."""
    # A short read of its own: analytics must not hold the operational store's write lock (SQLite).
    with unit_of_work(runtime.sessions, app_id=app_id) as db:
        rows = db.scalars(select(ChannelCost).where(ChannelCost.day >= start, ChannelCost.day <= end)).all()
        costs: dict[str, int] = {}
        for c in rows:
            costs[c.channel] = costs.get(c.channel, 0) + c.cost_fen
    return costs


def set_channel_costs(db: Session, app_id: str, rows: list[dict[str, Any]]) -> int:
    """Upsert (day, channel) → cost_fen rows; returns how many were written."""
    n = 0
    for r in rows:
        day = r["day"] if isinstance(r["day"], dt.date) else dt.date.fromisoformat(r["day"])
        existing = db.scalars(
            select(ChannelCost).where(ChannelCost.day == day, ChannelCost.channel == r["channel"])
        ).first()
        if existing is None:
            db.add(ChannelCost(app_id=app_id, day=day, channel=r["channel"], cost_fen=int(r["cost_fen"])))
        else:
            existing.cost_fen = int(r["cost_fen"])
            existing.updated_at = utcnow()
        n += 1
    return n
