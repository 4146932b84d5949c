"""Membership tiers: growth from spend, active days and invites; instant upgrade; downgrade policies; member day."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from tests.loyalty.helpers import outbox, set_rules, uow

from huoli.loyalty import service, tiers
from huoli.runtime import Runtime

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 1, 10, tzinfo=SH)


@pytest.fixture
def shop(make_app):  # type: ignore[no-untyped-def]
    return make_app("shop")


def pay(runtime: Runtime, order: str, fen: int, now: datetime = T0, user: str = "u1") -> None:
    with uow(runtime, "shop", now) as (db, ctx):
        service.order_paid(db, ctx, user_id=user, order_id=order, amount_fen=fen)


def status(runtime: Runtime, now: datetime = T0, user: str = "u1") -> tiers.TierOut:
    with uow(runtime, "shop", now) as (db, ctx):
        return tiers.status(db, ctx, user)


def job(runtime: Runtime, now: datetime) -> dict[str, int]:
    with uow(runtime, "shop", now) as (db, ctx):
        return tiers.reevaluate_all(db, ctx)


def test_instant_upgrade_and_benefits(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    pay(runtime, "o1", 99_900)  # 999 yuan -> 999 growth
    s = status(runtime)
    assert (s.tier, s.name, s.growth, s.next_tier, s.next_min_growth) == (
        "normal",
        "普通",
        999,
        "silver",
        1000,
    )
    pay(runtime, "o2", 500_000)
    s = status(runtime)
    assert (s.tier, s.name) == ("gold", "金卡")
    assert s.benefits.discount_rate == 0.95 and s.benefits.birthday_gift == "birthday_gold"
    assert [(e["from_tier"], e["to_tier"]) for e in outbox(runtime, "shop", "tier_changed")] == [
        ("normal", "gold")
    ]


def test_refund_lowers_growth(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    pay(runtime, "o1", 200_000)
    with uow(runtime, "shop", T0) as (db, ctx):
        service.order_refunded(db, ctx, user_id="u1", order_id="o1", refund_id="r1", amount_fen=150_000)
    assert status(runtime).growth == 500


def test_downgrade_after_days_policy(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    set_rules(
        runtime,
        "shop",
        lambda r: (setattr(r.tiers, "window_days", 30), setattr(r.tiers, "downgrade_after_days", 10)),
    )
    pay(runtime, "o1", 150_000)
    assert status(runtime).tier == "silver"
    # Growth leaves the 30-day window on day 30; the tier holds until 10 days after it last qualified
    # (the job on day 29 saw it qualify).
    assert job(runtime, T0 + timedelta(days=29)) == {"silver": 1}
    assert job(runtime, T0 + timedelta(days=31)) == {"silver": 1}
    assert job(runtime, T0 + timedelta(days=39) - timedelta(seconds=1)) == {"silver": 1}
    assert job(runtime, T0 + timedelta(days=39)) == {"normal": 1}


def test_never_and_periodic_policies(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    set_rules(
        runtime,
        "shop",
        lambda r: (setattr(r.tiers, "window_days", 30), setattr(r.tiers, "downgrade", "never")),
    )
    pay(runtime, "o1", 150_000)
    assert job(runtime, T0 + timedelta(days=400)) == {"silver": 1}
    set_rules(runtime, "shop", lambda r: setattr(r.tiers, "downgrade", "periodic"))
    assert job(runtime, T0 + timedelta(days=31)) == {"normal": 1}


def test_active_days_and_invites_weighted(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    from huoli.loyalty import checkin

    set_rules(
        runtime,
        "shop",
        lambda r: (setattr(r.tiers, "growth_per_active_day", 7), setattr(r.tiers, "growth_per_invite", 30)),
    )
    for i in range(3):
        with uow(runtime, "shop", T0 + timedelta(days=i)) as (db, ctx):
            checkin.check_in(db, ctx, user_id="u1")
    with uow(runtime, "shop", T0 + timedelta(days=2)) as (db, ctx):
        assert tiers.record_invite(db, ctx, inviter_id="u1", invitee_id="friend")
        assert not tiers.record_invite(db, ctx, inviter_id="u1", invitee_id="friend")
    assert status(runtime, T0 + timedelta(days=2)).growth == 3 * 7 + 30


def test_member_day(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    assert status(runtime, datetime(2026, 3, 8, 0, 5, tzinfo=SH)).is_member_day is True
    # 7 March 23:30 UTC is already the 8th in Shanghai.
    assert status(runtime, datetime(2026, 3, 7, 16, 30, tzinfo=ZoneInfo("UTC"))).is_member_day is True
    assert status(runtime, datetime(2026, 3, 9, 10, tzinfo=SH)).is_member_day is False
