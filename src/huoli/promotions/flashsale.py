"""Flash sales (秒杀): sessions, items with stock, one attempt per user per item, unpaid reservations expire.

No oversell: stock only moves through `UPDATE … SET stock = stock - n WHERE id = :id AND stock >= n
RETURNING`, and (item, user) is a unique key. The optional Redis gate (a Lua script) turns most of a burst
away before it reaches the database; whatever it admits is settled by the same database path.
"""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from huoli.db import insert_or_ignore
from huoli.errors import Conflict, HuoliError, NotFound
from huoli.events import service as events
from huoli.promotions import catalog_hooks, hot, lifecycle, repository
from huoli.promotions.common import event_key, get_named, new_id
from huoli.promotions.models import FlashItem, FlashReservation, FlashSession
from huoli.promotions.schemas import DailySessionsIn, FlashItemIn, FlashSessionIn
from huoli.work import Work


def create_session(work: Work, spec: FlashSessionIn) -> FlashSession:
    db = work.db
    if get_named(db, FlashSession, spec.id) is not None:
        raise Conflict(f"flash session {spec.id!r} exists", code="exists")
    row = FlashSession(
        id=spec.id,
        app_id=work.app_id,
        name=spec.name,
        starts_at=spec.starts_at,
        ends_at=spec.ends_at,
        created_at=work.now,
    )
    db.add(row)
    db.flush()
    return row


def upcoming_sessions(
    db: Session, *, now: datetime, limit: int = 20
) -> list[tuple[FlashSession, list[FlashItem]]]:
    """Sessions not yet ended (nor paused or ended by an operator), soonest first, each with its items."""
    sessions = db.scalars(
        select(FlashSession)
        .where(FlashSession.ends_at > now, FlashSession.ended_at.is_(None), FlashSession.active.is_(True))
        .order_by(FlashSession.starts_at)
        .limit(limit)
    ).all()
    return [(s, list(db.scalars(select(FlashItem).where(FlashItem.session_id == s.id)))) for s in sessions]


def item_status(db: Session, flash_item_id: str) -> tuple[FlashItem, dict[str, int]]:
    """An item's stock and its reservations counted per status (monitoring)."""
    item = get_named(db, FlashItem, flash_item_id)
    if item is None:
        raise NotFound("flash item not found")
    counts = db.execute(
        select(FlashReservation.status, func.count())
        .where(FlashReservation.flash_item_id == item.id)
        .group_by(FlashReservation.status)
    ).all()
    return item, {status: int(n) for status, n in counts}


def create_daily_sessions(work: Work, spec: DailySessionsIn) -> list[FlashSession]:
    """每天 10:00 秒杀: one session per local day at local_time in the app's timezone (DST-safe)."""
    zone = work.tz
    first = date.fromisoformat(spec.first_day)
    out = []
    for i in range(spec.days):
        day = first + timedelta(days=i)
        start = datetime.combine(day, spec.local_time, tzinfo=zone)
        sid = f"{spec.prefix}-{day:%Y%m%d}"
        if get_named(work.db, FlashSession, sid) is not None:
            continue
        out.append(
            create_session(
                work,
                FlashSessionIn(
                    id=sid,
                    name=f"{day:%m-%d} {spec.local_time:%H:%M} 秒杀",
                    starts_at=start,
                    ends_at=start + timedelta(minutes=spec.duration_minutes),
                ),
            )
        )
    return out


def create_item(work: Work, spec: FlashItemIn) -> FlashItem:
    db = work.db
    if get_named(db, FlashSession, spec.session_id) is None:
        raise NotFound(f"flash session {spec.session_id!r} not found")
    if get_named(db, FlashItem, spec.id) is not None:
        raise Conflict(f"flash item {spec.id!r} exists", code="exists")
    row = FlashItem(
        id=spec.id,
        app_id=work.app_id,
        session_id=spec.session_id,
        item_id=spec.item_id,
        price_fen=spec.price_fen,
        original_price_fen=spec.original_price_fen,
        total_stock=spec.stock,
        stock=spec.stock,
        per_user_limit=spec.per_user_limit,
        pay_window_s=spec.pay_window_s,
        created_at=work.now,
        halted_reason=catalog_hooks.HALTED if catalog_hooks.unavailable(work, [spec.item_id]) else None,
    )
    db.add(row)
    db.flush()
    return row


_ITEMS: Table = FlashItem.__table__  # type: ignore[assignment]
_SESSIONS: Table = FlashSession.__table__  # type: ignore[assignment]

# Core statements built once, executed with bound values, the app filter written out: on this hot path the
# ORM's per-statement cost (tenancy criteria, statement construction and cache keys) is the bottleneck.
_DEFINITION = (
    select(
        _ITEMS.c.item_id,
        _ITEMS.c.per_user_limit,
        _ITEMS.c.pay_window_s,
        _SESSIONS.c.starts_at,
        _SESSIONS.c.ends_at,
        _ITEMS.c.stock,
        _ITEMS.c.session_id,
    )
    .join(_SESSIONS, (_SESSIONS.c.id == _ITEMS.c.session_id) & (_SESSIONS.c.app_id == _ITEMS.c.app_id))
    .where(_ITEMS.c.id == bindparam("fid"), _ITEMS.c.app_id == bindparam("app"))
)
_DECREMENT = (
    update(_ITEMS)
    .where(
        _ITEMS.c.id == bindparam("fid"),
        _ITEMS.c.app_id == bindparam("app"),
        _ITEMS.c.stock >= bindparam("qty"),
        _ITEMS.c.stopped.is_(False),
        _ITEMS.c.halted_reason.is_(None),
    )
    .values(stock=_ITEMS.c.stock - bindparam("qty"))
    .returning(_ITEMS.c.stock)
)


_BLOCKED = select(_ITEMS.c.stopped, _ITEMS.c.halted_reason, _ITEMS.c.session_id).where(
    _ITEMS.c.id == bindparam("fid"), _ITEMS.c.app_id == bindparam("app")
)


def _check_window(d: hot.FlashItemDef, quantity: int, now: datetime) -> None:
    if now < d.starts_at:
        raise lifecycle.not_running("flash-sessions", d.session_id, "scheduled")
    if now >= d.ends_at:
        raise lifecycle.not_running("flash-sessions", d.session_id, "ended")
    if quantity > d.per_user_limit:
        raise HuoliError(f"at most {d.per_user_limit} per person", code="over_limit")


def precheck(bind: Any, *, app_id: str, flash_item_id: str, quantity: int, now: datetime) -> None:
    """The refusals an attempt can get from this process's cache alone (no I/O, safe on the event loop):
    not started, ended, over the limit, or sold out within the last second. Passing proves nothing."""
    cache = hot.for_bind(bind)
    d = cache.flash_item(app_id, flash_item_id)
    if d is not None:
        _check_window(d, quantity, now)
    if cache.known_short(app_id, flash_item_id, quantity):
        raise Conflict("sold out", code="sold_out")


def attempt(
    work: Work, *, flash_item_id: str, user_id: str, quantity: int, admitted: bool = False
) -> FlashReservation:
    """Reserve stock for a user: raises sold_out or already_attempted; never sells a unit twice.

    With the item's definition cached (it never changes) a win is one statement on PostgreSQL (_PG_RESERVE)
    or three on SQLite, and a sold-out answer none: the stock the database last reported is trusted for a
    second to refuse, never to admit (hot.py). On SQLite the decrement is last, so the stock row's lock is
    held only until the commit; on PostgreSQL run it through `flows.attempt_now`, outside a transaction.
    """
    db, app_id, now = work.db, work.app_id, work.now
    cache = hot.for_bind(db.get_bind())
    conn = db.connection()
    d = cache.flash_item(app_id, flash_item_id)
    if d is None:
        row = conn.execute(_DEFINITION, {"fid": flash_item_id, "app": app_id}).first()
        if row is None:
            raise NotFound(f"flash item {flash_item_id!r} not found")
        d = hot.FlashItemDef(
            sku=row[0],
            per_user_limit=row[1],
            pay_window_s=row[2],
            starts_at=row[3],
            ends_at=row[4],
            session_id=row[6],
        )
        cache.put_flash_item(app_id, flash_item_id, d)
        cache.saw_stock(app_id, flash_item_id, row[5])
    _check_window(d, quantity, now)
    # An attempt the Redis gate admitted is settled by the database alone: the gate may be at 0 while the
    # units it admitted are still on their way here.
    if not admitted and cache.known_short(app_id, flash_item_id, quantity):
        raise Conflict("sold out", code="sold_out")
    res_id = new_id("fsr")
    values: dict[str, object] = {
        "id": res_id,
        "app_id": app_id,
        "flash_item_id": flash_item_id,
        "user_id": user_id,
        "quantity": quantity,
        "status": "reserved",
        "reserved_at": now,
        "pay_by": now + timedelta(seconds=d.pay_window_s),
    }
    # Built here, not through work.emit: on PostgreSQL the outbox row is part of the one reserving statement.
    reserved: events.ServerEvent = {
        "app_id": app_id,
        "name": "flashsale_reserved",
        "ts": now,
        "idempotency_key": event_key("flashsale_reserved", res_id),
        "user_id": user_id,
        "properties": {"item_id": d.sku, "flash_item_id": flash_item_id, "quantity": quantity},
        "settings": work.settings,
    }
    bound = {"fid": flash_item_id, "app": app_id, "qty": quantity}
    if conn.dialect.name == "postgresql":
        outbox = events.outbox_row(**reserved)
        try:
            left, attempted = repository.reserve_flash_pg(
                db,
                app_id,
                {
                    "fid": flash_item_id,
                    "qty": quantity,
                    "uid": user_id,
                    "rid": res_id,
                    "reserved_at": now,
                    "pay_by": values["pay_by"],
                    "e_id": outbox["event_id"],
                    "e_payload": outbox["payload"],
                    "e_created": outbox["created_at"],
                },
            )
        except IntegrityError as exc:  # a concurrent twin of this user won: nothing of this statement stays
            raise Conflict("one attempt per person", code="already_attempted") from exc
        if left is None and attempted:
            raise Conflict("one attempt per person", code="already_attempted")
    else:
        if not insert_or_ignore(db, FlashReservation, values):
            raise Conflict("one attempt per person", code="already_attempted")
        events.emit(db=db, **reserved)
        # Last statement of the transaction, so the row lock it takes is held as briefly as possible.
        row = conn.execute(_DECREMENT, bound).first()
        left = None if row is None else row[0]
    if left is None:
        # Refused: stopped or halted, or sold out. Read in a statement of its own: on PostgreSQL the
        # reservation's snapshot predates a pause it waited for.
        why = conn.execute(_BLOCKED, {"fid": flash_item_id, "app": app_id}).first()
        if why is not None and (why[0] or why[1]):
            _refuse_blocked(db, app_id, d, why[1] or "stopped", now)
        cache.saw_stock(app_id, flash_item_id, quantity - 1)  # fewer than asked for: the next ones stop here
        raise Conflict("sold out", code="sold_out")  # rolls back the reservation and the event
    cache.saw_stock(app_id, flash_item_id, left)
    return FlashReservation(**values, order_id=None, closed_at=None)  # detached: the row as inserted


def _refuse_blocked(db: Session, app_id: str, d: hot.FlashItemDef, blocked: str, now: datetime) -> None:
    """The item is not selling: halted by the catalog, or its session paused or ended by an operator."""
    if blocked != "stopped":
        raise Conflict("this item is unavailable", code=blocked, details={"session_id": d.session_id})
    session = get_named(db, FlashSession, d.session_id, app_id=app_id)
    st = lifecycle.state(session, now) if session is not None else "ended"
    raise lifecycle.not_running("flash-sessions", d.session_id, "ended" if st == "running" else st)


def mark_paid(work: Work, *, reservation_id: str, order_id: str) -> FlashReservation:
    """The reservation's order was paid in time. Idempotent for the same order."""
    db, now = work.db, work.now
    got = db.execute(
        update(FlashReservation)
        .where(FlashReservation.id == reservation_id, FlashReservation.status == "reserved")
        .values(status="paid", order_id=order_id, closed_at=now)
        .returning(FlashReservation.id)
    ).first()
    res = db.get(FlashReservation, reservation_id)
    if res is None:
        raise NotFound(f"reservation {reservation_id!r} not found")
    if got is None and not (res.status == "paid" and res.order_id == order_id):
        raise Conflict(f"reservation is {res.status}", code=f"reservation_{res.status}")
    if got is not None:
        work.emit(
            "flashsale_paid",
            key=event_key("flashsale_paid", reservation_id),
            user_id=res.user_id,
            properties={"order_id": order_id, "flash_item_id": res.flash_item_id},
        )
    return res


def _return_stock(
    work: Work, rows: list[Any], reason: str, gate: RedisGate | None
) -> list[tuple[str, str, str, int]]:
    db = work.db
    cache = hot.for_bind(db.get_bind())
    if gate is not None and rows:
        # After the commit, not before: a rolled-back return must not reach the gate (the database, not the
        # gate, decides who wins, so a crash in between can only undersell, never oversell).
        returned = [(app, item_id, qty) for _, item_id, _, qty, app in rows]

        def restock(_: Session) -> None:
            for app, item_id, qty in returned:
                gate.restock(app, item_id, qty)

        event.listen(db, "after_commit", restock, once=True)
    for res_id, item_id, uid, qty, app in rows:
        db.execute(update(FlashItem).where(FlashItem.id == item_id).values(stock=FlashItem.stock + qty))
        cache.stock_returned(app, item_id)  # this process sees the unit again at once, others within a second
        work.emit(
            "flashsale_expired",
            key=event_key("flashsale_expired", res_id),
            user_id=uid,
            properties={"flash_item_id": item_id, "quantity": qty, "reason": reason},
        )
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def cancel(
    work: Work, *, reservation_id: str, gate: RedisGate | None = None
) -> list[tuple[str, str, str, int]]:
    """The order was cancelled before payment: stock goes back (once), to the gate too after the commit."""
    rows = work.db.execute(
        update(FlashReservation)
        .where(FlashReservation.id == reservation_id, FlashReservation.status == "reserved")
        .values(status="cancelled", closed_at=work.now)
        .returning(
            FlashReservation.id,
            FlashReservation.flash_item_id,
            FlashReservation.user_id,
            FlashReservation.quantity,
            FlashReservation.app_id,
        )
    ).all()
    return _return_stock(work, list(rows), "cancelled", gate)


def expire_unpaid(
    work: Work, *, limit: int = 1000, gate: RedisGate | None = None
) -> list[tuple[str, str, str, int]]:
    """Job: reservations unpaid past pay_by give their stock back. The status flip is the idempotency key:
    a second run (or a concurrent one) finds nothing left to flip."""
    db, now = work.db, work.now
    due = db.scalars(
        select(FlashReservation.id)
        .where(FlashReservation.status == "reserved", FlashReservation.pay_by <= now)
        .limit(limit)
    ).all()
    if not due:
        return []
    rows = db.execute(
        update(FlashReservation)
        .where(FlashReservation.id.in_(due), FlashReservation.status == "reserved")
        .values(status="expired", closed_at=now)
        .returning(
            FlashReservation.id,
            FlashReservation.flash_item_id,
            FlashReservation.user_id,
            FlashReservation.quantity,
            FlashReservation.app_id,
        )
    ).all()
    return _return_stock(work, list(rows), "unpaid", gate)


# -- Redis gate ---------------------------------------------------------------------------------------

# KEYS[1] stock counter, KEYS[2] set of users admitted; ARGV[1] user, ARGV[2] quantity.
# Returns 1 admitted, 0 sold out, -1 already attempted, -2 not loaded (use the database path alone).
# Atomic: Redis runs a script without interleaving other commands.
GATE_LUA = """
local raw = redis.call('GET', KEYS[1])
if not raw then return -2 end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return -1 end
local left = tonumber(raw)
local n = tonumber(ARGV[2])
if left < n then return 0 end
redis.call('DECRBY', KEYS[1], n)
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""

# Compensation when the database refused what the gate admitted: the unit and the user's attempt come back.
UNGATE_LUA = """
if redis.call('SREM', KEYS[2], ARGV[1]) == 1 then redis.call('INCRBY', KEYS[1], ARGV[2]) end
return 1
"""


# Stock a reservation gave back (expired unpaid, order cancelled): the unit comes back, the user's attempt stays
# used (the database keeps their reservation row). Only into a loaded counter: no counter, no gate for the item.
RESTOCK_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('INCRBY', KEYS[1], ARGV[1]) end
return 1
"""


class RedisGate:
    """Admission in Redis, truth in the database. Keys: <prefix>:flash:<app>:<item>:{stock,users}."""

    def __init__(self, redis: Any, prefix: str = "huoli") -> None:
        self.redis = redis
        self.prefix = prefix
        self._gate = redis.register_script(GATE_LUA)
        self._ungate = redis.register_script(UNGATE_LUA)
        self._restock = redis.register_script(RESTOCK_LUA)

    def keys(self, app_id: str, flash_item_id: str) -> list[str]:
        base = f"{self.prefix}:flash:{app_id}:{flash_item_id}"
        return [f"{base}:stock", f"{base}:users"]

    def load(self, app_id: str, flash_item_id: str, stock: int) -> None:
        """Seed the counter from the database stock (call when the session is set up)."""
        stock_key, users_key = self.keys(app_id, flash_item_id)
        pipe = self.redis.pipeline()
        pipe.set(stock_key, stock)
        pipe.delete(users_key)
        pipe.execute()

    def admit(self, app_id: str, flash_item_id: str, user_id: str, quantity: int) -> int:
        return int(self._gate(keys=self.keys(app_id, flash_item_id), args=[user_id, quantity]))

    def give_back(self, app_id: str, flash_item_id: str, user_id: str, quantity: int) -> None:
        self._ungate(keys=self.keys(app_id, flash_item_id), args=[user_id, quantity])

    def restock(self, app_id: str, flash_item_id: str, quantity: int) -> None:
        self._restock(keys=self.keys(app_id, flash_item_id)[:1], args=[quantity])


_gates: dict[str, RedisGate] = {}
_gates_lock = threading.Lock()


def gate_for(redis_url: str | None) -> RedisGate | None:
    """One gate per Redis URL and process (HUOLI_REDIS_URL), or None when the gate is not configured."""
    if not redis_url:
        return None
    with _gates_lock:
        if redis_url not in _gates:
            import redis

            _gates[redis_url] = RedisGate(redis.Redis.from_url(redis_url))
        return _gates[redis_url]
