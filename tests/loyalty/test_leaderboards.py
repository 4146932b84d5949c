"""Leaderboards: periods in the app timezone, competition ranking (1, 2, 2, 4), top-N and my rank, on the SQL
store (SQLite, PostgreSQL) and the Redis sorted-set backend (local Redis, db 13, keys prefixed per test)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import redis
from tests.loyalty.helpers import set_rules, uow

from huoli.loyalty import leaderboards
from huoli.runtime import Runtime

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 11, 9, tzinfo=SH)  # a Wednesday
REDIS_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture(params=["sql", "redis"])
def backend(request: pytest.FixtureRequest, runtime: Runtime, make_app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    make_app("shop")
    if request.param == "sql":
        yield "sql"
        return
    prefix = f"test:{uuid.uuid4().hex[:10]}:"
    set_rules(
        runtime,
        "shop",
        lambda r: (
            setattr(r.leaderboards, "backend", "redis"),
            setattr(r.leaderboards, "redis_url", REDIS_URL),
            setattr(r.leaderboards, "key_prefix", prefix),
        ),
    )
    yield "redis"
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def feed(runtime: Runtime, scores: dict[str, int], board: str = "study_minutes", now: datetime = NOW) -> None:
    with uow(runtime, "shop", now) as (db, ctx):
        for user, value in scores.items():
            leaderboards.record(db, ctx, user_id=user, board=board, value=value)


def standings(
    runtime: Runtime,
    period: leaderboards.Period = "week",
    top: int = 10,
    user: str | None = None,
    now: datetime = NOW,
) -> leaderboards.BoardOut:
    with uow(runtime, "shop", now) as (db, ctx):
        return leaderboards.standings(db, ctx, board="study_minutes", period=period, top=top, user_id=user)


def test_ties_share_a_rank_and_the_next_rank_skips(runtime: Runtime, backend: str) -> None:
    feed(runtime, {"a": 50, "b": 40, "c": 40, "d": 10, "e": 5})
    out = standings(runtime, top=4, user="e")
    assert [(e.rank, e.user_id, e.score) for e in out.top] == [
        (1, "a", 50),
        (2, "b", 40),
        (2, "c", 40),
        (4, "d", 10),
    ]
    assert out.me is not None and (out.me.rank, out.me.score) == (5, 5)
    assert standings(runtime, user="c").me.rank == 2  # type: ignore[union-attr]
    assert standings(runtime, user="nobody").me is None


def test_scores_add_up_per_period_in_local_time(runtime: Runtime, backend: str) -> None:
    feed(runtime, {"a": 10})
    feed(runtime, {"a": 5})
    # Sunday 23:30 local belongs to week 11; Monday 00:30 local (still Sunday in UTC) starts week 12.
    feed(runtime, {"a": 7}, now=datetime(2026, 3, 15, 23, 30, tzinfo=SH))
    feed(runtime, {"a": 1}, now=datetime(2026, 3, 16, 0, 30, tzinfo=SH))  # Monday: a new week
    assert standings(runtime, "day").top[0].score == 15
    assert standings(runtime, "week").top[0].score == 22
    assert standings(runtime, "month").top[0].score == 23
    assert standings(runtime, "all").top[0].score == 23
    assert standings(runtime, "week", now=datetime(2026, 3, 16, 9, tzinfo=SH)).top[0].score == 1
    assert standings(runtime, "day").period == "d:2026-03-11"
    assert leaderboards.period_key("week", date(2026, 3, 11)) == "w:2026-W11"


def test_max_mode_keeps_the_best(runtime: Runtime, backend: str) -> None:
    with uow(runtime, "shop", NOW) as (db, ctx):
        for v in (3, 9, 4):
            leaderboards.record(db, ctx, user_id="a", board="study_minutes", value=v, mode="max")
    assert standings(runtime, "all").top[0].score == 9


def test_rolled_back_scores_never_reach_the_board(runtime: Runtime, backend: str) -> None:
    with pytest.raises(RuntimeError), uow(runtime, "shop", NOW) as (db, ctx):
        leaderboards.record(db, ctx, user_id="ghost", board="study_minutes", value=100)
        raise RuntimeError("use case failed")
    feed(runtime, {"real": 1})
    assert [e.user_id for e in standings(runtime, "all").top] == ["real"]


def naive_rank(runtime: Runtime, user: str, period: str) -> int | None:
    from sqlalchemy import select

    from huoli.loyalty.models import LeaderboardScore

    with uow(runtime, "shop", NOW) as (db, _):
        scores = dict(
            db.execute(
                select(LeaderboardScore.user_id, LeaderboardScore.score).where(
                    LeaderboardScore.board == "study_minutes", LeaderboardScore.period == period
                )
            ).all()
        )
    if user not in scores:
        return None
    return 1 + sum(s > scores[user] for s in scores.values())


def test_sql_my_rank_matches_a_naive_count_through_compaction(runtime: Runtime, make_app) -> None:  # type: ignore[no-untyped-def]
    import random

    make_app("shop")
    rng = random.Random(5)
    users = [f"m{i}" for i in range(25)]
    for step in range(120):
        with uow(runtime, "shop", NOW) as (db, ctx):
            leaderboards.record(
                db,
                ctx,
                user_id=rng.choice(users),
                board="study_minutes",
                value=rng.randint(0, 30),
                mode=rng.choice(["add", "max"]),
            )
        if step in (40, 41, 90):
            with uow(runtime, "shop", NOW) as (db, ctx):
                leaderboards.compact(db, ctx)
    for u in users:
        me = standings(runtime, "all", top=3, user=u).me
        assert (me.rank if me else None) == naive_rank(runtime, u, "all"), u


def test_concurrent_writers_keep_ranks_exact(runtime: Runtime, make_app) -> None:  # type: ignore[no-untyped-def]
    from tests.loyalty.helpers import race

    make_app("shop")

    def write(i: int) -> None:
        with uow(runtime, "shop", NOW) as (db, ctx):
            leaderboards.record(
                db,
                ctx,
                user_id=f"m{i % 4}",
                board="study_minutes",
                value=i % 7 + 1,
                mode="max" if i % 3 == 0 else "add",
            )

    assert all(r is None for r in race(24, write))
    with uow(runtime, "shop", NOW) as (db, ctx):
        leaderboards.compact(db, ctx)
    for u in ("m0", "m1", "m2", "m3"):
        assert standings(runtime, "all", top=1, user=u).me.rank == naive_rank(runtime, u, "all")  # type: ignore[union-attr]
