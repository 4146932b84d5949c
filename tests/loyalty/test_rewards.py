"""Coupon rewards and coupon items are real coupons of the promotions domain (SQLite, PostgreSQL).

A check-in milestone or task names a coupon template; the member gets a coupon they can lock and redeem at
checkout, under the template's limits. A reward that can't be issued never fails the check-in; a points-mall
coupon that can't be issued fails the redemption and gives the points back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from tests.loyalty.helpers import outbox, race, set_rules, uow
from tests.promotions.helpers import at

from huoli.errors import Conflict, ValidationFailed
from huoli.loyalty import checkin, ledger, mall
from huoli.loyalty.models import PointsTransfer
from huoli.loyalty.schemas import MallItemIn, Milestone, Reward
from huoli.promotions import coupons
from huoli.promotions.models import Coupon
from huoli.promotions.schemas import CartLine, CouponTemplateIn
from huoli.runtime import Runtime

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


@pytest.fixture
def shop(make_app):  # type: ignore[no-untyped-def]
    return make_app("shop")


def template(runtime: Runtime, app_id: str, tid: str, **spec: object) -> None:
    body = {
        "id": tid,
        "name": "满50减5",
        "kind": "threshold",
        "amount_fen": 500,
        "threshold_fen": 5000,
        "valid_days": 30,
    }
    with uow(runtime, app_id, T0) as (db, _):
        coupons.create_template(at(db, runtime, T0), spec=CouponTemplateIn.model_validate(body | spec))


def day_one_coupon(runtime: Runtime, ref: str) -> None:
    set_rules(
        runtime,
        "shop",
        lambda r: setattr(
            r.checkin, "streak_rewards", [Milestone(day=1, reward=Reward(type="coupon", ref=ref))]
        ),
    )


def tap(runtime: Runtime, user: str, when: datetime = T0) -> checkin.CheckinOut:
    with uow(runtime, "shop", when) as (db, ctx):
        return checkin.check_in(db, ctx, user_id=user)


def coupons_of(runtime: Runtime, app_id: str, user: str) -> list[Coupon]:
    with uow(runtime, app_id, T0) as (db, _):
        return list(db.scalars(select(Coupon).where(Coupon.user_id == user)))


def test_a_checkin_milestone_issues_a_real_coupon_once(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    template(runtime, "shop", "ck1", claim_trigger="reward", valid_days=7)
    day_one_coupon(runtime, "ck1")
    assert tap(runtime, "u1").checked_in
    assert not tap(runtime, "u1").checked_in  # the repeat grants nothing
    [c] = coupons_of(runtime, "shop", "u1")
    assert (c.template_id, c.status, c.source) == ("ck1", "available", "loyalty")
    assert c.valid_until - c.valid_from == timedelta(days=7)
    [reward] = outbox(runtime, "shop", "loyalty_reward")
    assert reward["coupon_id"] == c.id and "coupon_error" not in reward
    assert [e["source"] for e in outbox(runtime, "shop", "coupon_claimed")] == ["loyalty"]
    # It is a coupon like any other: checkout can quote and lock it.
    with uow(runtime, "shop", T0) as (db, _):
        cart = [CartLine(item_id="sku", price_fen=6000, quantity=1)]
        locked = coupons.lock(at(db, runtime, T0), user_id="u1", order_id="o1", coupon_ids=[c.id], cart=cart)
        assert locked.discount_fen == 500


@pytest.mark.parametrize(
    ("setup", "error"),
    [
        (lambda rt: None, "not_found"),  # the rules name a template nobody created
        (lambda rt: template(rt, "shop", "ck1", total_limit=1), "sold_out"),
        (lambda rt: template(rt, "other", "ck1"), "not_found"),  # another app's template is not ours
    ],
    ids=["missing", "sold-out", "other-app"],
)
def test_a_coupon_that_cannot_be_issued_never_fails_the_checkin(
    runtime: Runtime, shop, make_app, setup, error
) -> None:  # type: ignore[no-untyped-def]
    make_app("other")
    setup(runtime)
    day_one_coupon(runtime, "ck1")
    if error == "sold_out":
        assert tap(runtime, "first").checked_in  # takes the only coupon
    out = tap(runtime, "u1")
    assert out.checked_in and out.points == 5
    assert coupons_of(runtime, "shop", "u1") == []
    assert coupons_of(runtime, "other", "u1") == []
    last = outbox(runtime, "shop", "loyalty_reward")[-1]
    assert last["coupon_error"] == error and "coupon_id" not in last
    with uow(runtime, "shop", T0) as (db, ctx):
        assert ledger.balance(db, ctx, "u1").available == 5


def test_a_mall_coupon_item_issues_the_coupon_with_the_spend(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    with uow(runtime, "shop", T0) as (db, ctx):
        with pytest.raises(ValidationFailed) as bad:
            mall.upsert_item(
                db, ctx, MallItemIn(id="c10", name="10元券", kind="coupon", points=100, ref="nope")
            )
        assert bad.value.details[0]["field"] == "ref"
    template(runtime, "shop", "t10", kind="fixed", amount_fen=1000, threshold_fen=0, claim_trigger="reward")
    with uow(runtime, "shop", T0) as (db, ctx):
        mall.upsert_item(db, ctx, MallItemIn(id="c10", name="10元券", kind="coupon", points=100, ref="t10"))
        ledger.earn(db, ctx, user_id="u1", points=250, reason="admin", key="e1")
    with uow(runtime, "shop", T0) as (db, ctx):
        out = mall.redeem(db, ctx, user_id="u1", item_id="c10", key="tap1")
    assert out.applied and out.coupon_id is not None
    with uow(runtime, "shop", T0) as (db, ctx):
        again = mall.redeem(db, ctx, user_id="u1", item_id="c10", key="tap1")  # a retried tap
    assert not again.applied and again.coupon_id == out.coupon_id
    [c] = coupons_of(runtime, "shop", "u1")
    assert c.id == out.coupon_id and c.template_id == "t10"
    assert outbox(runtime, "shop", "mall_redeemed")[0]["coupon_id"] == c.id
    # The template allows one per member: the second purchase fails whole and the points stay.
    with (
        pytest.raises(Conflict) as limit,
        uow(runtime, "shop", T0) as (db, ctx),
    ):  # raised through the unit of work
        mall.redeem(db, ctx, user_id="u1", item_id="c10", key="tap2")
    assert limit.value.code == "per_user_limit"
    with uow(runtime, "shop", T0) as (db, ctx):
        assert ledger.balance(db, ctx, "u1").available == 150


def test_racing_mall_coupon_purchases_keep_the_template_limits(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    template(
        runtime, "shop", "t5", kind="fixed", amount_fen=500, threshold_fen=0, per_user_limit=2, total_limit=3
    )
    with uow(runtime, "shop", T0) as (db, ctx):
        mall.upsert_item(db, ctx, MallItemIn(id="c5", name="5元券", kind="coupon", points=10, ref="t5"))
        for u in range(3):
            ledger.earn(db, ctx, user_id=f"u{u}", points=100, reason="admin", key=f"e{u}")

    def buy(i: int) -> object:
        with uow(runtime, "shop", T0) as (db, ctx):
            return mall.redeem(db, ctx, user_id=f"u{i % 3}", item_id="c5", key=f"tap{i}")

    results = race(12, buy)
    ok = [r for r in results if not isinstance(r, Exception)]
    assert len(ok) == 3, results  # the template's total
    assert {r.code for r in results if isinstance(r, Exception)} <= {"sold_out", "per_user_limit"}, results
    with uow(runtime, "shop", T0) as (db, _):
        per_user = dict(db.execute(select(Coupon.user_id, func.count()).group_by(Coupon.user_id)).all())
        assert sum(per_user.values()) == 3 and max(per_user.values()) <= 2
        spent = -int(
            db.scalar(select(func.sum(PointsTransfer.points)).where(PointsTransfer.kind == "spend")) or 0
        )
        assert spent == 30  # every refused purchase gave its points back


def test_tier_monthly_coupons_once_per_member_per_local_month(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    from huoli.loyalty import service, tiers

    # A template's per-user limit counts over its whole life, so a monthly one allows many; black_monthly is
    # left undefined.
    template(runtime, "shop", "gold_monthly", claim_trigger="reward", per_user_limit=24)
    with uow(runtime, "shop", T0) as (db, ctx):
        for user, growth in (("gold1", 5000), ("silver1", 1000), ("black1", 20000)):
            tiers.add_growth(db, ctx, user_id=user, amount=growth, source="admin", key=f"g:{user}")

    def run(when: datetime) -> dict[str, object]:
        with uow(runtime, "shop", when) as (db, ctx):
            out = service.run_job(db, ctx, job="tier-benefits")["tier_benefits"]
            assert isinstance(out, dict)
            return out

    first = run(T0)
    assert first == {
        "month": "2026-03",
        "issued": 1,
        "already_this_month": 0,
        "birthday_gifts": 0,
        "failed": {"not_found": 1},
    }
    assert run(T0 + timedelta(days=20))["issued"] == 0  # the same month again: nothing new
    # 1 April 00:30 in Shanghai is still 31 March in UTC: the app's month decides.
    april = datetime(2026, 3, 31, 16, 30, tzinfo=UTC)
    assert run(april)["issued"] == 1
    assert [c.template_id for c in coupons_of(runtime, "shop", "gold1")] == ["gold_monthly", "gold_monthly"]
    assert coupons_of(runtime, "shop", "silver1") == []


def test_birthday_gift_once_a_year_from_the_day_to_the_month_end(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    from huoli.loyalty import profile, service, tiers

    template(runtime, "shop", "birthday_gold", claim_trigger="reward", per_user_limit=10)
    with uow(runtime, "shop", T0) as (db, ctx):
        for user, growth, birthday in (("g1", 5000, "03-10"), ("g2", 5000, "02-29"), ("s1", 1000, "03-10")):
            tiers.add_growth(db, ctx, user_id=user, amount=growth, source="admin", key=f"g:{user}")
            profile.set_birthday(db, ctx, user_id=user, birthday=birthday, by_operator=False)

    def gifts(day: str) -> int:
        when = datetime.fromisoformat(f"{day}T10:00:00+08:00")
        with uow(runtime, "shop", when) as (db, ctx):
            out = service.run_job(db, ctx, job="tier-benefits")["tier_benefits"]
            assert isinstance(out, dict)
            return int(out["birthday_gifts"])

    assert [gifts(d) for d in ("2026-03-09", "2026-03-10", "2026-03-20")] == [0, 1, 0]  # g1, once
    assert gifts("2027-03-31") == 1  # next year; the job missed the day itself but not the month
    assert gifts("2027-02-28") == 1  # g2, born 29 Feb, in a year without one
    assert [c.template_id for c in coupons_of(runtime, "shop", "g1")] == ["birthday_gold"] * 2
    assert coupons_of(runtime, "shop", "s1") == []  # silver has no birthday gift
