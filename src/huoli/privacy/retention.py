"""Retention periods (PIPL art. 19: personal information is kept no longer than its purpose needs).

Two kinds of personal data have a retention period (settings; docs/reliability.md#retention-periods):
- events (`event_retention_days`, 0 = forever): an app's events from before local midnight, in the app's
  timezone, `days` days before today are deleted from the event store, and the analytics rollup rows built from
  them with them (rows spanning the cutoff are computed again: the rollups stay equal to a rebuild);
- WeChat session keys (`wx_session_key_retention_days`): a key no login refreshed within the period goes (the
  users domain deletes it).

`apply_retention` does both for a runtime; a job calls it as it is. The two halves are public because they
need different stores: the keys need only the operational database (so `huoli privacy retention` prunes them
beside `huoli serve`), the events the event store. Each run is idempotent, records one audit entry per app and
kind that deleted something (counts and cutoff, never the data), and runs while serving: the event store part
holds the rollup lock erasures take, and deletes like an erasure (journaled events are loaded first).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from huoli.analytics import privacy as rollups
from huoli.apps.models import App
from huoli.audit import service as audit
from huoli.db import read_only, unit_of_work
from huoli.errors import ValidationFailed
from huoli.events.stores import EventStore, before
from huoli.runtime import Runtime
from huoli.users import service as users

# Who the audit trail names when a job (not a person at a shell) applies the retention periods.
SYSTEM = audit.Actor(kind="system", id="retention")
ACTION = "privacy retention"
MAX_DAYS = 36_500


def check_days(name: str, days: int) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_DAYS:
        raise ValidationFailed(
            f"{name} must be a whole number of days from 0 (keep forever) to {MAX_DAYS}, not {days!r}",
            code="invalid_retention",
        )
    return days


def event_cutoff(now: datetime, days: int, tz: str) -> datetime:
    """Local midnight `days` days before today in `tz`: whole local days stay, so the app's own-timezone
    rollup rows never span the cutoff."""
    if now.tzinfo is None:
        raise ValueError("naive now refused: retention counts from an aware instant")
    zone = ZoneInfo(tz)
    first_kept: date = now.astimezone(zone).date() - timedelta(days=days)
    return datetime.combine(first_kept, time(0), zone)


def session_key_cutoff(now: datetime, days: int) -> datetime:
    if now.tzinfo is None:
        raise ValueError("naive now refused: retention counts from an aware instant")
    return now - timedelta(days=days)


def prune_session_keys(
    sessions: sessionmaker[Session],
    *,
    days: int,
    now: datetime,
    dry_run: bool = False,
    actor: audit.Actor = SYSTEM,
) -> dict[str, Any]:
    """Delete (or with dry_run count) the WeChat session keys not refreshed within `days`; 0 disables."""
    check_days("wx_session_key_retention_days", days)
    if not days:
        return {"enabled": False, "days": 0}
    cutoff = session_key_cutoff(now, days)
    # The deletes and their audit entries commit together: no trace without a deletion, or the reverse.
    with unit_of_work(sessions) as db:
        per_app = users.prune_session_keys(db=db, older_than=cutoff, dry_run=dry_run)
        if not dry_run:
            for app_id, n in per_app.items():
                if n:
                    target = {"kind": "wx_session_keys", "days": days, "before": cutoff, "deleted": n}
                    audit.record(db, app_id=app_id, actor=actor, action=ACTION, at=now, target=target)
    return {
        "enabled": True,
        "days": days,
        "before": cutoff.isoformat(),
        "apps": per_app,
        "total": sum(per_app.values()),
    }


def prune_events(
    sessions: sessionmaker[Session],
    store: EventStore,
    *,
    days: int,
    now: datetime,
    dry_run: bool = False,
    actor: audit.Actor = SYSTEM,
) -> dict[str, Any]:
    """Delete (or with dry_run count) every app's events older than its cutoff (event_cutoff), and their
    rollup rows; 0 disables."""
    check_days("event_retention_days", days)
    if not days:
        return {"enabled": False, "days": 0}
    with read_only(sessions) as db:
        apps = [(r.id, r.timezone) for r in db.execute(select(App.id, App.timezone).order_by(App.id))]
    per_app: dict[str, dict[str, Any]] = {}
    for app_id, tz in apps:
        cutoff = event_cutoff(now, days, tz)
        done: dict[str, Any] = {"before": cutoff.isoformat()}
        if dry_run:
            where, params = before(cutoff, app_id)
            found = store.query(f"SELECT count(*) AS n FROM events WHERE {where}", params)
            done["events"] = int(found.column("n")[0].as_py())
        else:
            done.update(expire_events(store, app_id=app_id, cutoff=cutoff))
            if done["events"] or any(done["rollups"].values()):
                with unit_of_work(sessions, app_id=app_id) as db:
                    target = {"kind": "events", "days": days, "tz": tz, **done}
                    audit.record(db, app_id=app_id, actor=actor, action=ACTION, at=now, target=target)
        per_app[app_id] = done
    return {
        "enabled": True,
        "days": days,
        "apps": per_app,
        "total": sum(d["events"] for d in per_app.values()),
    }


def expire_events(store: EventStore, *, app_id: str, cutoff: datetime) -> dict[str, Any]:
    """Delete the app's events with ts before `cutoff`, then their rollup rows: {"events": n, "rollups": {…}}.
    Under the rollup lock, per app (an analytics refresh waits for one app's delete at most)."""
    with rollups.held(store):
        events = store.delete_events_before(cutoff, app_id=app_id)
        # Also when nothing was deleted now: a run that stopped after its delete left the rows behind.
        return {"events": events, "rollups": rollups.forget_before(store, app_id, cutoff)}


def apply_retention(
    runtime: Runtime,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    actor: audit.Actor = SYSTEM,
) -> dict[str, Any]:
    """Both retention periods of the runtime's settings (a daily job's one call); what was (or with dry_run
    would be) deleted."""
    at = now or runtime.clock()
    settings = runtime.settings
    return {
        "dry_run": dry_run,
        "at": at.isoformat(),
        "wx_session_keys": prune_session_keys(
            runtime.sessions,
            days=settings.wx_session_key_retention_days,
            now=at,
            dry_run=dry_run,
            actor=actor,
        ),
        "events": prune_events(
            runtime.sessions,
            runtime.store,
            days=settings.event_retention_days,
            now=at,
            dry_run=dry_run,
            actor=actor,
        ),
    }
