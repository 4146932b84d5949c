"""The loyalty repository's hand-written SQL stays inside its app: two apps with the same boards and the same
user ids, act on one, check the other (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from tests.loyalty.helpers import uow

from huoli.db import unit_of_work
from huoli.loyalty import leaderboards
from huoli.loyalty.models import LeaderboardCount, LeaderboardScore
from huoli.runtime import Runtime

NOW = datetime(2026, 3, 11, 9, tzinfo=ZoneInfo("Asia/Shanghai"))


def _feed(runtime: Runtime, app: str, scores: dict[str, int]) -> None:
    with uow(runtime, app, NOW) as (db, ctx):
        for user, value in scores.items():
            leaderboards.record(db, ctx, user_id=user, board="minutes", value=value)


def _rows(runtime: Runtime, app: str) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    with unit_of_work(runtime.sessions) as db:  # unscoped: sees every app
        counts = db.execute(
            select(LeaderboardCount.id, LeaderboardCount.period, LeaderboardCount.score, LeaderboardCount.n)
            .where(LeaderboardCount.app_id == app)
            .order_by(LeaderboardCount.id)
        ).all()
        scores = db.execute(
            select(LeaderboardScore.period, LeaderboardScore.user_id, LeaderboardScore.score)
            .where(LeaderboardScore.app_id == app)
            .order_by(LeaderboardScore.period, LeaderboardScore.user_id)
        ).all()
    return [tuple(r) for r in counts], [tuple(r) for r in scores]


def _ranks(runtime: Runtime, app: str, users: list[str]) -> dict[str, int | None]:
    with uow(runtime, app, NOW) as (db, ctx):
        return {
            u: leaderboards.standings(db, ctx, board="minutes", period="week", top=1, user_id=u).me.rank  # type: ignore[union-attr]
            for u in users
        }


def test_recording_and_compacting_one_app_leave_the_other_untouched(runtime: Runtime, make_app) -> None:  # type: ignore[no-untyped-def]
    make_app("alpha")
    make_app("beta")
    users = ["u1", "u2", "u3"]
    _feed(runtime, "alpha", {"u1": 5, "u2": 3, "u3": 1})
    _feed(runtime, "beta", {"u1": 1, "u2": 3, "u3": 5})  # the same user ids, opposite order
    beta_before = _rows(runtime, "beta")
    _feed(runtime, "alpha", {"u3": 10})  # u3 overtakes in alpha only: rewrites alpha's scores and deltas
    with uow(runtime, "alpha", NOW) as (db, ctx):
        assert leaderboards.compact(db, ctx) > 0
    assert _rows(runtime, "beta") == beta_before  # not one of beta's rows deleted, folded or rescored
    alpha_counts, alpha_scores = _rows(runtime, "alpha")
    assert all(n > 0 for *_, n in alpha_counts)  # folded: one positive row per score left
    assert len(alpha_scores) == len(beta_before[1])  # same members and periods in both apps
    assert _ranks(runtime, "alpha", users) == {"u1": 2, "u2": 3, "u3": 1}
    assert _ranks(runtime, "beta", users) == {"u1": 3, "u2": 2, "u3": 1}
    with uow(runtime, "beta", NOW) as (db, ctx):  # and compacting beta afterwards keeps both right
        leaderboards.compact(db, ctx)
    assert _ranks(runtime, "alpha", users) == {"u1": 2, "u2": 3, "u3": 1}
    assert _ranks(runtime, "beta", users) == {"u1": 3, "u2": 2, "u3": 1}
