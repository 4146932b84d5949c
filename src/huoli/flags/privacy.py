"""Privacy hook of the flags domain: the user's preferences, the sticky buckets keyed by their id and their
experiment exposures, all deleted on erasure (their events go too, so the experiment results stay consistent).
Sticky buckets and exposures keyed by a device id instead of the user id are not matched. GET /v1/flags writes
exposures and sticky buckets off the request path and caches a user's state for 30 s: the erasure flushes the
first before it starts (`settle`) and drops the second once it commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from huoli.flags import service, writer
from huoli.flags.models import Exposure, StickyBucket, UserPreference
from huoli.privacy.hooks import check_scope, delete_rows, rows


def export_user(db: Session, *, app_id: str, user_id: str) -> dict[str, list[dict[str, Any]]]:
    check_scope(db, app_id)
    return {
        "user_preferences": rows(db, UserPreference, UserPreference.user_id == user_id),
        "flag_sticky_buckets": rows(db, StickyBucket, StickyBucket.attribute_value == user_id),
        "experiment_exposures": rows(db, Exposure, Exposure.unit_id == user_id),
    }


def settle(factory: sessionmaker[Session], *, app_id: str, user_id: str) -> None:
    """Write the queued exposures and sticky assignments now, so none lands after the erasure."""
    writer.writer_for(factory).flush()


def erase_user(db: Session, *, app_id: str, user_id: str) -> dict[str, int]:
    check_scope(db, app_id)
    event.listen(db, "after_commit", lambda _s: service.forget_user(app_id, user_id), once=True)
    return {
        "user_preferences": delete_rows(db, UserPreference, UserPreference.user_id == user_id),
        "flag_sticky_buckets": delete_rows(db, StickyBucket, StickyBucket.attribute_value == user_id),
        "experiment_exposures": delete_rows(db, Exposure, Exposure.unit_id == user_id),
    }
