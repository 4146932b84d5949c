"""Privacy of the event log: a person's events, in the store (DuckDB or ClickHouse) and in the outbox.

A person is their user id plus the device ids (anonymous ids) their events and first login carried: an event
is theirs when it has their user id, or no user id and one of those device ids (what they did before logging
in). An anonymous event of a shared device therefore goes with the user who logged in on it.

The outbox part is the domain's privacy hook (export_user / erase_user, run in the privacy flow's unit of
work): server events not relayed to the store yet. The store part runs after that unit of work commits
(privacy.flows): reads and the delete first load every acknowledged event still in the ingestion journal
(store.before_read flushes the writer), so none escapes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from huoli.events.models import OutboxEvent
from huoli.events.schema import EVENT_SCHEMA
from huoli.events.stores import EventStore
from huoli.privacy.hooks import check_scope, plain

# event_id as text on both backends (DuckDB stores a UUID; VARCHAR is ClickHouse's alias of String).
_COLUMNS = ", ".join(
    "CAST(event_id AS VARCHAR) AS event_id" if c == "event_id" else c for c in EVENT_SCHEMA.names
)


@dataclass(frozen=True)
class Person:
    app_id: str
    user_id: str
    anonymous_ids: tuple[str, ...] = ()

    def where(self) -> tuple[str, list[Any]]:
        """The person's events, as SQL both dialects share."""
        sql = "app_id = ? AND (user_id = ?"
        params: list[Any] = [self.app_id, self.user_id]
        if self.anonymous_ids:
            sql += f" OR (user_id IS NULL AND anonymous_id IN ({', '.join('?' for _ in self.anonymous_ids)}))"
            params += list(self.anonymous_ids)
        return sql + ")", params


def identify(store: EventStore, *, app_id: str, user_id: str, known: Iterable[str] = ()) -> Person:
    """The person behind a user id: the device ids on their events, plus `known` ones (their first login's)."""
    found = store.query(
        "SELECT DISTINCT anonymous_id FROM events WHERE app_id = ? AND user_id = ? AND anonymous_id IS NOT NULL",
        [app_id, user_id],
    ).column("anonymous_id")
    ids = sorted({*found.to_pylist(), *(k for k in known if k)})
    return Person(app_id=app_id, user_id=user_id, anonymous_ids=tuple(ids))


def _json_ready(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: plain(v) for k, v in row.items() if k != "app_id"}
    if isinstance(out.get("properties"), str):
        out["properties"] = orjson.loads(out["properties"])
    return out


def export_events(store: EventStore, person: Person) -> list[dict[str, Any]]:
    """Every event of the person, oldest first, JSON-ready."""
    where, params = person.where()
    table = store.query(f"SELECT {_COLUMNS} FROM events WHERE {where} ORDER BY ts, event_id", params)
    return [_json_ready(r) for r in table.to_pylist()]


def count_events(store: EventStore, person: Person) -> int:
    where, params = person.where()
    return int(store.query(f"SELECT count(*) AS n FROM events WHERE {where}", params).column("n")[0].as_py())


def erase_events(store: EventStore, person: Person) -> int:
    """Delete every event of the person from the store; returns how many."""
    where, params = person.where()
    return store.delete_events(where, params)


# --- the outbox: the domain's privacy hook ----------------------------------------------------------------


def _outbox(db: Session, user_id: str) -> list[tuple[OutboxEvent, dict[str, Any]]]:
    # A cheap text match first (the payload is the event row as JSON), then the parsed user id decides.
    needle = orjson.dumps(user_id).decode()
    found = db.scalars(select(OutboxEvent).where(OutboxEvent.payload.contains(needle, autoescape=True)))
    parsed = ((row, orjson.loads(row.payload)) for row in found)
    return [(row, event) for row, event in parsed if event.get("user_id") == user_id]


def export_user(db: Session, *, app_id: str, user_id: str) -> dict[str, list[dict[str, Any]]]:
    """Server events about the user committed but not yet relayed to the store."""
    check_scope(db, app_id)
    return {"event_outbox": [_json_ready(event) for _, event in _outbox(db, user_id)]}


def erase_user(db: Session, *, app_id: str, user_id: str) -> dict[str, int]:
    check_scope(db, app_id)
    rows = _outbox(db, user_id)
    for row, _ in rows:
        db.delete(row)
    db.flush()
    return {"event_outbox": len(rows)}
