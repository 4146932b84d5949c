"""Referrals (邀请有礼): invite codes carried in the share path, binding on the invitee's first open, rewards
to both sides only after the invitee's qualifying action (first order or registration), capped per referrer.

Rewards are coupons issued through the coupons service with keys derived from the binding, so a
retried qualification never rewards twice; the per-referrer cap is a conditional increment.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from huoli.db import insert_or_ignore
from huoli.errors import Conflict, HuoliError, NotFound
from huoli.pagination import PageParams, paginate
from huoli.promotions import compliance, coupons, lifecycle
from huoli.promotions.common import event_key, get_named, new_id
from huoli.promotions.models import InviteCode, ReferralBinding, ReferralProgram
from huoli.promotions.schemas import ReferralProgramIn
from huoli.work import Work

_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O/1/I: codes get read aloud and typed


def create_program(work: Work, spec: ReferralProgramIn) -> ReferralProgram:
    compliance.enforce(compliance.check_referral(spec))
    db = work.db
    for tid in (spec.referrer_template_id, spec.invitee_template_id):
        coupons.get_template(db, tid)
    if get_named(db, ReferralProgram, spec.id) is not None:
        raise Conflict(f"referral program {spec.id!r} exists", code="exists")
    row = ReferralProgram(
        id=spec.id,
        app_id=work.app_id,
        name=spec.name,
        qualifying_action=spec.qualifying_action,
        referrer_template_id=spec.referrer_template_id,
        invitee_template_id=spec.invitee_template_id,
        max_rewards_per_referrer=spec.max_rewards_per_referrer,
        new_user_window_s=spec.new_user_window_s,
        active=True,
        starts_at=spec.starts_at,
        ends_at=spec.ends_at,
        rules_text=compliance.rules_text("referral", spec),
        created_at=work.now,
    )
    db.add(row)
    db.flush()
    return row


def invite_code(work: Work, *, program_id: str, user_id: str) -> InviteCode:
    """The user's code for a program (created once). Share it as `hl_campaign=ref_<code>` via the SDK."""
    db = work.db
    program = get_named(db, ReferralProgram, program_id)
    if program is None:
        raise NotFound(f"referral program {program_id!r} not found")
    lifecycle.require_running(program, "referral-programs", work.now)
    for _ in range(5):
        existing = db.scalars(
            select(InviteCode).where(InviteCode.program_id == program_id, InviteCode.user_id == user_id)
        ).first()
        if existing is not None:
            return existing
        code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
        insert_or_ignore(
            db,
            InviteCode,
            {
                "id": new_id("inv"),
                "app_id": work.app_id,
                "program_id": program_id,
                "user_id": user_id,
                "code": code,
                "rewarded_count": 0,
                "created_at": work.now,
            },
        )
    raise HuoliError("could not allocate an invite code; retry", code="code_allocation_failed")


def bind(work: Work, *, code: str, invitee_user_id: str, invitee_created_at: datetime) -> ReferralBinding:
    """Bind an invitee opening the app from an invite. First binding wins; only new users bind."""
    db, now = work.db, work.now
    inv = db.scalars(select(InviteCode).where(InviteCode.code == code.strip().upper())).first()
    if inv is None:
        raise NotFound("unknown invite code", code="unknown_code")
    program = get_named(db, ReferralProgram, inv.program_id, app_id=inv.app_id)
    assert program is not None
    if inv.user_id == invitee_user_id:
        raise HuoliError("you can't invite yourself", code="self_referral")
    lifecycle.require_running(program, "referral-programs", now)
    existing = db.scalars(
        select(ReferralBinding).where(
            ReferralBinding.program_id == program.id, ReferralBinding.invitee_user_id == invitee_user_id
        )
    ).first()
    if existing is not None:
        return existing
    if now - invitee_created_at > timedelta(seconds=program.new_user_window_s):
        raise HuoliError("invitations are for new users", code="not_new_user")
    bid = new_id("rb")
    insert_or_ignore(
        db,
        ReferralBinding,
        {
            "id": bid,
            "app_id": work.app_id,
            "program_id": program.id,
            "invitee_user_id": invitee_user_id,
            "referrer_user_id": inv.user_id,
            "code": inv.code,
            "status": "bound",
            "bound_at": now,
            "referrer_rewarded": False,
        },
    )
    row = db.scalars(
        select(ReferralBinding).where(
            ReferralBinding.program_id == program.id, ReferralBinding.invitee_user_id == invitee_user_id
        )
    ).one()
    if row.id == bid:
        work.emit(
            "referral_bound",
            key=event_key("referral_bound", bid),
            user_id=invitee_user_id,
            properties={"program_id": program.id, "sharer_id": inv.user_id},
        )
    return row


def qualify(
    work: Work, *, invitee_user_id: str, action: str, blocked_reason: str | None = None
) -> list[ReferralBinding]:
    """The invitee did `action` (first_order | registration): reward both sides of every matching binding.

    `blocked_reason` (velocity or risk refusal decided by the caller) closes the binding without rewards.
    """
    db, now = work.db, work.now
    done = []
    rows = db.scalars(
        select(ReferralBinding).where(
            ReferralBinding.invitee_user_id == invitee_user_id, ReferralBinding.status == "bound"
        )
    ).all()
    for b in rows:
        program = get_named(db, ReferralProgram, b.program_id, app_id=b.app_id)
        if program is None or program.qualifying_action != action:
            continue
        new_status = "blocked" if blocked_reason else "rewarded"
        flipped = db.execute(
            update(ReferralBinding)
            .where(ReferralBinding.id == b.id, ReferralBinding.status == "bound")
            .values(status=new_status, qualified_at=now, note=blocked_reason)
            .returning(ReferralBinding.id)
        ).first()
        if flipped is None or blocked_reason:
            continue
        problems: list[str] = []
        _reward(work, program.invitee_template_id, invitee_user_id, f"ref:{b.id}:invitee", problems)
        # The cap slot and the referrer's coupon share a savepoint: a failed reward gives the slot back.
        capped = None
        try:
            with db.begin_nested():
                capped = db.execute(
                    update(InviteCode)
                    .where(
                        InviteCode.code == b.code,
                        InviteCode.rewarded_count < program.max_rewards_per_referrer,
                    )
                    .values(rewarded_count=InviteCode.rewarded_count + 1)
                    .returning(InviteCode.rewarded_count)
                ).first()
                if capped is not None:
                    coupons.claim(
                        work,
                        template_id=program.referrer_template_id,
                        user_id=b.referrer_user_id,
                        claim_key=f"ref:{b.id}:referrer",
                        source="referral",
                    )
                    b.referrer_rewarded = True
        except HuoliError as exc:
            capped = None
            problems.append(f"{program.referrer_template_id}: {exc.code}")
        if problems:
            b.note = "; ".join(problems)[:200]
        db.flush()
        work.emit(
            "referral_rewarded",
            key=event_key("referral_rewarded", b.id),
            user_id=invitee_user_id,
            properties={
                "program_id": program.id,
                "sharer_id": b.referrer_user_id,
                "action": action,
                "referrer_rewarded": capped is not None,
            },
        )
        done.append(b)
    return done


def _reward(work: Work, template_id: str, user_id: str, key: str, problems: list[str]) -> bool:
    """Issue a reward coupon in a savepoint: a paused or exhausted reward template is noted on the binding,
    never allowed to fail the order payment that qualified it."""
    try:
        with work.db.begin_nested():
            coupons.claim(work, template_id=template_id, user_id=user_id, claim_key=key, source="referral")
        return True
    except HuoliError as exc:
        problems.append(f"{template_id}: {exc.code}")
        return False


def program_of(db: Session, program_id: str, *, app_id: str | None = None) -> ReferralProgram | None:
    return get_named(db, ReferralProgram, program_id, app_id=app_id)


def has_pending_binding(db: Session, invitee_user_id: str) -> bool:
    """Whether a qualifying action of this user could still reward someone (so a risk check is worth a call)."""
    return (
        db.scalars(
            select(ReferralBinding.id).where(
                ReferralBinding.invitee_user_id == invitee_user_id, ReferralBinding.status == "bound"
            )
        ).first()
        is not None
    )


def referrers_page(
    db: Session, program_id: str, page: PageParams
) -> tuple[list[dict[str, object]], str | None]:
    """A program's referrers, most rewarded first, with their invitees per status."""
    if get_named(db, ReferralProgram, program_id) is None:
        raise NotFound(f"referral program {program_id!r} not found")
    rows, cursor = paginate(
        db,
        select(InviteCode).where(InviteCode.program_id == program_id),
        page,
        order=[InviteCode.rewarded_count.desc(), InviteCode.created_at.asc(), InviteCode.id.asc()],
    )
    ids = [r.user_id for r in rows]
    invitees: dict[str, dict[str, int]] = {i: {} for i in ids}
    if ids:
        for who, status, n in db.execute(
            select(ReferralBinding.referrer_user_id, ReferralBinding.status, func.count())
            .where(ReferralBinding.program_id == program_id, ReferralBinding.referrer_user_id.in_(ids))
            .group_by(ReferralBinding.referrer_user_id, ReferralBinding.status)
        ):
            invitees[who][status] = int(n)
    return [
        {
            "user_id": r.user_id,
            "code": r.code,
            "rewarded": r.rewarded_count,
            "invitees": invitees[r.user_id],
            "created_at": r.created_at,
        }
        for r in rows
    ], cursor
