"""What every `huoli` command shares — output, errors, settings, the runtime, the database — so the root CLI
and each domain's cli.py import it without importing each other.

Imported by `huoli --help`: the storage stack (SQLAlchemy, Alembic, DuckDB) is imported inside the helpers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from huoli.errors import HuoliError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from huoli.crypto import Keyring
    from huoli.runtime import Runtime
    from huoli.settings import Settings

out = Console()
err = Console(stderr=True)
T = TypeVar("T")


def fail(message: str, details: Any = None) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}")
    if isinstance(details, list):
        for d in details:
            if isinstance(d, dict) and "field" in d:
                err.print(escape(f"  - {d['field'] or '(input)'}: {d.get('message', '')}"))
            else:
                err.print(escape(f"  - {d}"))
    elif details:
        err.print(escape(f"  {details}"))
    return typer.Exit(code=1)


def load_settings() -> Settings:
    from pydantic import ValidationError

    from huoli.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        raise fail(
            "invalid settings (HUOLI_* environment or huoli.toml)",
            [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()],
        ) from None


@contextmanager
def runtime(*, migrate: bool = True, events: bool = True) -> Iterator[Runtime]:
    """The process's wiring for one command. `events=False`: the operational database alone — no event store,
    writer or outbox relay, and so no lock on the store: for commands that must run beside `huoli serve`."""
    from huoli.runtime import build_runtime, build_worker_runtime

    settings = load_settings()
    try:
        if events:
            rt = build_runtime(settings, run_migrations=migrate)
        else:
            if migrate:
                _upgrade(settings)
            rt = build_worker_runtime(settings)
    except Exception as exc:  # storage can't open: say which and why, no traceback
        msg = str(exc).splitlines()[0]
        if "lock" in msg.lower():
            msg += (
                " — is `huoli serve` running on this data directory? Stop it first, or send events over HTTP."
            )
        raise fail(f"cannot open huoli storage: {msg}") from None
    try:
        yield rt
    except HuoliError as exc:  # one a command did not guard (e.g. a stored secret the keys can't decrypt)
        raise fail(exc.message, exc.details) from None
    finally:
        rt.close()


def _upgrade(settings: Settings) -> None:
    """Migrate the operational database (raises what opening it raises; `runtime` reports it)."""
    from huoli import migrate as migrations
    from huoli.db import make_engine
    from huoli.runtime import keyring_for

    engine = make_engine(settings.resolved_database_url(), keyring=keyring_for(settings))
    try:
        migrations.upgrade(engine)  # the data migrations encrypt secrets with the engine's keyring
    finally:
        engine.dispose()


@contextmanager
def database() -> Iterator[tuple[Settings, Engine, Keyring]]:
    """The operational database alone (migrated, with the settings' keyring): for commands that must run
    beside `huoli serve`, which holds the event store."""
    from huoli import migrate as migrations
    from huoli.crypto import Keyring
    from huoli.db import make_engine

    settings = load_settings()
    # Not runtime.keyring_for: importing the runtime loads the event store's stack (pyarrow, numpy).
    keyring = guarded(lambda: Keyring.from_strings(settings.resolved_encryption_keys()))
    engine = make_engine(settings.resolved_database_url(), keyring=keyring)
    try:
        try:
            migrations.upgrade(engine)
        except Exception as exc:
            raise fail(f"cannot open the database: {str(exc).splitlines()[0]}") from None
        yield settings, engine, keyring
    finally:
        engine.dispose()


def guarded(fn: Callable[[], T]) -> T:
    from pydantic import ValidationError

    try:
        return fn()
    except HuoliError as exc:
        raise fail(exc.message, exc.details) from None
    except ValidationError as exc:
        raise fail(
            "invalid input",
            [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()],
        ) from None
