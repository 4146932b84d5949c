"""What every loyalty use case needs to know about its call: the app, its timezone, its rules, now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import Insert
from sqlalchemy.orm import Session

from huoli.apps.models import App
from huoli.db import Base
from huoli.errors import NotFound
from huoli.loyalty.models import LoyaltyRulesRow
from huoli.loyalty.schemas import LoyaltyRules
from huoli.settings import Settings


@dataclass(frozen=True)
class Ctx:
    app_id: str
    tz: ZoneInfo
    rules: LoyaltyRules
    now: datetime
    settings: Settings

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


def load_rules(db: Session, app_id: str) -> LoyaltyRules:
    row = db.get(LoyaltyRulesRow, app_id)
    return LoyaltyRules() if row is None else LoyaltyRules.model_validate(orjson.loads(row.rules))


def save_rules(db: Session, app_id: str, rules: LoyaltyRules, now: datetime) -> None:
    row = db.get(LoyaltyRulesRow, app_id)
    text = rules.model_dump_json()
    if row is None:
        db.add(LoyaltyRulesRow(app_id=app_id, rules=text, updated_at=now))
    else:
        row.rules, row.updated_at = text, now
    db.flush()


def make_ctx(db: Session, *, app_id: str, now: datetime, settings: Settings, app: App | None = None) -> Ctx:
    app = app or db.get(App, app_id)
    if app is None:
        raise NotFound(f"no app {app_id!r}", code="app_not_found")
    return Ctx(
        app_id=app_id, tz=ZoneInfo(app.timezone), rules=load_rules(db, app_id), now=now, settings=settings
    )


def insert_ignore(db: Session, model: type[Base], values: dict[str, Any], conflict: list[str]) -> Insert:
    """INSERT … ON CONFLICT (conflict) DO NOTHING for the session's dialect (caller adds RETURNING)."""
    if db.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(model).values(**values).on_conflict_do_nothing(index_elements=conflict)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(model).values(**values).on_conflict_do_nothing(index_elements=conflict)


def upsert(db: Session, model: type[Base], rows: list[dict[str, Any]], conflict: list[str], set_: Any) -> Any:
    """INSERT … ON CONFLICT DO UPDATE; `set_` maps column -> expression over `excluded` (a callable)."""
    if db.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(model).values(rows)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(model).values(rows)
    return db.execute(stmt.on_conflict_do_update(index_elements=conflict, set_=set_(stmt.excluded)))
