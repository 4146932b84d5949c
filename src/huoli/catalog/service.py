"""The catalog's rules: idempotent upserts from the merchant's backend, stock, the operator's edits, and the
availability hooks every domain that refers to items implements (`<domain>/catalog_hooks.py`, below).

A sync compares each item with its row and writes only what differs, so the same body twice changes nothing
and logs nothing. An item is *available* while it is on sale and its stock (over its SKUs, if any) is not 0
or not tracked. When a call flips that, in the same unit of work: one `catalog_item_unavailable` /
`catalog_item_available` event per item (keyed by the item's flip count: a repeat logs once) and each
domain's hook is called with the ids, so a flash sale stops selling an item the shop no longer sells.
An id never synced counts as available: promotions may name items before the backend sends them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import ModuleType
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from huoli.catalog.models import CatalogCategory, CatalogItem, CatalogSku
from huoli.catalog.schemas import (
    CategoriesBatchIn,
    CategoryOut,
    ItemDetailOut,
    ItemEditIn,
    ItemIn,
    ItemOut,
    ItemsBatchIn,
    ItemStatus,
    ItemView,
    ReferenceOut,
    SkuOut,
    StockBatchIn,
    SummaryOut,
    SyncOut,
)
from huoli.domains import domain_modules
from huoli.errors import NotFound, ValidationFailed
from huoli.pagination import PageParams, paginate
from huoli.work import Work

__all__ = [  # the request shapes too: other domains (the demo) build sync bodies through this module only
    "CategoriesBatchIn",
    "ItemView",
    "ItemsBatchIn",
    "StockBatchIn",
    "SyncOut",
    "categories_page",
    "edit_item",
    "get_items",
    "item_detail",
    "items_page",
    "references",
    "search",
    "summary",
    "sync_categories",
    "sync_items",
    "update_stock",
]

UNAVAILABLE = "catalog_item_unavailable"
AVAILABLE = "catalog_item_available"
SYSTEM_ACTOR = "system:catalog"  # the log needs an actor; a sync has no mini-program user (as flags do)
_CHUNK = 500  # ids per IN list: far below every driver's parameter limit


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


def _items(db: Session, ids: Sequence[str], *, lock: bool = False) -> dict[str, CatalogItem]:
    """`lock`: the writes take the rows in id order (PostgreSQL), so two calls flipping the same item
    serialise — its flip count and event are decided once — and never deadlock each other."""
    found: dict[str, CatalogItem] = {}
    for part in _chunks(sorted(set(ids))):
        stmt = select(CatalogItem).where(CatalogItem.id.in_(part)).order_by(CatalogItem.id)
        found.update({i.id: i for i in db.scalars(stmt.with_for_update() if lock else stmt)})
    return found


def _skus(db: Session, item_ids: Sequence[str]) -> dict[str, list[CatalogSku]]:
    found: dict[str, list[CatalogSku]] = {}
    for part in _chunks(list(dict.fromkeys(item_ids))):
        stmt = select(CatalogSku).where(CatalogSku.item_id.in_(part)).order_by(CatalogSku.position)
        for s in db.scalars(stmt):
            found.setdefault(s.item_id, []).append(s)
    return found


def _is_available(status: str, stock: int | None) -> bool:
    return status == ItemStatus.on_sale and (stock is None or stock > 0)


def _fail(details: list[dict[str, str]]) -> ValidationFailed:
    return ValidationFailed(details[0]["message"], details=details)


# -- the hooks -----------------------------------------------------------------------------------------------


def hook_modules() -> list[tuple[str, ModuleType]]:
    """(domain, module) of every `<domain>/catalog_hooks.py`. Each may define `items_unavailable(work, ids)`,
    `items_available(work, ids)` and `references(work, ids) -> [{kind, id, name, item_id, state}]`."""
    return [(m.__name__.split(".")[1], m) for m in domain_modules("catalog_hooks")]


def _flipped(
    work: Work, items: Sequence[CatalogItem], before: dict[str, bool]
) -> tuple[list[str], list[str]]:
    """Log and announce each item whose availability differs from `before` (the same unit of work)."""
    down: list[str] = []
    up: list[str] = []
    for item in items:
        if item.available == before.get(item.id, True):
            continue
        item.flips += 1
        reason = "off_shelf" if item.status != ItemStatus.on_sale else "out_of_stock"
        work.emit(
            AVAILABLE if item.available else UNAVAILABLE,
            key=f"catalog:{item.id}:flip:{item.flips}",
            anonymous_id=SYSTEM_ACTOR,
            properties={"item_id": item.id} | ({} if item.available else {"reason": reason}),
        )
        (up if item.available else down).append(item.id)
    if down or up:
        work.db.flush()  # the hooks read the items' new state
        for _, module in hook_modules():
            if down and hasattr(module, "items_unavailable"):
                module.items_unavailable(work, down)
            if up and hasattr(module, "items_available"):
                module.items_available(work, up)
    return down, up


def references(work: Work, item_ids: Sequence[str]) -> list[ReferenceOut]:
    """Where each item is used (coupon scopes, flash sales, group buys, the points mall …), by every domain."""
    out: list[ReferenceOut] = []
    for domain, module in hook_modules():
        if hasattr(module, "references"):
            for ref in module.references(work, list(item_ids)):
                out.append(ReferenceOut.model_validate({"domain": domain} | dict(ref)))
    return out


# -- the merchant's backend ------------------------------------------------------------------------------


def _check_items(db: Session, body: ItemsBatchIn) -> None:
    """What a field cannot check alone, named by its path (`items.3.stock`); nothing is written on failure."""
    errors: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    for n, item in enumerate(body.items):
        if item.id in seen:
            errors.append({"field": f"items.{n}.id", "message": f"{item.id} is also items.{seen[item.id]}"})
        seen.setdefault(item.id, n)
        if item.skus:
            sku_seen: set[str] = set()
            for k, sku in enumerate(item.skus):
                if sku.id in sku_seen:
                    errors.append(
                        {"field": f"items.{n}.skus.{k}.id", "message": f"SKU {sku.id} appears twice"}
                    )
                sku_seen.add(sku.id)
            total = sum(s.stock for s in item.skus)
            if item.stock is not None and item.stock != total:
                errors.append(
                    {
                        "field": f"items.{n}.stock",
                        "message": f"an item with SKUs has their total stock ({total}); omit stock or send it",
                    }
                )
    if errors:
        raise _fail(errors)


def _sku_rows(item: ItemIn) -> list[tuple[str, str, int, int]]:
    return [(s.id, s.title, s.price_fen, s.stock) for s in item.skus or []]


def sync_items(work: Work, body: ItemsBatchIn) -> SyncOut:
    """Upsert the items (POST /v1/server/catalog/items/batch, the CLI import, the demo). Idempotent: an item
    equal to its row is not written; availability flips are logged and announced once."""
    _check_items(work.db, body)
    db = work.db
    ids = [i.id for i in body.items]
    rows = _items(db, ids, lock=True)
    skus = _skus(db, list(rows)) if rows else {}
    before = {i: r.available for i, r in rows.items()}
    created = updated = 0
    touched: list[CatalogItem] = []
    for item in body.items:
        row = rows.get(item.id)
        sku_rows = _sku_rows(item)
        old_skus = skus.get(item.id, [])
        sku_changed = (
            item.skus is not None and [(s.id, s.title, s.price_fen, s.stock) for s in old_skus] != sku_rows
        )
        if item.skus:
            stock: int | None = sum(s[3] for s in sku_rows)
        elif item.skus is None and row is not None and old_skus:
            stock = row.stock  # SKUs kept as they are: so is their total
        else:
            stock = item.stock
        values: dict[str, Any] = {
            "title": item.title,
            "category_id": item.category_id,
            "price_fen": item.price_fen,
            "original_price_fen": item.original_price_fen,
            "stock": stock,
            "image_url": item.image_url,
            "status": item.status.value,
            "available": _is_available(item.status, stock),
        }
        if row is None:
            row = CatalogItem(id=item.id, flips=0, created_at=work.now, updated_at=work.now, **values)
            db.add(row)
            created += 1
        elif sku_changed or any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            row.updated_at = work.now
            updated += 1
        else:
            continue
        touched.append(row)
        if sku_changed:
            for old in old_skus:
                db.delete(old)
            db.flush()  # the old SKU keys are free before the new rows reuse them
            for pos, (sid, title, price, qty) in enumerate(sku_rows):
                db.add(
                    CatalogSku(
                        item_id=item.id,
                        id=sid,
                        title=title,
                        price_fen=price,
                        stock=qty,
                        position=pos,
                        updated_at=work.now,
                    )
                )
    db.flush()
    down, up = _flipped(work, touched, before)
    unchanged = len(body.items) - created - updated
    return SyncOut(created=created, updated=updated, unchanged=unchanged, unavailable=down, available=up)


def update_stock(work: Work, body: StockBatchIn) -> SyncOut:
    """Set stock per item or per SKU (POST /v1/server/catalog/stock): an unknown item or SKU answers 422 on
    its field and nothing is written. An item with SKUs takes their total."""
    db = work.db
    rows = _items(db, [u.item_id for u in body.updates], lock=True)
    skus = _skus(db, list(rows))
    errors: list[dict[str, str]] = []
    seen: set[tuple[str, str | None]] = set()
    for n, u in enumerate(body.updates):
        if (u.item_id, u.sku_id) in seen:
            errors.append(
                {"field": f"updates.{n}", "message": "this item or SKU appears twice; send it once"}
            )
        seen.add((u.item_id, u.sku_id))
        if u.item_id not in rows:
            errors.append({"field": f"updates.{n}.item_id", "message": f"no item {u.item_id}: sync it first"})
        elif u.sku_id is None and skus.get(u.item_id):
            errors.append(
                {"field": f"updates.{n}.sku_id", "message": "this item has SKUs: give the SKU's id"}
            )
        elif u.sku_id is not None and u.sku_id not in {s.id for s in skus.get(u.item_id, [])}:
            errors.append(
                {"field": f"updates.{n}.sku_id", "message": f"item {u.item_id} has no SKU {u.sku_id}"}
            )
    if errors:
        raise _fail(errors)
    before = {i: r.available for i, r in rows.items()}
    changed: dict[str, CatalogItem] = {}
    for u in body.updates:
        row = rows[u.item_id]
        if u.sku_id is None:
            if row.stock != u.stock:
                row.stock = u.stock
                changed[row.id] = row
            continue
        sku = next(s for s in skus[u.item_id] if s.id == u.sku_id)
        if sku.stock != u.stock:
            sku.stock, sku.updated_at = u.stock, work.now
            row.stock = sum(s.stock for s in skus[u.item_id])
            changed[row.id] = row
    for row in changed.values():
        row.available = _is_available(row.status, row.stock)
        row.updated_at = work.now
    db.flush()
    touched = list(changed.values())
    down, up = _flipped(work, touched, before)
    return SyncOut(
        created=0,
        updated=len(touched),
        unchanged=len(rows) - len(touched),
        unavailable=down,
        available=up,
    )


def sync_categories(work: Work, body: CategoriesBatchIn) -> SyncOut:
    """Upsert categories (POST /v1/server/catalog/categories/batch); idempotent like the items."""
    errors = []
    seen: set[str] = set()
    for n, c in enumerate(body.categories):
        if c.id in seen:
            errors.append({"field": f"categories.{n}.id", "message": f"{c.id} appears twice; send it once"})
        seen.add(c.id)
    if errors:
        raise _fail(errors)
    db = work.db
    rows = {
        c.id: c
        for c in db.scalars(
            select(CatalogCategory).where(CatalogCategory.id.in_([c.id for c in body.categories]))
        )
    }
    created = updated = 0
    for c in body.categories:
        values = {"name": c.name, "parent_id": c.parent_id, "sort": c.sort}
        row = rows.get(c.id)
        if row is None:
            db.add(CatalogCategory(id=c.id, updated_at=work.now, **values))
            created += 1
        elif any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            row.updated_at = work.now
            updated += 1
    db.flush()
    unchanged = len(body.categories) - created - updated
    return SyncOut(created=created, updated=updated, unchanged=unchanged, unavailable=[], available=[])


# -- operators -----------------------------------------------------------------------------------------------


def edit_item(work: Work, item_id: str, body: ItemEditIn) -> ItemDetailOut:
    """An operator takes an item off the shelf, puts it back or corrects its stock (PUT /admin/catalog/items/{id});
    the same flips and hooks as a sync. The merchant's next sync of the item overrides it."""
    db = work.db
    row = _items(db, [item_id], lock=True).get(item_id)
    if row is None:
        raise NotFound(f"no item {item_id}", code="item_not_found")
    skus = _skus(db, [item_id]).get(item_id, [])
    errors: list[dict[str, str]] = []
    if body.stock is not None and skus:
        errors.append({"field": "stock", "message": "this item has SKUs: set the stock of each SKU"})
    by_id = {s.id: s for s in skus}
    for n, s in enumerate(body.skus or []):
        if s.id not in by_id:
            errors.append({"field": f"skus.{n}.id", "message": f"item {item_id} has no SKU {s.id}"})
    if errors:
        raise _fail(errors)
    before = {item_id: row.available}
    changed = False
    if body.status is not None and row.status != body.status.value:
        row.status, changed = body.status.value, True
    if body.stock is not None and row.stock != body.stock:
        row.stock, changed = body.stock, True
    for s in body.skus or []:
        if by_id[s.id].stock != s.stock:
            by_id[s.id].stock, by_id[s.id].updated_at, changed = s.stock, work.now, True
    if body.skus and skus:
        row.stock = sum(s.stock for s in skus)
    if changed:
        row.available = _is_available(row.status, row.stock)
        row.updated_at = work.now
        db.flush()
        _flipped(work, [row], before)
    return item_detail(work, item_id)


def _out(db: Session, rows: Sequence[CatalogItem]) -> list[ItemOut]:
    cat_ids = sorted({r.category_id for r in rows if r.category_id})
    names = (
        {c.id: c.name for c in db.scalars(select(CatalogCategory).where(CatalogCategory.id.in_(cat_ids)))}
        if cat_ids
        else {}
    )
    skus = _skus(db, [r.id for r in rows]) if rows else {}
    return [
        ItemOut(
            id=r.id,
            title=r.title,
            category_id=r.category_id,
            category_name=names.get(r.category_id) if r.category_id else None,
            price_fen=r.price_fen,
            original_price_fen=r.original_price_fen,
            stock=r.stock,
            status=ItemStatus(r.status),
            available=r.available,
            image_url=r.image_url,
            skus=[SkuOut.model_validate(s) for s in skus.get(r.id, [])],
            updated_at=r.updated_at,
        )
        for r in rows
    ]


def _matching(q: str | None) -> Select[CatalogItem]:
    stmt = select(CatalogItem)
    q = (q or "").strip()
    if q:
        # an id typed from its start, or any part of the title (autoescape: % and _ are plain characters)
        stmt = stmt.where(
            or_(
                CatalogItem.id.istartswith(q, autoescape=True),
                CatalogItem.title.icontains(q, autoescape=True),
            )
        )
    return stmt


def items_page(
    work: Work,
    page: PageParams,
    *,
    q: str | None = None,
    category_id: str | None = None,
    status: ItemStatus | None = None,
    available: bool | None = None,
) -> tuple[list[ItemOut], str | None]:
    """One page of the catalog, by id unless sorted by title, price_fen or updated_at."""
    stmt = _matching(q)
    if category_id is not None:
        stmt = stmt.where(CatalogItem.category_id == category_id)
    if status is not None:
        stmt = stmt.where(CatalogItem.status == status.value)
    if available is not None:
        stmt = stmt.where(CatalogItem.available.is_(available))
    sortable = {
        "id": CatalogItem.id,
        "title": CatalogItem.title,
        "price_fen": CatalogItem.price_fen,
        "updated_at": CatalogItem.updated_at,
    }
    rows, cursor = paginate(work.db, stmt, page, order=[CatalogItem.id.asc()], sortable=sortable)
    return _out(work.db, rows), cursor


def item_detail(work: Work, item_id: str) -> ItemDetailOut:
    row = _items(work.db, [item_id]).get(item_id)
    if row is None:
        raise NotFound(f"no item {item_id}", code="item_not_found")
    out = _out(work.db, [row])[0]
    return ItemDetailOut(**out.model_dump(), references=references(work, [item_id]))


def summary(work: Work) -> SummaryOut:
    stmt = select(
        CatalogItem.status, CatalogItem.available, func.count(), func.max(CatalogItem.updated_at)
    ).group_by(CatalogItem.status, CatalogItem.available)
    counts = {"items": 0, "on_sale": 0, "out_of_stock": 0, "off_shelf": 0}
    last = None
    for status, available, n, latest in work.db.execute(stmt):
        counts["items"] += n
        if status != ItemStatus.on_sale:
            counts["off_shelf"] += n
        else:
            counts["on_sale"] += n
            counts["out_of_stock"] += 0 if available else n
        last = latest if last is None or (latest is not None and latest > last) else last
    categories = int(work.db.scalar(select(func.count()).select_from(CatalogCategory)) or 0)
    return SummaryOut(**counts, categories=categories, last_synced_at=last)


def categories_page(work: Work, page: PageParams) -> tuple[list[CategoryOut], str | None]:
    """Categories in the merchant's order (sort, then id), each with its number of items."""
    rows, cursor = paginate(
        work.db,
        select(CatalogCategory),
        page,
        order=[CatalogCategory.sort.asc(), CatalogCategory.id.asc()],
        sortable={"name": CatalogCategory.name},
    )
    ids = [r.id for r in rows]
    counts: dict[str, int] = {}
    if ids:
        stmt = (
            select(CatalogItem.category_id, func.count())
            .where(CatalogItem.category_id.in_(ids))
            .group_by(CatalogItem.category_id)
        )
        counts = {str(c): int(n) for c, n in work.db.execute(stmt)}
    out = [CategoryOut.model_validate(r).model_copy(update={"items": counts.get(r.id, 0)}) for r in rows]
    return out, cursor


# -- other domains -------------------------------------------------------------------------------------------


def _view(r: CatalogItem) -> ItemView:
    return ItemView(
        id=r.id,
        title=r.title,
        price_fen=r.price_fen,
        stock=r.stock,
        status=r.status,
        available=r.available,
        category_id=r.category_id,
        image_url=r.image_url,
        original_price_fen=r.original_price_fen,
    )


def get_items(work: Work, ids: Iterable[str]) -> dict[str, ItemView]:
    """The synced items among `ids` (an id not synced is absent: treat it as available, unknown title)."""
    return {i: _view(r) for i, r in _items(work.db, list(ids)).items()}


def search(work: Work, q: str, limit: int = 20) -> list[ItemView]:
    """Items whose id starts with `q` or whose title contains it, by id (the pickers)."""
    stmt = _matching(q).order_by(CatalogItem.id).limit(max(1, min(limit, 200)))
    return [_view(r) for r in work.db.scalars(stmt)]
