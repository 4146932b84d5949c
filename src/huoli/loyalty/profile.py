"""Member profile for benefits: the birthday (MM-DD) the tier birthday gift is sent on."""

from __future__ import annotations

from sqlalchemy.orm import Session

from huoli.errors import Conflict
from huoli.loyalty.context import Ctx
from huoli.loyalty.models import MemberProfile
from huoli.loyalty.schemas import ProfileOut


def get(db: Session, ctx: Ctx, user_id: str) -> ProfileOut:
    row = db.get(MemberProfile, (ctx.app_id, user_id))
    birthday = row.birthday if row is not None else None
    return ProfileOut(user_id=user_id, birthday=birthday, birthday_locked=birthday is not None)


def set_birthday(
    db: Session, ctx: Ctx, *, user_id: str, birthday: str | None, by_operator: bool
) -> ProfileOut:
    """A member sets the birthday once (a gift a year must not be re-aimable by editing it; repeating the
    same value is fine); an operator may correct or clear it."""
    row = db.get(MemberProfile, (ctx.app_id, user_id), with_for_update=True)
    if row is None:
        row = MemberProfile(app_id=ctx.app_id, user_id=user_id, birthday=None, updated_at=ctx.now)
        db.add(row)
    elif row.birthday is not None and row.birthday != birthday and not by_operator:
        raise Conflict(
            "the birthday is already set; ask customer service to correct it", code="birthday_locked"
        )
    row.birthday = birthday
    row.updated_at = ctx.now
    db.flush()
    return ProfileOut(user_id=user_id, birthday=row.birthday, birthday_locked=row.birthday is not None)
