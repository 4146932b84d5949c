"""Consent records (PIPL art. 14–16, 24): what each user agreed to or withdrew, per purpose, append-only.

The ledger (`privacy_consents`) holds one row per change of decision: a user's current state for a purpose is
their latest row for it. Posting the decision already in force (same `granted`, same policy version) writes
nothing, so an SDK that re-sends on every launch leaves no noise.

**The contract for other domains.** A domain that processes personal data for a purpose in `PURPOSES`
(recommendations: `personalised_recommendations`; reach and campaigns: `marketing_messages`; …) must ask
before it does, in its own unit of work (a session scoped to the app):

- `current_consent(db, app_id, user_id, purpose) -> bool | None`: the user's latest decision, None if they
  never made one;
- `current_consents(db, app_id, user_ids, purpose) -> dict[user_id, bool | None]`: the same for many users
  (one query per 500 ids), for a campaign's audience;
- `allows(decision, purpose) -> bool`: the decision, or the purpose's default when there is none
  (`Purpose.default`: opt-out purposes default to allowed, opt-in ones to refused);
- `permitted(db, app_id, user_ids, purpose) -> set[user_id]`: the users the purpose may be applied to now.

A withdrawal takes effect at the next such call (nothing is cached), so a campaign asks when it sends, not
when it is planned. Unknown purposes raise ValueError: a typo must not silently read "no decision".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, get_args

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huoli.privacy.hooks import ERASED_PREFIX, check_scope, chunks
from huoli.privacy.models import ConsentRecord

PurposeName = Literal["privacy_policy", "personalised_recommendations", "marketing_messages", "analytics"]
SOURCES = ("sdk", "server", "operator")


@dataclass(frozen=True)
class Purpose:
    key: str
    basis: str  # authorisation | opt_out | opt_in
    default: bool  # what allows() assumes for a user who never decided
    description: str


PURPOSES: dict[str, Purpose] = {
    p.key: p
    for p in (
        Purpose(
            "privacy_policy",
            "authorisation",
            False,
            "用户隐私保护指引: the user authorised the mini-program's privacy guide (wx.requirePrivacyAuthorize)",
        ),
        Purpose(
            "personalised_recommendations",
            "opt_out",
            True,
            "个性化推荐: recommendations from the user's behaviour; PIPL art. 24 requires an easy opt-out",
        ),
        Purpose(
            "marketing_messages",
            "opt_in",
            False,
            "营销消息: marketing pushes (subscription messages, SMS) to the user; sent only after a yes",
        ),
        Purpose(
            "analytics", "opt_out", True, "analytics: usage statistics beyond what running the service needs"
        ),
    )
}
assert set(PURPOSES) == set(get_args(PurposeName)), "the catalogue and the request schema disagree"


@dataclass(frozen=True)
class Decision:
    purpose: str
    granted: bool
    policy_version: str


@dataclass(frozen=True)
class Origin:
    """Where a decision came from: the row's evidence columns."""

    source: str  # sdk | server | operator
    ip: str | None = None
    user_agent: str | None = None
    recorded_by: str | None = None


def _known(purpose: str) -> None:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown consent purpose {purpose!r} (known: {', '.join(PURPOSES)})")


def _latest(db: Session, user_id: str) -> dict[str, ConsentRecord]:
    """The user's latest row per purpose (their rows are few: one per change of mind)."""
    out: dict[str, ConsentRecord] = {}
    for row in db.scalars(
        select(ConsentRecord).where(ConsentRecord.user_id == user_id).order_by(ConsentRecord.id)
    ):
        out[row.purpose] = row
    return out


def record(
    db: Session, *, user_id: str, decisions: Iterable[Decision], origin: Origin, now: datetime
) -> list[ConsentRecord]:
    """Append the decisions that change the user's state; returns the rows written (none for a repeat).

    Two identical posts racing on PostgreSQL may both append: the state they leave is the same."""
    if origin.source not in SOURCES:
        raise ValueError(f"unknown consent source {origin.source!r}")
    current = _latest(db, user_id)
    written = []
    for d in decisions:
        _known(d.purpose)
        last = current.get(d.purpose)
        if last is not None and last.granted == d.granted and last.policy_version == d.policy_version:
            continue  # already in force: nothing new to prove
        row = ConsentRecord(
            user_id=user_id,
            purpose=d.purpose,
            granted=d.granted,
            policy_version=d.policy_version,
            source=origin.source,
            recorded_at=now,
            ip=origin.ip,
            user_agent=origin.user_agent[:256] if origin.user_agent else None,
            recorded_by=origin.recorded_by,
        )
        db.add(row)
        current[d.purpose] = row
        written.append(row)
    db.flush()
    return written


def state(db: Session, *, user_id: str) -> dict[str, ConsentRecord | None]:
    """Every purpose of the catalogue → the user's latest row for it, or None."""
    latest = _latest(db, user_id)
    return {key: latest.get(key) for key in PURPOSES}


def history(db: Session, *, user_id: str, limit: int = 200) -> list[ConsentRecord]:
    """The user's decisions, newest first."""
    q = select(ConsentRecord).where(ConsentRecord.user_id == user_id)
    return list(db.scalars(q.order_by(ConsentRecord.id.desc()).limit(limit)))


def current_consent(db: Session, app_id: str, user_id: str, purpose: str) -> bool | None:
    """The user's latest decision for the purpose; None if they never made one."""
    return current_consents(db, app_id, [user_id], purpose)[user_id]


def current_consents(
    db: Session, app_id: str, user_ids: Iterable[str], purpose: str
) -> dict[str, bool | None]:
    """Each user's latest decision for the purpose (None: never decided)."""
    check_scope(db, app_id)  # the app filter comes from the session's scope: refuse any other session
    _known(purpose)
    ids = list(dict.fromkeys(user_ids))
    out: dict[str, bool | None] = dict.fromkeys(ids)
    for part in chunks(ids):
        q = (
            select(ConsentRecord.user_id, ConsentRecord.granted)
            .where(ConsentRecord.purpose == purpose, ConsentRecord.user_id.in_(part))
            .order_by(ConsentRecord.id)
        )
        for uid, granted in db.execute(q):
            out[uid] = bool(granted)  # ascending ids: the latest decision wins
    return out


def allows(decision: bool | None, purpose: str) -> bool:
    """The decision, or the purpose's default when the user never made one."""
    _known(purpose)
    return PURPOSES[purpose].default if decision is None else decision


def permitted(db: Session, app_id: str, user_ids: Iterable[str], purpose: str) -> set[str]:
    """The users the purpose may be applied to now (their decision, or the default)."""
    return {uid for uid, d in current_consents(db, app_id, user_ids, purpose).items() if allows(d, purpose)}


@dataclass
class PurposeCount:
    purpose: str
    basis: str
    granted: int = 0
    withdrawn: int = 0
    granted_by_version: dict[str, int] = field(default_factory=dict)


def summary(db: Session) -> list[PurposeCount]:
    """Per purpose: users whose current decision is yes (by policy version) and no, in the session's app.
    Anonymised rows (erased users) are left out: they are nobody's state any more."""
    latest = select(func.max(ConsentRecord.id)).group_by(ConsentRecord.user_id, ConsentRecord.purpose)
    q = (
        select(ConsentRecord.purpose, ConsentRecord.granted, ConsentRecord.policy_version, func.count())
        .where(ConsentRecord.id.in_(latest), ~ConsentRecord.user_id.startswith(ERASED_PREFIX))
        .group_by(ConsentRecord.purpose, ConsentRecord.granted, ConsentRecord.policy_version)
    )
    out = {key: PurposeCount(key, p.basis) for key, p in PURPOSES.items()}
    for purpose, granted, version, n in db.execute(q):
        entry = out.get(purpose)
        if entry is None:
            continue  # a purpose dropped from the catalogue: its rows stay as evidence, not as state
        if granted:
            entry.granted += n
            entry.granted_by_version[version] = entry.granted_by_version.get(version, 0) + n
        else:
            entry.withdrawn += n
    return list(out.values())
