"""Marketing tests run on SQLite only: the calendar reads and the plan's single unit of work have no
engine-specific code (the promotions tests cover the mechanics on both engines)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'huoli.db'}"
