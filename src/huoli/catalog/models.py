"""The catalog's tables: the merchant's categories, items and SKUs as its backend last reported them.

Keys are the merchant's own ids, unique per app (the primary key starts with app_id), so two apps may use the
same ids and a repeated sync finds the row it wrote. `available` is stored, not computed on read: the lists
filter on it and a sync compares it to find the items whose availability flipped.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from huoli.db import Base, UTCDateTime
from huoli.tenancy import AppScoped


class CatalogCategory(AppScoped, Base):
    __tablename__ = "catalog_categories"
    __table_args__ = (PrimaryKeyConstraint("app_id", "id"),)

    id: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(64))
    parent_id: Mapped[str | None] = mapped_column(String(64))
    sort: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CatalogItem(AppScoped, Base):
    """One product (商品). With SKUs, `stock` is their sum; `stock` None means the merchant does not track it."""

    __tablename__ = "catalog_items"
    __table_args__ = (
        PrimaryKeyConstraint("app_id", "id"),
        Index("ix_catalog_items_app_category", "app_id", "category_id", "id"),
        Index("ix_catalog_items_app_updated", "app_id", "updated_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(128), nullable=False)
    title: Mapped[str] = mapped_column(String(200))
    category_id: Mapped[str | None] = mapped_column(String(64))
    price_fen: Mapped[int] = mapped_column(Integer)
    original_price_fen: Mapped[int | None] = mapped_column(Integer)
    stock: Mapped[int | None] = mapped_column(Integer)
    image_url: Mapped[str | None] = mapped_column(String(1024))
    status: Mapped[str] = mapped_column(String(16))  # on_sale | off_shelf
    available: Mapped[bool] = mapped_column(Boolean)  # on sale and (stock untracked or > 0)
    # bumped at each availability flip: the flip's event key, so a flip logs once and a later one again
    flips: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CatalogSku(AppScoped, Base):
    """One variant (规格) of an item, with its own price and stock."""

    __tablename__ = "catalog_skus"
    __table_args__ = (PrimaryKeyConstraint("app_id", "item_id", "id"),)

    item_id: Mapped[str] = mapped_column(String(128), nullable=False)
    id: Mapped[str] = mapped_column(String(128), nullable=False)
    title: Mapped[str] = mapped_column(String(200))
    price_fen: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)  # the order the merchant listed them in
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
