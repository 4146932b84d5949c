"""Coupons (优惠券): templates, claim → lock (checkout) → redeem → roll back, each step idempotent.

Limits are enforced by the database: the per-user limit is the unique slot (template, user, seq) and the
total limit a conditional increment of the template's issued_count; a coupon changes state only through
an UPDATE conditioned on its current state, so a retried or concurrent redemption uses it once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, Table, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from huoli.db import insert_or_ignore, run
from huoli.errors import Conflict, HuoliError, NotFound, ValidationFailed
from huoli.pagination import PageParams, paginate
from huoli.promotions import catalog_hooks, compliance, hot, lifecycle
from huoli.promotions.common import dumps, event_key, get_named, loads, new_id
from huoli.promotions.models import Coupon, CouponTemplate, GiftPack
from huoli.promotions.schemas import CartLine, CouponTemplateIn, GiftPackIn, Quote
from huoli.work import Work

LOCK_TTL = timedelta(minutes=30)  # an unpaid checkout gives its coupons back after this


def create_template(work: Work, spec: CouponTemplateIn) -> CouponTemplate:
    compliance.enforce(compliance.check_coupon_template(spec))
    db = work.db
    if get_named(db, CouponTemplate, spec.id) is not None:
        raise Conflict(f"coupon template {spec.id!r} exists", code="exists")
    row = CouponTemplate(
        id=spec.id,
        app_id=work.app_id,
        name=spec.name,
        kind=spec.kind,
        amount_fen=spec.amount_fen,
        threshold_fen=spec.threshold_fen,
        percent_off=spec.percent_off,
        max_discount_fen=spec.max_discount_fen,
        valid_from=spec.valid_from,
        valid_until=spec.valid_until,
        valid_days=spec.valid_days,
        total_limit=spec.total_limit,
        per_user_limit=spec.per_user_limit,
        issued_count=0,
        scope=spec.scope,
        scope_ids=dumps(spec.scope_ids),
        stackable=spec.stackable,
        claim_trigger=spec.claim_trigger,
        active=True,
        rules_text=spec.rules_text or compliance.coupon_rules_text(spec),
        created_at=work.now,
    )
    if spec.scope == "items" and spec.scope_ids:
        gone = catalog_hooks.unavailable(work, list(spec.scope_ids))
        row.unavailable_item_ids = dumps(sorted(gone))
        row.halted_reason = catalog_hooks.HALTED if gone >= set(spec.scope_ids) else None
    db.add(row)
    db.flush()
    return row


def get_template(db: Session, template_id: str) -> CouponTemplate:
    row = get_named(db, CouponTemplate, template_id)
    if row is None:
        raise NotFound(f"coupon template {template_id!r} not found")
    return row


def templates_page(db: Session, page: PageParams) -> tuple[list[CouponTemplate], str | None]:
    """One page of the app's templates, in name order."""
    sortable = {
        "id": CouponTemplate.id,
        "name": CouponTemplate.name,
        "kind": CouponTemplate.kind,
    }
    return paginate(db, select(CouponTemplate), page, order=[CouponTemplate.id.asc()], sortable=sortable)


def claimable_templates(db: Session, now: datetime | None = None) -> list[CouponTemplate]:
    """Templates users may claim themselves now (not paused, ended or halted), in name order."""
    stmt = select(CouponTemplate).where(
        CouponTemplate.active.is_(True),
        CouponTemplate.claim_trigger == "user_claim",
        CouponTemplate.ended_at.is_(None),
        CouponTemplate.halted_reason.is_(None),
    )
    if now is not None:
        stmt = stmt.where(or_(CouponTemplate.valid_until.is_(None), CouponTemplate.valid_until > now))
    return list(db.scalars(stmt.order_by(CouponTemplate.id)))


def _validity(t: CouponTemplate, now: datetime) -> tuple[datetime, datetime]:
    if t.valid_days is not None:
        return now, now + timedelta(days=t.valid_days)
    assert t.valid_from is not None and t.valid_until is not None
    return t.valid_from, t.valid_until


def claim(
    work: Work, *, template_id: str, user_id: str, claim_key: str, source: str = "claim"
) -> tuple[Coupon, bool]:
    """Issue one coupon to a user; (coupon, created). The same claim_key always returns the same coupon."""
    db, now = work.db, work.now
    existing = db.scalars(select(Coupon).where(Coupon.claim_key == claim_key)).first()
    if existing is not None:
        return existing, False
    t = get_template(db, template_id)
    # claiming ahead of the validity window (预领) is allowed; paused or ended templates issue nothing
    lifecycle.require_running(t, "coupon-templates", now, allow_scheduled=True)
    if source == "claim" and t.claim_trigger != "user_claim":
        raise HuoliError("this coupon cannot be claimed directly", code="not_claimable")
    valid_from, valid_until = _validity(t, now)
    if valid_until <= now:
        raise HuoliError("this coupon's validity has ended", code="coupon_ended")
    coupon_id = new_id("cpn")
    created = False
    for seq in range(1, t.per_user_limit + 1):
        created = insert_or_ignore(
            db,
            Coupon,
            {
                "id": coupon_id,
                "app_id": work.app_id,
                "template_id": t.id,
                "user_id": user_id,
                "seq": seq,
                "claim_key": claim_key,
                "source": source,
                "status": "available",
                "valid_from": valid_from,
                "valid_until": valid_until,
                "claimed_at": now,
            },
        )
        if created:
            break
        # The slot or the key was taken; a concurrent claim with our key has committed by now (PG waits).
        same_key = db.scalars(select(Coupon).where(Coupon.claim_key == claim_key)).first()
        if same_key is not None:
            return same_key, False
    if not created:
        raise Conflict("per-user limit reached for this coupon", code="per_user_limit")
    taken = db.execute(
        update(CouponTemplate)
        .where(
            CouponTemplate.id == t.id,
            or_(
                CouponTemplate.total_limit.is_(None), CouponTemplate.issued_count < CouponTemplate.total_limit
            ),
        )
        .values(issued_count=CouponTemplate.issued_count + 1)
        .returning(CouponTemplate.issued_count)
    ).first()
    if taken is None:
        # Raising rolls back the slot inserted above along with everything else in the unit of work.
        raise Conflict("all coupons of this kind have been issued", code="sold_out")
    coupon = db.get(Coupon, coupon_id)
    assert coupon is not None
    work.emit(
        "coupon_claimed",
        key=event_key("coupon_claimed", coupon_id),
        user_id=user_id,
        properties={"coupon_id": coupon_id, "template_id": t.id, "source": source},
    )
    return coupon, True


@dataclass
class IssueResult:
    issued: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)


def issue_to_users(work: Work, *, template_id: str, user_ids: Sequence[str], batch_key: str) -> IssueResult:
    """Targeted issuance (定向发券): one coupon per listed user; rerunning the batch issues nothing twice."""
    result = IssueResult()
    for user_id in dict.fromkeys(user_ids):
        try:
            with work.db.begin_nested():
                _, created = claim(
                    work,
                    template_id=template_id,
                    user_id=user_id,
                    claim_key=f"batch:{batch_key}:{user_id}",
                    source="targeted",
                )
        except HuoliError as exc:
            result.failed.append({"user_id": user_id, "code": exc.code})
            continue
        (result.issued if created else result.already).append(user_id)
    return result


def create_gift_pack(work: Work, spec: GiftPackIn) -> GiftPack:
    db = work.db
    for tid in spec.template_ids:
        get_template(db, tid)
    if get_named(db, GiftPack, spec.id) is not None:
        raise Conflict(f"gift pack {spec.id!r} exists", code="exists")
    row = GiftPack(
        id=spec.id,
        app_id=work.app_id,
        name=spec.name,
        template_ids=dumps(spec.template_ids),
        new_user_days=spec.new_user_days,
        starts_at=spec.starts_at,
        ends_at=spec.ends_at,
        active=True,
        created_at=work.now,
    )
    db.add(row)
    db.flush()
    return row


def grant_gift_pack(work: Work, *, pack_id: str, user_id: str, user_created_at: datetime) -> list[Coupon]:
    """新人礼包: once per user (keys per template), only within new_user_days of the first login."""
    pack = get_named(work.db, GiftPack, pack_id)
    if pack is None:
        raise NotFound(f"gift pack {pack_id!r} not found")
    lifecycle.require_running(pack, "gift-packs", work.now)
    if work.now - user_created_at > timedelta(days=pack.new_user_days):
        raise HuoliError("the new-user gift is for new users only", code="not_new_user")
    return [
        claim(
            work,
            template_id=tid,
            user_id=user_id,
            claim_key=f"gift:{pack.id}:{tid}:{user_id}",
            source="gift_pack",
        )[0]
        for tid in loads(pack.template_ids)
    ]


# -- checkout ---------------------------------------------------------------------------------------


def _in_scope(t: CouponTemplate | hot.TemplateTerms, line: CartLine) -> bool:
    if t.scope == "all":
        return True
    ids = t.scope_ids if isinstance(t.scope_ids, frozenset) else set(loads(t.scope_ids))
    if t.scope == "category":
        return line.category_id in ids
    gone = t.unavailable if isinstance(t, hot.TemplateTerms) else set(loads(t.unavailable_item_ids or "[]"))
    return line.item_id in ids and line.item_id not in gone


def discount_for(t: CouponTemplate | hot.TemplateTerms, cart: Sequence[CartLine]) -> int:
    """What one coupon takes off this cart (0 when its threshold or scope is not met)."""
    base = sum(line.price_fen * line.quantity for line in cart if _in_scope(t, line))
    if base <= 0:
        return 0
    if t.kind == "fixed":
        return min(t.amount_fen, base)
    if t.kind == "threshold":
        return min(t.amount_fen, base) if base >= t.threshold_fen else 0
    off = base * t.percent_off // 100
    return min(off, t.max_discount_fen) if t.max_discount_fen is not None else off


_COUPONS: Table = Coupon.__table__  # type: ignore[assignment]
_TEMPLATES: Table = CouponTemplate.__table__  # type: ignore[assignment]

# Checkout runs on Core statements built once, with the app filter written out (like the 秒杀 attempt): the
# ORM's per-statement cost and identity-map bookkeeping were most of a lock's CPU (docs/promotions.md).
_SELECTED = select(
    _COUPONS.c.id,
    _COUPONS.c.template_id,
    _COUPONS.c.user_id,
    _COUPONS.c.status,
    _COUPONS.c.order_id,
    _COUPONS.c.valid_from,
    _COUPONS.c.valid_until,
).where(_COUPONS.c.app_id == bindparam("app"))
# The selection and whatever the order already holds, in one read.
_SELECTED_OR_HELD = _SELECTED.where(
    or_(
        _COUPONS.c.id.in_(bindparam("ids", expanding=True)),
        and_(_COUPONS.c.order_id == bindparam("order"), _COUPONS.c.status == "locked"),
    )
)
_SELECTED_ONLY = _SELECTED.where(_COUPONS.c.id.in_(bindparam("ids", expanding=True)))
_TERMS = select(
    _TEMPLATES.c.id,
    _TEMPLATES.c.kind,
    _TEMPLATES.c.amount_fen,
    _TEMPLATES.c.threshold_fen,
    _TEMPLATES.c.percent_off,
    _TEMPLATES.c.max_discount_fen,
    _TEMPLATES.c.scope,
    _TEMPLATES.c.scope_ids,
    _TEMPLATES.c.stackable,
    _TEMPLATES.c.unavailable_item_ids,
).where(_TEMPLATES.c.app_id == bindparam("app"), _TEMPLATES.c.id.in_(bindparam("ids", expanding=True)))
_LOCK = (
    update(_COUPONS)
    .where(
        _COUPONS.c.id == bindparam("cid"),
        _COUPONS.c.app_id == bindparam("app"),
        _COUPONS.c.status == "available",
    )
    .values(
        status="locked",
        order_id=bindparam("b_order"),
        locked_at=bindparam("b_now", type_=_COUPONS.c.locked_at.type),
        discount_fen=bindparam("b_off"),
    )
    .returning(_COUPONS.c.id)
)


def _terms(db: Session, app_id: str, template_ids: set[str]) -> dict[str, hot.TemplateTerms]:
    """Discount terms per template: from the process cache, the missing ones in one read."""
    cache = hot.for_bind(db.get_bind())
    out: dict[str, hot.TemplateTerms] = {}
    missing = []
    for tid in template_ids:
        t = cache.terms(app_id, tid)
        if t is None:
            missing.append(tid)
        else:
            out[tid] = t
    if missing:
        for r in db.connection().execute(_TERMS, {"app": app_id, "ids": missing}):
            t = hot.TemplateTerms(
                id=r[0],
                kind=r[1],
                amount_fen=r[2],
                threshold_fen=r[3],
                percent_off=r[4],
                max_discount_fen=r[5],
                scope=r[6],
                scope_ids=frozenset(loads(r[7])),
                stackable=r[8],
                unavailable=frozenset(loads(r[9])),
            )
            cache.put_terms(app_id, t)
            out[t.id] = t
    return out


def _validate(
    db: Session,
    *,
    app_id: str,
    user_id: str,
    ids: list[str],
    rows: dict[str, Any],
    cart: Sequence[CartLine],
    now: datetime,
    order_id: str | None,
) -> Quote:
    """Ownership, state, validity now, scope, threshold and stacking of a selection (rows by coupon id)."""
    subtotal = sum(line.price_fen * line.quantity for line in cart)
    wanted = {rows[c].template_id for c in ids if c in rows and rows[c].user_id == user_id}
    templates = _terms(db, app_id, wanted) if wanted else {}
    discounts: dict[str, int] = {}
    for cid in ids:
        c = rows.get(cid)
        if c is None or c.user_id != user_id:
            raise NotFound(f"coupon {cid!r} not found", code="coupon_not_found")
        usable = c.status == "available" or (c.status == "locked" and order_id and c.order_id == order_id)
        if not usable:
            raise Conflict(f"coupon {cid!r} is {c.status}", code=f"coupon_{c.status}")
        if not (c.valid_from <= now < c.valid_until):
            raise HuoliError(f"coupon {cid!r} is not valid now", code="coupon_not_valid_now")
        t = templates.get(c.template_id)
        if t is None:
            raise NotFound(f"coupon template {c.template_id!r} not found")
        off = discount_for(t, cart)
        if off <= 0:
            raise HuoliError(f"coupon {cid!r} does not apply to this order", code="coupon_not_applicable")
        discounts[cid] = off
    if len(ids) > 1:
        by_template = [rows[c].template_id for c in ids]
        if len(set(by_template)) != len(by_template):
            raise HuoliError("one coupon per kind per order", code="stacking_not_allowed")
        if not all(templates[t].stackable for t in by_template):
            raise HuoliError("these coupons cannot be combined", code="stacking_not_allowed")
    # Combined discounts never exceed the order; the last coupons give way first.
    room = subtotal
    for cid in ids:
        discounts[cid] = min(discounts[cid], room)
        room -= discounts[cid]
    return Quote(subtotal_fen=subtotal, discounts=discounts)


def _read(db: Session, app_id: str, ids: list[str], order_id: str | None) -> list[Any]:
    conn = db.connection()
    if order_id is None:
        return list(conn.execute(_SELECTED_ONLY, {"app": app_id, "ids": ids}))
    return list(conn.execute(_SELECTED_OR_HELD, {"app": app_id, "ids": ids, "order": order_id}))


def quote(
    work: Work,
    *,
    user_id: str,
    coupon_ids: Sequence[str],
    cart: Sequence[CartLine],
    order_id: str | None = None,
) -> Quote:
    """Validate a coupon selection against a cart (stacking, scope, threshold, validity) without changes."""
    if not cart:
        raise ValidationFailed("empty cart", details=[{"field": "cart", "message": "at least one line"}])
    db, app_id, now = work.db, work.app_id, work.now
    ids = list(dict.fromkeys(coupon_ids))
    rows = {r.id: r for r in _read(db, app_id, ids, None)} if ids else {}
    return _validate(
        db, app_id=app_id, user_id=user_id, ids=ids, rows=rows, cart=cart, now=now, order_id=order_id
    )


def lock(
    work: Work, *, user_id: str, order_id: str, coupon_ids: Sequence[str], cart: Sequence[CartLine]
) -> Quote:
    """Reserve coupons for an order at checkout. Repeating the call for the order is a no-op; a new
    selection for the same order releases the coupons it no longer uses.

    Three statements for one new coupon: one read (the selection and what the order holds), the
    conditional `available → locked` update, the event."""
    if not cart:
        raise ValidationFailed("empty cart", details=[{"field": "cart", "message": "at least one line"}])
    db, app_id, now = work.db, work.app_id, work.now
    ids = list(dict.fromkeys(coupon_ids))
    found = _read(db, app_id, ids, order_id)
    rows = {r.id: r for r in found}
    q = _validate(
        db, app_id=app_id, user_id=user_id, ids=ids, rows=rows, cart=cart, now=now, order_id=order_id
    )
    held = {r.id for r in found if r.order_id == order_id and r.status == "locked"}
    for cid in held - set(q.discounts):
        _release_one(work, cid, order_id)
    for cid, off in q.discounts.items():
        if cid in held:
            continue
        got = run(db, _LOCK, {"cid": cid, "app": app_id, "b_order": order_id, "b_now": now, "b_off": off})
        if not got:
            raise Conflict(f"coupon {cid!r} was just used elsewhere", code="coupon_locked")
        work.emit(
            "coupon_locked",
            key=event_key("coupon_locked", f"{cid}:{order_id}:{now.isoformat()}"),
            user_id=user_id,
            properties={"coupon_id": cid, "order_id": order_id, "discount_fen": off},
        )
    return q


def _release_one(work: Work, cid: str, order_id: str) -> bool:
    got = work.db.execute(
        update(Coupon)
        .where(Coupon.id == cid, Coupon.status == "locked", Coupon.order_id == order_id)
        .values(status="available", order_id=None, locked_at=None, discount_fen=None)
        .returning(Coupon.user_id)
    ).first()
    if got is not None:
        work.emit(
            "coupon_released",
            key=event_key("coupon_released", f"{cid}:{order_id}:{work.now.isoformat()}"),
            user_id=got[0],
            properties={"coupon_id": cid, "order_id": order_id},
        )
    return got is not None


def release(work: Work, *, order_id: str) -> list[str]:
    """The order was cancelled before payment: its locked coupons become available again."""
    ids = work.db.scalars(
        select(Coupon.id).where(Coupon.order_id == order_id, Coupon.status == "locked")
    ).all()
    return [cid for cid in ids if _release_one(work, cid, order_id)]


def redeem(
    work: Work, *, order_id: str, coupon_ids: Iterable[str] = (), user_id: str | None = None
) -> list[str]:
    """The order was paid: its locked coupons (and any listed available ones) are used. Idempotent."""
    db, now = work.db, work.now
    redeemed: list[tuple[str, str, int | None]] = []
    rows = db.execute(
        update(Coupon)
        .where(Coupon.order_id == order_id, Coupon.status == "locked")
        .values(status="redeemed", redeemed_at=now)
        .returning(Coupon.id, Coupon.user_id, Coupon.discount_fen)
    ).all()
    redeemed.extend((r[0], r[1], r[2]) for r in rows)
    for cid in coupon_ids:
        cond = [Coupon.id == cid, Coupon.status == "available", Coupon.valid_until > now]
        if user_id is not None:
            cond.append(Coupon.user_id == user_id)
        got = db.execute(
            update(Coupon)
            .where(*cond)
            .values(status="redeemed", redeemed_at=now, order_id=order_id)
            .returning(Coupon.id, Coupon.user_id, Coupon.discount_fen)
        ).first()
        if got is not None:
            redeemed.append((got[0], got[1], got[2]))
            continue
        c = db.get(Coupon, cid)
        if c is None or c.status != "redeemed" or c.order_id != order_id:
            # Used by another order, expired or unknown: the retry of *this* order is the only no-op.
            raise Conflict(f"coupon {cid!r} cannot be redeemed", code="coupon_unavailable")
    for cid, uid, off in redeemed:
        props: dict[str, object] = {"coupon_id": cid, "order_id": order_id}
        if off is not None:
            props["discount_fen"] = off
        work.emit("coupon_redeemed", key=event_key("coupon_redeemed", cid), user_id=uid, properties=props)
    return [r[0] for r in redeemed]


def roll_back(work: Work, *, order_id: str) -> list[str]:
    """The paid order was refunded: its coupons return to the user (expired if their time is up)."""
    rows = work.db.execute(
        update(Coupon)
        .where(Coupon.order_id == order_id, Coupon.status == "redeemed")
        .values(status="available", order_id=None, redeemed_at=None, locked_at=None, discount_fen=None)
        .returning(Coupon.id, Coupon.user_id)
    ).all()
    for cid, uid in rows:
        work.emit(
            "coupon_rolled_back",
            key=event_key("coupon_rolled_back", f"{cid}:{order_id}:{work.now.isoformat()}"),
            user_id=uid,
            properties={"coupon_id": cid, "order_id": order_id},
        )
    return [r[0] for r in rows]


def expire(work: Work) -> dict[str, int]:
    """Job: expire unused coupons past their validity and release checkout locks older than LOCK_TTL."""
    db, now = work.db, work.now
    stale = db.execute(
        select(Coupon.id, Coupon.order_id).where(Coupon.status == "locked", Coupon.locked_at < now - LOCK_TTL)
    ).all()
    released = sum(_release_one(work, cid, oid) for cid, oid in stale if oid)
    rows = db.execute(
        update(Coupon)
        .where(Coupon.status == "available", Coupon.valid_until <= now)
        .values(status="expired")
        .returning(Coupon.id, Coupon.user_id, Coupon.template_id)
    ).all()
    for cid, uid, tid in rows:
        work.emit(
            "coupon_expired",
            key=event_key("coupon_expired", cid),
            user_id=uid,
            properties={"coupon_id": cid, "template_id": tid},
        )
    return {"expired": len(rows), "released": released}


def list_for_user(*, db: Session, user_id: str, status: str | None = None) -> list[Coupon]:
    stmt = select(Coupon).where(Coupon.user_id == user_id).order_by(Coupon.valid_until)
    if status:
        stmt = stmt.where(Coupon.status == status)
    return list(db.scalars(stmt))


def _expiring(within: timedelta, now: datetime) -> Select[Any]:
    return select(Coupon).where(
        Coupon.status == "available", Coupon.valid_until > now, Coupon.valid_until <= now + within
    )


def expiring_soon(
    *, db: Session, within: timedelta, now: datetime, user_id: str | None = None
) -> list[Coupon]:
    """Available coupons whose validity ends within `within` (for reminder messages)."""
    stmt = _expiring(within, now).order_by(Coupon.valid_until)
    if user_id is not None:
        stmt = stmt.where(Coupon.user_id == user_id)
    return list(db.scalars(stmt))


def expiring_page(
    *, db: Session, within: timedelta, now: datetime, page: PageParams
) -> tuple[list[Coupon], str | None]:
    """One page of every member's coupons ending within `within`, soonest first (the reminder feed)."""
    return paginate(db, _expiring(within, now), page, order=[Coupon.valid_until.asc(), Coupon.id.asc()])
