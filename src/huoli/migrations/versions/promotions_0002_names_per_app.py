"""promotion names per app: operator-named promotions keyed by (app_id, id); per-user uniques include app_id

Revision ID: promotions_0002
Revises: promotions_0001
Create Date: 2026-12-07 02:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "promotions_0002"
down_revision: str | None = "promotions_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAMED = (
    "promo_coupon_templates",
    "promo_gift_packs",
    "promo_flash_sessions",
    "promo_flash_items",
    "promo_group_campaigns",
    "promo_bargain_campaigns",
    "promo_referral_programs",
)
# (table, constraint, columns before, columns after)
UNIQUES = (
    ("promo_coupons", "uq_promo_coupons_user_seq", ["template_id", "user_id", "seq"]),
    ("promo_flash_reservations", "uq_promo_flash_res_item_user", ["flash_item_id", "user_id"]),
    ("promo_bargains", "uq_promo_bargains_campaign_user", ["campaign_id", "user_id"]),
    ("promo_invite_codes", "uq_promo_invite_codes_user", ["program_id", "user_id"]),
    ("promo_referral_bindings", "uq_promo_ref_bind_invitee", ["program_id", "invitee_user_id"]),
)


def _keys(per_app: bool) -> None:
    for table in NAMED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"pk_{table}", type_="primary")
            batch_op.create_primary_key(f"pk_{table}", ["app_id", "id"] if per_app else ["id"])
    for table, name, columns in UNIQUES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(name, type_="unique")
            batch_op.create_unique_constraint(name, ["app_id", *columns] if per_app else columns)


def upgrade() -> None:
    _keys(per_app=True)


def downgrade() -> None:
    _keys(per_app=False)  # fails if two apps came to use the same name meanwhile, as it must
