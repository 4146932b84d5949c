"""The demo shop's catalog: the generator's items and prices, synced through the service the signed call runs
(the second sync changes nothing), with the campaign items on sale and a few others sold out or off the shelf."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from huoli.catalog.models import CatalogCategory, CatalogItem, CatalogSku
from huoli.db import unit_of_work
from huoli.demo import catalog as demo_catalog
from huoli.demo.generator import DemoSpec, _world
from huoli.runtime import Runtime
from huoli.work import Caller, open_work


def test_prices_are_the_generators() -> None:
    for seed in (42, 7):
        world = _world(DemoSpec(users=10, days=3, seed=seed))
        assert (demo_catalog.item_prices(seed) == world.item_price).all()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_demo_catalog_syncs_once(runtime: Runtime, make_app: Any) -> None:
    app = make_app("demo")
    at = datetime(2026, 11, 16, 8, tzinfo=UTC)
    with open_work(runtime, app.id, Caller("cli", "demo"), now=at) as work:
        first = demo_catalog.sync(work)
    assert first.created == 2000 and 20 < len(first.unavailable) < 100
    with open_work(runtime, app.id, Caller("cli", "demo"), now=at) as work:
        again = demo_catalog.sync(work)
    assert (again.created, again.updated, again.unchanged, again.unavailable) == (0, 0, 2000, [])
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        named = {
            i.id: i for i in db.scalars(select(CatalogItem).where(CatalogItem.id.in_(demo_catalog.NAMED)))
        }
        assert all(i.available for i in named.values()) and named["sku_00042"].price_fen == 99_900
        assert db.scalar(select(func.count()).select_from(CatalogCategory)) == 6
        assert db.scalar(select(func.count()).select_from(CatalogSku)) > 500  # sizes and colours
        titles = list(db.scalars(select(CatalogItem.title).limit(50)))
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in titles)  # Chinese titles
