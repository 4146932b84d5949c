"""任务/成就 tasks and achievements driven by the event log.

Two feeds, one counting rule: the loyalty domain calls `consume` for its own actions (check-in, orders), and
`scan_events` reads new events from the event store behind a stored cursor. Each counted unit (the distinct
property value, else the order id, else the event id) is a row with a primary key, so an event seen twice —
by both feeds, or by an overlapping re-scan — counts once. Sharing is never a task trigger (platform rule);
an invite counts for the inviter only on the invitee's own server-reported action carrying `inviter_id`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from huoli.db import insert_or_ignore
from huoli.errors import NotFound
from huoli.events.stores import EventStore
from huoli.loyalty import rewards, tiers
from huoli.loyalty.context import Ctx, cached, invalidate
from huoli.loyalty.models import RewardGrant, ScanCursor, TaskDefinition, TaskProgress, TaskUnit
from huoli.loyalty.schemas import ActivityState, TaskAdminOut, TaskIn, TaskOut
from huoli.pagination import PageParams, paginate

SCAN_LAG = timedelta(seconds=2)  # events received this recently may still be committing: read them next time
# Domain events reach the store through the outbox relay stamped with their emit time, so one can land behind
# the cursor; server events of this window behind it are re-read each scan (units make that harmless).
SCAN_OVERLAP = timedelta(minutes=5)


def define(db: Session, ctx: Ctx, task: TaskIn) -> TaskIn:
    row = db.get(TaskDefinition, (ctx.app_id, task.code))
    if row is None:
        db.add(
            TaskDefinition(
                app_id=ctx.app_id,
                code=task.code,
                definition=task.model_dump_json(),
                active=True,
                created_at=ctx.now,
            )
        )
    else:
        # editing keeps a pause: resuming is its own decision
        row.definition, row.active = task.model_dump_json(), True
    db.flush()
    invalidate(db, "tasks", ctx.app_id)
    return task


def set_paused(db: Session, ctx: Ctx, code: str, *, paused: bool) -> None:
    """A paused task keeps its progress and is listed for operators; members neither see nor advance it."""
    row = db.get(TaskDefinition, (ctx.app_id, code))
    if row is None or not row.active:
        raise NotFound(f"no task {code!r}", code="task_not_found")
    row.paused = paused
    db.flush()
    invalidate(db, "tasks", ctx.app_id)


def deactivate(db: Session, ctx: Ctx, code: str) -> None:
    row = db.get(TaskDefinition, (ctx.app_id, code))
    if row is None:
        raise NotFound(f"no task {code!r}", code="task_not_found")
    row.active = False
    db.flush()
    invalidate(db, "tasks", ctx.app_id)


def active(db: Session) -> list[TaskIn]:
    def load() -> list[TaskIn]:
        rows = db.scalars(
            select(TaskDefinition)
            .where(TaskDefinition.active.is_(True), TaskDefinition.paused.is_(False))
            .order_by(TaskDefinition.code)
        )
        return [TaskIn.model_validate(orjson.loads(r.definition)) for r in rows]

    app_id = db.info.get("app_id")
    if app_id is None:
        return load()
    tasks: list[TaskIn] = cached(db, "tasks", app_id, load)
    return tasks


def listing(db: Session, page: PageParams) -> tuple[list[TaskIn], str | None]:
    """One page of the tasks not deleted (running or paused) for operators, by code; read from the table, not
    the rules cache `active` serves the hot paths from (a page is a slice of it, not worth caching)."""
    stmt = select(TaskDefinition).where(TaskDefinition.active.is_(True))
    rows, cursor = paginate(db, stmt, page, order=[TaskDefinition.code.asc()])
    return [TaskIn.model_validate(orjson.loads(r.definition)) for r in rows], cursor


def state_of(task: TaskIn, paused: bool, now: datetime) -> ActivityState:
    if task.ends_at is not None and now >= task.ends_at:
        return "ended"
    if paused:
        return "paused"
    if task.starts_at is not None and now < task.starts_at:
        return "scheduled"
    return "running"


def admin_page(db: Session, ctx: Ctx, page: PageParams) -> tuple[list[TaskAdminOut], str | None]:
    """`listing` with live figures per task: members part-way in the current period (daily: today), members
    who completed it at least once, and the rewards its completions granted."""
    stmt = select(TaskDefinition).where(TaskDefinition.active.is_(True))
    rows, cursor = paginate(db, stmt, page, order=[TaskDefinition.code.asc()])
    out = []
    for r in rows:
        task = TaskIn.model_validate(orjson.loads(r.definition))
        mine = TaskProgress.task_code == task.code
        in_progress = db.scalar(
            select(func.count())
            .select_from(TaskProgress)
            .where(
                mine,
                TaskProgress.period == _period(task, ctx.today),
                TaskProgress.progress > 0,
                TaskProgress.completions < task.limit,
            )
        )
        completed = db.scalar(
            select(func.count(TaskProgress.user_id.distinct())).where(mine, TaskProgress.completions > 0)
        )
        granted = db.scalar(
            select(func.count())
            .select_from(RewardGrant)
            .where(RewardGrant.source == "task", RewardGrant.grant_key.startswith(f"task:{task.code}:"))
        )
        out.append(
            TaskAdminOut(
                **task.model_dump(),
                paused=r.paused,
                state=state_of(task, r.paused, ctx.now),
                in_progress=int(in_progress or 0),
                completed_users=int(completed or 0),
                rewards_granted=int(granted or 0),
            )
        )
    return out, cursor


def _open(task: TaskIn, at: datetime) -> bool:
    return (task.starts_at is None or at >= task.starts_at) and (task.ends_at is None or at < task.ends_at)


def _period(task: TaskIn, day: date) -> str:
    return day.isoformat() if task.kind == "daily" else "all"


def _matches(task: TaskIn, properties: dict[str, Any]) -> bool:
    return all(properties.get(k) == v for k, v in task.where.items())


def consume(
    db: Session,
    ctx: Ctx,
    *,
    user_id: str,
    event: str,
    unit: str,
    properties: dict[str, Any] | None = None,
    day: date | None = None,
    server: bool = True,
    tasks: list[TaskIn] | None = None,
    at: datetime | None = None,
) -> list[str]:
    """Count one event (which happened `at`, default now) toward every matching task open at that time;
    returns the codes of tasks completed by it."""
    props = properties or {}
    done: list[str] = []
    for task in tasks if tasks is not None else active(db):
        if task.event != event or not _matches(task, props) or not _open(task, at or ctx.now):
            continue
        target_user = user_id
        if task.credit == "inviter":
            inviter = props.get("inviter_id")
            if not server or not isinstance(inviter, str) or inviter == user_id:
                continue
            target_user = inviter
        if task.distinct_by is not None:
            value = props.get(task.distinct_by)
            if value is None:
                continue
            task_unit = f"{task.distinct_by}:{value}"
        else:
            task_unit = unit
        done += _count(db, ctx, task, target_user, task_unit, day or ctx.today, props)
    return done


def _count(
    db: Session, ctx: Ctx, task: TaskIn, user_id: str, unit: str, day: date, props: dict[str, Any]
) -> list[str]:
    period = _period(task, day)
    ident = {"app_id": ctx.app_id, "user_id": user_id, "task_code": task.code, "period": period}
    if not insert_or_ignore(db, TaskUnit, ident | {"unit": unit}, [*list(ident), "unit"]):
        return []
    insert_or_ignore(db, TaskProgress, ident | {"progress": 0, "completions": 0}, list(ident))
    where = (
        (TaskProgress.user_id == user_id)
        & (TaskProgress.task_code == task.code)
        & (TaskProgress.period == period)
    )
    new: Any
    if task.kind == "streak":
        streak = int(props.get("streak", 0))
        new = case((TaskProgress.progress < streak, streak), else_=TaskProgress.progress)
    else:
        new = TaskProgress.progress + 1
    # Atomic increment: concurrent events of one member can't lose an update.
    progress = db.execute(
        update(TaskProgress).where(where).values(progress=new).returning(TaskProgress.progress)
    ).scalar_one()
    due = min(task.limit, progress // task.target)
    completed: list[str] = []
    for n in range(1, due + 1):
        if not insert_or_ignore(db, TaskUnit, ident | {"unit": f"#done:{n}"}, [*list(ident), "unit"]):
            continue
        db.execute(update(TaskProgress).where(where).values(completions=n, completed_at=ctx.now))
        for i, reward in enumerate(task.rewards):
            rewards.grant(
                db,
                ctx,
                user_id=user_id,
                reward=reward,
                key=f"task:{task.code}:{user_id}:{period}:{n}:{i}",
                source="task",
            )
        ctx.emit(
            "task_completed",
            key=f"task:{task.code}:{user_id}:{period}:{n}",
            user_id=user_id,
            properties={"task": task.code, "period": period, "completion": n},
        )
        completed.append(task.code)
    return completed


def board(db: Session, ctx: Ctx, *, user_id: str) -> list[TaskOut]:
    out = []
    for task in active(db):
        if not _open(task, ctx.now):
            continue
        row = db.get(TaskProgress, (ctx.app_id, user_id, task.code, _period(task, ctx.today)))
        progress = row.progress if row else 0
        completions = row.completions if row else 0
        out.append(
            TaskOut(
                code=task.code,
                name=task.name,
                kind=task.kind,
                target=task.target,
                progress=progress - completions * task.target if task.kind != "streak" else progress,
                completed=completions >= task.limit,
                completions=completions,
                rewards=task.rewards,
            )
        )
    return out


def scan_events(db: Session, ctx: Ctx, *, store: EventStore, limit: int = 10_000) -> int:
    """Read events received since the cursor (up to now - SCAN_LAG) and count them; returns new events read."""
    tasks = active(db)
    names = sorted({t.event for t in tasks})
    cursor = db.get(ScanCursor, (ctx.app_id, "tasks"))
    start = cursor.position if cursor is not None else ctx.now - ctx.settings.event_max_age
    hi = ctx.now - SCAN_LAG
    if not names or start >= hi:
        return 0
    cols = (
        "event_id::VARCHAR AS event_id, name, ts, user_id, item_id, order_id, amount_fen, properties, source, "
        "received_at"
    )
    marks = ",".join("?" for _ in names)
    base = f"SELECT {cols} FROM events WHERE app_id = ? AND user_id IS NOT NULL AND name IN ({marks})"
    rows = store.query(
        f"{base} AND received_at > ? AND received_at <= ? ORDER BY received_at LIMIT ?",
        [ctx.app_id, *names, start, hi, limit],
    ).to_pylist()
    if len(rows) == limit:
        # A batch shares one received_at: finish the last instant's events so the cursor can pass it.
        last = rows[-1]["received_at"]
        rows = [r for r in rows if r["received_at"] < last] + store.query(
            f"{base} AND received_at = ? ORDER BY event_id", [ctx.app_id, *names, last]
        ).to_pylist()
    late = []
    if cursor is not None:
        late = store.query(
            f"{base} AND source = 'server' AND received_at > ? AND received_at <= ? ORDER BY received_at",
            [ctx.app_id, *names, start - SCAN_OVERLAP, start],
        ).to_pylist()
    for r in late + rows:
        props: dict[str, Any] = orjson.loads(r["properties"]) if r["properties"] else {}
        for key in ("item_id", "order_id", "amount_fen"):
            if r[key] is not None:
                props[key] = r[key]
        ts: datetime = r["ts"]
        server = r["source"] == "server"
        consume(
            db,
            ctx,
            user_id=r["user_id"],
            event=r["name"],
            unit=r["order_id"] or r["event_id"],
            properties=props,
            day=ctx.local_date(ts),
            server=server,
            tasks=tasks,
            at=ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC),
        )
        inviter = props.get("inviter_id")
        if server and isinstance(inviter, str) and inviter != r["user_id"]:
            tiers.record_invite(db, ctx, inviter_id=inviter, invitee_id=r["user_id"])
    if rows:
        _advance(db, ctx, cursor, "tasks", max(start, rows[-1]["received_at"]))
    return len(rows)


def _advance(db: Session, ctx: Ctx, cursor: ScanCursor | None, name: str, position: datetime) -> None:
    if cursor is None:
        db.add(ScanCursor(app_id=ctx.app_id, name=name, position=position))
    else:
        cursor.position = position
    db.flush()


def scan_active_days(db: Session, ctx: Ctx, *, store: EventStore) -> int:
    """Growth for each local day a member used the mini-program (any client event, not only check-in),
    read from the event log since the cursor; returns the member-days seen. Idempotent per member and day
    (growth key `active:<user>:<date>`, the one check-in uses), so overlapping re-reads add nothing."""
    per_day = ctx.rules.tiers.growth_per_active_day
    cursor = db.get(ScanCursor, (ctx.app_id, "active_days"))
    start = cursor.position if cursor is not None else ctx.now - ctx.settings.event_max_age
    hi = ctx.now - SCAN_LAG
    if per_day <= 0 or start >= hi:
        return 0
    # Per user and UTC hour, the first and last event: an hour spans at most two local days (any zone
    # offset), and both ends' days hold an event, so these two instants name every active local day.
    rows = store.query(
        "SELECT user_id, min(ts) AS lo, max(ts) AS hi FROM events WHERE app_id = ? AND source = 'client' "
        "AND user_id IS NOT NULL AND received_at > ? AND received_at <= ? GROUP BY user_id, date_trunc('hour', ts)",
        [ctx.app_id, start - SCAN_OVERLAP, hi],  # the overlap catches events loaded after their received_at
    ).to_pylist()
    days = {(r["user_id"], ctx.local_date(r[end])) for r in rows for end in ("lo", "hi")}
    for user_id, day in sorted(days):
        tiers.add_growth(
            db, ctx, user_id=user_id, amount=per_day, source="active_day", key=f"active:{user_id}:{day}"
        )
    _advance(db, ctx, cursor, "active_days", hi)
    return len(days)
