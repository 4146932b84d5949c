"""Privacy hook of the users domain: the user row (openid, unionid, first anonymous id) and the WeChat
session key. Both are deleted on erasure; a later login creates them again (the user id is derived from the
openid, so it comes back the same)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huoli.privacy.hooks import check_scope, delete_rows, plain
from huoli.privacy.hooks import rows as table_rows
from huoli.users.models import User, WxSessionKey


def export_user(db: Session, *, app_id: str, user_id: str) -> dict[str, list[dict[str, Any]]]:
    check_scope(db, app_id)
    keys = db.scalars(select(WxSessionKey).where(WxSessionKey.user_id == user_id)).all()
    return {
        "users": table_rows(db, User, User.id == user_id),
        # The key decrypts the user's WeChat data: its existence and age are exported, never its value.
        "wx_session_keys": [
            {"user_id": k.user_id, "updated_at": plain(k.updated_at), "session_key": "(held)"} for k in keys
        ],
    }


def erase_user(db: Session, *, app_id: str, user_id: str) -> dict[str, int]:
    check_scope(db, app_id)
    return {
        "wx_session_keys": delete_rows(db, WxSessionKey, WxSessionKey.user_id == user_id),
        "users": delete_rows(db, User, User.id == user_id),
    }


def anonymous_ids(db: Session, *, app_id: str, user_id: str) -> list[str]:
    """The device id the user logged in from first: their pre-login events carry it (events.privacy)."""
    check_scope(db, app_id)
    first = db.scalar(select(User.first_anonymous_id).where(User.id == user_id))
    return [first] if first else []
