"""Privacy hook of the privacy domain: the user's consent records.

Exported in full. On erasure they are **anonymised**, not deleted: each row keeps its purpose, decision, policy
version, source and time, with the user id replaced by a random token and the IP and user agent cleared. The
ledger then still shows how many people agreed to which policy version and when, and withdrew (the handler's
record of how it collected consent, PIPL art. 54–55), without leading back to anyone; the proof that the
person's data stopped being processed is the erasure request itself, kept with their user id. The privacy
requests are not part of an export (service.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from huoli.privacy.hooks import ANONYMISED, check_scope, erased_id, rows, update_rows
from huoli.privacy.models import ConsentRecord


def export_user(db: Session, *, app_id: str, user_id: str) -> dict[str, list[dict[str, Any]]]:
    check_scope(db, app_id)
    return {"privacy_consents": rows(db, ConsentRecord, ConsentRecord.user_id == user_id)}


def erase_user(db: Session, *, app_id: str, user_id: str) -> dict[str, int]:
    check_scope(db, app_id)
    values = {"user_id": erased_id(), "ip": None, "user_agent": None}
    n = update_rows(db, ConsentRecord, values, ConsentRecord.user_id == user_id)
    return {"privacy_consents" + ANONYMISED: n}
