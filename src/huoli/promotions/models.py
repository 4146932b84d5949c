"""Promotion tables: coupons, flash sales (秒杀), group buys (拼团), bargains (砍价), referrals, distribution (分销).

Every rule that must hold under concurrency is a database constraint or a conditional UPDATE on one of
these rows (see docs/promotions.md): counters live on the row they limit, idempotency keys are unique.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Integer, PrimaryKeyConstraint, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from huoli.crypto import EncryptedString
from huoli.db import Base, UTCDateTime, utcnow
from huoli.tenancy import AppScoped

# -- coupons ----------------------------------------------------------------------------------------


class CouponTemplate(AppScoped, Base):
    """What a coupon is worth, when it is valid, how many may be issued, and where it applies."""

    __tablename__ = "promo_coupon_templates"
    # operators name these: unique per app, so no app can probe or take another's names
    __table_args__ = (PrimaryKeyConstraint("app_id", "id"),)

    id: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # fixed | threshold | percent
    amount_fen: Mapped[int] = mapped_column(Integer, default=0)  # fixed / threshold discount
    threshold_fen: Mapped[int] = mapped_column(Integer, default=0)  # 满X: order subtotal in scope
    percent_off: Mapped[int] = mapped_column(Integer, default=0)  # percent: 10 = 9折
    max_discount_fen: Mapped[int | None] = mapped_column(Integer)  # percent cap
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_days: Mapped[int | None] = mapped_column(Integer)  # N days from receipt instead of a window
    total_limit: Mapped[int | None] = mapped_column(Integer)
    per_user_limit: Mapped[int] = mapped_column(Integer, default=1)
    issued_count: Mapped[int] = mapped_column(Integer, default=0)
    scope: Mapped[str] = mapped_column(String(16), default="all")  # all | category | items
    scope_ids: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of category or item ids
    stackable: Mapped[bool] = mapped_column(Boolean, default=False)
    claim_trigger: Mapped[str] = mapped_column(String(16), default="user_claim")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    rules_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # lifecycle: the window is valid_from/valid_until; `active` False = paused; ended_at = ended for good
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # written by catalog_hooks: scoped items that are unavailable, read with the terms at lock time
    unavailable_item_ids: Mapped[str] = mapped_column(Text, default="[]")
    halted_reason: Mapped[str | None] = mapped_column(String(32))  # item_unavailable: whole scope gone


class Coupon(AppScoped, Base):
    """One issued coupon. (template, user, seq) unique: the per-user limit is a key, not a count."""

    __tablename__ = "promo_coupons"
    __table_args__ = (
        UniqueConstraint("app_id", "claim_key", name="uq_promo_coupons_claim_key"),
        UniqueConstraint("app_id", "template_id", "user_id", "seq", name="uq_promo_coupons_user_seq"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    template_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    claim_key: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(32), default="claim")
    status: Mapped[str] = mapped_column(String(16), default="available")  # available|locked|redeemed|expired
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    order_id: Mapped[str | None] = mapped_column(String(128), index=True)
    discount_fen: Mapped[int | None] = mapped_column(Integer)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class GiftPack(AppScoped, Base):
    """新人礼包: coupon templates granted once to a user in their first days."""

    __tablename__ = "promo_gift_packs"
    # operators name these: unique per app, so no app can probe or take another's names
    __table_args__ = (PrimaryKeyConstraint("app_id", "id"),)

    id: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(200))
    template_ids: Mapped[str] = mapped_column(Text)  # JSON list
    new_user_days: Mapped[int] = mapped_column(Integer, default=7)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # lifecycle (docs/promotions.md "Lifecycle"): `active` False = paused; ended_at set = ended for good
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# -- flash sales ------------------------------------------------------------------------------------


class FlashSession(AppScoped, Base):
    __tablename__ = "promo_flash_sessions"
    # operators name these: unique per app, so no app can probe or take another's names
    __table_args__ = (PrimaryKeyConstraint("app_id", "id"),)

    id: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # False = paused
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # ended early by an operator


class FlashItem(AppScoped, Base):
    __tablename__ = "promo_flash_items"
    # operators name these: unique per app, so no app can probe or take another's names
    __table_args__ = (PrimaryKeyConstraint("app_id", "id"),)

    id: Mapped[str] = mapped_column(String(64), nullable=False)
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    item_id: Mapped[str] = mapped_column(String(128))
    price_fen: Mapped[int] = mapped_column(Integer)
    original_price_fen: Mapped[int] = mapped_column(Integer)
    total_stock: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int] = mapped_column(Integer)  # remaining; only ever changed by conditional UPDATEs
    per_user_limit: Mapped[int] = mapped_column(Integer, default=1)  # units per attempt
    pay_window_s: Mapped[int] = mapped_column(Integer, default=900)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # On the row the attempt's conditional UPDATE locks, so pausing or ending the session (which sets it in
    # its own transaction) and an attempt serialise: no unit is sold once the pause has committed.
    stopped: Mapped[bool] = mapped_column(Boolean, default=False)
    halted_reason: Mapped[str | None] = mapped_column(String(32))  # item_unavailable (catalog_hooks)


class FlashReservation(AppScoped, Base):
    """One attempt per user per item: the unique key is the 'nobody twice' guarantee."""

    __tablename__ = "promo_flash_reservations"
    __table_args__ = (
        UniqueConstraint("app_id", "flash_item_id", "user_id", name="uq_promo_flash_res_item_user"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    flash_item_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="reserved", index=True)  # reserved|paid|expired
    order_id: Mapped[str | None] = mapped_column(String(128))
    reserved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    pay_by: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# -- group buying -----------------------------------------------------------------------------------


class GroupCampaign(AppScoped, Base):
    __tablename__ = "promo_group_campaigns"
    # operators name these: unique per app, so no app can probe or take another's names
    __table_args__ = (PrimaryKeyConstraint("app_id", "id"),)

    id: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(200))
    item_id: Mapped[str] = mapped_column(String(128))
    original_price_fen: Mapped[int] = mapped_column(Integer)
    group_price_fen: Mapped[int] = mapped_column(Integer)
    leader_price_fen: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[int] = mapped_column(Integer)
    fill_policy: Mapped[str] = mapped_column(String(16), default="none")  # none | fill
    fill_min_real: Mapped[int] = mapped_column(Integer, default=0)  # real members needed before filling
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    rules_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # lifecycle (docs/promotions.md "Lifecycle"): `active` False = paused; ended_at set = ended for good
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Group(AppScoped, Base):
    __tablename__ = "promo_groups"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(64), index=True)
    leader_user_id: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    member_count: Mapped[int] = mapped_column(Integer, default=0)
    filled_count: Mapped[int] = mapped_column(Integer, default=0)  # virtual members added by policy
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)  # open|succeeded|failed
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class GroupMember(AppScoped, Base):
    """A paid join. A payment that arrives too late is kept with status 'rejected' and refunded."""

    __tablename__ = "promo_group_members"
    __table_args__ = (UniqueConstraint("app_id", "out_trade_no", name="uq_promo_group_members_trade"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    group_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    is_leader: Mapped[bool] = mapped_column(Boolean, default=False)
    out_trade_no: Mapped[str] = mapped_column(String(64))
    paid_fen: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # joined | rejected | refunding | refunded
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Refund(AppScoped, Base):
    """A refund owed through WeChat Pay. out_refund_no is the idempotency key WeChat honours."""

    __tablename__ = "promo_refunds"
    __table_args__ = (UniqueConstraint("app_id", "out_refund_no", name="uq_promo_refunds_no"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    out_refund_no: Mapped[str] = mapped_column(String(64))
    out_trade_no: Mapped[str] = mapped_column(String(64))
    refund_fen: Mapped[int] = mapped_column(Integer)
    total_fen: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(80))
    source: Mapped[str] = mapped_column(String(64))  # e.g. group member id
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    refund_id: Mapped[str | None] = mapped_column(String(64))
    # the merchant that was asked to pay it: a notification from another merchant is not about this refund
    mch_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


# -- bargains ---------------------------------------------------------------------------------------


class BargainCampaign(AppScoped, Base):
    __tablename__ = "promo_bargain_campaigns"
    # operators name these: unique per app, so no app can probe or take another's names
    __table_args__ = (PrimaryKeyConstraint("app_id", "id"),)

    id: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(200))
    item_id: Mapped[str] = mapped_column(String(128))
    price_fen: Mapped[int] = mapped_column(Integer)
    floor_fen: Mapped[int] = mapped_column(Integer)
    helpers_needed: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    rules_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # lifecycle (docs/promotions.md "Lifecycle"): `active` False = paused; ended_at set = ended for good
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Bargain(AppScoped, Base):
    __tablename__ = "promo_bargains"
    __table_args__ = (
        UniqueConstraint("app_id", "campaign_id", "user_id", name="uq_promo_bargains_campaign_user"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    price_fen: Mapped[int] = mapped_column(Integer)
    floor_fen: Mapped[int] = mapped_column(Integer)
    helpers_needed: Mapped[int] = mapped_column(Integer)
    cuts: Mapped[str] = mapped_column(Text)  # JSON list of fen, fixed at start
    helped_count: Mapped[int] = mapped_column(Integer, default=0)
    current_price_fen: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)  # active|completed|expired
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class BargainHelp(AppScoped, Base):
    __tablename__ = "promo_bargain_helps"
    __table_args__ = (
        UniqueConstraint("bargain_id", "helper_user_id", name="uq_promo_bargain_helps_helper"),
        UniqueConstraint("bargain_id", "seq", name="uq_promo_bargain_helps_seq"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    bargain_id: Mapped[str] = mapped_column(String(64), index=True)
    helper_user_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    cut_fen: Mapped[int] = mapped_column(Integer)
    helped_at: Mapped[datetime] = mapped_column(UTCDateTime)


# -- referrals --------------------------------------------------------------------------------------


class ReferralProgram(AppScoped, Base):
    __tablename__ = "promo_referral_programs"
    # operators name these: unique per app, so no app can probe or take another's names
    __table_args__ = (PrimaryKeyConstraint("app_id", "id"),)

    id: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(200))
    qualifying_action: Mapped[str] = mapped_column(String(16))  # first_order | registration
    referrer_template_id: Mapped[str] = mapped_column(String(64))
    invitee_template_id: Mapped[str] = mapped_column(String(64))
    max_rewards_per_referrer: Mapped[int] = mapped_column(Integer)
    new_user_window_s: Mapped[int] = mapped_column(Integer, default=86400)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    rules_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # lifecycle (docs/promotions.md "Lifecycle"): `active` False = paused; ended_at set = ended for good
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InviteCode(AppScoped, Base):
    __tablename__ = "promo_invite_codes"
    __table_args__ = (
        UniqueConstraint("app_id", "code", name="uq_promo_invite_codes_code"),
        UniqueConstraint("app_id", "program_id", "user_id", name="uq_promo_invite_codes_user"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    program_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(32))
    rewarded_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReferralBinding(AppScoped, Base):
    """Invitee → referrer, written on the invitee's first open; unique per invitee (first binding wins)."""

    __tablename__ = "promo_referral_bindings"
    __table_args__ = (
        UniqueConstraint("app_id", "program_id", "invitee_user_id", name="uq_promo_ref_bind_invitee"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    program_id: Mapped[str] = mapped_column(String(64))
    invitee_user_id: Mapped[str] = mapped_column(String(64))
    referrer_user_id: Mapped[str] = mapped_column(String(64), index=True)
    code: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="bound")  # bound | rewarded | blocked
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime)
    qualified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    referrer_rewarded: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(String(200))


# -- distribution -----------------------------------------------------------------------------------


class DistributionConfig(AppScoped, Base):
    __tablename__ = "promo_distribution_configs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # one per app: id == app_id
    levels: Mapped[int] = mapped_column(Integer, default=1)
    level1_bp: Mapped[int] = mapped_column(Integer)  # basis points of the paid amount
    level2_bp: Mapped[int] = mapped_column(Integer, default=0)
    binding_mode: Mapped[str] = mapped_column(String(16), default="permanent")  # permanent|window|latest
    binding_days: Mapped[int] = mapped_column(Integer, default=30)
    freeze_days: Mapped[int] = mapped_column(Integer, default=7)
    min_withdraw_fen: Mapped[int] = mapped_column(Integer, default=100)
    rules_text: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # paused: no new bindings or commissions


class Distributor(AppScoped, Base):
    __tablename__ = "promo_distributors"
    __table_args__ = (UniqueConstraint("app_id", "user_id", name="uq_promo_distributors_user"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    parent_user_id: Mapped[str | None] = mapped_column(String(64))
    frozen_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    available_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    withdrawn_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DistributionBinding(AppScoped, Base):
    __tablename__ = "promo_distribution_bindings"
    __table_args__ = (UniqueConstraint("app_id", "customer_user_id", name="uq_promo_dist_bind_customer"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_user_id: Mapped[str] = mapped_column(String(64))
    distributor_user_id: Mapped[str] = mapped_column(String(64))
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Commission(AppScoped, Base):
    __tablename__ = "promo_commissions"
    __table_args__ = (UniqueConstraint("app_id", "order_id", "level", name="uq_promo_commissions_order_lvl"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(128))
    level: Mapped[int] = mapped_column(Integer)
    distributor_user_id: Mapped[str] = mapped_column(String(64), index=True)
    buyer_user_id: Mapped[str] = mapped_column(String(64))
    order_fen: Mapped[int] = mapped_column(Integer)
    amount_fen: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="frozen", index=True)  # frozen|credited|reversed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    credit_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Withdrawal(AppScoped, Base):
    __tablename__ = "promo_withdrawals"
    __table_args__ = (UniqueConstraint("app_id", "request_key", name="uq_promo_withdrawals_key"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    distributor_user_id: Mapped[str] = mapped_column(String(64), index=True)
    amount_fen: Mapped[int] = mapped_column(Integer)
    request_key: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="requested")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)


# -- fraud ------------------------------------------------------------------------------------------


class VelocityCounter(AppScoped, Base):
    """Fixed-window counters per (action, user|device|ip, subject); the limit is a conditional UPDATE."""

    __tablename__ = "promo_velocity"
    __table_args__ = (
        UniqueConstraint("app_id", "action", "kind", "subject", "window_start", name="uq_promo_velocity_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(128))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(Integer, default=0)


class PaidOrder(AppScoped, Base):
    """Orders the merchant backend reported paid to promotions: 'first order' means the first row here."""

    __tablename__ = "promo_paid_orders"
    __table_args__ = (UniqueConstraint("app_id", "order_id", name="uq_promo_paid_orders_order"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    paid_fen: Mapped[int] = mapped_column(Integer)
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# -- WeChat Pay merchant per app ----------------------------------------------------------------------


class WeChatPayMerchant(AppScoped, Base):
    """The WeChat Pay merchant an app refunds through and whose notifications it trusts (one per app; an
    app without one uses the deployment's HUOLI_WECHATPAY_* settings). The two secrets are encrypted at rest;
    the ids and the platform *public* key are not secret (the admin API shows them)."""

    __tablename__ = "promo_wechatpay_merchants"
    __table_args__ = (PrimaryKeyConstraint("app_id"),)

    mch_id: Mapped[str] = mapped_column(String(32))
    merchant_serial: Mapped[str] = mapped_column(String(64))  # serial of the merchant API certificate
    private_key_pem: Mapped[str] = mapped_column(
        EncryptedString("promo_wechatpay_merchants.private_key_pem", 4096)
    )
    api_v3_key: Mapped[str] = mapped_column(EncryptedString("promo_wechatpay_merchants.api_v3_key"))
    platform_key_id: Mapped[str] = mapped_column(String(64))  # PUB_KEY_ID_… or a platform certificate serial
    platform_public_key_pem: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
