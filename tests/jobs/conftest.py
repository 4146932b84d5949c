"""Job tests: short leases and backoffs so retries and takeovers happen within a test."""

from __future__ import annotations

import pytest

from huoli.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"jobs_lease_s": 2.0, "jobs_retry_backoff_s": 0.5})
