"""排行榜 leaderboards on any metric, per period (day / ISO week / month in the app's timezone, and all time).

Ranking is competition ranking ("1, 2, 2, 4"): a member's rank is 1 + the number of members with a strictly
higher score, so ties share a rank and the next rank skips. Order within a tie is by user id (stable).
The SQL store answers top-N from the (app, board, period, score) index and "my rank" by summing per-score
member counts above mine (count deltas appended on every write, folded by `compact`);
the Redis backend keeps one sorted set per board and period (ZREVRANGE / ZCOUNT), written after the
database transaction commits so a rolled-back use case never shows on a board.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any, Literal

from sqlalchemy import event, func, insert, select
from sqlalchemy.orm import Session

from huoli.loyalty import repository
from huoli.loyalty.context import Ctx
from huoli.loyalty.models import LeaderboardCount, LeaderboardScore
from huoli.loyalty.schemas import BoardEntry, BoardOut

log = logging.getLogger(__name__)

Period = Literal["day", "week", "month", "all"]
PERIODS: tuple[Period, ...] = ("day", "week", "month", "all")


def period_key(period: Period, day: date) -> str:
    if period == "day":
        return f"d:{day.isoformat()}"
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"w:{year}-W{week:02d}"
    if period == "month":
        return f"m:{day.year}-{day.month:02d}"
    return "all"


def _redis(ctx: Ctx) -> Any:
    import redis

    url = ctx.rules.leaderboards.redis_url or "redis://127.0.0.1:6379/0"
    client = _clients.get(url)
    if client is None:
        client = _clients[url] = redis.Redis.from_url(url)
    return client


_clients: dict[str, Any] = {}


def redis_key(ctx: Ctx, board: str, period: str) -> str:
    return f"{ctx.rules.leaderboards.key_prefix}lb:{ctx.app_id}:{board}:{period}"


def record(db: Session, ctx: Ctx, *, user_id: str, board: str, value: int, mode: str = "add") -> None:
    """Add `value` to (or, mode=max, raise to `value`) the member's score on every period of `board`."""
    periods = [period_key(p, ctx.today) for p in PERIODS]
    if ctx.rules.leaderboards.backend == "redis":
        _after_commit(db, ctx, board, periods, user_id, value, mode)
        return
    _record_sql(db, ctx, board, periods, user_id, value, mode)


def _record_sql(
    db: Session, ctx: Ctx, board: str, periods: list[str], user_id: str, value: int, mode: str
) -> None:
    """Update the scores and append the matching count deltas (+1 at the new score, -1 at the old one).

    The deltas are plain inserts — no row two members could contend on — and `compact` folds them into one
    row per score; "my rank" sums them over the scores above mine, so its cost follows the number of
    distinct scores, not of members.
    """
    table = LeaderboardScore.__table__
    pg = db.get_bind().dialect.name == "postgresql"
    rows = [
        {
            "app_id": ctx.app_id,
            "board": board,
            "period": p,
            "user_id": user_id,
            "score": value,
            "updated_at": ctx.now,
        }
        for p in periods
    ]
    if pg:
        # One statement: the upsert keeps the old score in `prev` and reports whether it inserted, and the
        # outer INSERT appends the matching deltas — atomic under concurrent writers of the same member.
        params: dict[str, object] = {
            "board": board,
            "user": user_id,
            "v": value,
            "now": ctx.now,
        }
        params |= {f"p{i}": p for i, p in enumerate(periods)}
        if db.new or db.dirty or db.deleted:
            db.flush()  # a Core statement doesn't autoflush
        repository.record_score_pg(db, len(periods), mode, params)
        return
    # SQLite serialises writers (BEGIN IMMEDIATE): a plain read of the old scores is stable.
    old: dict[str, int | None] = {}
    new: dict[str, int] = {}
    current = dict(
        db.execute(
            select(LeaderboardScore.period, LeaderboardScore.score).where(
                LeaderboardScore.board == board,
                LeaderboardScore.user_id == user_id,
                LeaderboardScore.period.in_(periods),
            )
        ).all()
    )
    for p in periods:
        before = current.get(p)
        old[p] = None if before is None else int(before)
        new[p] = (
            value if before is None else (int(before) + value if mode == "add" else max(int(before), value))
        )
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    ins = sqlite_insert(LeaderboardScore).values(rows)
    db.execute(
        ins.on_conflict_do_update(
            index_elements=["app_id", "board", "period", "user_id"],
            set_={
                "score": table.c.score + ins.excluded.score
                if mode == "add"
                else func.max(table.c.score, ins.excluded.score),
                "updated_at": ins.excluded.updated_at,
            },
        )
    )
    deltas = []
    for p in periods:
        if old[p] == new[p]:
            continue
        deltas.append({"app_id": ctx.app_id, "board": board, "period": p, "score": new[p], "n": 1})
        if old[p] is not None:
            deltas.append({"app_id": ctx.app_id, "board": board, "period": p, "score": old[p], "n": -1})
    if deltas:
        db.execute(insert(LeaderboardCount), deltas)


def compact(db: Session, ctx: Ctx) -> int:
    """Fold the app's count deltas into one row per (board, period, score); returns rows folded."""
    top = db.scalar(select(func.max(LeaderboardCount.id)))
    if top is None:
        return 0
    return repository.fold_board_counts(db, top)


def _after_commit(
    db: Session, ctx: Ctx, board: str, periods: list[str], user_id: str, value: int, mode: str
) -> None:
    pending: list[tuple[Any, ...]] = db.info.setdefault("loyalty_redis", [])
    pending.append((ctx, board, periods, user_id, value, mode))
    if not db.info.get("loyalty_redis_hooked"):
        db.info["loyalty_redis_hooked"] = True
        event.listen(db, "after_commit", _flush_redis, once=True)
        event.listen(db, "after_rollback", _drop_redis, once=True)


def _flush_redis(db: Session) -> None:
    ops = db.info.pop("loyalty_redis", [])
    db.info.pop("loyalty_redis_hooked", None)
    if not ops:
        return
    try:
        pipe = _redis(ops[0][0]).pipeline(transaction=False)
        for ctx, board, periods, user_id, value, mode in ops:
            for p in periods:
                key = redis_key(ctx, board, p)
                if mode == "max":
                    pipe.zadd(key, {user_id: value}, gt=True)
                else:
                    pipe.zincrby(key, value, user_id)
        pipe.execute()
    except Exception:
        # The use case has committed; a board that misses an increment must not turn it into an error.
        log.exception("leaderboard update to Redis failed (%d operations lost)", len(ops))


def _drop_redis(db: Session) -> None:
    db.info.pop("loyalty_redis", None)
    db.info.pop("loyalty_redis_hooked", None)


def _ranked(rows: list[tuple[str, int]]) -> list[BoardEntry]:
    out: list[BoardEntry] = []
    for i, (user_id, score) in enumerate(rows):
        rank = out[-1].rank if out and out[-1].score == score else i + 1
        out.append(BoardEntry(rank=rank, user_id=user_id, score=int(score)))
    return out


def standings(
    db: Session,
    ctx: Ctx,
    *,
    board: str,
    period: Period,
    top: int = 100,
    user_id: str | None = None,
    day: date | None = None,
) -> BoardOut:
    key = period_key(period, day or ctx.today)
    if ctx.rules.leaderboards.backend == "redis":
        return _standings_redis(ctx, board, key, top, user_id)
    base = select(LeaderboardScore.user_id, LeaderboardScore.score).where(
        LeaderboardScore.board == board, LeaderboardScore.period == key
    )
    rows = [
        (r[0], int(r[1]))
        for r in db.execute(base.order_by(LeaderboardScore.score.desc(), LeaderboardScore.user_id).limit(top))
    ]
    entries = _ranked(rows)
    me = None
    if user_id is not None:
        me = next((e for e in entries if e.user_id == user_id), None)
        if me is None:
            mine = db.scalar(
                select(LeaderboardScore.score).where(
                    LeaderboardScore.board == board,
                    LeaderboardScore.period == key,
                    LeaderboardScore.user_id == user_id,
                )
            )
            if mine is not None:
                higher = db.scalar(
                    select(func.coalesce(func.sum(LeaderboardCount.n), 0)).where(
                        LeaderboardCount.board == board,
                        LeaderboardCount.period == key,
                        LeaderboardCount.score > mine,
                    )
                )
                me = BoardEntry(rank=int(higher or 0) + 1, user_id=user_id, score=int(mine))
    return BoardOut(board=board, period=key, top=entries, me=me)


def _standings_redis(ctx: Ctx, board: str, key: str, top: int, user_id: str | None) -> BoardOut:
    r = _redis(ctx)
    zkey = redis_key(ctx, board, key)
    pipe = r.pipeline(transaction=False)
    pipe.zrevrange(zkey, 0, top - 1, withscores=True)
    if user_id is not None:
        pipe.zscore(zkey, user_id)
    got = pipe.execute()
    # Redis orders ties by member descending; re-sort ties by user id ascending to match the SQL store.
    rows = sorted(((m.decode(), int(s)) for m, s in got[0]), key=lambda t: (-t[1], t[0]))
    entries = _ranked(rows)
    me = None
    if user_id is not None and got[1] is not None:
        me = next((e for e in entries if e.user_id == user_id), None)
        if me is None:
            higher = r.zcount(zkey, f"({got[1]}", "+inf")
            me = BoardEntry(rank=int(higher) + 1, user_id=user_id, score=int(got[1]))
    return BoardOut(board=board, period=key, top=entries, me=me)
