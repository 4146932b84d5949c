"""Privacy hook of the auth domain. Server nonces identify requests of the merchant's backend, not people:
not exported, not erased. Session revocations name the user: exported, and kept on erasure — deleting one
would make a revoked token valid again; each expires with the last token it covers (`huoli auth prune`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huoli.auth.models import SessionRevocation
from huoli.privacy.hooks import KEPT, check_scope, plain


def export_user(db: Session, *, app_id: str, user_id: str) -> dict[str, list[dict[str, Any]]]:
    check_scope(db, app_id)
    found = db.scalars(
        select(SessionRevocation).where(SessionRevocation.user_id == user_id).order_by(SessionRevocation.id)
    )
    return {
        "session_revocations": [
            {
                "user_id": r.user_id,
                "scope": "one session" if r.jti else "all sessions issued before",
                "revoked_at": plain(r.revoked_at),
                "expires_at": plain(r.expires_at),
            }
            for r in found
        ]
    }


def erase_user(db: Session, *, app_id: str, user_id: str) -> dict[str, int]:
    check_scope(db, app_id)
    kept = db.scalar(
        select(func.count()).select_from(SessionRevocation).where(SessionRevocation.user_id == user_id)
    )
    return {f"session_revocations{KEPT}": int(kept or 0)}
