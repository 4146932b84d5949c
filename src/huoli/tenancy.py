"""App (tenant) scoping, enforced in one place.

Every table that belongs to an app mixes in `AppScoped`. A session opened for an app carries
`session.info["app_id"]`; the listeners below then (1) add `app_id = :scope` to every ORM SELECT, UPDATE and
DELETE touching an app-scoped entity, and (2) refuse to flush a row whose app_id is another app's.
Domain code therefore never writes `WHERE app_id = …` and cannot forget it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, event
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
