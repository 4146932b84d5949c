"""Privacy hook of the promotions domain.

Erasure deletes what is only about taking part — unused coupons, bargains the user started (with the helps on
them), invite codes, the user's own referral and distribution bindings, velocity counters — and anonymises what
records money: coupons applied to an order, flash-sale reservations (they also carry the stock), paid group-buy
joins and the groups they led, paid orders, distributor accounts, commissions and withdrawals, and the user's
place in other people's records (a help on someone else's bargain, the referrer of an invitee, the parent of a
distributor, the distributor of a customer). Anonymised rows keep their amounts and order ids for the
merchant's accounting (会计 records must be kept), with the user's id replaced by one random token per
erasure, so the rows still add up per distributor but lead back to nobody in huoli.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from huoli.privacy.hooks import ANONYMISED, check_scope, chunks, delete_rows, erased_id, rows, update_rows
from huoli.promotions.models import (
    Bargain,
    BargainHelp,
    Commission,
    Coupon,
    DistributionBinding,
    Distributor,
    FlashReservation,
    Group,
    GroupMember,
    InviteCode,
    PaidOrder,
    ReferralBinding,
    VelocityCounter,
    Withdrawal,
)


def export_user(db: Session, *, app_id: str, user_id: str) -> dict[str, list[dict[str, Any]]]:
    check_scope(db, app_id)
    bargain_ids = list(db.scalars(select(Bargain.id).where(Bargain.user_id == user_id)))
    helps = rows(db, BargainHelp, BargainHelp.helper_user_id == user_id)
    for part in chunks(bargain_ids):
        helps += rows(db, BargainHelp, BargainHelp.bargain_id.in_(part))
    return {
        "promo_coupons": rows(db, Coupon, Coupon.user_id == user_id),
        "promo_flash_reservations": rows(db, FlashReservation, FlashReservation.user_id == user_id),
        "promo_groups": rows(db, Group, Group.leader_user_id == user_id),
        "promo_group_members": rows(db, GroupMember, GroupMember.user_id == user_id),
        "promo_bargains": rows(db, Bargain, Bargain.user_id == user_id),
        "promo_bargain_helps": helps,
        "promo_invite_codes": rows(db, InviteCode, InviteCode.user_id == user_id),
        "promo_referral_bindings": rows(
            db,
            ReferralBinding,
            or_(ReferralBinding.invitee_user_id == user_id, ReferralBinding.referrer_user_id == user_id),
        ),
        "promo_distributors": rows(
            db, Distributor, or_(Distributor.user_id == user_id, Distributor.parent_user_id == user_id)
        ),
        "promo_distribution_bindings": rows(
            db,
            DistributionBinding,
            or_(
                DistributionBinding.customer_user_id == user_id,
                DistributionBinding.distributor_user_id == user_id,
            ),
        ),
        "promo_commissions": rows(
            db,
            Commission,
            or_(Commission.distributor_user_id == user_id, Commission.buyer_user_id == user_id),
        ),
        "promo_withdrawals": rows(db, Withdrawal, Withdrawal.distributor_user_id == user_id),
        "promo_paid_orders": rows(db, PaidOrder, PaidOrder.user_id == user_id),
        "promo_velocity": rows(
            db, VelocityCounter, VelocityCounter.kind == "user", VelocityCounter.subject == user_id
        ),
    }


def erase_user(db: Session, *, app_id: str, user_id: str) -> dict[str, int]:
    check_scope(db, app_id)
    token = erased_id()
    c: dict[str, int] = {}

    def anonymise(table: str, model: Any, column: Any) -> None:
        key = table + ANONYMISED
        c[key] = c.get(key, 0) + update_rows(db, model, {column.key: token}, column == user_id)

    # Coupons: an unused one is only about the user; one applied to an order is part of that order's money.
    c["promo_coupons"] = delete_rows(db, Coupon, Coupon.user_id == user_id, Coupon.order_id.is_(None))
    anonymise("promo_coupons", Coupon, Coupon.user_id)
    # Reservations hold stock until paid or expired (the expiry job returns it): kept, anonymised.
    anonymise("promo_flash_reservations", FlashReservation, FlashReservation.user_id)
    anonymise("promo_groups", Group, Group.leader_user_id)
    anonymise("promo_group_members", GroupMember, GroupMember.user_id)  # paid joins, refunds by trade number
    bargain_ids = list(db.scalars(select(Bargain.id).where(Bargain.user_id == user_id)))
    c["promo_bargain_helps"] = sum(
        delete_rows(db, BargainHelp, BargainHelp.bargain_id.in_(part)) for part in chunks(bargain_ids)
    )
    c["promo_bargains"] = delete_rows(db, Bargain, Bargain.user_id == user_id)
    anonymise("promo_bargain_helps", BargainHelp, BargainHelp.helper_user_id)  # cuts in others' prices
    c["promo_invite_codes"] = delete_rows(db, InviteCode, InviteCode.user_id == user_id)
    c["promo_referral_bindings"] = delete_rows(
        db, ReferralBinding, ReferralBinding.invitee_user_id == user_id
    )
    anonymise("promo_referral_bindings", ReferralBinding, ReferralBinding.referrer_user_id)
    anonymise("promo_distributors", Distributor, Distributor.user_id)  # balances owed and paid out
    anonymise("promo_distributors", Distributor, Distributor.parent_user_id)
    c["promo_distribution_bindings"] = delete_rows(
        db, DistributionBinding, DistributionBinding.customer_user_id == user_id
    )
    anonymise("promo_distribution_bindings", DistributionBinding, DistributionBinding.distributor_user_id)
    anonymise("promo_commissions", Commission, Commission.distributor_user_id)
    anonymise("promo_commissions", Commission, Commission.buyer_user_id)
    anonymise("promo_withdrawals", Withdrawal, Withdrawal.distributor_user_id)
    anonymise("promo_paid_orders", PaidOrder, PaidOrder.user_id)
    c["promo_velocity"] = delete_rows(
        db, VelocityCounter, VelocityCounter.kind == "user", VelocityCounter.subject == user_id
    )
    return c
