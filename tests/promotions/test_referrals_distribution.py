"""Referrals (rewards after the invitee's qualifying action, caps, no self-referral) and 分销 commissions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from tests.promotions.helpers import at, race

from huoli.errors import Conflict, HuoliError, ValidationFailed
from huoli.promotions import coupons, distribution, referrals
from huoli.promotions.models import Commission, Coupon, Distributor, ReferralBinding
from huoli.promotions.schemas import CouponTemplateIn, DistributionConfigIn, ReferralProgramIn

APP = "shop"
NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def program(uow, **kw) -> None:  # type: ignore[no-untyped-def]
    with uow() as db:
        for tid in ("ref_a", "ref_b"):
            coupons.create_template(
                at(db, uow.runtime, NOW),
                spec=CouponTemplateIn(
                    id=tid,
                    name="邀请奖励",
                    kind="fixed",
                    amount_fen=500,
                    valid_days=30,
                    per_user_limit=100,
                    claim_trigger="reward",
                ),
            )
        spec = {
            "id": "inv",
            "name": "邀请有礼",
            "referrer_template_id": "ref_a",
            "invitee_template_id": "ref_b",
            "max_rewards_per_referrer": 2,
        } | kw
        referrals.create_program(at(db, uow.runtime, NOW), spec=ReferralProgramIn(**spec))


def code_for(uow, user: str) -> str:  # type: ignore[no-untyped-def]
    with uow() as db:
        return referrals.invite_code(at(db, uow.runtime, NOW), program_id="inv", user_id=user).code


def bind(uow, runtime, code, invitee, created=NOW):  # type: ignore[no-untyped-def]
    with uow() as db:
        return referrals.bind(
            at(db, runtime, NOW), code=code, invitee_user_id=invitee, invitee_created_at=created
        ).referrer_user_id


def qualify(uow, runtime, invitee, action="first_order", blocked=None):  # type: ignore[no-untyped-def]
    with uow() as db:
        return len(
            referrals.qualify(
                at(db, runtime, NOW), invitee_user_id=invitee, action=action, blocked_reason=blocked
            )
        )


def coupons_of(uow, user: str) -> int:  # type: ignore[no-untyped-def]
    with uow() as db:
        return db.scalar(select(func.count()).select_from(Coupon).where(Coupon.user_id == user)) or 0


def test_sharing_rewards_are_refused(uow) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as e:
        program(uow, qualifying_action="share")
    assert e.value.code == "compliance_rejected"
    with pytest.raises(ValidationFailed):
        program(uow, show_rules=False)


def test_rewards_follow_the_invitees_first_order_with_a_cap(uow, runtime) -> None:  # type: ignore[no-untyped-def]
    program(uow)
    code = code_for(uow, "alice")
    assert code == code_for(uow, "alice")
    with pytest.raises(HuoliError) as e:
        bind(uow, runtime, code, "alice")
    assert e.value.code == "self_referral"
    with pytest.raises(HuoliError) as e:
        bind(uow, runtime, code, "old-user", created=NOW - timedelta(days=30))
    assert e.value.code == "not_new_user"
    assert bind(uow, runtime, code, "b1") == "alice"
    other = code_for(uow, "carol")
    assert bind(uow, runtime, other, "b1") == "alice"  # first binding wins
    assert coupons_of(uow, "alice") == coupons_of(uow, "b1") == 0  # nothing for the share or the open
    assert qualify(uow, runtime, "b1", action="registration") == 0  # not this program's action
    assert qualify(uow, runtime, "b1") == 1 and qualify(uow, runtime, "b1") == 0
    assert (coupons_of(uow, "alice"), coupons_of(uow, "b1")) == (1, 1)
    for invitee in ("b2", "b3"):
        bind(uow, runtime, code, invitee)
        qualify(uow, runtime, invitee)
    assert coupons_of(uow, "alice") == 2  # capped at 2
    assert coupons_of(uow, "b3") == 1  # the invitee is still rewarded
    bind(uow, runtime, code, "b4")
    qualify(uow, runtime, "b4", blocked="risk_rank_4")
    assert coupons_of(uow, "b4") == 0
    with uow() as db:
        assert db.scalars(
            select(ReferralBinding.status).where(ReferralBinding.invitee_user_id == "b4")
        ).one() == ("blocked")


def test_concurrent_qualifications_respect_the_referrer_cap(uow, runtime) -> None:  # type: ignore[no-untyped-def]
    program(uow, max_rewards_per_referrer=3)
    code = code_for(uow, "alice")
    for i in range(8):
        bind(uow, runtime, code, f"b{i}")
    results = race(16, lambda i: qualify(uow, runtime, f"b{i % 8}"))
    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 8
    assert coupons_of(uow, "alice") == 3


def configure(uow, **kw) -> None:  # type: ignore[no-untyped-def]
    spec = {"levels": 2, "level1_bp": 1000, "level2_bp": 300, "freeze_days": 7, "min_withdraw_fen": 1000} | kw
    with uow() as db:
        distribution.configure(at(db, uow.runtime, NOW), spec=DistributionConfigIn(**spec))


def test_distribution_config_compliance(uow) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed):
        configure(uow, levels=3)
    with pytest.raises(ValidationFailed):
        configure(uow, commission_on="share")
    configure(uow)
    with uow() as db:
        from huoli.promotions.models import DistributionConfig

        assert "一级佣金10%" in db.get(DistributionConfig, APP).rules_text  # type: ignore[union-attr]


def test_two_level_commission_freeze_credit_withdraw_and_reversal(uow, runtime) -> None:  # type: ignore[no-untyped-def]
    configure(uow)
    with uow() as db:
        distribution.join(at(db, runtime, NOW), user_id="top")
        distribution.join(at(db, runtime, NOW), user_id="mid", invited_by="top")
        distribution.bind_customer(at(db, runtime, NOW), customer_user_id="buyer", distributor_user_id="mid")
    for _ in range(2):  # the same order reported twice
        with uow() as db:
            distribution.on_order_paid(
                at(db, runtime, NOW), order_id="o1", buyer_user_id="buyer", paid_fen=20000
            )
    with uow() as db:
        distribution.on_order_paid(at(db, runtime, NOW), order_id="o2", buyer_user_id="buyer", paid_fen=5000)
    with uow() as db:
        amounts = dict(
            db.execute(
                select(Commission.distributor_user_id, func.sum(Commission.amount_fen)).group_by(
                    Commission.distributor_user_id
                )
            ).all()
        )
        assert amounts == {"mid": 2500, "top": 750}
        with pytest.raises(Conflict):  # still frozen
            distribution.withdraw(at(db, runtime, NOW), user_id="mid", amount_fen=1000, request_key="w0")
    with uow() as db:  # o2 refunded inside the after-sale window: reversed from frozen
        assert distribution.on_order_refunded(at(db, runtime, NOW), order_id="o2") == 2
    later = NOW + timedelta(days=7)
    with uow() as db:
        assert distribution.credit_due(at(db, runtime, later)) == 2
    with uow() as db:
        assert distribution.credit_due(at(db, runtime, later)) == 0
        d = db.scalars(select(Distributor).where(Distributor.user_id == "mid")).one()
        assert (d.frozen_fen, d.available_fen) == (0, 2000)
    with pytest.raises(ValidationFailed), uow() as db:
        distribution.withdraw(at(db, runtime, later), user_id="mid", amount_fen=999, request_key="w1")
    for _ in range(2):
        with uow() as db:
            distribution.withdraw(at(db, runtime, later), user_id="mid", amount_fen=1500, request_key="w2")
    with pytest.raises(Conflict), uow() as db:
        distribution.withdraw(at(db, runtime, later), user_id="mid", amount_fen=1000, request_key="w3")
    with uow() as db:  # o1 refunded after crediting: taken back from available (may go negative)
        distribution.on_order_refunded(at(db, runtime, later), order_id="o1")
        d = db.scalars(select(Distributor).where(Distributor.user_id == "mid")).one()
        assert (d.available_fen, d.withdrawn_fen) == (500 - 2000, 1500)


def test_binding_modes(uow, runtime) -> None:  # type: ignore[no-untyped-def]
    for mode, expect_after_second, expect_after_expiry in (
        ("permanent", "d1", "d1"),
        ("latest", "d2", "d1"),
        ("window", "d1", "d2"),
    ):
        configure(uow, binding_mode=mode, binding_days=10)
        cust = f"c-{mode}"
        with uow() as db:
            for d in ("d1", "d2"):
                distribution.join(at(db, runtime, NOW), user_id=d)
            distribution.bind_customer(at(db, runtime, NOW), customer_user_id=cust, distributor_user_id="d1")
            b = distribution.bind_customer(
                at(db, runtime, NOW + timedelta(days=1)), customer_user_id=cust, distributor_user_id="d2"
            )
            assert b is not None and b.distributor_user_id == expect_after_second, mode
            later = NOW + timedelta(days=11)
            nxt = "d1" if mode == "latest" else "d2"
            b = distribution.bind_customer(
                at(db, runtime, later), customer_user_id=cust, distributor_user_id=nxt
            )
            assert b is not None and b.distributor_user_id == expect_after_expiry, mode
            assert (
                distribution.bind_customer(
                    at(db, runtime, NOW), customer_user_id="d1", distributor_user_id="d1"
                )
                is None
            )


def test_a_paused_reward_never_fails_the_qualifying_order(uow, runtime) -> None:  # type: ignore[no-untyped-def]
    program(uow, max_rewards_per_referrer=1)
    code = code_for(uow, "alice")
    bind(uow, runtime, code, "b1")
    bind(uow, runtime, code, "b2")
    with uow() as db:
        coupons.get_template(db, "ref_a").active = False  # the referrer's reward runs out / is paused
    assert qualify(uow, runtime, "b1") == 1
    assert (coupons_of(uow, "alice"), coupons_of(uow, "b1")) == (0, 1)
    with uow() as db:
        b = db.scalars(select(ReferralBinding).where(ReferralBinding.invitee_user_id == "b1")).one()
        assert b.status == "rewarded" and not b.referrer_rewarded and "activity_not_running" in (b.note or "")
        coupons.get_template(db, "ref_a").active = True
    assert qualify(uow, runtime, "b2") == 1  # the cap slot was given back: alice still gets her one reward
    assert coupons_of(uow, "alice") == 1
