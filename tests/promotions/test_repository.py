"""The promotions repository's hand-written SQL stays inside its app: two apps with the same flash item ids and
the same user ids, act on one, check the other (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from tests.promotions.helpers import at

from huoli.db import unit_of_work
from huoli.errors import Conflict
from huoli.promotions import catalog_hooks, flashsale, lifecycle
from huoli.promotions.common import get_named
from huoli.promotions.models import FlashItem, FlashReservation
from huoli.promotions.schemas import FlashItemIn, FlashSessionIn
from huoli.runtime import Runtime

START = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
DURING = START + timedelta(minutes=1)


def _item(runtime: Runtime, app: str) -> None:
    with unit_of_work(runtime.sessions, app_id=app) as db:
        window = {"starts_at": START, "ends_at": START + timedelta(hours=1)}
        flashsale.create_session(at(db, runtime, START), spec=FlashSessionIn(id="s1", name="秒杀", **window))
        spec = FlashItemIn(
            id="f1", session_id="s1", item_id="sku", price_fen=990, original_price_fen=5900, stock=3
        )
        flashsale.create_item(at(db, runtime, START), spec=spec)


def _attempt(runtime: Runtime, app: str, user: str) -> str:
    with unit_of_work(runtime.sessions, app_id=app) as db:
        return flashsale.attempt(at(db, runtime, DURING), flash_item_id="f1", user_id=user, quantity=1).id


def test_a_reservation_in_one_app_is_not_seen_by_the_other(runtime: Runtime, make_app) -> None:  # type: ignore[no-untyped-def]
    make_app("alpha")
    make_app("beta")
    _item(runtime, "alpha")
    _item(runtime, "beta")
    _attempt(runtime, "beta", "u1")
    # The same user id on alpha's item of the same id: before the repository's check, PostgreSQL's one-statement
    # reservation looked for an earlier attempt without the app and refused this as already attempted.
    _attempt(runtime, "alpha", "u1")
    for app in ("alpha", "beta"):
        with unit_of_work(runtime.sessions, app_id=app) as db:
            assert get_named(db, FlashItem, "f1").stock == 2  # type: ignore[union-attr]
            assert db.scalars(select(FlashReservation.user_id)).all() == ["u1"]


def test_stopping_or_halting_one_apps_item_leaves_the_others_selling(runtime: Runtime, make_app) -> None:  # type: ignore[no-untyped-def]
    """The reservation's new conditions (session stopped, item halted by the catalog) read the app's own row."""
    make_app("alpha")
    make_app("beta")
    _item(runtime, "alpha")
    _item(runtime, "beta")
    with unit_of_work(runtime.sessions, app_id="beta") as db:
        lifecycle.pause(at(db, runtime, DURING), "flash-sessions", "s1")
    with pytest.raises(Conflict) as refused:
        _attempt(runtime, "beta", "u1")
    assert refused.value.code == "activity_not_running"
    _attempt(runtime, "alpha", "u1")
    with unit_of_work(runtime.sessions, app_id="alpha") as db:
        catalog_hooks.items_unavailable(at(db, runtime, DURING), ["sku"])
    with unit_of_work(runtime.sessions, app_id="beta") as db:
        lifecycle.resume(at(db, runtime, DURING), "flash-sessions", "s1")
    _attempt(runtime, "beta", "u2")  # alpha's halt did not reach beta's item of the same id and sku
    with pytest.raises(Conflict) as refused:
        _attempt(runtime, "alpha", "u2")
    assert refused.value.code == "item_unavailable"
    for app, left in (("alpha", 2), ("beta", 2)):  # one win each; the refusals took nothing
        with unit_of_work(runtime.sessions, app_id=app) as db:
            assert get_named(db, FlashItem, "f1").stock == left  # type: ignore[union-attr]
