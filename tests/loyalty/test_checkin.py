"""Check-in streaks, reset modes, milestone rewards, make-up days and the calendar (SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from tests.loyalty.helpers import outbox, set_rules, uow

from huoli.errors import Conflict, ValidationFailed
from huoli.loyalty import badges, checkin, ledger
from huoli.loyalty.models import RewardGrant
from huoli.runtime import Runtime

SH = ZoneInfo("Asia/Shanghai")


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SH)


@pytest.fixture
def shop(make_app):  # type: ignore[no-untyped-def]
    return make_app("shop")


def tap(runtime: Runtime, when: datetime, user: str = "u1") -> checkin.CheckinOut:
    with uow(runtime, "shop", when) as (db, ctx):
        return checkin.check_in(db, ctx, user_id=user)


def test_streak_grows_daily_and_breaks_on_a_missed_day(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    d = date(2026, 3, 2)
    assert [tap(runtime, at(d + timedelta(days=i))).streak for i in range(3)] == [1, 2, 3]
    assert tap(runtime, at(d + timedelta(days=4))).streak == 1
    # The local day decides: 23:59 and 00:01 Shanghai time are two days although both are 15:xx/16:xx UTC.
    assert tap(runtime, at(d + timedelta(days=4), 23).replace(minute=59)).checked_in is False
    assert tap(runtime, at(d + timedelta(days=5), 0).replace(minute=1)).streak == 2


def test_weekly_and_monthly_reset(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    set_rules(runtime, "shop", lambda r: setattr(r.checkin, "reset", "weekly"))
    sat = date(2026, 3, 7)  # Saturday
    assert [tap(runtime, at(sat + timedelta(days=i))).streak for i in range(3)] == [1, 2, 1]  # Monday resets
    set_rules(runtime, "shop", lambda r: setattr(r.checkin, "reset", "monthly"))
    end = date(2026, 3, 30)
    assert [tap(runtime, at(end + timedelta(days=i)), "u2").streak for i in range(3)] == [1, 2, 1]  # 1 April


def test_day_7_coupon_and_day_30_badge_once_per_run(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    d = date(2026, 1, 1)
    rewards = {}
    for i in range(30):
        out = tap(runtime, at(d + timedelta(days=i)))
        if out.rewards:
            rewards[out.streak] = [(r.type, r.ref) for r in out.rewards]
    assert rewards == {7: [("coupon", "checkin_7")], 30: [("badge", "checkin_30")]}
    with uow(runtime, "shop", at(d + timedelta(days=29))) as (db, ctx):
        shown = {b.code: b.owned for b in badges.showcase(db, user_id="u1")}
        assert shown == {"checkin_30": True}
        assert len(list(db.scalars(select(RewardGrant)))) == 2
        assert ledger.balance(db, ctx, "u1").available == 30 * 5
    assert [e["reward_type"] for e in outbox(runtime, "shop", "loyalty_reward")] == ["coupon", "badge"]
    assert len(outbox(runtime, "shop", "badge_awarded")) == 1


def test_cumulative_rewards(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    from huoli.loyalty.schemas import Milestone, Reward

    set_rules(
        runtime,
        "shop",
        lambda r: (
            setattr(r.checkin, "streak_rewards", []),
            setattr(r.checkin, "total_rewards", [Milestone(day=3, reward=Reward(type="points", amount=50))]),
        ),
    )
    d = date(2026, 1, 1)
    for i in (0, 2, 4, 6):  # never two days in a row
        tap(runtime, at(d + timedelta(days=i)))
    with uow(runtime, "shop", at(d + timedelta(days=6))) as (db, ctx):
        assert ledger.balance(db, ctx, "u1").available == 4 * 5 + 50


def test_makeup_joins_the_streak_and_costs_points(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    d = date(2026, 3, 1)
    for i in (0, 1, 3, 4):
        tap(runtime, at(d + timedelta(days=i)))  # 20 points; 3 March missed
    today = at(d + timedelta(days=4))
    with uow(runtime, "shop", today) as (db, ctx):
        out = checkin.make_up(db, ctx, user_id="u1", day=d + timedelta(days=2))
        assert out.streak == 3
        assert ledger.balance(db, ctx, "u1").available == 0  # 20 earned - 20 for the make-up
        cal = checkin.calendar(db, ctx, user_id="u1", month="2026-03")
    assert cal.streak == 5 and [x.streak for x in cal.days] == [1, 2, 3, 4, 5]
    assert [x.makeup for x in cal.days] == [False, False, True, False, False]
    with pytest.raises(Conflict), uow(runtime, "shop", today) as (db, ctx):
        checkin.make_up(db, ctx, user_id="u1", day=d + timedelta(days=2))
    with pytest.raises(ValidationFailed), uow(runtime, "shop", today) as (db, ctx):
        checkin.make_up(db, ctx, user_id="u1", day=d - timedelta(days=10))
    with pytest.raises(ValidationFailed), uow(runtime, "shop", today) as (db, ctx):
        checkin.make_up(db, ctx, user_id="u1", day=d + timedelta(days=4))  # today is a normal check-in


def test_makeup_without_points_changes_nothing(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    d = date(2026, 3, 1)
    tap(runtime, at(d))
    with pytest.raises(Conflict) as exc, uow(runtime, "shop", at(d + timedelta(days=2))) as (db, ctx):
        checkin.make_up(db, ctx, user_id="u1", day=d + timedelta(days=1))
    assert exc.value.code == "insufficient_points"
    with uow(runtime, "shop", at(d + timedelta(days=2))) as (db, ctx):
        assert [x.local_date for x in checkin.calendar(db, ctx, user_id="u1", month=None).days] == [d]


def test_streak_survives_until_the_day_ends(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    d = date(2026, 3, 1)
    tap(runtime, at(d))
    tap(runtime, at(d + timedelta(days=1)))
    with uow(runtime, "shop", at(d + timedelta(days=2), 22)) as (db, ctx):
        assert checkin.current_streak(db, ctx, "u1") == (2, False)
    with uow(runtime, "shop", at(d + timedelta(days=3))) as (db, ctx):
        assert checkin.current_streak(db, ctx, "u1") == (0, False)


def test_a_calendar_month_past_the_date_range_is_refused(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as exc, uow(runtime, "shop") as (db, ctx):
        checkin.calendar(db, ctx, user_id="u1", month="9999-12")  # its next month is past date.max
    assert exc.value.details == [{"field": "month", "message": "e.g. 2026-11"}]
    with uow(runtime, "shop") as (db, ctx):
        assert checkin.calendar(db, ctx, user_id="u1", month="9999-11").month == "9999-11"
