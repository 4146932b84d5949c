"""The unit of work with its context (huoli.work): what it carries, what it commits, and who may open one."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

import huoli
from huoli import caches
from huoli.deps import SignedCall, in_signed_work
from huoli.errors import Unauthorized
from huoli.events.models import OutboxEvent
from huoli.runtime import Runtime, build_runtime
from huoli.settings import Settings
from huoli.work import Caller, Work, open_work


def _outbox(runtime: Runtime) -> int:
    with open_work(runtime, "shop", Caller("job"), reads_only=True) as work:
        return int(work.db.scalar(select(func.count()).select_from(OutboxEvent)) or 0)


def test_work_carries_the_app_its_time_and_logs_events_with_the_unit(runtime: Runtime, make_app) -> None:  # type: ignore[no-untyped-def]
    make_app("shop")
    at = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)  # 00:30 on 2 March in Shanghai
    with open_work(runtime, "shop", Caller("user", "u1"), now=at) as work:
        assert (work.app_id, work.user_id, work.today.isoformat()) == ("shop", "u1", "2026-03-02")
        assert work.settings is runtime.settings and work.caches is runtime.caches
        work.emit("checkin", key="k1", user_id="u1", properties={"streak": 1})
        work.emit("checkin", key="k1", user_id="u1", properties={"streak": 1})  # the same key logs once
    assert _outbox(runtime) == 1
    with pytest.raises(RuntimeError), open_work(runtime, "shop", Caller("user", "u1")) as work:
        work.emit("checkin", key="k2", user_id="u1")
        raise RuntimeError("the use case failed after logging")
    assert _outbox(runtime) == 1  # the event went with the rolled-back unit


def test_a_read_only_work_refuses_writes(runtime: Runtime, make_app) -> None:  # type: ignore[no-untyped-def]
    make_app("shop")
    with (
        pytest.raises(RuntimeError, match="read-only"),
        open_work(runtime, "shop", Caller("job"), reads_only=True) as work,
    ):
        work.emit("checkin", key="k1", user_id="u1")
        work.db.flush()
    assert _outbox(runtime) == 0


def test_a_signed_unit_records_its_nonce_with_the_work(runtime: Runtime, make_app) -> None:  # type: ignore[no-untyped-def]
    make_app("shop")
    call = SignedCall(app=runtime.app_cache.get("shop"), nonce="n-1", now=runtime.clock())

    def fail(work: Work) -> None:
        work.emit("checkin", key="k1", user_id="u1")
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        in_signed_work(runtime, call, fail)
    # Rolled back with the work: the merchant may send the same signed request again, and it counts once.
    assert in_signed_work(runtime, call, lambda work: work.emit("checkin", key="k1", user_id="u1"))
    with pytest.raises(Unauthorized):
        in_signed_work(runtime, call, lambda work: work.emit("checkin", key="k2", user_id="u1"))
    assert _outbox(runtime) == 1


def test_each_runtime_owns_its_caches(settings: Settings, runtime: Runtime) -> None:
    other = build_runtime(settings.model_copy(), clock=runtime.clock)
    try:
        mine = runtime.caches.get("test.cache", dict)
        mine["k"] = 1
        assert other.caches.get("test.cache", dict) == {}
        with runtime.sessions() as a, other.sessions() as b:
            assert caches.of(a) is runtime.caches and caches.of(b) is other.caches
    finally:
        other.close()


SRC = Path(huoli.__file__).parent
OPENERS = {"unit_of_work", "read_only", "single_statement", "open_work"}
# Modules of a domain that may open units of work: the work that spans transactions or calls WeChat
# (flows), periodic work (jobs), commands (cli), the demo builder and each domain's privacy hooks' runner.
MAY_OPEN = {"flows.py", "jobs.py", "cli.py"}
# Still opening their own units, each for a reason of its own (docs/architecture.md lists them).
KNOWN = {
    "analytics/service.py",  # reads channel costs beside a DuckDB query, outside the request's unit
    "demo/service.py",  # builds the demo app step by step, a unit per step
    "demo/state.py",  # replays the demo's history through the services, a unit per fact at its own moment
    "diagnosis/service.py",  # the doctor's run record, written after minutes of analytics
    "flags/service.py",  # the flag cache refills itself (one read per TTL), not a use case
    "flags/writer.py",  # the exposure writer's background thread, a unit per batch
    "privacy/retention.py",  # deletes in batches, a unit per batch
    "reports/service.py",  # reads what the report shows, around a long analytics run
}
PLATFORM = {"apps", "auth", "audit", "jobs", "events", "backup", "console"}


def _opens_a_unit(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if name in OPENERS:
                return True
    return False


def test_routes_never_open_a_unit_of_work() -> None:
    """Routes get theirs from deps.py (one per kind of caller) or hand deps.in_work to run_hot."""
    routes = [*SRC.glob("*/routes.py"), *SRC.glob("*/api/*.py")]
    assert routes
    assert [str(p.relative_to(SRC)) for p in routes if _opens_a_unit(p)] == []


def test_only_flows_jobs_and_commands_open_units_in_a_domain() -> None:
    opened = {
        str(p.relative_to(SRC))
        for p in SRC.glob("*/**/*.py")
        if p.parts[len(SRC.parts)] not in PLATFORM and p.name not in MAY_OPEN and _opens_a_unit(p)
    }
    assert opened <= KNOWN, sorted(opened - KNOWN)
    assert opened >= KNOWN, f"no longer opens a unit, take it off the list: {sorted(KNOWN - opened)}"
