"""HTTP for the catalog (thin): the merchant backend's signed sync calls and the operators' list, detail and
edit. Each route runs in its caller's unit of work (committed before the response) and calls one service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from huoli.apps.schemas import Role
from huoli.catalog import service
from huoli.catalog.schemas import (
    CategoriesBatchIn,
    CategoryOut,
    ItemDetailOut,
    ItemEditIn,
    ItemOut,
    ItemsBatchIn,
    ItemStatus,
    StockBatchIn,
    SummaryOut,
    SyncOut,
)
from huoli.deps import OperatorWorkDep, PageDep, SignedWorkDep, role_at_least
from huoli.pagination import Page

router = APIRouter(tags=["catalog"])
SERVER = "/v1/server/catalog"
ADMIN = "/admin/catalog"
WRITE = [role_at_least(Role.operator)]
READ = [role_at_least(Role.analyst)]


@router.post(f"{SERVER}/items/batch", response_model=SyncOut)
def sync_items(body: ItemsBatchIn, work: SignedWorkDep) -> SyncOut:
    """Upsert up to 1000 items (idempotent: an unchanged item is not written). Items going off the shelf or
    out of stock stop their flash sales and coupon scopes in the same transaction (docs/catalog.md)."""
    return service.sync_items(work, body)


@router.post(f"{SERVER}/stock", response_model=SyncOut)
def update_stock(body: StockBatchIn, work: SignedWorkDep) -> SyncOut:
    """Set the stock of items or SKUs; an unknown item or SKU answers 422 on its field, nothing written."""
    return service.update_stock(work, body)


@router.post(f"{SERVER}/categories/batch", response_model=SyncOut)
def sync_categories(body: CategoriesBatchIn, work: SignedWorkDep) -> SyncOut:
    """Upsert up to 1000 categories (idempotent)."""
    return service.sync_categories(work, body)


@router.get(f"{ADMIN}/items", response_model=Page[ItemOut], dependencies=READ)
def list_items(
    work: OperatorWorkDep,
    page: PageDep,
    q: Annotated[str | None, Query(max_length=200, description="id prefix or part of the title")] = None,
    category_id: Annotated[str | None, Query(max_length=64)] = None,
    status: ItemStatus | None = None,
    available: bool | None = None,
) -> Page[ItemOut]:
    """The catalog by id; `sort=` title, price_fen or updated_at (`-` for descending)."""
    rows, cursor = service.items_page(
        work, page, q=q, category_id=category_id or None, status=status, available=available
    )
    return Page(items=rows, next_cursor=cursor)


@router.get(f"{ADMIN}/summary", response_model=SummaryOut, dependencies=READ)
def get_summary(work: OperatorWorkDep) -> SummaryOut:
    """Items on sale, out of stock and off the shelf; categories; when the catalog last changed."""
    return service.summary(work)


@router.get(f"{ADMIN}/items/{{item_id}}", response_model=ItemDetailOut, dependencies=READ)
def get_item(item_id: str, work: OperatorWorkDep) -> ItemDetailOut:
    """One item with `references`: every activity that names it (coupon scopes, flash sales, …)."""
    return service.item_detail(work, item_id)


@router.put(f"{ADMIN}/items/{{item_id}}", response_model=ItemDetailOut, dependencies=WRITE)
def edit_item(item_id: str, body: ItemEditIn, work: OperatorWorkDep) -> ItemDetailOut:
    """Take an item off the shelf or back on, or correct its stock (per SKU for items with SKUs)."""
    return service.edit_item(work, item_id, body)


@router.get(f"{ADMIN}/categories", response_model=Page[CategoryOut], dependencies=READ)
def list_categories(work: OperatorWorkDep, page: PageDep) -> Page[CategoryOut]:
    rows, cursor = service.categories_page(work, page)
    return Page(items=rows, next_cursor=cursor)
