"""The scenario matrix, generated and diagnosed once per session and shared by the tests that need it."""

from __future__ import annotations

import pytest

from huoli.diagnosis.simulate import Run, matrix_scenarios, run


@pytest.fixture(scope="session")
def matrix() -> list[Run]:
    """Eleven signals injected alone and nine healthy baselines: 20 seeded scenarios."""
    return [run(sc) for sc in matrix_scenarios(healthy_seeds=9)]
