"""Flash sales (秒杀): a 2,000-attempt burst for 100 units sells exactly 100, on the DB path and via Redis."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, time, timedelta
from time import sleep

import pytest
import redis
from sqlalchemy import event, func, select, text, update
from sqlalchemy.exc import OperationalError
from tests.promotions.helpers import at, race

from huoli.db import single_statement, unit_of_work
from huoli.errors import Conflict, HuoliError
from huoli.events.models import OutboxEvent
from huoli.events.service import server_event_id
from huoli.promotions import flashsale, flows, hot
from huoli.promotions.common import get_named
from huoli.promotions.models import FlashItem, FlashReservation, FlashSession
from huoli.promotions.schemas import DailySessionsIn, FlashItemIn, FlashSessionIn

APP = "shop"
START = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
DURING = START + timedelta(minutes=1)


def setup_item(uow, stock: int = 100, limit: int = 1) -> str:  # type: ignore[no-untyped-def]
    with uow() as db:
        flashsale.create_session(
            at(db, uow.runtime, START),
            spec=FlashSessionIn(
                id="s1", name="10点秒杀", starts_at=START, ends_at=START + timedelta(hours=1)
            ),
        )
        flashsale.create_item(
            at(db, uow.runtime, START),
            spec=FlashItemIn(
                id="fi1",
                session_id="s1",
                item_id="sku-1",
                price_fen=990,
                original_price_fen=5900,
                stock=stock,
                per_user_limit=limit,
                pay_window_s=600,
            ),
        )
    return "fi1"


def attempt_in(db, runtime, user: str, qty: int = 1, now: datetime = DURING) -> str:  # type: ignore[no-untyped-def]
    return flashsale.attempt(at(db, runtime, now), flash_item_id="fi1", user_id=user, quantity=qty).id


def attempt(uow, runtime, user: str, qty: int = 1, now: datetime = DURING):  # type: ignore[no-untyped-def]
    with uow() as db:
        return attempt_in(db, runtime, user, qty, now)


def totals(uow) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    with uow() as db:
        stock = get_named(db, FlashItem, "fi1").stock  # type: ignore[union-attr]
        held = db.scalar(
            select(func.count()).select_from(FlashReservation).where(FlashReservation.status != "expired")
        )
        users = db.scalar(select(func.count(func.distinct(FlashReservation.user_id))))
        return stock, held or 0, users or 0


def test_daily_sessions_at_local_ten(uow, runtime) -> None:  # type: ignore[no-untyped-def]
    with uow() as db:
        rows = flashsale.create_daily_sessions(
            at(db, runtime, START),
            spec=DailySessionsIn(prefix="daily", first_day="2026-11-22", days=3, local_time=time(10, 0)),
        )
        assert [r.starts_at for r in rows] == [START + timedelta(days=i) for i in range(3)]
    with uow() as db:  # rerun: nothing doubled
        again = flashsale.create_daily_sessions(
            at(db, runtime, START), spec=DailySessionsIn(prefix="daily", first_day="2026-11-22", days=3)
        )
        assert again == [] and db.scalar(select(func.count()).select_from(FlashSession)) == 3


def test_attempt_rules_and_expiry(uow, runtime) -> None:  # type: ignore[no-untyped-def]
    setup_item(uow, stock=2, limit=1)
    with pytest.raises(HuoliError) as e:
        attempt(uow, runtime, "u0", now=START - timedelta(seconds=1))
    assert (e.value.code, e.value.status_code, e.value.details["state"]) == (
        "activity_not_running",
        409,
        "scheduled",
    )
    with pytest.raises(HuoliError) as e:
        attempt(uow, runtime, "u0", qty=2)
    assert e.value.code == "over_limit"
    r1 = attempt(uow, runtime, "u1")
    with pytest.raises(Conflict) as e:
        attempt(uow, runtime, "u1")
    assert e.value.code == "already_attempted"
    attempt(uow, runtime, "u2")
    with pytest.raises(Conflict) as e:
        attempt(uow, runtime, "u3")
    assert e.value.code == "sold_out"
    with uow() as db:
        flashsale.mark_paid(at(db, runtime, DURING), reservation_id=r1, order_id="o1")
        flashsale.mark_paid(at(db, runtime, DURING), reservation_id=r1, order_id="o1")
    late = DURING + timedelta(seconds=601)
    with uow() as db:
        gone = flashsale.expire_unpaid(at(db, runtime, late))
        assert [g[2] for g in gone] == ["u2"]  # only the unpaid one gives its unit back
    with uow() as db:
        assert flashsale.expire_unpaid(at(db, runtime, late)) == []  # idempotent
        assert get_named(db, FlashItem, "fi1").stock == 1  # type: ignore[union-attr]
    attempt(uow, runtime, "u3", now=late)
    with pytest.raises(Conflict), uow() as db:
        res = db.scalars(select(FlashReservation).where(FlashReservation.user_id == "u2")).one()
        flashsale.mark_paid(at(db, runtime, late), reservation_id=res.id, order_id="o2")


def test_concurrent_expiry_jobs_return_stock_once(uow, runtime) -> None:  # type: ignore[no-untyped-def]
    setup_item(uow, stock=10)
    for i in range(10):
        attempt(uow, runtime, f"u{i}")
    late = DURING + timedelta(hours=1)

    def job(_: int) -> int:
        with uow() as db:
            return len(flashsale.expire_unpaid(at(db, runtime, late)))

    assert sum(race(6, job)) == 10
    assert totals(uow)[0] == 10


def attempt_now(runtime, user: str) -> str:  # type: ignore[no-untyped-def]
    return flows.attempt_now(runtime, APP, flash_item_id="fi1", user_id=user, quantity=1, now=DURING).id


@pytest.mark.parametrize("path", ["transaction", "attempt_now"])
def test_burst_of_2000_attempts_for_100_units_db_path(uow, runtime, path) -> None:  # type: ignore[no-untyped-def]
    """2,000 attempts by 1,600 users (400 of them try twice): exactly 100 win, nobody twice, one outbox event
    per win and none for a refusal; inside a unit of work, and on the route's path (attempt_now: on
    PostgreSQL one autocommitted statement)."""
    setup_item(uow, stock=100)

    def one(i: int) -> str:
        user = f"u{i % 1600}"
        return attempt(uow, runtime, user) if path == "transaction" else attempt_now(runtime, user)

    results = race(2000, one, threads=24)
    wins = [r for r in results if isinstance(r, str)]
    errors = [r for r in results if not isinstance(r, str)]
    assert all(isinstance(e, Conflict) and e.code in ("sold_out", "already_attempted") for e in errors), {
        repr(e) for e in errors if not isinstance(e, Conflict)
    }
    assert len(wins) == 100
    assert totals(uow) == (0, 100, 100)
    with unit_of_work(runtime.sessions) as db:
        events = db.execute(select(OutboxEvent.event_id, OutboxEvent.payload)).all()
    reserved = {e.event_id for e in events if '"flashsale_reserved"' in e.payload}
    assert reserved == {server_event_id(APP, f"promo:flashsale_reserved:{w}") for w in wins}


def test_twin_attempts_of_one_user_take_one_unit(uow, runtime) -> None:  # type: ignore[no-untyped-def]
    """Taps of the same user racing each other pass the repeat check on their snapshots; the unique key
    then fails the loser's whole statement, so its decrement doesn't stay (no unit lost, none oversold)."""
    setup_item(uow, stock=50)
    for round_ in range(5):
        user = f"twin{round_}"
        results = race(12, lambda _i, user=user: attempt_now(runtime, user))
        wins = [r for r in results if isinstance(r, str)]
        assert len(wins) == 1, results
        assert all(isinstance(r, str) or r.code == "already_attempted" for r in results), results
    assert totals(uow) == (45, 5, 5)


def add_a_unit_elsewhere(runtime) -> None:  # type: ignore[no-untyped-def]
    """Another connection updates the stock row, giving up after 300 ms of waiting for its lock."""
    with runtime.engine.connect() as other:
        other.execute(text("SET lock_timeout = '300ms'"))
        other.execute(update(FlashItem).where(FlashItem.id == "fi1").values(stock=FlashItem.stock + 1))
        other.commit()


def test_the_stock_row_is_free_as_soon_as_the_statement_ends(uow, runtime, database_url) -> None:  # type: ignore[no-untyped-def]
    """On PostgreSQL the win's lock is not held until a commit: while the unit of work is still open,
    another connection updates the stock row without waiting."""
    if not database_url.startswith("postgres"):
        pytest.skip("SQLite locks the whole database for the transaction; the point is PostgreSQL's row lock")
    setup_item(uow, stock=5)
    for user, unit in (("u1", single_statement(runtime.sessions, app_id=APP)), ("u2", uow())):
        with unit as db:
            attempt_in(db, runtime, user)
            if user == "u1":
                add_a_unit_elsewhere(runtime)
            else:  # inside an ordinary transaction the same update waits: the test tells the two apart
                with pytest.raises(OperationalError):
                    add_a_unit_elsewhere(runtime)
    assert totals(uow)[:2] == (4, 2)  # 5 - u1 + the unit added - u2; the waiting update gave up


@pytest.fixture
def gate():  # type: ignore[no-untyped-def]
    client = redis.Redis(host="127.0.0.1", port=6379)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis not reachable on 127.0.0.1:6379: {exc}")
    prefix = f"test-{secrets.token_hex(6)}"
    yield flashsale.RedisGate(client, prefix=prefix)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()


def test_burst_of_2000_attempts_for_100_units_redis_gate(uow, runtime, gate) -> None:  # type: ignore[no-untyped-def]
    setup_item(uow, stock=100)
    gate.load(APP, "fi1", 100)

    def go(i: int) -> str:
        return flows.attempt_gated(
            runtime, gate, APP, flash_item_id="fi1", user_id=f"u{i % 1600}", quantity=1, clock=lambda: DURING
        ).id

    results = race(2000, go, threads=24)
    wins = [r for r in results if isinstance(r, str)]
    assert all(isinstance(r, str | Conflict) for r in results)
    assert len(wins) == 100
    assert totals(uow) == (0, 100, 100)
    assert int(gate.redis.get(gate.keys(APP, "fi1")[0])) == 0


def test_gate_gives_back_what_the_database_refuses(uow, runtime, gate) -> None:  # type: ignore[no-untyped-def]
    setup_item(uow, stock=1)
    gate.load(APP, "fi1", 5)  # a gate seeded too high must still not oversell: the DB decides
    outcomes = []
    for i in range(3):
        try:
            outcomes.append(
                flows.attempt_gated(
                    runtime, gate, APP, flash_item_id="fi1", user_id=f"u{i}", quantity=1, clock=lambda: DURING
                ).id
            )
        except Conflict as exc:
            outcomes.append(exc.code)
    assert outcomes[1:] == ["sold_out", "sold_out"]
    assert int(gate.redis.get(gate.keys(APP, "fi1")[0])) == 4
    assert gate.redis.scard(gate.keys(APP, "fi1")[1]) == 1
    with unit_of_work(runtime.sessions, app_id=APP) as db:
        assert get_named(db, FlashItem, "fi1").stock == 0  # type: ignore[union-attr]


def test_another_apps_item_is_invisible_on_the_core_hot_path(uow, runtime, make_app) -> None:  # type: ignore[no-untyped-def]
    setup_item(uow, stock=5)
    make_app("other")
    with pytest.raises(HuoliError) as e, unit_of_work(runtime.sessions, app_id="other") as db:
        flashsale.attempt(at(db, runtime, DURING), flash_item_id="fi1", user_id="u1", quantity=1)
    assert e.value.code == "not_found"
    assert totals(uow)[0] == 5


def test_sold_out_is_answered_from_the_cache_and_stock_returned_elsewhere_shows_within_the_ttl(
    uow, runtime, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(hot, "STOCK_TTL_S", 2.0)  # long enough for a loaded machine
    setup_item(uow, stock=1)
    flash_sql: list[str] = []

    def count(_c, _cur, statement, *_a) -> None:  # type: ignore[no-untyped-def]
        if "promo_flash" in statement:  # the outbox relay shares the engine; count only this domain's SQL
            flash_sql.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        attempt(uow, runtime, "u1")
        with pytest.raises(Conflict) as e:
            attempt(uow, runtime, "u2")  # the database says no, and the process remembers it
        assert e.value.code == "sold_out"
        flash_sql.clear()
        for user in ["u3", "u4", "u1"]:  # even a repeat attempt answers sold_out first, as before
            with pytest.raises(Conflict) as e:
                attempt(uow, runtime, user)
            assert e.value.code == "sold_out"
        assert flash_sql == []
        with pytest.raises(Conflict):
            flashsale.precheck(runtime.engine, app_id=APP, flash_item_id="fi1", quantity=1, now=DURING)
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)
    # Another process gives a unit back (its cache knows, ours doesn't): refused until the mark lapses.
    with uow() as db:
        db.execute(update(FlashItem).where(FlashItem.id == "fi1").values(stock=1))
    with pytest.raises(Conflict):
        attempt(uow, runtime, "u5")
    sleep(2.1)
    attempt(uow, runtime, "u5")
    assert totals(uow) == (0, 2, 2)


def test_stock_given_back_reaches_the_gate_after_the_commit_once(uow, runtime, gate) -> None:  # type: ignore[no-untyped-def]
    setup_item(uow, stock=2)
    gate.load(APP, "fi1", 2)
    counter = gate.keys(APP, "fi1")[0]

    def attempt_gated(user: str, now: datetime = DURING) -> str:
        return flows.attempt_gated(
            runtime, gate, APP, flash_item_id="fi1", user_id=user, quantity=1, clock=lambda: now
        ).id

    first, second = attempt_gated("u1"), attempt_gated("u2")
    assert int(gate.redis.get(counter)) == 0
    late = DURING + timedelta(minutes=11)  # past the 10-minute pay window
    # A job whose transaction rolls back gives nothing back to the gate.
    with pytest.raises(RuntimeError), unit_of_work(runtime.sessions, app_id=APP) as db:
        assert len(flashsale.expire_unpaid(at(db, runtime, late), gate=gate)) == 2
        raise RuntimeError("the job's transaction fails after the flip")
    assert int(gate.redis.get(counter)) == 0
    with unit_of_work(runtime.sessions, app_id=APP) as db:
        flashsale.cancel(at(db, runtime, late), reservation_id=first, gate=gate)
        assert int(gate.redis.get(counter)) == 0  # not before the commit
    assert int(gate.redis.get(counter)) == 1
    with unit_of_work(runtime.sessions, app_id=APP) as db:
        assert [r[0] for r in flashsale.expire_unpaid(at(db, runtime, late), gate=gate)] == [second]
        assert flashsale.cancel(at(db, runtime, late), reservation_id=first, gate=gate) == []
    assert int(gate.redis.get(counter)) == 2  # each unit once, however often the job runs
    # The units sell again through the gate (no undersell); a user's used attempt stays used.
    with pytest.raises(Conflict) as again:
        attempt_gated("u1", late)
    assert again.value.code == "already_attempted"
    assert attempt_gated("u3", late) and attempt_gated("u4", late)
    # (stock, reservations not expired, users): u3 and u4 hold the returned units; u1's cancelled row stays.
    assert totals(uow) == (0, 3, 4)
