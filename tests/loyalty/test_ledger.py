"""Points ledger rules on SQLite and PostgreSQL: lots, order of spending, pending, expiry, caps, refunds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from tests.loyalty.helpers import outbox, set_rules, uow

from huoli.errors import Conflict, NotFound, ValidationFailed
from huoli.loyalty import ledger, service
from huoli.loyalty.models import PointsLot, PointsTransfer
from huoli.runtime import Runtime

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 10, 15, 0, tzinfo=SH)


@pytest.fixture
def shop(make_app):  # type: ignore[no-untyped-def]
    return make_app("shop")


def bal(runtime: Runtime, now: datetime = T0, user: str = "u1") -> ledger.Balance:
    with uow(runtime, "shop", now) as (db, ctx):
        return ledger.balance(db, ctx, user)


def earn(
    runtime: Runtime, points: int, key: str, now: datetime = T0, user: str = "u1", **kw
) -> ledger.Earned:  # type: ignore[no-untyped-def]
    with uow(runtime, "shop", now) as (db, ctx):
        return ledger.earn(db, ctx, user_id=user, points=points, reason="admin", key=key, **kw)


def spend(runtime: Runtime, points: int, key: str, now: datetime = T0, user: str = "u1") -> ledger.Spent:
    with uow(runtime, "shop", now) as (db, ctx):
        return ledger.spend(db, ctx, user_id=user, points=points, reason="mall", key=key)


def test_spend_drains_soonest_expiring_lot_first(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    earn(runtime, 100, "a", expires_at=None)
    earn(runtime, 50, "b", expires_at=T0 + timedelta(days=10))
    earn(runtime, 30, "c", expires_at=T0 + timedelta(days=5))
    spend(runtime, 60, "s1")
    with uow(runtime, "shop", T0) as (db, _):
        left = {lot.points: lot.remaining for lot in ledger.lots(db, user_id="u1")}
    assert left == {30: 0, 50: 20, 100: 100}
    assert bal(runtime).available == 120


def test_retried_earn_counts_once_and_key_is_per_app(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    first = earn(runtime, 10, "k")
    again = earn(runtime, 10, "k")
    assert (first.applied, again.applied) == (True, False)
    assert bal(runtime).available == 10
    with pytest.raises(Conflict) as exc:
        earn(runtime, 10, "k", user="u2")
    assert exc.value.code == "business_key_reused"
    with uow(runtime, "shop", T0) as (db, _):
        assert db.scalar(select(func.count()).select_from(PointsTransfer)) == 1
    assert len(outbox(runtime, "shop", "points_earned")) == 1


def test_balance_never_negative_and_failed_spend_changes_nothing(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    earn(runtime, 10, "a")
    with pytest.raises(Conflict) as exc:
        spend(runtime, 11, "s")
    assert exc.value.code == "insufficient_points"
    assert bal(runtime).available == 10
    with uow(runtime, "shop", T0) as (db, _):
        assert ledger.find_transfer(db, "s") is None
    with pytest.raises(ValidationFailed):
        spend(runtime, 0, "zero")


def test_pending_points_become_available_after_the_window(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    set_rules(runtime, "shop", lambda r: setattr(r.points, "order_pending_days", 7))
    with uow(runtime, "shop", T0) as (db, ctx):
        out = service.order_paid(db, ctx, user_id="u1", order_id="o1", amount_fen=12_345)
    assert out.points == 123 and out.available_at == T0 + timedelta(days=7)
    b = bal(runtime)
    assert (b.available, b.pending) == (0, 123)
    with pytest.raises(Conflict):
        spend(runtime, 1, "early", now=T0 + timedelta(days=7) - timedelta(microseconds=1))
    assert bal(runtime, T0 + timedelta(days=7)).available == 123
    assert spend(runtime, 100, "later", now=T0 + timedelta(days=7)).applied


def test_expiry_exactly_at_local_midnight_boundary(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    set_rules(runtime, "shop", lambda r: setattr(r.points, "expiry_days", 30))
    # 23:30 in Shanghai is 15:30 UTC: the local day (10 March) decides the expiry, not the UTC day.
    late = datetime(2026, 3, 10, 23, 30, tzinfo=SH)
    out = earn(runtime, 40, "e", now=late)
    boundary = datetime(2026, 4, 9, 0, 0, tzinfo=SH)
    assert out.expires_at == boundary
    assert bal(runtime, boundary - timedelta(microseconds=1)).available == 40
    assert bal(runtime, boundary).available == 0
    assert bal(runtime, boundary - timedelta(days=29)).expiring_soon == 40  # 30-day warning window
    with pytest.raises(Conflict):
        spend(runtime, 1, "too-late", now=boundary)
    # The job records the expiry once.
    for _ in range(2):
        with uow(runtime, "shop", boundary) as (db, ctx):
            service.run_job(db, ctx, job="expire")
    with uow(runtime, "shop", boundary) as (db, _):
        expired = list(db.scalars(select(PointsTransfer).where(PointsTransfer.kind == "expire")))
    assert [t.points for t in expired] == [-40]


def test_expiring_soon_warns_once_per_lot(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    earn(runtime, 25, "w", expires_at=T0 + timedelta(days=10))
    earn(runtime, 5, "far", expires_at=T0 + timedelta(days=100))
    for _ in range(2):
        with uow(runtime, "shop", T0) as (db, ctx):
            warned = ledger.warn_expiring(db, ctx)
            assert warned == (1 if _ == 0 else 0)
    soon = outbox(runtime, "shop", "points_expiring_soon")
    assert [(e["points"], e["user_id"]) for e in soon] == [(25, "u1")]


def test_order_points_rate_cap_and_spend(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    earn(runtime, 10_000, "big")
    with uow(runtime, "shop", T0) as (db, ctx):
        assert ledger.max_points_for_order(ctx, 10_000) == 500  # half of 100 yuan at 10 fen per point
        with pytest.raises(ValidationFailed) as exc:
            ledger.spend_for_order(db, ctx, user_id="u1", order_id="o", order_amount_fen=10_000, points=501)
        assert exc.value.code == "points_cap_exceeded"
    set_rules(runtime, "shop", lambda r: setattr(r.points, "max_order_points", 300))
    with uow(runtime, "shop", T0) as (db, ctx):
        assert ledger.max_points_for_order(ctx, 10_000) == 300
        s = ledger.spend_for_order(db, ctx, user_id="u1", order_id="o", order_amount_fen=10_000, points=300)
    assert s.applied and bal(runtime).available == 9_700


def test_action_daily_cap_per_local_day(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    got = []
    for i in range(4):  # review: 10 points, cap 30 a day
        with uow(runtime, "shop", T0) as (db, ctx):
            got.append(service.earn_action(db, ctx, user_id="u1", action="review", key=f"r{i}").points)
    assert got == [10, 10, 10, 0]
    next_day = datetime(2026, 3, 11, 0, 0, tzinfo=SH)
    with uow(runtime, "shop", next_day) as (db, ctx):
        assert service.earn_action(db, ctx, user_id="u1", action="review", key="r9").points == 10
        with pytest.raises(NotFound):
            service.earn_action(db, ctx, user_id="u1", action="share_to_group", key="x")


def test_sharing_can_never_be_a_points_action(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    from pydantic import ValidationError

    from huoli.loyalty.schemas import ActionRule, PointsRules

    with pytest.raises(ValidationError):
        PointsRules(actions={"share": ActionRule(points=5)})


def test_refund_claws_back_pro_rata_then_forgives_without_negative(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    with uow(runtime, "shop", T0) as (db, ctx):
        service.order_paid(db, ctx, user_id="u1", order_id="o1", amount_fen=10_000)  # 100 points
    with uow(runtime, "shop", T0) as (db, ctx):
        r1 = service.order_refunded(db, ctx, user_id="u1", order_id="o1", refund_id="r1", amount_fen=3_000)
        again = service.order_refunded(db, ctx, user_id="u1", order_id="o1", refund_id="r1", amount_fen=3_000)
    assert (r1.clawed_back, r1.applied, again.applied) == (30, True, False)
    assert bal(runtime).available == 70
    spend(runtime, 60, "s")
    with uow(runtime, "shop", T0) as (db, ctx):
        r2 = service.order_refunded(db, ctx, user_id="u1", order_id="o1", refund_id="r2", amount_fen=7_000)
    assert (r2.clawed_back, r2.unrecovered) == (10, 60)
    b = bal(runtime)
    assert (b.available, b.debt) == (0, 0)
    with pytest.raises(ValidationFailed), uow(runtime, "shop", T0) as (db, ctx):
        service.order_refunded(db, ctx, user_id="u1", order_id="o1", refund_id="r3", amount_fen=1)


def test_refund_with_negative_allowed_creates_debt_paid_by_next_earn(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    set_rules(runtime, "shop", lambda r: setattr(r.points, "allow_negative", True))
    with uow(runtime, "shop", T0) as (db, ctx):
        service.order_paid(db, ctx, user_id="u1", order_id="o1", amount_fen=10_000)
    spend(runtime, 80, "s")
    with uow(runtime, "shop", T0) as (db, ctx):
        r = service.order_refunded(db, ctx, user_id="u1", order_id="o1", refund_id="r", amount_fen=10_000)
    assert (r.clawed_back, r.unrecovered) == (100, 0)
    b = bal(runtime)
    assert (b.available, b.debt) == (-80, 80)
    earn(runtime, 50, "later")
    b = bal(runtime)
    assert (b.available, b.debt) == (-30, 30)
    with pytest.raises(Conflict):
        spend(runtime, 1, "s2")


def test_refund_restores_points_used_on_the_order(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    earn(runtime, 500, "a", expires_at=T0 + timedelta(days=5))
    earn(runtime, 500, "b", expires_at=None)
    with uow(runtime, "shop", T0) as (db, ctx):
        ledger.spend_for_order(db, ctx, user_id="u1", order_id="o9", order_amount_fen=20_000, points=800)
    assert bal(runtime).available == 200
    with uow(runtime, "shop", T0) as (db, ctx):
        r = service.order_refunded(db, ctx, user_id="u1", order_id="o9", refund_id="r", amount_fen=10_000)
    assert (r.restored, r.clawed_back) == (400, 0)
    assert bal(runtime).available == 600
    # The rest comes back after the 5-day lot expired: its share stays expired.
    later = T0 + timedelta(days=6)
    with uow(runtime, "shop", later) as (db, ctx):
        r = service.order_refunded(db, ctx, user_id="u1", order_id="o9", refund_id="r2", amount_fen=10_000)
    assert r.restored == 0
    with uow(runtime, "shop", later) as (db, _):
        # Restores go to the longest-lived lot first: b got its 300 back, a its remaining 100.
        assert [lot.remaining for lot in ledger.lots(db, user_id="u1")] == [100, 500]
    assert bal(runtime, later).available == 500


def test_unknown_order_refund_is_404(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFound), uow(runtime, "shop", T0) as (db, ctx):
        service.order_refunded(db, ctx, user_id="u1", order_id="nope", refund_id="r", amount_fen=1)


def test_ledger_is_app_scoped(runtime: Runtime, make_app) -> None:  # type: ignore[no-untyped-def]
    make_app("shop")
    make_app("other")
    earn(runtime, 10, "k")
    with uow(runtime, "other", T0) as (db, ctx):
        assert ledger.balance(db, ctx, "u1").available == 0
        assert ledger.earn(db, ctx, user_id="u1", points=5, reason="admin", key="k").applied
        assert db.scalar(select(func.count()).select_from(PointsLot)) == 1


def test_utc_clock_is_accepted(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    assert earn(runtime, 1, "utc", now=datetime(2026, 3, 10, 7, tzinfo=UTC)).applied
