"""Privacy hook of the loyalty domain: the member's points ledger (account, transfers, lots and the lot uses
of their debits), check-ins, rewards, badges, task progress, leaderboard scores (SQL, or the Redis sorted
sets when the app's boards live there), growth, tier, profile (birthday) and points-mall redemptions.

All of it is deleted on erasure. Points are a loyalty programme's promise, not money on an account: an erased
member's unspent balance is forfeited. Orders paid with points keep their discount in the merchant's own
records (and promotions keeps the order, anonymised). A deleted leaderboard score also gets its -1 count
delta, so every other member's rank stays right.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from huoli.loyalty.context import load_rules
from huoli.loyalty.models import (
    Checkin,
    GrowthEntry,
    LeaderboardCount,
    LeaderboardScore,
    MallRedemption,
    MemberNote,
    MemberProfile,
    MemberTier,
    PointsAccount,
    PointsLot,
    PointsLotUse,
    PointsTransfer,
    RewardGrant,
    TaskProgress,
    TaskUnit,
    UserBadge,
)
from huoli.loyalty.schemas import LeaderboardRules
from huoli.privacy.hooks import as_dict, check_scope, chunks, delete_rows, rows

log = logging.getLogger(__name__)

# Tables holding the member's rows by a user_id column, in the order they are deleted.
_BY_USER: tuple[Any, ...] = (
    PointsLot,
    PointsTransfer,
    PointsAccount,
    Checkin,
    RewardGrant,
    UserBadge,
    TaskProgress,
    TaskUnit,
    GrowthEntry,
    MemberTier,
    MemberProfile,
    MallRedemption,
    MemberNote,  # operators' changes with their reasons: about the member, so theirs to see and to erase
)
REDIS_TABLE = "redis_leaderboards"


def _ids(db: Session, column: Any, user_column: Any, user_id: str) -> list[int]:
    return [int(i) for i in db.scalars(select(column).where(user_column == user_id))]


def _lot_uses(db: Session, user_id: str) -> list[PointsLotUse]:
    """Lot uses have no user column: the member's are those of their debits or of their lots."""
    found: dict[tuple[int, int], PointsLotUse] = {}
    for column, ids in (
        (PointsLotUse.transfer_id, _ids(db, PointsTransfer.id, PointsTransfer.user_id, user_id)),
        (PointsLotUse.lot_id, _ids(db, PointsLot.id, PointsLot.user_id, user_id)),
    ):
        for part in chunks(ids):
            for use in db.scalars(select(PointsLotUse).where(column.in_(part))):
                found[(use.transfer_id, use.lot_id)] = use
    return [found[k] for k in sorted(found)]


def export_user(db: Session, *, app_id: str, user_id: str) -> dict[str, list[dict[str, Any]]]:
    check_scope(db, app_id)
    out = {m.__tablename__: rows(db, m, m.user_id == user_id) for m in _BY_USER}
    out[PointsLotUse.__tablename__] = [as_dict(u) for u in _lot_uses(db, user_id)]
    out[LeaderboardScore.__tablename__] = rows(db, LeaderboardScore, LeaderboardScore.user_id == user_id)
    board = load_rules(db, app_id).leaderboards
    if board.backend == "redis":
        head = f"{board.key_prefix}lb:{app_id}:"
        out[REDIS_TABLE] = [
            # key = <prefix>lb:<app>:<board>:<period>, and a period may hold a colon itself (d:2026-12-07)
            dict(zip(("board", "period"), key.removeprefix(head).split(":", 1), strict=False), score=score)
            for key, score in _redis_scores(board, app_id, user_id)
        ]
    return out


def erase_user(db: Session, *, app_id: str, user_id: str) -> dict[str, int]:
    check_scope(db, app_id)
    counts: dict[str, int] = {}
    uses = _lot_uses(db, user_id)
    for use in uses:
        db.delete(use)
    db.flush()
    counts[PointsLotUse.__tablename__] = len(uses)
    for model in _BY_USER:
        counts[model.__tablename__] = delete_rows(db, model, model.user_id == user_id)
    scores = db.scalars(select(LeaderboardScore).where(LeaderboardScore.user_id == user_id)).all()
    # Each board period's per-score member counts lose this member (leaderboards.py sums the deltas).
    db.add_all(
        LeaderboardCount(app_id=app_id, board=s.board, period=s.period, score=s.score, n=-1) for s in scores
    )
    counts[LeaderboardScore.__tablename__] = delete_rows(
        db, LeaderboardScore, LeaderboardScore.user_id == user_id
    )
    board = load_rules(db, app_id).leaderboards
    if board.backend == "redis":
        keys = [key for key, _ in _redis_scores(board, app_id, user_id)]
        counts[REDIS_TABLE] = len(keys)
        if keys:
            # After the commit, like every Redis board write: a rolled-back erasure leaves the boards alone.
            event.listen(db, "after_commit", lambda _s: _redis_remove(board, keys, user_id), once=True)
    return counts


def _redis(board: LeaderboardRules) -> Any:
    import redis

    return redis.Redis.from_url(board.redis_url or "redis://127.0.0.1:6379/0")


def _glob(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]\\" else c for c in text)


def _redis_scores(board: LeaderboardRules, app_id: str, user_id: str) -> list[tuple[str, float]]:
    """(key, score) of every board period of the app that holds the member (leaderboards.redis_key)."""
    client = _redis(board)
    try:
        keys = sorted(
            k.decode() for k in client.scan_iter(match=_glob(f"{board.key_prefix}lb:{app_id}:") + "*")
        )
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.zscore(key, user_id)
        return [(k, float(s)) for k, s in zip(keys, pipe.execute(), strict=True) if s is not None]
    finally:
        client.close()


def _redis_remove(board: LeaderboardRules, keys: list[str], user_id: str) -> None:
    client = _redis(board)
    try:
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.zrem(key, user_id)
        pipe.execute()
    except Exception:
        # The database part is committed; say loudly that the boards still hold the member (re-run the erasure).
        log.exception("removing an erased member from %d Redis leaderboards failed", len(keys))
    finally:
        client.close()
