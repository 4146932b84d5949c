"""Loyalty API shapes and the per-app rules document (every field documented in docs/loyalty.md)."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from typing import Literal, TypedDict

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from huoli.schema_types import INT32_MAX, MAX_FEN, MAX_POINTS, MAX_RATE, check_json_numbers

Code = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
MAX_DAYS = 36_600  # a span in days: a hundred years, far inside what date arithmetic can reach


class Reward(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["points", "coupon", "badge", "growth"]
    amount: int = Field(0, ge=0, le=MAX_POINTS, description="points or growth value")
    ref: str | None = Field(None, max_length=200, description="coupon template id or badge code")

    @model_validator(mode="after")
    def _complete(self) -> Reward:
        if self.type in ("points", "growth") and self.amount <= 0:
            raise ValueError(f"a {self.type} reward needs amount > 0")
        if self.type in ("coupon", "badge") and not self.ref:
            raise ValueError(f"a {self.type} reward needs ref")
        return self


class ActionRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: int = Field(ge=0, le=MAX_POINTS)
    daily_cap: int | None = Field(
        None, ge=0, le=MAX_POINTS, description="max points per local day from this action"
    )


class PointsRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points_per_yuan: int = Field(1, ge=0, le=MAX_RATE, description="earned per whole yuan (100 fen) paid")
    order_pending_days: int = Field(0, ge=0, le=365, description="order points usable after this many days")
    expiry: Literal["never", "days", "year_end"] = "days"
    expiry_days: int = Field(
        365,
        ge=1,
        le=3650,
        description="expiry=days: lots expire at 00:00 local of the day earn_date + expiry_days",
    )
    expiring_soon_days: int = Field(30, ge=1, le=365)
    fen_per_point: int = Field(
        10, ge=1, le=MAX_FEN, description="redemption rate: 1 point = 10 fen (0.1 yuan)"
    )
    max_order_ratio: float = Field(0.5, gt=0, le=1, description="points cover at most this share of an order")
    max_order_points: int | None = Field(None, ge=1, le=MAX_POINTS, description="absolute per-order cap")
    allow_negative: bool = Field(False, description="refund claw-back may push the balance below zero")
    restore_spent_on_refund: bool = Field(True, description="refunding an order returns the points it used")
    actions: dict[str, ActionRule] = Field(
        default_factory=lambda: {
            "checkin": ActionRule(points=5, daily_cap=None),
            "review": ActionRule(points=10, daily_cap=30),
            "task": ActionRule(points=0, daily_cap=None),
        }
    )

    @field_validator("actions")
    @classmethod
    def _no_share_action(cls, value: dict[str, ActionRule]) -> dict[str, ActionRule]:
        for name in value:
            if "share" in name:
                raise ValueError("sharing is never rewarded (platform rule): reward the invitee's action")
        return value


class Milestone(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: int = Field(ge=1, le=MAX_DAYS)
    reward: Reward


class CheckinRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reset: Literal["never", "weekly", "monthly"] = "never"
    streak_rewards: list[Milestone] = Field(
        default_factory=lambda: [
            Milestone(day=7, reward=Reward(type="coupon", ref="checkin_7")),
            Milestone(day=30, reward=Reward(type="badge", ref="checkin_30")),
        ]
    )
    total_rewards: list[Milestone] = Field(default_factory=list)
    makeup_cost: int = Field(20, ge=0, le=MAX_POINTS, description="points per make-up check-in (补签)")
    makeup_window_days: int = Field(7, ge=0, le=31)


class TierLevel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Code
    name: str = Field(max_length=50)
    min_growth: int = Field(ge=0, le=MAX_POINTS)
    discount_rate: float = Field(1.0, gt=0, le=1, description="price multiplier, 0.95 = 5% off")
    monthly_coupons: list[str] = Field(default_factory=list)
    birthday_gift: str | None = None
    shipping_coupons: int = Field(0, ge=0, le=100)
    exclusive_service: bool = False
    early_access: bool = False


class TierRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    growth_per_yuan: int = Field(1, ge=0, le=MAX_RATE)
    growth_per_active_day: int = Field(5, ge=0, le=MAX_POINTS)
    growth_per_invite: int = Field(50, ge=0, le=MAX_POINTS)
    window_days: int | None = Field(
        365, ge=1, le=MAX_DAYS, description="growth counted over this many days; None = all"
    )
    downgrade: Literal["never", "after_days", "periodic"] = "after_days"
    downgrade_after_days: int = Field(90, ge=1, le=MAX_DAYS)
    member_day: int | None = Field(8, ge=1, le=28, description="会员日: day of month, local time")
    member_day_multiplier: float = Field(
        1.0, ge=1, le=10, description="order points on the member day are multiplied by this (2 = double)"
    )
    member_day_note: str = Field("", max_length=200, description="what else the member day gives, as shown")
    levels: list[TierLevel] = Field(
        default_factory=lambda: [
            TierLevel(code="normal", name="普通", min_growth=0),
            TierLevel(code="silver", name="银卡", min_growth=1000, discount_rate=0.98, shipping_coupons=1),
            TierLevel(
                code="gold",
                name="金卡",
                min_growth=5000,
                discount_rate=0.95,
                shipping_coupons=2,
                monthly_coupons=["gold_monthly"],
                birthday_gift="birthday_gold",
            ),
            TierLevel(
                code="black",
                name="黑金",
                min_growth=20000,
                discount_rate=0.9,
                shipping_coupons=4,
                monthly_coupons=["black_monthly"],
                birthday_gift="birthday_black",
                exclusive_service=True,
                early_access=True,
            ),
        ]
    )

    @field_validator("levels")
    @classmethod
    def _ordered(cls, value: list[TierLevel]) -> list[TierLevel]:
        if not value or value[0].min_growth != 0:
            raise ValueError("the first level must start at min_growth 0")
        if any(b.min_growth <= a.min_growth for a, b in itertools.pairwise(value)):
            raise ValueError("levels must have strictly increasing min_growth")
        if len({lv.code for lv in value}) != len(value):
            raise ValueError("level codes must be unique")
        return value


class LeaderboardRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backend: Literal["sql", "redis"] = "sql"
    redis_url: str | None = Field(None, description="redis://host:port/db for backend=redis")
    key_prefix: str = Field("huoli:", max_length=100)


class LoyaltyRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: PointsRules = Field(default_factory=PointsRules)
    checkin: CheckinRules = Field(default_factory=CheckinRules)
    tiers: TierRules = Field(default_factory=TierRules)
    leaderboards: LeaderboardRules = Field(default_factory=LeaderboardRules)


# --- API shapes ---------------------------------------------------------------------------------------


class BalanceOut(BaseModel):
    user_id: str
    available: int
    pending: int
    debt: int
    expiring_soon: int
    expiring_soon_before: datetime


class TransferOut(BaseModel):
    id: int
    kind: str
    reason: str
    points: int
    business_key: str
    ref: str | None
    local_date: date
    created_at: datetime


class AdminTransferOut(TransferOut):
    # the operator's reason for a manual adjustment: shown to staff, not in the member's own history
    note: str | None = None


class LotOut(BaseModel):
    id: int
    points: int
    remaining: int
    available_at: datetime
    expires_at: datetime | None


class LedgerOut(BaseModel):
    # False when nothing is known of this user id: not a mini-program user, no loyalty history (a typo, a
    # phantom): the console says so instead of showing a zero balance to adjust.
    known: bool
    balance: BalanceOut
    transfers: list[AdminTransferOut]
    lots: list[LotOut]


class UserRef(BaseModel):
    """Server calls name the member by huoli user_id or by openid (mapped to the user id)."""

    model_config = ConfigDict(extra="forbid")

    user_id: str | None = Field(None, max_length=64)
    openid: str | None = Field(None, max_length=128)

    @model_validator(mode="after")
    def _one(self) -> UserRef:
        if (self.user_id is None) == (self.openid is None):
            raise ValueError("give exactly one of user_id, openid")
        return self


class OrderPaidIn(UserRef):
    order_id: str = Field(min_length=1, max_length=100)
    amount_fen: int = Field(ge=0, le=MAX_FEN)


class OrderRefundIn(UserRef):
    order_id: str = Field(min_length=1, max_length=100)
    refund_id: str = Field(min_length=1, max_length=100)
    amount_fen: int = Field(gt=0, le=MAX_FEN, description="refunded amount of this refund")


class OrderSpendIn(UserRef):
    order_id: str = Field(min_length=1, max_length=100)
    order_amount_fen: int = Field(gt=0, le=MAX_FEN)
    points: int = Field(gt=0, le=MAX_POINTS)


class ActionEarnIn(UserRef):
    action: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    key: str = Field(min_length=1, max_length=150, description="idempotency key of this action")


class AdjustIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: int = Field(
        ge=-MAX_POINTS, le=MAX_POINTS, description="positive grants, negative deducts (never below zero)"
    )
    key: str = Field(min_length=1, max_length=150)
    note: str | None = Field(None, max_length=500)
    expires_at: datetime | None = None


class EarnOut(BaseModel):
    points: int
    business_key: str
    applied: bool = Field(description="false when the key was already used (a retry)")
    available_at: datetime | None = None
    expires_at: datetime | None = None


class SpendOut(BaseModel):
    points: int
    discount_fen: int
    business_key: str
    applied: bool


class ReverseOut(BaseModel):
    clawed_back: int
    restored: int
    unrecovered: int
    applied: bool


class QuoteOut(BaseModel):
    order_amount_fen: int
    max_points: int
    discount_fen: int
    fen_per_point: int


class CheckinOut(BaseModel):
    local_date: date
    checked_in: bool = Field(description="false when today's check-in already existed")
    streak: int
    total_days: int
    points: int
    rewards: list[Reward]


class MakeupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    local_date: date


class CalendarDay(BaseModel):
    local_date: date
    makeup: bool
    streak: int


class CalendarOut(BaseModel):
    month: str
    today: date
    checked_in_today: bool
    streak: int
    total_days: int
    days: list[CalendarDay]
    makeup_cost: int
    makeup_window_days: int
    reset: str


class BadgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Code
    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=1000)
    icon: str | None = Field(None, max_length=500)


class BadgeOut(BaseModel):
    code: str
    name: str
    description: str
    icon: str | None
    owned: bool = False
    awarded_at: datetime | None = None


class AwardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(min_length=1, max_length=64)
    badge: str = Code
    key: str = Field(min_length=1, max_length=150)
    reason: str | None = Field(None, max_length=500, description="kept in the member's history")


class TaskIn(BaseModel):
    """A task counts `target` units of `event` per period (once = lifetime, daily = per local day)."""

    model_config = ConfigDict(extra="forbid")

    code: str = Code
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["newcomer", "daily", "achievement", "streak"] = "achievement"
    event: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    target: int = Field(1, ge=1, le=100_000)
    distinct_by: str | None = Field(
        None, pattern=r"^[a-z][a-z0-9_]{0,63}$", description="count distinct values"
    )
    where: dict[str, str | int | bool] = Field(default_factory=dict, description="property equality filter")
    credit: Literal["actor", "inviter"] = Field("actor", description="inviter: credit properties.inviter_id")
    limit: int = Field(1, ge=1, le=10_000, description="completions per user per period")
    rewards: list[Reward] = Field(default_factory=list)
    starts_at: AwareDatetime | None = Field(None, description="counts events from (None = at once)")
    ends_at: AwareDatetime | None = Field(
        None, description="counts events until (exclusive; None = open-ended)"
    )

    @field_validator("ends_at")
    @classmethod
    def _after_start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        return _window(info.data.get("starts_at"), value)

    @field_validator("where")
    @classmethod
    def _where_values(cls, value: dict[str, str | int | bool]) -> dict[str, str | int | bool]:
        return check_json_numbers(value)

    @field_validator("event")
    @classmethod
    def _never_share(cls, value: str) -> str:
        if value == "share":
            raise ValueError(
                "sharing is never rewarded (WeChat platform rule): count the invitee's action instead"
            )
        return value

    @model_validator(mode="after")
    def _period(self) -> TaskIn:
        if self.kind == "streak" and self.event != "checkin":
            raise ValueError("streak tasks count check-in streak days: event must be 'checkin'")
        if self.credit == "inviter" and self.event in ("share_open",):
            raise ValueError("an invite counts when the invitee acts (registers, orders), not on opening")
        return self


class TaskOut(BaseModel):
    code: str
    name: str
    kind: str
    target: int
    progress: int
    completed: bool
    completions: int
    rewards: list[Reward]


class BoardEntry(BaseModel):
    rank: int
    user_id: str
    score: int


class BoardOut(BaseModel):
    board: str
    period: str
    top: list[BoardEntry]
    me: BoardEntry | None


class ScoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(max_length=64)
    board: str = Code
    value: int = Field(ge=-MAX_POINTS, le=MAX_POINTS)
    mode: Literal["add", "max"] = "add"


class TierOut(BaseModel):
    tier: str
    name: str
    growth: int
    next_tier: str | None
    next_min_growth: int | None
    tier_since: datetime | None
    benefits: TierLevel
    member_day: int | None
    is_member_day: bool
    member_day_multiplier: float = 1.0
    manual_until: datetime | None = None
    manual: bool = False


class MallItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Code
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["coupon", "goods", "privilege"]
    points: int = Field(gt=0, le=MAX_POINTS)
    stock: int | None = Field(None, ge=0, le=INT32_MAX)
    per_user_limit: int | None = Field(None, ge=1, le=INT32_MAX)
    active: bool = True
    ref: str | None = Field(
        None, max_length=200, description="coupon: the coupon template issued; goods: the catalog item given"
    )
    starts_at: AwareDatetime | None = Field(None, description="redeemable from (None = at once)")
    ends_at: AwareDatetime | None = Field(None, description="redeemable until (exclusive; None = open-ended)")

    @field_validator("ends_at")
    @classmethod
    def _after_start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        return _window(info.data.get("starts_at"), value)


class MallItemOut(MallItemIn):
    pass


ActivityState = Literal["scheduled", "running", "paused", "ended"]


class MallItemAdminOut(MallItemOut):
    """An item with its live figures, for operators."""

    state: ActivityState
    catalog_unavailable: bool = Field(
        False, description="goods whose catalog item is off the shelf or sold out"
    )
    redemptions: int
    redeemers: int
    points_spent: int
    created_at: datetime


class TaskAdminOut(TaskIn):
    """A task with its live figures: members part-way in the current period, members who completed it at least
    once, rewards granted."""

    paused: bool
    state: ActivityState
    in_progress: int
    completed_users: int
    rewards_granted: int


class BadgeAdminOut(BadgeOut):
    holders: int


class BadgeHolderOut(BaseModel):
    user_id: str
    source: str
    awarded_at: datetime


class TierCount(BaseModel):
    code: str
    name: str
    min_growth: int
    members: int
    manual: int = Field(description="of them, on a tier an operator set")


class TiersSummaryOut(BaseModel):
    levels: list[TierCount]
    member_day: int | None
    member_day_multiplier: float
    is_member_day: bool
    next_member_days: list[date]


class CheckinDay(BaseModel):
    local_date: date
    checkins: int
    makeups: int


class StreakBucket(BaseModel):
    min_days: int
    max_days: int | None
    members: int


class RewardCount(BaseModel):
    source: str
    reward_type: str
    ref: str | None
    amount: int
    grants: int


class CheckinSummaryOut(BaseModel):
    today: date
    checked_in_today: int
    days: list[CheckinDay] = Field(description="the last 7 local days, oldest first")
    streaks: list[StreakBucket] = Field(description="members whose current run is still alive, by length")
    rewards: list[RewardCount] = Field(description="check-in milestone rewards granted in the last 7 days")


class TierSetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tier: str = Code
    reason: str = Field(min_length=1, max_length=500)
    expires_at: AwareDatetime | None = Field(None, description="back to the tier growth supports after this")

    @field_validator("reason")
    @classmethod
    def _said(cls, value: str) -> str:
        return _reason(value)


class MemberCouponIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=500)
    key: str = Field(min_length=1, max_length=150, description="idempotency key: one coupon per key")

    @field_validator("reason")
    @classmethod
    def _said(cls, value: str) -> str:
        return _reason(value)


class MemberCouponOut(BaseModel):
    coupon_id: str
    issued: bool = Field(description="false when this key already issued it (a retry)")


class MemberNoteOut(BaseModel):
    id: int
    kind: str
    ref: str | None
    detail: dict[str, object]
    reason: str
    actor: str | None
    created_at: datetime


class ScheduledActivity(TypedDict):
    """One loyalty activity on the marketing calendar (contract C4)."""

    kind: Literal["member-day", "points-mall", "task", "checkin"]
    id: str
    name: str
    state: str
    starts_at: datetime | None
    ends_at: datetime | None
    item_ids: list[str]


def _window(starts_at: datetime | None, ends_at: datetime | None) -> datetime | None:
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise ValueError("the end must be after the start")
    return ends_at


def _reason(value: str) -> str:
    if not value.strip():
        raise ValueError("give a reason")
    return value.strip()


class RedeemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=150, description="idempotency key (one per tap)")


class ProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    birthday: str = Field(description="month-day, MM-DD (no year: only the gift's day is needed)")

    @field_validator("birthday")
    @classmethod
    def _month_day(cls, value: str) -> str:
        try:
            date.fromisoformat(f"2000-{value}")  # a leap year: 02-29 is a real birthday
        except ValueError:
            raise ValueError("expected MM-DD, a real day of the year (e.g. 08-15)") from None
        if len(value) != 5:
            raise ValueError("expected MM-DD, a real day of the year (e.g. 08-15)")
        return value


class ProfileOut(BaseModel):
    user_id: str
    birthday: str | None
    birthday_locked: bool = Field(description="set once by the member; an operator can correct it")


class RedeemOut(BaseModel):
    redemption_id: int
    item_id: str
    points: int
    applied: bool
    coupon_id: str | None = Field(None, description="the coupon issued, for a coupon item")
