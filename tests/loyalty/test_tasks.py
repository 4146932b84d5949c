"""Tasks and achievements from the event log: the domain's own calls and the cursor scan of the event store
count each unit once; sharing is never a task; invites count only on the invitee's server-reported action."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from sqlalchemy import delete
from tests.loyalty.helpers import outbox, uow

from huoli.events.ingest import Caller, validate_events
from huoli.loyalty import badges, checkin, ledger, service, tasks, tiers
from huoli.loyalty.models import ScanCursor
from huoli.loyalty.schemas import Reward, TaskIn
from huoli.runtime import Runtime

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def shop(make_app):  # type: ignore[no-untyped-def]
    return make_app("shop")


def ingest(runtime: Runtime, now: datetime, source: str, *events: dict[str, Any]) -> None:
    raw = [{"event_id": str(uuid.uuid4()), "ts": int(now.timestamp() * 1000)} | e for e in events]
    batch = validate_events(
        raw,
        caller=Caller(app_id="shop", source=source, user_id=None),
        now=now,
        max_age=timedelta(days=7),
        max_future=timedelta(minutes=10),
    )
    assert not batch.rejected, batch.rejected
    runtime.writer.append(batch.to_arrow())


NEWCOMER = [
    TaskIn(
        code="profile",
        name="完善资料",
        kind="newcomer",
        event="profile_completed",
        rewards=[Reward(type="points", amount=20)],
    ),
    TaskIn(
        code="browse3",
        name="浏览3件商品",
        kind="newcomer",
        event="view_item",
        target=3,
        distinct_by="item_id",
        rewards=[Reward(type="badge", ref="explorer")],
    ),
    TaskIn(
        code="first_order",
        name="首单",
        kind="newcomer",
        event="order_paid",
        rewards=[Reward(type="growth", amount=100)],
    ),
]


def define(runtime: Runtime, now: datetime, *defs: TaskIn) -> None:
    with uow(runtime, "shop", now) as (db, ctx):
        for t in defs:
            tasks.define(db, ctx, t)


def scan(runtime: Runtime, now: datetime) -> int:
    with uow(runtime, "shop", now) as (db, ctx):
        return tasks.scan_events(db, ctx, store=runtime.store)


def board(runtime: Runtime, now: datetime, user: str) -> dict[str, tuple[int, bool]]:
    with uow(runtime, "shop", now) as (db, ctx):
        return {t.code: (t.progress, t.completed) for t in tasks.board(db, ctx, user_id=user)}


def test_newcomer_tasks_from_scanned_events_count_once(runtime: Runtime, clock, shop) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(SH).replace(microsecond=0)
    clock.set(now)
    define(runtime, now, *NEWCOMER)
    ingest(
        runtime,
        now,
        "client",
        *({"name": "view_item", "anonymous_id": "a", "properties": {"item_id": i}} for i in ("x",)),
    )
    ingest(
        runtime,
        now,
        "server",
        {"name": "view_item", "user_id": "u1", "properties": {"item_id": "i1"}},
        {"name": "view_item", "user_id": "u1", "properties": {"item_id": "i1"}},
        {"name": "view_item", "user_id": "u1", "properties": {"item_id": "i2"}},
        {"name": "profile_completed", "user_id": "u1"},
    )
    later = now + timedelta(seconds=5)
    assert scan(runtime, later) == 4
    assert board(runtime, later, "u1") == {
        "browse3": (2, False),
        "first_order": (0, False),
        "profile": (0, True),
    }
    ingest(runtime, later, "server", {"name": "view_item", "user_id": "u1", "properties": {"item_id": "i3"}})
    assert scan(runtime, later) == 0  # inside the lag window: read next time
    assert scan(runtime, later + timedelta(seconds=5)) == 1
    # Re-reading everything (cursor lost) counts nothing twice.
    with uow(runtime, "shop", later) as (db, _):
        db.execute(delete(ScanCursor))
    assert scan(runtime, later + timedelta(seconds=6)) == 5
    with uow(runtime, "shop", later) as (db, ctx):
        assert ledger.balance(db, ctx, "u1").available == 20
        assert [b.code for b in badges.showcase(db, user_id="u1") if b.owned] == ["explorer"]
        service.order_paid(db, ctx, user_id="u1", order_id="o1", amount_fen=5_000)
        assert tiers.growth(db, ctx, "u1") == 100 + 50
    assert board(runtime, later, "u1")["first_order"] == (0, True)
    assert sorted(e["task"] for e in outbox(runtime, "shop", "task_completed")) == [
        "browse3",
        "first_order",
        "profile",
    ]


def test_daily_task_resets_each_local_day_and_streak_goal(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    d0 = datetime(2026, 3, 1, 9, tzinfo=SH)
    define(
        runtime,
        d0,
        TaskIn(
            code="daily_checkin",
            name="每日签到",
            kind="daily",
            event="checkin",
            rewards=[Reward(type="points", amount=2)],
        ),
        TaskIn(
            code="streak3",
            name="连续3天解锁课程",
            kind="streak",
            event="checkin",
            target=3,
            rewards=[Reward(type="coupon", ref="course_unlock")],
        ),
    )
    for i in range(4):
        with uow(runtime, "shop", d0 + timedelta(days=i)) as (db, ctx):
            checkin.check_in(db, ctx, user_id="u1")
    with uow(runtime, "shop", d0 + timedelta(days=3)) as (db, ctx):
        assert ledger.balance(db, ctx, "u1").available == 4 * 5 + 4 * 2
    assert board(runtime, d0 + timedelta(days=3), "u1") == {"daily_checkin": (0, True), "streak3": (4, True)}
    assert board(runtime, d0 + timedelta(days=4), "u1")["daily_checkin"] == (0, False)
    assert [e["ref"] for e in outbox(runtime, "shop", "loyalty_reward") if e["reward_type"] == "coupon"] == [
        "course_unlock"
    ]


def test_repeatable_task_respects_its_limit(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    now = datetime(2026, 3, 1, 9, tzinfo=SH)
    define(
        runtime,
        now,
        TaskIn(
            code="orders",
            name="每2单",
            event="order_paid",
            target=2,
            limit=2,
            rewards=[Reward(type="points", amount=10)],
        ),
    )
    for i in range(7):
        with uow(runtime, "shop", now) as (db, ctx):
            service.order_paid(db, ctx, user_id="u1", order_id=f"o{i}", amount_fen=0)
    with uow(runtime, "shop", now) as (db, ctx):
        assert ledger.balance(db, ctx, "u1").available == 20
    assert len(outbox(runtime, "shop", "task_completed")) == 2


def test_sharing_is_never_a_task_and_invites_count_on_invitee_action(runtime: Runtime, clock, shop) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError):
        TaskIn(code="s", name="分享", event="share")
    with pytest.raises(ValidationError):
        TaskIn(code="s", name="邀请打开", event="share_open", credit="inviter")
    now = datetime.now(SH).replace(microsecond=0)
    clock.set(now)
    define(
        runtime,
        now,
        TaskIn(
            code="invite",
            name="邀请好友下单",
            event="order_paid",
            credit="inviter",
            rewards=[Reward(type="points", amount=100)],
        ),
    )
    # A client can't claim to be invited (only server events credit the inviter) …
    ingest(
        runtime,
        now,
        "client",
        {"name": "signup_done", "anonymous_id": "a", "properties": {"inviter_id": "host"}},
    )
    # … the invitee's paid order, reported by the merchant backend, does.
    ingest(
        runtime,
        now,
        "server",
        {
            "name": "order_paid",
            "user_id": "guest",
            "properties": {"order_id": "g1", "amount_fen": 100, "inviter_id": "host"},
        },
    )
    scan(runtime, now + timedelta(seconds=5))
    with uow(runtime, "shop", now + timedelta(seconds=5)) as (db, ctx):
        assert ledger.balance(db, ctx, "host").available == 100
        assert ledger.balance(db, ctx, "guest").available == 0
        assert tiers.growth(db, ctx, "host") == 50  # growth_per_invite


def test_scan_without_tasks_reads_nothing(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    assert scan(runtime, datetime(2026, 3, 1, tzinfo=SH)) == 0
    assert date(2026, 3, 1)  # keeps the import honest for the day-based helpers above


def test_a_domain_event_landing_behind_the_cursor_still_counts(runtime: Runtime, clock, shop) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(SH).replace(microsecond=0)
    clock.set(now)
    define(
        runtime,
        now,
        TaskIn(code="coupon", name="领券", event="coupon_claimed", rewards=[Reward(type="points", amount=3)]),
    )
    ingest(
        runtime, now, "server", {"name": "coupon_claimed", "user_id": "u1", "properties": {"coupon_id": "c1"}}
    )
    assert scan(runtime, now + timedelta(seconds=5)) == 1
    # Relayed from an outbox late: stamped a minute before the cursor.
    ingest(
        runtime,
        now - timedelta(minutes=1),
        "server",
        {"name": "coupon_claimed", "user_id": "u2", "properties": {"coupon_id": "c2"}},
    )
    assert scan(runtime, now + timedelta(seconds=10)) == 0  # nothing new after the cursor …
    with uow(runtime, "shop", now + timedelta(seconds=10)) as (db, ctx):
        assert ledger.balance(db, ctx, "u2").available == 3  # … but the late event was counted
        assert ledger.balance(db, ctx, "u1").available == 3  # and the re-read one only once


def test_every_active_local_day_earns_growth_once_not_only_check_in_days(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    sh = ZoneInfo("Asia/Shanghai")

    def used(user: str, when: datetime, source: str = "client", name: str = "page_view") -> None:
        raw = [{"event_id": str(uuid.uuid4()), "ts": int(when.timestamp() * 1000), "name": name}
               | ({"page": "pages/index/index"} if name == "page_view" else
                  {"user_id": user, "properties": {"order_id": "o1", "amount_fen": 100}})]  # fmt: skip
        batch = validate_events(
            raw,
            caller=Caller(app_id="shop", source=source, user_id=user if source == "client" else None),
            now=when,
            max_age=timedelta(days=7),
            max_future=timedelta(minutes=10),
        )
        assert not batch.rejected, batch.rejected
        runtime.writer.append(batch.to_arrow())

    # u1: 23:59 and 00:01 Shanghai time are two local days; three events on the first are still one day.
    for minute in (0, 30, 59):
        used("u1", datetime(2026, 3, 2, 23, minute, tzinfo=sh))
    used("u1", datetime(2026, 3, 3, 0, 1, tzinfo=sh))
    with uow(runtime, "shop", datetime(2026, 3, 2, 9, 0, tzinfo=sh)) as (db, ctx):
        checkin.check_in(db, ctx, user_id="u1")  # 2 March's growth through check-in: the same key, no double
    used("u2", datetime(2026, 3, 2, 12, 0, tzinfo=sh), source="server", name="order_paid")  # not app use
    seen = []
    # The second run re-reads the 5 minutes behind the cursor (events loaded after their received_at).
    for later in (datetime(2026, 3, 3, 0, 2, 30, tzinfo=sh), datetime(2026, 3, 3, 0, 4, tzinfo=sh)):
        with uow(runtime, "shop", later) as (db, ctx):
            seen.append(service.run_job(db, ctx, job="scan-tasks", store=runtime.store)["active_member_days"])
    assert seen == [2, 2]  # the same member-days twice, the growth once
    with uow(runtime, "shop", later) as (db, ctx):
        assert tiers.growth(db, ctx, "u1") == 2 * ctx.rules.tiers.growth_per_active_day
        assert tiers.growth(db, ctx, "u2") == 0
