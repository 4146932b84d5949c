"""Distribution (分销): at most 2 levels, commission only on paid orders, credited after the after-sale
freeze window, withdrawable above a minimum, reversed when the order is refunded.

Balances move only with the commission's state flip in the same transaction (frozen → credited →
reversed are conditional UPDATEs), so a job run twice or a refund racing the credit job moves money once.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from huoli.db import insert_or_ignore
from huoli.errors import Conflict, HuoliError, NotFound, ValidationFailed
from huoli.pagination import PageParams, paginate
from huoli.promotions import compliance
from huoli.promotions.common import event_key, new_id
from huoli.promotions.models import (
    Commission,
    DistributionBinding,
    DistributionConfig,
    Distributor,
    Withdrawal,
)
from huoli.promotions.schemas import DistributionConfigIn
from huoli.work import Work


def configure(work: Work, spec: DistributionConfigIn) -> DistributionConfig:
    compliance.enforce(compliance.check_distribution(spec))
    db, app_id = work.db, work.app_id
    row = db.get(DistributionConfig, app_id) or DistributionConfig(id=app_id, app_id=app_id)
    row.levels = spec.levels
    row.level1_bp = spec.level1_bp
    row.level2_bp = spec.level2_bp if spec.levels == 2 else 0
    row.binding_mode = spec.binding_mode
    row.binding_days = spec.binding_days
    row.freeze_days = spec.freeze_days
    row.min_withdraw_fen = spec.min_withdraw_fen
    row.rules_text = compliance.rules_text("distribution", spec)
    row.updated_at = work.now
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


def join(work: Work, *, user_id: str, invited_by: str | None = None) -> Distributor:
    """Become a distributor. invited_by (a distributor) becomes the parent: the only level-2 link."""
    db, app_id, now = work.db, work.app_id, work.now
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
    work: Work, *, customer_user_id: str, distributor_user_id: str
) -> DistributionBinding | None:
    """A customer opened a distributor's share. Mode permanent: first wins forever; window: first wins until
    it lapses; latest: the most recent distributor wins. Returns the binding in force (None: not bindable)."""
    db, app_id, now = work.db, work.app_id, work.now
    cfg = _config(db, app_id)
    if not cfg.active:  # paused: shares bind no one
        return None
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
        work.emit(
            "distribution_bound",
            key=event_key("distribution_bound", f"{row.id}:{now.isoformat()}"),
            user_id=customer_user_id,
            properties={"sharer_id": distributor_user_id, "mode": cfg.binding_mode},
        )
    return row


def on_order_paid(work: Work, *, order_id: str, buyer_user_id: str, paid_fen: int) -> list[Commission]:
    """Create frozen commissions for a paid order (level 1: the buyer's distributor; level 2: its parent)."""
    db, app_id, now = work.db, work.app_id, work.now
    cfg = db.get(DistributionConfig, app_id)
    if cfg is None or not cfg.active or paid_fen <= 0:  # paused: no new commissions
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
        work.emit(
            "commission_created",
            key=event_key("commission_created", cid),
            user_id=who,
            properties={"order_id": order_id, "amount_fen": amount, "level": level},
        )
        c = db.get(Commission, cid)
        assert c is not None
        out.append(c)
    return out


def credit_due(work: Work) -> int:
    """Job: commissions past their freeze window become withdrawable (once)."""
    db, now = work.db, work.now
    rows = db.execute(
        update(Commission)
        .where(Commission.status == "frozen", Commission.credit_at <= now)
        .values(status="credited", closed_at=now)
        .returning(Commission.id, Commission.distributor_user_id, Commission.amount_fen)
    ).all()
    for cid, who, amount in rows:
        db.execute(
            update(Distributor)
            .where(Distributor.app_id == work.app_id, Distributor.user_id == who)
            .values(
                frozen_fen=Distributor.frozen_fen - amount, available_fen=Distributor.available_fen + amount
            )
        )
        work.emit(
            "commission_credited",
            key=event_key("commission_credited", cid),
            user_id=who,
            properties={"amount_fen": amount},
        )
    return len(rows)


def on_order_refunded(work: Work, *, order_id: str) -> int:
    """Reverse the order's commissions: from the frozen balance, or (after the window) from the available
    one — which may go negative and is then recovered from later commissions before any withdrawal."""
    db, now = work.db, work.now
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
            work.emit(
                "commission_reversed",
                key=event_key("commission_reversed", cid),
                user_id=who,
                properties={"order_id": order_id, "amount_fen": amount, "from": status},
            )
            n += 1
    return n


def on_order_partly_refunded(
    work: Work, *, order_id: str, refund_key: str, remaining_before_fen: int, remaining_after_fen: int
) -> int:
    """A partial refund scales the order's live commissions to what is still paid (amount × after // before);
    the cut comes off the frozen or available balance as a reversal would. The caller runs it once per refund
    (the orders domain's refund key); the full refund then reverses what is left (on_order_refunded)."""
    if remaining_before_fen <= 0 or remaining_after_fen >= remaining_before_fen:
        return 0
    db = work.db
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
        work.emit(
            "commission_reversed",
            key=event_key("commission_reversed", f"{cid}:{refund_key}"),
            user_id=who,
            properties={"order_id": order_id, "amount_fen": cut, "from": status, "partial": True},
        )
        n += 1
    return n


def withdraw(work: Work, *, user_id: str, amount_fen: int, request_key: str) -> Withdrawal:
    """Request a withdrawal of available commission. Idempotent on request_key."""
    db, app_id, now = work.db, work.app_id, work.now
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
    work.emit(
        "withdrawal_requested",
        key=event_key("withdrawal_requested", wid),
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


# -- the console's views ------------------------------------------------------------------------------------


def set_active(work: Work, active: bool) -> DistributionConfig:
    """Pause (no new bindings, no new commissions) or resume 分销; what was earned stays."""
    cfg = _config(work.db, work.app_id)
    if cfg.active != active:  # audited by the operator's unit of work
        cfg.active = active
        work.db.flush()
    return cfg


def summary(db: Session) -> tuple[DistributionConfig | None, int, dict[str, tuple[int, int]]]:
    """(config, distributors, commissions per status as (count, fen))."""
    cfg = db.scalars(select(DistributionConfig).limit(1)).first()
    commissions = {
        status: (int(n), int(amount))
        for status, n, amount in db.execute(
            select(
                Commission.status, func.count(), func.coalesce(func.sum(Commission.amount_fen), 0)
            ).group_by(Commission.status)
        )
    }
    return cfg, int(db.scalar(select(func.count()).select_from(Distributor)) or 0), commissions


def distributors_page(db: Session, page: PageParams) -> tuple[list[dict[str, object]], str | None]:
    """Distributors, newest first, with bound customers and commissions frozen / credited."""
    rows, cursor = paginate(
        db, select(Distributor), page, order=[Distributor.joined_at.desc(), Distributor.id.desc()]
    )
    ids = [d.user_id for d in rows]
    customers: dict[str, int] = dict.fromkeys(ids, 0)
    earned: dict[tuple[str, str], int] = {}
    if ids:
        for who, n in db.execute(
            select(DistributionBinding.distributor_user_id, func.count())
            .where(DistributionBinding.distributor_user_id.in_(ids))
            .group_by(DistributionBinding.distributor_user_id)
        ):
            customers[who] = int(n)
        for who, status, fen in db.execute(
            select(
                Commission.distributor_user_id,
                Commission.status,
                func.coalesce(func.sum(Commission.amount_fen), 0),
            )
            .where(Commission.distributor_user_id.in_(ids))
            .group_by(Commission.distributor_user_id, Commission.status)
        ):
            earned[(who, status)] = int(fen)
    return [
        {
            "user_id": d.user_id,
            "level": 2 if d.parent_user_id else 1,
            "parent_user_id": d.parent_user_id,
            "joined_at": d.joined_at,
            "customers": customers[d.user_id],
            "frozen_fen": earned.get((d.user_id, "frozen"), 0),
            "credited_fen": earned.get((d.user_id, "credited"), 0),
            "withdrawn_fen": int(d.withdrawn_fen),
        }
        for d in rows
    ], cursor


def commissions_page(
    db: Session, page: PageParams, status: str | None
) -> tuple[list[Commission], str | None]:
    """Commissions, newest first, optionally of one status (frozen, credited, reversed)."""
    stmt = select(Commission)
    if status is not None:
        stmt = stmt.where(Commission.status == status)
    return paginate(db, stmt, page, order=[Commission.created_at.desc(), Commission.id.desc()])
