"""What every loyalty use case needs to know about its call: the app, its timezone, its rules, now."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from time import monotonic
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import event
from sqlalchemy.orm import Session

from huoli.apps.models import App
from huoli.caches import of as caches_of
from huoli.errors import NotFound
from huoli.loyalty.models import LoyaltyRulesRow
from huoli.loyalty.schemas import LoyaltyRules
from huoli.settings import Settings
from huoli.work import Caller, Work


@dataclass(frozen=True)
class Ctx:
    """The unit of work (huoli.work.Work) plus the app's loyalty rules, which every loyalty use case reads."""

    app_id: str
    tz: ZoneInfo
    rules: LoyaltyRules
    now: datetime
    settings: Settings
    work: Work = field(repr=False)

    def emit(
        self, name: str, *, key: str, user_id: str | None, properties: Mapping[str, Any] | None = None
    ) -> str:
        """Log a loyalty event in the unit's transaction; `key` (prefixed `loyalty:`) makes it idempotent."""
        return self.work.emit(name, key=f"loyalty:{key}", user_id=user_id, properties=properties)

    @property
    def today(self) -> date:
        return self.now.astimezone(self.tz).date()

    def midnight(self, day: date) -> datetime:
        """00:00 of a local day as an aware instant (DST-safe: built in the zone, not by adding hours)."""
        return datetime.combine(day, time(0), tzinfo=self.tz)

    def local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.tz).date()

    def days_later(self, days: int) -> datetime:
        return self.now + timedelta(days=days)


RULES_TTL_S = 2.0
CACHE = "loyalty.rules"  # in the runtime's caches: (kind, app_id) -> (monotonic expiry, value)


def _entries(db: Session) -> dict[tuple[str, str], tuple[float, Any]]:
    entries: dict[tuple[str, str], tuple[float, Any]] = caches_of(db).get(CACHE, dict)
    return entries


def cached(db: Session, kind: str, app_id: str, load: Callable[[], Any]) -> Any:
    """Rules and task definitions are read on every check-in; another process's edit shows within 2 s."""
    entries = _entries(db)
    hit = entries.get((kind, app_id))
    now = monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    value = load()
    entries[(kind, app_id)] = (now + RULES_TTL_S, value)
    return value


def invalidate(db: Session, kind: str, app_id: str) -> None:
    """Forget now and again after commit: a concurrent reader may cache the old value in between."""
    entries = _entries(db)

    def forget(_session: Session | None = None) -> None:
        entries.pop((kind, app_id), None)

    forget()
    event.listen(db, "after_commit", forget, once=True)


def load_rules(db: Session, app_id: str) -> LoyaltyRules:
    def load() -> LoyaltyRules:
        row = db.get(LoyaltyRulesRow, app_id)
        return LoyaltyRules() if row is None else LoyaltyRules.model_validate(orjson.loads(row.rules))

    rules: LoyaltyRules = cached(db, "rules", app_id, load)
    return rules


def save_rules(db: Session, app_id: str, rules: LoyaltyRules, now: datetime) -> None:
    invalidate(db, "rules", app_id)
    row = db.get(LoyaltyRulesRow, app_id)
    text = rules.model_dump_json()
    if row is None:
        db.add(LoyaltyRulesRow(app_id=app_id, rules=text, updated_at=now))
    else:
        row.rules, row.updated_at = text, now
    db.flush()


def ctx_for(work: Work) -> Ctx:
    """The loyalty context of a unit of work."""
    return Ctx(
        app_id=work.app_id,
        tz=work.tz,
        rules=load_rules(work.db, work.app_id),
        now=work.now,
        settings=work.settings,
        work=work,
    )


def make_ctx(
    db: Session,
    *,
    app_id: str,
    now: datetime,
    settings: Settings,
    app: App | None = None,
    caller: Caller = Caller("job"),
) -> Ctx:
    """A loyalty context on a session opened elsewhere (a job's, a CLI command's, another domain's flow)."""
    app = app or db.get(App, app_id)
    if app is None:
        raise NotFound(f"no app {app_id!r}", code="app_not_found")
    work = Work(
        db=db, app=app, now=now, settings=settings, caller=caller, clock=lambda: now, caches=caches_of(db)
    )
    return ctx_for(work)
