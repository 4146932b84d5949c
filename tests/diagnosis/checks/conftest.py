"""Runs one signal module's checks alone on a scenario with its signal injected: a module needs nothing
another module computed first."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest

from huoli.analytics.engines import DuckDBEngine
from huoli.diagnosis.checks import Check, registered
from huoli.diagnosis.service import Diagnosis, diagnose_engine
from huoli.diagnosis.simulate import Scenario, generate


def module_checks(module: ModuleType) -> list[Check]:
    return [c for c in registered() if type(c).__module__ == module.__name__]


@pytest.fixture
def alone() -> Callable[[ModuleType, frozenset[str], int], Diagnosis]:
    def run(module: ModuleType, inject: frozenset[str], seed: int = 7) -> Diagnosis:
        sc = Scenario(seed=seed, inject=inject)
        engine = DuckDBEngine.from_arrow(generate(sc))
        return diagnose_engine(
            engine, sc.app_id, tz=sc.tz, now=sc.now, end=sc.end, checks=module_checks(module)
        )

    return run
