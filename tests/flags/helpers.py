"""Shared helpers for flag and experiment tests: callers' headers and waiting for the outbox relay."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from huoli.auth.service import issue_session_token
from huoli.db import unit_of_work
from huoli.flags import service
from huoli.runtime import Runtime


def admin(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def user_headers(runtime: Runtime, app_id: str, user_id: str) -> dict[str, str]:
    token, _ = issue_session_token(
        secret=runtime.secret_key, app_id=app_id, user_id=user_id, now=runtime.clock(), ttl=timedelta(hours=1)
    )
    return {"X-Huoli-App-Id": app_id, "Authorization": f"Bearer {token}"}


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def attach_experiment(
    runtime: Runtime,
    app_id: str,
    *,
    flag: str,
    key: str,
    variations: list[Any],
    meta_keys: list[str],
    weights: list[float] | None = None,
) -> None:
    """Run an experiment on a flag the way the experiments domain does (GrowthBook rule, hash v2, seed = key)."""
    rule: dict[str, Any] = {
        "key": key,
        "variations": variations,
        "meta": [{"key": k} for k in meta_keys],
        "hashVersion": 2,
        "seed": key,
        "bucketVersion": 0,
    }
    if weights is not None:
        rule["weights"] = weights
    with unit_of_work(runtime.sessions, app_id=app_id) as db:
        service.attach_experiment(db=db, key=flag, rule=rule, now=runtime.clock(), settings=runtime.settings)
