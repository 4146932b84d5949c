"""Fixtures for the promotion tests: one app, a unit-of-work helper, and a thread race helper."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy.orm import Session

from huoli.db import unit_of_work
from huoli.runtime import Runtime

APP = "shop"


@pytest.fixture
def shop(make_app):  # type: ignore[no-untyped-def]
    return make_app(APP)


@pytest.fixture
def uow(runtime: Runtime, shop) -> Callable[[], Any]:  # type: ignore[no-untyped-def]
    @contextmanager
    def open_() -> Iterator[Session]:
        with unit_of_work(runtime.sessions, app_id=APP) as db:
            yield db

    open_.runtime = runtime  # type: ignore[attr-defined]  # helpers that get only `uow` build a Work with it
    return open_
