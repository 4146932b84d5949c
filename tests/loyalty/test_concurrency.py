"""Races that must resolve in the database (threads, each with its own session), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from tests.loyalty.helpers import outbox, race, set_rules, uow

from huoli.errors import Conflict
from huoli.loyalty import checkin, ledger, mall
from huoli.loyalty.models import Checkin, MallItem, MallRedemption, PointsLot, PointsTransfer, RewardGrant
from huoli.loyalty.schemas import MallItemIn, Milestone, Reward
from huoli.runtime import Runtime

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def shop(make_app):  # type: ignore[no-untyped-def]
    return make_app("shop")


def test_fifty_concurrent_spends_never_overspend(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    for i, pts in enumerate((40, 35, 25)):  # three lots, so spends also race on lot rows
        with uow(runtime, "shop", T0) as (db, ctx):
            ledger.earn(db, ctx, user_id="u1", points=pts, reason="admin", key=f"e{i}")

    def spend(i: int) -> ledger.Spent:
        with uow(runtime, "shop", T0) as (db, ctx):
            return ledger.spend(db, ctx, user_id="u1", points=3, reason="mall", key=f"s{i}")

    results = race(50, spend)
    ok = [r for r in results if isinstance(r, ledger.Spent)]
    refused = [r for r in results if isinstance(r, Conflict) and r.code == "insufficient_points"]
    assert len(ok) == 33 and len(refused) == 17, [r for r in results if not isinstance(r, ledger.Spent)][:3]
    with uow(runtime, "shop", T0) as (db, ctx):
        assert ledger.balance(db, ctx, "u1").available == 1
        remaining = db.scalars(select(PointsLot.remaining)).all()
        assert min(remaining) >= 0 and sum(remaining) == 1
        assert db.scalar(select(func.sum(PointsTransfer.points))) == 1


def test_a_retried_earn_racing_itself_counts_once(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    def earn(_: int) -> ledger.Earned:
        with uow(runtime, "shop", T0) as (db, ctx):
            return ledger.earn(db, ctx, user_id="u1", points=7, reason="order", key="order:o1")

    results = race(10, earn)
    assert all(isinstance(r, ledger.Earned) for r in results), results
    assert sum(r.applied for r in results) == 1
    with uow(runtime, "shop", T0) as (db, ctx):
        assert ledger.balance(db, ctx, "u1").available == 7
        assert db.scalar(select(func.count()).select_from(PointsLot)) == 1
    assert len(outbox(runtime, "shop", "points_earned")) == 1


def test_double_tapped_checkin_rewards_once(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    set_rules(
        runtime,
        "shop",
        lambda r: setattr(
            r.checkin, "streak_rewards", [Milestone(day=1, reward=Reward(type="coupon", ref="c1"))]
        ),
    )

    def tap(_: int) -> object:
        with uow(runtime, "shop", T0) as (db, ctx):
            return checkin.check_in(db, ctx, user_id="u1")

    results = race(8, tap)
    assert all(not isinstance(r, Exception) for r in results), results
    assert sum(r.checked_in for r in results) == 1  # type: ignore[attr-defined]
    with uow(runtime, "shop", T0) as (db, ctx):
        assert db.scalar(select(func.count()).select_from(Checkin)) == 1
        assert ledger.balance(db, ctx, "u1").available == 5
        assert db.scalar(select(func.count()).select_from(RewardGrant)) == 1
    assert len(outbox(runtime, "shop", "checkin")) == 1


def test_mall_never_oversells_and_keeps_per_user_limits(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    with uow(runtime, "shop", T0) as (db, ctx):
        mall.upsert_item(
            db, ctx, MallItemIn(id="mug", name="Mug", kind="goods", points=10, stock=5, per_user_limit=2)
        )
        for u in range(6):
            ledger.earn(db, ctx, user_id=f"u{u}", points=100, reason="admin", key=f"e{u}")

    def redeem(i: int) -> object:
        with uow(runtime, "shop", T0) as (db, ctx):
            return mall.redeem(db, ctx, user_id=f"u{i % 6}", item_id="mug", key=f"tap{i}")

    results = race(18, redeem)
    ok = [r for r in results if not isinstance(r, Exception)]
    errors = {r.code for r in results if isinstance(r, Conflict)}
    assert len(ok) == 5 and errors <= {"out_of_stock", "per_user_limit"}, results
    with uow(runtime, "shop", T0) as (db, ctx):
        assert db.scalar(select(MallItem.stock)) == 0
        per_user = db.execute(
            select(MallRedemption.user_id, func.count()).group_by(MallRedemption.user_id)
        ).all()
        assert max(n for _, n in per_user) <= 2
        # Every failed redemption rolled its spend back.
        spent = -int(
            db.scalar(select(func.sum(PointsTransfer.points)).where(PointsTransfer.kind == "spend")) or 0
        )
        assert spent == 50


def test_earns_racing_spends_keep_the_ledger_balanced(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    """Uncapped earns take the account lock inside their insert statement on PostgreSQL: racing spends of
    the same member still never overdraw, and every earn lands once with its lot."""
    with uow(runtime, "shop", T0) as (db, ctx):
        ledger.earn(db, ctx, user_id="u1", points=30, reason="admin", key="seed")

    def act(i: int) -> object:
        with uow(runtime, "shop", T0) as (db, ctx):
            if i % 2:
                return ledger.spend(db, ctx, user_id="u1", points=4, reason="mall", key=f"s{i}")
            return ledger.earn(db, ctx, user_id="u1", points=2, reason="admin", key=f"e{i // 4}")

    results = race(40, act)
    earned = [r for r in results if isinstance(r, ledger.Earned)]
    spent = [r for r in results if isinstance(r, ledger.Spent)]
    refused = [r for r in results if isinstance(r, Conflict) and r.code == "insufficient_points"]
    assert len(earned) == 20 and len(spent) + len(refused) == 20, results
    assert sum(r.applied for r in earned) == 10  # keys e0…e9, each raced by two calls
    with uow(runtime, "shop", T0) as (db, ctx):
        remaining = db.scalars(select(PointsLot.remaining)).all()
        assert len(remaining) == 11 and min(remaining) >= 0
        total = db.scalar(select(func.sum(PointsTransfer.points)))
        assert total == sum(remaining) == 30 + 10 * 2 - 4 * len(spent)
        assert ledger.balance(db, ctx, "u1").available == total >= 0


def test_first_growth_entries_racing_both_count_toward_the_tier(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    """Two first growth entries of a new member: one creates the member, the other reads again after it
    and sees both entries, so together they upgrade (600 + 600 ≥ silver's 1000) though neither alone does."""
    from huoli.loyalty import tiers
    from huoli.loyalty.models import MemberTier

    def grow(i: int) -> bool:
        with uow(runtime, "shop", T0) as (db, ctx):
            return tiers.add_growth(db, ctx, user_id="new", amount=600, source="spend", key=f"order:g{i}")

    assert race(2, grow) == [True, True]
    with uow(runtime, "shop", T0) as (db, ctx):
        assert db.scalar(select(func.count()).select_from(MemberTier)) == 1
        assert tiers.growth(db, ctx, "new") == 1200
        assert db.scalar(select(MemberTier.tier)) == "silver"
    assert [e["to_tier"] for e in outbox(runtime, "shop", "tier_changed")] == ["silver"]
