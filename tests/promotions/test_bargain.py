"""Bargaining (砍价): deterministic pre-allocated cuts, one help per helper, floor and expiry."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from tests.promotions.helpers import at, race

from huoli.errors import Conflict, HuoliError, ValidationFailed
from huoli.promotions import bargain
from huoli.promotions.models import Bargain, BargainHelp
from huoli.promotions.schemas import BargainCampaignIn

APP = "shop"
NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


@given(st.integers(min_value=1, max_value=200), st.integers(min_value=0, max_value=10_000_000))
def test_cuts_sum_exactly_are_positive_non_increasing_and_deterministic(helpers: int, extra: int) -> None:
    total = helpers + extra
    cuts = bargain.allocate_cuts(total, helpers)
    assert len(cuts) == helpers and sum(cuts) == total
    assert all(c >= 1 for c in cuts)
    assert all(a >= b for a, b in itertools.pairwise(cuts))
    assert cuts == bargain.allocate_cuts(total, helpers)


def test_cut_examples_and_bad_input() -> None:
    assert bargain.allocate_cuts(9900, 5) == [3300, 2640, 1980, 1320, 660]
    assert bargain.allocate_cuts(3, 3) == [1, 1, 1]
    with pytest.raises(ValueError):
        bargain.allocate_cuts(2, 3)


def setup(uow, helpers: int = 5) -> str:  # type: ignore[no-untyped-def]
    spec = BargainCampaignIn(
        id="b5",
        name="邀请5人砍价免费得",
        item_id="cup",
        price_fen=9900,
        floor_fen=0,
        helpers_needed=helpers,
        duration_s=86400,
    )
    with uow() as db:
        return bargain.create_campaign(at(db, uow.runtime, NOW), spec=spec).rules_text


def test_rules_are_stated_and_random_outcomes_refused(uow) -> None:  # type: ignore[no-untyped-def]
    text = setup(uow)
    assert "邀请5位好友助力" in text and "已确定" in text
    with pytest.raises(ValidationFailed), uow() as db:
        bargain.create_campaign(
            at(db, uow.runtime, NOW),
            spec=BargainCampaignIn(
                id="r", name="r", item_id="i", price_fen=100, floor_fen=0, helpers_needed=2, random_cuts=True
            ),
        )


def test_help_flow(uow, runtime) -> None:  # type: ignore[no-untyped-def]
    setup(uow, helpers=3)
    with uow() as db:
        b = bargain.start(at(db, runtime, NOW), campaign_id="b5", user_id="owner")
        assert bargain.start(at(db, runtime, NOW), campaign_id="b5", user_id="owner").id == b.id
        bid = b.id
    with pytest.raises(HuoliError) as e, uow() as db:
        bargain.help_bargain(at(db, runtime, NOW), bargain_id=bid, helper_user_id="owner")
    assert e.value.code == "self_help"
    cuts = []
    for h in ("f1", "f2", "f3"):
        with uow() as db:
            cuts.append(bargain.help_bargain(at(db, runtime, NOW), bargain_id=bid, helper_user_id=h).cut_fen)
        if h == "f1":
            with pytest.raises(Conflict) as e, uow() as db:
                bargain.help_bargain(at(db, runtime, NOW), bargain_id=bid, helper_user_id="f1")
            assert e.value.code == "already_helped"
    assert cuts == bargain.allocate_cuts(9900, 3)
    with uow() as db:
        b = db.get(Bargain, bid)
        assert b is not None and (b.status, b.current_price_fen, b.helped_count) == ("completed", 0, 3)
        with pytest.raises(Conflict) as e:
            bargain.help_bargain(at(db, runtime, NOW), bargain_id=bid, helper_user_id="f4")
        assert e.value.code == "bargain_completed"


def test_expiry(uow, runtime) -> None:  # type: ignore[no-untyped-def]
    setup(uow)
    with uow() as db:
        bid = bargain.start(at(db, runtime, NOW), campaign_id="b5", user_id="owner").id
    later = NOW + timedelta(days=1)
    with pytest.raises(Conflict) as e, uow() as db:
        bargain.help_bargain(at(db, runtime, later), bargain_id=bid, helper_user_id="f1")
    assert e.value.code == "bargain_expired"
    with uow() as db:
        assert bargain.expire(at(db, runtime, later)) == 1
    with uow() as db:
        assert bargain.expire(at(db, runtime, later)) == 0


def test_concurrent_helpers_take_each_cut_once(uow, runtime) -> None:  # type: ignore[no-untyped-def]
    setup(uow, helpers=5)
    with uow() as db:
        bid = bargain.start(at(db, runtime, NOW), campaign_id="b5", user_id="owner").id

    def go(i: int) -> int:  # 12 friends, 3 of them twice
        with uow() as db:
            return bargain.help_bargain(at(db, runtime, NOW), bargain_id=bid, helper_user_id=f"f{i % 9}").seq

    results = race(12, go)
    assert sorted(r for r in results if isinstance(r, int)) == [1, 2, 3, 4, 5]
    assert all(isinstance(r, int | Conflict) for r in results)
    with uow() as db:
        assert db.scalar(select(func.sum(BargainHelp.cut_fen))) == 9900
        assert db.scalar(select(func.count(func.distinct(BargainHelp.helper_user_id)))) == 5
        b = db.get(Bargain, bid)
        assert b is not None and b.current_price_fen == 0 and b.status == "completed"
