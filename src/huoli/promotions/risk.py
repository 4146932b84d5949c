"""Fraud controls before fission rewards: velocity limits (user / device / IP) and WeChat's risk rank.

Velocity: fixed windows counted in the database (`promo_velocity`); the limit is a conditional UPDATE
(`count < limit RETURNING`), so concurrent requests can't both take the last slot. Counters share the
action's transaction: an attempt that fails for another reason does not use up the user's allowance.

Risk rank: `POST /wxa/getuserriskrank` (scene 1, marketing) returns 0 (safe) … 4 (riskiest); rewards are
refused above `MAX_RISK_RANK`. The call is made before the unit of work opens (no lock held over HTTP).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from huoli.db import insert_or_ignore
from huoli.errors import HuoliError, UpstreamUnavailable
from huoli.promotions.common import event_key
from huoli.promotions.models import VelocityCounter
from huoli.wechat.client import WeChatClient
from huoli.wechat.errors import WeChatError
from huoli.work import Work

MAX_RISK_RANK = 2  # 0–2 pass; 3 and 4 are WeChat's high-risk ranks

# action → kind → (limit, window seconds). Conservative defaults for a small shop; see docs/promotions.md.
LIMITS: dict[str, dict[str, tuple[int, int]]] = {
    "bargain_help": {"user": (10, 86400), "device": (10, 86400), "ip": (60, 3600)},
    "referral_bind": {"device": (3, 86400), "ip": (30, 3600)},
    "coupon_claim": {"user": (30, 3600), "ip": (300, 3600)},
    "gift_pack": {"device": (2, 86400), "ip": (30, 3600)},
}


class RateLimited(HuoliError):
    status_code = 429
    code = "rate_limited"


class RiskRefused(HuoliError):
    status_code = 403
    code = "risk_refused"


def _window(now: datetime, seconds: int) -> datetime:
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def hit(
    work: Work,
    *,
    action: str,
    user_id: str | None = None,
    device_id: str | None = None,
    ip: str | None = None,
    limits: dict[str, tuple[int, int]] | None = None,
) -> None:
    """Count one `action` for each known subject; raise RateLimited (and roll back) when a limit is reached."""
    db, now = work.db, work.now
    rules = limits if limits is not None else LIMITS.get(action, {})
    subjects = {"user": user_id, "device": device_id, "ip": ip}
    for kind, (limit, seconds) in rules.items():
        subject = subjects.get(kind)
        if not subject:
            continue
        start = _window(now, seconds)
        insert_or_ignore(
            db,
            VelocityCounter,
            {
                "app_id": work.app_id,
                "action": action,
                "kind": kind,
                "subject": subject,
                "window_start": start,
                "count": 0,
            },
        )
        got = db.execute(
            update(VelocityCounter)
            .where(
                VelocityCounter.action == action,
                VelocityCounter.kind == kind,
                VelocityCounter.subject == subject,
                VelocityCounter.window_start == start,
                VelocityCounter.count < limit,
            )
            .values(count=VelocityCounter.count + 1)
            .returning(VelocityCounter.count)
        ).first()
        if got is None:
            raise RateLimited(
                f"too many {action} for this {kind}; try later",
                details=[{"field": kind, "message": f"at most {limit} per {seconds} s"}],
            )


def prune(*, db: Session, before: datetime) -> int:
    ids = db.scalars(select(VelocityCounter.id).where(VelocityCounter.window_start < before)).all()
    if ids:
        from sqlalchemy import delete

        db.execute(delete(VelocityCounter).where(VelocityCounter.id.in_(ids)))
    return len(ids)


def risk_rank(wechat: WeChatClient, *, openid: str, client_ip: str) -> int:
    """WeChat's marketing risk rank for a user; unavailable WeChat fails closed (the reward waits)."""
    try:
        return wechat.get_user_risk_rank(openid, client_ip or "0.0.0.0", scene=1)
    except WeChatError as exc:
        if exc.retryable or exc.errcode is None:
            raise UpstreamUnavailable(
                "WeChat risk check unavailable; retry", details={"errcode": exc.errcode}
            ) from exc
        raise HuoliError(f"WeChat risk check refused: {exc.errmsg}", code="risk_check_failed") from exc


def check_rank(rank: int | None, max_rank: int = MAX_RISK_RANK) -> None:
    """Refuse a fission reward for a high-risk user (None: no WeChat identity to check, e.g. tests)."""
    if rank is not None and rank > max_rank:
        raise RiskRefused("this reward is not available to this account", details={"risk_rank": rank})


def record_block(work: Work, *, user_id: str, action: str, reason: str) -> None:
    work.emit(
        "reward_blocked",
        key=event_key("reward_blocked", f"{action}:{user_id}:{work.now.isoformat()}:{reason}"),
        user_id=user_id,
        properties={"action": action, "reason": reason},
    )
