"""Finds each domain's optional parts (models, routes, cli) so adding a domain never edits shared wiring.

A domain is a subpackage of huoli. It may have:
- ``models.py``: SQLAlchemy tables (imported for metadata/Alembic),
- ``routes.py`` with ``router: fastapi.APIRouter``,
- ``cli.py`` with ``cli: typer.Typer`` and ``CLI_NAME: str`` (becomes ``huoli <CLI_NAME> …``).
Order is alphabetical so routes and help output are deterministic.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from importlib.util import find_spec
from types import ModuleType

import huoli


def domain_names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(huoli.__path__) if m.ispkg and m.name != "migrations")


def domain_modules(part: str) -> Iterator[ModuleType]:
    """Import ``huoli.<domain>.<part>`` for every domain that has one."""
    for name in domain_names():
        qualified = f"huoli.{name}.{part}"
        if find_spec(qualified) is not None:
            yield importlib.import_module(qualified)
