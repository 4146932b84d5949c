"""catalog: the merchant's categories, items and SKUs, keyed by its own ids per app

Revision ID: catalog_0001
Revises: 0001
Create Date: 2026-12-07 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import huoli.db

revision: str = "catalog_0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("catalog",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalog_categories",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("updated_at", huoli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "id", name=op.f("pk_catalog_categories")),
    )
    with op.batch_alter_table("catalog_categories", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_categories_app_id"), ["app_id"], unique=False)
    op.create_table(
        "catalog_items",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("category_id", sa.String(length=64), nullable=True),
        sa.Column("price_fen", sa.Integer(), nullable=False),
        sa.Column("original_price_fen", sa.Integer(), nullable=True),
        sa.Column("stock", sa.Integer(), nullable=True),
        sa.Column("image_url", sa.String(length=1024), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.Column("flips", sa.Integer(), nullable=False),
        sa.Column("created_at", huoli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", huoli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "id", name=op.f("pk_catalog_items")),
    )
    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_items_app_id"), ["app_id"], unique=False)
        batch_op.create_index("ix_catalog_items_app_category", ["app_id", "category_id", "id"], unique=False)
        batch_op.create_index("ix_catalog_items_app_updated", ["app_id", "updated_at", "id"], unique=False)
    op.create_table(
        "catalog_skus",
        sa.Column("item_id", sa.String(length=128), nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("price_fen", sa.Integer(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("updated_at", huoli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "item_id", "id", name=op.f("pk_catalog_skus")),
    )
    with op.batch_alter_table("catalog_skus", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_skus_app_id"), ["app_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("catalog_skus", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_skus_app_id"))
    op.drop_table("catalog_skus")
    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_items_app_updated")
        batch_op.drop_index("ix_catalog_items_app_category")
        batch_op.drop_index(batch_op.f("ix_catalog_items_app_id"))
    op.drop_table("catalog_items")
    with op.batch_alter_table("catalog_categories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_categories_app_id"))
    op.drop_table("catalog_categories")
