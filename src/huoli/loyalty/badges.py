"""勋章 badges: definitions per app, awarded once per member (the primary key decides, not a prior SELECT)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huoli.db import insert_or_ignore
from huoli.errors import NotFound
from huoli.loyalty.context import Ctx
from huoli.loyalty.models import BadgeDefinition, UserBadge
from huoli.loyalty.schemas import BadgeAdminOut, BadgeHolderOut, BadgeIn, BadgeOut
from huoli.pagination import PageParams, paginate


def define(db: Session, ctx: Ctx, badge: BadgeIn) -> BadgeDefinition:
    row = db.get(BadgeDefinition, (ctx.app_id, badge.code))
    if row is None:
        row = BadgeDefinition(app_id=ctx.app_id, code=badge.code, created_at=ctx.now)
        db.add(row)
    row.name, row.description, row.icon = badge.name, badge.description, badge.icon
    db.flush()
    return row


def ensure(db: Session, ctx: Ctx, code: str) -> None:
    """A rule may name a badge before an operator styled it: it then exists with its code as its name."""
    insert_or_ignore(
        db,
        BadgeDefinition,
        {"app_id": ctx.app_id, "code": code, "name": code, "description": "", "created_at": ctx.now},
        ["app_id", "code"],
    )


def award(db: Session, ctx: Ctx, *, user_id: str, code: str, source: str) -> bool:
    """True when this call awarded it; an unknown badge code is an error (define it first)."""
    if db.get(BadgeDefinition, (ctx.app_id, code)) is None:
        raise NotFound(f"no badge {code!r}; define it under /admin/loyalty/badges", code="badge_not_found")
    won = insert_or_ignore(
        db,
        UserBadge,
        {
            "app_id": ctx.app_id,
            "user_id": user_id,
            "badge_code": code,
            "source": source,
            "awarded_at": ctx.now,
        },
        ["app_id", "user_id", "badge_code"],
    )
    if won:
        ctx.emit(
            "badge_awarded",
            key=f"badge:{user_id}:{code}",
            user_id=user_id,
            properties={"badge": code, "source": source},
        )
    return won


def showcase(db: Session, *, user_id: str | None) -> list[BadgeOut]:
    """Every defined badge with whether (and when) this member holds it."""
    owned = {}
    if user_id is not None:
        owned = {
            b.badge_code: b.awarded_at
            for b in db.scalars(select(UserBadge).where(UserBadge.user_id == user_id))
        }
    return [
        BadgeOut(
            code=d.code,
            name=d.name,
            description=d.description,
            icon=d.icon,
            owned=d.code in owned,
            awarded_at=owned.get(d.code),
        )
        for d in db.scalars(
            select(BadgeDefinition).order_by(BadgeDefinition.created_at, BadgeDefinition.code)
        )
    ]


def definitions(db: Session, page: PageParams) -> tuple[list[BadgeOut], str | None]:
    """One page of the defined badges for operators, by code (the primary key: a new badge never shifts a page)."""
    rows, cursor = paginate(db, select(BadgeDefinition), page, order=[BadgeDefinition.code.asc()])
    return [BadgeOut(code=d.code, name=d.name, description=d.description, icon=d.icon) for d in rows], cursor


def admin_page(db: Session, page: PageParams) -> tuple[list[BadgeAdminOut], str | None]:
    """`definitions` with how many members hold each badge."""
    rows, cursor = paginate(db, select(BadgeDefinition), page, order=[BadgeDefinition.code.asc()])
    held = dict(
        db.execute(
            select(UserBadge.badge_code, func.count())
            .where(UserBadge.badge_code.in_([d.code for d in rows]))
            .group_by(UserBadge.badge_code)
        ).all()
    )
    items = [
        BadgeAdminOut(
            code=d.code, name=d.name, description=d.description, icon=d.icon, holders=int(held.get(d.code, 0))
        )
        for d in rows
    ]
    return items, cursor


def holders(db: Session, code: str, page: PageParams) -> tuple[list[BadgeHolderOut], str | None]:
    """One page of a badge's holders, most recent first."""
    stmt = select(UserBadge).where(UserBadge.badge_code == code)
    rows, cursor = paginate(db, stmt, page, order=[UserBadge.awarded_at.desc(), UserBadge.user_id.asc()])
    return [BadgeHolderOut(user_id=r.user_id, source=r.source, awarded_at=r.awarded_at) for r in rows], cursor
