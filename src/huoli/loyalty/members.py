"""An operator's changes to one member outside the points ledger — a tier set by hand, a coupon issued, a
badge awarded — each with the reason they gave, kept as the member's history (`loyalty_member_notes`). Who did
it and the request are in the audit trail, which records every operator write."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from huoli.errors import ValidationFailed
from huoli.loyalty import badges, tiers
from huoli.loyalty.context import Ctx
from huoli.loyalty.models import MemberNote
from huoli.loyalty.schemas import MemberCouponOut, MemberNoteOut
from huoli.pagination import PageParams, paginate
from huoli.promotions import service as promotions


def _note(
    db: Session, ctx: Ctx, *, user_id: str, kind: str, ref: str | None, reason: str, **detail: Any
) -> None:
    db.add(
        MemberNote(
            app_id=ctx.app_id,
            user_id=user_id,
            kind=kind,
            ref=ref,
            detail=orjson.dumps({k: v for k, v in detail.items() if v is not None}).decode(),
            reason=reason,
            actor=ctx.work.caller.id,
            created_at=ctx.now,
        )
    )
    db.flush()


def set_tier(db: Session, ctx: Ctx, *, user_id: str, tier: str, until: datetime | None, reason: str) -> None:
    before, after = tiers.set_manual(db, ctx, user_id=user_id, tier=tier, until=until)
    _note(
        db,
        ctx,
        user_id=user_id,
        kind="tier",
        ref=after,
        reason=reason,
        from_tier=before,
        until=until.isoformat() if until else None,
    )


def issue_coupon(
    db: Session, ctx: Ctx, *, user_id: str, template_id: str, key: str, reason: str
) -> MemberCouponOut:
    """One coupon of a promotions template to this member, once per key (its validity, stock and per-user limit
    apply). A refusal is the promotions error (404, 409) and writes nothing."""
    if not promotions.coupon_template_exists(db, app_id=ctx.app_id, template_id=template_id):
        raise ValidationFailed(
            f"no coupon template {template_id!r}",
            details=[{"field": "template_id", "message": f"no coupon template {template_id!r} in this app"}],
        )
    # no savepoint: a refusal (inactive, sold out, per-user limit) fails the request with the promotions error
    coupon_id, created = promotions.claim_coupon(
        ctx.work,
        template_id=template_id,
        user_id=user_id,
        claim_key=f"loyalty:admin:{user_id}:{key}",
        source="loyalty",
    )
    if created:
        _note(db, ctx, user_id=user_id, kind="coupon", ref=template_id, reason=reason, coupon_id=coupon_id)
    return MemberCouponOut(coupon_id=coupon_id, issued=created)


def award_badge(db: Session, ctx: Ctx, *, user_id: str, code: str, key: str, reason: str | None) -> bool:
    won = badges.award(db, ctx, user_id=user_id, code=code, source=f"admin:{key}")
    if won and reason:
        _note(db, ctx, user_id=user_id, kind="badge", ref=code, reason=reason)
    return won


def history(db: Session, user_id: str, page: PageParams) -> tuple[list[MemberNoteOut], str | None]:
    """The member's operator changes, newest first."""
    stmt = select(MemberNote).where(MemberNote.user_id == user_id)
    rows, cursor = paginate(db, stmt, page, order=[MemberNote.id.desc()])
    return [
        MemberNoteOut(
            id=r.id,
            kind=r.kind,
            ref=r.ref,
            detail=orjson.loads(r.detail) if r.detail else {},
            reason=r.reason,
            actor=r.actor,
            created_at=r.created_at,
        )
        for r in rows
    ], cursor
