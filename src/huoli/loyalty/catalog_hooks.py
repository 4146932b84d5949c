"""The catalog's hooks (huoli.catalog.service.hook_modules): where the points mall uses a catalog item.

Availability is not copied into mall rows: a goods item linked to a catalog item is redeemable only while the
catalog says the item is available (`mall.redeem` and the members' list ask `catalog.service.get_items` at the
time), so an operator's own pause and the catalog's off-shelf / out-of-stock never overwrite each other."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from huoli.loyalty import mall
from huoli.loyalty.models import MallItem
from huoli.work import Work


def references(work: Work, item_ids: list[str]) -> list[dict[str, Any]]:
    """Mall goods that give one of these catalog items, with their state now."""
    rows = work.db.scalars(
        select(MallItem).where(MallItem.kind == "goods", MallItem.ref.in_(item_ids)).order_by(MallItem.id)
    )
    return [
        {
            "kind": "points-mall",
            "id": r.id,
            "name": r.name,
            "item_id": r.ref,
            "state": mall.state_of(r.active, r.starts_at, r.ends_at, work.now),
        }
        for r in rows
    ]
