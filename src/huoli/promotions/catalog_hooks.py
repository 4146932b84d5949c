"""What promotions does when the catalog says items became unavailable or available again (C3), called by
`huoli.catalog.service` in the catalog's unit of work, and where promotions uses an item (the catalog's
"where used").

Unavailable: the item's 秒杀 items stop selling (`halted_reason` on the row the reservation's conditional
UPDATE locks, so no attempt gets past it once this commits) and it leaves the item scope of coupon templates
(kept on the template and read with its terms at checkout — no catalog call per lock); a template whose whole
item scope is gone shows halted. Available again: only what this hook halted is restored — a pause is the
operator's and stays.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from huoli.catalog import service as catalog
from huoli.promotions import hot, lifecycle
from huoli.promotions.common import dumps, loads
from huoli.promotions.models import (
    BargainCampaign,
    CouponTemplate,
    FlashItem,
    FlashSession,
    GroupCampaign,
)
from huoli.work import Work

HALTED = "item_unavailable"


def unavailable(work: Work, item_ids: list[str]) -> set[str]:
    """Which of `item_ids` the catalog has as unavailable now (an id never synced counts as available): an
    activity created for such an item starts halted, as if the hook had just run."""
    return {i for i, v in catalog.get_items(work, item_ids).items() if not v.available}


def _item_scoped(work: Work, item_ids: set[str]) -> list[tuple[CouponTemplate, set[str]]]:
    """Templates scoped to items, with their scope, whose scope names one of `item_ids`."""
    out = []
    for t in work.db.scalars(select(CouponTemplate).where(CouponTemplate.scope == "items")):
        scope = set(loads(t.scope_ids))
        if scope & item_ids:
            out.append((t, scope))
    return out


def _set_unavailable(work: Work, t: CouponTemplate, scope: set[str], gone: set[str]) -> None:
    t.unavailable_item_ids = dumps(sorted(gone & scope))
    t.halted_reason = HALTED if scope <= gone else None
    hot.for_bind(work.db.get_bind()).forget_terms(work.app_id, t.id)  # other processes: within the TTL


def items_unavailable(work: Work, item_ids: list[str]) -> None:
    ids = set(item_ids)
    work.db.execute(
        update(FlashItem)
        .where(FlashItem.item_id.in_(ids), FlashItem.halted_reason.is_(None))
        .values(halted_reason=HALTED)
    )
    for t, scope in _item_scoped(work, ids):
        _set_unavailable(work, t, scope, set(loads(t.unavailable_item_ids)) | ids)
    work.db.flush()


def items_available(work: Work, item_ids: list[str]) -> None:
    ids = set(item_ids)
    work.db.execute(
        update(FlashItem)
        .where(FlashItem.item_id.in_(ids), FlashItem.halted_reason == HALTED)
        .values(halted_reason=None)
    )
    for t, scope in _item_scoped(work, ids):
        _set_unavailable(work, t, scope, set(loads(t.unavailable_item_ids)) - ids)
    work.db.flush()


def references(work: Work, item_ids: list[str]) -> list[dict[str, Any]]:
    """Every promotion naming one of the items: {kind, id, name, item_id, state}."""
    db, now, ids = work.db, work.now, set(item_ids)
    out: list[dict[str, Any]] = []
    for t, scope in _item_scoped(work, ids):
        for item in sorted(scope & ids):
            out.append(_ref("coupon-templates", t, item, now))
    rows = db.execute(
        select(FlashSession, FlashItem.item_id)
        .join(
            FlashItem, (FlashItem.session_id == FlashSession.id) & (FlashItem.app_id == FlashSession.app_id)
        )
        .where(FlashItem.item_id.in_(ids))
        .order_by(FlashSession.starts_at.desc(), FlashSession.id)
    ).all()
    for session, item in dict.fromkeys((s, i) for s, i in rows):
        out.append(_ref("flash-sessions", session, item, now))
    models: list[tuple[str, Any]] = [
        ("group-campaigns", GroupCampaign),
        ("bargain-campaigns", BargainCampaign),
    ]
    for kind, model in models:
        for c in db.scalars(select(model).where(model.item_id.in_(ids)).order_by(model.created_at.desc())):
            out.append(_ref(kind, c, c.item_id, now))
    return out


def _ref(kind: str, row: Any, item_id: str, now: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "id": row.id,
        "name": row.name,
        "item_id": item_id,
        "state": lifecycle.state(row, now),
    }
