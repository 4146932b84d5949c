"""Distribution (分销): at most 2 levels, commission only on paid orders, credited after the after-sale
freeze window, withdrawable above a minimum, reversed when the order is refunded.

Balances move only with the commission's state flip in the same transaction (frozen → credited →
reversed are conditional UPDATEs), so a job run twice or a refund racing the credit job moves money once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from huoli.db import insert_or_ignore
from huoli.errors import Conflict, HuoliError, NotFound, ValidationFailed
from huoli.promotions import compliance
from huoli.promotions.common import emit, new_id
from huoli.promotions.models import (
    Commission,
    DistributionBinding,
    DistributionConfig,
    Distributor,
    Withdrawal,
)
from huoli.promotions.schemas import DistributionConfigIn
from huoli.settings import Settings


def configure(*, db: Session, app_id: str, spec: DistributionConfigIn, now: datetime) -> DistributionConfig:
    compliance.enforce(compliance.check_distribution(spec))
    row = db.get(DistributionConfig, app_id) or DistributionConfig(id=app_id, app_id=app_id)
    row.levels = spec.levels
    row.level1_bp = spec.level1_bp
    row.level2_bp = spec.level2_bp if spec.levels == 2 else 0
    row.binding_mode = spec.binding_mode
    row.binding_days = spec.binding_days
    row.freeze_days = spec.freeze_days
    row.min_withdraw_fen = spec.min_withdraw_fen
    row.rules_text = compliance.rules_text("distribution", spec)
    row.updated_at = now
    db.add(row)
    db.flush()
    return row


def _config(db: Session, app_id: str) -> DistributionConfig:
    cfg = db.get(DistributionConfig, app_id)
    if cfg is None:
        raise NotFound("distribution is not configured", code="distribution_not_configured")
    return cfg


def rules_text(db: Session, app_id: str) -> str:
    """The distribution rule text the mini-program shows; empty before it is configured."""
    cfg = db.get(DistributionConfig, app_id)
    return cfg.rules_text if cfg else ""


def _distributor(db: Session, user_id: str) -> Distributor | None:
    return db.scalars(select(Distributor).where(Distributor.user_id == user_id)).first()


def join(
    *,
    db: Session,
    settings: Settings,
    app_id: str,
    user_id: str,
    now: datetime,
    invited_by: str | None = None,
) -> Distributor:
    """Become a distributor. invited_by (a distributor) becomes the parent: the only level-2 link."""
    _config(db, app_id)
    parent = None
    if invited_by and invited_by != user_id and _distributor(db, invited_by) is not None:
        parent = invited_by
    insert_or_ignore(
        db,
        Distributor,
        {
            "id": new_id("dst"),
            "app_id": app_id,
            "user_id": user_id,
            "parent_user_id": parent,
            "frozen_fen": 0,
            "available_fen": 0,
            "withdrawn_fen": 0,
            "joined_at": now,
        },
    )
    d = _distributor(db, user_id)
    assert d is not None
    return d


def bind_customer(
    *,
    db: Session,
    settings: Settings,
    app_id: str,
    customer_user_id: str,
    distributor_user_id: str,
    now: datetime,
) -> DistributionBinding | None:
    """A customer opened a distributor's share. Mode permanent: first wins forever; window: first wins until
    it lapses; latest: the most recent distributor wins. Returns the binding in force (None: not bindable)."""
    cfg = _config(db, app_id)
    if customer_user_id == distributor_user_id or _distributor(db, distributor_user_id) is None:
        return None
    expires = now + timedelta(days=cfg.binding_days) if cfg.binding_mode == "window" else None
    created = insert_or_ignore(
        db,
        DistributionBinding,
        {
            "id": new_id("dbd"),
            "app_id": app_id,
            "customer_user_id": customer_user_id,
            "distributor_user_id": distributor_user_id,
            "bound_at": now,
            "expires_at": expires,
        },
    )
    changed = created
    if not created and cfg.binding_mode != "permanent":
        cond = [
            DistributionBinding.customer_user_id == customer_user_id,
            DistributionBinding.distributor_user_id != distributor_user_id,
        ]
        if cfg.binding_mode == "window":
            cond.append(DistributionBinding.expires_at <= now)
        changed = (
            db.execute(
                update(DistributionBinding)
                .where(*cond)
                .values(distributor_user_id=distributor_user_id, bound_at=now, expires_at=expires)
                .returning(DistributionBinding.id)
            ).first()
            is not None
        )
    row = db.scalars(
        select(DistributionBinding).where(DistributionBinding.customer_user_id == customer_user_id)
    ).one()
    if changed:
        emit(
            db,
            settings,
            app_id=app_id,
            name="distribution_bound",
            ts=now,
            key=f"{row.id}:{now.isoformat()}",
            user_id=customer_user_id,
            properties={"sharer_id": distributor_user_id, "mode": cfg.binding_mode},
        )
    return row


def on_order_paid(
    *,
    db: Session,
    settings: Settings,
    app_id: str,
    order_id: str,
    buyer_user_id: str,
    paid_fen: int,
    now: datetime,
) -> list[Commission]:
    """Create frozen commissions for a paid order (level 1: the buyer's distributor; level 2: its parent)."""
    cfg = db.get(DistributionConfig, app_id)
    if cfg is None or paid_fen <= 0:
        return []
    binding = db.scalars(
        select(DistributionBinding).where(DistributionBinding.customer_user_id == buyer_user_id)
    ).first()
    if binding is None or (binding.expires_at is not None and binding.expires_at <= now):
        return []
    chain = [(1, binding.distributor_user_id, cfg.level1_bp)]
    if cfg.levels == 2:
        d1 = _distributor(db, binding.distributor_user_id)
        if d1 is not None and d1.parent_user_id:
            chain.append((2, d1.parent_user_id, cfg.level2_bp))
    out = []
    for level, who, bp in chain:
        amount = paid_fen * bp // 10_000
        if who == buyer_user_id or amount <= 0:
            continue  # no commission on one's own purchase
        cid = new_id("cm")
        if not insert_or_ignore(
            db,
            Commission,
            {
                "id": cid,
                "app_id": app_id,
                "order_id": order_id,
                "level": level,
                "distributor_user_id": who,
                "buyer_user_id": buyer_user_id,
                "order_fen": paid_fen,
                "amount_fen": amount,
                "status": "frozen",
                "created_at": now,
                "credit_at": now + timedelta(days=cfg.freeze_days),
            },
        ):
            continue  # the order was already reported: idempotent
        db.execute(
            update(Distributor)
            .where(Distributor.user_id == who)
            .values(frozen_fen=Distributor.frozen_fen + amount)
        )
        emit(
            db,
            settings,
            app_id=app_id,
            name="commission_created",
            ts=now,
            key=cid,
            user_id=who,
            properties={"order_id": order_id, "amount_fen": amount, "level": level},
        )
        c = db.get(Commission, cid)
        assert c is not None
        out.append(c)
    return out


def credit_due(*, db: Session, settings: Settings, now: datetime) -> int:
    """Job: commissions past their freeze window become withdrawable (once)."""
    rows = db.execute(
        update(Commission)
        .where(Commission.status == "frozen", Commission.credit_at <= now)
        .values(status="credited", closed_at=now)
        .returning(Commission.id, Commission.distributor_user_id, Commission.amount_fen, Commission.app_id)
    ).all()
    for cid, who, amount, app in rows:
        db.execute(
            update(Distributor)
            .where(Distributor.app_id == app, Distributor.user_id == who)
            .values(
                frozen_fen=Distributor.frozen_fen - amount, available_fen=Distributor.available_fen + amount
            )
        )
        emit(
            db,
            settings,
            app_id=app,
            name="commission_credited",
            ts=now,
            key=cid,
            user_id=who,
            properties={"amount_fen": amount},
        )
    return len(rows)


def on_order_refunded(*, db: Session, settings: Settings, app_id: str, order_id: str, now: datetime) -> int:
    """Reverse the order's commissions: from the frozen balance, or (after the window) from the available
    one — which may go negative and is then recovered from later commissions before any withdrawal."""
    n = 0
    for status, column in (("frozen", "frozen_fen"), ("credited", "available_fen")):
        rows = db.execute(
            update(Commission)
            .where(Commission.order_id == order_id, Commission.status == status)
            .values(status="reversed", closed_at=now)
            .returning(Commission.id, Commission.distributor_user_id, Commission.amount_fen)
        ).all()
        for cid, who, amount in rows:
            col = getattr(Distributor, column)
            db.execute(update(Distributor).where(Distributor.user_id == who).values({column: col - amount}))
            emit(
                db,
                settings,
                app_id=app_id,
                name="commission_reversed",
                ts=now,
                key=cid,
                user_id=who,
                properties={"order_id": order_id, "amount_fen": amount, "from": status},
            )
            n += 1
    return n


def on_order_partly_refunded(
    *,
    db: Session,
    settings: Settings,
    app_id: str,
    order_id: str,
    refund_key: str,
    remaining_before_fen: int,
    remaining_after_fen: int,
    now: datetime,
) -> int:
    """A partial refund scales the order's live commissions to what is still paid (amount × after // before);
    the cut comes off the frozen or available balance as a reversal would. The caller runs it once per refund
    (the orders domain's refund key); the full refund then reverses what is left (on_order_refunded)."""
    if remaining_before_fen <= 0 or remaining_after_fen >= remaining_before_fen:
        return 0
    rows = db.execute(
        select(Commission.id, Commission.distributor_user_id, Commission.amount_fen, Commission.status)
        .where(Commission.order_id == order_id, Commission.status.in_(("frozen", "credited")))
        .order_by(Commission.level)
        .with_for_update()  # the credit job moves the amount it reads: it waits for the new one
    ).all()
    n = 0
    for cid, who, amount, status in rows:
        cut = amount - amount * remaining_after_fen // remaining_before_fen
        if cut <= 0:
            continue
        db.execute(update(Commission).where(Commission.id == cid).values(amount_fen=amount - cut))
        column = "frozen_fen" if status == "frozen" else "available_fen"
        col = getattr(Distributor, column)
        db.execute(update(Distributor).where(Distributor.user_id == who).values({column: col - cut}))
        emit(
            db,
            settings,
            app_id=app_id,
            name="commission_reversed",
            ts=now,
            key=f"{cid}:{refund_key}",
            user_id=who,
            properties={"order_id": order_id, "amount_fen": cut, "from": status, "partial": True},
        )
        n += 1
    return n


def withdraw(
    *,
    db: Session,
    settings: Settings,
    app_id: str,
    user_id: str,
    amount_fen: int,
    request_key: str,
    now: datetime,
) -> Withdrawal:
    """Request a withdrawal of available commission. Idempotent on request_key."""
    cfg = _config(db, app_id)
    seen = db.scalars(select(Withdrawal).where(Withdrawal.request_key == request_key)).first()
    if seen is not None:
        return seen
    if amount_fen < cfg.min_withdraw_fen:
        raise ValidationFailed(
            f"minimum withdrawal is {cfg.min_withdraw_fen} fen",
            details=[{"field": "amount_fen", "message": f">= {cfg.min_withdraw_fen}"}],
        )
    wid = new_id("wd")
    if not insert_or_ignore(
        db,
        Withdrawal,
        {
            "id": wid,
            "app_id": app_id,
            "distributor_user_id": user_id,
            "amount_fen": amount_fen,
            "request_key": request_key,
            "status": "requested",
            "requested_at": now,
        },
    ):
        got = db.scalars(select(Withdrawal).where(Withdrawal.request_key == request_key)).one()
        return got
    taken = db.execute(
        update(Distributor)
        .where(Distributor.user_id == user_id, Distributor.available_fen >= amount_fen)
        .values(
            available_fen=Distributor.available_fen - amount_fen,
            withdrawn_fen=Distributor.withdrawn_fen + amount_fen,
        )
        .returning(Distributor.available_fen)
    ).first()
    if taken is None:
        raise Conflict("not enough withdrawable commission", code="insufficient_balance")
    emit(
        db,
        settings,
        app_id=app_id,
        name="withdrawal_requested",
        ts=now,
        key=wid,
        user_id=user_id,
        properties={"amount_fen": amount_fen},
    )
    w = db.get(Withdrawal, wid)
    assert w is not None
    return w


def balance(*, db: Session, user_id: str) -> Distributor:
    d = _distributor(db, user_id)
    if d is None:
        raise HuoliError("not a distributor", code="not_distributor")
    return d
