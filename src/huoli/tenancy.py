"""App (tenant) scoping, enforced in one place.

Every table that belongs to an app mixes in `AppScoped`. A session opened for an app carries
`session.info["app_id"]`; the listeners below then (1) add `app_id = :scope` to every ORM SELECT, UPDATE and
DELETE touching an app-scoped entity, and (2) refuse to flush a row whose app_id is another app's.
Domain code therefore never writes `WHERE app_id = …` and cannot forget it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Result, String, TextClause, TextualSelect, event, text
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, with_loader_criteria


class AppScoped:
    app_id: Mapped[str] = mapped_column(String(64), index=True, nullable=False)


class CrossAppWrite(RuntimeError):
    """A programming error: code tried to write a row of another app through a scoped session."""


@event.listens_for(Session, "do_orm_execute")
def _scope_queries(state: ORMExecuteState) -> None:
    app_id = state.session.info.get("app_id")
    if app_id is None or state.is_column_load or state.is_relationship_load:
        return
    if state.is_select or state.is_update or state.is_delete:
        state.statement = state.statement.options(
            with_loader_criteria(AppScoped, lambda cls: cls.app_id == app_id, include_aliases=True)
        )


@event.listens_for(Session, "before_flush")
def _guard_writes(session: Session, _ctx: Any, _instances: Any) -> None:
    app_id = session.info.get("app_id")
    if app_id is None:
        return
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if isinstance(obj, AppScoped):
            if obj.app_id is None:
                obj.app_id = app_id
            elif obj.app_id != app_id:
                raise CrossAppWrite(
                    f"{type(obj).__name__} of app {obj.app_id!r} in a session scoped to {app_id!r}"
                )


class UnscopedQuery(RuntimeError):
    """A programming error: hand-written SQL that could read or write another app's rows."""


_TABLE_REF = re.compile(r"\b(?:FROM|JOIN|UPDATE|INTO)\s+([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)
_APP_FILTER = re.compile(r"\b(?:[A-Za-z_][A-Za-z0-9_]*\.)?app_id\s*=\s*:(app|app_id)\b", re.IGNORECASE)
_APP_PARAM = re.compile(r":(app|app_id)\b")


def _app_tables() -> set[str]:
    """Tables of every mapped class that mixes in AppScoped (every domain's models are imported by then)."""
    found, todo = set(), list(AppScoped.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if (name := getattr(cls, "__tablename__", None)) is not None:
            found.add(name.lower())
    return found


@functools.lru_cache(maxsize=1024)
def _app_params(sql: str) -> tuple[str, ...]:
    """Checks a statement once and returns the names it binds the app to (`:app` or `:app_id`): each reference
    to an app's table (FROM, JOIN, UPDATE, INSERT INTO) must be matched by an `app_id = :app` condition or,
    for an insert, by the app parameter as a value."""
    refs = [m for m in _TABLE_REF.finditer(sql) if m.group(1).lower() in _app_tables()]
    inserts = sum(1 for m in refs if m.group(0).upper().startswith("INTO"))
    filters = len(_APP_FILTER.findall(sql))
    if filters < len(refs) - inserts or (inserts and not _APP_PARAM.search(_APP_FILTER.sub("", sql))):
        raise UnscopedQuery(f"each app table needs `app_id = :app` (or `:app` inserted): {sql[:160]!r}")
    return tuple(sorted(set(_APP_PARAM.findall(sql))))


def scoped_sql(sql: str) -> TextClause:
    """Hand-written SQL (repositories only): the ORM listeners above cannot see inside `text()`, so it runs
    only with parameters from `bind_app` / `scoped_params`, which check it on its first run (by then every
    domain's tables are known) and refuse it if it could reach another app's rows."""
    return text(sql)


def _sql_of(stmt: TextClause | TextualSelect) -> str:
    clause = stmt if isinstance(stmt, TextClause) else stmt.element
    return str(getattr(clause, "text", ""))


def check_scoped(stmt: TextClause | TextualSelect) -> None:
    """Raise UnscopedQuery now if the statement could reach another app's rows (for tests and start-up)."""
    _app_params(_sql_of(stmt))


def bind_app(
    app_id: str, stmt: TextClause | TextualSelect, params: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The statement's parameters with the app bound under the name(s) it uses; the caller's parameters may
    not name the app themselves."""
    names = _app_params(_sql_of(stmt))
    if params and any(n in params for n in ("app", "app_id")):
        raise UnscopedQuery("the app is bound by the repository's scope, not passed in")
    return {**(params or {}), **dict.fromkeys(names, app_id)}


def scoped_params(
    session: Session, stmt: TextClause | TextualSelect, params: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`bind_app` with the session's app: a statement on a session always runs for the session's app."""
    app_id = session.info.get("app_id")
    if app_id is None:
        raise UnscopedQuery("hand-written SQL needs a session scoped to an app")
    return bind_app(app_id, stmt, params)


def execute_scoped(session: Session, sql: str, params: Mapping[str, Any] | None = None) -> Result[Any]:
    stmt = scoped_sql(sql)
    return session.execute(stmt, scoped_params(session, stmt, params))
