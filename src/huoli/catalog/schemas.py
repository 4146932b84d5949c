"""API shapes of the catalog. Money is integer fen (promotions keeps prices in INTEGER columns, hence
INT32_MAX); ids are the merchant's own. Every bound is on its field, so bad input answers 422 naming it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from huoli.schema_types import INT32_MAX

FEN_MAX = INT32_MAX
STOCK_MAX = INT32_MAX
BATCH_MAX = 1000  # items (or categories, stock updates) per call: well inside the 1 MiB body limit
SKUS_MAX = 200
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$"  # printable, URL-safe: ids go into admin paths


class ItemStatus(StrEnum):
    on_sale = "on_sale"  # 在售
    off_shelf = "off_shelf"  # 已下架


class SkuIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128, pattern=ID_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    price_fen: int = Field(ge=0, le=FEN_MAX)
    stock: int = Field(ge=0, le=STOCK_MAX)


class ItemIn(BaseModel):
    """One item as the merchant's backend has it. `stock` omitted: not tracked (never sells out here);
    `skus` omitted: the item's SKUs stay as they are, `[]` removes them."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128, pattern=ID_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    category_id: str | None = Field(None, min_length=1, max_length=64, pattern=ID_PATTERN)
    price_fen: int = Field(ge=0, le=FEN_MAX, description="selling price, integer fen")
    original_price_fen: int | None = Field(None, ge=0, le=FEN_MAX, description="划线价, integer fen")
    stock: int | None = Field(None, ge=0, le=STOCK_MAX)
    image_url: str | None = Field(None, max_length=1024, pattern=r"^https?://\S+$")
    status: ItemStatus = ItemStatus.on_sale
    skus: list[SkuIn] | None = Field(None, max_length=SKUS_MAX)


class ItemsBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ItemIn] = Field(min_length=1, max_length=BATCH_MAX)


class StockUpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: str = Field(min_length=1, max_length=128)
    sku_id: str | None = Field(None, min_length=1, max_length=128)
    stock: int = Field(ge=0, le=STOCK_MAX)


class StockBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    updates: list[StockUpdateIn] = Field(min_length=1, max_length=BATCH_MAX)


class CategoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64, pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=64)
    parent_id: str | None = Field(None, min_length=1, max_length=64)
    sort: int = Field(0, ge=0, le=INT32_MAX)


class CategoriesBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    categories: list[CategoryIn] = Field(min_length=1, max_length=BATCH_MAX)


class SkuStockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128)
    stock: int = Field(ge=0, le=STOCK_MAX)


class ItemEditIn(BaseModel):
    """An operator's change (下架 / 上架, 库存); the merchant's next sync of the item overrides it."""

    model_config = ConfigDict(extra="forbid")

    status: ItemStatus | None = None
    stock: int | None = Field(None, ge=0, le=STOCK_MAX, description="items without SKUs")
    skus: list[SkuStockIn] | None = Field(None, max_length=SKUS_MAX, description="stock per SKU")


# -- answers -----------------------------------------------------------------------------------------


class SyncOut(BaseModel):
    """What a sync changed: unchanged rows are counted, not written; the flips name the items."""

    created: int
    updated: int
    unchanged: int
    unavailable: list[str] = Field(description="items that became unavailable (off shelf or out of stock)")
    available: list[str] = Field(description="items that became available again")


class SkuOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str
    price_fen: int
    stock: int


class ItemOut(BaseModel):
    id: str
    title: str
    category_id: str | None
    category_name: str | None
    price_fen: int
    original_price_fen: int | None
    stock: int | None
    status: ItemStatus
    available: bool
    image_url: str | None
    skus: list[SkuOut]
    updated_at: datetime


class ReferenceOut(BaseModel):
    """Where an item is used, as a domain's catalog_hooks.references reports it."""

    domain: str
    kind: str
    id: str
    name: str
    item_id: str
    state: str | None = None


class ItemDetailOut(ItemOut):
    references: list[ReferenceOut]


class SummaryOut(BaseModel):
    """The catalog at a glance: the console's figures and its empty state."""

    items: int
    on_sale: int
    out_of_stock: int = Field(description="on sale with no stock left")
    off_shelf: int
    categories: int
    last_synced_at: datetime | None = Field(description="the latest change of any item")


class CategoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    parent_id: str | None
    sort: int
    items: int = 0
    updated_at: datetime


@dataclass(frozen=True)
class ItemView:
    """What other domains read of an item (`service.get_items`, `service.search`)."""

    id: str
    title: str
    price_fen: int
    stock: int | None  # None: not tracked
    status: str
    available: bool
    category_id: str | None
    image_url: str | None = None
    original_price_fen: int | None = None
