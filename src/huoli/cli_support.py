"""What every `huoli` command shares — output, errors, settings, the runtime, the database — so the root CLI
and each domain's cli.py import it without importing each other."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from huoli import migrate as migrations
from huoli.db import make_engine
from huoli.errors import HuoliError
from huoli.runtime import Runtime, build_runtime, keyring_for
from huoli.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from huoli.crypto import Keyring

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
    try:
        return Settings()
    except ValidationError as exc:
        raise fail(
            "invalid settings (HUOLI_* environment or huoli.toml)",
            [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()],
        ) from None


@contextmanager
def runtime(*, migrate: bool = True) -> Iterator[Runtime]:
    settings = load_settings()
    try:
        rt = build_runtime(settings, run_migrations=migrate)
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


@contextmanager
def database() -> Iterator[tuple[Settings, Engine, Keyring]]:
    """The operational database alone (migrated, with the settings' keyring): for commands that must run
    beside `huoli serve`, which holds the event store."""
    settings = load_settings()
    keyring = guarded(lambda: keyring_for(settings))
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
    try:
        return fn()
    except HuoliError as exc:
        raise fail(exc.message, exc.details) from None
    except ValidationError as exc:
        raise fail(
            "invalid input",
            [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()],
        ) from None
