"""积分 points ledger: append-only transfers over lots (earn = lot; spend drains soonest-expiring lots first).

Invariants (tests/loyalty/test_ledger_properties.py): sum(transfers) == sum(lot.remaining) - debt; no lot's
remaining is negative or above its points; the available balance is never negative unless a refund claw-back
was allowed to create debt. Every mutation first locks the member's account row (an upsert, which takes the
row lock on PostgreSQL like SELECT … FOR UPDATE; SQLite transactions are already serialised by BEGIN
IMMEDIATE), then inserts its transfer under the unique business key, so concurrent spends can't overdraw and
a retried call is applied once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from huoli.db import insert_or_ignore
from huoli.errors import Conflict, NotFound, ValidationFailed
from huoli.loyalty import leaderboards, repository
from huoli.loyalty.context import Ctx
from huoli.loyalty.models import (
    Checkin,
    MemberProfile,
    MemberTier,
    PointsAccount,
    PointsLot,
    PointsLotUse,
    PointsTransfer,
    UserBadge,
)
from huoli.users import service as users


@dataclass(frozen=True)
class Balance:
    available: int
    pending: int
    debt: int
    expiring_soon: int
    expiring_soon_before: datetime


@dataclass(frozen=True)
class Earned:
    points: int
    business_key: str
    applied: bool
    available_at: datetime | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class Spent:
    points: int
    business_key: str
    applied: bool
    transfer_id: int


def lock_account(db: Session, ctx: Ctx, user_id: str) -> int:
    """Create the member's account row if needed and lock it for this transaction; returns its debt.

    One statement: ON CONFLICT DO UPDATE takes the row lock on PostgreSQL like SELECT … FOR UPDATE would.
    """
    values = {"app_id": ctx.app_id, "user_id": user_id, "debt": 0, "created_at": ctx.now}
    if db.new or db.dirty or db.deleted:
        db.flush()  # a Core statement doesn't autoflush
    conn = db.connection()
    return int(conn.execute(_lock_statement(conn.dialect.name), values).scalar_one())


_LOCK: dict[str, Any] = {}


def _lock_statement(dialect: str) -> Any:
    """Built once per dialect and run with bound values (a statement carrying its values is re-coerced per call)."""
    stmt = _LOCK.get(dialect)
    if stmt is None:
        table: Any = PointsAccount.__table__
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            ins: Any = pg_insert(table)
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            ins = sqlite_insert(table)
        ins = ins.on_conflict_do_update(index_elements=["app_id", "user_id"], set_={"debt": table.c.debt})
        stmt = _LOCK[dialect] = ins.returning(table.c.debt)
    return stmt


def _add_debt(db: Session, user_id: str, delta: int) -> None:
    db.execute(
        update(PointsAccount).where(PointsAccount.user_id == user_id).values(debt=PointsAccount.debt + delta)
    )


def find_transfer(db: Session, key: str) -> PointsTransfer | None:
    return db.scalars(select(PointsTransfer).where(PointsTransfer.business_key == key)).first()


def _live(now: datetime) -> Any:
    return and_(PointsLot.remaining > 0, or_(PointsLot.expires_at.is_(None), PointsLot.expires_at > now))


def balance(db: Session, ctx: Ctx, user_id: str) -> Balance:
    now = ctx.now
    soon = now + timedelta(days=ctx.rules.points.expiring_soon_days)
    available_now = PointsLot.available_at <= now
    row = db.execute(
        select(
            func.coalesce(func.sum(PointsLot.remaining).filter(available_now), 0),
            func.coalesce(func.sum(PointsLot.remaining).filter(PointsLot.available_at > now), 0),
            func.coalesce(
                func.sum(PointsLot.remaining).filter(available_now, PointsLot.expires_at <= soon), 0
            ),
        ).where(PointsLot.user_id == user_id, _live(now))
    ).one()
    debt = int(db.scalar(select(PointsAccount.debt).where(PointsAccount.user_id == user_id)) or 0)
    return Balance(
        available=int(row[0]) - debt,
        pending=int(row[1]),
        debt=debt,
        expiring_soon=int(row[2]),
        expiring_soon_before=soon,
    )


def expiry_for(ctx: Ctx, earned_on: date) -> datetime | None:
    """expiry=days: 00:00 local of earn day + N; year_end: 00:00 local on 1 January after next year-end."""
    rule = ctx.rules.points
    if rule.expiry == "never":
        return None
    if rule.expiry == "days":
        return ctx.midnight(earned_on + timedelta(days=rule.expiry_days))
    return datetime.combine(date(earned_on.year + 2, 1, 1), time(0), tzinfo=ctx.tz)


def _transfer_values(
    ctx: Ctx,
    *,
    user_id: str,
    kind: str,
    reason: str,
    points: int,
    key: str,
    ref: str | None,
    note: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "app_id": ctx.app_id,
        "user_id": user_id,
        "kind": kind,
        "reason": reason,
        "points": points,
        "business_key": key,
        "ref": ref,
        "local_date": ctx.today,
        "note": orjson.dumps(note).decode() if note else None,
        "created_at": ctx.now,
    }


def _insert_row(db: Session, values: dict[str, Any]) -> int | None:
    """The transfer's id, or None when the key is already taken (a concurrent retry won)."""
    tid = insert_or_ignore(db, PointsTransfer, values, ["app_id", "business_key"], returning="id")
    return None if tid is None else int(tid)


def _insert_transfer(
    db: Session,
    ctx: Ctx,
    *,
    user_id: str,
    kind: str,
    reason: str,
    points: int,
    key: str,
    ref: str | None,
    note: dict[str, Any] | None = None,
) -> int | None:
    values = _transfer_values(
        ctx, user_id=user_id, kind=kind, reason=reason, points=points, key=key, ref=ref, note=note
    )
    return _insert_row(db, values)


_LOTS: Any = PointsLot.__table__
_LOT_INSERT = insert(_LOTS).values(
    {
        c: bindparam(c)
        for c in ("app_id", "user_id", "transfer_id", "points", "remaining", "available_at", "expires_at")
    }
    | {"expiry_warned": False}
)


def _insert_earn_pg(db: Session, values: dict[str, Any], *, lock: bool) -> tuple[int | None, int]:
    if db.new or db.dirty or db.deleted:
        db.flush()  # a Core statement doesn't autoflush
    return repository.insert_earn_pg(db, values, lock=lock)


def _same_user(existing: PointsTransfer, user_id: str) -> None:
    if existing.user_id != user_id:
        raise Conflict("this business key was already used for another member", code="business_key_reused")


def earn(
    db: Session,
    ctx: Ctx,
    *,
    user_id: str,
    points: int,
    reason: str,
    key: str,
    ref: str | None = None,
    pending_days: int = 0,
    expires_at: datetime | bool | None = True,
    daily_cap: int | None = None,
    note: dict[str, Any] | None = None,
) -> Earned:
    """Credit a lot. `expires_at=True` applies the app's expiry rule; a daily cap trims the grant per local
    day and reason (a capped-out earn is still recorded with 0 points, so its key stays used)."""
    if points < 0:
        raise ValidationFailed("earn needs points >= 0", details=[{"field": "points", "message": ">= 0"}])
    # On PostgreSQL an uncapped earn takes the account lock in its insert statement (one round trip).
    pg = db.get_bind().dialect.name == "postgresql"
    fused = pg and daily_cap is None
    debt = 0 if fused else lock_account(db, ctx, user_id)
    if daily_cap is not None:
        used = db.scalar(
            select(func.coalesce(func.sum(PointsTransfer.points), 0)).where(
                PointsTransfer.user_id == user_id,
                PointsTransfer.reason == reason,
                PointsTransfer.kind == "earn",
                PointsTransfer.local_date == ctx.today,
            )
        )
        points = max(0, min(points, daily_cap - int(used or 0)))
    available_at = ctx.now + timedelta(days=pending_days)
    expiry = expiry_for(ctx, ctx.today) if expires_at is True else expires_at or None
    assert not isinstance(expiry, bool)
    transfer = _transfer_values(
        ctx, user_id=user_id, kind="earn", reason=reason, points=points, key=key, ref=ref, note=note
    )
    lot = {"available_at": available_at, "expires_at": expiry}
    if pg:
        values = transfer | lot | ({} if fused else {"debt": debt})
        transfer_id, debt = _insert_earn_pg(db, values, lock=fused)
    else:
        transfer_id = _insert_row(db, transfer)
        if transfer_id is not None and points:
            ids = {"app_id": ctx.app_id, "user_id": user_id, "transfer_id": transfer_id, "points": points}
            db.connection().execute(_LOT_INSERT, ids | lot | {"remaining": points - min(debt, points)})
    # Outstanding claw-back debt is paid from new points first (the lot above already keeps it back).
    cover = min(debt, points)
    if transfer_id is None:  # the key is taken: a retry (or a concurrent twin that won)
        existing = find_transfer(db, key)
        assert existing is not None
        _same_user(existing, user_id)
        return Earned(points=existing.points, business_key=key, applied=False)
    if points == 0:
        return Earned(points=0, business_key=key, applied=True)
    if cover:
        _add_debt(db, user_id, -cover)
    leaderboards.record(db, ctx, user_id=user_id, board="points", value=points)
    ctx.emit(
        "points_earned",
        key=f"points:{key}",
        user_id=user_id,
        properties={"points": points, "reason": reason} | ({"ref": ref} if ref else {}),
    )
    return Earned(points=points, business_key=key, applied=True, available_at=available_at, expires_at=expiry)


def _draw(db: Session, ctx: Ctx, user_id: str, transfer_id: int, points: int, lots: list[PointsLot]) -> int:
    """Take up to `points` from `lots` in order, recording each use; returns what was taken."""
    taken = 0
    for lot in lots:
        if taken == points:
            break
        use = min(lot.remaining, points - taken)
        if use <= 0:
            continue
        lot.remaining -= use
        taken += use
        db.add(PointsLotUse(app_id=ctx.app_id, transfer_id=transfer_id, lot_id=lot.id, points=use))
    db.flush()
    return taken


def _spendable_lots(db: Session, ctx: Ctx, user_id: str) -> list[PointsLot]:
    # Soonest-expiring first; never-expiring last; then oldest first.
    return list(
        db.scalars(
            select(PointsLot)
            .where(PointsLot.user_id == user_id, _live(ctx.now), PointsLot.available_at <= ctx.now)
            .order_by(PointsLot.expires_at.is_(None), PointsLot.expires_at, PointsLot.id)
        )
    )


def spend(
    db: Session,
    ctx: Ctx,
    *,
    user_id: str,
    points: int,
    reason: str,
    key: str,
    ref: str | None = None,
    note: dict[str, Any] | None = None,
) -> Spent:
    if points <= 0:
        raise ValidationFailed("spend needs points > 0", details=[{"field": "points", "message": "> 0"}])
    debt = lock_account(db, ctx, user_id)
    # Under the lock a retry is visible: answer it as such even if the balance has changed since, and refuse
    # an overdraft before writing anything (a caller that catches the error keeps a clean transaction).
    existing = find_transfer(db, key)
    if existing is not None:
        _same_user(existing, user_id)
        return Spent(points=-existing.points, business_key=key, applied=False, transfer_id=existing.id)
    lots = _spendable_lots(db, ctx, user_id)
    available = sum(lot.remaining for lot in lots) - debt
    if available < points:
        raise Conflict(
            f"not enough points: {available} available, {points} needed",
            code="insufficient_points",
            details={"available": available, "needed": points},
        )
    transfer_id = _insert_transfer(
        db, ctx, user_id=user_id, kind="spend", reason=reason, points=-points, key=key, ref=ref, note=note
    )
    if transfer_id is None:  # same key for another member, inserted concurrently
        raise Conflict("this business key was already used for another member", code="business_key_reused")
    _draw(db, ctx, user_id, transfer_id, points, lots)
    ctx.emit(
        "points_spent",
        key=f"points:{key}",
        user_id=user_id,
        properties={"points": points, "reason": reason} | ({"ref": ref} if ref else {}),
    )
    return Spent(points=points, business_key=key, applied=True, transfer_id=transfer_id)


# --- orders: earn per yuan, spend with a cap, reverse on refund -----------------------------------------


def order_key(order_id: str) -> str:
    return f"order:{order_id}"


def order_spend_key(order_id: str) -> str:
    return f"order-spend:{order_id}"


def earn_for_order(db: Session, ctx: Ctx, *, user_id: str, order_id: str, amount_fen: int) -> Earned:
    rule = ctx.rules.points
    points = amount_fen // 100 * rule.points_per_yuan
    member_day = ctx.rules.tiers.member_day
    if member_day is not None and ctx.today.day == member_day:
        points = int(
            points * ctx.rules.tiers.member_day_multiplier
        )  # 会员日 n 倍积分 (a refund claws back pro rata)
    return earn(
        db,
        ctx,
        user_id=user_id,
        points=points,
        reason="order",
        key=order_key(order_id),
        ref=order_id,
        pending_days=rule.order_pending_days,
        note={"amount_fen": amount_fen},
    )


def max_points_for_order(ctx: Ctx, order_amount_fen: int) -> int:
    rule = ctx.rules.points
    cap = int(order_amount_fen * rule.max_order_ratio) // rule.fen_per_point
    return cap if rule.max_order_points is None else min(cap, rule.max_order_points)


def spend_for_order(
    db: Session, ctx: Ctx, *, user_id: str, order_id: str, order_amount_fen: int, points: int
) -> Spent:
    cap = max_points_for_order(ctx, order_amount_fen)
    if points > cap:
        raise ValidationFailed(
            f"at most {cap} points may be used on this order",
            details=[{"field": "points", "message": f"per-order cap is {cap}"}],
            code="points_cap_exceeded",
        )
    return spend(
        db,
        ctx,
        user_id=user_id,
        points=points,
        reason="order",
        key=order_spend_key(order_id),
        ref=order_id,
        note={"amount_fen": order_amount_fen},
    )


@dataclass(frozen=True)
class Reversal:
    clawed_back: int
    restored: int
    unrecovered: int
    applied: bool
    refunded_yuan: int


def _note(t: PointsTransfer) -> dict[str, Any]:
    return orjson.loads(t.note) if t.note else {}


def operator_note(t: PointsTransfer) -> str | None:
    """The reason an operator gave for a manual adjustment (the note also holds the ledger's own figures)."""
    value = _note(t).get("note")
    return value if isinstance(value, str) else None


def reverse_for_refund(
    db: Session, ctx: Ctx, *, user_id: str, order_id: str, refund_id: str, amount_fen: int
) -> Reversal:
    """Refund policy: claw back the order's earned points pro rata to the refunded amount — from the order's
    own lot first, then the soonest-expiring other lots (pending ones last); what is still missing becomes
    debt if `allow_negative`, else it is forgiven (reported as unrecovered). Points the order used are put
    back into the lots they came from (pro rata); a lot that has expired since keeps them expired."""
    key = f"refund:{order_id}:{refund_id}"
    lock_account(db, ctx, user_id)
    existing = find_transfer(db, key)
    if existing is not None:
        _same_user(existing, user_id)
        n = _note(existing)
        return Reversal(n["clawed"], n["restored"], n["unrecovered"], False, 0)
    earned = find_transfer(db, order_key(order_id))
    used = find_transfer(db, order_spend_key(order_id))
    if earned is None and used is None:
        raise NotFound(f"no points were earned or spent on order {order_id!r}", code="order_not_found")
    for t in (earned, used):
        if t is not None:
            _same_user(t, user_id)
    order_amount = _note(earned or used)["amount_fen"]  # type: ignore[arg-type]
    previous = list(
        db.scalars(
            select(PointsTransfer).where(
                PointsTransfer.ref == order_id,
                PointsTransfer.kind == "reverse",
                PointsTransfer.user_id == user_id,
            )
        )
    )
    refunded_before = sum(_note(t)["amount_fen"] for t in previous)
    if refunded_before + amount_fen > order_amount:
        raise ValidationFailed(
            f"refunds would exceed the order amount ({refunded_before + amount_fen} > {order_amount} fen)",
            details=[{"field": "amount_fen", "message": f"at most {order_amount - refunded_before}"}],
            code="refund_exceeds_order",
        )
    total = refunded_before + amount_fen

    due = 0
    if earned is not None and order_amount > 0:
        due = earned.points * total // order_amount - sum(_note(t)["due"] for t in previous)
    restore_due = 0
    if used is not None and ctx.rules.points.restore_spent_on_refund and order_amount > 0:
        restore_due = -used.points * total // order_amount - sum(_note(t)["restore_due"] for t in previous)

    transfer_id = _insert_transfer(
        db, ctx, user_id=user_id, kind="reverse", reason="refund", points=0, key=key, ref=order_id
    )
    if transfer_id is None:
        return Reversal(0, 0, 0, False, 0)
    clawed = unrecovered = restored = 0
    if due > 0:
        assert earned is not None  # due > 0 only when points were earned
        own = list(db.scalars(select(PointsLot).where(PointsLot.transfer_id == earned.id, _live(ctx.now))))
        others = list(
            db.scalars(
                select(PointsLot)
                .where(PointsLot.user_id == user_id, _live(ctx.now), PointsLot.transfer_id != earned.id)
                .order_by(
                    PointsLot.available_at > ctx.now,
                    PointsLot.expires_at.is_(None),
                    PointsLot.expires_at,
                    PointsLot.id,
                )
            )
        )
        clawed = _draw(db, ctx, user_id, transfer_id, due, own + others)
        missing = due - clawed
        if missing and ctx.rules.points.allow_negative:
            _add_debt(db, user_id, missing)
            clawed += missing
        else:
            unrecovered = missing
    if restore_due > 0:
        assert used is not None
        uses = list(
            db.execute(
                select(PointsLotUse, PointsLot)
                .join(PointsLot, PointsLot.id == PointsLotUse.lot_id)
                .where(PointsLotUse.transfer_id == used.id)
                .order_by(PointsLot.expires_at.is_(None).desc(), PointsLot.expires_at.desc(), PointsLot.id)
            ).all()
        )
        # Earlier partial refunds took the first uses; this one continues where they stopped.
        skip = sum(_note(t)["restore_due"] for t in previous)
        left = restore_due
        for use, lot in uses:
            portion = use.points
            if skip:
                s = min(skip, portion)
                skip -= s
                portion -= s
            give = min(portion, left)
            if give <= 0:
                continue
            left -= give
            if lot.expires_at is not None and lot.expires_at <= ctx.now:
                continue  # expired since: those points stay expired
            lot.remaining += give
            restored += give
    note = {
        "amount_fen": amount_fen,
        "due": due,
        "restore_due": restore_due,
        "clawed": clawed,
        "restored": restored,
        "unrecovered": unrecovered,
    }
    db.execute(
        update(PointsTransfer)
        .where(PointsTransfer.id == transfer_id)
        .values(points=restored - clawed, note=orjson.dumps(note).decode())
    )
    db.flush()
    ctx.emit(
        "points_reversed",
        key=f"points:{key}",
        user_id=user_id,
        properties={"order_id": order_id, "points": clawed, "restored": restored, "unrecovered": unrecovered},
    )
    refunded_yuan = total // 100 - refunded_before // 100
    return Reversal(clawed, restored, unrecovered, True, refunded_yuan)


def adjust(
    db: Session,
    ctx: Ctx,
    *,
    user_id: str,
    points: int,
    key: str,
    note: str | None,
    expires_at: datetime | None,
) -> int:
    """An operator's manual grant (+) or deduction (-); deductions follow the spend rules."""
    if points > 0:
        expiry: datetime | bool | None = expires_at if expires_at is not None else True
        earn(
            db,
            ctx,
            user_id=user_id,
            points=points,
            reason="admin",
            key=key,
            expires_at=expiry,
            note={"note": note} if note else None,
        )
    elif points < 0:
        spend(
            db,
            ctx,
            user_id=user_id,
            points=-points,
            reason="admin",
            key=key,
            note={"note": note} if note else None,
        )
    else:
        raise ValidationFailed("points must not be 0", details=[{"field": "points", "message": "non-zero"}])
    return points


# --- jobs ------------------------------------------------------------------------------------------------


def expire_due(db: Session, ctx: Ctx, *, limit: int = 1000) -> int:
    """Write an `expire` transfer for each lot past its expiry that still holds points; returns points expired.

    Balances already exclude such lots from their exact expiry instant; this job makes it visible in the
    ledger (and emits points_expired). Safe to re-run: each lot expires once (key expire:<lot id>).
    """
    users = list(
        db.scalars(
            select(PointsLot.user_id)
            .where(PointsLot.remaining > 0, PointsLot.expires_at <= ctx.now)
            .distinct()
            .limit(limit)
        )
    )
    total = 0
    for user_id in users:
        lock_account(db, ctx, user_id)
        lots = list(
            db.scalars(
                select(PointsLot).where(
                    PointsLot.user_id == user_id, PointsLot.remaining > 0, PointsLot.expires_at <= ctx.now
                )
            )
        )
        user_total = 0
        for lot in lots:
            tid = _insert_transfer(
                db,
                ctx,
                user_id=user_id,
                kind="expire",
                reason="expiry",
                points=-lot.remaining,
                key=f"expire:{lot.id}",
                ref=str(lot.id),
            )
            if tid is None:
                continue
            db.add(PointsLotUse(app_id=ctx.app_id, transfer_id=tid, lot_id=lot.id, points=lot.remaining))
            user_total += lot.remaining
            lot.remaining = 0
        db.flush()
        if user_total:
            ctx.emit(
                "points_expired",
                key=f"expire:{user_id}:{min(lot.id for lot in lots)}",
                user_id=user_id,
                properties={"points": user_total},
            )
        total += user_total
    return total


def warn_expiring(db: Session, ctx: Ctx, *, limit: int = 5000) -> int:
    """Emit one points_expiring_soon per member whose live lots expire within the window; each lot warns once."""
    soon = ctx.now + timedelta(days=ctx.rules.points.expiring_soon_days)
    lots = list(
        db.scalars(
            select(PointsLot)
            .where(
                _live(ctx.now),
                PointsLot.expires_at <= soon,
                PointsLot.expiry_warned.is_(False),
                PointsLot.available_at <= ctx.now,
            )
            .order_by(PointsLot.user_id, PointsLot.expires_at)
            .limit(limit)
        )
    )
    by_user: dict[str, list[PointsLot]] = {}
    for lot in lots:
        by_user.setdefault(lot.user_id, []).append(lot)
    for user_id, user_lots in by_user.items():
        first = min(lot.expires_at for lot in user_lots if lot.expires_at is not None)
        ctx.emit(
            "points_expiring_soon",
            key=f"expiring:{user_id}:{','.join(str(lot.id) for lot in user_lots)}",
            user_id=user_id,
            properties={"points": sum(lot.remaining for lot in user_lots), "expires_at": first.isoformat()},
        )
        for lot in user_lots:
            lot.expiry_warned = True
    db.flush()
    return len(by_user)


def history(
    db: Session, *, user_id: str, limit: int = 100, before_id: int | None = None
) -> list[PointsTransfer]:
    stmt = select(PointsTransfer).where(PointsTransfer.user_id == user_id)
    if before_id is not None:
        stmt = stmt.where(PointsTransfer.id < before_id)
    return list(db.scalars(stmt.order_by(PointsTransfer.id.desc()).limit(limit)))


def lots(db: Session, *, user_id: str) -> list[PointsLot]:
    return list(db.scalars(select(PointsLot).where(PointsLot.user_id == user_id).order_by(PointsLot.id)))


def is_known(db: Session, user_id: str) -> bool:
    """Whether the user id names someone: a mini-program user of the app, or a member with a points history
    or a profile (a birthday an operator recorded), a tier, a badge or a check-in."""
    if users.user_facts(db, user_id) is not None:
        return True
    for column in (
        PointsAccount.user_id,
        MemberProfile.user_id,
        MemberTier.user_id,
        UserBadge.user_id,
        Checkin.user_id,
    ):
        if db.scalar(select(column).where(column == user_id).limit(1)) is not None:
            return True
    return False
