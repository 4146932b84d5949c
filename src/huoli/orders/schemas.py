"""API shapes of the orders calls. Amounts are integer fen bounded by promotions' INTEGER columns (INT32_MAX),
since one call settles coupons and commissions too."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from huoli.schema_types import INT32_MAX

FEN_MAX = INT32_MAX  # ¥21,474,836.47: promotions stores order amounts in INTEGER columns
QTY_MAX = 100_000


class UserRefIn(BaseModel):
    """The buyer, by huoli user_id or by openid (mapped to the user id as login does)."""

    model_config = ConfigDict(extra="forbid")

    user_id: str | None = Field(None, min_length=1, max_length=64)
    openid: str | None = Field(None, min_length=1, max_length=128)


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=64)
    qty: int = Field(ge=1, le=QTY_MAX)
    price_fen: int = Field(ge=0, le=FEN_MAX, description="unit price paid")


class GroupBuyIn(BaseModel):
    """This order is a paid group-buy join (拼团): no group_id opens a group with the buyer as leader."""

    model_config = ConfigDict(extra="forbid")

    campaign_id: str = Field(min_length=1, max_length=64)
    group_id: str | None = Field(None, min_length=1, max_length=64)
    out_trade_no: str | None = Field(
        None, min_length=1, max_length=64, description="WeChat Pay trade number refunds use; default order_id"
    )


class OrderPaidIn(UserRefIn):
    order_id: str = Field(min_length=1, max_length=100)
    paid_fen: int = Field(ge=0, le=FEN_MAX, description="amount paid, integer fen")
    paid_at: AwareDatetime | None = Field(None, description="payment time with offset; default now")
    coupon_ids: list[str] = Field(default_factory=list, max_length=10)
    flash_reservation_id: str | None = Field(None, min_length=1, max_length=64)
    group_buy: GroupBuyIn | None = None
    items: list[ItemIn] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _one_user(self) -> OrderPaidIn:
        if (self.user_id is None) == (self.openid is None):
            raise ValueError("give exactly one of user_id, openid")
        return self


class OrderRefundedIn(UserRefIn):
    order_id: str = Field(min_length=1, max_length=100)
    refund_id: str = Field(min_length=1, max_length=100)
    amount_fen: int = Field(gt=0, le=FEN_MAX, description="amount of this refund, integer fen")


class OrderCancelledIn(UserRefIn):
    order_id: str = Field(min_length=1, max_length=100)
    flash_reservation_id: str | None = Field(None, min_length=1, max_length=64)


class OrderPaidOut(BaseModel):
    order_id: str
    user_id: str
    status: str
    paid_fen: int
    paid_at: datetime
    loyalty: dict[str, Any] = Field(description="points earned (EarnOut): points, applied, available_at, …")
    promotions: dict[str, Any] = Field(
        description="redeemed_coupons, flash_reservation, referrals_rewarded, referral_pending, commissions, "
        "group_buy"
    )
    event_id: str


class OrderRefundedOut(BaseModel):
    order_id: str
    refund_id: str
    amount_fen: int
    refunded_fen: int = Field(description="refunded so far, this refund included")
    status: str
    loyalty: dict[str, Any] = Field(description="clawed_back, restored, unrecovered")
    promotions: dict[str, Any] = Field(
        description="coupons_returned, commissions_reduced, commissions_reversed"
    )
    event_id: str


class OrderCancelledOut(BaseModel):
    order_id: str
    status: str
    promotions: dict[str, Any] = Field(description="coupons_released, flash_units_returned")
    event_id: str
