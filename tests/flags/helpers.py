"""Shared helpers for flag and experiment tests: callers' headers and waiting for the outbox relay."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from huoli.auth.service import issue_session_token
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
