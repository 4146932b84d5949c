"""Loyalty tables: the points ledger (accounts, append-only transfers, lots), check-ins, rewards, badges,
tasks, leaderboards, tiers and the points mall. Every retryable mutation has a unique business key."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from huoli.db import Base, UTCDateTime, utcnow
from huoli.tenancy import AppScoped


class LoyaltyRulesRow(AppScoped, Base):
    """One JSON rules document per app (schemas.LoyaltyRules), edited through the admin API."""

    __tablename__ = "loyalty_rules"

    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    rules: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PointsAccount(AppScoped, Base):
    """The per-member row every balance mutation locks first; `debt` is clawed-back points not yet covered."""

    __tablename__ = "loyalty_accounts"

    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    debt: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PointsTransfer(AppScoped, Base):
    """Append-only: one row per ledger mutation; `points` is signed (earn +, spend/expire/claw back -)."""

    __tablename__ = "loyalty_transfers"
    __table_args__ = (
        UniqueConstraint("app_id", "business_key", name="uq_loyalty_transfers_key"),
        Index("ix_loyalty_transfers_user", "app_id", "user_id", "id"),
        Index("ix_loyalty_transfers_daily", "app_id", "user_id", "reason", "local_date"),
    )

    # no single-column app_id index: every query here uses a composite index led by app_id
    app_id: Mapped[str] = mapped_column(String(64), nullable=False)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # earn | spend | expire | reverse | restore
    reason: Mapped[str] = mapped_column(String(64))  # order | checkin | task | mall | makeup | admin | …
    points: Mapped[int] = mapped_column(BigInteger)
    business_key: Mapped[str] = mapped_column(String(200))
    ref: Mapped[str | None] = mapped_column(String(200))  # order id, item id, related transfer key
    local_date: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PointsLot(AppScoped, Base):
    """What one earn left to spend: usable from available_at, gone at expires_at (exclusive)."""

    __tablename__ = "loyalty_lots"
    __table_args__ = (Index("ix_loyalty_lots_user", "app_id", "user_id", "expires_at"),)

    # no single-column app_id index: every query here uses a composite index led by app_id
    app_id: Mapped[str] = mapped_column(String(64), nullable=False)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    transfer_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    points: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expiry_warned: Mapped[bool] = mapped_column(Boolean, default=False)


class PointsLotUse(AppScoped, Base):
    """Which lots a debit drew from, so a refund can put spent points back where they came from."""

    __tablename__ = "loyalty_lot_uses"

    # no single-column app_id index: every query here uses a composite index led by app_id
    app_id: Mapped[str] = mapped_column(String(64), nullable=False)
    transfer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    lot_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    points: Mapped[int] = mapped_column(BigInteger)


class Checkin(AppScoped, Base):
    """签到: one row per user per local day, enforced by the database."""

    __tablename__ = "loyalty_checkins"
    __table_args__ = (UniqueConstraint("app_id", "user_id", "local_date", name="uq_loyalty_checkins_day"),)

    # no single-column app_id index: every query here uses a composite index led by app_id
    app_id: Mapped[str] = mapped_column(String(64), nullable=False)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    local_date: Mapped[date] = mapped_column(Date)
    streak: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)  # checked-in days up to and including this one
    makeup: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RewardGrant(AppScoped, Base):
    """Every reward handed out (points, coupon, badge, growth), once per key."""

    __tablename__ = "loyalty_grants"
    __table_args__ = (
        UniqueConstraint("app_id", "grant_key", name="uq_loyalty_grants_key"),
        Index("ix_loyalty_grants_user", "app_id", "user_id"),
    )

    # no single-column app_id index: every query here uses a composite index led by app_id
    app_id: Mapped[str] = mapped_column(String(64), nullable=False)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    grant_key: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(64))  # checkin_streak | checkin_total | task | …
    reward_type: Mapped[str] = mapped_column(String(16))  # points | coupon | badge | growth
    ref: Mapped[str | None] = mapped_column(String(200))
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BadgeDefinition(AppScoped, Base):
    __tablename__ = "loyalty_badges"

    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    icon: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UserBadge(AppScoped, Base):
    __tablename__ = "loyalty_user_badges"

    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    badge_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    awarded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TaskDefinition(AppScoped, Base):
    """A task / achievement: count `target` units of `event` (distinct by a property if set) per period."""

    __tablename__ = "loyalty_tasks"

    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    definition: Mapped[str] = mapped_column(Text)  # schemas.TaskIn as JSON
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # False: deleted by an operator
    # paused: kept and listed, counts nothing meanwhile
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TaskProgress(AppScoped, Base):
    __tablename__ = "loyalty_task_progress"

    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    task_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)  # "all" or a local date
    progress: Mapped[int] = mapped_column(Integer, default=0)
    completions: Mapped[int] = mapped_column(Integer, default=0)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TaskUnit(AppScoped, Base):
    """One counted unit (an event id or a distinct property value): re-scanning an event counts nothing."""

    __tablename__ = "loyalty_task_units"

    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    task_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    unit: Mapped[str] = mapped_column(String(200), primary_key=True)


class ScanCursor(AppScoped, Base):
    """How far the task job has read the event store (received_at of the newest event seen)."""

    __tablename__ = "loyalty_scan_cursors"

    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[datetime] = mapped_column(UTCDateTime)


class LeaderboardScore(AppScoped, Base):
    __tablename__ = "loyalty_board_scores"
    __table_args__ = (Index("ix_loyalty_board_rank", "app_id", "board", "period", "score"),)

    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    board: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)  # all | d:YYYY-MM-DD | w:… | m:…
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    score: Mapped[int] = mapped_column(BigInteger)
    prev: Mapped[int | None] = mapped_column(BigInteger)  # the score before the last write (count deltas)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LeaderboardCount(AppScoped, Base):
    """Members per score, as deltas (+1 / -1) appended by writes and folded by the compact job: rank = 1 +
    sum(n) over scores above mine, with no counter row that concurrent writers would queue on."""

    __tablename__ = "loyalty_board_counts"
    __table_args__ = (
        Index("ix_loyalty_board_counts", "app_id", "board", "period", "score", postgresql_include=["n"]),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # no single-column app_id index: every query here uses the composite index led by app_id
    app_id: Mapped[str] = mapped_column(String(64), nullable=False)
    board: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(16))
    score: Mapped[int] = mapped_column(BigInteger)
    n: Mapped[int] = mapped_column(Integer)


class GrowthEntry(AppScoped, Base):
    """成长值: append-only, once per key (spend of an order, an active day, a successful invite, a task)."""

    __tablename__ = "loyalty_growth"
    __table_args__ = (
        UniqueConstraint("app_id", "entry_key", name="uq_loyalty_growth_key"),
        Index("ix_loyalty_growth_user", "app_id", "user_id", "created_at"),
    )

    # no single-column app_id index: every query here uses a composite index led by app_id
    app_id: Mapped[str] = mapped_column(String(64), nullable=False)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    entry_key: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(32))  # spend | active_day | invite | task | refund
    amount: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MemberTier(AppScoped, Base):
    __tablename__ = "loyalty_members"

    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tier: Mapped[str] = mapped_column(String(32))
    tier_since: Mapped[datetime] = mapped_column(UTCDateTime)
    qualified_at: Mapped[datetime] = mapped_column(UTCDateTime)  # last time growth met the tier's threshold
    # Set by an operator: the job never downgrades it before manual_until (None = until changed again).
    # a column default too: the growth statement (repository.py) inserts members by hand
    manual: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    manual_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MemberProfile(AppScoped, Base):
    """What a member tells about themselves for benefits: the birthday (month-day), set once by the member."""

    __tablename__ = "loyalty_profiles"

    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    birthday: Mapped[str | None] = mapped_column(String(5))  # MM-DD
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MallItem(AppScoped, Base):
    """积分商城 item: a coupon, goods or privilege bought with points."""

    __tablename__ = "loyalty_mall_items"

    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # coupon | goods | privilege
    points: Mapped[int] = mapped_column(BigInteger)
    stock: Mapped[int | None] = mapped_column(BigInteger)  # None = unlimited
    per_user_limit: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    ref: Mapped[str | None] = mapped_column(String(200))  # coupon: the template to issue; goods: catalog item
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # on sale from (None = at once)
    ends_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime
    )  # off sale at (exclusive; None = open-ended)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MallRedemption(AppScoped, Base):
    __tablename__ = "loyalty_mall_redemptions"
    __table_args__ = (
        UniqueConstraint("app_id", "business_key", name="uq_loyalty_mall_redemptions_key"),
        Index("ix_loyalty_mall_user_item", "app_id", "user_id", "item_id"),
    )

    # no single-column app_id index: every query here uses a composite index led by app_id
    app_id: Mapped[str] = mapped_column(String(64), nullable=False)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[str] = mapped_column(String(64))
    points: Mapped[int] = mapped_column(BigInteger)
    business_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MemberNote(AppScoped, Base):
    """An operator's change to one member outside the ledger (tier set, coupon issued, badge awarded), with the
    reason they gave: the member's history on the console (the audit trail keeps who and the request)."""

    __tablename__ = "loyalty_member_notes"
    __table_args__ = (Index("ix_loyalty_member_notes_user", "app_id", "user_id", "id"),)

    # no single-column app_id index: every query here uses the composite index led by app_id
    app_id: Mapped[str] = mapped_column(String(64), nullable=False)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # tier | coupon | badge
    ref: Mapped[str | None] = mapped_column(String(200))  # the tier code, coupon template, badge code
    detail: Mapped[str | None] = mapped_column(Text)  # JSON: from_tier, until, coupon_id, …
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
