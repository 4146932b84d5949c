"""Ending (or pausing) a 秒杀 session stops sales atomically on PostgreSQL: attempts hammer the one-statement
reservation while an operator ends the session; once the end has committed (acknowledged), not one more
reservation exists — none committed later, and every attempt started after it is refused."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.promotions.helpers import at

from huoli.errors import Conflict
from huoli.promotions import flashsale, flows, lifecycle
from huoli.promotions.models import FlashReservation
from huoli.promotions.schemas import FlashItemIn, FlashSessionIn

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # row locks are the point

APP = "shop"


def reservations(uow: Any) -> int:
    with uow() as db:
        return int(db.scalar(select(func.count()).select_from(FlashReservation)) or 0)


def test_no_reservation_after_the_end_is_acknowledged(uow: Any, runtime: Any) -> None:
    """(A pause takes the same path: lifecycle stops the items in its transaction; test_lifecycle covers it.)"""
    now = datetime.now(UTC)
    with uow() as db:
        w = at(db, runtime, now)
        window = {"starts_at": now - timedelta(minutes=1), "ends_at": now + timedelta(hours=1)}
        flashsale.create_session(w, FlashSessionIn(id="s", name="秒杀", **window))
        flashsale.create_item(
            w,
            FlashItemIn(
                id="f", session_id="s", item_id="sku", price_fen=1, original_price_fen=2, stock=1_000_000
            ),
        )
    acked: list[float] = []  # monotonic time the stop's commit returned
    started_after: list[Any] = []  # outcome of each attempt that started after it
    stop = threading.Event()

    def hammer(t: int) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            began = time.monotonic()
            try:
                outcome: Any = flows.attempt_now(
                    runtime, APP, flash_item_id="f", user_id=f"u{t}-{i}", quantity=1
                )
            except Conflict as exc:
                outcome = exc.code
            if acked and began > acked[0]:
                started_after.append(outcome)

    threads = [threading.Thread(target=hammer, args=(t,)) for t in range(6)]
    for th in threads:
        th.start()
    time.sleep(0.4)  # sales are flowing
    with uow() as db:
        lifecycle.end(at(db, runtime, datetime.now(UTC)), "flash-sessions", "s")
    acked.append(time.monotonic())
    at_ack = reservations(uow)
    time.sleep(0.4)  # attempts keep coming
    stop.set()
    for th in threads:
        th.join()

    assert at_ack > 0, "no sale happened before the stop: the race was not run"
    assert reservations(uow) == at_ack  # nothing committed after the acknowledgement
    assert started_after and all(o == "activity_not_running" for o in started_after), set(
        map(str, started_after)
    )
