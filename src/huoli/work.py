"""The unit of work and what it runs for, in one object handed to services.

A use case needs its session (scoped to one app), the app, the time the call started, the settings, who
asked and a way to log what happened. Before, routes threaded those by hand (`settings=` passed 98 times, 46
`emit(...)` calls each passing settings, app and time). A `Work` carries them; deps.py opens one per request
for each kind of caller, jobs and CLI commands open theirs with `open_work`, and only a domain's `flows.py`
opens several (work spanning transactions or calling WeChat).

Services never commit: the boundary that opened the Work commits once, before the response is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from huoli import caches as caches_mod
from huoli.apps.models import App
from huoli.caches import Caches
from huoli.db import read_only, unit_of_work
from huoli.events import service as events
from huoli.runtime import Runtime
from huoli.settings import Settings

CallerKind = Literal["user", "anonymous", "server", "operator", "job", "cli"]


@dataclass(frozen=True)
class Caller:
    """Who asked: a mini-program user (their pseudonymous id), the merchant's backend, an operator key, a job."""

    kind: CallerKind
    id: str | None = None


@dataclass
class Work:
    db: Session
    app: App
    now: datetime  # one instant for the whole unit: every row and event it writes agrees on "now"
    settings: Settings
    caller: Caller
    clock: Callable[[], datetime]
    caches: Caches = field(repr=False)

    @property
    def app_id(self) -> str:
        return self.app.id

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.app.timezone)

    @property
    def today(self) -> date:
        """The app's local date now (its timezone, not the server's)."""
        return self.now.astimezone(self.tz).date()

    @property
    def user_id(self) -> str | None:
        return self.caller.id if self.caller.kind == "user" else None

    def emit(
        self,
        name: str,
        *,
        key: str,
        user_id: str | None = None,
        properties: Mapping[str, Any] | None = None,
        ts: datetime | None = None,
        anonymous_id: str | None = None,
        page: str | None = None,
        channel: str | None = None,
        scene: int | None = None,
    ) -> str:
        """Log a server-side event in this unit's transaction (the outbox): it exists if and only if the unit
        commits. `key` makes it idempotent: the same key logs once. Returns the event id."""
        return events.emit(
            db=self.db,
            app_id=self.app.id,
            name=name,
            ts=ts or self.now,
            idempotency_key=key,
            settings=self.settings,
            user_id=user_id,
            anonymous_id=anonymous_id,
            properties=properties,
            page=page,
            channel=channel,
            scene=scene,
        )


def work_in(db: Session, runtime: Runtime, app: App, caller: Caller, now: datetime | None = None) -> Work:
    """A Work on a session someone else opened (a flow's step, a job's unit, a test)."""
    return Work(
        db=db,
        app=app,
        now=now or runtime.clock(),
        settings=runtime.settings,
        caller=caller,
        clock=runtime.clock,
        caches=caches_mod.of(db),
    )


@contextmanager
def open_work(
    runtime: Runtime,
    app: App | str,
    caller: Caller,
    *,
    reads_only: bool = False,
    now: datetime | None = None,
) -> Iterator[Work]:
    """One unit of work for one app: commits when the block ends, rolls back on any exception.
    `reads_only` opens a read-only session (no SQLite write lock; a write through it raises)."""
    row = runtime.app_cache.get(app) if isinstance(app, str) else app
    boundary = read_only if reads_only else unit_of_work
    with boundary(runtime.sessions, app_id=row.id) as db:
        yield work_in(db, runtime, row, caller, now)
