"""analytics.service: metrics come from the registry only, and the result and known-event caches belong to
one runtime (runtime.caches), so a later runtime never reads an earlier one's results."""

from __future__ import annotations

import datetime as dt
import gc
from pathlib import Path
from typing import Any

import pytest

from huoli.analytics import registry, service
from huoli.analytics.frame import MetricQuery
from huoli.analytics.registry import METRICS, metric
from huoli.apps import service as apps
from huoli.apps.schemas import AppCreate
from huoli.db import unit_of_work
from huoli.errors import ValidationFailed
from huoli.runtime import Runtime, build_runtime
from huoli.settings import Settings

from .fixtures import at, ev, table

BODY = {"start": "2026-03-01", "end": "2026-03-01"}


def _runtime(root: Path, clock: Any, users: list[str], extra_event: str) -> Runtime:
    """A runtime of its own (operational DB, event store) with app 'shop': one open per user, plus
    `extra_event` — four events either way, so the event count (the cache's version) is the same."""
    root.mkdir()
    settings = Settings(
        data_dir=root / "var",
        database_url=f"sqlite:///{root / 'huoli.db'}",
        event_store_url=f"duckdb:///{root / 'events.duckdb'}",
        secret_key="test-secret-key-two-runtimes",
    )
    rt = build_runtime(settings, clock=clock)
    with unit_of_work(rt.sessions) as db:
        apps.create(db=db, app_in=AppCreate(id="shop", name="shop"))
    rows = [ev("app_show", u, at("2026-03-01", f"10:0{i}"), app_id="shop") for i, u in enumerate(users)]
    rows.append(ev(extra_event, users[0], at("2026-03-01", "11:00"), app_id="shop"))
    rt.store.append([table(rows)])
    return rt


def test_two_runtimes_never_share_results(tmp_path: Path, clock: Any) -> None:
    clock.set(dt.datetime(2026, 3, 20, tzinfo=dt.UTC))  # the range is a closed period: results are cached
    first = _runtime(tmp_path / "a", clock, ["u1", "u2", "u3"], "promo_a")
    try:
        app = first.app_cache.get("shop")
        a = service.run(first, app, "activity", BODY)
        assert a["result"]["series"][0]["dau"] == 3 and a["cached"] is False
        assert service.run(first, app, "activity", BODY)["cached"] is True
        funnel = {**BODY, "steps": [{"event": "app_show"}, {"event": "promo_a"}]}
        assert service.run(first, app, "funnel", funnel)["result"]["steps"][1]["users"] == 1
        assert {service.RESULTS_CACHE, service.KNOWN_EVENTS_CACHE} <= set(first.caches.names())
    finally:
        first.close()
    del first, app
    gc.collect()  # the first store's memory is free to be reused: an id-keyed cache would now be stale

    # Same app id, same request, same event count: only the caches tell the two apart.
    second = _runtime(tmp_path / "b", clock, ["v1", "v1", "v1"], "promo_b")
    try:
        app = second.app_cache.get("shop")
        b = service.run(second, app, "activity", BODY)
        assert b["cached"] is False and b["result"]["series"][0]["dau"] == 1
        with pytest.raises(ValidationFailed, match="unknown event 'promo_a'"):
            service.run(second, app, "funnel", funnel)
        assert service.run(second, app, "activity", BODY)["cached"] is True  # its own cache still works
    finally:
        second.close()


def test_metrics_come_from_the_registry() -> None:
    assert list(METRICS) == [
        "activity",
        "acquisition",
        "retention",
        "funnel",
        "paths",
        "lifecycle",
        "conversion",
        "interaction",
        "experience",
    ]
    for name, m in METRICS.items():
        assert m.name == name and issubclass(m.request, MetricQuery)
        assert m.run.__module__ == f"{registry.METRICS_PACKAGE}.{name}"  # one module per metric
    with pytest.raises(ValidationFailed, match="unknown metric 'warp'"):
        service.parse("warp", BODY)


def test_a_metric_module_registers_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a new metric module does (@metric) is all the service needs to parse and run it."""
    monkeypatch.setattr(registry.METRICS, "_metrics", dict(registry.METRICS.items()))

    class EchoRequest(registry.SimpleRequest):
        word: str = "hi"

    @metric("echo", request=EchoRequest, title="Echo", order=999)
    def run(frame: Any, req: EchoRequest, runtime: Any) -> dict[str, Any]:
        return {"word": req.word}

    assert list(METRICS)[-1] == "echo" and METRICS["echo"].run is run
    assert service.parse("echo", {**BODY, "word": "yo"}).word == "yo"  # type: ignore[attr-defined]
    with pytest.raises(ValidationFailed):
        service.parse("echo", {**BODY, "nope": 1})
