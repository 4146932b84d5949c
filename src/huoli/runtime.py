"""The process's wiring: built once from Settings by the CLI or the app factory, handed to everything.

Holding engine, session factory, event store and writer in one object (not module globals) is what lets
tests run two independent huoli instances (SQLite and PostgreSQL) in one process.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn, cast

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from huoli import crypto, migrate
from huoli.apps.models import App
from huoli.apps.service import AppCache
from huoli.auth.service import RevocationCache
from huoli.caches import Caches
from huoli.crypto import Keyring
from huoli.db import Timeouts, make_engine, make_session_factory
from huoli.errors import HuoliError
from huoli.events.stores import EventStore, open_store
from huoli.events.writer import GroupCommitWriter
from huoli.models import Base
from huoli.settings import Settings
from huoli.wechat.client import WeChatClient


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: EventStore
    writer: GroupCommitWriter
    app_cache: AppCache
    secret_key: str
    keyring: Keyring  # encrypts the secrets stored in the database (crypto.py); both engines carry it
    revocations: RevocationCache  # revoked session tokens, at most revocation_cache_ttl_s stale
    clock: Callable[[], datetime] = system_clock
    primary: bool = True  # False in a `serve --workers` worker: no event store, writer or relay here
    loop_engine: Engine | None = None  # hot units of work on the event loop (deps.run_hot), short lock bound
    caches: Caches = field(default_factory=Caches)  # the process caches of this runtime (caches.py)
    job_queue: Any = None  # huoli.jobs.queue.JobQueue, made on first use (jobs.queue.queue_for)
    _wechat: dict[str, WeChatClient] = field(default_factory=dict)
    _wechat_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def hot_on_loop(self) -> bool:
        """Whether deps.run_hot runs hot routes on the event loop (Settings.hot_routes_on_loop; default: on
        PostgreSQL)."""
        return self.loop_engine is not None

    def wechat_for(self, app: App) -> WeChatClient:
        """One client per mini-program, kept so its access_token cache lives as long as the process."""
        if not app.wx_appid or not app.wx_secret:
            raise HuoliError(
                f"app {app.id!r} has no WeChat appid/secret configured", code="wechat_not_configured"
            )
        # Keyed by the secret too: after `huoli apps set-wx-secret` the next login uses the new one.
        key = f"{app.wx_appid}:{hashlib.sha256(app.wx_secret.encode()).hexdigest()[:16]}"
        with self._wechat_lock:
            client = self._wechat.get(key)
            if client is None:
                client = WeChatClient(
                    appid=app.wx_appid, secret=app.wx_secret, base_url=self.settings.wechat_api_base
                )
                self._wechat[key] = client
            return client

    def close(self) -> None:
        if self.primary:
            self.writer.close()
            self.store.close()
        for client in self._wechat.values():
            client.close()
        self.engine.dispose()
        if self.loop_engine is not None:
            self.loop_engine.dispose()


class PrimaryOnly(HuoliError):
    status_code = 500
    code = "primary_only"


class PrimaryOnlyResource:
    """Stands in for the event store and writer in a worker: any use names the mistake instead of failing
    somewhere later (a route that needs the store must not be answered by a worker; `served_by_worker`)."""

    def __init__(self, what: str) -> None:
        self._what = what

    def __getattr__(self, name: str) -> NoReturn:
        raise PrimaryOnly(
            f"the {self._what} lives in the primary process; this route must be forwarded to it "
            f"(huoli.serving.served_by_worker), not answered by a worker ({self._what}.{name})"
        )


def _wire(
    settings: Settings,
    engine: Engine,
    store: EventStore,
    writer: GroupCommitWriter,
    *,
    keyring: Keyring,
    clock: Callable[[], datetime],
    primary: bool = True,
) -> Runtime:
    caches = Caches()
    sessions = make_session_factory(engine, caches)
    # Fail at start, not on a request, if a stored secret (any EncryptedString column) is under a key not
    # configured.
    crypto.check_keys(engine, Base.metadata, keyring)
    choice = settings.hot_routes_on_loop
    on_loop = choice if choice is not None else engine.dialect.name == "postgresql"
    return Runtime(
        loop_engine=_loop_engine(settings, keyring) if on_loop else None,
        settings=settings,
        engine=engine,
        sessions=sessions,
        app_cache=AppCache(sessions),
        caches=caches,
        secret_key=settings.resolved_secret_key(),
        keyring=keyring,
        revocations=RevocationCache(sessions, clock=clock, ttl_s=settings.revocation_cache_ttl_s),
        store=store,
        writer=writer,
        clock=clock,
        primary=primary,
    )


def keyring_for(settings: Settings) -> Keyring:
    """The settings' encryption keys (generated into the data dir if unset). Reads a file: once per process."""
    return Keyring.from_strings(settings.resolved_encryption_keys())


def _engine(settings: Settings, keyring: Keyring) -> Engine:
    return make_engine(
        settings.resolved_database_url(),
        pool_size=settings.database_pool_size,
        keyring=keyring,
        timeouts=Timeouts(
            lock_ms=settings.db_lock_timeout_ms,
            statement_ms=settings.db_statement_timeout_ms,
            idle_in_transaction_ms=settings.db_idle_in_transaction_timeout_ms,
        ),
    )


def _loop_engine(settings: Settings, keyring: Keyring) -> Engine:
    """The event loop's own small pool, whose lock and statement bounds are short: a hot unit of work on the
    loop that meets a locked row gives up within milliseconds and goes to a thread (deps.run_hot), so no lock
    held by anyone — even a request waiting for the loop to send its answer — can stall the loop."""
    return make_engine(
        settings.resolved_database_url(),
        pool_size=2,  # one unit of work at a time runs on the loop
        keyring=keyring,
        max_overflow=2,
        pool_timeout=1,
        timeouts=Timeouts(
            lock_ms=settings.hot_loop_lock_timeout_ms,
            statement_ms=settings.hot_loop_statement_timeout_ms,
            idle_in_transaction_ms=settings.db_idle_in_transaction_timeout_ms,
        ),
    )


def build_worker_runtime(settings: Settings, *, clock: Callable[[], datetime] = system_clock) -> Runtime:
    """A request worker's wiring (huoli.serving): the operational database only. The primary migrated it and
    owns the event store; the store and writer here refuse every use with a message naming the mistake."""
    keyring = keyring_for(settings)
    engine = _engine(settings, keyring)
    store = cast(EventStore, PrimaryOnlyResource("event store"))
    writer = cast(GroupCommitWriter, PrimaryOnlyResource("event writer"))
    return _wire(settings, engine, store, writer, keyring=keyring, clock=clock, primary=False)


def build_runtime(
    settings: Settings, *, run_migrations: bool = True, clock: Callable[[], datetime] = system_clock
) -> Runtime:
    keyring = keyring_for(settings)
    engine = _engine(settings, keyring)
    if run_migrations:  # the data migration of auth_0001 encrypts existing secrets with the engine's keyring
        migrate.upgrade(engine)
    store = open_store(settings.resolved_event_store_url(), threads=settings.duckdb_threads)
    writer = GroupCommitWriter(
        store,
        journal_dir=store.journal_dir(settings.data_dir) if store.durable else None,
        max_events=settings.group_commit_max_events,
        linger_s=settings.group_commit_linger_ms / 1000,
    )
    return _wire(settings, engine, store, writer, keyring=keyring, clock=clock)
