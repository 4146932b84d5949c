"""API shapes for promotions. Money is integer fen; instants carry an offset."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)

from huoli.schema_types import INT32_MAX

if TYPE_CHECKING:
    from huoli.promotions.models import Bargain

Id = Field(pattern=r"^[A-Za-z0-9_\-]{1,64}$")
# Promotions keep money and counts in INTEGER columns: every integer a request carries fits one.
FEN_MAX = INT32_MAX  # ¥21,474,836.47


def _after_start(value: datetime | None, info: ValidationInfo) -> datetime | None:
    """An activity window's end: after its start (a field error, so the console shows it at the field)."""
    start = info.data.get("starts_at")
    if value is not None and start is not None and value <= start:
        raise ValueError("ends_at must be after starts_at")
    return value


class CouponTemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Id
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["fixed", "threshold", "percent"]
    amount_fen: int = Field(0, ge=0, le=FEN_MAX)
    threshold_fen: int = Field(0, ge=0, le=FEN_MAX, validate_default=True)
    percent_off: int = Field(0, ge=0, le=99)
    max_discount_fen: int | None = Field(None, ge=1, le=FEN_MAX)
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    valid_days: int | None = Field(None, ge=1, le=3650)
    total_limit: int | None = Field(None, ge=1, le=INT32_MAX)
    per_user_limit: int = Field(1, ge=1, le=100)
    scope: Literal["all", "category", "items"] = "all"
    scope_ids: list[str] = Field(default_factory=list, max_length=1000)
    stackable: bool = False
    claim_trigger: str = "user_claim"  # user_claim | targeted | new_user | reward; checked by compliance
    show_rules: bool = True
    rules_text: str | None = Field(None, max_length=2000)

    @field_validator("threshold_fen")
    @classmethod
    def _threshold(cls, value: int, info: ValidationInfo) -> int:
        # a field validator (not the model one) so the console shows the message next to the field
        if info.data.get("kind") == "threshold" and value <= info.data.get("amount_fen", 0):
            raise ValueError("must exceed amount_fen (满X减Y needs X > Y)")
        return value

    @model_validator(mode="after")
    def _shape(self) -> CouponTemplateIn:
        if self.kind in ("fixed", "threshold") and self.amount_fen <= 0:
            raise ValueError("amount_fen must be > 0 for fixed and threshold coupons")
        if self.kind == "percent" and not 1 <= self.percent_off <= 99:
            raise ValueError("percent_off must be 1..99 for percent coupons")
        window = self.valid_from is not None and self.valid_until is not None
        if window == (self.valid_days is not None):
            raise ValueError("give either valid_from + valid_until or valid_days")
        if window and self.valid_from >= self.valid_until:  # type: ignore[operator]
            raise ValueError("valid_from must be before valid_until")
        if self.scope != "all" and not self.scope_ids:
            raise ValueError("scope_ids required for category/items scope")
        return self


class CouponTemplateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    kind: str
    amount_fen: int
    threshold_fen: int
    percent_off: int
    max_discount_fen: int | None
    valid_from: datetime | None
    valid_until: datetime | None
    valid_days: int | None
    total_limit: int | None
    per_user_limit: int
    issued_count: int
    scope: str
    stackable: bool
    claim_trigger: str
    active: bool
    rules_text: str


class CouponOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    template_id: str
    user_id: str
    status: str
    source: str
    valid_from: datetime
    valid_until: datetime
    order_id: str | None
    discount_fen: int | None
    claimed_at: datetime


class GiftPackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Id
    name: str = Field(min_length=1, max_length=200)
    template_ids: list[str] = Field(min_length=1, max_length=20)
    new_user_days: int = Field(7, ge=1, le=90)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None

    @field_validator("ends_at")
    @classmethod
    def _ends_after_start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        return _after_start(value, info)


class CartLine(BaseModel):
    item_id: str = Field(min_length=1, max_length=128)
    category_id: str | None = Field(None, max_length=128)
    price_fen: int = Field(ge=0, le=FEN_MAX)
    quantity: int = Field(1, ge=1, le=10_000)


class ClaimIn(BaseModel):
    template_id: str
    request_id: str = Field(min_length=1, max_length=100, description="Idempotency key of this claim")


class CheckoutIn(BaseModel):
    order_id: str = Field(min_length=1, max_length=128)
    coupon_ids: list[str] = Field(max_length=10)
    cart: list[CartLine] = Field(min_length=1, max_length=500)

    @field_validator("cart")
    @classmethod
    def _total_fits(cls, value: list[CartLine]) -> list[CartLine]:
        # a discount is a share of the total and is stored in fen like every amount here
        if sum(line.price_fen * line.quantity for line in value) > FEN_MAX:
            raise ValueError(f"the cart totals more than {FEN_MAX} fen, the largest order promotions handle")
        return value


# The checkout's answer in fen (coupons.quote), before it becomes QuoteOut.
@dataclass(frozen=True)
class Quote:
    subtotal_fen: int
    discounts: dict[str, int]  # coupon id → fen

    @property
    def discount_fen(self) -> int:
        return sum(self.discounts.values())

    @property
    def payable_fen(self) -> int:
        return self.subtotal_fen - self.discount_fen


class QuoteOut(BaseModel):
    subtotal_fen: int
    discount_fen: int
    payable_fen: int
    discounts: dict[str, int]

    @classmethod
    def of(cls, q: Quote) -> QuoteOut:
        return cls(
            subtotal_fen=q.subtotal_fen,
            discount_fen=q.discount_fen,
            payable_fen=q.payable_fen,
            discounts=q.discounts,
        )


class IssueIn(BaseModel):
    template_id: str
    user_ids: list[str] = Field(min_length=1, max_length=10_000)
    batch_key: str = Field(min_length=1, max_length=100)


# -- flash sales --------------------------------------------------------------------------------------


class FlashSessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Id
    name: str = Field(min_length=1, max_length=200)
    starts_at: AwareDatetime
    ends_at: AwareDatetime

    @model_validator(mode="after")
    def _order(self) -> FlashSessionIn:
        if self.starts_at >= self.ends_at:
            raise ValueError("starts_at must be before ends_at")
        return self


class DailySessionsIn(BaseModel):
    """Sessions at the same local time every day (e.g. 每天 10:00 秒杀), in the app's timezone."""

    prefix: str = Field(pattern=r"^[A-Za-z0-9_\-]{1,40}$")
    first_day: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    days: int = Field(ge=1, le=366)
    local_time: time = time(10, 0)
    duration_minutes: int = Field(60, ge=1, le=24 * 60)

    @field_validator("first_day")
    @classmethod
    def _real_day(cls, value: str) -> str:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise ValueError("expected YYYY-MM-DD, a real day (e.g. 2026-11-22)") from None
        # sessions run up to a year on, in any timezone: keeps both ends far inside datetime's range
        if not 2000 <= day.year <= 2999:
            raise ValueError("expected a day in the years 2000-2999")
        return value


class FlashItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Id
    session_id: str
    item_id: str = Field(min_length=1, max_length=128)
    price_fen: int = Field(ge=0, le=FEN_MAX)
    original_price_fen: int = Field(ge=0, le=FEN_MAX)
    stock: int = Field(ge=0, le=10_000_000)
    per_user_limit: int = Field(1, ge=1, le=100)
    pay_window_s: int = Field(900, ge=30, le=86400)


class AttemptIn(BaseModel):
    quantity: int = Field(1, ge=1, le=100)


class ReservationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    flash_item_id: str
    user_id: str
    quantity: int
    status: str
    reserved_at: datetime
    pay_by: datetime
    order_id: str | None


# -- group buying --------------------------------------------------------------------------------------


class GroupCampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Id
    name: str = Field(min_length=1, max_length=200)
    item_id: str = Field(min_length=1, max_length=128)
    original_price_fen: int = Field(ge=1, le=FEN_MAX)
    group_price_fen: int = Field(ge=1, le=FEN_MAX)
    leader_price_fen: int | None = Field(None, ge=0, le=FEN_MAX)
    size: int = Field(ge=2, le=100)
    duration_s: int = Field(86400, ge=60, le=7 * 86400)
    fill_policy: Literal["none", "fill"] = "none"
    fill_min_real: int = Field(0, ge=0, le=100)
    show_rules: bool = True
    rules_text: str | None = Field(None, max_length=2000)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None

    @field_validator("ends_at")
    @classmethod
    def _ends_after_start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        return _after_start(value, info)

    @model_validator(mode="after")
    def _prices(self) -> GroupCampaignIn:
        if self.group_price_fen > self.original_price_fen:
            raise ValueError("group_price_fen must not exceed original_price_fen")
        if self.leader_price_fen is not None and self.leader_price_fen > self.group_price_fen:
            raise ValueError("leader_price_fen must not exceed group_price_fen")
        if self.fill_policy == "fill" and not 1 <= self.fill_min_real < self.size:
            raise ValueError("fill needs 1 <= fill_min_real < size")
        return self


class GroupJoinIn(BaseModel):
    """Signed call from the merchant backend after WeChat Pay confirmed the member's payment."""

    campaign_id: str
    group_id: str | None = Field(None, description="None opens a new group with this user as leader")
    user_id: str | None = None
    openid: str | None = None
    out_trade_no: str = Field(min_length=6, max_length=32)
    paid_fen: int = Field(ge=1, le=FEN_MAX)


# -- bargains -----------------------------------------------------------------------------------------


class BargainCampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Id
    name: str = Field(min_length=1, max_length=200)
    item_id: str = Field(min_length=1, max_length=128)
    price_fen: int = Field(ge=1, le=FEN_MAX)
    floor_fen: int = Field(ge=0, le=FEN_MAX)
    helpers_needed: int = Field(ge=1, le=100)
    duration_s: int = Field(86400, ge=60, le=7 * 86400)
    random_cuts: bool = False  # refused by compliance: outcomes must be stated up front
    show_rules: bool = True
    rules_text: str | None = Field(None, max_length=2000)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None

    @field_validator("ends_at")
    @classmethod
    def _ends_after_start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        return _after_start(value, info)

    @model_validator(mode="after")
    def _floor(self) -> BargainCampaignIn:
        if self.floor_fen >= self.price_fen:
            raise ValueError("floor_fen must be below price_fen")
        if self.price_fen - self.floor_fen < self.helpers_needed:
            raise ValueError("price_fen - floor_fen must be at least helpers_needed fen (each cut ≥ 1 fen)")
        return self


# -- referrals and distribution ------------------------------------------------------------------------


class ReferralProgramIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Id
    name: str = Field(min_length=1, max_length=200)
    qualifying_action: str = "first_order"  # first_order | registration; 'share'/'open' refused
    referrer_template_id: str
    invitee_template_id: str
    max_rewards_per_referrer: int = Field(20, ge=1, le=10_000)
    new_user_window_s: int = Field(86400, ge=60, le=INT32_MAX)
    show_rules: bool = True
    rules_text: str | None = Field(None, max_length=2000)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None

    @field_validator("ends_at")
    @classmethod
    def _ends_after_start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        return _after_start(value, info)


class DistributionConfigIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    levels: int = Field(1, ge=1, le=INT32_MAX)  # > 2 refused by compliance
    level1_bp: int = Field(ge=1, le=5000)
    level2_bp: int = Field(0, ge=0, le=5000)
    binding_mode: Literal["permanent", "window", "latest"] = "permanent"
    binding_days: int = Field(30, ge=1, le=3650)
    freeze_days: int = Field(7, ge=0, le=90)
    min_withdraw_fen: int = Field(100, ge=1, le=FEN_MAX)
    commission_on: str = "paid_order"  # anything else (e.g. 'share', 'signup') refused by compliance
    show_rules: bool = True
    rules_text: str | None = Field(None, max_length=2000)


class WithdrawIn(BaseModel):
    amount_fen: int = Field(ge=1, le=FEN_MAX)
    request_id: str = Field(min_length=1, max_length=100)


class OrderPaidIn(BaseModel):
    """Signed call: an order was paid (the hub for coupons, flash reservations, referrals, commissions)."""

    order_id: str = Field(min_length=1, max_length=128)
    user_id: str | None = None
    openid: str | None = None
    paid_fen: int = Field(ge=0, le=FEN_MAX)
    coupon_ids: list[str] = Field(default_factory=list, max_length=10)
    flash_reservation_id: str | None = None


class OrderRefundedIn(BaseModel):
    order_id: str = Field(min_length=1, max_length=128)
    user_id: str | None = None
    openid: str | None = None


class OrderCancelledIn(BaseModel):
    order_id: str = Field(min_length=1, max_length=128)
    flash_reservation_id: str | None = None


class ComplianceIn(BaseModel):
    kind: Literal["coupon", "group", "bargain", "referral", "distribution"]
    config: dict[str, object]


# -- answers (every route documents its shape) ----------------------------------------------------------

# These answers were plain dicts, serialised with isoformat (+00:00, not pydantic's Z): clients keep that.
Instant = Annotated[datetime, PlainSerializer(lambda d: d.isoformat(), return_type=str, when_used="json")]


class FlashItemView(BaseModel):
    id: str
    item_id: str
    price_fen: int
    original_price_fen: int
    stock: int
    total_stock: int
    per_user_limit: int
    available: bool = (
        True  # false while the shop's item is off sale or out of stock (attempts: item_unavailable)
    )


class FlashSessionView(BaseModel):
    id: str
    name: str
    starts_at: Instant
    ends_at: Instant
    items: list[FlashItemView]


class GroupCampaignView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    item_id: str
    size: int
    group_price_fen: int
    leader_price_fen: int
    original_price_fen: int
    duration_s: int
    rules_text: str


class GroupOut(BaseModel):
    id: str
    campaign_id: str
    status: str
    size: int
    member_count: int
    missing: int
    deadline: Instant


class BargainOut(BaseModel):
    id: str
    campaign_id: str
    owner_id: str
    status: str
    price_fen: int
    floor_fen: int
    current_price_fen: int
    helpers_needed: int
    helped: int
    helpers_missing: int
    cuts_fen: list[int]
    expires_at: Instant
    rules_text: str

    @classmethod
    def of(cls, b: Bargain, rules_text: str) -> BargainOut:
        return cls(
            id=b.id,
            campaign_id=b.campaign_id,
            owner_id=b.user_id,
            status=b.status,
            price_fen=b.price_fen,
            floor_fen=b.floor_fen,
            current_price_fen=b.current_price_fen,
            helpers_needed=b.helpers_needed,
            helped=b.helped_count,
            helpers_missing=b.helpers_needed - b.helped_count,
            cuts_fen=json.loads(b.cuts),
            expires_at=b.expires_at,
            rules_text=rules_text,
        )


class BargainHelpOut(BaseModel):
    seq: int
    cut_fen: int
    bargain: BargainOut


class InviteCodeOut(BaseModel):
    code: str
    share_campaign: str
    rewarded: int
    rules_text: str


class ReferralBindOut(BaseModel):
    referrer_user_id: str
    program_id: str
    rewarded: bool


class DistributorOut(BaseModel):
    user_id: str
    parent_user_id: str | None


class DistributorBindOut(BaseModel):
    distributor_user_id: str | None


class DistributionBalanceOut(BaseModel):
    frozen_fen: int
    available_fen: int
    withdrawn_fen: int
    rules_text: str


class WithdrawalOut(BaseModel):
    id: str
    amount_fen: int
    status: str


class RulesTextOut(BaseModel):
    rules_text: str


class CommissionShare(BaseModel):
    level: int
    distributor_user_id: str
    amount_fen: int


class OrderPaidOut(BaseModel):
    """The deprecated /v1/server/promotions/orders/paid answer (promotions' part of an order only)."""

    referral_pending: bool
    redeemed_coupons: list[str]
    flash_reservation: str | None
    referrals_rewarded: int
    commissions: list[CommissionShare]


class OrderRefundedOut(BaseModel):
    coupons_returned: int
    commissions_reversed: int


class OrderCancelledOut(BaseModel):
    coupons_released: int
    flash_units_returned: int


class GroupJoinOut(BaseModel):
    member_id: str
    status: str
    group_id: str | None
    group_status: str | None
    member_count: int | None


class IssueOut(BaseModel):
    issued: int
    already: int
    failed: list[dict[str, str]]


class IdOut(BaseModel):
    id: str


class IdRulesOut(BaseModel):
    id: str
    rules_text: str


class CreatedOut(BaseModel):
    created: list[str]


class FlashItemStatusOut(BaseModel):
    id: str
    stock: int
    total_stock: int
    reservations: dict[str, int]


class BargainCampaignOut(BaseModel):
    id: str
    rules_text: str
    cuts_fen: list[int]


class ComplianceOut(BaseModel):
    ok: bool
    violations: list[dict[str, str]]
    rules_text: str | None


class OverviewOut(BaseModel):
    """Participation per mechanic: rows per status."""

    coupons: dict[str, int]
    flash_reservations: dict[str, int]
    groups: dict[str, int]
    group_members: dict[str, int]
    refunds: dict[str, int]
    bargains: dict[str, int]
    referrals: dict[str, int]
    commissions: dict[str, int]


class JobsRunOut(BaseModel):
    coupons: dict[str, int]
    flash_expired: int
    groups: dict[str, int]
    bargains_expired: int
    commissions_credited: int


# -- admin lists: what is configured, with live participation figures ------------------------------------

ActivityState = Literal["scheduled", "running", "paused", "ended"]
ActivityKind = Literal[
    "coupon-templates",
    "gift-packs",
    "flash-sessions",
    "group-campaigns",
    "bargain-campaigns",
    "referral-programs",
]


class FiguresOut(BaseModel):
    """An activity's live figures (docs/promotions.md "Figures" says what each means per mechanic)."""

    participants: int
    orders: int
    gmv_fen: int
    discount_fen: int
    refunds: int
    new_users_shared: int
    stock_left: int | None = Field(description="null when the activity is not stock-based")


class LifecycleOut(BaseModel):
    """What every activity's list row carries (C1)."""

    state: ActivityState
    starts_at: datetime | None
    ends_at: datetime | None
    ended_at: datetime | None = None
    halted_reason: str | None = None
    item_ids: list[str] = Field(default_factory=list, description="catalog items the activity is about")
    item_titles: dict[str, str] = Field(default_factory=dict, description="catalog titles, when known")
    figures: FiguresOut


class ActivityOut(BaseModel):
    kind: ActivityKind
    id: str
    name: str
    state: ActivityState
    starts_at: datetime | None
    ends_at: datetime | None
    halted_reason: str | None = None
    item_ids: list[str]
    figures: FiguresOut


class FunnelOut(BaseModel):
    participants: int
    converted: int = Field(description="participants with at least one order")
    orders: int
    gmv_fen: int


class CostOut(BaseModel):
    discount_fen: int
    commission_fen: int
    points: int


class SharingOut(BaseModel):
    sharers: int
    share_opens: int
    new_users: int
    k_factor: float = Field(description="new users through sharing / participants")


class PreviousOut(BaseModel):
    """The same counts over the equal-length period just before the activity, mechanic-wide."""

    start: datetime
    end: datetime
    funnel: FunnelOut
    sharing: SharingOut


class DayOut(BaseModel):
    day: date
    participants: int
    orders: int
    gmv_fen: int


class ActivityResultsOut(BaseModel):
    kind: ActivityKind
    id: str
    name: str
    state: ActivityState
    starts_at: datetime | None
    ends_at: datetime | None
    period_start: datetime
    period_end: datetime
    funnel: FunnelOut
    cost: CostOut
    sharing: SharingOut
    previous: PreviousOut
    daily: list[DayOut]


class CouponTemplateAdminOut(LifecycleOut, CouponTemplateOut):
    scope_ids: list[str] = Field(default_factory=list)

    @field_validator("scope_ids", mode="before")
    @classmethod
    def _ids(cls, value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value


class FlashItemAdminOut(BaseModel):
    id: str
    item_id: str
    price_fen: int
    original_price_fen: int
    total_stock: int
    stock: int = Field(description="units left to sell")
    sold: int = Field(description="units paid for")
    reserved: int = Field(description="units reserved and awaiting payment (back to stock if unpaid)")
    per_user_limit: int
    pay_window_s: int
    reservations: dict[str, int] = Field(description="attempts per status: reserved, paid, expired, …")
    halted_reason: str | None = Field(None, description="item_unavailable: the catalog item is off sale")


class FlashSessionAdminOut(LifecycleOut):
    id: str
    name: str
    items: list[FlashItemAdminOut]


class GroupCampaignAdminOut(LifecycleOut):
    id: str
    name: str
    item_id: str
    original_price_fen: int
    group_price_fen: int
    leader_price_fen: int
    size: int
    duration_s: int
    fill_policy: str
    fill_min_real: int
    active: bool
    rules_text: str
    created_at: datetime
    groups: dict[str, int] = Field(description="groups per status: open (forming), succeeded, failed")
    members: int = Field(description="paid members who joined (late payments refused are not counted)")


class BargainCampaignAdminOut(LifecycleOut):
    id: str
    name: str
    item_id: str
    price_fen: int
    floor_fen: int
    helpers_needed: int
    duration_s: int
    active: bool
    rules_text: str
    created_at: datetime
    bargains: dict[str, int] = Field(
        description="bargains per status: active (in progress), completed, expired"
    )
    helps: int


class ReferralProgramAdminOut(LifecycleOut):
    id: str
    name: str
    qualifying_action: str
    referrer_template_id: str
    invitee_template_id: str
    max_rewards_per_referrer: int
    new_user_window_s: int
    active: bool
    rules_text: str
    created_at: datetime
    invite_codes: int
    bindings: dict[str, int] = Field(description="invitees per status: bound, rewarded, blocked")


class GiftPackAdminOut(LifecycleOut):
    id: str
    name: str
    template_ids: list[str]
    new_user_days: int
    active: bool
    created_at: datetime
    recipients: int = Field(description="users granted the pack")


class DistributionSettingsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    levels: int
    level1_bp: int
    level2_bp: int
    binding_mode: str
    binding_days: int
    freeze_days: int
    min_withdraw_fen: int
    rules_text: str
    updated_at: datetime


class CommissionTotalOut(BaseModel):
    count: int
    amount_fen: int


class DistributorAdminOut(BaseModel):
    user_id: str
    level: int = Field(description="1: recruited no one above them; 2: joined through a level-1 distributor")
    parent_user_id: str | None
    joined_at: datetime
    customers: int = Field(description="customers bound to this distributor now")
    frozen_fen: int = Field(description="commissions frozen (within the return window)")
    credited_fen: int = Field(description="commissions credited (withdrawable or withdrawn)")
    withdrawn_fen: int


class CommissionAdminOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    order_id: str
    level: int
    distributor_user_id: str
    buyer_user_id: str
    order_fen: int
    amount_fen: int
    status: str
    created_at: datetime
    credit_at: datetime
    closed_at: datetime | None


class ReferrerAdminOut(BaseModel):
    user_id: str
    code: str
    rewarded: int = Field(description="referrer rewards granted (capped at max_rewards_per_referrer)")
    invitees: dict[str, int] = Field(description="invitees per status: bound, rewarded, blocked")
    created_at: datetime


class DistributionAdminOut(BaseModel):
    """The app's distribution settings (null until set) and what they have paid out so far."""

    state: Literal["running", "paused"] | None = Field(None, description="null until configured")
    config: DistributionSettingsOut | None
    distributors: int
    commissions: dict[str, CommissionTotalOut] = Field(description="per status: frozen, credited, reversed")
