"""Paths: 30-minute sessions, transitions after/before an anchor, cuts reported, page bounce/exit rates."""

from __future__ import annotations

from huoli.analytics.metrics import paths
from huoli.analytics.metrics.paths import PathSpec

from .conftest import Loader, frame
from .fixtures import at, ev, table

D = "2026-03-05"


def pv(user: str, hm: str, page: str) -> dict:
    return ev("page_view", user, at(D, hm), page=page)


def _log() -> list[dict]:
    return [
        pv("u1", "10:00", "home"), pv("u1", "10:01", "item"), pv("u1", "10:02", "cart"),
        pv("u1", "10:40", "item"),  # 38 min later: a new session that bounces
        pv("u2", "10:00", "home"), pv("u2", "10:05", "item"), pv("u2", "10:06", "item"),
        pv("u3", "11:00", "home"), pv("u3", "11:29", "search"),  # 29 min: same session
        pv("u4", "12:00", "search"),
    ]  # fmt: skip


def test_transitions_after_anchor_with_cuts(load: Loader) -> None:
    f = frame(load(table(_log())), D, D)
    out = paths.compute(f, PathSpec(anchor="home", depth=2, top=1))
    assert out["sessions"] == 3
    l1, l2 = out["levels"]
    assert l1["transitions"] == [{"from": "home", "to": "item", "sessions": 2}]
    assert l1["cut"] == {"transitions": 1, "sessions": 1}  # home → search
    assert sorted((t["from"], t["to"]) for t in l2["transitions"]) == [("item", "cart")]
    assert l2["cut"] == {"transitions": 1, "sessions": 1}


def test_before_and_page_rates(load: Loader) -> None:
    f = frame(load(table(_log())), D, D)
    out = paths.compute(f, PathSpec(anchor="cart", direction="before", depth=3))
    assert [[(t["from"], t["to"]) for t in lv["transitions"]] for lv in out["levels"]] == [
        [("item", "cart")],
        [("home", "item")],
    ]
    pages = {p["page"]: p for p in out["pages"]}
    # Sessions: u1a home>item>cart, u1b item, u2 home>item>item, u3 home>search, u4 search.
    assert pages["home"] == {
        "page": "home",
        "views": 3,
        "entries": 3,
        "exits": 0,
        "bounce_rate": 0.0,
        "exit_rate": 0.0,
    }
    assert pages["item"]["entries"] == 1 and pages["item"]["bounce_rate"] == 1.0
    assert pages["item"]["exits"] == 2 and pages["item"]["exit_rate"] == 2 / 4
    assert pages["search"]["bounce_rate"] == 1.0 and pages["search"]["exit_rate"] == 1.0
