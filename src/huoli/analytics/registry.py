"""The metrics, found by name. Each module of `analytics/metrics/` is one metric — its request model, its
runner, how the CLI flattens its result, the parts of it the console dashboard draws — and registers itself
with `@metric(...)`; this registry imports every module there the first time a metric is looked up (one
runner per insight, as PostHog has). Adding a metric is adding a module there: the service, the routes, the
CLI and the dashboard find it here.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict

from huoli.analytics.frame import Frame, MetricQuery

if TYPE_CHECKING:
    from huoli.runtime import Runtime

METRICS_PACKAGE = "huoli.analytics.metrics"

Runner = Callable[[Frame, Any, "Runtime | None"], Any]
# (columns, rows) for `huoli metrics … --format table|csv` (tabulate.py).
Table = Callable[[Any], tuple[list[str], list[list[Any]]]]
R = TypeVar("R", bound=Runner)


class Strict(BaseModel):
    # Mixed into every request model: a field the metric does not know is a 422, not ignored.
    model_config = ConfigDict(extra="forbid")


# The request of a metric with no fields of its own: the common question alone. (No docstring: it would become
# the request schema's description in GET /admin/analytics.)
class SimpleRequest(MetricQuery, Strict):
    pass


@dataclass(frozen=True)
class Part:
    """A piece of a metric the console dashboard draws (dashboard.py): `fn(frame, dashboard_request)` fills
    parts[<metric>]["result"], or its [key] when the metric gives the dashboard several pieces."""

    fn: Callable[[Frame, Any], Any]
    key: str | None = None
    with_previous: bool = True  # also for the previous period when the dashboard compares
    cost: int = 0  # rough relative time; the dashboard starts the costliest parts first
    part: str = ""  # the metric's name (set by @metric)

    @property
    def name(self) -> str:
        return f"{self.part}.{self.key}" if self.key else self.part


@dataclass(frozen=True)
class Metric:
    name: str
    request: type[MetricQuery]
    run: Runner  # (frame, request, runtime or None) -> the JSON-able result
    title: str
    order: int = 0  # where it is listed (GET /admin/analytics, `huoli metrics --help`)
    rollup: bool = False  # has parts the user-day rollup answers (service.prepare_rollup before running)
    cacheable: bool = True  # a closed period's result may be served from the cache (service.run)
    table: Table | None = None  # None: the result's rows as they are (tabulate.rows_table)
    dashboard: tuple[Part, ...] = ()


class _Registry(Mapping[str, Metric]):
    """name → Metric, in listing order; the metric modules are imported on first use."""

    def __init__(self) -> None:
        self._metrics: dict[str, Metric] = {}
        self._loaded = False
        self._lock = threading.RLock()

    def add(self, m: Metric) -> None:
        # Without the lock: a metric module registers while it is imported, which _load may be waiting on.
        known = self._metrics.get(m.name)
        if known is not None and known.run.__module__ != m.run.__module__:
            raise RuntimeError(f"metric {m.name!r} is registered twice ({known.run.__module__})")
        self._metrics[m.name] = m

    def _load(self) -> dict[str, Metric]:
        if not self._loaded:
            with self._lock:
                if not self._loaded:
                    package = importlib.import_module(METRICS_PACKAGE)
                    for info in pkgutil.iter_modules(package.__path__):
                        importlib.import_module(f"{METRICS_PACKAGE}.{info.name}")
                    self._loaded = True
        return self._metrics

    def __getitem__(self, name: str) -> Metric:
        return self._load()[name]

    def __iter__(self) -> Iterator[str]:
        ordered = sorted(self._load().values(), key=lambda m: (m.order, m.name))
        return iter([m.name for m in ordered])

    def __len__(self) -> int:
        return len(self._load())


METRICS: Mapping[str, Metric] = _Registry()


def metric(
    name: str,
    *,
    request: type[MetricQuery],
    title: str,
    order: int = 0,
    rollup: bool = False,
    cacheable: bool = True,
    table: Table | None = None,
    dashboard: tuple[Part, ...] | list[Part] = (),
) -> Callable[[R], R]:
    """Registers the decorated runner `(frame, request, runtime | None) -> result` as metric `name`."""

    def register(run: R) -> R:
        parts = tuple(dataclasses.replace(p, part=name) for p in dashboard)
        assert isinstance(METRICS, _Registry)
        METRICS.add(Metric(name, request, run, title, order, rollup, cacheable, table, parts))
        return run

    return register


def get(name: str) -> Metric | None:
    return METRICS.get(name)


def dashboard_parts() -> dict[str, Part]:
    """Every metric's dashboard parts by name ("activity.series", "funnel", …), costliest first."""
    parts = [p for m in METRICS.values() for p in m.dashboard]
    return {p.name: p for p in sorted(parts, key=lambda p: (-p.cost, p.name))}
