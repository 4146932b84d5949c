"""The exposure ledger and sticky buckets: the writes GET /v1/flags queues (writer.py) and the rest call."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huoli.db import insert_or_ignore
from huoli.events import service as events
from huoli.flags.models import Exposure, StickyBucket
from huoli.settings import Settings


def save_sticky(
    db: Session, app_id: str, unit: str, docs: Mapping[str, Mapping[str, Any]], now: datetime
) -> None:
    doc = docs.get(f"id||{unit}")
    if doc is None:
        return
    if not insert_or_ignore(
        db,
        StickyBucket,
        {
            "app_id": app_id,
            "attribute_name": "id",
            "attribute_value": unit,
            "assignments": dict(doc["assignments"]),
            "updated_at": now,
        },
        ["app_id", "attribute_name", "attribute_value"],
    ):
        row = db.scalar(
            select(StickyBucket).where(
                StickyBucket.attribute_name == "id", StickyBucket.attribute_value == unit
            )
        )
        assert row is not None
        row.assignments = dict(row.assignments) | dict(doc["assignments"])
        row.updated_at = now


def record_exposures_bulk(
    *, db: Session, app_id: str, rows: list[dict[str, Any]], now: datetime, settings: Settings
) -> int:
    """Many first exposures in one statement; the ledger's unique key returns only the new ones, which emit.

    rows: {experiment_key, unit_id, variant, user_id, anonymous_id, flag}.
    """
    if not rows:
        return 0
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
    values = [
        {
            "app_id": app_id,
            "experiment_key": r["experiment_key"],
            "unit_id": r["unit_id"],
            "variant": r["variant"],
            "first_at": now,
        }
        for r in rows
    ]
    stmt = (
        dialect_insert(Exposure)
        .values(values)
        .on_conflict_do_nothing(index_elements=["app_id", "experiment_key", "unit_id"])
        .returning(Exposure.experiment_key, Exposure.unit_id)
    )
    inserted = {(k, u) for k, u in db.execute(stmt)}
    for r in rows:
        key = (r["experiment_key"], r["unit_id"])
        if key not in inserted:
            continue
        inserted.discard(key)  # a repeat inside the batch emits once
        events.emit(
            db=db,
            app_id=app_id,
            name="experiment_exposure",
            ts=now,
            idempotency_key=f"exposure:{r['experiment_key']}:{r['unit_id']}",
            user_id=r["user_id"],
            anonymous_id=r["anonymous_id"],
            properties={"experiment": r["experiment_key"], "variant": r["variant"], "flag": r["flag"]},
            settings=settings,
        )
    return len(rows)


def record_exposures(
    *,
    db: Session,
    app_id: str,
    user_id: str | None,
    anonymous_id: str | None,
    exposures: Mapping[str, str],
    flags: Mapping[str, str],
    now: datetime,
    settings: Settings,
) -> int:
    """Log each (experiment, unit) once: the unique key decides, so concurrent first requests emit once."""
    unit = user_id or anonymous_id
    if unit is None:
        return 0
    emitted = 0
    for exp_key, variant in exposures.items():
        if insert_or_ignore(
            db,
            Exposure,
            {
                "app_id": app_id,
                "experiment_key": exp_key,
                "unit_id": unit,
                "variant": variant,
                "first_at": now,
            },
            ["app_id", "experiment_key", "unit_id"],
        ):
            events.emit(
                db=db,
                app_id=app_id,
                name="experiment_exposure",
                ts=now,
                idempotency_key=f"exposure:{exp_key}:{unit}",
                user_id=user_id,
                anonymous_id=anonymous_id,
                properties={"experiment": exp_key, "variant": variant, "flag": flags.get(exp_key, "")},
                settings=settings,
            )
            emitted += 1
    return emitted
