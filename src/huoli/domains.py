"""Finds each domain's optional parts (models, routes, cli) so adding a domain never edits shared wiring.

A domain is a subpackage of huoli. It may have:
- ``models.py``: SQLAlchemy tables (imported for metadata/Alembic),
- ``routes.py`` with ``router: fastapi.APIRouter``,
- ``cli.py`` with ``cli: typer.Typer`` and ``CLI_NAME: str`` (becomes ``huoli <CLI_NAME> …``), imported only
  when one of its commands runs (`domain_clis` reads the name and help from the source).
Order is alphabetical so routes and help output are deterministic.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import huoli


def domain_names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(huoli.__path__) if m.ispkg and m.name != "migrations")


def _source(domain: str, part: str) -> Path | None:
    """The file of ``huoli.<domain>.<part>`` if it exists, found without importing the domain's package (a
    package's __init__ may import a lot: huoli.wechat's pulls in httpx)."""
    for root in huoli.__path__:
        for candidate in (Path(root) / domain / f"{part}.py", Path(root) / domain / part / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def domain_modules(part: str) -> Iterator[ModuleType]:
    """Import ``huoli.<domain>.<part>`` for every domain that has one."""
    for name in domain_names():
        if _source(name, part) is not None:
            yield importlib.import_module(f"huoli.{name}.{part}")


@dataclass(frozen=True)
class DomainCli:
    """A domain's `huoli <name> …` commands as its cli.py declares them, read without importing it."""

    domain: str
    name: str  # CLI_NAME
    help: str  # the help of its `cli = typer.Typer(help=…)`

    @property
    def module(self) -> str:
        return f"huoli.{self.domain}.cli"

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)


def domain_clis() -> list[DomainCli]:
    """Each domain's cli.py, its CLI_NAME and help read from the source: `huoli --help` and the commands that
    are not a domain's list them without importing any (a domain's cli pulls in its whole stack)."""
    found = []
    for name in domain_names():
        path = _source(name, "cli")
        if path is None:
            continue
        declared = _declared(path.read_text(encoding="utf-8"))
        if declared is None:  # not plain literals: ask the module itself
            module = importlib.import_module(f"huoli.{name}.cli")
            declared = (module.CLI_NAME, module.cli.info.help or "")
        found.append(DomainCli(domain=name, name=declared[0], help=declared[1]))
    return found


def _declared(source: str) -> tuple[str, str] | None:
    """`CLI_NAME = "…"` and `cli = typer.Typer(help="…", …)` at the top level of a cli.py, if both are literals."""
    cli_name = help_text = None
    for node in ast.parse(source).body:
        if not (
            isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
        ):
            continue
        target, value = node.targets[0].id, node.value
        if target == "CLI_NAME" and isinstance(value, ast.Constant) and isinstance(value.value, str):
            cli_name = value.value
        elif target == "cli" and isinstance(value, ast.Call):
            for kw in value.keywords:
                if (
                    kw.arg == "help"
                    and isinstance(kw.value, ast.Constant)
                    and isinstance(kw.value.value, str)
                ):
                    help_text = kw.value.value
    return (cli_name, help_text) if cli_name is not None and help_text is not None else None
